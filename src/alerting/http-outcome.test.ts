import { httpOutcome, parseRetryAfter } from './http-outcome';

describe('httpOutcome', () => {
  const now = Date.UTC(2026, 10, 30, 12);
  it('is delivered on 2xx, retried on 429, 408 and 5xx, permanent on other 4xx', () => {
    expect(httpOutcome(204, null, 'webhook', now)).toEqual({ outcome: 'delivered' });
    expect(httpOutcome(503, null, 'webhook', now)).toEqual({ outcome: 'retry', afterMs: 0, reason: 'webhook answered HTTP 503' });
    expect(httpOutcome(408, null, 'webhook', now)).toMatchObject({ outcome: 'retry' });
    expect(httpOutcome(404, '5', 'webhook', now)).toEqual({ outcome: 'permanent', reason: 'webhook answered HTTP 404' });
  });

  it('honours Retry-After in seconds and as an HTTP date', () => {
    expect(httpOutcome(429, '2', 'Slack webhook', now)).toEqual({ outcome: 'retry', afterMs: 2000, reason: 'Slack webhook answered HTTP 429, Retry-After 2 s' });
    expect(httpOutcome(503, new Date(now + 90_000).toUTCString(), 'x', now)).toMatchObject({ outcome: 'retry', afterMs: 90_000 });
  });

  it('reads an unreadable or past Retry-After as none or zero', () => {
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter(new Date(now - 5000).toUTCString(), now)).toBe(0);
    expect(parseRetryAfter(' 10 ', now)).toBe(10_000);
  });
});
