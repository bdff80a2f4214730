import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent } from '../src/agent/agent';
import { loadConfig } from '../src/config/loader';
import { silentLogger } from '../src/core/logger';
import { BIN, REPO } from './helpers/cli';

/**
 * The outbox as operators see it: `alert test`, `alert deliveries` and `alert retry` as child
 * processes against a running agent (in-process, real sockets), and their HTTP routes.
 */
const SINK = path.join(__dirname, 'fixtures/alert-sink');
let agent: Agent;
let url: string;

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'alert-deliveries-'));
  const file = path.join(dir, 'agent.config.yaml');
  writeFileSync(
    file,
    `agent: { name: deliveries-test }
http: { host: 127.0.0.1, port: 0 }
store: { enabled: true, data_dir: ./data }
plugins:
  - { name: good, use: ${SINK} }
  - { name: bad, use: ${SINK}, config: { answers: [permanent, delivered] } }
alerting:
  default_rules: false
  route: { receiver: ops }
  receivers:
    - { name: ops, sinks: [good, bad] }
    - { name: quiet }
`,
  );
  agent = new Agent(loadConfig(file), { logger: silentLogger() });
  await agent.start();
  url = agent.adminUrl as string;
});
afterAll(() => agent.stop());

function praxis(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args, '--url', url], { cwd: REPO, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('alert test, deliveries and retry', () => {
  it('tests a receiver through the real pipeline and prints what each sink answered', async () => {
    const result = await praxis(['alert', 'test', '--receiver', 'ops', '--wait', '10s']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^good: delivered after 1 attempt \[delivery \d+\]$/m);
    expect(result.stdout).toMatch(/^bad: permanent after 1 attempt \(the recording sink was told to refuse\) \[delivery \d+\]$/m);
    expect(result.stderr).toBe('praxis-agent alert: not every sink of ops delivered the test notification\n');
    const good = (agent.host.instanceOf('good') as unknown as { received: { reason: string; alerts: { labels: Record<string, string> }[] }[] }).received;
    expect(good[0]).toMatchObject({ reason: 'test', alerts: [{ labels: { alertname: 'PraxisAgentTest', receiver: 'ops' } }] });
  });

  it('lists the dead letter, retries it until delivered, and refuses what cannot be retried', async () => {
    const dead = await praxis(['alert', 'deliveries', '--state', 'dead']);
    expect(dead.code).toBe(0);
    const line = dead.stdout.split('\n').find((l) => /\sdead\s+ops\s+bad\s/.test(l));
    expect(line).toMatch(/PraxisAgentTest\s+rejected: the recording sink was told to refuse$/);
    const id = (line as string).split(/\s+/)[0];
    expect(await praxis(['alert', 'retry', id])).toMatchObject({ code: 0, stdout: `delivery ${id} to ops through bad is pending again\n` });
    for (let i = 0; i < 100 && !(await praxis(['alert', 'deliveries', '--state', 'delivered', '--json'])).stdout.includes(`"id": ${id},`); i++) await new Promise((r) => setTimeout(r, 100));
    const delivered = JSON.parse((await praxis(['alert', 'deliveries', '--state', 'delivered', '--json'])).stdout) as { id: number; sink: string; attempts: number }[];
    expect(delivered).toEqual(expect.arrayContaining([expect.objectContaining({ id: Number(id), sink: 'bad', attempts: 2 })]));
    expect(await praxis(['alert', 'retry', id])).toMatchObject({ code: 1, stderr: `praxis-agent alert: DELIVERY_NOT_DEAD: delivery ${id} is delivered, not dead-lettered: only dead letters can be retried\n` });
    expect(await praxis(['alert', 'retry', '99999'])).toMatchObject({ code: 1, stderr: expect.stringContaining('DELIVERY_NOT_FOUND: no delivery 99999') });
    expect(await praxis(['alert', 'retry', 'abc'])).toMatchObject({ code: 2, stderr: expect.stringContaining('not a delivery id: "abc"') });
  });

  it('says so for a receiver without sinks or one that does not exist, and refuses a bad state', async () => {
    expect(await praxis(['alert', 'test', '--receiver', 'quiet'])).toMatchObject({ code: 0, stdout: 'receiver quiet has no sinks: its notifications are dropped\n' });
    expect(await praxis(['alert', 'test', '--receiver', 'nobody'])).toMatchObject({ code: 1, stderr: 'praxis-agent alert: RECEIVER_NOT_FOUND: no receiver "nobody" (receivers: ops, quiet)\n' });
    const bad = await fetch(`${url}/alerts/deliveries?state=lost`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'ALERT_BAD_QUERY', message: 'state: unknown delivery state "lost" (use pending, dead, delivered)' } });
  });

  it('counts alerts, notifications and deliveries by sink on /stats and /metrics', async () => {
    const stats = (await (await fetch(`${url}/stats`)).json()) as { alerting: Record<string, unknown> };
    expect(stats.alerting).toMatchObject({ notifications_by_receiver: { ops: expect.any(Number) }, deliveries_by_sink: { good: expect.objectContaining({ delivered: expect.any(Number) }), bad: expect.objectContaining({ dead_lettered: 1 }) } });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^praxis_component_stat\{component="alerting",key="deliveries_by_sink\.bad\.dead_lettered"\} 1$/m);
    expect(metrics).toMatch(/^praxis_component_stat\{component="alerting",key="alerts_firing"\} \d+$/m);
    expect(metrics).toMatch(/^praxis_component_stat\{component="alerting",key="silences_active"\} 0$/m);
  });
});
