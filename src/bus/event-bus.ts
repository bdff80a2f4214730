import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { busSectionSchema } from '../config/schema';
import { Clock } from '../core/clock';
import { AgentError, errorMessage, isAgentError } from '../core/errors';
import { eventMetadataInputSchema, type EventMetadata, type EventMetadataInput } from '../events/metadata';
import { EventRegistry, issuesOf } from '../events/registry';
import type { Event, EventInputMap, EventPattern, EventType } from '../events/types';
import { Bus, type EventHandler, type SubscribeOptions, type Unsubscribe } from './bus';
import { HandlerQueue, type HandlerStats, type QueueOwner } from './handler-queue';
import { compilePattern } from './pattern';

/** The bus section of the config: option types and defaults come from its schema, declared once. */
export type BusOptions = z.output<typeof busSectionSchema>;

/** Defaults of every bus option, as the config schema declares them. */
export const DEFAULT_BUS_OPTIONS: BusOptions = busSectionSchema.parse({}, { jitless: true }); // parsed once: no JIT (src/config/loader.ts)

interface TypeCounters {
  published: number;
  processed: number;
  dropped: number;
}

/** Bus statistics: the spec's keys first, then per-handler and per-type detail. */
export interface BusStats {
  events_published: number;
  events_processed: number;
  events_rejected: number;
  events_dropped: number;
  handler_errors: number;
  active_handlers: number;
  quarantined_handlers: number;
  queued: number;
  handlers: HandlerStats[];
  by_type: Record<string, TypeCounters>;
}

/**
 * True when `input` is a plain object holding only `source`, `correlation_id` and `tags`, all valid:
 * the metadata plugins (their ScopedBus adds `source`) and ingest send on nearly every publish.
 * Checks exactly what eventMetadataInputSchema requires of those keys (non-empty strings), without
 * zod's cost; anything else (an id or timestamp to check, an unknown key, a bad or undefined value)
 * goes through the schema, which also words the error.
 */
function isPlainMetadata(input: unknown): input is EventMetadataInput {
  if (typeof input !== 'object' || input === null || Object.getPrototypeOf(input) !== Object.prototype) return false;
  for (const key in input) {
    const value = (input as Record<string, unknown>)[key];
    if (key === 'source' || key === 'correlation_id') {
      if (typeof value !== 'string' || value.length === 0) return false;
    } else if (key === 'tags') {
      if (!Array.isArray(value)) return false;
      for (const tag of value as unknown[]) if (typeof tag !== 'string' || tag.length === 0) return false;
    } else {
      return false;
    }
  }
  return true;
}

/** Where the bus reports its own problems (handler failures, rejected events) besides counting them. */
const BUS_COMPONENT = 'bus';

/** Distinct undeclared error codes reported per plugin; a plugin making up codes cannot flood the bus. */
const MAX_UNDECLARED_REPORTS = 100;

/** The in-process event bus. Plugins see it through {@link Bus} (usually a {@link ScopedBus}). */
export class EventBus extends Bus implements QueueOwner {
  private queues: HandlerQueue[] = [];
  private routes = new Map<string, HandlerQueue[]>();
  private readonly byType = new Map<string, TypeCounters>();
  private lastType: string | undefined;
  private lastCounters: TypeCounters | undefined;
  private nextId = 1;
  private closed = false;
  private published = 0;
  private processed = 0;
  private rejected = 0;
  private dropped = 0;
  private handlerErrors = 0;
  private readonly options: BusOptions;

  constructor(
    readonly registry: EventRegistry,
    private readonly clock: Clock,
    options: Partial<BusOptions> = {},
  ) {
    super();
    this.options = { ...DEFAULT_BUS_OPTIONS, ...options };
  }

  async publish<T extends EventType>(type: T, data: EventInputMap[T], metadata?: EventMetadataInput): Promise<Event<T>> {
    if (this.closed) throw new AgentError('BUS_CLOSED', `bus is draining for shutdown; ${type} was not published`, { type });
    let event: Event<T>;
    try {
      event = {
        type,
        data: this.registry.parseData(type, data) as Event<T>['data'],
        metadata: this.stamp(metadata),
      };
    } catch (error) {
      this.rejected++;
      if (type !== 'agent.error') this.report(error, { event_type: type });
      throw error;
    }
    const wait = this.deliver(event);
    if (wait) await wait;
    return event;
  }

  /**
   * Delivers an event that already passed this registry's schema and carries complete metadata,
   * without validating it again: the core's path for events that were validated by this catalogue
   * before (fleet mode will re-publish events another agent validated; nothing in the core calls it
   * yet, `npm run bench` measures it). It is not part of {@link Bus}, so
   * plugins (which only get a {@link ScopedBus}) cannot reach it: everything from outside the core
   * still goes through `publish` and its schema. Throws BUS_CLOSED / EVENT_UNKNOWN_TYPE
   * synchronously; returns a promise only when a `block` queue is full and the caller must wait.
   */
  publishValidated(event: Event): Promise<void> | undefined {
    if (this.closed) throw new AgentError('BUS_CLOSED', `bus is draining for shutdown; ${event.type} was not published`, { type: event.type });
    if (!this.registry.has(event.type)) throw new AgentError('EVENT_UNKNOWN_TYPE', `unknown event type "${event.type}"`, { type: event.type });
    return this.deliver(event);
  }

  subscribe<P extends EventPattern>(pattern: P, handler: EventHandler<P>, options: SubscribeOptions = {}): Unsubscribe {
    return this.subscribeAs('core', pattern, handler, options);
  }

  /** Subscribes on behalf of `owner` (a plugin name): stats, metrics and error reports carry it. */
  subscribeAs<P extends EventPattern>(owner: string, pattern: P, handler: EventHandler<P>, options: SubscribeOptions = {}): Unsubscribe {
    return this.subscribeQueue(owner, pattern, handler, options).unsubscribe;
  }

  /**
   * {@link subscribeAs}, also returning the handler's queue. With `predecessor` (the paused queue
   * of the same subscription of a plugin being restarted), the new queue takes over what it holds
   * and the predecessor leaves the bus in the same step, so no event is lost or delivered twice.
   */
  subscribeQueue<P extends EventPattern>(
    owner: string,
    pattern: P,
    handler: EventHandler<P>,
    options: SubscribeOptions = {},
    predecessor?: HandlerQueue,
  ): { queue: HandlerQueue; unsubscribe: Unsubscribe; detach: () => void } {
    const matcher = compilePattern(pattern, (type) => this.registry.has(type));
    const capacity = options.capacity ?? this.options.queue_capacity;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new AgentError('BUS_INVALID_OPTIONS', `queue capacity must be a positive integer, got ${capacity}`);
    }
    const queue = new HandlerQueue(
      `${owner}:${options.name ?? pattern}#${this.nextId++}`,
      owner,
      matcher,
      handler as (event: Event) => void | Promise<void>,
      capacity,
      options.overflow ?? this.options.overflow,
      options.errorThreshold ?? this.options.error_threshold,
      this,
    );
    this.queues = [...this.queues.filter((q) => q !== predecessor), queue];
    this.routes.clear();
    predecessor?.handOver(queue);
    const detach = (): void => {
      this.queues = this.queues.filter((q) => q !== queue);
      this.routes.clear();
    };
    const unsubscribe = (): void => {
      if (queue.state === 'active') queue.close('unsubscribed');
      detach();
    };
    return { queue, unsubscribe, detach };
  }

  /** Resolves when every queue is empty, including events published by handlers meanwhile. */
  async idle(): Promise<void> {
    while (this.queues.some((q) => q.busy)) {
      await Promise.all(this.queues.map((q) => q.whenIdle()));
    }
  }

  /** Stops accepting events, delivers everything already queued, then resolves. */
  async drain(): Promise<void> {
    this.closed = true;
    await this.idle();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  stats(): BusStats {
    const handlers = this.queues.map((q) => q.stats());
    return {
      events_published: this.published,
      events_processed: this.processed,
      events_rejected: this.rejected,
      events_dropped: this.dropped,
      handler_errors: this.handlerErrors,
      active_handlers: handlers.filter((h) => h.state === 'active').length,
      quarantined_handlers: handlers.filter((h) => h.state === 'quarantined').length,
      queued: handlers.reduce((sum, h) => sum + h.queue_depth, 0),
      handlers,
      by_type: Object.fromEntries([...this.byType].map(([type, c]) => [type, { ...c }])),
    };
  }

  onProcessed(_queue: HandlerQueue, event: Event): void {
    this.processed++;
    this.countersOf(event.type).processed++;
  }

  onDropped(_queue: HandlerQueue, event: Event): void {
    this.dropped++;
    this.countersOf(event.type).dropped++;
  }

  onHandlerError(queue: HandlerQueue, event: Event, error: unknown): void {
    this.handlerErrors++;
    const quarantine = queue.errorThreshold > 0 && queue.errors >= queue.errorThreshold;
    // A handler failing on the bus's own report must not trigger another report: a failing `*` or
    // `agent.*` handler would otherwise feed itself forever (synchronously, for a sync handler).
    const ownReport = event.type === 'agent.error' && event.metadata.source === BUS_COMPONENT;
    if (!ownReport) {
      this.report(error, { handler: queue.id, event_type: event.type, event_id: event.metadata.event_id }, queue.owner, 'HANDLER_FAILED');
    }
    if (quarantine) {
      queue.close('quarantined');
      this.report(
        new AgentError('HANDLER_QUARANTINED', `handler ${queue.id} quarantined after ${queue.errors} errors; it receives no more events`),
        { handler: queue.id, errors: queue.errors },
        queue.owner,
      );
    }
  }

  /** Counts `event` and queues it for every matching handler; a promise only when a `block` queue is full. */
  private deliver(event: Event): Promise<void> | undefined {
    this.published++;
    this.countersOf(event.type).published++;
    let waits: Promise<void>[] | undefined;
    for (const queue of this.route(event.type)) {
      const wait = queue.offer(event);
      if (wait) (waits ??= []).push(wait);
    }
    if (!waits) return undefined;
    return waits.length === 1 ? waits[0] : Promise.all(waits).then(() => undefined);
  }

  private route(type: string): HandlerQueue[] {
    let queues = this.routes.get(type);
    if (!queues) {
      queues = this.queues.filter((q) => q.matcher.matches(type));
      this.routes.set(type, queues);
    }
    return queues;
  }

  private stamp(input: EventMetadataInput | undefined): EventMetadata {
    if (input === undefined) {
      return { event_id: randomUUID(), timestamp: this.clock.isoNow(), tags: [] };
    }
    let m = input;
    if (!isPlainMetadata(input)) {
      const parsed = eventMetadataInputSchema.safeParse(input);
      if (!parsed.success) {
        const issues = issuesOf(parsed.error, 'metadata');
        throw new AgentError('EVENT_INVALID', `invalid event metadata: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues });
      }
      m = parsed.data;
    }
    const metadata: EventMetadata = {
      event_id: m.event_id ?? randomUUID(),
      timestamp: m.timestamp ?? this.clock.isoNow(),
      tags: m.tags ? [...new Set(m.tags)] : [],
    };
    if (m.correlation_id !== undefined) metadata.correlation_id = m.correlation_id;
    if (m.source !== undefined) metadata.source = m.source;
    return metadata;
  }

  private countersOf(type: string): TypeCounters {
    // Called once per publish and once per delivery: a burst is mostly one type, so remember the last.
    if (type === this.lastType) return this.lastCounters as TypeCounters;
    let counters = this.byType.get(type);
    if (!counters) {
      counters = { published: 0, processed: 0, dropped: 0 };
      this.byType.set(type, counters);
    }
    this.lastType = type;
    this.lastCounters = counters;
    return counters;
  }

  /** Publishes `agent.error` for a problem the bus absorbed; never throws, never recurses. */
  private report(error: unknown, diagnostics: Record<string, unknown>, component = BUS_COMPONENT, fallbackCode = 'HANDLER_FAILED'): void {
    if (this.closed) return;
    const data: EventInputMap['agent.error'] = {
      severity: 'error',
      message: errorMessage(error) || 'unknown error',
      error_code: isAgentError(error) ? error.code : fallbackCode,
      component,
      diagnostic_data: diagnostics,
    };
    if (error instanceof Error && error.stack) data.stack_trace = error.stack;
    this.publish('agent.error', data, { source: BUS_COMPONENT }).catch(() => undefined);
  }
}

/**
 * The bus as one plugin sees it: subscriptions are owned by the plugin (stats and errors name it),
 * published events default to `source: <plugin>`, and `close()` removes every subscription the
 * plugin left behind.
 */
export class ScopedBus extends Bus {
  private readonly subscriptions = new Map<Unsubscribe, SuspendedSubscription>();
  private readonly undeclaredReported = new Set<string>();
  /** Paused subscriptions of the instance this one replaces (hot reload), by key, oldest first. */
  private readonly inherited = new Map<string, SuspendedSubscription[]>();

  constructor(
    private readonly bus: EventBus,
    readonly owner: string,
    /** Set by the plugin's YAML entry (`queue:`); they win over what the plugin's code asks for. */
    private readonly overrides: SubscribeOptions = {},
    /** From {@link suspend} of the previous instance: the same subscriptions made here take over their queues. */
    inherited: readonly SuspendedSubscription[] = [],
    /** Which `error_code` the plugin may put in error events (the core's and its declared ones); without it, any. */
    private readonly allowsErrorCode?: (code: string) => boolean,
  ) {
    super();
    for (const s of inherited) this.inherited.set(s.key, [...(this.inherited.get(s.key) ?? []), s]);
  }

  publish<T extends EventType>(type: T, data: EventInputMap[T], metadata?: EventMetadataInput): Promise<Event<T>> {
    const published = this.bus.publish(type, data, metadata?.source ? metadata : { ...metadata, source: this.owner });
    if (!this.allowsErrorCode || (type !== 'system.error' && type !== 'agent.error')) return published;
    return published.then((event) => {
      this.checkErrorCode(event);
      return event;
    });
  }

  /**
   * An error event with a code the plugin does not own is still delivered (an error report must
   * not be lost over its code), and reported once per code as agent.error ERROR_CODE_UNDECLARED.
   */
  private checkErrorCode(event: Event): void {
    const code = (event.data as { error_code?: unknown }).error_code;
    if (typeof code !== 'string' || (this.allowsErrorCode as (code: string) => boolean)(code)) return;
    if (this.undeclaredReported.has(code) || this.undeclaredReported.size >= MAX_UNDECLARED_REPORTS) return;
    this.undeclaredReported.add(code);
    const message = `plugin ${this.owner} published ${event.type} with error_code ${code}, which it does not declare: add it to definePlugin({ errors }) or use a core code`;
    this.bus
      .publish('agent.error', { severity: 'warning', message, error_code: 'ERROR_CODE_UNDECLARED', component: this.owner, diagnostic_data: { error_code: code, event_type: event.type, event_id: event.metadata.event_id } }, { source: BUS_COMPONENT })
      .catch(() => undefined);
  }

  subscribe<P extends EventPattern>(pattern: P, handler: EventHandler<P>, options: SubscribeOptions = {}): Unsubscribe {
    const merged = { ...options, ...this.overrides };
    const key = `${merged.name ?? ''}\u0000${pattern}`;
    const predecessor = this.inherited.get(key)?.shift();
    const { queue, unsubscribe, detach } = this.bus.subscribeQueue(this.owner, pattern, handler, merged, predecessor?.queue);
    const tracked: Unsubscribe = () => {
      if (this.subscriptions.delete(tracked)) unsubscribe();
    };
    this.subscriptions.set(tracked, { key, queue, unsubscribe, detach });
    return tracked;
  }

  /**
   * The plugin is stopping: no new event reaches its subscriptions, the ones already queued still
   * do (blocked publishers included). Resolves once every queue is empty and no handler runs; the
   * caller bounds the wait and then calls {@link close}, which discards and counts what is left.
   */
  drain(): Promise<void> {
    const subscriptions = [...this.subscriptions.values()];
    for (const s of subscriptions) s.detach();
    return Promise.all(subscriptions.map((s) => s.queue.whenIdle())).then(() => undefined);
  }

  /**
   * Hot reload: pauses every subscription and detaches it from this scope (the plugin's own
   * unsubscribe functions become no-ops), to be passed to the successor's ScopedBus. Events keep
   * queueing under each queue's overflow policy until the successor subscribes again.
   */
  suspend(): SuspendedSubscription[] {
    const suspended = [...this.subscriptions.values()];
    this.subscriptions.clear();
    for (const s of suspended) s.queue.pause();
    return suspended;
  }

  /**
   * Hot reload, when the new instance failed to start: pauses what it subscribed and returns it
   * together with the inherited subscriptions it did not claim, so the next attempt (a rollback to
   * the previous entry) takes over every queued event. Leaves this scope empty.
   */
  handBack(): SuspendedSubscription[] {
    const claimed = this.suspend();
    const unclaimed = [...this.inherited.values()].flat();
    this.inherited.clear();
    return [...unclaimed, ...claimed];
  }

  /** Closes inherited subscriptions the new instance did not make again; returns how many queued events they discarded. */
  dropUnclaimed(): number {
    const discarded = closeSubscriptions([...this.inherited.values()].flat());
    this.inherited.clear();
    return discarded;
  }

  /** Number of subscriptions still open. */
  get subscriptionCount(): number {
    return this.subscriptions.size;
  }

  /** Removes every subscription; returns how many queued events were discarded (each also counted as dropped by the bus). */
  close(): number {
    const open = [...this.subscriptions.values()];
    this.subscriptions.clear();
    return closeSubscriptions(open) + this.dropUnclaimed();
  }
}

/** Unsubscribes each; returns how many events their queues still held (discarded, counted as dropped). */
export function closeSubscriptions(subscriptions: readonly SuspendedSubscription[]): number {
  let discarded = 0;
  for (const s of subscriptions) {
    if (s.queue.state === 'active') discarded += s.queue.depth;
    s.unsubscribe();
  }
  return discarded;
}

/** A paused subscription of a plugin being restarted; `key` (name and pattern) matches it to the new instance's. */
export interface SuspendedSubscription {
  key: string;
  queue: HandlerQueue;
  unsubscribe: Unsubscribe;
  /** Stops routing new events to the queue; what it holds is still delivered. */
  detach: () => void;
}
