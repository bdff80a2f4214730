import type { SinkResult } from './notification';

/**
 * How an HTTP sink turns a provider's answer into the notifier contract's result, one rule for
 * every HTTP sink (webhook, Slack, PagerDuty, third-party ones): 2xx delivered; 429 and 408 retry
 * after `Retry-After` (seconds or an HTTP date) when given; 5xx retry; any other status is a
 * permanent failure (the request itself is wrong: a bad URL, key or payload).
 */

/** The wait a `Retry-After` header asks for, in ms (0 for a date in the past); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The result for an HTTP answer. `what` names the request for operators (`Slack webhook`,
 * `PagerDuty events API`), never its URL (which may hold a secret).
 */
export function httpOutcome(status: number, retryAfter: string | null | undefined, what: string, now: number = Date.now()): SinkResult {
  if (status >= 200 && status < 300) return { outcome: 'delivered' };
  const reason = `${what} answered HTTP ${status}`;
  if (status === 429 || status === 408 || status >= 500) {
    const wait = parseRetryAfter(retryAfter, now);
    return { outcome: 'retry', afterMs: wait ?? 0, reason: wait === undefined ? reason : `${reason}, Retry-After ${Math.ceil(wait / 1000)} s` };
  }
  return { outcome: 'permanent', reason };
}
