import type { CancelTimer, Clock, Logger } from 'praxis-agent';

/** How often, during an episode of cuts, one line says how many clients were cut since the last. */
export const CUT_SUMMARY_MS = 1000;

/**
 * The log of slow-consumer cuts. At saturation the fan-out may cut hundreds of clients in a few
 * milliseconds, and a log line each (formatted and redacted synchronously) took a tenth of the
 * main thread: the first cut of an episode is logged with its details, then one line per second
 * counts the cuts since; a second with none ends the episode.
 */
export class SlowCutLog {
  private timer?: CancelTimer;
  private count = 0;
  private total = 0;

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  cut(details: Record<string, unknown>, message: string): void {
    if (this.timer) {
      this.count++;
      this.total++;
      return;
    }
    this.total = 1;
    this.logger.warn(details, message);
    this.timer = this.clock.setTimeout(() => this.summarise(), CUT_SUMMARY_MS);
  }

  /** Logs what is still uncounted and ends the episode (stop()). */
  flush(): void {
    this.timer?.();
    this.timer = undefined;
    this.report();
    this.total = 0;
  }

  private summarise(): void {
    this.timer = undefined;
    if (!this.report()) {
      this.total = 0;
      return;
    }
    this.timer = this.clock.setTimeout(() => this.summarise(), CUT_SUMMARY_MS);
  }

  /** One summary line when there was a cut since the last; false when there was none. */
  private report(): boolean {
    if (this.count === 0) return false;
    this.logger.warn({ disconnected: this.count, disconnected_in_episode: this.total }, `websocket clients too slow: ${this.count} more disconnected (1013) in the last ${CUT_SUMMARY_MS / 1000} s`);
    this.count = 0;
    return true;
  }
}
