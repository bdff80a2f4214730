/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** What is awaited, for the error message ("the file written"). */
  what: string;
  /** Give up after this long (real time); default 10 000 ms. Generous: it bounds a failure, it is not an assertion. */
  timeoutMs?: number;
}

/** Checks made on event-loop turns (setImmediate) before falling back to short timers. */
const IMMEDIATE_TURNS = 100;
const POLL_MS = 5;

/**
 * Resolves once `condition()` holds; rejects with `never happened: <what>` after `timeoutMs`.
 * The one wait-for-condition helper of the tests (plugins import it from 'praxis-agent/testing').
 *
 * It checks at once, then on the next event-loop turns (setImmediate: in-process work such as
 * bus deliveries completes within a few, without any wall-clock wait), then every few
 * milliseconds (real I/O: sockets, files, child processes). Tests never assert on how long it
 * took; with a FakeClock, advance the clock instead of waiting for it.
 */
export async function waitFor(condition: () => boolean, options: WaitForOptions): Promise<void> {
  const { what, timeoutMs = 10_000 } = options;
  const deadline = Date.now() + timeoutMs;
  for (let turn = 0; !condition(); turn++) {
    if (Date.now() > deadline) throw new Error(`never happened (within ${timeoutMs} ms): ${what}`);
    await new Promise((resolve) => (turn < IMMEDIATE_TURNS ? setImmediate(resolve) : setTimeout(resolve, POLL_MS)));
  }
}
