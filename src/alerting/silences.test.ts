import { FakeClock } from '../core/clock';
import { parseMatcher } from './matchers';
import { DEFAULT_SILENCE_RETENTION_MS, SilenceError, Silences, silenceState, type PostableSilence, type SilenceMatcher } from './silences';

const T0 = Date.UTC(2026, 0, 1, 12);
const MIN = 60_000;
const HOUR = 60 * MIN;
const at = (ms: number): string => new Date(ms).toISOString();

/** A store on a fake clock at T0, with ids s1, s2, ... in creation order. */
function store(options: { retentionMs?: number } = {}): { clock: FakeClock; silences: Silences } {
  const clock = new FakeClock(T0);
  let n = 0;
  return { clock, silences: new Silences(clock, { ...options, newId: () => `s${++n}` }) };
}

function postable(overrides: Partial<PostableSilence> = {}): PostableSilence {
  return { matchers: [{ name: 'alertname', value: 'DiskFull', isRegex: false }], startsAt: at(T0), endsAt: at(T0 + HOUR), createdBy: 'ops', comment: 'maintenance', ...overrides };
}

function m(name: string, value: string, isRegex = false, isEqual = true): SilenceMatcher {
  return { name, value, isRegex, isEqual };
}

function refusal(fn: () => unknown): SilenceError {
  try {
    fn();
  } catch (error) {
    if (error instanceof SilenceError) return error;
    throw error;
  }
  throw new Error('expected a SilenceError');
}

describe('silence validation', () => {
  test('a valid silence is stored with defaults filled in (isEqual true) and timestamps normalised', () => {
    const { silences } = store();
    const { id, created } = silences.set(postable({ startsAt: '2026-01-01T13:00:00+01:00', matchers: [{ name: 'alertname', value: 'DiskFull', isRegex: false, isEqual: null }] }));
    expect([id, created]).toEqual(['s1', true]);
    expect(silences.get(id)).toEqual({
      id: 's1',
      matchers: [m('alertname', 'DiskFull')],
      startsAt: '2026-01-01T12:00:00.000Z',
      endsAt: '2026-01-01T13:00:00.000Z',
      updatedAt: '2026-01-01T12:00:00.000Z',
      createdBy: 'ops',
      comment: 'maintenance',
    });
  });

  // Several re-expressed from Alertmanager's TestValidateMatcher / TestValidateSilence and the API v2 handler.
  test.each<[string, Partial<PostableSilence>, RegExp]>([
    ['no matcher', { matchers: [] }, /at least one matcher required/],
    ['invalid label name', { matchers: [m('a', 'b'), m('00', 'b')] }, /invalid label matcher 1: invalid label name "00"/],
    ['label name with a dash', { matchers: [m('my-label', 'b')] }, /invalid label name/],
    ['unbalanced regex', { matchers: [m('a', '((', true)] }, /invalid label matcher 0: invalid regular expression "\(\("/],
    ['unbalanced negative regex', { matchers: [m('a', '))', true, false)] }, /invalid regular expression/],
    // Valid once anchored as ^(?:a)|(b)$, but Alertmanager compiles the pattern alone first.
    ['regex valid only once wrapped', { matchers: [m('a', 'a)|(b', true)] }, /invalid regular expression/],
    ['lookahead (not RE2)', { matchers: [m('a', '(?=x)x', true)] }, /invalid regular expression/],
    ['invalid UTF-8 value', { matchers: [m('a', 'x\uD800')] }, /invalid label value/],
    ['matcher without isRegex', { matchers: [{ name: 'a', value: 'b' } as SilenceMatcher] }, /invalid label matcher 0: expected/],
    ['all matchers match the empty string (= "" and =~ ".*")', { matchers: [m('a', ''), m('b', '.*', true)] }, /at least one matcher must not match the empty string/],
    ['a regex matching the empty string by alternation', { matchers: [m('a', 'x|', true)] }, /must not match the empty string/],
    ['end equal to start', { startsAt: at(T0 + HOUR), endsAt: at(T0 + HOUR) }, /start time must be before end time/],
    ['end before start, both future', { startsAt: at(T0 + 2 * HOUR), endsAt: at(T0 + HOUR) }, /start time must be before end time/],
    ['end in the past', { startsAt: at(T0 - 2 * HOUR), endsAt: at(T0 - 1) }, /end time can't be in the past/],
    ['startsAt not a timestamp', { startsAt: 'tomorrow' }, /startsAt is not an RFC 3339 timestamp: "tomorrow"/],
    ['endsAt on a day that does not exist', { endsAt: '2026-02-30T00:00:00Z' }, /endsAt is not an RFC 3339 timestamp/],
    ['createdBy missing', { createdBy: undefined }, /createdBy is required/],
    ['comment missing', { comment: undefined }, /comment is required/],
  ])('refused: %s', (_name, overrides, message) => {
    const { silences } = store();
    const error = refusal(() => silences.set(postable(overrides)));
    expect(error.kind).toBe('invalid');
    expect(error.message).toMatch(message);
    expect(silences.query()).toEqual([]);
  });

  test.each<[string, SilenceMatcher[]]>([
    ['a matcher that does not match the empty string beside one that does', [m('a', ''), m('b', 'x')]],
    // Alertmanager counts only = and =~ as matching the empty string, so a lone != or !~ is accepted.
    ['a lone != (Alertmanager does not count it as matching the empty string)', [m('a', 'b', false, false)]],
    ['a lone !~', [m('a', 'b', true, false)]],
    ['a regex that needs a character', [m('a', '.+', true)]],
    ['(?i) and RE2 classes', [m('a', '(?i)disk\\d+', true)]],
    ['a value with any characters, including quotes and newlines', [m('a', 'say "hi"\nbye')]],
  ])('accepted: %s', (_name, matchers) => {
    const { silences } = store();
    expect(silences.set(postable({ matchers })).id).toBe('s1');
  });

  test('an empty createdBy or comment is accepted: the API requires the fields, not content', () => {
    const { silences } = store();
    expect(silences.set(postable({ createdBy: '', comment: '' })).id).toBe('s1');
  });

  test('an empty id creates a new silence, as in Alertmanager', () => {
    const { silences } = store();
    expect(silences.set(postable({ id: '' }))).toEqual({ id: 's1', created: true });
  });

  test('an update of an unknown id is not_found, and nothing is created', () => {
    const { silences } = store();
    const error = refusal(() => silences.set(postable({ id: 'nope' })));
    expect([error.kind, error.message]).toEqual(['not_found', 'silence nope not found']);
    expect(silences.query()).toEqual([]);
  });
});

describe('silence state', () => {
  test.each<[string, number, string]>([
    ['before the start', T0 - 1, 'pending'],
    ['at the start', T0, 'active'],
    ['just before the end', T0 + HOUR - 1, 'active'],
    ['at the end (excluded, as the API reports it)', T0 + HOUR, 'expired'],
    ['after the end', T0 + 2 * HOUR, 'expired'],
  ])('%s', (_name, now, state) => {
    expect(silenceState({ startsAt: at(T0), endsAt: at(T0 + HOUR) }, now)).toBe(state);
  });

  test('a silence moves from pending to active to expired as the clock moves', async () => {
    const { clock, silences } = store();
    const { id } = silences.set(postable({ startsAt: at(T0 + HOUR), endsAt: at(T0 + 2 * HOUR) }));
    expect(silences.state(id)).toBe('pending');
    await clock.advance(HOUR);
    expect(silences.state(id)).toBe('active');
    await clock.advance(HOUR);
    expect(silences.state(id)).toBe('expired');
    expect(silences.state('unknown')).toBeUndefined();
  });

  test('a new silence that starts in the past starts now', () => {
    const { silences } = store();
    const { id } = silences.set(postable({ startsAt: at(T0 - HOUR) }));
    expect(silences.get(id)?.startsAt).toBe(at(T0));
  });
});

describe('updating a silence (Alertmanager canUpdate)', () => {
  // Re-expressed from Alertmanager's TestSilenceCanUpdate, through set(): in place, or a new
  // silence replacing the old one. `prev` is set at T0 - 1h and updated at T0.
  test.each<[string, [number, number, SilenceMatcher[]?], Partial<PostableSilence>, 'in place' | 'replaced']>([
    ['pending: new start in the past', [T0 + HOUR, T0 + 2 * HOUR], { startsAt: at(T0 - MIN), endsAt: at(T0 + HOUR) }, 'replaced'],
    ['pending: new start and end in the future', [T0 + HOUR, T0 + 2 * HOUR], { startsAt: at(T0 + MIN), endsAt: at(T0 + 2 * MIN) }, 'in place'],
    ['pending: start exactly now', [T0 + HOUR, T0 + 2 * HOUR], { startsAt: at(T0), endsAt: at(T0 + 2 * HOUR) }, 'in place'],
    ['active: start changed', [T0 - HOUR, T0 + 2 * HOUR], { startsAt: at(T0 - MIN), endsAt: at(T0 + 2 * HOUR) }, 'replaced'],
    ['active: start changed below the second only', [T0 - HOUR, T0 + 2 * HOUR], { startsAt: at(T0 - HOUR + 999), endsAt: at(T0 + 2 * HOUR) }, 'in place'],
    ['active: end now', [T0 - HOUR, T0 + 2 * HOUR], { startsAt: at(T0 - HOUR), endsAt: at(T0) }, 'in place'],
    ['active: end extended', [T0 - HOUR, T0 + 2 * HOUR], { startsAt: at(T0 - HOUR), endsAt: at(T0 + 3 * HOUR) }, 'in place'],
    ['active: comment and author changed', [T0 - HOUR, T0 + 2 * HOUR], { startsAt: at(T0 - HOUR), endsAt: at(T0 + 2 * HOUR), comment: 'longer', createdBy: 'bob' }, 'in place'],
    ['active: matchers changed', [T0 - HOUR, T0 + 2 * HOUR], { startsAt: at(T0 - HOUR), endsAt: at(T0 + 2 * HOUR), matchers: [m('alertname', 'DiskFull'), m('env', 'prod')] }, 'replaced'],
    ['active: same matchers in another order', [T0 - HOUR, T0 + 2 * HOUR, [m('a', 'x'), m('b', 'x')]], { startsAt: at(T0 - HOUR), endsAt: at(T0 + 2 * HOUR), matchers: [m('b', 'x'), m('a', 'x')] }, 'replaced'],
    ['pending: matcher made negative', [T0 + HOUR, T0 + 2 * HOUR], { startsAt: at(T0 + HOUR), endsAt: at(T0 + 2 * HOUR), matchers: [m('alertname', 'DiskFull', false, false)] }, 'replaced'],
  ])('%s', async (_name, [start, end, matchers], update, outcome) => {
    const clock = new FakeClock(T0 - HOUR);
    let n = 0;
    const silences = new Silences(clock, { newId: () => `s${++n}` });
    silences.set(postable({ startsAt: at(start), endsAt: at(end), ...(matchers ? { matchers } : {}) }));
    await clock.advance(HOUR);

    const result = silences.set(postable({ ...update, id: 's1' }));
    if (outcome === 'in place') {
      expect(result).toEqual({ id: 's1', created: false });
      expect(silences.get('s1')).toMatchObject({ startsAt: update.startsAt, endsAt: update.endsAt, updatedAt: at(T0) });
      expect(silences.query().map((s) => s.id)).toEqual(['s1']);
    } else {
      expect(result).toEqual({ id: 's2', created: true, replaced: 's1' });
      // The old silence is expired now, keeping what it silenced; the new one starts now at the earliest.
      expect(silences.state('s1')).toBe('expired');
      expect(silences.get('s1')?.endsAt).toBe(at(T0));
      const startMs = Math.max(Date.parse(update.startsAt as string), T0);
      expect(silences.get('s2')).toMatchObject({ startsAt: at(startMs), endsAt: update.endsAt });
    }
  });

  test('updating an expired silence creates a new one and leaves the old one as it ended', async () => {
    const { clock, silences } = store();
    silences.set(postable({ endsAt: at(T0 + MIN) }));
    await clock.advance(2 * MIN);
    const result = silences.set(postable({ id: 's1', startsAt: at(T0 + 2 * MIN), endsAt: at(T0 + HOUR) }));
    expect(result).toEqual({ id: 's2', created: true, replaced: 's1' });
    expect(silences.get('s1')).toMatchObject({ endsAt: at(T0 + MIN), updatedAt: at(T0) });
    expect(silences.state('s2')).toBe('active');
  });
});

describe('expiring a silence', () => {
  test('an active silence ends now and stops muting at once', async () => {
    const { clock, silences } = store();
    const { id } = silences.set(postable());
    await clock.advance(10 * MIN);
    expect(silences.mutes({ alertname: 'DiskFull' })).toEqual([id]);
    silences.expire(id);
    expect(silences.get(id)).toMatchObject({ startsAt: at(T0), endsAt: at(T0 + 10 * MIN), updatedAt: at(T0 + 10 * MIN) });
    expect(silences.state(id)).toBe('expired');
    expect(silences.mutes({ alertname: 'DiskFull' })).toEqual([]);
  });

  test('a pending silence starts and ends now, so it never was active', () => {
    const { silences } = store();
    const { id } = silences.set(postable({ startsAt: at(T0 + HOUR), endsAt: at(T0 + 2 * HOUR) }));
    silences.expire(id);
    expect(silences.get(id)).toMatchObject({ startsAt: at(T0), endsAt: at(T0) });
    expect(silences.state(id)).toBe('expired');
  });

  test('expiring an expired silence changes nothing; an unknown id is not_found', async () => {
    const { clock, silences } = store();
    const { id } = silences.set(postable({ endsAt: at(T0 + MIN) }));
    await clock.advance(HOUR);
    const before = silences.get(id);
    silences.expire(id);
    expect(silences.get(id)).toEqual(before);
    expect(refusal(() => silences.expire('nope')).kind).toBe('not_found');
  });
});

describe('muting and querying', () => {
  const setup = async (): Promise<{ clock: FakeClock; silences: Silences }> => {
    const s = store();
    const { silences } = s;
    silences.set(postable({ matchers: [m('service', 'db')], endsAt: at(T0 + 3 * HOUR) })); // s1 active, ends last
    silences.set(postable({ matchers: [m('service', 'db|web', true), m('env', 'dev', false, false)], endsAt: at(T0 + HOUR) })); // s2 active, ends first
    silences.set(postable({ matchers: [m('service', 'db')], startsAt: at(T0 + 2 * HOUR), endsAt: at(T0 + 4 * HOUR) })); // s3 pending
    silences.set(postable({ matchers: [m('service', 'web')], startsAt: at(T0 + HOUR), endsAt: at(T0 + 4 * HOUR) })); // s4 pending, starts first
    silences.set(postable({ matchers: [m('service', 'db')], endsAt: at(T0 + MIN) })); // s5, expired below
    silences.set(postable({ matchers: [m('service', 'db')], endsAt: at(T0 + 2 * MIN) })); // s6, expired below, more recently
    await s.clock.advance(2 * MIN);
    return s;
  };

  test.each<[string, Record<string, string>, string[]]>([
    ['both active silences on db', { service: 'db' }, ['s1', 's2']],
    ['the != excludes env="dev"', { service: 'db', env: 'dev' }, ['s1']],
    ['regex is anchored: "dbx" is not db', { service: 'dbx' }, []],
    ['pending and expired silences do not mute', { service: 'web' }, ['s2']],
    ['an alert without the label', { env: 'prod' }, []],
  ])('mutes: %s', async (_name, labels, ids) => {
    const { silences } = await setup();
    expect(silences.mutes(labels)).toEqual(ids);
  });

  test('query sorts as the API: active by end, pending by start, expired latest end first', async () => {
    const { silences } = await setup();
    expect(silences.query().map((s) => s.id)).toEqual(['s2', 's1', 's4', 's3', 's6', 's5']);
  });

  test.each<[string, Parameters<Silences['query']>[0], string[]]>([
    ['by state', { states: ['pending', 'expired'] }, ['s4', 's3', 's6', 's5']],
    ['by ids (unknown ids ignored)', { ids: ['s5', 's1', 'zz'] }, ['s1', 's5']],
    ['by labels they would mute, in any state', { matching: { service: 'db' } }, ['s2', 's1', 's3', 's6', 's5']],
    ['by filter: same name, operator and value', { filter: [parseMatcher('service=~"db|web"')] }, ['s2']],
    ['by filter: an equal value with another operator is not the same', { filter: [parseMatcher('service="db|web"')] }, []],
    ['by filter and state', { filter: [parseMatcher('service="db"')], states: ['active'] }, ['s1']],
  ])('query %s', async (_name, q, ids) => {
    const { silences } = await setup();
    expect(silences.query(q).map((s) => s.id)).toEqual(ids);
  });

  test('mutes lists the silence ids sorted, as Alertmanager does, not in creation order', () => {
    const ids = ['zz', 'aa', 'mm'];
    const silences = new Silences(new FakeClock(T0), { newId: () => ids.shift() as string });
    for (let i = 0; i < 3; i += 1) silences.set(postable());
    expect(silences.mutes({ alertname: 'DiskFull' })).toEqual(['aa', 'mm', 'zz']);
  });

  test('count by state', async () => {
    const { silences } = await setup();
    expect(silences.count()).toEqual({ active: 2, pending: 2, expired: 2 });
  });

  test('results are copies: changing one does not change the store', () => {
    const { silences } = store();
    const { id } = silences.set(postable());
    const copy = silences.get(id) as NonNullable<ReturnType<Silences['get']>>;
    copy.matchers[0].value = 'Other';
    copy.comment = 'changed';
    expect(silences.get(id)).toMatchObject({ comment: 'maintenance', matchers: [m('alertname', 'DiskFull')] });
    expect(silences.mutes({ alertname: 'DiskFull' })).toEqual([id]);
  });
});

describe('retention and gc', () => {
  test.each<[string, number | undefined, number, number]>([
    ['default 120h: kept just before', undefined, DEFAULT_SILENCE_RETENTION_MS - 1, 0],
    ['default 120h: dropped at 120h after the end', undefined, DEFAULT_SILENCE_RETENTION_MS, 1],
    ['configured 1h: dropped 1h after the end', HOUR, HOUR, 1],
    ['configured 1h: kept just before', HOUR, HOUR - 1, 0],
  ])('%s', async (_name, retentionMs, afterEnd, removed) => {
    const { clock, silences } = store({ retentionMs });
    const { id } = silences.set(postable({ endsAt: at(T0 + MIN) }));
    silences.set(postable({ endsAt: at(T0 + 1000 * HOUR) })); // s2, still active: never collected here
    await clock.advance(MIN + afterEnd);
    expect(silences.gc()).toBe(removed);
    expect(silences.get(id) === undefined).toBe(removed === 1);
    expect(silences.get('s2')).toBeDefined();
  });

  test('an expired silence is dropped a retention period after it was expired, not after its planned end', async () => {
    const { clock, silences } = store({ retentionMs: HOUR });
    const { id } = silences.set(postable({ endsAt: at(T0 + 10 * HOUR) }));
    silences.expire(id);
    await clock.advance(HOUR);
    expect(silences.gc()).toBe(1);
    expect(refusal(() => silences.expire(id)).kind).toBe('not_found');
  });
});

describe('snapshot and restore', () => {
  test('a snapshot is plain JSON that restores the same silences, states and muting', async () => {
    const { clock, silences } = store();
    silences.set(postable({ matchers: [m('service', 'db|web', true), m('env', 'dev', false, false)] }));
    silences.set(postable({ startsAt: at(T0 + HOUR), endsAt: at(T0 + 2 * HOUR) }));
    silences.expire(silences.set(postable({ comment: 'gone' })).id);
    const json = JSON.parse(JSON.stringify(silences.snapshot())) as ReturnType<Silences['snapshot']>;

    const other = new Silences(clock);
    other.restore(json);
    expect(other.query()).toEqual(silences.query());
    expect(other.count()).toEqual({ active: 1, pending: 1, expired: 1 });
    expect(other.mutes({ service: 'web' })).toEqual(['s1']);
    await clock.advance(HOUR);
    expect(other.state('s2')).toBe('active');
  });

  test('restore replaces what was there', () => {
    const { clock, silences } = store();
    silences.set(postable());
    const other = new Silences(clock, { newId: () => 'x' });
    other.set(postable());
    other.restore(silences.snapshot());
    expect(other.query().map((s) => s.id)).toEqual(['s1']);
  });

  test.each<[string, unknown, RegExp]>([
    ['not a snapshot', { silences: [] }, /not a silences snapshot/],
    ['a silence without id', { version: 1, silences: [{ matchers: [m('a', 'b')], startsAt: at(T0), endsAt: at(T0), updatedAt: at(T0), createdBy: '', comment: '' }] }, /snapshot silence 0: id missing/],
    ['a silence whose matchers all match ""', { version: 1, silences: [{ id: 'a', matchers: [m('a', '')], startsAt: at(T0), endsAt: at(T0), updatedAt: at(T0), createdBy: '', comment: '' }] }, /snapshot silence 0: at least one matcher/],
    ['a silence ending before it starts', { version: 1, silences: [{ id: 'a', matchers: [m('a', 'b')], startsAt: at(T0), endsAt: at(T0 - 1), updatedAt: at(T0), createdBy: '', comment: '' }] }, /end time must not be before start time/],
    ['a bad updatedAt', { version: 1, silences: [{ id: 'a', matchers: [m('a', 'b')], startsAt: at(T0), endsAt: at(T0), updatedAt: 'x', createdBy: '', comment: '' }] }, /updatedAt is not an RFC 3339/],
  ])('restore refuses %s and keeps the store as it was', (_name, snapshot, message) => {
    const { silences } = store();
    silences.set(postable());
    const error = refusal(() => silences.restore(snapshot as ReturnType<Silences['snapshot']>));
    expect(error.message).toMatch(message);
    expect(silences.query().map((s) => s.id)).toEqual(['s1']);
  });

  test('an expired silence ending exactly when it started restores (as Alertmanager keeps expired pending silences)', () => {
    const { silences } = store();
    silences.restore({ version: 1, silences: [{ id: 'a', matchers: [m('a', 'b')], startsAt: at(T0), endsAt: at(T0), updatedAt: at(T0), createdBy: '', comment: '' }] });
    expect(silences.state('a')).toBe('expired');
  });
});

describe('ids', () => {
  test('without newId, ids are random UUIDs', () => {
    const silences = new Silences(new FakeClock(T0));
    const a = silences.set(postable()).id;
    const b = silences.set(postable()).id;
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a).not.toBe(b);
  });
});
