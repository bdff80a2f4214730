import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { AgentError, Backoff, errorMessage, MAX_READ_LIMIT, type CancelTimer, type EventStore, type StoredEvent, type Unsubscribe } from 'praxis-agent';
import { Checkpoint, type Position } from './checkpoint';
import type { NatsRole, RoleContext } from './role';
import { ensureStream } from './stream';
import { agentSubjects, eventHeaders, eventSubject, fleetOrigin, HEADER_MSG_ID, HEADER_OFFSET } from './wire';

/** How often the acknowledged position is written to the checkpoint file at most (the stream itself covers the rest). */
const CHECKPOINT_INTERVAL_MS = 200;

/** The sidecar's state on /stats, /metrics, /readyz and `fleet status`. */
export type ForwarderStats = {
  role: 'sidecar';
  /** The stream was checked (or created) on the current connection: forwarding runs. */
  stream_ok: boolean;
  /** Offset in the local store up to which every event is in the stream (or not to be forwarded). */
  last_acked_offset: number;
  /** Events in the local store after last_acked_offset (an upper bound: it counts events `types` or the fleet marker skip too). */
  pending_events: number;
  in_flight: number;
  forwarded: number;
  /** Re-sent events the server recognised by Nats-Msg-Id (after a lost PubAck). */
  duplicates: number;
  /** Events removed from the store (retention) before they could be forwarded. */
  lost: number;
  /** Events larger than the server's max_payload: skipped, never in the stream. */
  too_large: number;
  publish_errors: number;
  /** Events skipped on (re)connect because the stream already had them (the agent's own dedup). */
  skipped_in_stream: number;
};

interface InFlight {
  offset: number;
  eventId: string;
  done: boolean;
}

/**
 * The sidecar role: forwards this agent's events to the stream FROM THE LOCAL STORE, in offset
 * order, each with Nats-Msg-Id = event_id and an awaited PubAck (up to forward.max_in_flight
 * pipelined). Only committed events are read (EventStore.committed): an event a crash could still
 * lose, and whose offset could go to another event, is never in the stream. The acknowledged
 * position is kept in a checkpoint file; on every (re)connect it is reconciled with the stream's
 * last message from this agent (Praxis-Offset), so neither a checkpoint that lags (crash) nor an
 * outage longer than the server's duplicate window re-sends an event.
 */
export class Forwarder implements NatsRole {
  private store!: EventStore;
  private readonly checkpoint: Checkpoint;
  /** Everything up to here is in the stream (or skipped by the filter). */
  private acked: Position = { offset: 0, event_id: null };
  /** The last offset read from the store (published, in flight, or skipped). */
  private scanned = 0;
  private readonly inflight: InFlight[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private js?: JetStreamClient;
  private jsm?: JetStreamManager;
  /** Bumped on every connection change: work of an older connection stops. */
  private generation = 0;
  private streamOk = false;
  /** The stream problem last reported (code and message), until the stream checks out. */
  private streamProblem?: string;
  private failed = false;
  private stopped = false;
  private pumpScheduled = false;
  private unsubscribe?: Unsubscribe;
  private checkpointTimer?: CancelTimer;
  private retryTimer?: CancelTimer;
  private savedOffset = -1;
  private checkpointFailing = false;
  private readonly retry: Backoff;
  private counters = { forwarded: 0, duplicates: 0, lost: 0, too_large: 0, publish_errors: 0, skipped_in_stream: 0 };

  constructor(private readonly ctx: RoleContext) {
    const { config } = ctx;
    this.checkpoint = new Checkpoint(ctx.resolvePath(config.forward.checkpoint_file), `${config.stream.name}/${config.subject_prefix}/${ctx.agentId}`);
    this.retry = new Backoff({ initialMs: config.reconnect.initial, maxMs: config.reconnect.max, jitter: 0.2 });
  }

  start(): void {
    if (!this.ctx.store) {
      throw new AgentError(
        'NATS_STORE_REQUIRED',
        `plugin ${this.ctx.name} (role sidecar) forwards from the local event store, which is disabled: set \`store: { enabled: true }\` in agent.config.yaml (events are kept there while NATS is unreachable)`,
        { plugin: this.ctx.name },
      );
    }
    this.store = this.ctx.store;
    try {
      this.acked = this.validPosition(this.checkpoint.load()) ?? { offset: 0, event_id: null };
    } catch (error) {
      this.ctx.report('warning', 'NATS_CHECKPOINT_FAILED', `forwarding checkpoint ${this.checkpoint.file} cannot be read (${errorMessage(error)}); the position is taken from the stream on connect`, { file: this.checkpoint.file });
    }
    this.savedOffset = this.acked.offset;
    this.scanned = this.acked.offset;
    this.unsubscribe = this.store.onCommit(() => this.schedulePump());
  }

  connected(nc: NatsConnection): void {
    const generation = ++this.generation;
    this.streamOk = false;
    void this.prepare(nc, generation);
  }

  disconnected(): void {
    this.generation++;
    this.streamOk = false;
    this.js = undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.retryTimer?.();
    this.checkpointTimer?.();
    // PubAcks already on their way are awaited (bounded by ack_timeout), so the checkpoint is as
    // fresh as it can be; without a connection they will not come.
    if (this.ctx.link.connected) await this.settled();
    this.saveCheckpoint();
  }

  stats(): ForwarderStats {
    const head = this.ctx.store?.head ?? 0;
    return {
      role: 'sidecar',
      stream_ok: this.streamOk,
      last_acked_offset: this.acked.offset,
      pending_events: Math.max(0, head - this.acked.offset),
      in_flight: this.inflight.length,
      ...this.counters,
    };
  }

  /** Checks the stream, learns what it already has from this agent, then forwards. Retried with backoff on failure. */
  private async prepare(nc: NatsConnection, generation: number): Promise<void> {
    const { config } = this.ctx;
    try {
      const jsm = await jetstreamManager(nc, { timeout: config.forward.ack_timeout });
      await ensureStream(jsm, config.stream, config.subject_prefix);
      if (generation !== this.generation || this.stopped) return;
      this.jsm = jsm;
      this.js = jetstream(nc, { timeout: config.forward.ack_timeout });
      await this.settled();
      if (generation !== this.generation || this.stopped) return;
      await this.reconcile(jsm);
      if (generation !== this.generation || this.stopped) return;
      this.streamOk = true;
      if (this.streamProblem !== undefined) this.ctx.logger.info({ stream: config.stream.name }, `stream ${config.stream.name} checked: forwarding resumes`);
      this.streamProblem = undefined;
      this.failed = false;
      this.retryTimer?.();
      this.retryTimer = undefined;
      this.retry.reset();
      this.schedulePump();
    } catch (error) {
      if (generation !== this.generation || this.stopped) return;
      const code = error instanceof AgentError ? error.code : /jetstream (is )?not enabled/i.test(errorMessage(error)) ? 'NATS_JETSTREAM_UNAVAILABLE' : 'NATS_PUBLISH_FAILED';
      const delay = this.retry.next();
      // Once per problem, not per retry: a mismatch lasts until someone changes the stream or the config.
      const problem = `${code}: ${errorMessage(error)}`;
      if (problem !== this.streamProblem) {
        this.streamProblem = problem;
        const hint = code === 'NATS_JETSTREAM_UNAVAILABLE' ? ' (start nats-server with -js, or give the account JetStream)' : '';
        this.ctx.report(code === 'NATS_PUBLISH_FAILED' ? 'error' : 'critical', code as 'NATS_STREAM_MISMATCH', `${errorMessage(error)}${hint}; nothing is forwarded, events stay in the local store; checked again with backoff (up to ${config.reconnect.max} ms apart)`, {
          stream: config.stream.name,
          ...(error instanceof AgentError ? error.details : {}),
        });
      }
      this.retryTimer = this.ctx.clock.setTimeout(() => {
        if (generation === this.generation && !this.stopped) void this.prepare(nc, generation);
      }, delay);
    }
  }

  /**
   * The agent's own dedup: the stream's last message from this agent tells how far forwarding got,
   * also when the checkpoint lags (a crash between PubAck and checkpoint write) and the server's
   * duplicate window has passed. Adopted only when the store still holds that event at that offset
   * (a store replaced by an empty one must not skip its new events).
   */
  private async reconcile(jsm: JetStreamManager): Promise<void> {
    const { config } = this.ctx;
    let last;
    try {
      last = await jsm.streams.getMessage(config.stream.name, { last_by_subj: agentSubjects(config.subject_prefix, this.ctx.agentId) });
    } catch (error) {
      if (/no message found|not found/i.test(errorMessage(error))) return;
      throw error;
    }
    if (!last) return;
    const offset = Number(last.header?.get(HEADER_OFFSET));
    const eventId = last.header?.get(HEADER_MSG_ID) ?? null;
    if (!Number.isSafeInteger(offset) || offset <= this.acked.offset) return;
    const position = this.validPosition({ offset, event_id: eventId });
    if (!position) {
      this.ctx.logger.warn({ stream_offset: offset, event_id: eventId, store_head: this.store.head }, 'the stream has events of this agent_id that this store does not hold at those offsets (a new store, or another agent with the same agent_id): forwarding from the checkpoint');
      return;
    }
    this.counters.skipped_in_stream += offset - this.acked.offset;
    this.acked = position;
    this.scanned = offset;
    this.saveCheckpoint();
  }

  /** The position if the store agrees with it (same event at that offset, or the offset is no longer retained). */
  private validPosition(position: Position | undefined): Position | undefined {
    if (!position || position.offset === 0) return position;
    if (position.offset > this.store.committed) return undefined;
    if (position.offset < this.store.tail || position.event_id === null) return position;
    const [entry] = this.store.read(position.offset - 1, { limit: 1 }).events;
    return entry && entry.offset === position.offset && entry.event.metadata.event_id === position.event_id ? position : undefined;
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.stopped) return;
    this.pumpScheduled = true;
    // Commit listeners run inside the store's flush (possibly inside a publish): forward afterwards.
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Publishes committed events after `scanned` while there is room in flight. */
  private pump(): void {
    const js = this.js;
    if (!js || !this.streamOk || this.failed || this.stopped) return;
    const { config } = this.ctx;
    const max = config.forward.max_in_flight;
    while (this.inflight.length < max) {
      const committed = this.store.committed;
      if (this.scanned >= committed) return;
      if (!this.store.covers(this.scanned)) this.reportLoss();
      const page = this.store.read(this.scanned, { types: config.types, limit: Math.min(MAX_READ_LIMIT, max - this.inflight.length) });
      let last = Math.min(page.next_offset - 1, committed);
      for (const entry of page.events) {
        if (entry.offset > committed) break;
        if (this.inflight.length >= max) {
          last = entry.offset - 1;
          break;
        }
        this.send(js, entry);
      }
      this.scanned = Math.max(this.scanned, last);
      this.advance();
    }
  }

  private send(js: JetStreamClient, entry: StoredEvent): void {
    const { config } = this.ctx;
    const event = entry.event;
    const eventId = event.metadata.event_id;
    // Events an aggregator brought in from the fleet are never sent back.
    if (fleetOrigin(event) !== undefined) return;
    const item: InFlight = { offset: entry.offset, eventId, done: false };
    this.inflight.push(item);
    const generation = this.generation;
    js.publish(eventSubject(config.subject_prefix, this.ctx.agentId, entry.type), entry.json, { msgID: eventId, headers: eventHeaders(eventId, this.ctx.agentId, entry.offset) }).then(
      (ack) => {
        item.done = true;
        if (ack.duplicate) this.counters.duplicates++;
        else this.counters.forwarded++;
        this.settle();
      },
      (error: unknown) => this.onPublishError(item, error, generation),
    );
  }

  /** Moves the acknowledged position over the leading acknowledged events (PubAcks arrive in order, but are checked anyway). */
  private advance(): void {
    while (this.inflight.length > 0 && (this.inflight[0] as InFlight).done) {
      const item = this.inflight.shift() as InFlight;
      this.acked = { offset: item.offset, event_id: item.eventId };
    }
    // Nothing in flight: everything scanned is forwarded or skipped.
    if (this.inflight.length === 0 && this.scanned > this.acked.offset && !this.failed) this.acked = { offset: this.scanned, event_id: this.eventIdAt(this.scanned) };
    if (this.acked.offset !== this.savedOffset) this.checkpointTimer ??= this.ctx.clock.setTimeout(() => {
      this.checkpointTimer = undefined;
      this.saveCheckpoint();
    }, CHECKPOINT_INTERVAL_MS);
  }

  /**
   * A publish failed (timeout, connection lost, refused): nothing more is sent; once the earlier
   * publishes have settled, forwarding rewinds to the acknowledged position and goes on after a
   * backoff (a re-sent event the stream already has is recognised by its Nats-Msg-Id).
   */
  private onPublishError(item: InFlight, error: unknown, generation: number): void {
    this.counters.publish_errors++;
    const index = this.inflight.indexOf(item);
    // The client refuses, before sending, a message over the server's max_payload: no retry can
    // ever forward it, and waiting for one would stop forwarding for good. Skipped, and said so.
    if (index >= 0 && /max_payload/i.test(errorMessage(error))) {
      item.done = true;
      this.counters.too_large++;
      this.ctx.report('error', 'NATS_PUBLISH_FAILED', `event ${item.eventId} at offset ${item.offset} is larger than the NATS server's max_payload: it cannot be forwarded to ${this.ctx.config.stream.name} and is skipped (raise max_payload on the server, or keep events smaller)`, {
        offset: item.offset,
        event_id: item.eventId,
      });
      this.settle();
      return;
    }
    // This one and those sent after it are sent again; their late PubAcks change nothing.
    if (index >= 0) this.inflight.splice(index);
    if (!this.failed && generation === this.generation && this.ctx.link.connected) {
      this.ctx.report('error', 'NATS_PUBLISH_FAILED', `forwarding event at offset ${item.offset} to ${this.ctx.config.stream.name} failed: ${errorMessage(error)}; retrying from offset ${this.acked.offset + 1}`, { offset: item.offset });
    }
    this.failed = true;
    this.settle();
  }

  /** After each PubAck or failure: move the position on, then either go on or, after a failure, rewind. */
  private settle(): void {
    this.advance();
    this.notifyIdle();
    if (!this.failed) {
      this.retry.reset();
      this.schedulePump();
      return;
    }
    if (this.inflight.length > 0) return;
    this.scanned = this.acked.offset;
    this.retryTimer?.();
    this.retryTimer = this.ctx.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.failed = false;
      this.schedulePump();
    }, this.retry.next());
  }

  private reportLoss(): void {
    const lost = this.store.tail - 1 - this.scanned;
    if (lost <= 0) return;
    this.counters.lost += lost;
    this.ctx.report('error', 'NATS_FORWARD_GAP', `${lost} event(s) (offsets ${this.scanned + 1}-${this.store.tail - 1}) left the local store (retention) before they could be forwarded to ${this.ctx.config.stream.name}; forwarding goes on from offset ${this.store.tail}`, {
      lost,
      from: this.scanned + 1,
      to: this.store.tail - 1,
    });
    this.scanned = this.store.tail - 1;
  }

  private eventIdAt(offset: number): string | null {
    const [entry] = this.store.read(offset - 1, { limit: 1 }).events;
    return entry && entry.offset === offset ? entry.event.metadata.event_id : null;
  }

  /** Resolves once nothing is in flight (every publish acknowledged or failed: a publish on a lost connection fails within ack_timeout). */
  private settled(): Promise<void> {
    if (this.inflight.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private notifyIdle(): void {
    if (this.inflight.length > 0 || this.idleWaiters.length === 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private saveCheckpoint(): void {
    this.checkpointTimer?.();
    this.checkpointTimer = undefined;
    if (this.acked.offset === this.savedOffset) return;
    try {
      this.checkpoint.save(this.acked, new Date(this.ctx.clock.now()));
      this.savedOffset = this.acked.offset;
      this.checkpointFailing = false;
    } catch (error) {
      if (!this.checkpointFailing) this.ctx.report('warning', 'NATS_CHECKPOINT_FAILED', `forwarding checkpoint ${this.checkpoint.file} cannot be written (${errorMessage(error)}); forwarding goes on, the position is taken from the stream after a restart`, { file: this.checkpoint.file });
      this.checkpointFailing = true;
    }
  }
}
