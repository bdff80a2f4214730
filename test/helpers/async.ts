/** Promise plumbing for tests that control progress explicitly instead of sleeping. */

/** The one wait-for-condition helper, as plugin tests get it from 'praxis-agent/testing'. */
export { waitFor } from '../../src/testing/wait';

export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Lets queued work run for a few macrotask turns. */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Resolves with what `check` answers once it is neither undefined nor false (checked every 50 ms);
 * rejects after `timeoutMs` (real time: it bounds a failure, it is not an assertion). For checks
 * across processes (HTTP, NATS) that yield the value the test goes on with.
 */
export async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
