import type { Clock } from './clock';

/** What {@link withTimeout} rejects with when the time runs out first. */
export class TimeoutError extends Error {
  constructor(readonly ms: number) {
    super(`did not finish within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/** True when `err` is the {@link TimeoutError} of {@link withTimeout}. */
export function isTimeoutError(err: unknown): err is TimeoutError {
  return err instanceof TimeoutError;
}

/**
 * THE timed wait of praxis-agent: settles like `work`, or rejects with {@link TimeoutError} once
 * `ms` of `clock` time pass first (then `onTimeout` runs, e.g. to abort the work). The timer is
 * cancelled as soon as `work` settles, so nothing is left pending. `work` itself is not stopped by
 * the timeout: pass an `onTimeout` that aborts it when it must not go on.
 */
export function withTimeout<T>(clock: Clock, work: PromiseLike<T>, ms: number, onTimeout?: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const cancel = clock.setTimeout(() => {
      if (settled) return;
      settled = true;
      reject(new TimeoutError(ms));
      onTimeout?.();
    }, ms);
    Promise.resolve(work).then(
      (value) => {
        if (settled) return;
        settled = true;
        cancel();
        resolve(value);
      },
      (error: unknown) => {
        if (settled) return;
        settled = true;
        cancel();
        reject(error);
      },
    );
  });
}

/**
 * Waits for `work` for at most `ms`: resolves `true` if it settled in time (fulfilled or rejected;
 * the caller handles its outcome elsewhere), `false` if the time ran out. For "let it finish, but
 * not forever" waits that go on either way.
 */
export function settledWithin(clock: Clock, work: PromiseLike<unknown>, ms: number): Promise<boolean> {
  return withTimeout(clock, work, ms).then(
    () => true,
    (error: unknown) => !isTimeoutError(error),
  );
}

/**
 * THE run-once helper: a function that calls `fn` on its first call and returns that first
 * result (the same promise, for async work; the same error, if it threw) on every later call. Replaces `this.x ??= work()`
 * guards for idempotent start/stop/close.
 */
export function runOnce<T>(fn: () => T): (() => T) & { readonly called: boolean } {
  let called = false;
  let outcome: { value: T } | { error: unknown };
  const once = (): T => {
    if (!called) {
      called = true;
      try {
        outcome = { value: fn() };
      } catch (error) {
        outcome = { error };
      }
    }
    if ('error' in outcome) throw outcome.error;
    return outcome.value;
  };
  return Object.defineProperty(once, 'called', { get: () => called }) as (() => T) & { readonly called: boolean };
}
