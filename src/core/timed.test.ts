import { FakeClock } from './clock';
import { isTimeoutError, runOnce, settledWithin, TimeoutError, withTimeout } from './timed';

describe('withTimeout', () => {
  it('resolves with the work when it finishes first and leaves no timer behind', async () => {
    const clock = new FakeClock();
    const result = withTimeout(clock, Promise.resolve(7), 100);
    await expect(result).resolves.toBe(7);
    expect(clock.pending).toBe(0);
  });

  it('passes the work\'s rejection through', async () => {
    const clock = new FakeClock();
    await expect(withTimeout(clock, Promise.reject(new Error('boom')), 100)).rejects.toThrow('boom');
    expect(clock.pending).toBe(0);
  });

  it('rejects with TimeoutError on the clock\'s time, and runs onTimeout once', async () => {
    const clock = new FakeClock();
    const onTimeout = jest.fn();
    let settle!: (v: number) => void;
    const work = new Promise<number>((resolve) => (settle = resolve));
    const result = withTimeout(clock, work, 100, onTimeout);
    const seen = result.catch((e: unknown) => e);
    await clock.advance(99);
    expect(onTimeout).not.toHaveBeenCalled();
    await clock.advance(1);
    const error = await seen;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(isTimeoutError(error)).toBe(true);
    expect((error as TimeoutError).ms).toBe(100);
    settle(1); // a late result changes nothing
    await Promise.resolve();
    expect(onTimeout).toHaveBeenCalledTimes(1);
  });
});

describe('settledWithin', () => {
  it('is true when the work settles in time, even by rejecting, and false when the time runs out', async () => {
    const clock = new FakeClock();
    await expect(settledWithin(clock, Promise.resolve(), 10)).resolves.toBe(true);
    await expect(settledWithin(clock, Promise.reject(new Error('x')), 10)).resolves.toBe(true);
    const never = settledWithin(clock, new Promise(() => undefined), 10);
    await clock.advance(10);
    await expect(never).resolves.toBe(false);
  });
});

describe('runOnce', () => {
  it('calls the function once and returns its first result every time', async () => {
    const fn = jest.fn(async () => ({ n: 1 }));
    const once = runOnce(fn);
    expect(once.called).toBe(false);
    const a = once();
    const b = once();
    expect(a).toBe(b);
    expect(once.called).toBe(true);
    await expect(a).resolves.toEqual({ n: 1 });
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('remembers a throw: later calls throw the same error without calling again', () => {
    const fn = jest.fn(() => {
      throw new Error('first');
    });
    const once = runOnce(fn);
    expect(() => once()).toThrow('first');
    expect(once.called).toBe(true);
    expect(() => once()).toThrow('first');
    expect(fn).toHaveBeenCalledTimes(1);
  });
});
