import type { Notification, SinkResult } from './notification';

/**
 * The notifier contract: what a sink plugin implements so that receivers can name it under
 * `alerting.receivers[].sinks`. A sink only renders and delivers; the engine decided what to send
 * (routing, grouping, dedup, silences) and the core delivery pipeline decides when to try again.
 *
 * ```ts
 * @injectable()
 * class ChatSink implements Plugin, Notifier {
 *   async send(notification: Notification, signal: AbortSignal): Promise<SinkResult> {
 *     const res = await fetch(url, { method: 'POST', body: render(notification), signal });
 *     if (res.ok) return { outcome: 'delivered' };
 *     if (res.status === 429 || res.status >= 500) return { outcome: 'retry', afterMs: 30_000, reason: `HTTP ${res.status}` };
 *     return { outcome: 'permanent', reason: `HTTP ${res.status}` };
 *   }
 * }
 * ```
 *
 * Contract:
 * - `send` is called once per attempt, for one notification at a time per sink instance or
 *   concurrently (do not rely on either); it must honour `signal` (aborted when the attempt times
 *   out or the agent stops) and must not retry by itself.
 * - Answer `delivered`, `permanent` (it can never succeed: do not retry) or `retry` after
 *   `afterMs`. A throw or rejection counts as `retry` with the pipeline's backoff.
 * - `reason` is shown to operators and recorded in events: never put a secret (URL with a token,
 *   password) in it.
 */
export interface Notifier {
  send(notification: Notification, signal: AbortSignal): Promise<SinkResult>;
  /**
   * Which rate-limit bucket a notification counts against within this sink instance (e.g. the
   * PagerDuty routing key or the Slack webhook it goes to); one bucket per instance when absent.
   */
  rateKey?(notification: Notification): string;
}

/** Whether a plugin instance implements the notifier contract. */
export function isNotifier(value: unknown): value is Notifier {
  return typeof value === 'object' && value !== null && typeof (value as { send?: unknown }).send === 'function';
}

/**
 * How the core delivery pipeline treats one sink instance. A sink plugin declares its defaults
 * (`definePlugin({ sink: { delivery } })`, e.g. Slack's one message per second per webhook); a
 * plugin entry's `delivery:` overrides them. Times in milliseconds.
 */
export interface DeliverySettings {
  /**
   * Token bucket per sink instance and rate key ({@link Notifier.rateKey}): at most `burst` sends at
   * once, refilled at `rate` per `per` ms. Throttled deliveries wait their turn; none is dropped.
   * Absent: no limit.
   */
  rate_limit?: { rate: number; per: number; burst: number };
  /** One attempt's limit: its signal is aborted then and it counts as a retry. */
  timeout: number;
  /** How long a notification is tried before it is dead-lettered. */
  max_age: number;
}

/** Where an entry of an Alertmanager receiver's integration list maps onto a sink plugin. */
export interface AlertmanagerIntegration {
  /** The receiver key this sink takes, e.g. `email_configs`. */
  key: 'email_configs' | 'slack_configs' | 'pagerduty_configs' | 'webhook_configs';
  /**
   * The sink's plugin config equivalent to one entry of that list (as written in alertmanager.yml),
   * with `global` (Alertmanager's global section: smtp_*, slack_api_url, pagerduty_url, ...) applied;
   * or the problems, each at a path inside the entry (`['auth_password']`), naming fields that have no
   * equivalent. The config is then validated by the plugin's own schema. Pure: no I/O (a `*_file`
   * key maps to the plugin's own file-reading setting, or to `${file:...}`-style values).
   */
  toConfig(
    entry: Readonly<Record<string, unknown>>,
    context: { global: Readonly<Record<string, unknown>>; receiver: string },
  ): { config: unknown } | { problems: Array<{ path: Array<string | number>; message: string }> };
}

/** What a sink plugin declares besides its class: `definePlugin({ ..., sink: { delivery, alertmanager } })`. */
export interface SinkDeclaration {
  /** Its delivery defaults (the core's when absent: no rate limit, 30 s per attempt, 1 h in all). */
  delivery?: Partial<DeliverySettings>;
  /** The Alertmanager integration it stands for, so imported receivers deliver through it. */
  alertmanager?: AlertmanagerIntegration;
}
