import { z } from 'zod';
import { busEvent as event } from '../../test/helpers/alert-events';
import { FakeClock } from '../core/clock';
import { AlertTable, type AlertDecision } from './alerts';
import { fingerprint } from './fingerprint';
import { AlertRules, alertRulesShape } from './rules';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 1);

function setup(config: unknown = {}) {
  const clock = new FakeClock(T0);
  const heard: AlertDecision[] = [];
  const table = new AlertTable({ clock, rules: new AlertRules(z.strictObject(alertRulesShape).parse(config)), onDecision: (d) => heard.push(d) });
  /** The decisions heard since the last call, as `kind alertname`. */
  const said = (): string[] => heard.splice(0).map((d) => `${d.kind} ${d.alert.labels.alertname}`);
  return { clock, table, said };
}

const diskFull = (extra: Record<string, unknown> = {}) => event('system.error', { severity: 'critical', message: 'disk full', component: 'storage', error_code: 'DISK_FULL', ...extra });
const status = (service: string, value: string) => event('service.status', { service_name: service, status: value });

describe('alerts from events', () => {
  test('a system.error fires at once (no `for`) and is in the table by its fingerprint', () => {
    const { table, said } = setup();
    const decisions = table.ingest(diskFull());
    expect(decisions.map((d) => d.kind)).toEqual(['firing']);
    expect(said()).toEqual(['firing DISK_FULL']);
    const alert = table.get(fingerprint(decisions[0].alert.labels));
    expect(alert).toMatchObject({ state: 'firing', origin: 'event', startsAt: T0, endsAt: T0 + 5 * MINUTE, occurrences: 1, rule: 'default: system.error' });
  });

  test('it resolves resolve_timeout (5m) after the last occurrence, not before', async () => {
    const { clock, table, said } = setup();
    table.ingest(diskFull());
    said();
    await clock.advance(5 * MINUTE - 1);
    expect(said()).toEqual([]);
    await clock.advance(1);
    expect(said()).toEqual(['resolved DISK_FULL']);
    expect(table.list()[0]).toMatchObject({ state: 'resolved', endsAt: T0 + 5 * MINUTE });
  });

  test('a repeat keeps it firing: endsAt moves, annotations update, startsAt stays, no new decision', async () => {
    const { clock, table, said } = setup();
    table.ingest(diskFull());
    said();
    await clock.advance(4 * MINUTE);
    expect(table.ingest(diskFull({ message: 'disk still full' }))).toEqual([]);
    await clock.advance(4 * MINUTE);
    expect(said()).toEqual([]);
    const [alert] = table.list();
    expect(alert).toMatchObject({ state: 'firing', startsAt: T0, endsAt: T0 + 9 * MINUTE, updatedAt: T0 + 4 * MINUTE, occurrences: 2 });
    expect(alert.annotations.summary).toBe('disk still full');
    await clock.advance(MINUTE);
    expect(said()).toEqual(['resolved DISK_FULL']);
  });

  test('resolve_timeout per rule', async () => {
    const { clock, table, said } = setup({ rules: [{ event: 'system.error', resolve_timeout: '1h' }] });
    table.ingest(diskFull());
    await clock.advance(59 * MINUTE);
    expect(said()).toEqual(['firing DISK_FULL']);
    await clock.advance(MINUTE);
    expect(said()).toEqual(['resolved DISK_FULL']);
  });

  test('after it resolved, the same error starts a new lifecycle', async () => {
    const { clock, table, said } = setup();
    table.ingest(diskFull());
    await clock.advance(6 * MINUTE);
    table.ingest(diskFull());
    expect(said()).toEqual(['firing DISK_FULL', 'resolved DISK_FULL', 'firing DISK_FULL']);
    expect(table.list()[0]).toMatchObject({ startsAt: T0 + 6 * MINUTE, occurrences: 1 });
  });

  test('different labels are different alerts', () => {
    const { table } = setup();
    table.ingest(diskFull());
    table.ingest(diskFull({ component: 'db' }));
    table.ingest(diskFull());
    expect(table.list()).toHaveLength(2);
  });
});

describe('`for`: pending before firing', () => {
  test('by time: pending, then firing once the condition lasted `for` (repeats keep it active)', async () => {
    const { clock, table, said } = setup({ rules: [{ event: 'system.error', for: '10m' }] });
    table.ingest(diskFull());
    expect(said()).toEqual(['pending DISK_FULL']);
    for (let i = 0; i < 3; i++) {
      await clock.advance(4 * MINUTE);
      table.ingest(diskFull());
    }
    // 12 minutes in: fired at 10.
    expect(said()).toEqual(['firing DISK_FULL']);
    expect(table.list()[0]).toMatchObject({ state: 'firing', startsAt: T0 });
  });

  test('by time: a condition that ends before `for` is dropped, never fired', async () => {
    const { clock, table, said } = setup({ rules: [{ event: 'system.error', for: '10m' }] });
    table.ingest(diskFull());
    await clock.advance(5 * MINUTE);
    expect(said()).toEqual(['pending DISK_FULL', 'dropped DISK_FULL']);
    expect(table.list()).toEqual([]);
    await clock.advance(10 * MINUTE);
    expect(said()).toEqual([]);
  });

  test('by count: fires at the for_count-th occurrence', () => {
    const { table, said } = setup({ rules: [{ event: 'system.error', for_count: 3 }] });
    table.ingest(diskFull());
    table.ingest(diskFull());
    expect(said()).toEqual(['pending DISK_FULL']);
    table.ingest(diskFull());
    expect(said()).toEqual(['firing DISK_FULL']);
  });

  test('by count and time: both must be reached', async () => {
    const { clock, table, said } = setup({ rules: [{ event: 'system.error', for: '2m', for_count: 2 }] });
    table.ingest(diskFull());
    await clock.advance(3 * MINUTE);
    expect(said()).toEqual(['pending DISK_FULL']);
    table.ingest(diskFull());
    expect(said()).toEqual(['firing DISK_FULL']);
  });
});

describe('service.status', () => {
  test('unhealthy fires ServiceDown, degraded resolves it and fires ServiceDegraded, healthy resolves that', () => {
    const { table, said } = setup();
    table.ingest(status('api', 'unhealthy'));
    table.ingest(status('db', 'unhealthy'));
    expect(said()).toEqual(['firing ServiceDown', 'firing ServiceDown']);
    table.ingest(status('api', 'degraded'));
    expect(said()).toEqual(['resolved ServiceDown', 'firing ServiceDegraded']);
    table.ingest(status('api', 'healthy'));
    expect(said()).toEqual(['resolved ServiceDegraded']);
    // db's alert is another service's: still firing.
    expect(table.list().filter((a) => a.state === 'firing').map((a) => a.labels.service)).toEqual(['db']);
  });

  test("in a fleet, one agent's healthy status ends that agent's alert only, not another's for the same service", () => {
    const clock = new FakeClock(T0);
    const heard: AlertDecision[] = [];
    const rules = new AlertRules(z.strictObject(alertRulesShape).parse({}), 'aggregator-1');
    const table = new AlertTable({ clock, rules, onDecision: (d) => heard.push(d) });
    const from = (agent: string | undefined, value: string) => event('service.status', { service_name: 'db', status: value }, agent ? { tags: [`agent:${agent}`] } : {});
    table.ingest(from('web-1', 'unhealthy'));
    table.ingest(from('web-2', 'unhealthy'));
    table.ingest(from(undefined, 'unhealthy'));
    table.ingest(from('web-1', 'healthy'));
    const states = () => Object.fromEntries(table.list().map((a) => [a.labels.agent, a.state]));
    expect(states()).toEqual({ 'web-1': 'resolved', 'web-2': 'firing', 'aggregator-1': 'firing' });
    table.ingest(from(undefined, 'healthy'));
    expect(states()).toEqual({ 'web-1': 'resolved', 'web-2': 'firing', 'aggregator-1': 'resolved' });
  });

  test('a service alert does not resolve by time: only a healthy status ends it', async () => {
    const { clock, table, said } = setup();
    table.ingest(status('api', 'unhealthy'));
    await clock.advance(24 * 60 * MINUTE);
    expect(said()).toEqual(['firing ServiceDown']);
    expect(table.list()[0].endsAt).toBeUndefined();
    table.ingest(status('api', 'unhealthy'));
    expect(said()).toEqual([]);
    table.ingest(status('api', 'healthy'));
    expect(said()).toEqual(['resolved ServiceDown']);
    expect(table.list()[0]).toMatchObject({ state: 'resolved', endsAt: T0 + 24 * 60 * MINUTE });
  });

  test('a pending service alert that recovers is dropped', () => {
    const { table, said } = setup({ rules: [{ event: 'service.status', match: { status: 'unhealthy' }, for_count: 2 }] });
    table.ingest(status('api', 'unhealthy'));
    table.ingest(status('api', 'healthy'));
    expect(said()).toEqual(['pending ServiceDown', 'dropped ServiceDown']);
  });
});

describe('notices', () => {
  test('every matching event is one notice, with no lifecycle and nothing kept', async () => {
    const { clock, table, said } = setup({ rules: [{ event: 'config.changed', notice: true, labels: { severity: 'info' } }] });
    const change = event('config.changed', { config_path: 'a.yaml#x', old_value: 1, new_value: 2, changed_by: 'bob' });
    const [decision] = table.ingest(change);
    table.ingest(change);
    expect(said()).toEqual(['notice ConfigChanged', 'notice ConfigChanged']);
    expect(decision.alert).toMatchObject({ state: 'firing', startsAt: T0, endsAt: T0, labels: { alertname: 'ConfigChanged', type: 'config.changed', severity: 'info' } });
    expect(table.list()).toEqual([]);
    await clock.advance(60 * MINUTE);
    expect(said()).toEqual([]);
  });
});

describe("external alerts (Alertmanager's postable alerts)", () => {
  test('without endsAt: firing until now + resolve_timeout; a re-post extends it and merges', async () => {
    const { clock, table, said } = setup();
    table.post([{ labels: { alertname: 'HighLatency', job: 'api' }, annotations: { summary: 'slow' }, generatorURL: 'http://prom/graph' }]);
    expect(said()).toEqual(['firing HighLatency']);
    await clock.advance(3 * MINUTE);
    table.post([{ labels: { alertname: 'HighLatency', job: 'api' }, annotations: { summary: 'slower' } }]);
    expect(said()).toEqual([]);
    expect(table.list()[0]).toMatchObject({ origin: 'external', state: 'firing', startsAt: T0, endsAt: T0 + 8 * MINUTE, timeout: true, annotations: { summary: 'slower' } });
    await clock.advance(5 * MINUTE);
    expect(said()).toEqual(['resolved HighLatency']);
  });

  test('endsAt in the past resolves a firing alert; a new one with a past endsAt is stored resolved, with no decision', () => {
    const { clock, table, said } = setup();
    const startsAt = new Date(T0 - 10 * MINUTE).toISOString();
    table.post([{ labels: { alertname: 'A' }, startsAt }]);
    table.post([{ labels: { alertname: 'A' }, startsAt, endsAt: new Date(T0 - MINUTE).toISOString() }]);
    table.post([{ labels: { alertname: 'B' }, endsAt: new Date(T0 - MINUTE).toISOString() }]);
    expect(said()).toEqual(['firing A', 'resolved A']);
    expect(table.list().map((a) => [a.labels.alertname, a.state, a.startsAt, a.endsAt])).toEqual([
      ['A', 'resolved', T0 - 10 * MINUTE, T0 - MINUTE],
      ['B', 'resolved', T0 - MINUTE, T0 - MINUTE],
    ]);
    expect(clock.now()).toBe(T0);
  });

  test('an explicit later endsAt wins over a timeout on re-post (Alertmanager merge)', () => {
    const { table } = setup();
    table.post([{ labels: { alertname: 'A' }, startsAt: new Date(T0 - MINUTE).toISOString(), endsAt: new Date(T0 + 60 * MINUTE).toISOString() }]);
    table.post([{ labels: { alertname: 'A' } }]);
    expect(table.list()[0]).toMatchObject({ endsAt: T0 + 60 * MINUTE, timeout: false, startsAt: T0 - MINUTE });
  });

  test('without startsAt but with endsAt, startsAt is endsAt (as in Alertmanager)', () => {
    const { table } = setup();
    table.post([{ labels: { alertname: 'A' }, endsAt: new Date(T0 + 60 * MINUTE).toISOString() }]);
    expect(table.list()[0]).toMatchObject({ state: 'firing', startsAt: T0 + 60 * MINUTE, endsAt: T0 + 60 * MINUTE });
  });

  test("Go's zero time (amtool's unset endsAt) is no endsAt; empty label values are dropped", () => {
    const { table } = setup();
    table.post([{ labels: { alertname: 'A', region: '' }, startsAt: new Date(T0).toISOString(), endsAt: '0001-01-01T00:00:00.000Z' }]);
    expect(table.list()[0]).toMatchObject({ labels: { alertname: 'A' }, state: 'firing', endsAt: T0 + 5 * MINUTE });
  });

  test('invalid alerts are refused with ALERT_INVALID naming them; the valid ones are kept', () => {
    const { table, said } = setup();
    const { errors } = table.post([
      { labels: {} },
      { labels: { alertname: 'Ok' } },
      { labels: { 'bad-name': 'x' } },
      { labels: { alertname: 'Backwards' }, startsAt: new Date(T0).toISOString(), endsAt: new Date(T0 - 1).toISOString() },
    ]);
    expect(errors.map((e) => [e.code, e.message])).toEqual([
      ['ALERT_INVALID', 'alert 0 {}: at least one label pair required'],
      ['ALERT_INVALID', 'alert 2 {"bad-name":"x"}: invalid label set: "bad-name" is not a valid label name'],
      ['ALERT_INVALID', 'alert 3 {"alertname":"Backwards"}: start time must be before end time'],
    ]);
    expect(said()).toEqual(['firing Ok']);
  });
});

describe('table housekeeping and persistence', () => {
  test('a resolved alert leaves the table 30m after it resolved', async () => {
    const { clock, table } = setup();
    table.ingest(diskFull());
    await clock.advance(5 * MINUTE + 30 * MINUTE - 1);
    expect(table.list()).toHaveLength(1);
    await clock.advance(1);
    expect(table.list()).toEqual([]);
    expect(clock.pending).toBe(0);
  });

  test('snapshot is plain JSON; restore catches up: ended alerts resolve, elapsed `for` fires, the rest goes on', async () => {
    const config = { rules: [{ name: 'slow', event: 'system.error', match: { component: 'slow' }, for: '10m', resolve_timeout: '1h' }] };
    const before = setup(config);
    before.table.ingest(diskFull());
    before.table.ingest(diskFull({ component: 'slow', error_code: 'SLOW' }));
    before.table.ingest(status('api', 'unhealthy'));
    before.table.stop();
    const saved = JSON.parse(JSON.stringify(before.table.snapshot()));

    const after = setup(config);
    await after.clock.advance(20 * MINUTE);
    const decisions = after.table.restore(saved);
    expect(decisions.map((d) => `${d.kind} ${d.alert.labels.alertname}`)).toEqual(['resolved DISK_FULL', 'firing SLOW']);
    expect(after.said()).toEqual(['resolved DISK_FULL', 'firing SLOW']);
    after.table.ingest(status('api', 'healthy'));
    expect(after.said()).toEqual(['resolved ServiceDown']);
    await after.clock.advance(60 * MINUTE);
    expect(after.said()).toEqual(['resolved SLOW']);
  });

  test('restore refuses what is not a snapshot, or an alert whose fingerprint does not match its labels', () => {
    const { table } = setup();
    expect(() => table.restore({ alerts: [] } as never)).toThrow(expect.objectContaining({ code: 'ALERT_INVALID' }));
    table.ingest(diskFull());
    const snapshot = table.snapshot();
    const tampered = { ...snapshot, alerts: [{ ...snapshot.alerts[0], labels: { alertname: 'Other' } }] };
    expect(() => table.restore(tampered)).toThrow('its fingerprint does not match its labels');
    expect(table.list()).toHaveLength(1);
  });
});
