import type { EventBus } from '../bus/event-bus';
import { AgentError, errorMessage } from '../core/errors';
import type { Logger } from '../core/logger';
import { LogRateLimiter } from '../core/log-rate-limit';
import type { Clock } from '../core/clock';
import { eventMetadataSchema, type EventMetadata } from '../events/metadata';
import { issuesOf } from '../events/registry';
import type { Event } from '../events/types';
import type { IngestDedup } from '../http/ingest-dedup';
import { checkEnvelope, invalid, rejectionOf, type Rejection } from '../http/ingest';
import { AGENT_TAG_PREFIX, FleetInbox, type FleetInboxStats, type FleetReceipt } from './fleet-inbox';

/** `component` and `metadata.source` of the inbox's own `system.error` reports. */
export const FLEET_COMPONENT = 'fleet';

/** What the inbox needs of the event store: when a published event is on disk. */
export interface CommitNotifier {
  whenCommitted(event: Event): Promise<void>;
}

/** An origin as a subject token carries it: no dots, wildcards or white space. */
const ORIGIN = /^[^\s.*>]{1,256}$/;

export interface AgentFleetInboxOptions {
  agentId: string;
  bus: EventBus;
  /** The agent's event-id memory, shared with ingest: an id either path accepted is a duplicate on the other. */
  dedup: IngestDedup;
  clock: Clock;
  logger: Logger;
  /** The event store, when on: processed then also means committed. */
  store?: CommitNotifier;
}

/** The agent's {@link FleetInbox}: see its contract. */
export class AgentFleetInbox extends FleetInbox {
  private readonly counters = { received: 0, published: 0, duplicates: 0, rejected: 0 };
  /** Published events whose commit is awaited, by id: a redelivery meanwhile waits for the same commit. */
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly logLimit: LogRateLimiter;

  constructor(private readonly options: AgentFleetInboxOptions) {
    super();
    this.logLimit = new LogRateLimiter(options.clock);
  }

  get agentId(): string {
    return this.options.agentId;
  }

  stats(): FleetInboxStats {
    return { ...this.counters, in_flight: this.inFlight.size };
  }

  async receive(payload: string | Uint8Array, origin: string, context: Record<string, unknown> = {}): Promise<FleetReceipt> {
    const { bus, dedup } = this.options;
    if (bus.isClosed) throw new AgentError('BUS_CLOSED', 'bus is draining for shutdown; the fleet event was not published');
    this.counters.received++;
    const checked = this.check(payload, origin);
    if ('rejection' in checked) return this.reject(checked.rejection, checked.eventId, origin, context);
    const { type, data, metadata } = checked;
    const id = metadata.event_id;
    const inFlight = this.inFlight.get(id);
    if (inFlight || dedup.has(id)) {
      this.counters.duplicates++;
      return { status: 'duplicate', event_id: id, processed: inFlight ?? Promise.resolve() };
    }
    const event: Event = { type, data, metadata } as Event;
    dedup.remember(id);
    // Registered before the publish: the store may append (and commit) the event during it.
    const committed = this.options.store?.whenCommitted(event);
    try {
      const wait = bus.publishValidated(event);
      if (wait) await wait;
    } catch (error) {
      dedup.forget(id);
      committed?.catch(() => undefined);
      throw error;
    }
    this.counters.published++;
    if (!committed) return { status: 'published', event, processed: Promise.resolve() };
    const processed = committed.then(
      () => void this.inFlight.delete(id),
      (error: unknown) => {
        // Not on disk: the redelivery must be taken again, not answered as a duplicate.
        this.inFlight.delete(id);
        dedup.forget(id);
        throw error;
      },
    );
    // The caller learns of a failure when it awaits `processed`; until it does, the rejection is not unhandled.
    processed.catch(() => undefined);
    this.inFlight.set(id, processed);
    return { status: 'published', event, processed };
  }

  /** The event as it is republished here, or why it cannot be. */
  private check(payload: string | Uint8Array, origin: string): { type: Event['type']; data: unknown; metadata: EventMetadata } | { rejection: Rejection; eventId?: string } {
    if (!ORIGIN.test(origin)) return { rejection: invalid([{ path: '(origin)', message: `"${origin}" is not an agent id (1-256 characters, no dots, wildcards or white space)` }]) };
    let value: unknown;
    try {
      value = JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
    } catch (error) {
      return { rejection: invalid([{ path: '(root)', message: `not JSON: ${errorMessage(error)}` }]) };
    }
    const eventId = eventIdOf(value);
    const envelope = checkEnvelope(value, true);
    if ('code' in envelope) return { rejection: envelope, eventId };
    const parsed = eventMetadataSchema.safeParse(envelope.metadata);
    if (!parsed.success) return { rejection: invalid(issuesOf(parsed.error, 'metadata')), eventId };
    let data: unknown;
    try {
      data = this.options.bus.registry.parseData(envelope.type, envelope.data);
    } catch (error) {
      return { rejection: rejectionOf(error, envelope.type), eventId };
    }
    const tags = parsed.data.tags.filter((t) => !t.startsWith(AGENT_TAG_PREFIX));
    tags.push(AGENT_TAG_PREFIX + origin);
    return { type: envelope.type as Event['type'], data, metadata: { ...parsed.data, tags: [...new Set(tags)] } };
  }

  private reject(rejection: Rejection, eventId: string | undefined, origin: string, context: Record<string, unknown>): FleetReceipt {
    this.counters.rejected++;
    const message = `fleet event from agent "${origin}" rejected: ${rejection.message}`;
    const diagnostic_data = { origin, code: rejection.code, errors: rejection.errors, ...context, ...(eventId ? { event_id: eventId } : {}) };
    const suppressed = this.logLimit.admit('rejected');
    if (suppressed !== undefined) this.options.logger.warn({ error_code: 'FLEET_EVENT_REJECTED', ...diagnostic_data, ...(suppressed > 0 ? { suppressed } : {}) }, message);
    this.options.bus
      .publish('system.error', { severity: 'error', message, error_code: 'FLEET_EVENT_REJECTED', component: FLEET_COMPONENT, diagnostic_data }, { source: FLEET_COMPONENT })
      .catch(() => undefined);
    return { status: 'rejected', code: rejection.code, message, errors: rejection.errors, ...(eventId ? { event_id: eventId } : {}) };
  }
}

/** `metadata.event_id` of a message, when it has a string one (for the report of a rejection). */
function eventIdOf(value: unknown): string | undefined {
  const metadata = typeof value === 'object' && value !== null ? (value as { metadata?: unknown }).metadata : undefined;
  const id = typeof metadata === 'object' && metadata !== null ? (metadata as { event_id?: unknown }).event_id : undefined;
  return typeof id === 'string' ? id.slice(0, 100) : undefined;
}
