import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { millis, nanos, type NatsConnection } from '@nats-io/transport-node';
import { randomUUID } from 'node:crypto';
import { AgentError, Backoff, errorMessage, eventTypeMatcher, type CancelTimer, type FleetInbox } from 'praxis-agent';
import { AlertStateReplica } from './alert-state';
import type { NatsConfig } from './config';
import { FleetLease } from './lease';
import type { NatsRole, RoleContext } from './role';
import { ensureStream } from './stream';
import { parseSubject, streamSubjects } from './wire';

/** JetStream's "consumer not found" API error code. */
const CONSUMER_NOT_FOUND = 10014;

/** How often the consumer's lag is read from the server while idle (every delivery also carries it). */
const LAG_REFRESH_MS = 5_000;

/** How often a held-back watermark is tried again when no new event comes to do it. */
const WATERMARK_RETRY_MS = 1_000;

/**
 * How long a pull request lasts at the server. With a lease it is the lease (1 s to 30 s): a holder
 * that stepped down but could not close its pull (hung, partitioned) is handed messages for at
 * most this long, which bounds how long its successor must hold its watermark back.
 */
export function pullExpiresMs(config: NatsConfig): number {
  return config.consumer.lease > 0 ? Math.min(30_000, Math.max(1_000, config.consumer.lease)) : 30_000;
}

/** The consumer settings the config asks for, in JetStream's terms. */
export function desiredConsumer(config: NatsConfig): Partial<ConsumerConfig> & { durable_name: string } {
  const { consumer } = config;
  return {
    durable_name: consumer.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: streamSubjects(config.subject_prefix)[0] as string,
    max_ack_pending: consumer.max_ack_pending,
    ack_wait: nanos(consumer.ack_wait),
  };
}

/** What differs between the config and an existing consumer; empty when they agree (durations in ms). */
export function consumerDifferences(config: NatsConfig, actual: ConsumerConfig): { key: string; expected: unknown; actual: unknown }[] {
  const want = desiredConsumer(config);
  const out: { key: string; expected: unknown; actual: unknown }[] = [];
  const check = (key: string, expected: unknown, value: unknown): void => {
    if (expected !== value) out.push({ key, expected, actual: value });
  };
  check('ack_policy', want.ack_policy, actual.ack_policy);
  check('filter_subject', want.filter_subject, actual.filter_subject ?? actual.filter_subjects?.join(','));
  check('max_ack_pending', want.max_ack_pending, actual.max_ack_pending);
  check('ack_wait', config.consumer.ack_wait, millis(actual.ack_wait ?? 0));
  return out;
}

/**
 * Creates the durable pull consumer, or checks the one that exists (another aggregator, or an
 * operator, made it): a difference is NATS_CONSUMER_MISMATCH, never a silent change, because every
 * aggregator sharing it relies on its settings.
 */
export async function ensureConsumer(jsm: JetStreamManager, config: NatsConfig): Promise<void> {
  const stream = config.stream.name;
  const durable = config.consumer.durable;
  const check = async (): Promise<boolean> => {
    try {
      const info = await jsm.consumers.info(stream, durable);
      const diffs = consumerDifferences(config, info.config);
      if (diffs.length > 0) {
        const list = diffs.map((d) => `${d.key}: config ${JSON.stringify(d.expected)}, consumer ${JSON.stringify(d.actual)}`).join('; ');
        throw new AgentError(
          'NATS_CONSUMER_MISMATCH',
          `JetStream consumer ${durable} on stream ${stream} exists with other settings than the config (${list}); the agent does not change it: make consumer.* match on every aggregator, or change it yourself (nats consumer edit ${stream} ${durable})`,
          { stream, durable, differences: diffs },
        );
      }
      return true;
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === CONSUMER_NOT_FOUND) return false;
      throw error;
    }
  };
  if (await check()) return;
  try {
    await jsm.consumers.add(stream, desiredConsumer(config));
  } catch (error) {
    // Another aggregator created it meanwhile: check it like an existing one.
    if (!(await check())) throw error;
  }
}

/** The aggregator's counters, shown under its plugin on /stats and /metrics and by `fleet status`. */
interface AggregatorCounters {
  /** Messages the consumer delivered to this aggregator (redeliveries included). */
  delivered: number;
  /** Of those, redeliveries (the server's delivery count > 1). */
  redelivered: number;
  /** Acknowledged: processed here (published and, with the store on, committed), or already had. */
  acked: number;
  /** Told not to redeliver: not a valid event (FLEET_EVENT_REJECTED). */
  terminated: number;
  /** Left for redelivery: the event could not be stored (store closed, commits failing). */
  not_acked: number;
  /** Skipped and acknowledged: events this agent forwarded itself, or types outside `types`. */
  skipped: number;
  /** Redeliveries at or below the previous lease holder's watermark: acknowledged, not processed (it had). */
  skipped_watermark: number;
}

/**
 * The aggregator role: a durable pull consumer on the fleet stream feeds this agent's bus through
 * the core's FleetInbox (validation, the `agent:` tag, one processing per event id). A message is
 * acknowledged once its event is processed: on the bus and, with the store on, committed to disk.
 * Several aggregators share the consumer, so each message goes to one of them; what one leaves
 * unacknowledged (it died) is redelivered to the others after `consumer.ack_wait`.
 */
export class Aggregator implements NatsRole {
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;
  /** Bumped by every (re)start of the loop, so an old loop that ends does not restart anything. */
  private generation = 0;
  private stopped = false;
  private retryTimer?: CancelTimer;
  private lagTimer?: CancelTimer;
  private readonly retry = new Backoff({ initialMs: 500, maxMs: 30_000, jitter: 0.2 });
  private readonly takes: (type: string) => boolean;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly counters: AggregatorCounters = { delivered: 0, redelivered: 0, acked: 0, terminated: 0, not_acked: 0, skipped: 0, skipped_watermark: 0 };
  /** Messages left in the consumer for the fleet's aggregators (num_pending), as last seen; null before the first look. */
  private lag: number | null = null;
  /** Delivered to an aggregator and not acknowledged yet (num_ack_pending), as last seen. */
  private ackPending: number | null = null;
  /** The consume loop runs (it survives the client's reconnects). */
  private running = false;
  /** Running and connected: /readyz and `fleet status` show it. */
  private consuming = false;
  private lastError: string | null = null;
  /** Active/standby: only the holder of this lease consumes (consumer.lease > 0). */
  private readonly lease?: FleetLease;
  private nc?: NatsConnection;
  /** Redeliveries at or below this stream sequence were processed by the previous holder. */
  private skipUpTo = 0;
  /** First deliveries in stream order, not yet all processed: the watermark is the head's predecessor. */
  private readonly unfinished: number[] = [];
  private readonly finished = new Set<number>();
  private highestDelivered = 0;
  /** The previous holder's deliveries are not all settled yet (stream seq they reached): no watermark beyond them meanwhile. */
  private frozenUntil = 0;
  /** Clock time until which the previous holder's last pull may still be handed messages: no watermark until then. */
  private holdUntil = 0;
  /** The highest sequence processed with everything below it, not written as the watermark yet. */
  private unwritten = 0;
  private watermarkTimer?: CancelTimer;
  private readonly settle: (() => void)[] = [];
  private flushing = false;
  private consumerInfo?: () => Promise<{ ack_floor: { stream_seq: number }; delivered: { stream_seq: number } }>;
  /** Silences, acks, and the holder's nflog and alerts shared with the other aggregators (alert_state.replicate). */
  private readonly alertState?: AlertStateReplica;

  constructor(
    private readonly ctx: RoleContext,
    private readonly inbox: FleetInbox,
  ) {
    this.takes = eventTypeMatcher(ctx.config.types);
    const { config } = ctx;
    if (config.consumer.lease > 0) {
      this.lease = new FleetLease({
        scope: `${config.stream.name}_${config.consumer.durable}`,
        holderId: `${ctx.agentId}-${randomUUID().slice(0, 8)}`,
        ttlMs: config.consumer.lease,
        clock: ctx.clock,
        logger: ctx.logger,
        acquired: (watermark) => {
          this.skipUpTo = watermark;
          this.highestDelivered = watermark;
          this.unfinished.length = 0;
          this.finished.clear();
          this.unwritten = 0;
          this.holdUntil = ctx.clock.now() + pullExpiresMs(config) + WATERMARK_RETRY_MS;
          // The previous holder's notification log and alerts first: alerting goes on where it stopped.
          const ready = this.alertState ? this.alertState.takeOver() : Promise.resolve();
          void ready
            .catch((error: unknown) => this.ctx.logger.error({ err: errorMessage(error) }, `alert state: the previous holder's state could not be merged (${errorMessage(error)}); consuming without it`))
            .then(() => {
              if (this.nc && !this.nc.isClosed()) this.begin(this.nc);
            });
        },
        lost: () => this.pause(),
      });
    }
    if (ctx.alertingState && config.alert_state.replicate) {
      this.alertState = new AlertStateReplica({ ctx, state: ctx.alertingState, scope: `${config.stream.name}_${config.consumer.durable}`, isHolder: () => this.lease?.isLeader ?? false });
    }
  }

  /** Stops consuming at once (the lease is gone); what is being committed is still acknowledged. */
  private pause(): void {
    this.generation++;
    this.retryTimer?.();
    this.lagTimer?.();
    this.watermarkTimer?.();
    this.running = false;
    this.consuming = false;
    const messages = this.messages;
    this.messages = undefined;
    void messages?.close().catch(() => undefined);
  }

  private mayConsume(): boolean {
    return !this.lease || this.lease.isLeader;
  }

  start(): void {
    this.alertState?.start();
    if (!this.ctx.store) {
      this.ctx.logger.warn('aggregator without the event store: event ids are remembered in memory only (10,000 ids, 1 h), so a restart may process a redelivered event again; enable `store` for exactly-once across restarts');
    }
  }

  connected(nc: NatsConnection, reconnected: boolean): void {
    this.nc = nc;
    this.alertState?.connected(nc);
    if (this.lease) {
      // Each connection of the link is a new client: the lease starts over on it (and decides when to consume).
      this.pause();
      this.lease.start(nc);
      return;
    }
    // The client resumes a pull subscription by itself after reconnecting; a new connection needs a new one.
    if (reconnected && this.running) {
      this.consuming = true;
      return;
    }
    this.begin(nc);
  }

  disconnected(): void {
    this.consuming = false;
    this.alertState?.disconnected();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    this.retryTimer?.();
    this.lagTimer?.();
    this.watermarkTimer?.();
    await this.messages?.close().catch(() => undefined);
    await this.loop;
    // Acknowledge what is being committed now; the link's close flushes the acks. What does not
    // commit stays unacknowledged and is redelivered.
    await Promise.allSettled([...this.inFlight]);
    await this.flush();
    await this.alertState?.stop();
    await this.lease?.stop();
  }

  stats(): Record<string, unknown> {
    const { consumer } = this.ctx.config;
    return {
      role: 'aggregator',
      consumer: consumer.durable,
      consuming: this.consuming,
      consumer_lag: this.lag,
      consumer_ack_pending: this.ackPending,
      ...this.counters,
      in_flight: this.inFlight.size,
      inbox: this.inbox.stats(),
      consumer_error: this.lastError,
      ...(this.lease ? this.lease.stats() : {}),
      ...(this.alertState ? this.alertState.stats() : {}),
    };
  }

  private begin(nc: NatsConnection): void {
    if (this.stopped || !this.mayConsume()) return;
    const generation = ++this.generation;
    this.retryTimer?.();
    const previous = this.messages;
    this.messages = undefined;
    const run = async (): Promise<void> => {
      await previous?.close().catch(() => undefined);
      await this.consume(nc, generation);
    };
    this.loop = run().then(
      () => this.ended(nc, generation, undefined),
      (error: unknown) => this.ended(nc, generation, error),
    );
  }

  private async consume(nc: NatsConnection, generation: number): Promise<void> {
    const { config } = this.ctx;
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, config.stream, config.subject_prefix);
    await ensureConsumer(jsm, config);
    const consumer = await jetstream(nc).consumers.get(config.stream.name, config.consumer.durable);
    if (this.lease) {
      // What the previous holder was handed and has not acknowledged comes back after ack_wait;
      // until it has, the watermark must not pass it.
      const info = await consumer.info();
      this.consumerInfo = () => consumer.info();
      const reached = info.delivered.stream_seq;
      this.frozenUntil = reached > Math.max(info.ack_floor.stream_seq, this.skipUpTo) ? reached : 0;
    }
    if (generation !== this.generation) return;
    const messages = await consumer.consume({ max_messages: config.consumer.batch, expires: pullExpiresMs(config) });
    this.messages = messages;
    this.running = true;
    this.consuming = true;
    this.lastError = null;
    this.retry.reset();
    this.watchLag(consumer, generation);
    this.watchConsumer(nc, messages, generation);
    this.ctx.logger.info({ stream: config.stream.name, durable: config.consumer.durable, batch: config.consumer.batch }, `aggregator consuming ${config.stream.name} through durable consumer ${config.consumer.durable}`);
    for await (const m of messages) {
      await this.take(m);
      if (generation !== this.generation) break;
    }
  }

  /** One message: into the inbox, acknowledged once processed, terminated when invalid. */
  private async take(m: JsMsg): Promise<void> {
    this.counters.delivered++;
    if (m.info.deliveryCount > 1) this.counters.redelivered++;
    this.lag = m.info.pending;
    if (this.lease) {
      if (m.seq <= this.skipUpTo) {
        this.counters.skipped_watermark++;
        m.ack();
        return;
      }
      if (m.seq > this.highestDelivered) {
        this.highestDelivered = m.seq;
        this.unfinished.push(m.seq);
      }
    }
    const { config, agentId } = this.ctx;
    const subject = parseSubject(config.subject_prefix, m.subject);
    // An agent running both roles reads its own events back: they are on its bus already.
    if (subject && (subject.agentId === agentId || !this.takes(subject.type))) {
      this.counters.skipped++;
      this.done(m, () => m.ack());
      return;
    }
    const receipt = await this.inbox.receive(m.data, subject?.agentId ?? '', { subject: m.subject, stream_seq: m.seq, delivery_count: m.info.deliveryCount });
    if (receipt.status === 'rejected') {
      this.counters.terminated++;
      // No reason text: nats-server 2.9 does not parse `+TERM <reason>` and would leave the message pending.
      this.done(m, () => m.term());
      return;
    }
    const acked = receipt.processed.then(
      () => {
        this.counters.acked++;
        this.done(m, () => m.ack());
      },
      (error: unknown) => {
        // Not stored, so not processed: the server redelivers it after ack_wait.
        this.counters.not_acked++;
        this.ctx.logger.warn({ err: errorMessage(error), stream_seq: m.seq }, `fleet event not acknowledged (${errorMessage(error)}); it will be redelivered`);
      },
    );
    this.inFlight.add(acked);
    void acked.finally(() => this.inFlight.delete(acked));
  }

  /**
   * A message is processed. Without a lease it is acknowledged now; with one, after the watermark
   * covering it is written, so a holder that dies with its acks unsent leaves the next one a
   * watermark that already tells them apart from what it never processed.
   */
  private done(m: JsMsg, settle: () => void): void {
    if (!this.lease) {
      settle();
      return;
    }
    // Only what can still be in the queue: a redelivery below its head would stay in the set for ever.
    const head = this.unfinished[0];
    if (head !== undefined && m.seq >= head) this.finished.add(m.seq);
    this.settle.push(settle);
    void this.flush();
  }

  private async flush(): Promise<void> {
    if (this.flushing || !this.lease) return;
    this.flushing = true;
    try {
      do {
        // One store commit settles all its events at once, each through a few promise reactions;
        // the first one lands here. A tick (after every pending reaction, before any I/O) lets the
        // others land too, so this watermark write covers the whole commit instead of leaving the
        // rest for the next write, a KV round trip later: that round trip is the window in which a
        // SIGKILL makes the next holder process committed events again.
        await nextTick();
        const batch = this.settle.splice(0);
        while (this.unfinished.length > 0 && this.finished.has(this.unfinished[0] as number)) {
          this.unwritten = this.unfinished.shift() as number;
          this.finished.delete(this.unwritten);
        }
        if (this.unwritten > 0) {
          if (await this.watermarkMayMove()) {
            const seq = this.unwritten;
            this.unwritten = 0;
            await this.lease.advance(seq);
          } else {
            this.retryWatermark();
          }
        }
        // Acknowledged even when the watermark could not be written: an ack that arrives only helps.
        for (const s of batch) s();
      } while (this.settle.length > 0);
    } finally {
      this.flushing = false;
    }
  }

  /**
   * Whether the watermark may pass messages the previous holder was handed. Until its last pull
   * expired (`holdUntil`) it may still be handed more, which this holder never sees; after that,
   * not before the server's ack floor has passed everything delivered by then (`frozenUntil`):
   * each of those was processed by one of the two, or is redelivered here first.
   */
  private async watermarkMayMove(): Promise<boolean> {
    if (this.holdUntil > 0) {
      if (this.ctx.clock.now() < this.holdUntil) return false;
      const info = await this.consumerInfo?.().catch(() => undefined);
      if (!info) return false;
      this.holdUntil = 0;
      if (info.delivered.stream_seq > info.ack_floor.stream_seq) this.frozenUntil = Math.max(this.frozenUntil, info.delivered.stream_seq);
    }
    if (this.frozenUntil > 0) {
      const floor = await this.consumerInfo?.().then((i) => i.ack_floor.stream_seq, () => 0);
      if ((floor ?? 0) >= this.frozenUntil) this.frozenUntil = 0;
    }
    return this.frozenUntil === 0;
  }

  /** A watermark held back is written later even when no new event comes to trigger it. */
  private retryWatermark(): void {
    this.watermarkTimer?.();
    this.watermarkTimer = this.ctx.clock.setTimeout(() => {
      this.watermarkTimer = undefined;
      if (!this.stopped) void this.flush();
    }, WATERMARK_RETRY_MS);
  }

  private ended(nc: NatsConnection, generation: number, error: unknown): void {
    if (generation !== this.generation || this.stopped) return;
    this.running = false;
    this.consuming = false;
    this.lagTimer?.();
    if (isAgentError(error, 'BUS_CLOSED')) return;
    if (nc.isClosed()) return; // the link connects again and calls connected()
    const message = error === undefined ? 'the consumer stopped delivering' : errorMessage(error);
    const first = this.lastError === null;
    this.lastError = message;
    const delayMs = this.retry.next();
    if (first) {
      const code = isAgentError(error, 'NATS_CONSUMER_MISMATCH') || isAgentError(error, 'NATS_STREAM_MISMATCH') || isAgentError(error, 'NATS_STREAM_MISSING') ? (error as AgentError).code : 'NATS_CONSUME_FAILED';
      this.ctx.report('error', code as 'NATS_CONSUME_FAILED', `aggregator cannot consume ${this.ctx.config.stream.name}/${this.ctx.config.consumer.durable}: ${message}; retrying with backoff`, { stream: this.ctx.config.stream.name, durable: this.ctx.config.consumer.durable });
    } else {
      this.ctx.logger.debug({ err: message, delay_ms: delayMs }, 'aggregator consume failed again');
    }
    this.retryTimer = this.ctx.clock.setTimeout(() => {
      this.retryTimer = undefined;
      if (!nc.isClosed() && this.mayConsume()) this.begin(nc);
    }, delayMs);
  }

  /**
   * The client waits for a deleted consumer (or stream) to come back; the aggregator makes it come
   * back: it starts over, which creates the consumer again (from the stream's first message: what
   * was acknowledged before is answered from the seen ids, not processed again).
   */
  private watchConsumer(nc: NatsConnection, messages: ConsumerMessages, generation: number): void {
    void (async () => {
      for await (const s of messages.status()) {
        if (generation !== this.generation || this.stopped) return;
        if (s.type === 'consumer_deleted' || s.type === 'consumer_not_found' || s.type === 'stream_not_found') {
          this.ctx.logger.warn({ notification: s.type }, `aggregator: ${s.type.replace(/_/g, ' ')}; starting over`);
          this.consuming = false;
          this.ctx.clock.setTimeout(() => {
            if (generation === this.generation && !this.stopped && !nc.isClosed()) this.begin(nc);
          }, this.retry.next());
          return;
        }
      }
    })().catch(() => undefined);
  }

  private watchLag(consumer: { info(cached?: boolean): Promise<{ num_pending: number; num_ack_pending: number }> }, generation: number): void {
    this.lagTimer?.();
    const look = (): void => {
      consumer.info().then(
        (info) => {
          this.lag = info.num_pending;
          this.ackPending = info.num_ack_pending;
        },
        () => undefined,
      );
      this.lagTimer = this.ctx.clock.setTimeout(() => {
        if (generation === this.generation && !this.stopped) look();
      }, LAG_REFRESH_MS);
    };
    look();
  }
}

function isAgentError(error: unknown, code: string): boolean {
  return error instanceof AgentError && error.code === code;
}

/** Resolves once the microtask queue is empty, before the event loop reads any I/O. */
function nextTick(): Promise<void> {
  return new Promise((resolve) => process.nextTick(resolve));
}
