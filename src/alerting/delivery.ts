import { Backoff, type BackoffOptions } from '../core/backoff';
import type { CancelTimer, Clock } from '../core/clock';
import { AgentError, errorMessage } from '../core/errors';
import { withTimeout } from '../core/timed';
import type { Notification, SinkResult } from './notification';
import type { DeliverySettings, Notifier } from './notifier';
import type { OutboxRow, OutboxStore, OutboxUpdate } from './outbox-store';
import { TokenBucket } from './token-bucket';

/**
 * The delivery pipeline between the engine and the sinks, the one place that retries, rate-limits,
 * orders and records. Each (notification, sink) delivery is written to the outbox before its first
 * attempt and updated with every outcome, so a restart resumes what was pending and never sends
 * again what was delivered. Deliveries to one sink for one receiver go out in the order they were
 * decided: the next waits until the one before it is delivered or dead-lettered. A sink answers
 * `retry` (after the time it names, at least the backoff), `permanent` (dead-lettered at once) or
 * `delivered`; past the sink's `max_age` a failing delivery is dead-lettered as expired. Rate
 * limits are token buckets per sink and rate key; throttled deliveries wait, none is dropped.
 *
 * At least once: a sink that delivered but whose answer the agent did not record (killed in the
 * moment between) is sent that notification again after the restart.
 */

/** A sink's delivery settings as the pipeline applies them (its defaults, then its plugin entry's `delivery:`). */
export interface SinkSettings extends DeliverySettings {
  /** Whether resolved alerts go to this sink (Alertmanager's `send_resolved` per integration). */
  send_resolved: boolean;
}

export const DEFAULT_SINK_SETTINGS: SinkSettings = { timeout: 30_000, max_age: 3_600_000, send_resolved: true };

/** Error codes of the dead letters: their alerts never go to the sink they are about (no loops). */
export const DEAD_LETTER_CODES = { rejected: 'ALERT_DELIVERY_REJECTED', expired: 'ALERT_DELIVERY_EXPIRED' } as const;

/** What happened to one attempt: reported for every attempt, in order per delivery. */
export interface AttemptReport {
  delivery: OutboxRow;
  /** 1 for the first attempt. */
  attempt: number;
  /** `expired`: still failing when `max_age` passed (its last failure is `reason`). */
  outcome: 'delivered' | 'retry' | 'permanent' | 'expired';
  reason?: string;
  /** With `retry`: when the next attempt is. */
  retryInMs?: number;
}

export interface DeliveryOptions {
  clock: Clock;
  store: OutboxStore;
  /** The sink's notifier now; undefined while its plugin is not running (the attempt is retried). */
  notifier: (sink: string) => Notifier | undefined;
  settings: (sink: string) => SinkSettings;
  onAttempt: (report: AttemptReport) => void;
  /** A write to the outbox failed after the delivery was recorded (its outcome lives on in memory). */
  onStoreError?: (error: unknown) => void;
  /** Waits between attempts when the sink names none (default 1 s doubling to 5 min, 20 % jitter). */
  backoff?: BackoffOptions;
  random?: () => number;
}

/** Counters per sink, for /stats and /metrics. */
export interface SinkCounters {
  attempts: number;
  delivered: number;
  retried: number;
  dead_lettered: number;
  /** Deliveries waiting or being tried now. */
  pending: number;
  /** Age of the oldest pending delivery (ms); 0 when none. */
  oldest_pending_ms: number;
}

interface Queue {
  readonly receiver: string;
  readonly sink: string;
  readonly rows: OutboxRow[];
  readonly backoff: Backoff;
  busy: boolean;
  timer?: CancelTimer;
  controller?: AbortController;
}

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 300_000, jitter: 0.2 };
/** How long ended deliveries stay listed: delivered a day, dead-lettered a week. */
const RETENTION = { delivered: 86_400_000, dead: 7 * 86_400_000 };

/** See the module comment. */
export class Delivery {
  private readonly queues = new Map<string, Queue>();
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly counters = new Map<string, Omit<SinkCounters, 'pending' | 'oldest_pending_ms'>>();
  private running = false;
  private stopped = false;

  constructor(private readonly options: DeliveryOptions) {}

  /** Loads the pending deliveries from the outbox, in order, and starts sending (call once the sinks run). */
  start(): void {
    for (const row of this.options.store.list('pending')) this.queue(row.receiver, row.sink).rows.push(row);
    this.running = true;
    this.prune();
    for (const queue of this.queues.values()) this.kick(queue);
  }

  /**
   * Records one delivery per sink (a sink that takes no resolved alerts gets the notification
   * without them, or none) and starts them once earlier deliveries of the same queue are done.
   * @throws AgentError ALERTING_STATE_WRITE_FAILED when the outbox cannot record them: nothing was recorded.
   */
  enqueue(notificationId: string, notification: Notification, sinks: readonly string[]): OutboxRow[] {
    if (this.stopped) return [];
    const now = this.options.clock.now();
    const rows = sinks.flatMap((sink) => {
      const shaped = forSink(notification, sink, this.options.settings(sink));
      return shaped ? [{ notificationId, receiver: notification.receiver, sink, notification: shaped, createdAt: now }] : [];
    });
    if (rows.length === 0) return [];
    const stored = this.options.store.insert(rows);
    for (const row of stored) {
      const queue = this.queue(row.receiver, row.sink);
      queue.rows.push(row);
      this.kick(queue);
    }
    return stored;
  }

  /**
   * Sends a dead-lettered delivery again, as a new delivery would be (`max_age` from now), after the
   * pending ones of its queue.
   * @throws AgentError DELIVERY_NOT_FOUND, or DELIVERY_NOT_DEAD when it is pending or delivered.
   */
  retry(id: number): OutboxRow {
    const row = this.options.store.get(id);
    if (!row) throw new AgentError('DELIVERY_NOT_FOUND', `no delivery ${id} in the outbox (unknown, or delivered or dead-lettered longer ago than it is kept)`, { id });
    if (row.state !== 'dead') throw new AgentError('DELIVERY_NOT_DEAD', `delivery ${id} is ${row.state}, not dead-lettered: only dead letters can be retried`, { id, state: row.state });
    const now = this.options.clock.now();
    const update: OutboxUpdate = { state: 'pending', createdAt: now, nextAt: now, updatedAt: now };
    this.options.store.update(id, update);
    const revived: OutboxRow = { ...row, ...update };
    delete revived.lastReason;
    const queue = this.queue(row.receiver, row.sink);
    queue.rows.push(revived);
    this.kick(queue);
    return revived;
  }

  /** Deliveries in a state, oldest first. */
  list(state: OutboxRow['state'], limit?: number): OutboxRow[] {
    return this.options.store.list(state, limit);
  }

  /** Deliveries waiting or being tried. */
  get pending(): number {
    let count = 0;
    for (const queue of this.queues.values()) count += queue.rows.length;
    return count;
  }

  stats(): Record<string, SinkCounters> {
    const now = this.options.clock.now();
    const out: Record<string, SinkCounters> = {};
    const sinks = new Set([...this.counters.keys(), ...[...this.queues.values()].map((q) => q.sink)]);
    for (const sink of sinks) {
      const queues = [...this.queues.values()].filter((q) => q.sink === sink);
      const oldest = Math.min(...queues.flatMap((q) => q.rows.map((r) => r.createdAt)));
      out[sink] = { ...this.count(sink), pending: queues.reduce((n, q) => n + q.rows.length, 0), oldest_pending_ms: Number.isFinite(oldest) ? now - oldest : 0 };
    }
    return out;
  }

  /** Stops sending: cancels waits, aborts attempts in flight; pending deliveries stay in the outbox. Answers how many are pending. */
  stop(): number {
    this.stopped = true;
    for (const queue of this.queues.values()) {
      queue.timer?.();
      queue.timer = undefined;
      queue.controller?.abort(new Error('the agent is stopping'));
    }
    return this.pending;
  }

  private queue(receiver: string, sink: string): Queue {
    const key = `${receiver}\u0000${sink}`;
    let queue = this.queues.get(key);
    if (!queue) this.queues.set(key, (queue = { receiver, sink, rows: [], backoff: new Backoff(this.options.backoff ?? DEFAULT_BACKOFF, this.options.random), busy: false }));
    return queue;
  }

  private count(sink: string): Omit<SinkCounters, 'pending' | 'oldest_pending_ms'> {
    let c = this.counters.get(sink);
    if (!c) this.counters.set(sink, (c = { attempts: 0, delivered: 0, retried: 0, dead_lettered: 0 }));
    return c;
  }

  /** Starts the head of a queue when it is due and its rate limit allows; else waits for that. */
  private kick(queue: Queue): void {
    if (!this.running || this.stopped || queue.busy || queue.timer || queue.rows.length === 0) return;
    const { clock } = this.options;
    const row = queue.rows[0];
    const now = clock.now();
    const notifier = this.options.notifier(queue.sink);
    const wait = row.nextAt > now ? row.nextAt - now : this.throttle(queue.sink, notifier, row.notification, now);
    if (wait > 0) {
      queue.timer = clock.setTimeout(() => {
        queue.timer = undefined;
        this.kick(queue);
      }, wait);
      return;
    }
    queue.busy = true;
    void this.attempt(queue, row, notifier).finally(() => {
      queue.busy = false;
      this.kick(queue);
    });
  }

  /** 0 when a token was taken for this send, else how long until one is. */
  private throttle(sink: string, notifier: Notifier | undefined, notification: Notification, now: number): number {
    const limit = this.options.settings(sink).rate_limit;
    if (!limit || !notifier) return 0;
    let key = sink;
    try {
      key = `${sink}\u0000${notifier.rateKey?.(notification) ?? ''}`;
    } catch {
      // A sink whose rateKey throws shares one bucket per instance.
    }
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = new TokenBucket(limit.rate, limit.per, limit.burst, now)));
    return bucket.take(now);
  }

  private async attempt(queue: Queue, row: OutboxRow, notifier: Notifier | undefined): Promise<void> {
    const { clock } = this.options;
    const settings = this.options.settings(queue.sink);
    const attempt = row.attempts + 1;
    let result: SinkResult;
    if (!notifier) {
      result = { outcome: 'retry', afterMs: 0, reason: `sink ${queue.sink} is not running` };
    } else {
      const controller = new AbortController();
      queue.controller = controller;
      try {
        const sent = Promise.resolve().then(() => notifier.send(row.notification, controller.signal));
        result = await withTimeout(clock, sent, settings.timeout, () => controller.abort(new Error('delivery attempt timed out')));
        if (!isSinkResult(result)) result = { outcome: 'permanent', reason: `sink ${queue.sink} answered ${JSON.stringify(result)}, not a SinkResult` };
      } catch (error) {
        result = { outcome: 'retry', afterMs: 0, reason: controller.signal.aborted ? `no answer within ${settings.timeout} ms` : errorMessage(error) };
      }
      queue.controller = undefined;
    }
    if (this.stopped) return; // pending in the outbox: the next start resumes it
    const now = clock.now();
    const counters = this.count(queue.sink);
    counters.attempts++;
    let report: AttemptReport;
    if (result.outcome === 'delivered') {
      counters.delivered++;
      queue.backoff.reset();
      report = { delivery: this.record(row, { state: 'delivered', attempts: attempt, updatedAt: now }), attempt, outcome: 'delivered' };
      queue.rows.shift();
    } else {
      const wait = result.outcome === 'retry' ? Math.max(result.afterMs, queue.backoff.next()) : 0;
      if (result.outcome === 'retry' && now + wait <= row.createdAt + settings.max_age) {
        counters.retried++;
        queue.rows[0] = this.record(row, { attempts: attempt, nextAt: now + wait, lastReason: result.reason, updatedAt: now });
        report = { delivery: queue.rows[0], attempt, outcome: 'retry', reason: result.reason, retryInMs: Math.round(wait) };
      } else {
        counters.dead_lettered++;
        queue.backoff.reset();
        const outcome = result.outcome === 'retry' ? 'expired' : 'permanent';
        const lastReason = `${outcome === 'expired' ? 'expired' : 'rejected'}: ${result.reason}`;
        report = { delivery: this.record(row, { state: 'dead', attempts: attempt, lastReason, updatedAt: now }), attempt, outcome, reason: result.reason };
        queue.rows.shift();
      }
    }
    this.options.onAttempt(report);
  }

  /** Writes an outcome to the outbox; a failed write is reported and the pipeline goes on in memory. */
  private record(row: OutboxRow, update: OutboxUpdate): OutboxRow {
    try {
      this.options.store.update(row.id, update);
    } catch (error) {
      this.options.onStoreError?.(error);
    }
    return { ...row, ...update };
  }

  private prune(): void {
    const now = this.options.clock.now();
    try {
      this.options.store.prune({ delivered: now - RETENTION.delivered, dead: now - RETENTION.dead });
    } catch (error) {
      this.options.onStoreError?.(error);
    }
  }
}

/**
 * The notification as one sink gets it: without resolved alerts when the sink does not take them,
 * and without the dead letters about this very sink (a sink that cannot deliver must not be asked
 * to deliver the news of it). Undefined when nothing is left for it.
 */
function forSink(notification: Notification, sink: string, settings: SinkSettings): Notification | undefined {
  const deadLetterCodes: readonly string[] = Object.values(DEAD_LETTER_CODES);
  const alerts = notification.alerts.filter((a) => (settings.send_resolved || a.status === 'firing') && !(deadLetterCodes.includes(a.labels.alertname) && a.labels.sink === sink));
  if (alerts.length === 0) return undefined;
  if (alerts.length === notification.alerts.length) return notification;
  return { ...notification, alerts, status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved' };
}

function isSinkResult(value: unknown): value is SinkResult {
  const r = value as SinkResult | undefined;
  if (r?.outcome === 'delivered') return true;
  if (r?.outcome === 'permanent') return typeof r.reason === 'string';
  return r?.outcome === 'retry' && Number.isFinite(r.afterMs) && r.afterMs >= 0 && typeof r.reason === 'string';
}
