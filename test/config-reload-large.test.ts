import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AgentProcess } from './helpers/cli';

/** Issue 9, item 11: a hostile config on reload is validated in a worker, capped at 100 problems. */
describe('reloading a config with 40,000 unknown keys', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'praxis-reload-large-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('answers /healthz while the file is validated, and reports 100 problems plus a count', async () => {
    const file = path.join(dir, 'agent.config.yaml');
    const base = 'log:\n  format: json\nhttp:\n  port: 0\n';
    writeFileSync(file, base);
    const agent = new AgentProcess(['--config', file]);
    const url = await agent.ready();
    writeFileSync(file, base + Array.from({ length: 40_000 }, (_, i) => `unknown_${i}: ${i}\n`).join(''));

    const order: string[] = [];
    const reload = fetch(`${url}/-/reload`, { method: 'POST' }).then(async (res) => {
      order.push('reload');
      return { status: res.status, body: (await res.json()) as { status: string; problems: string[] } };
    });
    // Sent after the reload began: on a stalled event loop it would be answered after it.
    const health = fetch(`${url}/healthz`).then((res) => {
      order.push('healthz');
      return res.status;
    });
    const [{ status, body }, healthStatus] = await Promise.all([reload, health]);

    expect(healthStatus).toBe(200);
    expect(order).toEqual(['healthz', 'reload']);
    expect(status).toBe(422);
    expect(body.status).toBe('invalid');
    expect(body.problems).toHaveLength(101);
    expect(body.problems[0]).toMatch(/:5:1 unknown_0: unknown key "unknown_0".*\(CONFIG_UNKNOWN_KEY\)$/);
    expect(body.problems[100]).toBe('and 39900 more problems (fix these and validate again to see them)');
    agent.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
  });
});
