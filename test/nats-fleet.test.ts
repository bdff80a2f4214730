import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deleteStream, readStream } from '../plugins/nats/test-stream';
import { AgentProcess, freePort, runCli, runCliAsync } from './helpers/cli';
import { SYSTEM_NATS, TestNatsServer } from './helpers/nats-server';

/**
 * Fleet mode with real agent processes: the sidecar is killed (SIGKILL) while NATS is down, and
 * started again on the same data folder; when NATS is back every event is in the stream once, in
 * order.
 */

interface EventsPage {
  head: number;
  events: { offset: number; event: { type: string; metadata: { event_id: string } } }[];
}

let server: TestNatsServer | undefined;
const dirs: string[] = [];
afterEach(async () => {
  if (server) {
    if (!server.running) await server.start().catch(() => undefined);
    for (const s of streams.splice(0)) await deleteStream(server.url, s).catch(() => undefined);
    await server.dispose();
    server = undefined;
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const streams: string[] = [];

async function stats(url: string): Promise<{ store: { head: number; pending_events: number }; fleet: Record<string, unknown> }> {
  const body = (await (await fetch(`${url}/stats`)).json()) as { store: { head: number; pending_events: number }; components: { fleet: Record<string, unknown> } };
  return { store: body.store, fleet: body.components.fleet };
}

async function ingest(url: string, n: number, tag: string): Promise<void> {
  const events = Array.from({ length: n }, (_, i) => ({ type: 'service.status', data: { service_name: `${tag}-${i}`, status: 'healthy' } }));
  const response = await fetch(`${url}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
  expect(response.status).toBe(202);
}

/** Polls /stats until `check` holds (the agent is a separate process: no other way to wait for it). */
async function until(url: string, what: string, check: (s: Awaited<ReturnType<typeof stats>>) => boolean): Promise<void> {
  let last: Awaited<ReturnType<typeof stats>> | undefined;
  const deadline = Date.now() + 30_000;
  for (;;) {
    last = await stats(url);
    if (check(last)) return;
    if (Date.now() > deadline) throw new Error(`never happened: ${what}; last /stats: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** An agent config in a temp folder: store on, the nats sidecar on `server` with a stream of its own. */
async function fleetConfig(on: TestNatsServer, extra: string[] = []): Promise<{ config: string; stream: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'praxis-fleet-'));
  dirs.push(dir);
  const id = randomUUID().slice(0, 8);
  const stream = `FLEET_${id}`;
  streams.push(stream);
  const config = path.join(dir, 'agent.config.yaml');
  writeFileSync(
    config,
    [
      'agent: { name: proc-1 }',
      `http: { port: ${await freePort()} }`,
      'store: { enabled: true, data_dir: data, commit_interval: 20ms }',
      'plugins:',
      '  - name: fleet',
      '    use: nats',
      '    config:',
      `      servers: ["${on.url}"]`,
      `      subject_prefix: fleet${id}`,
      `      stream: { name: ${stream} }`,
      '      reconnect: { initial: 50ms, max: 500ms }',
      ...extra,
      '',
    ].join('\n'),
  );
  return { config, stream };
}

describe('fleet mode: a sidecar agent process', () => {
  it('killed (SIGKILL) during a NATS outage and restarted: every event reaches the stream once and in order; fleet status tells; the token is never logged', async () => {
    const token = `t-${randomUUID()}`;
    server = await TestNatsServer.start(['--auth', token]);
    const { config, stream } = await fleetConfig(server, ['      auth: { token_env: TEST_NATS_TOKEN }']);
    const env = { TEST_NATS_TOKEN: token, PRAXIS_CONFIG: config };
    const first = new AgentProcess(['--config', config], env);
    const url = await first.ready();
    await ingest(url, 5, 'before');
    await until(url, 'the first events forwarded', (s) => s.fleet.pending_events === 0 && s.fleet.last_acked_offset === s.store.head && s.store.head > 5);

    await server.kill();
    await until(url, 'the outage noticed', (s) => s.fleet.connected === false);
    await ingest(url, 5, 'outage');
    // Committed to the store, then killed: what the store has must reach the stream.
    await until(url, 'the outage events committed locally', (s) => s.store.pending_events === 0 && (s.fleet.pending_events as number) >= 5);
    first.kill('SIGKILL');
    await first.exited;

    const second = new AgentProcess(['--config', config], env);
    const url2 = await second.ready();
    await ingest(url2, 5, 'restarted');
    await until(url2, 'the restarted events committed', (s) => s.store.pending_events === 0);
    const down = runCli(['fleet', 'status', '--url', url2]);
    expect(down.status).toBe(1);
    expect(down.stdout).toMatch(/connected: +NO/);
    expect(down.stdout).toMatch(/pending_events: +\d+/);

    await server.start();
    await until(url2, 'everything forwarded after the outage', (s) => s.fleet.connected === true && s.fleet.pending_events === 0 && s.fleet.last_acked_offset === s.store.head);
    const stored = (await (await fetch(`${url2}/events?since=0&limit=1000`)).json()) as EventsPage;
    const messages = await readStream(server.url, stream, { token });
    const inStream = messages.map((m) => m.headers['Nats-Msg-Id']);
    // The store's events after the restart are those committed before the kill plus the new ones: all of them, once, in order.
    expect(inStream).toEqual(stored.events.map((e) => e.event.metadata.event_id));
    expect(new Set(inStream).size).toBe(inStream.length);
    expect(messages.filter((m) => m.data.includes('"outage-')).length).toBe(5);
    expect(messages.filter((m) => m.data.includes('"restarted-')).length).toBe(5);

    const up = runCli(['fleet', 'status', '--url', url2]);
    expect(up.status).toBe(0);
    expect(up.stdout).toMatch(/fleet: nats sidecar proc-1 → stream FLEET_/);
    expect(up.stdout).toMatch(/connected: +yes/);
    const readyz = (await (await fetch(`${url2}/readyz`)).json()) as { plugins: { status?: Record<string, unknown> }[] };
    expect(readyz.plugins[0]?.status).toMatchObject({ role: 'sidecar', connected: true, pending_events: 0 });
    const metrics = await (await fetch(`${url2}/metrics`)).text();
    expect(metrics).toMatch(/praxis_component_stat\{component="fleet",key="last_acked_offset"\} \d+/);

    second.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    const logs = JSON.stringify(first.lines) + first.stderr.join('') + JSON.stringify(second.lines) + second.stderr.join('');
    expect(logs).not.toContain(token);
  }, 90_000);
  it('killed (SIGKILL) while forwarding a burst: after the restart the stream holds exactly the events the store kept, in order (only committed events are forwarded)', async () => {
    server = await TestNatsServer.start();
    const { config, stream } = await fleetConfig(server);
    const first = new AgentProcess(['--config', config]);
    const url = await first.ready();
    await until(url, 'connected', (s) => s.fleet.connected === true && s.fleet.stream_ok === true);
    for (let i = 0; i < 10; i++) await ingest(url, 50, `burst${i}`);
    first.kill('SIGKILL');
    await first.exited;

    const second = new AgentProcess(['--config', config]);
    const url2 = await second.ready();
    await ingest(url2, 5, 'after');
    await until(url2, 'everything forwarded', (s) => s.store.pending_events === 0 && s.fleet.pending_events === 0 && s.fleet.last_acked_offset === s.store.head);
    const stored = (await (await fetch(`${url2}/events?since=0&limit=1000`)).json()) as EventsPage;
    const messages = await readStream(server.url, stream);
    expect(messages.map((m) => m.headers['Nats-Msg-Id'])).toEqual(stored.events.map((e) => e.event.metadata.event_id));
    expect(messages.map((m) => Number(m.headers['Praxis-Offset']))).toEqual(stored.events.map((e) => e.offset));
    second.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 90_000);
});

describe('fleet status finds the running agent as the core client commands do (SDK agentAdminUrl / agentBearerToken)', () => {
  it('the URL from --config (http section) or $PRAXIS_URL, the token from --token-file or $PRAXIS_TOKEN; an unreadable token file exits 2 naming it', async () => {
    // An HTTP server in the agent's place: it records what the command sends.
    const seen: { url: string; authorization: string | undefined }[] = [];
    const server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ plugins: [], components: {} }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const dir = mkdtempSync(path.join(tmpdir(), 'praxis-fleet-status-'));
      dirs.push(dir);
      const token = `tok-${randomUUID()}`;
      const tokenFile = path.join(dir, 'token');
      writeFileSync(tokenFile, `${token}\n`);
      const config = path.join(dir, 'agent.config.yaml');
      writeFileSync(config, `http: { host: 127.0.0.1, port: ${port} }\n`);
      const clean = { PRAXIS_URL: '', PRAXIS_TOKEN: '' };

      const fromFlags = await runCliAsync(['fleet', 'status', '--config', config, '--token-file', tokenFile], clean);
      expect(fromFlags.stdout).toContain('the agent runs no nats plugin');
      expect(fromFlags.status).toBe(1);
      const noToken = await runCliAsync(['fleet', 'status', '--config', config], clean);
      expect(noToken.status).toBe(1);
      const fromEnv = await runCliAsync(['fleet', 'status', '--config', path.join(dir, 'missing.yaml')], { PRAXIS_URL: `http://127.0.0.1:${port}`, PRAXIS_TOKEN: token });
      expect(fromEnv.status).toBe(1);
      expect(seen).toEqual([
        { url: '/stats', authorization: `Bearer ${token}` },
        { url: '/stats', authorization: undefined },
        { url: '/stats', authorization: `Bearer ${token}` },
      ]);
      const unreadable = await runCliAsync(['fleet', 'status', '--url', `http://127.0.0.1:${port}`, '--token-file', path.join(dir, 'nope')]);
      expect(unreadable.status).toBe(2);
      expect(unreadable.stderr).toMatch(/--token-file: cannot read .*nope \(no such file\)/);
      expect(seen).toHaveLength(3);
      expect(fromFlags.stdout + fromFlags.stderr + fromEnv.stdout + fromEnv.stderr + unreadable.stderr).not.toContain(token);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('the agent label is the fleet id', () => {
  it('an agent named web.1 labels the alerts of its own events agent=web_1, the agent_id its events have in the fleet', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'praxis-agent-id-'));
    dirs.push(dir);
    const id = randomUUID().slice(0, 8);
    const stream = `T_${id}`;
    const config = path.join(dir, 'agent.config.yaml');
    writeFileSync(config, [
      'agent: { name: web.1 }',
      'log: { format: json }',
      'http: { host: 127.0.0.1, port: 0 }',
      'store: { enabled: true, data_dir: ./data, commit_interval: 20ms }',
      'plugins:',
      `  - { name: fleet, use: nats, config: { servers: ["${SYSTEM_NATS}"], subject_prefix: "t${id}.events", stream: { name: ${stream} } } }`,
      'alerting:',
      '  route: { receiver: none }',
      '  receivers: [{ name: none, sinks: [] }]',
      '',
    ].join('\n'));
    const agent = new AgentProcess(['--config', config]);
    try {
      const url = await agent.ready();
      const res = await fetch(`${url}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'system.error', data: { severity: 'error', message: 'db down', component: 'orders-db', error_code: 'DB_DOWN' } }) });
      expect(res.status).toBe(202);
      let alerts: { labels: Record<string, string> }[] = [];
      for (const end = Date.now() + 10_000; alerts.length === 0 && Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
        alerts = (await (await fetch(`${url}/api/v2/alerts`)).json()) as { labels: Record<string, string> }[];
      }
      const stats = (await (await fetch(`${url}/stats`)).json()) as { components: { fleet: { agent_id: string } } };
      expect(stats.components.fleet.agent_id).toBe('web_1');
      expect(alerts.map((a) => a.labels.agent)).toEqual(['web_1']);
    } finally {
      agent.kill('SIGTERM');
      await agent.exited;
      await deleteStream(SYSTEM_NATS, stream).catch(() => undefined);
    }
  });

  it('a nats agent_id other than the agent\'s id is warned about at start (the labels would differ)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'praxis-agent-id-'));
    dirs.push(dir);
    const config = path.join(dir, 'agent.config.yaml');
    const id = randomUUID().slice(0, 8);
    writeFileSync(config, `agent: { name: web-1 }\nlog: { format: json }\nhttp: { host: 127.0.0.1, port: 0 }\nstore: { enabled: true, data_dir: ./data }\nplugins:\n  - { name: fleet, use: nats, config: { servers: ["${SYSTEM_NATS}"], agent_id: web-one, subject_prefix: "t${id}.events", stream: { name: T_${id} } } }\n`);
    const agent = new AgentProcess(['--config', config]);
    try {
      await agent.ready();
      const warning = await agent.waitFor((l) => l.agent_id === 'web-one' && l.agent_label === 'web-1');
      expect(warning.msg).toContain('set agent.name rather than agent_id');
    } finally {
      agent.kill('SIGTERM');
      await agent.exited;
      await deleteStream(SYSTEM_NATS, `T_${id}`).catch(() => undefined);
    }
  });
});
