import { Backoff, retry, type RetryInfo } from './backoff';
import { FakeClock } from './clock';

describe('Backoff', () => {
  it('starts at initialMs, multiplies by factor (default 2) and caps at maxMs', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(b.attempts).toBe(6);
    const tripled = new Backoff({ initialMs: 10, maxMs: 100, factor: 3 });
    expect([tripled.next(), tripled.next(), tripled.next()]).toEqual([10, 30, 90]);
  });

  it('starts over after reset()', () => {
    const b = new Backoff({ initialMs: 50, maxMs: 10_000 });
    b.next();
    b.next();
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(50);
  });

  it('caps even the first delay when maxMs is below initialMs', () => {
    const b = new Backoff({ initialMs: 5000, maxMs: 1000 });
    expect([b.next(), b.next()]).toEqual([1000, 1000]);
  });

  it('draws jittered delays from [delay * (1 - jitter), delay]', () => {
    const highest = new Backoff({ initialMs: 1000, maxMs: 8000, jitter: 0.5 }, () => 0);
    expect([highest.next(), highest.next()]).toEqual([1000, 2000]);
    const lowest = new Backoff({ initialMs: 1000, maxMs: 8000, jitter: 0.5 }, () => 0.999_999);
    const [first, second] = [lowest.next(), lowest.next()];
    expect(first).toBeGreaterThan(500);
    expect(first).toBeLessThan(501);
    expect(second).toBeGreaterThan(1000);
    expect(second).toBeLessThan(1001);
  });

  it.each([
    [{ initialMs: 0, maxMs: 10 }, /initialMs/],
    [{ initialMs: Number.NaN, maxMs: 10 }, /initialMs/],
    [{ initialMs: 10, maxMs: 0 }, /maxMs/],
    [{ initialMs: 10, maxMs: Infinity }, /maxMs/],
    [{ initialMs: 10, maxMs: 100, factor: 0.5 }, /factor/],
    [{ initialMs: 10, maxMs: 100, jitter: 1.5 }, /jitter/],
    [{ initialMs: 10, maxMs: 100, jitter: -0.1 }, /jitter/],
  ])('rejects bad options %#', (options, message) => {
    expect(() => new Backoff(options)).toThrow(RangeError);
    expect(() => new Backoff(options)).toThrow(message);
  });
});

describe('retry', () => {
  /** A function that fails `failures` times, then resolves with the attempt number. */
  function flaky(failures: number): { fn: (attempt: number) => Promise<number>; calls: number[] } {
    const calls: number[] = [];
    return {
      calls,
      fn: (attempt) => {
        calls.push(attempt);
        return attempt <= failures ? Promise.reject(new Error(`failure ${attempt}`)) : Promise.resolve(attempt);
      },
    };
  }

  it('waits the backoff delays on the injected clock between attempts', async () => {
    const clock = new FakeClock();
    const { fn, calls } = flaky(2);
    const retries: RetryInfo[] = [];
    let result: number | undefined;
    const done = retry(fn, { clock, attempts: 5, initialMs: 100, maxMs: 1000, onRetry: (info) => retries.push(info) }).then((r) => (result = r));

    await clock.advance(0);
    expect(calls).toEqual([1]);
    await clock.advance(99);
    expect(calls).toEqual([1]); // not before the delay
    await clock.advance(1);
    expect(calls).toEqual([1, 2]);
    await clock.advance(199);
    expect(calls).toEqual([1, 2]);
    await clock.advance(1);
    await done;
    expect(calls).toEqual([1, 2, 3]);
    expect(result).toBe(3);
    expect(retries.map(({ attempt, delayMs }) => ({ attempt, delayMs }))).toEqual([
      { attempt: 1, delayMs: 100 },
      { attempt: 2, delayMs: 200 },
    ]);
    expect((retries[0].error as Error).message).toBe('failure 1');
    expect(clock.pending).toBe(0);
  });

  it('rejects with the last error after the last attempt', async () => {
    const clock = new FakeClock();
    const { fn, calls } = flaky(Infinity);
    const outcome = retry(fn, { clock, attempts: 3, initialMs: 10, maxMs: 10 }).catch((e: Error) => e);
    for (let i = 0; i < 5; i++) await clock.advance(10);
    expect(await outcome).toEqual(new Error('failure 3'));
    expect(calls).toEqual([1, 2, 3]);
  });

  it('gives up at once on an error retryIf refuses', async () => {
    const clock = new FakeClock();
    const { fn, calls } = flaky(Infinity);
    const outcome = retry(fn, { clock, attempts: 5, initialMs: 10, maxMs: 10, retryIf: (_e, attempt) => attempt < 2 }).catch((e: Error) => e);
    for (let i = 0; i < 5; i++) await clock.advance(10);
    expect(await outcome).toEqual(new Error('failure 2'));
    expect(calls).toEqual([1, 2]);
    expect(clock.pending).toBe(0);
  });

  it('ignores an onRetry that throws', async () => {
    const clock = new FakeClock();
    const done = retry(flaky(1).fn, {
      clock,
      attempts: 2,
      initialMs: 10,
      maxMs: 10,
      onRetry: () => {
        throw new Error('hook');
      },
    });
    await clock.advance(0);
    await clock.advance(10);
    await expect(done).resolves.toBe(2);
  });

  it('stops waiting when aborted, cancels its timer, and rejects with the reason', async () => {
    const clock = new FakeClock();
    const { fn, calls } = flaky(Infinity);
    const controller = new AbortController();
    const outcome = retry(fn, { clock, attempts: 10, initialMs: 1000, maxMs: 1000, signal: controller.signal }).catch((e: unknown) => e);
    await clock.advance(0);
    expect(clock.pending).toBe(1);
    controller.abort(new Error('plugin stopping'));
    expect(await outcome).toEqual(new Error('plugin stopping'));
    expect(clock.pending).toBe(0);
    await clock.advance(5000);
    expect(calls).toEqual([1]);
  });

  it('does not start when already aborted, and checks its options', async () => {
    const clock = new FakeClock();
    const { fn, calls } = flaky(0);
    await expect(retry(fn, { clock, attempts: 3, initialMs: 10, maxMs: 10, signal: AbortSignal.abort(new Error('gone')) })).rejects.toThrow('gone');
    expect(calls).toEqual([]);
    await expect(retry(fn, { clock, attempts: 0, initialMs: 10, maxMs: 10 })).rejects.toThrow(RangeError);
    await expect(retry(fn, { clock, attempts: 2, initialMs: -1, maxMs: 10 })).rejects.toThrow(/initialMs/);
  });
});
