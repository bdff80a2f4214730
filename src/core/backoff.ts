import type { Clock } from './clock';

/** How the wait between attempts grows; see {@link Backoff}. */
export interface BackoffOptions {
  /** The first delay, in milliseconds (> 0). */
  initialMs: number;
  /** No delay is longer than this (>= 1; below `initialMs` it caps every delay, the first included). */
  maxMs: number;
  /** Each delay is the previous one times this (>= 1). Default 2. */
  factor?: number;
  /**
   * Randomness, as a fraction of the delay (0 to 1): each delay is drawn uniformly from
   * `[delay * (1 - jitter), delay]`, so clients that failed together do not retry together.
   * Default 0: delays are exact (what FakeClock tests want).
   */
  jitter?: number;
}

/**
 * THE retry/backoff policy of praxis-agent (the house rule: one retry/backoff helper): capped
 * exponential backoff with optional jitter. It only computes delays; waiting is the caller's,
 * always on the injected {@link Clock} (`clock.setTimeout(retry, backoff.next())`), so a
 * FakeClock drives it in tests. {@link retry} wraps the common loop around a promise.
 *
 * Contract:
 * - `next()` returns the delay before the next attempt: `initialMs`, then times `factor` each
 *   call, never above `maxMs` (and, with jitter, never below `(1 - jitter)` of that).
 * - `reset()` after a success (the end of a failure episode): the next `next()` is `initialMs` again.
 * - `attempts` counts the `next()` calls since the last reset.
 * - The options are checked at construction (RangeError), not at the first failure.
 */
export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  private current = 0;
  private count = 0;

  /** @param random a source of numbers in [0, 1), for jitter; default Math.random. */
  constructor(
    options: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {
    const { initialMs, maxMs, factor = 2, jitter = 0 } = options;
    if (!(initialMs > 0) || !Number.isFinite(initialMs)) throw new RangeError(`backoff initialMs must be a positive number of milliseconds, got ${initialMs}`);
    if (!(maxMs >= 1) || !Number.isFinite(maxMs)) throw new RangeError(`backoff maxMs must be at least 1 millisecond, got ${maxMs}`);
    if (!(factor >= 1) || !Number.isFinite(factor)) throw new RangeError(`backoff factor must be at least 1, got ${factor}`);
    if (!(jitter >= 0 && jitter <= 1)) throw new RangeError(`backoff jitter must be between 0 and 1, got ${jitter}`);
    this.initialMs = initialMs;
    this.maxMs = maxMs;
    this.factor = factor;
    this.jitter = jitter;
  }

  /** Attempts since the last {@link reset} (the number of `next()` calls). */
  get attempts(): number {
    return this.count;
  }

  /** The delay, in milliseconds, to wait before the next attempt; grows with every call. */
  next(): number {
    this.current = this.count === 0 ? this.initialMs : this.current * this.factor;
    this.current = Math.min(this.current, this.maxMs);
    this.count++;
    if (this.jitter === 0) return this.current;
    return this.current * (1 - this.jitter * this.random());
  }

  /** Starts over: the next delay is `initialMs`. Call it when an attempt succeeds. */
  reset(): void {
    this.current = 0;
    this.count = 0;
  }
}

/** What {@link retry} tells `onRetry` before each wait. */
export interface RetryInfo {
  /** The attempt that failed (1-based). */
  attempt: number;
  error: unknown;
  /** How long it waits before the next attempt. */
  delayMs: number;
}

/** Options of {@link retry}: the backoff, plus when to give up and which errors to retry. */
export interface RetryOptions extends BackoffOptions {
  /** The clock to wait on: inject `Clock`, so FakeClock drives the retries in tests. */
  clock: Clock;
  /** Attempts in all, the first included (>= 1). */
  attempts: number;
  /** Whether this error is worth another attempt; default: every error is. */
  retryIf?: (error: unknown, attempt: number) => boolean;
  /** Called before each wait (for logging or counting); an exception from it is ignored. */
  onRetry?: (info: RetryInfo) => void;
  /** Aborting stops waiting at once: the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** A source of numbers in [0, 1), for jitter; default Math.random. */
  random?: () => number;
}

/**
 * Calls `fn` until it resolves, waiting {@link Backoff} delays on `clock` between attempts.
 * Rejects with the last error after `attempts` attempts, or at once when `retryIf` says no;
 * with `signal.reason` when aborted (before an attempt or while waiting). Each wait is scheduled
 * once the failed attempt has settled: a FakeClock test advances in steps (`advance(0)`, then the
 * delays), not in one jump past a timer that does not exist yet.
 *
 * ```ts
 * await retry(() => post(webhook, body), { clock: this.clock, attempts: 5, initialMs: 500, maxMs: 30_000, jitter: 0.2, signal });
 * ```
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const { clock, attempts, retryIf = () => true, onRetry, signal } = options;
  if (!Number.isInteger(attempts) || attempts < 1) throw new RangeError(`retry attempts must be a whole number >= 1, got ${attempts}`);
  const backoff = new Backoff(options, options.random);
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= attempts || !retryIf(error, attempt)) throw error;
      const delayMs = backoff.next();
      try {
        onRetry?.({ attempt, error, delayMs });
      } catch {
        // a logging hook must not change what is retried
      }
      await wait(clock, delayMs, signal);
    }
  }
}

function wait(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      cancel();
      reject(signal?.reason);
    };
    const cancel = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
