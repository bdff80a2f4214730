import type { AlertView, GroupAlertsView } from './alerting-api';
import type { Alert } from './alerts';
import { gettableAlert, gettableSilence, listAlertGroups, listAlerts, matchesFilter, parseAlertQuery } from './api-v2';
import { parseAck, parseStates } from './alerts-routes';
import { fingerprint } from './fingerprint';
import { parseMatcher } from './matchers';

const T0 = Date.UTC(2026, 0, 1);

function view(labels: Record<string, string>, extra: Partial<Omit<AlertView, 'alert'>> & { alert?: Partial<Alert> } = {}): AlertView {
  const { alert, ...rest } = extra;
  return {
    alert: {
      fingerprint: fingerprint(labels),
      labels,
      annotations: { summary: 's' },
      state: 'firing',
      origin: 'external',
      startsAt: T0,
      endsAt: T0 + 300_000,
      timeout: true,
      updatedAt: T0 + 1000,
      occurrences: 1,
      forMs: 0,
      forCount: 1,
      resolveTimeoutMs: 300_000,
      ...alert,
    },
    receivers: ['team'],
    silencedBy: [],
    inhibitedBy: [],
    ...rest,
  };
}

const q = (text = '') => parseAlertQuery(new URLSearchParams(text));

describe('GET /api/v2/alerts query', () => {
  test('defaults: every state shown, no filter, no receiver', () => {
    expect(q()).toMatchObject({ active: true, silenced: true, inhibited: true, unprocessed: true, filter: [] });
    expect(q().receiver).toBeUndefined();
    // amtool never sends an empty receiver, but an empty one means none, as go-swagger binds it.
    expect(q('receiver=').receiver).toBeUndefined();
  });

  test("booleans as Go's strconv.ParseBool reads them; anything else names the parameter", () => {
    expect(q('active=false&silenced=0&inhibited=F&unprocessed=TRUE')).toMatchObject({ active: false, silenced: false, inhibited: false, unprocessed: true });
    expect(() => q('silenced=yes')).toThrow('silenced in query must be of type boolean: "yes"');
  });

  test('filter is repeatable, one matcher each; a bad one is named', () => {
    expect(q('filter=alertname%3D"Disk"&filter=severity%3D~"crit.*"').filter.map(String)).toEqual(['alertname="Disk"', 'severity=~"crit.*"']);
    expect(() => q('filter=bad-name%3Dx')).toThrow(/bad filter "bad-name=x": bad matcher format/);
    expect(() => q('filter=a%3D~"("')).toThrow(/bad filter .*invalid regular expression/);
  });

  test('receiver is an anchored RE2 regex; an invalid one is a 400 naming it', () => {
    const { receiver } = q('receiver=team|ops');
    expect(['team', 'ops', 'team-x', 'x-ops'].map((r) => receiver?.test(r))).toEqual([true, true, false, false]);
    expect(() => q('receiver=(')).toThrow(/failed to parse receiver param/);
  });
});

describe("Alertmanager's filter semantics (matchFilterLabels)", () => {
  const m = (...texts: string[]) => texts.map(parseMatcher);
  test.each([
    [['a="x"'], { a: 'x' }, true],
    [['a="x"'], { a: 'y' }, false],
    [['a=""'], {}, true],
    [['a=""'], { a: 'x' }, false],
    [['a!=""'], { a: 'x' }, true],
    [['a!=""'], {}, false],
    [['a=~"x|"'], {}, true],
    [['a!~"x"'], { a: 'y' }, true],
    [['a!~"x"'], { a: 'x' }, false],
    [['a="x"', 'b=~"1.*"'], { a: 'x', b: '12' }, true],
    [['a="x"', 'b=~"1.*"'], { a: 'x', b: '2' }, false],
  ] as const)('%j on %j: %s', (matchers, labels, expected) => {
    expect(matchesFilter(m(...matchers), labels)).toBe(expected);
  });
});

describe('gettable alerts', () => {
  test("Alertmanager's shape: RFC 3339 times, receivers as {name}, state active, empty lists not null", () => {
    expect(gettableAlert(view({ alertname: 'Disk' }, { alert: { generatorURL: 'http://prom/graph' } }))).toEqual({
      annotations: { summary: 's' },
      endsAt: '2026-01-01T00:05:00.000Z',
      fingerprint: fingerprint({ alertname: 'Disk' }),
      receivers: [{ name: 'team' }],
      startsAt: '2026-01-01T00:00:00.000Z',
      status: { inhibitedBy: [], silencedBy: [], state: 'active' },
      updatedAt: '2026-01-01T00:00:01.000Z',
      generatorURL: 'http://prom/graph',
      labels: { alertname: 'Disk' },
    });
  });

  test("silenced or inhibited: suppressed; no end known: Go's zero time; no generatorURL: left out", () => {
    const silenced = gettableAlert(view({ a: '1' }, { silencedBy: ['s1'], alert: { endsAt: undefined } }));
    expect(silenced).toMatchObject({ status: { state: 'suppressed', silencedBy: ['s1'] }, endsAt: '0001-01-01T00:00:00.000Z' });
    expect(silenced).not.toHaveProperty('generatorURL');
    expect(gettableAlert(view({ a: '2' }, { inhibitedBy: ['fp'] })).status.state).toBe('suppressed');
  });

  test('pending and resolved alerts are not Alertmanager alerts: left out; the rest sorted by fingerprint', () => {
    const views = [view({ a: '1' }), view({ a: '2' }, { alert: { state: 'pending' } }), view({ a: '3' }, { alert: { state: 'resolved' } }), view({ a: '4' })];
    const listed = listAlerts(views, q());
    expect(listed.map((a) => a.labels.a).sort()).toEqual(['1', '4']);
    expect(listed.map((a) => a.fingerprint)).toEqual([...listed.map((a) => a.fingerprint)].sort());
  });

  test('active / silenced / inhibited flags and the receiver regex, as amtool sends them', () => {
    const views = [view({ n: 'active' }), view({ n: 'silenced' }, { silencedBy: ['s'] }), view({ n: 'inhibited' }, { inhibitedBy: ['f'] }), view({ n: 'both' }, { silencedBy: ['s'], inhibitedBy: ['f'], receivers: ['ops'] })];
    const names = (query: string) => listAlerts(views, q(query)).map((a) => a.labels.n).sort();
    // amtool alert query (no flag): active only.
    expect(names('active=true&silenced=false&inhibited=false&unprocessed=false')).toEqual(['active']);
    expect(names('active=false&silenced=true&inhibited=false')).toEqual(['silenced']);
    expect(names('active=false&silenced=true&inhibited=true')).toEqual(['both', 'inhibited', 'silenced']);
    expect(names('receiver=ops')).toEqual(['both']);
    expect(names('filter=n%3D~"s.*"')).toEqual(['silenced']);
  });
});

describe('alert groups', () => {
  const group = (receiver: string, labels: Record<string, string>, alerts: AlertView[]): GroupAlertsView => ({ routePath: '/', receiver, groupKey: `{}:${JSON.stringify(labels)}`, groupLabels: labels, alerts });

  test("groups sorted by labels then receiver, alerts by job/instance then labels; an alert's receivers are its listed groups'", () => {
    const a = view({ alertname: 'A', job: 'z' });
    const b = view({ alertname: 'A', job: 'a' });
    const c = view({ alertname: 'A' });
    const groups = [group('web', { alertname: 'A' }, [c, a, b]), group('db', { alertname: 'A' }, [a]), group('db', {}, [c])];
    const listed = listAlertGroups(groups, q());
    expect(listed.map((g) => [g.receiver.name, g.labels])).toEqual([
      ['db', {}],
      ['db', { alertname: 'A' }],
      ['web', { alertname: 'A' }],
    ]);
    expect(listed[2].alerts.map((x) => x.labels.job ?? '-')).toEqual(['a', 'z', '-']);
    const receiversOf = (labels: Record<string, string>) => listed[2].alerts.find((x) => x.fingerprint === fingerprint(labels))?.receivers.map((r) => r.name);
    expect(receiversOf({ alertname: 'A', job: 'z' })).toEqual(['db', 'web']);
    expect(receiversOf({ alertname: 'A', job: 'a' })).toEqual(['web']);
  });

  test('the receiver regex drops groups; a group left without alerts is not listed', () => {
    const groups = [group('web', {}, [view({ a: '1' }, { silencedBy: ['s'] })]), group('db', {}, [view({ a: '2' })])];
    expect(listAlertGroups(groups, q('receiver=web')).map((g) => g.receiver.name)).toEqual(['web']);
    expect(listAlertGroups(groups, q('silenced=false')).map((g) => g.receiver.name)).toEqual(['db']);
  });
});

test('gettable silence: the view in the API shape', () => {
  const silence = { id: 'id1', matchers: [{ name: 'a', value: 'b', isRegex: false, isEqual: true }], startsAt: 's', endsAt: 'e', updatedAt: 'u', createdBy: 'me', comment: 'c', state: 'active' as const };
  expect(gettableSilence(silence)).toEqual({ id: 'id1', status: { state: 'active' }, updatedAt: 'u', comment: 'c', createdBy: 'me', endsAt: 'e', matchers: [{ isEqual: true, isRegex: false, name: 'a', value: 'b' }], startsAt: 's' });
});

describe("the agent's /alerts routes: parameters", () => {
  test('state: repeatable or comma-separated; an unknown one is ALERT_BAD_QUERY naming it', () => {
    expect(parseStates(new URLSearchParams(''))).toBeUndefined();
    expect(parseStates(new URLSearchParams('state=pending,firing&state=resolved'))).toEqual(['pending', 'firing', 'resolved']);
    expect(() => parseStates(new URLSearchParams('state=active'))).toThrow(expect.objectContaining({ status: 400, code: 'ALERT_BAD_QUERY', message: expect.stringContaining('"active"') }));
  });

  test('ack: by required; duration from now; expires_at normalized; not both', () => {
    expect(parseAck({ by: 'ann' }, T0)).toEqual({ by: 'ann' });
    expect(parseAck({ by: 'ann', comment: 'on it', duration: '2h' }, T0)).toEqual({ by: 'ann', comment: 'on it', expiresAt: '2026-01-01T02:00:00.000Z' });
    expect(parseAck({ by: 'ann', expires_at: '2026-01-01T03:00:00+01:00' }, T0)).toEqual({ by: 'ann', expiresAt: '2026-01-01T02:00:00.000Z' });
    const bad = (body: unknown, text: string) => expect(() => parseAck(body, T0)).toThrow(expect.objectContaining({ status: 400, code: 'ALERT_INVALID', message: expect.stringContaining(text) }));
    bad({}, 'acknowledgement by:');
    bad({ by: ' ' }, 'acknowledgement by: who acknowledges');
    bad({ by: 'ann', duration: '2 hours' }, 'not a positive duration: "2 hours"');
    bad({ by: 'ann', duration: '0' }, 'not a positive duration');
    bad({ by: 'ann', expires_at: 'tomorrow' }, 'acknowledgement expires_at: an RFC 3339 time');
    bad({ by: 'ann', expires_at: '2026-01-01T03:00:00Z', duration: '1h' }, 'expires_at or duration, not both');
    bad({ by: 'ann', until: 'x' }, 'until');
    bad([], 'body');
  });
});
