import { createHash } from 'node:crypto';
import os from 'node:os';
import {
  AgentControl,
  AgentError,
  inject,
  injectable,
  LOGGER,
  MAX_PEM_FILE_BYTES,
  PLUGIN_CONFIG,
  readConfigFile,
  readSecretFile,
  type Logger,
  type Notification,
  type Notifier,
  type Plugin,
  type SinkResult,
} from 'praxis-agent';
import type { PagerdutyConfig } from './config';
import { postEvent, type EventsApiTarget } from './events-api';
import { planEvents, type Destination } from './render';

/**
 * The PagerDuty sink: renders each notification as Events API v2 events ({@link planEvents}) and
 * posts them through @pagerduty/pdjs ({@link postEvent}). It only renders and sends: retries, rate
 * limits (per routing key, {@link rateKey}) and dead letters are the delivery pipeline's.
 */
@injectable()
export class PagerdutyPlugin implements Plugin, Notifier {
  private target?: EventsApiTarget;
  /** Routing keys read from routing_key_file, by the file as configured. */
  private readonly keysFromFiles = new Map<string, string>();
  private readonly counts = { events: 0, delivered: 0, failed: 0 };

  constructor(
    @inject(PLUGIN_CONFIG) private readonly config: PagerdutyConfig,
    @inject(LOGGER) private readonly logger: Logger,
    private readonly control: AgentControl,
  ) {}

  /** Reads the CA and key files now, so a wrong path stops the agent at start rather than failing every page later. */
  start(): void {
    const { ca_file: caFile, insecure_skip_verify: insecureSkipVerify } = this.config.tls;
    const ca = caFile === undefined ? undefined : readConfigFile(this.control.resolvePath(caFile), { key: 'tls.ca_file', maxBytes: MAX_PEM_FILE_BYTES });
    this.target = { server: this.config.server, insecureSkipVerify, ...(ca && { ca }) };
    const files: Array<[string, string | undefined]> = [
      ['routing_key_file', this.config.routing_key_file],
      ...Object.entries(this.config.receivers).map(([name, r]): [string, string | undefined] => [`receivers.${name}.routing_key_file`, r.routing_key_file]),
    ];
    for (const [configKey, file] of files) {
      if (file === undefined || this.keysFromFiles.has(file)) continue;
      const resolved = this.control.resolvePath(file);
      // Trimmed, as documented; a key of blanks is a wrong value, not a file problem (never shown).
      const key = readSecretFile(resolved, { key: configKey }).trim();
      if (!key) throw new AgentError('CONFIG_INVALID_VALUE', `${configKey}: ${resolved} holds only blanks, no routing key`, { key: configKey, file: resolved });
      this.keysFromFiles.set(file, key);
    }
  }

  stop(): void {
    this.target = undefined;
  }

  stats(): Record<string, unknown> {
    return { ...this.counts };
  }

  async send(notification: Notification, signal: AbortSignal): Promise<SinkResult> {
    const target = this.target;
    if (!target) return { outcome: 'retry', afterMs: 0, reason: 'the pagerduty sink is not running' };
    const destination = this.destination(notification.receiver);
    if (!destination) return { outcome: 'permanent', reason: `no routing_key for receiver "${notification.receiver}" (set routing_key, or receivers.${notification.receiver}.routing_key)` };
    const events = planEvents(notification, destination, { changeEvents: this.config.change_events, hostname: os.hostname() });
    // In order, stopping at the first failure: the retry sends them all again, which PagerDuty
    // takes as the same events (same dedup_key), so nothing is doubled.
    for (const [i, event] of events.entries()) {
      this.counts.events++;
      const result = await postEvent(target, event.kind, event.data, destination.routingKey, signal, () => Date.now());
      if (result.outcome !== 'delivered') {
        this.counts.failed++;
        const reason = events.length > 1 ? `${result.reason} (event ${i + 1} of ${events.length}: ${event.label})` : result.reason;
        this.logger.debug({ receiver: notification.receiver, event: event.label, outcome: result.outcome }, `PagerDuty ${event.label} for ${notification.receiver}: ${reason}`);
        return { ...result, reason };
      }
      this.counts.delivered++;
    }
    return { outcome: 'delivered' };
  }

  /** The routing key's hash: PagerDuty's 120 events per minute hold per integration key. */
  rateKey(notification: Notification): string {
    const key = this.destination(notification.receiver)?.routingKey ?? '';
    return createHash('sha256').update(key).digest('hex').slice(0, 16);
  }

  /** The sink's settings with the receiver's overrides; undefined when it has no routing key. */
  private destination(receiver: string): Destination | undefined {
    const base = this.config;
    const own = Object.hasOwn(base.receivers, receiver) ? base.receivers[receiver] : undefined;
    const keyOf = (e: { routing_key?: string; routing_key_file?: string } | undefined): string | undefined =>
      e?.routing_key ?? (e?.routing_key_file === undefined ? undefined : this.keysFromFiles.get(e.routing_key_file));
    const routingKey = keyOf(own) ?? keyOf(base);
    if (routingKey === undefined) return undefined;
    const pick = <K extends keyof PagerdutyConfig['receivers'][string]>(k: K): PagerdutyConfig['receivers'][string][K] | undefined => own?.[k] ?? (base as PagerdutyConfig['receivers'][string])[k];
    return {
      routingKey,
      severity: own?.severity ?? base.severity,
      dedupKey: own?.dedup_key ?? base.dedup_key,
      client: own?.client ?? base.client,
      ...defined({ summary: pick('summary'), source: pick('source'), component: pick('component'), group: pick('group'), class: pick('class'), clientUrl: pick('client_url'), links: pick('links'), images: pick('images') }),
      ...((base.details || own?.details) && { details: { ...base.details, ...own?.details } }),
    };
  }
}

function defined<T extends Record<string, unknown>>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}
