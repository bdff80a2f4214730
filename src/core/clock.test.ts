import { FakeClock, SystemClock } from './clock';

const START = Date.UTC(2026, 0, 1);

describe('FakeClock', () => {
  it('starts at 2026-01-01T00:00:00Z by default, or at the given time', () => {
    expect(new FakeClock().now()).toBe(START);
    expect(new FakeClock().isoNow()).toBe('2026-01-01T00:00:00.000Z');
    expect(new FakeClock(1_000).now()).toBe(1_000);
    expect(new FakeClock(new Date('2030-05-06T07:08:09.010Z')).isoNow()).toBe('2030-05-06T07:08:09.010Z');
  });

  it('only moves when advanced', async () => {
    const clock = new FakeClock();
    expect(clock.now()).toBe(START);
    await clock.advance(1_500);
    expect(clock.now()).toBe(START + 1_500);
    expect(clock.isoNow()).toBe('2026-01-01T00:00:01.500Z');
  });

  it('fires due timers in time order, then creation order, at their own time', async () => {
    const clock = new FakeClock();
    const fired: string[] = [];
    const at = (label: string) => () => fired.push(`${label}@${clock.now() - START}`);
    clock.setTimeout(at('c'), 300);
    clock.setTimeout(at('a'), 100);
    clock.setTimeout(at('b1'), 200);
    clock.setTimeout(at('b2'), 200);
    clock.setTimeout(at('late'), 1_000);
    expect(clock.pending).toBe(5);

    await clock.advance(299);
    expect(fired).toEqual(['a@100', 'b1@200', 'b2@200']);
    expect(clock.now()).toBe(START + 299);
    expect(clock.pending).toBe(2);

    await clock.advance(1);
    expect(fired).toEqual(['a@100', 'b1@200', 'b2@200', 'c@300']);
    await clock.advance(10_000);
    expect(fired).toEqual(['a@100', 'b1@200', 'b2@200', 'c@300', 'late@1000']);
    expect(clock.pending).toBe(0);
  });

  it('never fires a timer synchronously, even with 0 or negative delays', async () => {
    const clock = new FakeClock();
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(1), 0);
    clock.setTimeout(() => fired.push(2), -50);
    expect(fired).toEqual([]);
    await clock.advance(0);
    expect(fired).toEqual([1, 2]);
    expect(clock.now()).toBe(START);
  });

  it('fires timers scheduled by a timer within the same advance when due', async () => {
    const clock = new FakeClock();
    const fired: number[] = [];
    clock.setTimeout(() => {
      fired.push(clock.now() - START);
      clock.setTimeout(() => fired.push(clock.now() - START), 50);
      clock.setTimeout(() => fired.push(clock.now() - START), 500);
    }, 100);
    await clock.advance(200);
    expect(fired).toEqual([100, 150]);
    await clock.advance(400);
    expect(fired).toEqual([100, 150, 600]);
  });

  it('cancels timers; cancelling twice or after firing is harmless', async () => {
    const clock = new FakeClock();
    const fired: string[] = [];
    const cancelA = clock.setTimeout(() => fired.push('a'), 100);
    const cancelB = clock.setTimeout(() => fired.push('b'), 100);
    clock.setTimeout(() => fired.push('c'), 100);
    cancelA();
    cancelA();
    expect(clock.pending).toBe(2);
    await clock.advance(100);
    expect(fired).toEqual(['b', 'c']);
    cancelB();
    expect(clock.pending).toBe(0);
  });

  it('lets a timer cancel a later one', async () => {
    const clock = new FakeClock();
    const fired: string[] = [];
    const cancelLater = clock.setTimeout(() => fired.push('later'), 200);
    clock.setTimeout(() => {
      fired.push('first');
      cancelLater();
    }, 100);
    await clock.advance(1_000);
    expect(fired).toEqual(['first']);
  });

  it('resolves sleep() only when time reaches it', async () => {
    const clock = new FakeClock();
    let woke = false;
    const sleeping = clock.sleep(1_000).then(() => {
      woke = true;
    });
    await clock.advance(999);
    expect(woke).toBe(false);
    await clock.advance(1);
    expect(woke).toBe(true);
    await sleeping;
  });

  it('runs promise continuations of each timer before the next timer fires', async () => {
    const clock = new FakeClock();
    const steps: string[] = [];
    const worker = (async () => {
      await clock.sleep(10);
      steps.push(`woke@${clock.now() - START}`);
      await clock.sleep(10);
      steps.push(`woke@${clock.now() - START}`);
    })();
    clock.setTimeout(() => steps.push('timer@15'), 15);
    await clock.advance(100);
    await worker;
    expect(steps).toEqual(['woke@10', 'timer@15', 'woke@20']);
  });
});

describe('SystemClock', () => {
  it('reads wall-clock time and formats it as ISO UTC', () => {
    const clock = new SystemClock();
    const before = Date.now();
    const now = clock.now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(clock.isoNow()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('runs and cancels real timers', async () => {
    const clock = new SystemClock();
    let cancelledRan = false;
    clock.setTimeout(() => {
      cancelledRan = true;
    }, 0)();
    await new Promise<void>((resolve) => clock.setTimeout(resolve, 0));
    // setTimeout(0) timers run in creation order: the cancelled one would have run by now.
    expect(cancelledRan).toBe(false);
  });
});
