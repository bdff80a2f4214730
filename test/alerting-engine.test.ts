import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent } from '../src/agent/agent';
import type { Notification } from '../src/alerting/notification';
import { loadConfig } from '../src/config/loader';
import { FakeClock } from '../src/core/clock';
import { silentLogger } from '../src/core/logger';
import type { Event, EventType } from '../src/events/types';
import type { RecordingSink } from './fixtures/alert-sink';
import { rejection } from './helpers/errors';

const SINK = path.join(__dirname, 'fixtures/alert-sink');

/** The routing every test here runs on: errors to the team's pager, notices to the admin's chat. */
function config(dir: string, options: { pagerAnswers?: string[]; pagerDelivery?: string; extra?: string } = {}): string {
  const file = path.join(dir, 'agent.config.yaml');
  writeFileSync(
    file,
    `agent:
  name: edge-1
  shutdown_timeout: 2s
http:
  enabled: false
store:
  enabled: true
  data_dir: ${dir}/data
  commit_interval: 100ms
plugins:
  - name: pager
    use: ${SINK}
    config:
      answers: ${JSON.stringify(options.pagerAnswers ?? ['delivered'])}
    ${options.pagerDelivery ? `delivery: ${options.pagerDelivery}` : ''}
  - name: chat
    use: ${SINK}
alerting:
  labels: { env: test }
  rules:
    - { name: config notices, event: config.changed, notice: true, alertname: ConfigChanged }
  route:
    receiver: team
    group_by: [alertname]
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 4h
    routes:
      - matchers: ['alertname="ConfigChanged"']
        receiver: admin
      - matchers: ['alertname=~"ALERT_DELIVERY_.+"']
        receiver: everyone
        group_wait: 0s
  inhibit_rules:
    - source_matchers: ['alertname="ServiceDown"']
      target_matchers: ['alertname="DISK_FULL"']
  receivers:
    - { name: team, sinks: [pager] }
    - { name: admin, sinks: [chat] }
    - { name: everyone, sinks: [pager, chat] }
${options.extra ?? ''}`,
  );
  return file;
}

interface Running {
  agent: Agent;
  clock: FakeClock;
  events: Event[];
  pager: RecordingSink;
  chat: RecordingSink;
  /** Lets queued events, timers due now and deliveries run. */
  settle(): Promise<void>;
  advance(ms: number): Promise<void>;
}

async function start(file: string, clock = new FakeClock(Date.UTC(2026, 10, 30, 12))): Promise<Running> {
  const agent = new Agent(loadConfig(file), { clock, logger: silentLogger() });
  const events: Event[] = [];
  agent.bus.subscribe('*', (event) => void events.push(event), { name: 'test-recorder' });
  await agent.start();
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 3; i++) {
      await agent.bus.idle();
      await clock.advance(0);
    }
  };
  return {
    agent,
    clock,
    events,
    pager: agent.host.instanceOf('pager') as unknown as RecordingSink,
    chat: agent.host.instanceOf('chat') as unknown as RecordingSink,
    settle,
    advance: async (ms) => {
      await settle();
      await clock.advance(ms);
      await settle();
    },
  };
}

const diskFull = (host: string) => ({ severity: 'error' as const, message: `disk full on ${host}`, error_code: 'DISK_FULL', component: host });
const ofType = <T extends EventType>(events: Event[], type: T): Event<T>[] => events.filter((e): e is Event<T> => e.type === type);
const alertnames = (n: Notification): string[] => n.alerts.map((a) => a.labels.alertname);

let running: Running[] = [];
afterEach(async () => {
  for (const r of running) await r.agent.stop();
  running = [];
});
async function track(r: Promise<Running>): Promise<Running> {
  const value = await r;
  running.push(value);
  return value;
}

describe('alerting engine in the agent', () => {
  it('turns a storm of 300 errors into one notification after group_wait, with labels from the event and config', async () => {
    const r = await track(start(config(mkdtempSync(path.join(tmpdir(), 'engine-')))));
    for (let i = 0; i < 300; i++) await r.agent.bus.publish('system.error', diskFull(`host-${i}`));
    await r.advance(29_000);
    expect(r.pager.received).toHaveLength(0);
    await r.advance(1_000);
    expect(r.pager.received).toHaveLength(1);
    const [n] = r.pager.received;
    expect(n).toMatchObject({ receiver: 'team', status: 'firing', reason: 'first_notification', reminder: false, groupLabels: { alertname: 'DISK_FULL' } });
    expect(n.alerts).toHaveLength(300);
    expect(n.alerts[0].labels).toMatchObject({ alertname: 'DISK_FULL', env: 'test', severity: 'error', type: 'system.error' });
    expect(ofType(r.events, 'alert.firing')).toHaveLength(300);
    expect(ofType(r.events, 'alert.notified')).toEqual([expect.objectContaining({ data: expect.objectContaining({ receiver: 'team', sinks: ['pager'], alerts: 300, reason: 'first_notification' }) })]);
    expect(ofType(r.events, 'alert.delivery').map((e) => e.data)).toEqual([expect.objectContaining({ sink: 'pager', attempt: 1, outcome: 'delivered' })]);
    expect(r.agent.stats().alerting).toMatchObject({ alerts_firing: 300, notifications: 1, deliveries_delivered: 1 });
  });

  it('resolves a service alert when the service is healthy again and sends the resolve at the next group_interval', async () => {
    const r = await track(start(config(mkdtempSync(path.join(tmpdir(), 'engine-')))));
    await r.agent.bus.publish('service.status', { service_name: 'db', status: 'unhealthy' });
    await r.advance(30_000);
    expect(r.pager.received.map((n) => [n.status, alertnames(n)])).toEqual([['firing', ['ServiceDown']]]);
    await r.agent.bus.publish('service.status', { service_name: 'db', status: 'healthy' });
    await r.settle();
    expect(ofType(r.events, 'alert.resolved').map((e) => e.data)).toEqual([expect.objectContaining({ alertname: 'ServiceDown', resolved_by: 'recovery' })]);
    await r.advance(5 * 60_000);
    expect(r.pager.received.map((n) => [n.status, n.reason])).toEqual([
      ['firing', 'first_notification'],
      ['resolved', 'all_alerts_resolved'],
    ]);
  });

  it('sends nothing for a silenced alert, says so with alert.silenced, and notifies once the silence is expired', async () => {
    const r = await track(start(config(mkdtempSync(path.join(tmpdir(), 'engine-')))));
    const engine = r.agent.alerting!;
    const now = new Date(r.clock.now());
    const { id } = engine.setSilence({
      matchers: [{ name: 'alertname', value: 'DISK_FULL', isRegex: false }],
      startsAt: now.toISOString(),
      endsAt: new Date(r.clock.now() + 3_600_000).toISOString(),
      createdBy: 'ops',
      comment: 'maintenance',
    });
    await r.agent.bus.publish('system.error', diskFull('a'));
    await r.advance(30_000);
    expect(r.pager.received).toHaveLength(0);
    expect(ofType(r.events, 'alert.silenced').map((e) => e.data)).toEqual([expect.objectContaining({ alertname: 'DISK_FULL', receiver: 'team', silence_ids: [id] })]);
    expect(engine.alerts()[0].silencedBy).toEqual([id]);
    expect(ofType(r.events, 'silence.created').map((e) => e.data)).toEqual([expect.objectContaining({ id, created_by: 'ops', comment: 'maintenance' })]);
    engine.expireSilence(id);
    // Still failing (a system.error alert resolves 5m after its last repeat): the next flush sends it.
    for (let i = 0; i < 2; i++) {
      await r.agent.bus.publish('system.error', diskFull('a'));
      await r.advance(150_000);
    }
    expect(r.pager.received.map(alertnames)).toEqual([['DISK_FULL']]);
    expect(ofType(r.events, 'silence.expired')).toHaveLength(1);
  });

  it('inhibits the target alert while the source fires, as alert.inhibited', async () => {
    const r = await track(start(config(mkdtempSync(path.join(tmpdir(), 'engine-')))));
    await r.agent.bus.publish('service.status', { service_name: 'db', status: 'unhealthy' });
    await r.agent.bus.publish('system.error', diskFull('a'));
    await r.advance(30_000);
    expect(r.pager.received.map(alertnames)).toEqual([['ServiceDown']]);
    const source = r.agent.alerting!.alerts().find((v) => v.alert.labels.alertname === 'ServiceDown')!;
    expect(ofType(r.events, 'alert.inhibited').map((e) => e.data)).toEqual([expect.objectContaining({ alertname: 'DISK_FULL', inhibit_rule: 0, source_fingerprint: source.alert.fingerprint })]);
  });

  it('stops reminders of an acknowledged alert while the other group is still reminded', async () => {
    const r = await track(start(config(mkdtempSync(path.join(tmpdir(), 'engine-')))));
    await r.agent.bus.publish('service.status', { service_name: 'db', status: 'unhealthy' });
    await r.agent.bus.publish('system.error', { ...diskFull('a'), error_code: 'BACKUP_FAILED' });
    await r.advance(30_000);
    expect(r.pager.received).toHaveLength(2);
    const engine = r.agent.alerting!;
    const down = engine.alerts().find((v) => v.alert.labels.alertname === 'ServiceDown')!;
    const view = engine.acknowledge(down.alert.fingerprint, { by: 'alice', comment: 'on it' });
    expect(view.acknowledgement).toMatchObject({ by: 'alice', comment: 'on it' });
    await r.settle();
    expect(ofType(r.events, 'alert.acknowledged').map((e) => e.data)).toEqual([expect.objectContaining({ alertname: 'ServiceDown', by: 'alice' })]);
    // The acknowledgement itself is a notification (PagerDuty turns it into an acknowledge).
    expect(r.pager.received[2]).toMatchObject({ reason: 'acknowledged', alerts: [expect.objectContaining({ acknowledgement: expect.objectContaining({ by: 'alice' }) })] });
    // BACKUP_FAILED repeats (system.error alerts resolve after 5m without one), ServiceDown stays down.
    for (let t = 0; t < 4 * 60 + 10; t += 4) {
      await r.agent.bus.publish('system.error', { ...diskFull('a'), error_code: 'BACKUP_FAILED' });
      await r.advance(4 * 60_000);
    }
    const reminders = r.pager.received.filter((n) => n.reminder).map(alertnames);
    expect(reminders).toEqual([['BACKUP_FAILED']]);
  });

  it('sends a notice for every config change at once, and lists recent changes in later notifications', async () => {
    const r = await track(start(config(mkdtempSync(path.join(tmpdir(), 'engine-')))));
    const change = { config_path: 'agent.config.yaml#http.port', old_value: 9780, new_value: 9781, changed_by: 'config-watcher' };
    await r.agent.bus.publish('config.changed', change);
    await r.agent.bus.publish('config.changed', change);
    await r.settle();
    expect(r.chat.received.map((n) => [n.receiver, n.reason, alertnames(n)])).toEqual([
      ['admin', 'notice', ['ConfigChanged']],
      ['admin', 'notice', ['ConfigChanged']],
    ]);
    await r.agent.bus.publish('system.error', diskFull('a'));
    await r.advance(30_000);
    expect(r.pager.received[0].recentChanges).toEqual([expect.objectContaining({ config_path: change.config_path, new_value: 9781 }), expect.anything()]);
    // Outside the window (15m by default) they are no longer probable causes.
    await r.advance(15 * 60_000);
    await r.agent.bus.publish('system.error', { ...diskFull('a'), error_code: 'OTHER' });
    await r.advance(30_000);
    expect(r.pager.received.at(-1)).toMatchObject({ groupLabels: { alertname: 'OTHER' }, recentChanges: [] });
  });

  it('retries a sink that asks for it, after the time it names, and records every attempt', async () => {
    const r = await track(start(config(mkdtempSync(path.join(tmpdir(), 'engine-')), { pagerAnswers: ['retry:60000', 'throw', 'delivered'] })));
    await r.agent.bus.publish('system.error', diskFull('a'));
    await r.advance(30_000);
    expect(r.pager.received).toHaveLength(0);
    await r.advance(60_000);
    expect(r.pager.received).toHaveLength(0);
    await r.advance(5_000);
    expect(r.pager.received).toHaveLength(1);
    expect(ofType(r.events, 'alert.delivery').map((e) => [e.data.attempt, e.data.outcome])).toEqual([
      [1, 'retry'],
      [2, 'retry'],
      [3, 'delivered'],
    ]);
    expect(ofType(r.events, 'alert.delivery')[0].data).toMatchObject({ retry_in_ms: 60_000, reason: 'the recording sink was told to retry' });
  });

  it('dead-letters a rejected delivery as ALERT_DELIVERY_REJECTED: told to the other sinks, never to the failing one, and retryable', async () => {
    const r = await track(start(config(mkdtempSync(path.join(tmpdir(), 'engine-')), { pagerAnswers: ['permanent', 'delivered'] })));
    await r.agent.bus.publish('system.error', diskFull('a'));
    await r.advance(30_000);
    const failures = ofType(r.events, 'system.error').filter((e) => e.data.error_code === 'ALERT_DELIVERY_REJECTED');
    const dead = r.agent.alerting!.deliveries('dead');
    expect(dead).toEqual([expect.objectContaining({ receiver: 'team', sink: 'pager', state: 'dead', attempts: 1, lastReason: 'rejected: the recording sink was told to refuse' })]);
    expect(failures.map((e) => e.data)).toEqual([
      expect.objectContaining({ component: 'alerting', message: `notification to receiver team through sink pager was rejected: the recording sink was told to refuse (delivery ${dead[0].id}; praxis-agent alert retry ${dead[0].id})` }),
    ]);
    // The dead letter is an alert routed to `everyone` (pager and chat): chat hears of it, pager does not.
    await r.advance(1_000);
    expect(r.chat.received.map(alertnames)).toEqual([['ALERT_DELIVERY_REJECTED']]);
    expect(r.chat.received[0].alerts[0].labels).toMatchObject({ sink: 'pager', receiver: 'team' });
    expect(r.pager.received).toHaveLength(0);
    expect(r.agent.stats().alerting).toMatchObject({ deliveries_dead_lettered: 1, deliveries_by_sink: { pager: expect.objectContaining({ attempts: 1, dead_lettered: 1, pending: 0 }) } });

    r.agent.alerting!.retryDelivery(dead[0].id);
    await r.settle();
    expect(r.pager.received.map(alertnames)).toEqual([['DISK_FULL']]);
    expect(r.agent.alerting!.deliveries('dead')).toEqual([]);
    expect(() => r.agent.alerting!.retryDelivery(dead[0].id)).toThrow(expect.objectContaining({ code: 'DELIVERY_NOT_DEAD' }));
    expect(() => r.agent.alerting!.retryDelivery(99_999)).toThrow(expect.objectContaining({ code: 'DELIVERY_NOT_FOUND' }));
  });

  it('delivers in order per receiver and sink through an outage, each notification once', async () => {
    const r = await track(start(config(mkdtempSync(path.join(tmpdir(), 'engine-')), { pagerAnswers: ['retry:0', 'retry:0', 'retry:0', 'delivered'] })));
    for (const code of ['A', 'B', 'C']) {
      await r.agent.bus.publish('system.error', { ...diskFull('a'), error_code: code });
      await r.advance(1_000);
    }
    await r.advance(30_000);
    // A is retried (after about 1, 2 and 4 s); B and C wait behind it.
    expect(r.pager.received).toHaveLength(0);
    expect(r.agent.stats().alerting).toMatchObject({ deliveries_by_sink: { pager: expect.objectContaining({ pending: 3 }) } });
    await r.advance(10_000);
    expect(r.pager.received.map((n) => n.groupLabels.alertname)).toEqual(['A', 'B', 'C']);
    const delivered = ofType(r.events, 'alert.delivery').filter((e) => e.data.outcome === 'delivered');
    expect(delivered.map((e) => e.data.attempt)).toEqual([4, 1, 1]);
  });

  it('spreads a burst over the sink\'s rate limit: throttled notifications wait, none is dropped', async () => {
    const r = await track(start(config(mkdtempSync(path.join(tmpdir(), 'engine-')), { pagerDelivery: '{ rate_limit: { rate: 1, per: 10s, burst: 1 } }' })));
    for (let i = 0; i < 5; i++) await r.agent.bus.publish('system.error', { ...diskFull('a'), error_code: `E${i}` });
    await r.advance(30_000);
    expect(r.pager.received).toHaveLength(1);
    await r.advance(9_000);
    expect(r.pager.received).toHaveLength(1);
    await r.advance(1_000);
    expect(r.pager.received).toHaveLength(2);
    await r.advance(30_000);
    expect(r.pager.received.map((n) => n.groupLabels.alertname).sort()).toEqual(['E0', 'E1', 'E2', 'E3', 'E4']);
  });

  it('reports a failing state write once per episode (ALERTING_STATE_WRITE_FAILED), counts every one, and reports again after a recovery', async () => {
    const r = await track(start(config(mkdtempSync(path.join(tmpdir(), 'engine-')))));
    const db = r.agent.store!.database();
    const full = (): void => void db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    const reports = (): number => ofType(r.events, 'system.error').filter((e) => e.data.error_code === 'ALERTING_STATE_WRITE_FAILED').length;
    full();
    for (let i = 0; i < 5; i++) {
      for (let j = 0; j < 50; j++) await r.agent.bus.publish('system.error', { ...diskFull(`h${i}-${j}`), error_code: `E${i}_${j}`, message: 'x'.repeat(2000) });
      await r.advance(200);
    }
    expect(reports()).toBe(1);
    expect((r.agent.stats().alerting as { state_write_failures: number }).state_write_failures).toBeGreaterThan(1);
    db.pragma('max_page_count = 1073741823');
    await r.advance(200);
    full();
    for (let j = 0; j < 50; j++) await r.agent.bus.publish('system.error', { ...diskFull(`again-${j}`), error_code: `F${j}`, message: 'y'.repeat(2000) });
    await r.advance(200);
    expect(reports()).toBe(2);
  });

  it('refuses to start when a receiver names a plugin that is not a sink', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'engine-'));
    const file = config(dir);
    writeFileSync(file, readFileSync(file, 'utf8').replace('{ name: admin, sinks: [chat] }', '{ name: admin, sinks: [chat, log] }').replace('plugins:\n', `plugins:\n  - name: log\n    use: ${path.join(__dirname, 'fixtures/third-party-plugin')}\n`));
    const agent = new Agent(loadConfig(file), { logger: silentLogger() });
    expect(await rejection(agent.start())).toMatchObject({ code: 'ALERTING_SINK_INVALID', message: expect.stringContaining(`receiver "admin" names sink "log" (use: ${path.join(__dirname, 'fixtures/third-party-plugin')}), which is not a sink`) });
  });

  it('keeps alerts, silences and the notification log across a restart: no repeat, and the resolve of an alert that ended meanwhile', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'engine-'));
    const file = config(dir);
    const first = await start(file);
    await first.agent.bus.publish('service.status', { service_name: 'db', status: 'unhealthy' });
    await first.agent.bus.publish('system.error', { ...diskFull('a'), error_code: 'BACKUP_FAILED' });
    await first.advance(30_000);
    expect(first.pager.received).toHaveLength(2);
    const { id } = first.agent.alerting!.setSilence({
      matchers: [{ name: 'alertname', value: 'Other', isRegex: false }],
      startsAt: new Date(first.clock.now()).toISOString(),
      endsAt: new Date(first.clock.now() + 86_400_000).toISOString(),
      createdBy: 'ops',
      comment: 'kept',
    });
    await first.advance(1_000);
    await first.agent.stop();

    // Ten minutes later: BACKUP_FAILED (resolve_timeout 5m) ended while the agent was down, ServiceDown still fires.
    const second = await track(start(file, new FakeClock(first.clock.now() + 10 * 60_000)));
    await second.advance(0);
    expect(second.agent.alerting!.silence(id)).toMatchObject({ state: 'active', comment: 'kept' });
    expect(second.pager.received.map((n) => [n.status, alertnames(n)])).toEqual([['resolved', ['BACKUP_FAILED']]]);
    await second.advance(3 * 3_600_000);
    expect(second.pager.received.filter((n) => alertnames(n).includes('ServiceDown'))).toHaveLength(0);
    await second.advance(3_600_000);
    expect(second.pager.received.filter((n) => alertnames(n).includes('ServiceDown')).map((n) => n.reason)).toEqual(['repeat_interval_elapsed']);
  });
});
