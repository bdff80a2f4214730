import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent } from '../src/agent/agent';
import { ConfigError, loadConfig } from '../src/config/loader';
import { silentLogger } from '../src/core/logger';
import { until } from './helpers/async';

/**
 * An alertmanager.yml's integrations delivered unchanged: its webhook_configs become instances of
 * the built-in webhook sink (a real HTTP server receives them), `*_file` paths are read relative
 * to the alertmanager.yml as Alertmanager reads them, `send_resolved` applies per integration, and
 * a field with no equivalent is a config error at its line.
 */
interface Received {
  path: string;
  body: { status: string; receiver: string; alerts: { status: string; labels: Record<string, string> }[] };
}

let server: Server;
let port: number;
const received: Received[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: JSON.parse(body) as Received['body'] });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function setup(webhookConfigs: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'am-integrations-'));
  mkdirSync(path.join(dir, 'alertmanager'));
  writeFileSync(path.join(dir, 'alertmanager', 'hook-url'), `http://127.0.0.1:${port}/from-file\n`);
  writeFileSync(
    path.join(dir, 'alertmanager', 'alertmanager.yml'),
    ['route:', '  receiver: ops', '  group_wait: 100ms', '  group_interval: 200ms', 'receivers:', '  - name: ops', '    webhook_configs:', ...webhookConfigs.split('\n').map((l) => `      ${l}`)].join('\n'),
  );
  const file = path.join(dir, 'agent.config.yaml');
  writeFileSync(file, ['agent: { name: integrations }', 'http: { enabled: false }', 'alerting:', '  config_file: ./alertmanager/alertmanager.yml', '  rules:', '    - { event: system.error, resolve_timeout: 300ms }'].join('\n'));
  return file;
}

describe("alertmanager.yml's webhook_configs", () => {
  it('deliver through instances of the built-in webhook sink, each with its own send_resolved', async () => {
    const file = setup(`- url: http://127.0.0.1:${port}/all\n  send_resolved: true\n- url_file: hook-url\n  send_resolved: false`);
    const loaded = loadConfig(file);
    expect(loaded.alerting?.receivers[0].sinks).toEqual(['ops-webhook-0', 'ops-webhook-1']);
    expect(loaded.plugins.map((p) => [p.entry.name, p.entry.use, p.entry.delivery?.send_resolved])).toEqual([
      ['ops-webhook-0', 'webhook', true],
      ['ops-webhook-1', 'webhook', false],
    ]);
    const agent = new Agent(loaded, { logger: silentLogger() });
    await agent.start();
    try {
      await agent.bus.publish('system.error', { severity: 'error', message: 'disk full', error_code: 'DISK_FULL', component: 'db' });
      await until('the resolve at /all', () => received.some((r) => r.path === '/all' && r.body.status === 'resolved'));
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      await agent.stop();
    }
    const seen = received.map((r) => `${r.path} ${r.body.receiver} ${r.body.status}`);
    expect(seen).toEqual(expect.arrayContaining(['/all ops firing', '/all ops resolved', '/from-file ops firing']));
    expect(seen).not.toContain('/from-file ops resolved');
  });

  it('refuse a field the sink has no equivalent for, at its line in alertmanager.yml', () => {
    const file = setup(`- url: http://127.0.0.1:${port}/x\n  http_config:\n    proxy_url: http://proxy:3128`);
    let error: unknown;
    try {
      loadConfig(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).lines()).toEqual([expect.stringMatching(/^.*alertmanager\.yml:1[01]:\d+ receivers\[0\]\.webhook_configs\[0\]\.http_config(\.proxy_url)?: .*proxy_url.* \(CONFIG_INVALID_VALUE\)$/)]);
  });

  it('an edited alertmanager.yml is reported by a reload as needing a restart (alerting is read at start)', async () => {
    const file = setup(`- url: http://127.0.0.1:${port}/all`);
    const agent = new Agent(loadConfig(file), { logger: silentLogger() });
    await agent.start();
    try {
      const amFile = path.join(path.dirname(file), 'alertmanager', 'alertmanager.yml');
      writeFileSync(amFile, readFileSync(amFile, 'utf8').replace('group_wait: 100ms', 'group_wait: 1s'));
      expect(await agent.reload('test')).toMatchObject({ restart_required: ['alerting'] });
    } finally {
      await agent.stop();
    }
  });

  it('are served to amtool as the alertmanager.yml was written, with their secrets masked (GET /api/v2/status)', async () => {
    const file = setup(`- url: http://hook:s3cret-in-url@127.0.0.1:${port}/all\n  http_config:\n    basic_auth: { username: am, password: hunter2-secret }`);
    writeFileSync(file, readFileSync(file, 'utf8').replace('http: { enabled: false }', 'http: { host: 127.0.0.1, port: 0 }'));
    const agent = new Agent(loadConfig(file), { logger: silentLogger() });
    await agent.start();
    try {
      const status = (await (await fetch(`${agent.adminUrl}/api/v2/status`)).json()) as { config: { original: string } };
      expect(status.config.original).toContain('webhook_configs');
      expect(status.config.original).toContain('group_wait: 100ms');
      expect(status.config.original).not.toContain('hunter2-secret');
      expect(status.config.original).not.toContain('s3cret-in-url');
      expect(status.config.original).not.toContain('sinks');
      expect(status.config.original).toContain('password: <secret>');
      // Still Alertmanager's format: amtool parses it and routes on it.
      const routes = await new Promise<{ code: number; stdout: string }>((resolve) =>
        execFile('amtool', ['config', 'routes', 'test', `--alertmanager.url=${agent.adminUrl}`, 'alertname=X'], (error, stdout) => resolve({ code: error ? 1 : 0, stdout })),
      );
      expect(routes).toEqual({ code: 0, stdout: 'ops\n' });
    } finally {
      await agent.stop();
    }
  });
});
