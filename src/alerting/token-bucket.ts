/**
 * A token bucket on the caller's clock (the delivery pipeline's rate limits): `burst` tokens at
 * most, refilled continuously at `rate` per `perMs`. Written here rather than taken from a library
 * because it must run on the injected Clock (FakeClock in tests) and only answer "how long until
 * the next token", never sleep itself.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly perMs: number,
    private readonly burst: number,
    now: number,
  ) {
    if (!(rate > 0 && perMs > 0 && burst >= 1)) throw new RangeError(`a rate limit needs rate > 0, per > 0 and burst >= 1 (got ${rate}/${perMs} ms, burst ${burst})`);
    this.tokens = burst;
    this.last = now;
  }

  /** Takes a token when one is there and answers 0; else answers how many ms until one is. */
  take(now: number): number {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * this.perMs) / this.rate);
  }

  private refill(now: number): void {
    if (now > this.last) this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / this.perMs);
    this.last = Math.max(this.last, now);
  }
}
