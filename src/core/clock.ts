/** A timer handle returned by {@link Clock.setTimeout}; call it to cancel. */
export type CancelTimer = () => void;

/**
 * The one source of time for the core and for plugins. Inject `Clock` instead of calling
 * `Date.now()` or `setTimeout` so tests can swap in {@link FakeClock} and run schedules instantly.
 */
export abstract class Clock {
  constructor() {
    // tsyringe constructs an unregistered abstract class silently; fail at resolution instead of at first use.
    if (new.target === Clock) throw new TypeError('Clock is abstract: register SystemClock or FakeClock in the container');
  }

  /** Milliseconds since the Unix epoch. */
  abstract now(): number;
  /** Runs `fn` after `ms` milliseconds (never synchronously). */
  abstract setTimeout(fn: () => void, ms: number): CancelTimer;

  // The bus stamps every event with isoNow(); formatting a Date is most of a publish's cost, and at
  // bus rates (≈ 1000 events per millisecond) nearly every call repeats the previous millisecond.
  private isoMs = NaN;
  private isoText = '';

  /** Current time as an ISO 8601 UTC string, as event metadata writes it. */
  isoNow(): string {
    const ms = this.now();
    if (ms !== this.isoMs) {
      this.isoText = new Date(ms).toISOString();
      this.isoMs = ms;
    }
    return this.isoText;
  }

  /** Resolves after `ms` milliseconds of this clock's time. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }
}

/** Wall-clock time and real timers. Timers are unref'd: a pending timer never keeps the process alive. */
export class SystemClock extends Clock {
  now(): number {
    return Date.now();
  }

  setTimeout(fn: () => void, ms: number): CancelTimer {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return () => clearTimeout(handle);
  }
}

interface PendingTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/** A clock that only moves when told to, for tests of schedules, timeouts and deadlines. */
export class FakeClock extends Clock {
  private current: number;
  private seq = 0;
  private timers: PendingTimer[] = [];

  constructor(start: number | Date = Date.UTC(2026, 0, 1)) {
    super();
    this.current = typeof start === 'number' ? start : start.getTime();
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): CancelTimer {
    const timer: PendingTimer = { at: this.current + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /** Number of timers not yet fired. */
  get pending(): number {
    return this.timers.length;
  }

  /**
   * Moves time forward by `ms`, firing due timers in time order and letting promise callbacks
   * queued by each timer run before the next one fires.
   */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => t.at <= target)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.current = due.at;
      due.fn();
      await flushMicrotasks();
    }
    this.current = target;
    await flushMicrotasks();
  }
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}
