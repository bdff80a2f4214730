import type { CancelTimer, Clock } from 'praxis-agent';
import { loadCron } from './cron';

/** When a check runs next. Pure: given a time, the next due time, so a fake clock can drive it. */
export interface Schedule {
  /** Epoch milliseconds of the first run strictly after `after`. */
  next(after: number): number;
  /** For logs and stats. */
  readonly description: string;
}

/** Every `ms` milliseconds. */
export function intervalSchedule(ms: number): Schedule {
  return { next: (after) => after + ms, description: `every ${ms} ms` };
}

/** A cron expression (5 fields, or 6 with leading seconds), evaluated by the `cron` package. */
export function cronSchedule(expression: string, timeZone?: string): Schedule {
  const time = new (loadCron().CronTime)(expression, timeZone);
  return {
    next: (after) => time.getNextDateFrom(new Date(after)).toMillis(),
    description: `cron "${expression}"`,
  };
}

// Node timers hold at most ~24.8 days; a longer wait is made of several shorter ones.
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Calls `tick` at every due time of a schedule, with the time from an injected Clock (so
 * FakeClock drives both intervals and cron expressions in tests). The next time is armed when a
 * tick fires, not when the work it starts finishes: a slow tick never shifts the cadence, and
 * the caller decides what to do when the previous run is still going (the probe skips it).
 */
export class Ticker {
  private cancel?: CancelTimer;

  constructor(
    private readonly clock: Clock,
    private readonly schedule: Schedule,
    private readonly tick: () => void,
  ) {}

  /** Arms the first tick: after `firstDelayMs` when given (0 = right away), else at the schedule's next time. */
  start(firstDelayMs?: number): void {
    this.stop();
    const now = this.clock.now();
    this.armAt(firstDelayMs === undefined ? this.schedule.next(now) : now + firstDelayMs);
  }

  stop(): void {
    this.cancel?.();
    this.cancel = undefined;
  }

  private armAt(due: number): void {
    const wait = Math.max(0, due - this.clock.now());
    this.cancel = this.clock.setTimeout(() => {
      if (this.clock.now() < due) {
        this.armAt(due);
        return;
      }
      this.armAt(this.schedule.next(Math.max(due, this.clock.now())));
      this.tick();
    }, Math.min(wait, MAX_TIMER_MS));
  }
}
