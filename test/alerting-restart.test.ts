import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Notification } from '../src/alerting/notification';
import { until } from './helpers/async';
import { AgentProcess, freePort, REPO } from './helpers/cli';

/**
 * The alerting state survives a SIGKILL: the real agent process, its SQLite store on disk, a
 * third-party sink that writes each notification it delivers to a file before answering.
 */
const SINK = path.join(REPO, 'dist/test/fixtures/alert-sink');
const RESOLVE_TIMEOUT_S = 10;

function notifications(file: string): Notification[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Notification);
}

const summary = (n: Notification): string => `${n.status} ${n.alerts.map((a) => `${a.labels.alertname}:${a.status}`).join(',')}`;

function writeConfig(dir: string, port: number, sent: string, answers: string[], resolveTimeoutS = RESOLVE_TIMEOUT_S): string {
  const file = path.join(dir, 'agent.config.yaml');
  writeFileSync(
    file,
    `agent: { name: edge-1, shutdown_timeout: 2s }
log: { format: json }
http: { host: 127.0.0.1, port: ${port} }
store: { enabled: true, data_dir: ./data, commit_interval: 50ms }
plugins:
  - name: pager
    use: ${SINK}
    config: { file: ${sent}, answers: ${JSON.stringify(answers)} }
    delivery: { max_age: 1h }
alerting:
  rules:
    - { event: system.error, min_severity: warning, resolve_timeout: ${resolveTimeoutS}s }
  route:
    receiver: team
    group_by: [alertname]
    group_wait: 500ms
    group_interval: 1s
    repeat_interval: 1h
  receivers:
    - { name: team, sinks: [pager] }
`,
  );
  return file;
}

const post = (url: string, events: unknown[]): Promise<Response> => fetch(`${url}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });

describe('alerting across a SIGKILL', () => {
  it('does not repeat what was sent, and sends the resolve of an alert that ended while the agent was down', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'alert-restart-'));
    const sent = path.join(dir, 'notifications.jsonl');
    const file = writeConfig(dir, await freePort(), sent, ['delivered']);
    const first = new AgentProcess(['--config', file]);
    const url = await first.ready();
    const postedAt = Date.now();
    const answer = await post(url, [
      { type: 'service.status', data: { service_name: 'db', status: 'unhealthy' } },
      { type: 'system.error', data: { severity: 'error', message: 'flaky backup', error_code: 'FLAKY', component: 'backup' } },
    ]);
    expect(answer.status).toBe(202);
    await until('both firing notifications', () => notifications(sent).length >= 2);
    const now = Date.now();
    const silence = await fetch(`${url}/api/v2/silences`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ matchers: [{ name: 'alertname', value: 'Maintenance', isRegex: false }], startsAt: new Date(now).toISOString(), endsAt: new Date(now + 3_600_000).toISOString(), createdBy: 'ops', comment: 'kept across the kill' }),
    });
    const { silenceID } = (await silence.json()) as { silenceID: string };
    first.kill('SIGKILL');
    await first.exited;
    expect(notifications(sent).map(summary).sort()).toEqual(['firing FLAKY:firing', 'firing ServiceDown:firing']);

    // FLAKY ends RESOLVE_TIMEOUT_S after it was posted: let that pass while the agent is down.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, postedAt + RESOLVE_TIMEOUT_S * 1000 + 500 - Date.now())));
    const second = new AgentProcess(['--config', file]);
    const secondUrl = await second.ready();
    expect(await (await fetch(`${secondUrl}/api/v2/silence/${silenceID}`)).json()).toMatchObject({ id: silenceID, status: { state: 'active' }, comment: 'kept across the kill' });
    await until('the resolve of FLAKY', () => notifications(sent).length >= 3);
    // A few group_intervals more: ServiceDown, already notified, is not notified again.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    second.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(notifications(sent).map(summary)).toEqual([expect.any(String), expect.any(String), 'resolved FLAKY:resolved']);
  }, 60_000);

  it('resumes the deliveries pending in the outbox after a SIGKILL mid-outage: each arrives once, in order', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'alert-outbox-'));
    const sent = path.join(dir, 'notifications.jsonl');
    const port = await freePort();
    // The sink is down: every attempt is answered "retry in 1 s".
    const first = new AgentProcess(['--config', writeConfig(dir, port, sent, ['retry:1000'], 3600)]);
    const url = await first.ready();
    for (const code of ['FIRST', 'SECOND', 'THIRD']) {
      expect((await post(url, [{ type: 'system.error', data: { severity: 'error', message: code, error_code: code, component: 'backup' } }])).status).toBe(202);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const stats = async (): Promise<Record<string, number>> => ((await (await fetch(`${url}/stats`)).json()) as { alerting: { deliveries_by_sink: { pager?: Record<string, number> } } }).alerting.deliveries_by_sink.pager ?? {};
    await until('three pending deliveries retried at least once', async () => (await stats()).pending === 3 && (await stats()).retried >= 1);
    first.kill('SIGKILL');
    await first.exited;
    expect(notifications(sent)).toEqual([]);

    // The sink is back.
    const second = new AgentProcess(['--config', writeConfig(dir, port, sent, ['delivered'], 3600)]);
    await second.ready();
    await until('the three notifications', () => notifications(sent).length >= 3);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    second.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(notifications(sent).map((n) => n.groupLabels.alertname)).toEqual(['FIRST', 'SECOND', 'THIRD']);
  }, 60_000);

  it('a real webhook endpoint down, the agent killed mid-outage: after both recover every notification arrives once, in order', async () => {
    const received: string[] = [];
    let up = false;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        if (!up) return void res.writeHead(503, { 'retry-after': '1' }).end();
        received.push((JSON.parse(body) as { groupLabels: { alertname: string } }).groupLabels.alertname);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const dir = mkdtempSync(path.join(tmpdir(), 'alert-webhook-outage-'));
      const file = path.join(dir, 'agent.config.yaml');
      const port = await freePort();
      writeFileSync(
        file,
        `agent: { name: edge-1, shutdown_timeout: 2s }
log: { format: json }
http: { host: 127.0.0.1, port: ${port} }
store: { enabled: true, data_dir: ./data, commit_interval: 50ms }
plugins:
  - name: hook
    use: webhook
    config: { url: "http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts" }
alerting:
  rules:
    - { event: system.error, resolve_timeout: 1h }
  route: { receiver: team, group_by: [alertname], group_wait: 200ms, group_interval: 1s, repeat_interval: 1h }
  receivers:
    - { name: team, sinks: [hook] }
`,
      );
      const first = new AgentProcess(['--config', file]);
      const url = await first.ready();
      for (const code of ['ONE', 'TWO', 'THREE']) {
        expect((await post(url, [{ type: 'system.error', data: { severity: 'error', message: code, error_code: code, component: 'db' } }])).status).toBe(202);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const pending = async (): Promise<number> => ((await (await fetch(`${url}/alerts/deliveries`)).json()) as { deliveries: unknown[] }).deliveries.length;
      await until('three deliveries pending in the outbox', async () => (await pending()) === 3);
      first.kill('SIGKILL');
      await first.exited;

      const second = new AgentProcess(['--config', file]);
      await second.ready();
      await new Promise((resolve) => setTimeout(resolve, 1500)); // still down after the restart
      up = true;
      await until('the three notifications', () => received.length >= 3);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      second.kill('SIGTERM');
      expect(await second.exited).toBe(0);
      expect(received).toEqual(['ONE', 'TWO', 'THREE']);
    } finally {
      server.close();
    }
  }, 60_000);
});
