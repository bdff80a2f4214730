import { Backoff, type BackoffOptions } from '../core/backoff';
import type { CancelTimer, Clock } from '../core/clock';
import { errorMessage } from '../core/errors';
import { withTimeout } from '../core/timed';
import type { Notification, SinkResult } from './notification';
import type { Notifier } from './notifier';

/**
 * Hands each notification to the sinks of its receiver and tries again until it is delivered, it
 * failed for good, or `maxAgeMs` passed. In memory: a notification still being tried when the agent
 * stops is lost (counted in {@link Delivery.stop}'s answer); the durable outbox replaces this
 * class behind the same interface. Time is the injected clock, so tests drive retries with FakeClock.
 */

/** What happened to one attempt: reported for every attempt, in order per (notification, sink). */
export interface AttemptReport {
  /** The notification's id (the engine's `alert.notified` event names it too). */
  id: string;
  notification: Notification;
  sink: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** `expired`: it was still failing when `maxAgeMs` passed (its last failure is `reason`). */
  outcome: 'delivered' | 'retry' | 'permanent' | 'expired';
  reason?: string;
  /** With `retry`: when the next attempt is. */
  retryInMs?: number;
}

export interface DeliveryOptions {
  clock: Clock;
  /** The sink's notifier now; undefined while the plugin is not running (the attempt is retried). */
  notifier: (sink: string) => Notifier | undefined;
  onAttempt: (report: AttemptReport) => void;
  /** One attempt's limit (default 30 s): its signal is aborted and it counts as a retry. */
  timeoutMs?: number;
  /** How long a notification is tried (default 1 h). */
  maxAgeMs?: number;
  /** Waits between attempts when the sink names none (default 1 s doubling to 5 min, 20 % jitter). */
  backoff?: BackoffOptions;
  random?: () => number;
}

interface Job {
  readonly id: string;
  readonly notification: Notification;
  readonly sink: string;
  readonly firstAt: number;
  readonly backoff: Backoff;
  attempt: number;
  timer?: CancelTimer;
  controller?: AbortController;
}

/** Counters per sink, for /stats and /metrics. */
export interface SinkCounters {
  attempts: number;
  delivered: number;
  retried: number;
  failed: number;
}

export const DEFAULT_DELIVERY_TIMEOUT_MS = 30_000;
export const DEFAULT_DELIVERY_MAX_AGE_MS = 3_600_000;
const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 300_000, jitter: 0.2 };

/** See the module comment. */
export class Delivery {
  private readonly jobs = new Set<Job>();
  private readonly counters = new Map<string, SinkCounters>();
  private stopped = false;

  constructor(private readonly options: DeliveryOptions) {}

  /** Starts delivering one notification to each sink; the first attempts begin after the caller's synchronous work. */
  enqueue(id: string, notification: Notification, sinks: readonly string[]): void {
    if (this.stopped) return;
    for (const sink of sinks) {
      const job: Job = { id, notification, sink, firstAt: this.options.clock.now(), backoff: new Backoff(this.options.backoff ?? DEFAULT_BACKOFF, this.options.random), attempt: 0 };
      this.jobs.add(job);
      // The engine records the notification as sent (and persists that) right after enqueue returns.
      job.timer = this.options.clock.setTimeout(() => void this.attempt(job), 0);
    }
  }

  /** Notifications (per sink) still being tried. */
  get pending(): number {
    return this.jobs.size;
  }

  stats(): Record<string, SinkCounters> {
    return Object.fromEntries([...this.counters].map(([sink, c]) => [sink, { ...c }]));
  }

  /** Stops trying: cancels waits, aborts attempts in flight; answers how many deliveries were given up. */
  stop(): number {
    this.stopped = true;
    const lost = this.jobs.size;
    for (const job of this.jobs) {
      job.timer?.();
      job.controller?.abort(new Error('the agent is stopping'));
    }
    this.jobs.clear();
    return lost;
  }

  private count(sink: string): SinkCounters {
    let c = this.counters.get(sink);
    if (!c) this.counters.set(sink, (c = { attempts: 0, delivered: 0, retried: 0, failed: 0 }));
    return c;
  }

  private async attempt(job: Job): Promise<void> {
    job.timer = undefined;
    job.attempt++;
    const { clock } = this.options;
    const notifier = this.options.notifier(job.sink);
    let result: SinkResult;
    if (!notifier) {
      result = { outcome: 'retry', afterMs: 0, reason: `sink ${job.sink} is not running` };
    } else {
      const controller = new AbortController();
      job.controller = controller;
      const timeoutMs = this.options.timeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS;
      try {
        result = await withTimeout(clock, Promise.resolve().then(() => notifier.send(job.notification, controller.signal)), timeoutMs, () => controller.abort(new Error('delivery attempt timed out')));
        if (!isSinkResult(result)) result = { outcome: 'permanent', reason: `sink ${job.sink} answered ${JSON.stringify(result)}, not a SinkResult` };
      } catch (error) {
        result = { outcome: 'retry', afterMs: 0, reason: controller.signal.aborted ? `timed out after ${timeoutMs} ms` : errorMessage(error) };
      }
      job.controller = undefined;
    }
    if (!this.jobs.has(job)) return; // stopped meanwhile
    const counters = this.count(job.sink);
    counters.attempts++;
    const report = { id: job.id, notification: job.notification, sink: job.sink, attempt: job.attempt };
    if (result.outcome === 'delivered') {
      counters.delivered++;
      this.jobs.delete(job);
      this.options.onAttempt({ ...report, outcome: 'delivered' });
      return;
    }
    if (result.outcome === 'retry') {
      const wait = Math.max(result.afterMs, job.backoff.next());
      const maxAge = this.options.maxAgeMs ?? DEFAULT_DELIVERY_MAX_AGE_MS;
      if (clock.now() + wait <= job.firstAt + maxAge) {
        counters.retried++;
        job.timer = clock.setTimeout(() => void this.attempt(job), wait);
        this.options.onAttempt({ ...report, outcome: 'retry', reason: result.reason, retryInMs: Math.round(wait) });
        return;
      }
    }
    counters.failed++;
    this.jobs.delete(job);
    this.options.onAttempt({ ...report, outcome: result.outcome === 'retry' ? 'expired' : 'permanent', reason: result.reason });
  }
}

function isSinkResult(value: unknown): value is SinkResult {
  const r = value as SinkResult | undefined;
  if (r?.outcome === 'delivered') return true;
  if (r?.outcome === 'permanent') return typeof r.reason === 'string';
  return r?.outcome === 'retry' && Number.isFinite(r.afterMs) && r.afterMs >= 0 && typeof r.reason === 'string';
}
