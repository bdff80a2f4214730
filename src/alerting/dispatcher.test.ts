import { FakeClock } from '../core/clock';
import { Acknowledgements, acknowledgementView } from './acks';
import type { Alert } from './alerts';
import { alertmanagerConfigSchema } from './config';
import { Dispatcher, labelSetString, needsUpdate, type DispatcherOptions, type MuteDecision } from './dispatcher';
import { fingerprint } from './fingerprint';
import { NotificationLog, type Notification, type NotificationAlert } from './notification';
import { Route } from './route';

const S = 1000;
const M = 60 * S;

function tree(route: unknown): Route {
  const parsed = alertmanagerConfigSchema.parse({ route, receivers: [] });
  return new Route(parsed.route as NonNullable<typeof parsed.route>);
}

/** An alert as the alert table holds it. */
function alert(labels: Record<string, string>, clock: FakeClock, state: 'firing' | 'resolved' = 'firing', startsAt = clock.now()): Alert {
  return {
    fingerprint: fingerprint(labels),
    labels,
    annotations: { summary: `about ${labels.instance ?? labels.alertname}` },
    state,
    origin: 'external',
    startsAt,
    ...(state === 'resolved' && { endsAt: clock.now() }),
    timeout: false,
    updatedAt: clock.now(),
    occurrences: 1,
    forMs: 0,
    forCount: 1,
    resolveTimeoutMs: 0,
  };
}

const ROUTE = { receiver: 'ops', group_by: ['alertname'], group_wait: '30s', group_interval: '5m', repeat_interval: '4h' };

function setup(route: unknown = ROUTE, extra: Partial<DispatcherOptions> = {}) {
  const clock = new FakeClock();
  const sent: Notification[] = [];
  const muted: MuteDecision[] = [];
  const dispatcher = new Dispatcher({ route: tree(route), clock, onNotify: (n) => sent.push(n), onMuted: (d) => muted.push(d), ...extra });
  return { clock, sent, muted, dispatcher };
}

describe('Dispatcher: grouping and timers', () => {
  test('300 alerts of one group make exactly one notification listing them all, after group_wait', async () => {
    const { clock, sent, dispatcher } = setup();
    for (let i = 0; i < 300; i++) dispatcher.put(alert({ alertname: 'DiskFull', instance: `host-${i}` }, clock));
    await clock.advance(30 * S - 1);
    expect(sent).toHaveLength(0);
    await clock.advance(1);
    expect(sent).toHaveLength(1);
    const [n] = sent;
    expect(n.alerts).toHaveLength(300);
    expect(new Set(n.alerts.map((a) => a.labels.instance)).size).toBe(300);
    expect(n).toMatchObject({ receiver: 'ops', groupKey: '{}:{alertname="DiskFull"}', groupLabels: { alertname: 'DiskFull' }, commonLabels: { alertname: 'DiskFull' }, status: 'firing', reminder: false, reason: 'first_notification', truncatedAlerts: 0 });
    expect(n.alerts[0]).not.toHaveProperty('endsAt');
    // Nothing changed: the next group_interval ticks send nothing.
    await clock.advance(30 * M);
    expect(sent).toHaveLength(1);
  });

  test('separate group labels make separate groups', async () => {
    const { clock, sent, dispatcher } = setup();
    dispatcher.put(alert({ alertname: 'A' }, clock));
    dispatcher.put(alert({ alertname: 'B' }, clock));
    await clock.advance(30 * S);
    expect(sent.map((n) => n.groupKey).sort()).toEqual(['{}:{alertname="A"}', '{}:{alertname="B"}']);
  });

  test('a new alert in a notified group is flushed at the next group_interval, not before', async () => {
    const { clock, sent, dispatcher } = setup();
    dispatcher.put(alert({ alertname: 'DiskFull', instance: 'a' }, clock));
    await clock.advance(30 * S); // first flush at t=30s; next ticks at 5m30s, 10m30s, ...
    expect(sent).toHaveLength(1);
    await clock.advance(1 * M);
    dispatcher.put(alert({ alertname: 'DiskFull', instance: 'b' }, clock));
    await clock.advance(4 * M - 1);
    expect(sent).toHaveLength(1);
    await clock.advance(1);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toMatchObject({ reason: 'new_alerts_in_group', reminder: false });
    expect(sent[1].alerts.map((a) => a.labels.instance)).toEqual(['a', 'b']);
  });

  test('an alert older than group_wait flushes its new group at once', async () => {
    const { clock, sent, dispatcher } = setup();
    dispatcher.put(alert({ alertname: 'Old' }, clock, 'firing', clock.now() - 10 * M));
    await clock.advance(0);
    expect(sent).toHaveLength(1);
  });

  test('an unchanged firing group gets repeat_interval reminders marked reminder: true', async () => {
    const { clock, sent, dispatcher } = setup({ ...ROUTE, repeat_interval: '1h' });
    dispatcher.put(alert({ alertname: 'DiskFull' }, clock));
    await clock.advance(30 * S);
    expect(sent).toHaveLength(1);
    // Ticks at 30s + k·5m; the entry (t=30s) is older than 1h strictly after 1h30s: the tick at 1h05m30s.
    await clock.advance(1 * 3_600_000 + 5 * M - 1);
    expect(sent).toHaveLength(1);
    await clock.advance(1);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toMatchObject({ reminder: true, reason: 'repeat_interval_elapsed' });
    await clock.advance(65 * M);
    expect(sent).toHaveLength(3);
    expect(sent[2].reminder).toBe(true);
  });

  test('a resolved alert goes out once in the next flush, then leaves the group', async () => {
    const { clock, sent, dispatcher } = setup();
    const t0 = clock.now();
    dispatcher.put(alert({ alertname: 'DiskFull', instance: 'a' }, clock));
    dispatcher.put(alert({ alertname: 'DiskFull', instance: 'b' }, clock));
    await clock.advance(30 * S);
    dispatcher.put(alert({ alertname: 'DiskFull', instance: 'a' }, clock, 'resolved', t0));
    await clock.advance(5 * M);
    expect(sent).toHaveLength(2);
    expect(sent[1].reason).toBe('new_resolved_alerts');
    expect(sent[1].alerts.map((a) => [a.labels.instance, a.status])).toEqual([
      ['a', 'resolved'],
      ['b', 'firing'],
    ]);
    expect(sent[1].alerts[0].endsAt).toBeDefined();
    expect(dispatcher.list()[0].alerts.map((a) => a.labels.instance)).toEqual(['b']);
    await clock.advance(30 * M);
    expect(sent).toHaveLength(2);
  });

  test('all alerts resolved: one resolved notification, then the group is gone', async () => {
    const { clock, sent, dispatcher } = setup();
    dispatcher.put(alert({ alertname: 'DiskFull' }, clock));
    await clock.advance(30 * S);
    dispatcher.put(alert({ alertname: 'DiskFull' }, clock, 'resolved'));
    await clock.advance(5 * M);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toMatchObject({ status: 'resolved', reason: 'all_alerts_resolved', reminder: false });
    expect(dispatcher.list()).toEqual([]);
    expect(clock.pending).toBe(0);
    await clock.advance(8 * 3_600_000);
    expect(sent).toHaveLength(2);
  });

  test('send_resolved: false sends no resolved notification and lists no resolved alert', async () => {
    const { clock, sent, dispatcher } = setup(ROUTE, { receiver: (name) => (name === 'ops' ? { sendResolved: false } : undefined) });
    dispatcher.put(alert({ alertname: 'DiskFull', instance: 'a' }, clock));
    dispatcher.put(alert({ alertname: 'DiskFull', instance: 'b' }, clock));
    await clock.advance(30 * S);
    dispatcher.put(alert({ alertname: 'DiskFull', instance: 'a' }, clock, 'resolved'));
    await clock.advance(5 * M);
    expect(sent).toHaveLength(1); // a resolving alone is no news without send_resolved
    dispatcher.put(alert({ alertname: 'DiskFull', instance: 'b' }, clock, 'resolved'));
    await clock.advance(5 * M);
    expect(sent).toHaveLength(1);
    expect(dispatcher.list()).toEqual([]);
    // The log forgot the firing alerts: the next firing is a first notification again.
    dispatcher.put(alert({ alertname: 'DiskFull', instance: 'b' }, clock));
    await clock.advance(30 * S);
    expect(sent).toHaveLength(2);
    expect(sent[1].reason).toBe('first_notification');
  });

  test('a group that only ever held resolved alerts sends nothing', async () => {
    const { clock, sent, dispatcher } = setup();
    dispatcher.put(alert({ alertname: 'Gone' }, clock, 'resolved'));
    await clock.advance(M);
    expect(sent).toHaveLength(0);
    expect(dispatcher.list()).toEqual([]);
  });

  test('pending alerts are not routed', async () => {
    const { clock, sent, dispatcher } = setup();
    dispatcher.put({ ...alert({ alertname: 'Soon' }, clock), state: 'pending' });
    await clock.advance(M);
    expect(sent).toHaveLength(0);
  });

  test("alerts are listed in Alertmanager's order: job, then instance, then labels", async () => {
    const { clock, sent, dispatcher } = setup();
    const sets: Record<string, string>[] = [{ alertname: 'X', zone: 'b' }, { alertname: 'X', instance: 'z' }, { alertname: 'X', zone: 'a' }, { alertname: 'X', job: 'b' }, { alertname: 'X', job: 'a', instance: 'y' }, { alertname: 'X' }];
    for (const labels of sets) {
      dispatcher.put(alert(labels, clock));
    }
    await clock.advance(30 * S);
    expect(sent[0].alerts.map((a) => labelSetString(a.labels))).toEqual([
      '{alertname="X", instance="y", job="a"}',
      '{alertname="X", job="b"}',
      '{alertname="X", instance="z"}',
      '{alertname="X"}',
      '{alertname="X", zone="a"}',
      '{alertname="X", zone="b"}',
    ]);
  });

  test('maxAlerts caps the list and counts the rest', async () => {
    const { clock, sent, dispatcher } = setup(ROUTE, { maxAlerts: 10 });
    for (let i = 0; i < 25; i++) dispatcher.put(alert({ alertname: 'X', instance: `h${i}` }, clock));
    await clock.advance(30 * S);
    expect(sent[0].alerts).toHaveLength(10);
    expect(sent[0].truncatedAlerts).toBe(15);
  });

  test('a throwing onNotify keeps the resolved alerts and logs nothing, so the next flush retries', async () => {
    let fail = true;
    const errors: unknown[] = [];
    const sent: Notification[] = [];
    const clock = new FakeClock();
    const dispatcher = new Dispatcher({
      route: tree(ROUTE),
      clock,
      onNotify: (n) => {
        if (fail) throw new Error('sink down');
        sent.push(n);
      },
      onError: (e) => errors.push(e),
    });
    dispatcher.put(alert({ alertname: 'X' }, clock));
    await clock.advance(30 * S);
    expect(errors).toHaveLength(1);
    fail = false;
    await clock.advance(5 * M);
    expect(sent).toHaveLength(1);
    expect(sent[0].reason).toBe('first_notification');
  });
});

describe('Dispatcher: routes', () => {
  test('continue: one notification per matched route, each to its receiver with its own group key', async () => {
    const { clock, sent, dispatcher } = setup({
      ...ROUTE,
      routes: [
        { matchers: ['team="db"'], receiver: 'db-pager', continue: true },
        { matchers: ['severity="critical"'], receiver: 'oncall', group_by: ['...'] },
        { matchers: ['team="db"'], receiver: 'never' },
      ],
    });
    dispatcher.put(alert({ alertname: 'Slow', team: 'db', severity: 'critical' }, clock));
    await clock.advance(30 * S);
    expect(sent.map((n) => [n.receiver, n.groupKey]).sort()).toEqual([
      ['db-pager', '{}/{team="db"}:{alertname="Slow"}'],
      ['oncall', '{}/{severity="critical"}:{alertname="Slow", severity="critical", team="db"}'],
    ]);
  });

  test('each route keeps its own timers', async () => {
    const { clock, sent, dispatcher } = setup({ ...ROUTE, routes: [{ matchers: ['team="db"'], receiver: 'db', group_wait: '5s', continue: true }] });
    dispatcher.put(alert({ alertname: 'Slow', team: 'db' }, clock));
    await clock.advance(5 * S);
    expect(sent.map((n) => n.receiver)).toEqual(['db']);
  });

  test('labelSetString and the group key quote values as Go does', () => {
    expect(labelSetString({ b: 'x"y', a: 'line\nnext\\' })).toBe('{a="line\\nnext\\\\", b="x\\"y"}');
    expect(labelSetString({})).toBe('{}');
  });
});

describe('Dispatcher: muting', () => {
  test('silenced alerts are left out, reported once; an all-silenced group sends nothing', async () => {
    const silenced = new Set(['b']);
    const { clock, sent, muted, dispatcher } = setup(ROUTE, { silencedBy: (l) => (silenced.has(l.instance) ? ['s1'] : []) });
    dispatcher.put(alert({ alertname: 'X', instance: 'a' }, clock));
    dispatcher.put(alert({ alertname: 'X', instance: 'b' }, clock));
    dispatcher.put(alert({ alertname: 'Y', instance: 'b' }, clock));
    await clock.advance(30 * S);
    expect(sent.map((n) => [n.groupKey, n.alerts.map((a) => a.labels.instance)])).toEqual([['{}:{alertname="X"}', ['a']]]);
    await clock.advance(10 * M);
    expect(muted.filter((d) => d.kind === 'silenced').map((d) => d.kind === 'silenced' && [d.labels.alertname, d.silenceIds])).toEqual([
      ['X', ['s1']],
      ['Y', ['s1']],
    ]);
    // The silence ends: b is news for group X, and group Y notifies for the first time.
    silenced.clear();
    await clock.advance(5 * M);
    expect(sent.slice(1).map((n) => [n.groupKey, n.reason])).toEqual([
      ['{}:{alertname="X"}', 'new_alerts_in_group'],
      ['{}:{alertname="Y"}', 'first_notification'],
    ]);
  });

  test('inhibited alerts are left out and reported with their source', async () => {
    const { clock, sent, muted, dispatcher } = setup(ROUTE, { inhibitedBy: (l) => (l.severity === 'warning' ? { rule: 0, sourceId: 'abc' } : undefined) });
    dispatcher.put(alert({ alertname: 'X', severity: 'warning' }, clock));
    dispatcher.put(alert({ alertname: 'X', severity: 'critical' }, clock));
    await clock.advance(30 * S);
    expect(sent[0].alerts.map((a) => a.labels.severity)).toEqual(['critical']);
    expect(muted).toEqual([expect.objectContaining({ kind: 'inhibited', receiver: 'ops', inhibition: { rule: 0, sourceId: 'abc' } })]);
  });

  test('a time-muted route sends nothing while muted and notifies at the first flush after', async () => {
    let mutedNow = true;
    const { clock, sent, muted, dispatcher } = setup(
      { ...ROUTE, routes: [{ matchers: ['team="db"'], mute_time_intervals: ['night'] }] },
      { timeMuted: (route) => (mutedNow && route.muteTimeIntervals?.includes('night') ? { muted: true, reason: 'mute_time_intervals', by: ['night'] } : { muted: false }) },
    );
    dispatcher.put(alert({ alertname: 'X', team: 'db' }, clock));
    dispatcher.put(alert({ alertname: 'X', team: 'web' }, clock));
    await clock.advance(30 * S);
    expect(sent.map((n) => n.groupKey)).toEqual(['{}:{alertname="X"}']);
    await clock.advance(20 * M);
    expect(muted).toEqual([expect.objectContaining({ kind: 'time_muted', groupKey: '{}/{team="db"}:{alertname="X"}', reason: 'mute_time_intervals', intervals: ['night'] })]);
    mutedNow = false;
    await clock.advance(5 * M);
    expect(sent.map((n) => [n.groupKey, n.reason])).toEqual([
      ['{}:{alertname="X"}', 'first_notification'],
      ['{}/{team="db"}:{alertname="X"}', 'first_notification'],
    ]);
  });
});

describe('Dispatcher: notification log', () => {
  async function notifyOnce(): Promise<{ clock: FakeClock; snapshot: ReturnType<NotificationLog['snapshot']>; alerts: Alert[] }> {
    const { clock, sent, dispatcher } = setup();
    const alerts = [alert({ alertname: 'X', instance: 'a' }, clock), alert({ alertname: 'X', instance: 'b' }, clock)];
    for (const a of alerts) dispatcher.put(a);
    await clock.advance(30 * S);
    expect(sent).toHaveLength(1);
    dispatcher.stop();
    return { clock, snapshot: JSON.parse(JSON.stringify(dispatcher.log.snapshot(clock.now()))), alerts };
  }

  test('after a restore from a snapshot, the same alerts are not notified again before repeat_interval', async () => {
    const { clock, snapshot, alerts } = await notifyOnce();
    await clock.advance(10 * M); // the agent was down for a while
    const log = new NotificationLog();
    log.restore(snapshot);
    const sent: Notification[] = [];
    const restarted = new Dispatcher({ route: tree(ROUTE), clock, log, onNotify: (n) => sent.push(n) });
    for (const a of alerts) restarted.put(a);
    // Flushes at once (old alerts), then every 5m; the entry of t=30s is older than 4h from 4h05m30s on.
    await clock.advance(4 * 3_600_000 - 10 * M);
    expect(sent).toHaveLength(0);
    await clock.advance(5 * M);
    expect(sent).toHaveLength(1);
    expect(sent[0].reminder).toBe(true);
  });

  test('without the log, a restart would notify again (the test above depends on it)', async () => {
    const { clock, alerts } = await notifyOnce();
    await clock.advance(10 * M);
    const sent: Notification[] = [];
    const restarted = new Dispatcher({ route: tree(ROUTE), clock, onNotify: (n) => sent.push(n) });
    for (const a of alerts) restarted.put(a);
    await clock.advance(0);
    expect(sent).toHaveLength(1);
  });

  test('restore refuses what snapshot did not write', () => {
    expect(() => new NotificationLog().restore({ version: 2 } as never)).toThrow(/not a notification log snapshot/);
    expect(() => new NotificationLog().restore({ version: 1, entries: [{ receiver: 'x' }] } as never)).toThrow(/entry 0/);
  });

  test('entries expire after twice the repeat interval', () => {
    const log = new NotificationLog();
    log.log({ receiver: 'r', groupKey: 'g', timestamp: 0, firing: ['f'], resolved: [] }, 1000);
    expect(log.query('r', 'g', 1999)).toBeDefined();
    expect(log.query('r', 'g', 2000)).toBeUndefined();
    expect(log.snapshot(2000).entries).toEqual([]);
  });
});

describe('needsUpdate (DedupStage)', () => {
  const set = (...xs: string[]) => new Set(xs);
  const entry = (firing: string[], resolved: string[] = [], timestamp = 0) => ({ firing, resolved, timestamp });
  test.each([
    ['no entry, firing', undefined, set('a'), set(), true, 'first_notification'],
    ['no entry, only resolved', undefined, set(), set('a'), true, undefined],
    ['new firing alert', entry(['a']), set('a', 'b'), set(), true, 'new_alerts_in_group'],
    ['firing after an all-resolved entry', entry([], ['a']), set('a'), set(), true, 'first_notification'],
    ['fewer firing, none new', entry(['a', 'b']), set('a'), set(), true, undefined],
    ['all resolved after firing', entry(['a']), set(), set('a'), false, 'all_alerts_resolved'],
    ['all resolved, nothing was firing', entry([], ['a']), set(), set('a'), true, undefined],
    ['new resolved with send_resolved', entry(['a', 'b']), set('a'), set('b'), true, 'new_resolved_alerts'],
    ['new resolved without send_resolved', entry(['a', 'b']), set('a'), set('b'), false, undefined],
  ] as const)('%s', (_name, e, firing, resolved, sendResolved, expected) => {
    expect(needsUpdate(e as never, firing, resolved, sendResolved, 3_600_000, 60_000)).toBe(expected);
  });

  test('the repeat interval must have passed strictly', () => {
    expect(needsUpdate(entry(['a'], [], 0), set('a'), set(), true, 1000, 1000)).toBeUndefined();
    expect(needsUpdate(entry(['a'], [], 0), set('a'), set(), true, 1000, 1001)).toBe('repeat_interval_elapsed');
  });
});

const H = 3_600_000;

/** A dispatcher whose listed alerts carry the acknowledgements of a real {@link Acknowledgements}. */
function setupWithAcks(route: unknown = { ...ROUTE, repeat_interval: '1h' }, extra: Partial<DispatcherOptions> = {}) {
  const clock = new FakeClock();
  const acks = new Acknowledgements(clock);
  const sent: Notification[] = [];
  const muted: MuteDecision[] = [];
  const dispatcher = new Dispatcher({
    route: tree(route),
    clock,
    onNotify: (n) => sent.push(n),
    onMuted: (d) => muted.push(d),
    acknowledged: (a) => {
      const ack = acks.active(a);
      return ack && acknowledgementView(ack);
    },
    ...extra,
  });
  return { clock, acks, sent, muted, dispatcher };
}

const byInstance = (n: Notification): Record<string, NotificationAlert['acknowledgement']> => Object.fromEntries(n.alerts.map((a) => [a.labels.instance, a.acknowledgement]));

describe('Dispatcher: acknowledgements', () => {
  test('an acknowledged group gets no reminders, however long the ack holds; the log keeps the last real notification', async () => {
    const { clock, acks, sent, dispatcher } = setupWithAcks();
    const x = alert({ alertname: 'X', instance: 'a' }, clock);
    dispatcher.put(x);
    await clock.advance(30 * S);
    expect(sent).toHaveLength(1);
    acks.acknowledge(x, { by: 'alice', comment: 'on it' });
    // Longer than twice repeat_interval: the log entry must not expire into a "first notification".
    await clock.advance(10 * H);
    expect(sent).toHaveLength(1);
    expect(dispatcher.log.query('ops', '{}:{alertname="X"}', clock.now())).toMatchObject({ timestamp: Date.UTC(2026, 0, 1) + 30 * S, firing: [x.fingerprint] });
  });

  test('when the ack expires, the next flush reminds', async () => {
    const { clock, acks, sent, dispatcher } = setupWithAcks();
    const x = alert({ alertname: 'X', instance: 'a' }, clock);
    dispatcher.put(x);
    await clock.advance(30 * S); // flushes at 30s + k·5m
    await clock.advance(30 * S);
    acks.acknowledge(x, { by: 'alice', expiresAt: new Date(clock.now() + 2 * H).toISOString() }); // until 2h01m
    await clock.advance(2 * H + 5 * M - 30 * S - 1); // the tick of 2h00m30s was still acknowledged
    expect(sent).toHaveLength(1);
    await clock.advance(1); // 2h05m30s
    expect(sent).toHaveLength(2);
    expect(sent[1]).toMatchObject({ reason: 'repeat_interval_elapsed', reminder: true });
    expect(sent[1].alerts[0]).not.toHaveProperty('acknowledgement');
  });

  test('a new alert in an acknowledged group still notifies, showing the ack; then the unacknowledged one gets reminders', async () => {
    const { clock, acks, sent, dispatcher } = setupWithAcks();
    const a = alert({ alertname: 'X', instance: 'a' }, clock);
    dispatcher.put(a);
    await clock.advance(30 * S);
    acks.acknowledge(a, { by: 'alice', comment: 'disk cleanup running' });
    await clock.advance(30 * S);
    const b = alert({ alertname: 'X', instance: 'b' }, clock);
    dispatcher.put(b);
    await clock.advance(4 * M + 30 * S); // the tick of 5m30s
    expect(sent).toHaveLength(2);
    expect(sent[1]).toMatchObject({ reason: 'new_alerts_in_group', reminder: false });
    expect(byInstance(sent[1])).toEqual({ a: { by: 'alice', comment: 'disk cleanup running', at: '2026-01-01T00:00:30.000Z' }, b: undefined });
    // b is not acknowledged: the group is reminded of (at the tick after 1h05m30s), with a's ack shown.
    await clock.advance(H + 5 * M);
    expect(sent).toHaveLength(3);
    expect(sent[2]).toMatchObject({ reason: 'repeat_interval_elapsed', reminder: true });
    expect(byInstance(sent[2]).a?.by).toBe('alice');
    acks.acknowledge(b, { by: 'bob' });
    await clock.advance(5 * H);
    expect(sent).toHaveLength(3);
  });

  test('a resolved alert is notified as resolved despite its ack; when it fires again it is news, not acknowledged', async () => {
    const { clock, acks, sent, dispatcher } = setupWithAcks();
    const first = alert({ alertname: 'X', instance: 'a' }, clock);
    dispatcher.put(first);
    await clock.advance(30 * S);
    acks.acknowledge(first, { by: 'alice' });
    await clock.advance(M);
    dispatcher.put(alert({ alertname: 'X', instance: 'a' }, clock, 'resolved', first.startsAt));
    await clock.advance(4 * M); // 5m30s
    expect(sent.map((n) => n.reason)).toEqual(['first_notification', 'all_alerts_resolved']);
    expect(sent[1].alerts[0]).not.toHaveProperty('acknowledgement');
    await clock.advance(M);
    const again = alert({ alertname: 'X', instance: 'a' }, clock);
    dispatcher.put(again);
    await clock.advance(30 * S);
    expect(sent[2]).toMatchObject({ reason: 'first_notification' });
    expect(sent[2].alerts[0]).not.toHaveProperty('acknowledgement');
    await clock.advance(H + 5 * M);
    expect(sent[3]).toMatchObject({ reason: 'repeat_interval_elapsed', reminder: true });
  });

  test('acknowledged(): only receivers that were notified of the alert hear of the ack, with only that alert, not logged', async () => {
    let night = true;
    const { clock, acks, sent, dispatcher } = setupWithAcks(
      {
        ...ROUTE,
        repeat_interval: '1h',
        routes: [
          { matchers: ['team="db"'], receiver: 'db-pager', mute_time_intervals: ['night'], continue: true },
          { matchers: ['team="db"'], receiver: 'ops' },
        ],
      },
      { timeMuted: (route) => (night && route.muteTimeIntervals?.includes('night') ? { muted: true, reason: 'mute_time_intervals', by: ['night'] } : { muted: false }) },
    );
    const a = alert({ alertname: 'Slow', team: 'db', instance: 'a' }, clock);
    dispatcher.put(a);
    dispatcher.put(alert({ alertname: 'Slow', team: 'db', instance: 'b' }, clock));
    acks.acknowledge(a, { by: 'alice' });
    dispatcher.acknowledged(a); // before any flush nobody was told
    expect(sent).toHaveLength(0);
    await clock.advance(30 * S);
    expect(sent.map((n) => n.receiver)).toEqual(['ops']); // db-pager is muted at night
    const entry = dispatcher.log.query('ops', '{}/{team="db"}:{alertname="Slow"}', clock.now());
    await clock.advance(M);
    acks.acknowledge(a, { by: 'alice', comment: 'seen' });
    dispatcher.acknowledged(a);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toEqual({
      receiver: 'ops',
      groupKey: '{}/{team="db"}:{alertname="Slow"}',
      groupLabels: { alertname: 'Slow' },
      commonLabels: { alertname: 'Slow', team: 'db', instance: 'a' },
      commonAnnotations: { summary: 'about a' },
      status: 'firing',
      alerts: [expect.objectContaining({ fingerprint: a.fingerprint, acknowledgement: { by: 'alice', comment: 'seen', at: '2026-01-01T00:01:30.000Z' } })],
      truncatedAlerts: 0,
      reminder: false,
      reason: 'acknowledged',
      timestamp: '2026-01-01T00:01:30.000Z',
    });
    expect(dispatcher.log.query('ops', '{}/{team="db"}:{alertname="Slow"}', clock.now())).toEqual(entry);
    // A new alert not flushed yet: its receiver was not told of it.
    const c = alert({ alertname: 'Slow', team: 'db', instance: 'c' }, clock);
    dispatcher.put(c);
    acks.acknowledge(c, { by: 'alice' });
    dispatcher.acknowledged(c);
    expect(sent).toHaveLength(2);
    // The night ends: db-pager is notified (acks shown), and from then on hears of acks too.
    night = false;
    await clock.advance(4 * M);
    expect(sent.slice(2).map((n) => [n.receiver, n.reason, Object.entries(byInstance(n)).map(([i, ack]) => [i, ack?.by])])).toEqual([
      ['db-pager', 'first_notification', [['a', 'alice'], ['b', undefined], ['c', 'alice']]],
      ['ops', 'new_alerts_in_group', [['a', 'alice'], ['b', undefined], ['c', 'alice']]],
    ]);
    dispatcher.acknowledged(c);
    expect(sent.slice(4).map((n) => [n.receiver, n.reason, n.alerts.map((x) => x.labels.instance)])).toEqual([
      ['db-pager', 'acknowledged', ['c']],
      ['ops', 'acknowledged', ['c']],
    ]);
  });

  test('acknowledged() of an alert that is not firing, or in no group, sends nothing', async () => {
    const { clock, sent, dispatcher } = setupWithAcks();
    const a = alert({ alertname: 'X', instance: 'a' }, clock);
    dispatcher.put(a);
    await clock.advance(30 * S);
    dispatcher.acknowledged({ ...a, state: 'resolved' });
    dispatcher.acknowledged(alert({ alertname: 'Y' }, clock));
    expect(sent).toHaveLength(1);
  });
});

describe('Dispatcher: notices', () => {
  const routes = {
    ...ROUTE,
    routes: [
      { matchers: ['team="db"'], receiver: 'db-pager', group_by: ['alertname', 'team'], continue: true },
      { matchers: ['team="web"'], receiver: 'web' },
      { receiver: 'ops' },
    ],
  };

  test('a notice goes at once to every route it ends at, with the group key of that route, and leaves no group, timer or log entry', async () => {
    const { clock, sent, dispatcher } = setup(routes);
    const n = alert({ alertname: 'ConfigChanged', team: 'db' }, clock);
    dispatcher.notice(n);
    expect(sent.map((x) => [x.receiver, x.groupKey, x.groupLabels, x.reason, x.reminder, x.status, x.alerts.length])).toEqual([
      ['db-pager', '{}/{team="db"}:{alertname="ConfigChanged", team="db"}', { alertname: 'ConfigChanged', team: 'db' }, 'notice', false, 'firing', 1],
      ['ops', '{}/{}:{alertname="ConfigChanged"}', { alertname: 'ConfigChanged' }, 'notice', false, 'firing', 1],
    ]);
    expect(sent[0].alerts[0]).toMatchObject({ fingerprint: n.fingerprint, status: 'firing', labels: n.labels });
    expect(dispatcher.list()).toEqual([]);
    expect(clock.pending).toBe(0);
    expect(dispatcher.log.snapshot(clock.now()).entries).toEqual([]);
    // Same labels again: another notice, never deduplicated nor reminded of.
    dispatcher.notice(n);
    expect(sent).toHaveLength(4);
    await clock.advance(10 * H);
    expect(sent).toHaveLength(4);
    // The group keys are those of a flush of the same labels.
    dispatcher.put(n);
    await clock.advance(30 * S);
    expect(sent.slice(4).map((x) => [x.groupKey, x.reason]).sort()).toEqual([
      ['{}/{team="db"}:{alertname="ConfigChanged", team="db"}', 'first_notification'],
      ['{}/{}:{alertname="ConfigChanged"}', 'first_notification'],
    ]);
  });

  test('silenced, inhibited and time-muted notices are reported each time and not sent', () => {
    let mute: 'silenced' | 'inhibited' | 'time' | undefined;
    const { clock, sent, muted, dispatcher } = setup(ROUTE, {
      silencedBy: () => (mute === 'silenced' ? ['s1'] : []),
      inhibitedBy: () => (mute === 'inhibited' ? { rule: 0, sourceId: 'src' } : undefined),
      timeMuted: () => (mute === 'time' ? { muted: true, reason: 'active_time_intervals', by: ['office'] } : { muted: false }),
    });
    const n = alert({ alertname: 'ConfigChanged' }, clock);
    for (const m of ['silenced', 'inhibited', 'time'] as const) {
      mute = m;
      dispatcher.notice(n);
      dispatcher.notice(n);
    }
    expect(sent).toHaveLength(0);
    const groupKey = '{}:{alertname="ConfigChanged"}';
    const silenced = { kind: 'silenced', receiver: 'ops', groupKey, fingerprint: n.fingerprint, labels: n.labels, silenceIds: ['s1'] };
    const inhibited = { kind: 'inhibited', receiver: 'ops', groupKey, fingerprint: n.fingerprint, labels: n.labels, inhibition: { rule: 0, sourceId: 'src' } };
    const timeMuted = { kind: 'time_muted', receiver: 'ops', groupKey, fingerprints: [n.fingerprint], reason: 'active_time_intervals', intervals: ['office'] };
    expect(muted).toEqual([silenced, silenced, inhibited, inhibited, timeMuted, timeMuted]);
    mute = undefined;
    dispatcher.notice(n);
    expect(sent.map((x) => x.reason)).toEqual(['notice']);
  });

  test('a notice whose sink throws is reported to onError', () => {
    const errors: [unknown, Notification][] = [];
    const clock = new FakeClock();
    const dispatcher = new Dispatcher({
      route: tree(ROUTE),
      clock,
      onNotify: () => {
        throw new Error('sink down');
      },
      onError: (e, n) => errors.push([e, n]),
    });
    dispatcher.notice(alert({ alertname: 'ConfigChanged' }, clock));
    expect(errors.map(([e, n]) => [(e as Error).message, n.reason])).toEqual([['sink down', 'notice']]);
  });
});
