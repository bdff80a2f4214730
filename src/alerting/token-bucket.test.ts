import { TokenBucket } from './token-bucket';

describe('TokenBucket', () => {
  it('gives `burst` tokens at once, then one per rate interval', () => {
    const bucket = new TokenBucket(1, 1000, 2, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([0, 0, 1000]);
    expect(bucket.take(400)).toBe(600);
    expect(bucket.take(1000)).toBe(0);
    expect(bucket.take(1000)).toBe(1000);
  });

  it('refills up to burst only, at the configured rate', () => {
    const bucket = new TokenBucket(120, 60_000, 10, 0);
    for (let i = 0; i < 10; i++) expect(bucket.take(0)).toBe(0);
    expect(bucket.take(0)).toBe(500);
    expect(bucket.take(3_600_000)).toBe(0);
    for (let i = 0; i < 9; i++) expect(bucket.take(3_600_000)).toBe(0);
    expect(bucket.take(3_600_000)).toBe(500);
  });

  it('refuses nonsense settings', () => {
    expect(() => new TokenBucket(0, 1000, 1, 0)).toThrow(RangeError);
    expect(() => new TokenBucket(1, 1000, 0, 0)).toThrow('burst >= 1');
  });
});
