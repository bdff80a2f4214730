import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TestClient } from '../plugins/websocket-broadcaster/test-client';
import { loadConfig } from '../src/config/loader';
import { waitFor } from './helpers/async';
import { AgentProcess, freePort, REPO } from './helpers/cli';
import { TestNatsServer } from './helpers/nats-server';

const SCHEMA = path.join(REPO, 'config/agent.config.schema.json');

describe('shipped YAML files', () => {
  const files = ['agent.config.yaml', ...readdirSync(path.join(REPO, 'config')).filter((f) => f.endsWith('.yaml')).map((f) => `config/${f}`)];

  it.each(files)('%s starts with a yaml-language-server $schema line pointing at the committed config schema', (file) => {
    const first = readFileSync(path.join(REPO, file), 'utf8').split('\n')[0];
    const match = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
    expect(match).not.toBeNull();
    expect(path.resolve(path.dirname(path.join(REPO, file)), match![1])).toBe(SCHEMA);
  });

  it('include a commented example config/<name>.yaml for every built-in plugin', () => {
    const builtins = readdirSync(path.join(REPO, 'plugins'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(builtins).toContain('event-logger');
    expect(builtins.filter((name) => !existsSync(path.join(REPO, 'config', `${name}.yaml`)))).toEqual([]);
    for (const name of builtins) expect(readFileSync(path.join(REPO, 'config', `${name}.yaml`), 'utf8')).toMatch(new RegExp(`^\\s+use: ${name}\\b`, 'm'));
  });

  it('take their ports and data folder from PRAXIS_PORT, PRAXIS_WS_PORT and PRAXIS_DATA_DIR (agent.full.yaml shows the defaults)', () => {
    const env = { PRAXIS_PORT: '19780', PRAXIS_WS_PORT: '19781', PRAXIS_DATA_DIR: '/tmp/praxis-moved' };
    for (const file of files.filter((f) => f !== 'config/agent.full.yaml')) {
      const loaded = loadConfig(path.join(REPO, file), { env });
      expect({ file, port: loaded.config.http.port }).toEqual({ file, port: 19780 });
      for (const plugin of loaded.plugins) {
        const config = plugin.config as { port?: number; path?: string };
        if (plugin.entry.use === 'websocket-broadcaster') expect({ file, port: config.port }).toEqual({ file, port: 19781 });
        if (plugin.entry.use === 'audit-log') expect({ file, path: config.path }).toEqual({ file, path: '/tmp/praxis-moved/audit/audit.log' });
      }
    }
  });

  it('are all listed in config/README.md', () => {
    const readme = readFileSync(path.join(REPO, 'config/README.md'), 'utf8');
    const listed = [...readme.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
    expect(readdirSync(path.join(REPO, 'config')).filter((f) => !listed.includes(f) && f !== 'README.md')).toEqual([]);
  });
});

/** The audit file's records, parsed (none while it does not exist). */
function auditRecords(file: string): { type: string; event_id: string | null; data: Record<string, unknown> }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.endsWith('}'))
    .map((line) => JSON.parse(line) as { type: string; event_id: string | null; data: Record<string, unknown> });
}

/**
 * The shipped agent.config.yaml as `npm start` runs it, with every built-in plugin: a copy in a
 * temp folder (config-watcher reloads it when the test edits it), on free ports and a temp data folder.
 */
describe('the shipped agent.config.yaml, running', () => {
  const clients: TestClient[] = [];
  let nats: TestNatsServer | undefined;
  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate();
    await nats?.dispose();
  });

  it('runs every built-in plugin: self-check healthy, events reach the WebSocket and the audit log, an edit is hot-reloaded, and the log stays quiet', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'praxis-shipped-'));
    const config = path.join(dir, 'agent.config.yaml');
    copyFileSync(path.join(REPO, 'agent.config.yaml'), config);
    const data = path.join(dir, 'data');
    const [port, wsPort] = [await freePort(), await freePort()];
    // Fleet mode is shipped off (it needs a NATS server): on here, against a server of the test's own.
    nats = await TestNatsServer.start();
    const agent = new AgentProcess(['--config', config], { PRAXIS_PORT: String(port), PRAXIS_WS_PORT: String(wsPort), PRAXIS_DATA_DIR: data, PRAXIS_LOG_LEVEL: 'info', PRAXIS_FLEET: 'true', PRAXIS_NATS_URL: nats.url });
    const url = await agent.ready();
    expect(url).toBe(`http://127.0.0.1:${port}`);

    // Every built-in plugin runs.
    const readyz = (await (await fetch(`${url}/readyz`)).json()) as { ready: boolean; plugins: { name: string; use: string; state: string }[] };
    expect(readyz.ready).toBe(true);
    expect(readyz.plugins.map((p) => [p.use, p.state]).sort()).toEqual(
      readdirSync(path.join(REPO, 'plugins'), { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => [d.name, 'running'])
        .sort(),
    );

    // Quiet: a handful of lines up to "ready", none of them a warning or an error.
    const startup = agent.lines.slice(0, agent.lines.findIndex((l) => typeof l.admin_url === 'string' && String(l.msg).startsWith('praxis-agent ready')) + 1);
    expect(startup.length).toBeLessThanOrEqual(12);
    expect(startup.filter((l) => Number(l.level) >= 40)).toEqual([]);

    const client = await TestClient.connect(`ws://127.0.0.1:${wsPort}/ws/events`);
    clients.push(client);
    const auditFile = path.join(data, 'audit/audit.log');

    // health-probe checks the agent's own admin API: the service is announced healthy (and audited).
    await waitFor(() => auditRecords(auditFile).some((r) => r.type === 'service.status' && r.data.service_name === 'praxis-agent' && r.data.status === 'healthy'), {
      what: 'the self-check reports praxis-agent healthy in the audit log',
      timeoutMs: 15_000,
    });

    // An event posted to the ingest API reaches the WebSocket client and the audit file.
    const ingest = await fetch(`${url}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'system.error', data: { severity: 'error', message: 'disk full', component: 'backup' } }),
    });
    expect(ingest.status).toBe(202);
    const eventId = ((await ingest.json()) as { accepted: { event_id: string }[] }).accepted[0].event_id;
    const streamed = await client.next((m) => m.type === 'eventStream' && (m.payload.metadata as { event_id: string }).event_id === eventId);
    expect(streamed.payload).toMatchObject({ type: 'system.error', data: { message: 'disk full' } });
    await waitFor(() => auditRecords(auditFile).some((r) => r.event_id === eventId), { what: 'the posted event is in the audit file' });
    await agent.waitFor((l) => l.plugin === 'events-log' && l.event_id === eventId);

    // Saving the config reloads it: the changed plugin restarts, the change is published and audited.
    writeFileSync(config, readFileSync(config, 'utf8').replace('types: ["system.error", "config.changed"]', 'types: ["system.error", "config.changed", "service.status"]'));
    const reload = await agent.waitFor((l) => String(l.reason).startsWith('config-watcher') && l.plugin === undefined && Array.isArray(l.restarted));
    expect(reload.restarted).toEqual(['events-log']);
    const changed = await client.next((m) => m.type === 'eventStream' && m.payload.type === 'config.changed');
    expect(JSON.stringify(changed.payload.data)).toContain('service.status');
    await waitFor(() => auditRecords(auditFile).some((r) => r.type === 'config.changed'), { what: 'the config change is in the audit file' });
    expect(((await (await fetch(`${url}/readyz`)).json()) as { ready: boolean }).ready).toBe(true);

    // The reload is logged once, by the agent (its reason names config-watcher), not again by the plugin.
    expect(agent.lines.filter((l) => String(l.msg).includes(String(reload.msg)))).toHaveLength(1);

    // Nothing went wrong along the way: no warning or error line at all.
    expect(agent.lines.filter((l) => Number(l.level) >= 40 && l.event_id !== eventId)).toEqual([]);

    agent.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
  }, 60_000);
});
