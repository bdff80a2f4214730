import { canonicalJson, mergeWinner } from './replica';

const silence = (updatedAt: string, comment = 'c') => ({ id: 's1', matchers: [{ name: 'a', value: 'b', isRegex: false, isEqual: true }], startsAt: '2026-11-30T12:00:00.000Z', endsAt: '2026-11-30T13:00:00.000Z', updatedAt, createdBy: 'me', comment });
const alert = (updatedAt: number, state: string, occurrences = 1) => ({ fingerprint: 'f', labels: { a: 'b' }, state, updatedAt, occurrences });

describe('mergeWinner: which version of one replicated item wins', () => {
  it('takes a remote item the agent does not have', () => {
    expect(mergeWinner('silence', undefined, silence('2026-11-30T12:00:00.000Z'))).toBe('remote');
  });

  it('takes the later one by the item\'s own clock, whichever arrived last', () => {
    expect(mergeWinner('silence', silence('2026-11-30T12:00:00.000Z'), silence('2026-11-30T12:00:01.000Z'))).toBe('remote');
    expect(mergeWinner('silence', silence('2026-11-30T12:00:01.000Z'), silence('2026-11-30T12:00:00.000Z'))).toBe('local');
    expect(mergeWinner('ack', { at: 5 }, { at: 4 })).toBe('local');
    expect(mergeWinner('ack', { at: 5 }, { at: 6 })).toBe('remote');
    expect(mergeWinner('nflog', { timestamp: 10, firing: ['x'] }, { timestamp: 11, firing: [] })).toBe('remote');
    expect(mergeWinner('alert', alert(100, 'firing', 5), alert(101, 'firing', 1))).toBe('remote');
  });

  it('an alert moved on by a timer (same updatedAt) wins in lifecycle order: pending, firing, resolved', () => {
    expect(mergeWinner('alert', alert(100, 'firing'), alert(100, 'resolved'))).toBe('remote');
    expect(mergeWinner('alert', alert(100, 'resolved'), alert(100, 'firing'))).toBe('local');
    expect(mergeWinner('alert', alert(100, 'pending'), alert(100, 'firing'))).toBe('remote');
  });

  it('the same content is `same`, whatever its key order', () => {
    const a = silence('2026-11-30T12:00:00.000Z');
    const reordered = Object.fromEntries(Object.entries(a).reverse());
    expect(mergeWinner('silence', a, reordered)).toBe('same');
  });

  it('a tie with different content goes to the same side on every agent (the larger canonical JSON)', () => {
    const x = silence('2026-11-30T12:00:00.000Z', 'aaa');
    const y = silence('2026-11-30T12:00:00.000Z', 'bbb');
    expect(mergeWinner('silence', x, y)).toBe('remote');
    expect(mergeWinner('silence', y, x)).toBe('local');
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level and keeps arrays in order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
  });
});
