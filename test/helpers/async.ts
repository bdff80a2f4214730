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
