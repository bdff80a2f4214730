import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { Agent } from '../src/agent/agent';
import { loadConfig } from '../src/config/loader';
import { until } from './helpers/async';

/**
 * An alertmanager.yml's slack_configs delivered through the built-in slack sink by the real agent
 * (engine, outbox, rate limit) to a real HTTP server standing in for Slack: the webhook URL from an
 * `api_url_file` next to the alertmanager.yml, a templated title, a 429 with Retry-After honoured
 * and retried, each group posted once, and the webhook's secret path never in the agent's log.
 */
const TOKEN = 'sEcReTtOkEn0123456789';

interface Post {
  path: string;
  status: number;
  payload: { text: string; channel?: string; blocks: Array<{ type: string; text?: { text: string } }>; attachments: Array<{ color: string }> };
}

let server: Server;
let port: number;
const posts: Post[] = [];
/** Answers for the next requests, in order; then 200. */
const script: Array<{ status: number; headers?: Record<string, string> }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const answer = script.shift() ?? { status: 200 };
      posts.push({ path: req.url ?? '', status: answer.status, payload: JSON.parse(body) as Post['payload'] });
      res.writeHead(answer.status, answer.headers).end(answer.status === 200 ? 'ok' : 'rate_limited');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

it("alertmanager.yml's slack_configs deliver through the slack sink: templated title, 429 Retry-After retried, each group once, no secret in the log", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'am-slack-'));
  mkdirSync(path.join(dir, 'alertmanager'));
  writeFileSync(path.join(dir, 'alertmanager', 'slack-url'), `http://127.0.0.1:${port}/services/T1/B1/${TOKEN}\n`);
  writeFileSync(
    path.join(dir, 'alertmanager', 'alertmanager.yml'),
    [
      'route:',
      '  receiver: ops',
      '  group_by: [alertname]',
      '  group_wait: 100ms',
      '  group_interval: 10s',
      'receivers:',
      '  - name: ops',
      '    slack_configs:',
      '      - api_url_file: slack-url',
      "        channel: '#ops'",
      '        title: \'{{ .Status | toUpper }}: {{ .CommonLabels.alertname }} ({{ len .Alerts }})\'',
      '        text: \'{{ template "slack.default.text" . }}\'',
    ].join('\n'),
  );
  const file = path.join(dir, 'agent.config.yaml');
  writeFileSync(file, ['agent: { name: slack-e2e }', 'http: { enabled: false }', 'alerting:', '  config_file: ./alertmanager/alertmanager.yml'].join('\n'));

  const loaded = loadConfig(file);
  expect(loaded.plugins.map((p) => [p.entry.name, p.entry.use])).toEqual([['ops-slack-0', 'slack']]);
  const chunks: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (c: Buffer) => chunks.push(c.toString()));
  const agent = new Agent(loaded, { logger: pino({ level: 'debug' }, stream) });
  script.push({ status: 429, headers: { 'retry-after': '1' } });
  await agent.start();
  try {
    await agent.bus.publish('system.error', { severity: 'critical', message: 'disk full', error_code: 'DISK_FULL', component: 'db' });
    await agent.bus.publish('system.error', { severity: 'warning', message: 'slow query', error_code: 'SLOW_QUERY', component: 'db' });
    await until('both groups delivered', () => posts.filter((p) => p.status === 200).length >= 2);
  } finally {
    await agent.stop();
  }
  const delivered = posts.filter((p) => p.status === 200);
  // The first attempt got 429; it was tried again (after Retry-After), and nothing was posted twice.
  expect(posts).toHaveLength(3);
  expect(posts[0].status).toBe(429);
  expect(delivered.map((p) => p.payload.text).sort()).toEqual(['FIRING: DISK_FULL (1)', 'FIRING: SLOW_QUERY (1)']);
  expect(delivered.every((p) => p.path === `/services/T1/B1/${TOKEN}` && p.payload.channel === '#ops')).toBe(true);
  const disk = delivered.find((p) => p.payload.text.includes('DISK_FULL'));
  expect(disk?.payload.blocks[0].text?.text).toBe(':red_circle: FIRING: DISK_FULL (1)');
  expect(disk?.payload.attachments[0].color).toBe('#D40E0D');
  const log = chunks.join('');
  expect(log).toContain('Slack webhook answered HTTP 429');
  expect(log).not.toContain(TOKEN);
});
