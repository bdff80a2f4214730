import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent } from '../src/agent/agent';
import { ALERTING_STATE, type AlertingState, type AlertingStateChange, type RemoteAlertingItem } from '../src/alerting/replica';
import { loadConfig } from '../src/config/loader';
import { FakeClock } from '../src/core/clock';
import { silentLogger } from '../src/core/logger';
import type { RecordingSink } from './fixtures/alert-sink';

/**
 * The core's replication seam (src/alerting/replica.ts) between two agents in one process on one
 * FakeClock, with the test as the transport: what one engine tells its replica is merged into the
 * other, as the nats plugin does through KV. The merge rules themselves: src/alerting/replica.test.ts.
 */

const SINK = path.join(__dirname, 'fixtures/alert-sink');

function config(name: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `praxis-replica-${name}-`));
  const file = path.join(dir, 'agent.config.yaml');
  writeFileSync(
    file,
    `agent: { name: ${name}, shutdown_timeout: 2s }
http: { enabled: false }
store: { enabled: true, data_dir: ${dir}/data, commit_interval: 100ms }
plugins:
  - { name: pager, use: ${SINK} }
alerting:
  route: { receiver: team, group_by: [alertname, service], group_wait: 30s, group_interval: 5m, repeat_interval: 4h }
  receivers:
    - { name: team, sinks: [pager] }
`,
  );
  return file;
}

interface Node {
  agent: Agent;
  state: AlertingState;
  told: AlertingStateChange[];
  pager: RecordingSink;
}

const clock = new FakeClock(Date.UTC(2026, 10, 30, 12));
let nodes: Node[] = [];

async function node(name: string): Promise<Node> {
  const agent = new Agent(loadConfig(config(name)), { clock, logger: silentLogger() });
  await agent.start();
  const state = agent.container.resolve(ALERTING_STATE);
  const told: AlertingStateChange[] = [];
  state.attach({ changed: (change) => void told.push(change) });
  const n = { agent, state, told, pager: agent.host.instanceOf('pager') as unknown as RecordingSink };
  nodes.push(n);
  return n;
}

afterEach(async () => {
  for (const n of nodes) await n.agent.stop();
  nodes = [];
});

async function advance(ms: number): Promise<void> {
  for (const n of nodes) await n.agent.bus.idle();
  await clock.advance(ms);
  for (const n of nodes) await n.agent.bus.idle();
  await clock.advance(0);
}

/** What a transport would carry: the changes told, as JSON text and back (nothing shared by reference). */
function carried(changes: AlertingStateChange[]): RemoteAlertingItem[] {
  return JSON.parse(JSON.stringify(changes)) as RemoteAlertingItem[];
}

/** As an aggregator takes a fleet event in: tagged with its origin agent (the `agent` label). */
const FROM_WEB_1 = { source: 'health-probe', tags: ['agent:web-1'] };

const SILENCE = { matchers: [{ name: 'service', value: 'db', isRegex: false }], createdBy: 'oncall', comment: 'maintenance' };

describe('alerting state replication seam', () => {
  it('a silence set on one agent mutes on the other; an older version does not undo a newer one and is answered with it', async () => {
    const a = await node('agg-a');
    const b = await node('agg-b');
    const now = clock.now();
    const { id } = a.agent.alerting!.setSilence({ ...SILENCE, startsAt: new Date(now).toISOString(), endsAt: new Date(now + 3_600_000).toISOString() });
    const created = carried(a.told.filter((c) => c.kind === 'silence'));
    expect(created).toHaveLength(1);
    expect(b.state.merge(created)).toEqual({ applied: 1, unchanged: 0, localNewer: [], invalid: [] });
    expect(b.agent.alerting!.silence(id)?.state).toBe('active');
    // Merged items are not told back (no echo).
    expect(b.told).toEqual([]);

    await advance(1_000);
    b.agent.alerting!.expireSilence(id);
    // A's old version arrives at B after B's expiry: B keeps its own and hands it back.
    const report = b.state.merge(created);
    expect(report.applied).toBe(0);
    expect(report.localNewer).toEqual([expect.objectContaining({ kind: 'silence', key: id, value: expect.objectContaining({ id, endsAt: new Date(clock.now()).toISOString() }) })]);
    expect(b.agent.alerting!.silence(id)?.state).toBe('expired');
    expect(a.state.merge(carried(report.localNewer)).applied).toBe(1);
    expect(a.agent.alerting!.silence(id)?.state).toBe('expired');
    expect(a.state.merge(carried(report.localNewer))).toMatchObject({ applied: 0, unchanged: 1 });

    await b.agent.bus.publish('service.status', { service_name: 'db', status: 'unhealthy' });
    await advance(60_000);
    expect(b.pager.received).toHaveLength(1);
  });

  it('the next holder merges the nflog, alerts and acks: a firing alert is not notified again within repeat_interval, and its resolve is sent once', async () => {
    const a = await node('agg-a');
    const b = await node('agg-b');
    await a.agent.bus.publish('service.status', { service_name: 'db', status: 'unhealthy' }, FROM_WEB_1);
    await advance(31_000);
    expect(a.pager.received.map((n) => n.status)).toEqual(['firing']);
    await advance(200);
    expect(new Set(a.told.map((c) => c.kind))).toEqual(new Set(['alert', 'nflog']));

    const [firing] = a.agent.alerting!.alerts();
    a.agent.alerting!.acknowledge(firing!.alert.fingerprint, { by: 'oncall', comment: 'looking' });
    expect(a.told.at(-1)).toMatchObject({ kind: 'ack', key: firing!.alert.fingerprint });

    // A is gone; B takes over with what A told.
    await a.agent.stop();
    nodes = nodes.filter((n) => n !== a);
    const report = b.state.merge(carried(a.told));
    expect(report.invalid).toEqual([]);
    expect(b.agent.alerting!.alerts().map((v) => [v.alert.state, v.acknowledgement?.by])).toEqual([['firing', 'oncall']]);
    await b.agent.bus.publish('service.status', { service_name: 'db', status: 'unhealthy' }, FROM_WEB_1);
    await advance(10 * 60_000);
    expect(b.pager.received).toEqual([]);

    await b.agent.bus.publish('service.status', { service_name: 'db', status: 'healthy' }, FROM_WEB_1);
    await advance(6 * 60_000);
    expect(b.pager.received.map((n) => [n.status, n.reason])).toEqual([['resolved', 'all_alerts_resolved']]);
    await advance(30 * 60_000);
    expect(b.pager.received).toHaveLength(1);
  });

  it('an invalid item is skipped and listed; the others are merged', async () => {
    const b = await node('agg-b');
    const now = new Date(clock.now()).toISOString();
    const good = { id: 'good', matchers: [{ name: 'a', value: 'b', isRegex: false, isEqual: true }], startsAt: now, endsAt: new Date(clock.now() + 60_000).toISOString(), updatedAt: now, createdBy: 'x', comment: '' };
    const report = b.state.merge([
      { kind: 'silence', key: 'bad-matchers', value: { ...good, id: 'bad-matchers', matchers: [] } },
      { kind: 'silence', key: 'not-its-key', value: good },
      { kind: 'alert', key: 'f00', value: { fingerprint: 'f00', labels: { a: 'b' } } },
      { kind: 'nflog', key: 'r\u0000g', value: 'text' },
      { kind: 'ack', key: 'f', value: { fingerprint: 'f', by: '' } },
      { kind: 'silence', key: 'good', value: good },
    ]);
    expect(report.applied).toBe(1);
    expect(report.invalid.map((i) => [i.kind, i.key])).toEqual([
      ['silence', 'bad-matchers'],
      ['silence', 'not-its-key'],
      ['alert', 'f00'],
      ['nflog', 'r\u0000g'],
      ['ack', 'f'],
    ]);
    expect(report.invalid[0]?.error).toContain('at least one matcher');
    expect(report.invalid[1]?.error).toContain('is not its key');
    expect(report.invalid[2]?.error).toContain('fingerprint does not match');
    expect(b.agent.alerting!.silences().map((s) => s.id)).toEqual(['good']);
  });

  it('a forgotten alert is dropped only when it was forgotten after its last change here', async () => {
    const b = await node('agg-b');
    await b.agent.bus.publish('service.status', { service_name: 'db', status: 'unhealthy' });
    await advance(100);
    const [view] = b.agent.alerting!.alerts();
    const fp = view!.alert.fingerprint;
    b.state.merge([{ kind: 'forget', item: 'alert', key: fp, at: view!.alert.updatedAt - 1 }]);
    expect(b.agent.alerting!.alerts()).toHaveLength(1);
    b.state.merge([{ kind: 'forget', item: 'alert', key: fp, at: view!.alert.updatedAt }]);
    expect(b.agent.alerting!.alerts()).toHaveLength(0);
  });

  it('an alert hit by many events is told at most once a second while its state stays; a new state at once', async () => {
    const a = await node('agg-a');
    const alertsTold = (): number => a.told.filter((c) => c.kind === 'alert').length;
    await a.agent.bus.publish('service.status', { service_name: 'db', status: 'unhealthy' }, FROM_WEB_1);
    await advance(100);
    expect(alertsTold()).toBe(1);
    for (let i = 0; i < 50; i++) {
      await a.agent.bus.publish('service.status', { service_name: 'db', status: 'unhealthy' }, FROM_WEB_1);
      await advance(10);
    }
    // 500 ms of occurrences: none told yet; the next tick after a second tells the latest.
    expect(alertsTold()).toBe(1);
    await advance(600);
    expect(alertsTold()).toBe(2);
    expect(a.told.at(-1)).toMatchObject({ kind: 'alert', value: { occurrences: 51 } });
    await a.agent.bus.publish('service.status', { service_name: 'db', status: 'healthy' }, FROM_WEB_1);
    await advance(100);
    expect(a.told.at(-1)).toMatchObject({ kind: 'alert', value: { state: 'resolved' } });
  });

  it('a detached replica is told nothing more', async () => {
    const a = await node('agg-a');
    const told: AlertingStateChange[] = [];
    const detach = a.state.attach({ changed: (c) => void told.push(c) });
    detach();
    const now = clock.now();
    a.agent.alerting!.setSilence({ ...SILENCE, startsAt: new Date(now).toISOString(), endsAt: new Date(now + 60_000).toISOString() });
    expect(told).toEqual([]);
  });
});
