import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { stringify } from 'yaml';
import { natsConfigSchema } from '../plugins/nats/config';
import { desiredStream } from '../plugins/nats/stream';
import { until } from './helpers/async';
import { AgentProcess } from './helpers/cli';
import { ALERT_STATE_PORT_RANGE, TestNatsServer } from './helpers/nats-server';

/**
 * Issue 13: the alerting state of active/standby aggregators in a JetStream KV bucket. Real agent
 * processes (`praxis-agent start`), a nats-server of the test's own (port 14600-14649), fleet
 * events published in the sidecars' wire format, and a real HTTP server as the webhook receiver.
 */
jest.setTimeout(120_000);

interface Fleet {
  prefix: string;
  stream: string;
}

interface Hook {
  status: 'firing' | 'resolved';
  alerts: { status: 'firing' | 'resolved'; labels: Record<string, string>; fingerprint: string }[];
}

let server: TestNatsServer;
let nc: NatsConnection;
let js: JetStreamClient;
let receiver: Server;
let hookUrl: string;
const hooks: Hook[] = [];
const agents: AgentProcess[] = [];

beforeAll(async () => {
  server = await TestNatsServer.start([], ALERT_STATE_PORT_RANGE);
  nc = await connect({ servers: server.url });
  js = jetstream(nc);
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      hooks.push(JSON.parse(body) as Hook);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
});

afterEach(async () => {
  for (const agent of agents.splice(0)) {
    agent.kill('SIGKILL');
    await agent.exited;
  }
  hooks.length = 0;
});

afterAll(async () => {
  await nc.close();
  await server.dispose();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

async function newFleet(): Promise<Fleet> {
  const id = randomUUID().slice(0, 8);
  const fleet = { prefix: `t${id}.events`, stream: `PRAXIS_AS_${id}` };
  const config = natsConfigSchema.parse({ subject_prefix: fleet.prefix, stream: { name: fleet.stream } });
  await (await jetstreamManager(nc)).streams.add(desiredStream(config.stream, fleet.prefix));
  return fleet;
}

/** The fleet's alert state bucket, as the test reads and spoils it. */
function bucket(fleet: Fleet): Promise<KV> {
  return new Kvm(nc).create(`${fleet.stream}_aggregators_alerting`, { history: 1 });
}

/** Each aggregator's folder (config and data), by name: started again, it finds its store. */
const folders = new Map<string, string>();

async function startAggregator(name: string, fleet: Fleet, again = false): Promise<string> {
  const dir = again ? (folders.get(name) as string) : mkdtempSync(path.join(tmpdir(), `praxis-as-${name}-`));
  folders.set(name, dir);
  const file = path.join(dir, 'agent.config.yaml');
  writeFileSync(
    file,
    stringify({
      agent: { name },
      log: { level: 'info', format: 'json' },
      http: { port: 0 },
      store: { enabled: true, data_dir: path.join(dir, 'data'), commit_interval: '20ms' },
      plugins: [
        {
          name: 'fleet',
          use: 'nats',
          config: {
            servers: [server.url],
            role: 'aggregator',
            agent_id: name,
            subject_prefix: fleet.prefix,
            stream: { name: fleet.stream },
            reconnect: { initial: '100ms', max: '500ms' },
            consumer: { durable: 'aggregators', ack_wait: '2s', batch: 20, lease: '2s' },
          },
        },
        { name: 'hook', use: 'webhook', config: { url: hookUrl } },
      ],
      alerting: {
        route: { receiver: 'ops', group_by: ['alertname', 'service', 'component'], group_wait: '500ms', group_interval: '1s', repeat_interval: '4h' },
        receivers: [{ name: 'ops', sinks: ['hook'] }],
      },
    }),
  );
  const agent = new AgentProcess(['--config', file]);
  agents.push(agent);
  return agent.ready();
}

async function getJson<T>(url: string): Promise<T> {
  return (await (await fetch(url)).json()) as T;
}

interface FleetStats {
  lease_role: 'leader' | 'standby';
  lease_holder: string | null;
  lease_id: string;
  alert_state_ready: boolean;
  alert_state_queued: number;
  alert_state_merged: number;
  alert_state_invalid: number;
  delivered: number;
}

async function fleetStats(url: string): Promise<FleetStats> {
  return (await getJson<{ components: Record<string, FleetStats> }>(`${url}/stats`)).components.fleet as FleetStats;
}

/** Two aggregators sharing the lease: the leader's URL first. */
async function pair(fleet: Fleet): Promise<{ leader: string; standby: string; agents: AgentProcess[] }> {
  const first = await startAggregator('agg-1', fleet);
  await until('agg-1 to lead', async () => (await fleetStats(first)).lease_role === 'leader');
  const second = await startAggregator('agg-2', fleet);
  const holder = (await fleetStats(first)).lease_id;
  await until('agg-2 to stand by, its alert state read', async () => {
    const s = await fleetStats(second);
    return s.lease_holder === holder && s.alert_state_ready;
  });
  return { leader: first, standby: second, agents: agents.slice(-2) };
}

async function publish(fleet: Fleet, agent: string, type: string, data: Record<string, unknown>): Promise<void> {
  const event = { type, data, metadata: { event_id: randomUUID(), timestamp: new Date().toISOString(), source: 'health-probe', tags: [] } };
  const h = headers();
  h.set('Praxis-Agent', agent);
  await js.publish(`${fleet.prefix}.${agent}.${type}`, JSON.stringify(event), { msgID: event.metadata.event_id, headers: h });
}

const dbDown = { severity: 'critical', message: 'orders-db: connection refused', component: 'orders-db', error_code: 'DEPENDENCY_DOWN' };
const cacheDown = { severity: 'critical', message: 'cache: connection refused', component: 'cache', error_code: 'DEPENDENCY_DOWN' };

interface StoredEvent {
  type: string;
  data: Record<string, unknown>;
}

async function systemErrors(url: string, code: string): Promise<StoredEvent[]> {
  const page = await getJson<{ events: { event: StoredEvent }[] }>(`${url}/events?since=0&limit=1000`);
  return page.events.map((e) => e.event).filter((e) => e.type === 'system.error' && e.data.error_code === code);
}

/** Creates a silence through an aggregator's Alertmanager API v2, as amtool does; answers its id. */
async function postSilence(url: string, matcher: { name: string; value: string }, comment: string): Promise<string> {
  const res = await fetch(`${url}/api/v2/silences`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ matchers: [{ ...matcher, isRegex: false, isEqual: true }], startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 3_600_000).toISOString(), createdBy: 'oncall', comment }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { silenceID: string }).silenceID;
}

describe('alert state shared by active/standby aggregators (JetStream KV)', () => {
  it('a silence created through API v2 on the standby mutes what the leader would notify, and applies on an aggregator started later', async () => {
    const fleet = await newFleet();
    const { leader, standby } = await pair(fleet);
    const silenceID = await postSilence(standby, { name: 'component', value: 'orders-db' }, 'db maintenance');
    await until('the silence on the leader', async () => (await getJson<{ id: string; status: { state: string } }[]>(`${leader}/api/v2/silences`)).find((s) => s.id === silenceID && s.status.state === 'active'));

    await publish(fleet, 'web-1', 'system.error', dbDown);
    await publish(fleet, 'web-1', 'system.error', cacheDown);
    // The cache's notification is the leader's flush: the db alert, in its own group, was flushed with it.
    await until('the cache notification', () => hooks.find((h) => h.alerts.some((a) => a.labels.component === 'cache')));
    const alerts = await until('both alerts on the leader', async () => {
      const list = await getJson<{ labels: Record<string, string>; status: { silencedBy: string[] } }[]>(`${leader}/api/v2/alerts`);
      return list.length === 2 ? list : undefined;
    });
    expect(alerts.find((a) => a.labels.component === 'orders-db')?.status.silencedBy).toEqual([silenceID]);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(hooks.flatMap((h) => h.alerts.map((a) => a.labels.component))).toEqual(['cache']);

    // An aggregator started later reads it from the bucket.
    const late = await startAggregator('agg-3', fleet);
    await until('the silence on the aggregator started later', async () => (await getJson<{ id: string; status: { state: string } }[]>(`${late}/api/v2/silences`)).find((s) => s.id === silenceID && s.status.state === 'active'));
  });

  it('the leader SIGKILLed while an alert fires: the new holder does not notify it again, and sends one resolve when the service recovers', async () => {
    const fleet = await newFleet();
    const kv = await bucket(fleet);
    const { leader, standby, agents: [leaderAgent] } = await pair(fleet);
    await publish(fleet, 'web-1', 'service.status', { service_name: 'orders', status: 'unhealthy' });
    const fired = await until('the firing notification', () => hooks.find((h) => h.status === 'firing'));
    const fingerprint = fired.alerts[0]?.fingerprint as string;
    // The holder's log entry in the bucket: the SIGKILL comes after it (before it is the window the README names).
    await until('the notification log entry in the bucket', async () => {
      const keys: string[] = [];
      for await (const k of await kv.keys('nflog.>')) keys.push(k);
      return keys.length === 1 && (await fleetStats(leader)).alert_state_queued === 0;
    });
    leaderAgent?.kill('SIGKILL');
    await leaderAgent?.exited;
    await until('the standby to take over', async () => (await fleetStats(standby)).lease_role === 'leader', 30_000);
    const merged = await until('the alert on the new holder', async () => (await getJson<{ fingerprint: string; status: { state: string } }[]>(`${standby}/api/v2/alerts`)).find((a) => a.fingerprint === fingerprint));
    expect(merged.status.state).toBe('active');

    // The probe still sees the service down (as an event processed by both holders would say): within
    // repeat_interval, no notification. (A service.status of another agent would resolve this one: the
    // core's rule for status alerts, so only web-1 reports here.)
    await publish(fleet, 'web-1', 'service.status', { service_name: 'orders', status: 'unhealthy' });
    await until('the occurrence on the new holder', async () => (await fleetStats(standby)).delivered >= 1);
    // group_interval is 1s: a notification of the group would come within this wait.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const ofAlert = (h: Hook): boolean => h.alerts.some((a) => a.fingerprint === fingerprint);
    expect(hooks.filter(ofAlert)).toHaveLength(1);

    await publish(fleet, 'web-1', 'service.status', { service_name: 'orders', status: 'healthy' });
    await until('the resolve', () => hooks.find((h) => h.alerts.some((a) => a.fingerprint === fingerprint && a.status === 'resolved')));
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const resolves = hooks.filter((h) => h.alerts.some((a) => a.fingerprint === fingerprint && a.status === 'resolved'));
    expect(resolves).toHaveLength(1);
    expect(hooks).toHaveLength(2);
  });

  it('an acknowledgement made on the leader holds on the new holder after the leader is SIGKILLed, and is not announced again', async () => {
    const fleet = await newFleet();
    const { leader, standby, agents: [leaderAgent] } = await pair(fleet);
    await publish(fleet, 'web-1', 'service.status', { service_name: 'payments', status: 'unhealthy' });
    const fired = await until('the firing notification', () => hooks.find((h) => h.status === 'firing'));
    const fingerprint = fired.alerts[0]?.fingerprint as string;
    const ack = await fetch(`${leader}/alerts/${fingerprint}/ack`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ by: 'ann', comment: 'on it' }),
    });
    expect(ack.status).toBe(200);
    interface Listed {
      alert: { fingerprint: string };
      acknowledgement?: { by: string; comment?: string };
    }
    const acknowledgementOn = async (url: string) => (await getJson<{ alerts: Listed[] }>(`${url}/alerts`)).alerts.find((a) => a.alert.fingerprint === fingerprint)?.acknowledgement;
    await until('the acknowledgement on the leader', () => acknowledgementOn(leader));
    await until('the leader to have written everything', async () => (await fleetStats(leader)).alert_state_queued === 0);
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // what the leader sends for the ack, if anything, arrives
    const before = hooks.length;

    leaderAgent?.kill('SIGKILL');
    await leaderAgent?.exited;
    await until('the standby to take over', async () => (await fleetStats(standby)).lease_role === 'leader', 30_000);
    expect(await acknowledgementOn(standby)).toMatchObject({ by: 'ann', comment: 'on it' });

    // A repeat of the failure on the new holder: the alert stays acknowledged and nobody is told again.
    await publish(fleet, 'web-1', 'service.status', { service_name: 'payments', status: 'unhealthy' });
    await until('the occurrence on the new holder', async () => (await fleetStats(standby)).delivered >= 1);
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // group_interval is 1s
    expect(await acknowledgementOn(standby)).toMatchObject({ by: 'ann' });
    expect(hooks).toHaveLength(before);
  });

  it('a silence created while NATS is down, on an aggregator then restarted, is written to the bucket from its store when it connects', async () => {
    const fleet = await newFleet();
    const { leader, standby, agents: [, standbyAgent] } = await pair(fleet);
    await server.kill();
    let id = '';
    try {
      id = await postSilence(standby, { name: 'service', value: 'orders' }, 'while NATS is down');
      // Stopped before it could write it: what it had queued is gone, the silence is in its store.
      standbyAgent?.kill('SIGTERM');
      expect(await standbyAgent?.exited).toBe(0);
    } finally {
      await server.start();
      // The test's own client would reconnect in its own time: a new one for the tests that follow.
      await nc.close();
      nc = await connect({ servers: server.url });
      js = jetstream(nc);
    }
    const again = await startAggregator('agg-2', fleet, true);
    expect((await getJson<{ id: string }[]>(`${again}/api/v2/silences`)).map((s) => s.id)).toEqual([id]);
    await until('the silence on the other aggregator', async () => (await getJson<{ id: string }[]>(`${leader}/api/v2/silences`)).some((s) => s.id === id), 60_000);
  });

  it('a bad value in the bucket is reported and skipped; the good ones are merged', async () => {
    const fleet = await newFleet();
    const kv = await bucket(fleet);
    const url = await startAggregator('agg-bad', fleet);
    await until('the alert state read', async () => (await fleetStats(url)).alert_state_ready);
    const silence = (id: string, comment: string) => ({
      id,
      matchers: [{ name: 'component', value: 'orders-db', isRegex: false, isEqual: true }],
      startsAt: new Date().toISOString(),
      endsAt: new Date(Date.now() + 3_600_000).toISOString(),
      updatedAt: new Date().toISOString(),
      createdBy: 'oncall',
      comment,
    });
    const good = randomUUID();
    await kv.put('silence.not-json', '{"id": ');
    await kv.put(`silence.${randomUUID()}`, JSON.stringify(silence(randomUUID(), 'id is not its key')));
    await kv.put('foreign.thing', '{}');
    const empty = randomUUID();
    await kv.put(`silence.${empty}`, JSON.stringify({ ...silence(empty, 'no matchers'), matchers: [] }));
    await kv.put(`silence.${good}`, JSON.stringify(silence(good, 'the good one')));
    await until('the good silence merged', async () => (await getJson<{ id: string }[]>(`${url}/api/v2/silences`)).some((s) => s.id === good));
    const reports = await until('four NATS_ALERT_STATE_INVALID reports', async () => {
      const found = await systemErrors(url, 'NATS_ALERT_STATE_INVALID');
      return found.length === 4 ? found : undefined;
    });
    const messages = reports.map((r) => String(r.data.message)).join('\n');
    expect(messages).toContain('silence.not-json');
    expect(messages).toContain('not JSON');
    expect(messages).toContain('foreign.thing');
    expect(messages).toContain('its value is for key');
    expect(messages).toContain('at least one matcher');
    expect(await getJson<unknown[]>(`${url}/api/v2/silences`)).toHaveLength(1);
    expect(await fleetStats(url)).toMatchObject({ alert_state_invalid: 4, alert_state_merged: 1 });
  });

  it('a bucket with other settings is NATS_ALERT_STATE_MISMATCH: reported, left unchanged, nothing replicated', async () => {
    const fleet = await newFleet();
    await new Kvm(nc).create(`${fleet.stream}_aggregators_alerting`, { history: 1, ttl: 60_000 });
    const url = await startAggregator('agg-mismatch', fleet);
    const [report] = await until('the NATS_ALERT_STATE_MISMATCH report', async () => {
      const found = await systemErrors(url, 'NATS_ALERT_STATE_MISMATCH');
      return found.length > 0 ? found : undefined;
    });
    expect(String(report?.data.message)).toContain('max_age 60000 ms');
    expect((await fleetStats(url)).alert_state_ready).toBe(false);
    expect((await (await bucket(fleet)).status()).ttl).toBe(60_000);
  });

  it('a silence created while the KV cannot be written stays local, is reported once, and is written when the server answers again', async () => {
    const fleet = await newFleet();
    const { leader, standby } = await pair(fleet);
    // A hung server (SIGSTOP): the connection stays, the writes time out.
    server.pause();
    let id = '';
    try {
      id = await postSilence(standby, { name: 'service', value: 'orders' }, 'while NATS hangs');
      // Applies locally at once.
      expect((await getJson<{ id: string }[]>(`${standby}/api/v2/silences`)).map((s) => s.id)).toEqual([id]);
      await until('the NATS_ALERT_STATE_FAILED report', async () => (await systemErrors(standby, 'NATS_ALERT_STATE_FAILED')).length > 0, 30_000);
    } finally {
      server.resume();
    }
    await until('the silence on the other aggregator', async () => (await getJson<{ id: string }[]>(`${leader}/api/v2/silences`)).some((s) => s.id === id), 60_000);
    const reports = await until('the recovery report', async () => {
      const found = await systemErrors(standby, 'NATS_ALERT_STATE_FAILED');
      return found.some((r) => (r.data.diagnostic_data as { recovered?: boolean }).recovered) ? found : undefined;
    }, 30_000);
    // One report for the episode, one for its end.
    expect(reports.map((r) => r.data.severity)).toEqual(['error', 'info']);
  });
});
