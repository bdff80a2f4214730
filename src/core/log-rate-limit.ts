import type { Clock } from './clock';

interface Window {
  start: number;
  count: number;
  suppressed: number;
}

/**
 * Lets at most `limit` log lines per key through in each window of `windowMs`. A client that sends
 * garbage to the ingest API in a loop must not flood the agent's log (every rejection is still
 * counted and published as `agent.error`; only the log line is limited). The first line after a
 * quiet spell says how many were suppressed.
 */
export class LogRateLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly clock: Clock,
    private readonly limit = 20,
    private readonly windowMs = 10_000,
  ) {}

  /** `undefined`: do not log. Otherwise log, mentioning the returned number of suppressed lines when > 0. */
  admit(key: string): number | undefined {
    const now = this.clock.now();
    let window = this.windows.get(key);
    if (!window || now - window.start >= this.windowMs) {
      const suppressed = window?.suppressed ?? 0;
      window = { start: now, count: 1, suppressed: 0 };
      this.windows.set(key, window);
      return suppressed;
    }
    if (window.count < this.limit) {
      window.count++;
      const suppressed = window.suppressed;
      window.suppressed = 0;
      return suppressed;
    }
    window.suppressed++;
    return undefined;
  }
}
