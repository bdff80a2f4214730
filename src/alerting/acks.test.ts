import { FakeClock } from '../core/clock';
import { AgentError } from '../core/errors';
import { Acknowledgements, acknowledgementView, type AcknowledgementsSnapshot } from './acks';
import type { Alert } from './alerts';

const M = 60_000;

type Ref = Pick<Alert, 'fingerprint' | 'state' | 'startsAt'>;

function setup() {
  const clock = new FakeClock();
  const acks = new Acknowledgements(clock);
  const firing: Ref = { fingerprint: 'aaaaaaaaaaaaaaaa', state: 'firing', startsAt: clock.now() - 10 * M };
  return { clock, acks, firing };
}

function refusal(fn: () => unknown): AgentError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AgentError);
    return error as AgentError;
  }
  throw new Error('expected a refusal');
}

describe('Acknowledgements', () => {
  test('an acknowledged firing alert holds its ack until it expires', async () => {
    const { clock, acks, firing } = setup();
    const expiresAt = new Date(clock.now() + 30 * M).toISOString();
    const ack = acks.acknowledge(firing, { by: 'alice', comment: 'on it', expiresAt });
    expect(ack).toEqual({ fingerprint: firing.fingerprint, startsAt: firing.startsAt, by: 'alice', comment: 'on it', at: clock.now(), expiresAt: clock.now() + 30 * M });
    expect(acks.active(firing)).toEqual(ack);
    expect(acknowledgementView(ack)).toEqual({ by: 'alice', comment: 'on it', at: '2026-01-01T00:00:00.000Z', expiresAt });
    await clock.advance(30 * M - 1);
    expect(acks.active(firing)).toBeDefined();
    await clock.advance(1);
    expect(acks.active(firing)).toBeUndefined();
  });

  test('without expiresAt it holds while the alert fires; the view has no expiresAt and comment defaults to empty', async () => {
    const { clock, acks, firing } = setup();
    const ack = acks.acknowledge(firing, { by: 'bob' });
    expect(acknowledgementView(ack)).toEqual({ by: 'bob', comment: '', at: '2026-01-01T00:00:00.000Z' });
    await clock.advance(1000 * 3_600_000);
    expect(acks.active(firing)?.by).toBe('bob');
  });

  test('a resolved alert, or one that fired again (new startsAt), is not acknowledged', () => {
    const { acks, firing } = setup();
    acks.acknowledge(firing, { by: 'alice' });
    expect(acks.active({ ...firing, state: 'resolved' })).toBeUndefined();
    expect(acks.active({ ...firing, startsAt: firing.startsAt + 20 * M })).toBeUndefined();
    expect(acks.active({ ...firing, fingerprint: 'bbbbbbbbbbbbbbbb' })).toBeUndefined();
    expect(acks.active(firing)).toBeDefined();
  });

  test('re-acknowledging replaces the previous ack', async () => {
    const { clock, acks, firing } = setup();
    acks.acknowledge(firing, { by: 'alice', comment: 'first', expiresAt: new Date(clock.now() + M).toISOString() });
    await clock.advance(10);
    acks.acknowledge(firing, { by: 'bob', comment: 'mine now' });
    expect(acks.list()).toEqual([{ fingerprint: firing.fingerprint, startsAt: firing.startsAt, by: 'bob', comment: 'mine now', at: clock.now() }]);
    await clock.advance(2 * M);
    expect(acks.active(firing)?.by).toBe('bob');
  });

  test.each([
    ['a pending alert', { state: 'pending' }, { by: 'alice' }, /it is pending; only a firing alert can be acknowledged/],
    ['a resolved alert', { state: 'resolved' }, { by: 'alice' }, /it is resolved/],
    ['an empty by', {}, { by: '' }, /"by" \(who acknowledges\) is required/],
    ['a blank by', {}, { by: '   ' }, /"by" \(who acknowledges\) is required/],
    ['an unparsable expiry', {}, { by: 'alice', expiresAt: 'tomorrow' }, /"expiresAt" "tomorrow" is not an RFC 3339 time/],
    ['an expiry without offset', {}, { by: 'alice', expiresAt: '2026-01-02T00:00:00' }, /not an RFC 3339 time/],
    ['an expiry now', {}, { by: 'alice', expiresAt: '2026-01-01T00:00:00Z' }, /"expiresAt" 2026-01-01T00:00:00Z is not in the future/],
    ['a past expiry', {}, { by: 'alice', expiresAt: '2025-12-31T23:00:00+00:00' }, /is not in the future/],
    ['a comment that is not a string', {}, { by: 'alice', comment: 42 }, /"comment" must be a string/],
  ])('refuses %s with ALERT_INVALID naming the alert and the problem', (_name, alertPatch, input, message) => {
    const { acks, firing } = setup();
    const error = refusal(() => acks.acknowledge({ ...firing, ...(alertPatch as Partial<Ref>) }, input as never));
    expect(error.code).toBe('ALERT_INVALID');
    expect(error.message).toMatch(`cannot acknowledge alert ${firing.fingerprint}: `);
    expect(error.message).toMatch(message);
    expect(acks.list()).toEqual([]);
  });

  test('gc drops expired acks and those whose alert is gone, resolved or fired again; keeps the rest', async () => {
    const { clock, acks } = setup();
    const t = clock.now();
    const alerts = new Map<string, Pick<Alert, 'state' | 'startsAt'>>([
      ['keep', { state: 'firing', startsAt: t }],
      ['expired', { state: 'firing', startsAt: t }],
      ['gone', { state: 'firing', startsAt: t }],
      ['resolved', { state: 'firing', startsAt: t }],
      ['refired', { state: 'firing', startsAt: t }],
    ]);
    for (const [fp, a] of alerts) acks.acknowledge({ fingerprint: fp, ...a }, { by: 'alice', ...(fp === 'expired' && { expiresAt: new Date(t + M).toISOString() }) });
    await clock.advance(M);
    alerts.delete('gone');
    alerts.set('resolved', { state: 'resolved', startsAt: t });
    alerts.set('refired', { state: 'firing', startsAt: t + M });
    expect(acks.gc((fp) => alerts.get(fp)).sort()).toEqual(['expired', 'gone', 'refired', 'resolved']);
    expect(acks.list().map((a) => a.fingerprint)).toEqual(['keep']);
    expect(acks.gc((fp) => alerts.get(fp))).toEqual([]);
  });

  test('snapshot and restore round-trip through JSON; expired acks are not written', async () => {
    const { clock, acks, firing } = setup();
    const other: Ref = { fingerprint: 'bbbbbbbbbbbbbbbb', state: 'firing', startsAt: clock.now() };
    acks.acknowledge(firing, { by: 'alice', comment: 'looking', expiresAt: new Date(clock.now() + 2 * M).toISOString() });
    acks.acknowledge(other, { by: 'bob', expiresAt: new Date(clock.now() + M).toISOString() });
    const third: Ref = { fingerprint: 'cccccccccccccccc', state: 'firing', startsAt: clock.now() };
    acks.acknowledge(third, { by: 'carol' });
    await clock.advance(M);
    const snapshot = JSON.parse(JSON.stringify(acks.snapshot())) as AcknowledgementsSnapshot;
    expect(snapshot.acks.map((a) => a.fingerprint)).toEqual([firing.fingerprint, third.fingerprint]);
    const restored = new Acknowledgements(clock);
    restored.acknowledge(other, { by: 'replaced by the restore' });
    restored.restore(snapshot);
    expect(restored.list()).toEqual(acks.list().filter((a) => a.fingerprint !== other.fingerprint));
    expect(restored.active(firing)?.comment).toBe('looking');
    expect(restored.active(third)?.by).toBe('carol');
    expect(restored.active(other)).toBeUndefined();
  });

  test.each([
    ['no version', { acks: [] }, /not an acknowledgements snapshot/],
    ['another version', { version: 2, acks: [] }, /not an acknowledgements snapshot/],
    ['no acks array', { version: 1 }, /not an acknowledgements snapshot/],
    ['an entry without by', { version: 1, acks: [{ fingerprint: 'f', startsAt: 0, comment: '', at: 0 }] }, /entry 0: expected fingerprint, startsAt, by/],
    ['a time as text', { version: 1, acks: [{ fingerprint: 'f', startsAt: 0, by: 'a', comment: '', at: 0 }, { fingerprint: 'g', startsAt: '0', by: 'a', comment: '', at: 0 }] }, /entry 1: /],
    ['a bad expiry', { version: 1, acks: [{ fingerprint: 'f', startsAt: 0, by: 'a', comment: '', at: 0, expiresAt: null }] }, /entry 0: /],
    ['null', null, /not an acknowledgements snapshot/],
  ])('restore refuses a snapshot with %s and keeps what it had', (_name, snapshot, message) => {
    const { acks, firing } = setup();
    acks.acknowledge(firing, { by: 'alice' });
    const error = refusal(() => acks.restore(snapshot as never));
    expect(error.code).toBe('ALERT_INVALID');
    expect(error.message).toMatch(message);
    expect(acks.active(firing)?.by).toBe('alice');
  });
});
