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
}

/** Whether a plugin instance implements the notifier contract. */
export function isNotifier(value: unknown): value is Notifier {
  return typeof value === 'object' && value !== null && typeof (value as { send?: unknown }).send === 'function';
}
