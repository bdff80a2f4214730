import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { AgentProcess, REPO, shippedConfigEnv } from './helpers/cli';

/** The shipped config, started as a user would: `praxis-agent start` in a child process. */
describe('praxis-agent start (child process, shipped agent.config.yaml)', () => {
  it('becomes ready, serves the admin API, ingests, and exits 0 on SIGTERM with the lifecycle in order', async () => {
    const agent = new AgentProcess(['--config', 'agent.config.yaml'], { PRAXIS_LOG_LEVEL: 'info', ...(await shippedConfigEnv()) });
    const url = await agent.ready();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // The shipped WebSocket broadcaster logs its URL.
    const ws = await agent.waitFor((l) => l.plugin === 'events-ws' && typeof l.url === 'string');
    expect(ws.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws\/events$/);

    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    const ingest = await fetch(`${url}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'system.error', data: { severity: 'error', message: 'disk full', component: 'backup' } }),
    });
    expect(ingest.status).toBe(202);
    const { accepted } = (await ingest.json()) as { accepted: { event_id: string }[] };
    // The shipped event-logger plugin logs the ingested event, tagged with its plugin name.
    await agent.waitFor((l) => l.plugin === 'events-log' && l.event_id === accepted[0].event_id);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/praxis_events_published_total\{type="system\.error"\} 1/);

    agent.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    const lifecycle = agent.lines.filter((l) => l.plugin === undefined && typeof l.event === 'string').map((l) => l.event);
    expect(lifecycle).toEqual(['agent.starting', 'agent.started', 'agent.stopping', 'system.shutdown', 'agent.stopped']);
  });

  it('stops the same way on SIGINT', async () => {
    const agent = new AgentProcess(['--config', 'agent.config.yaml'], await shippedConfigEnv());
    await agent.ready();
    agent.kill('SIGINT');
    expect(await agent.exited).toBe(0);
    expect(agent.lines.some((l) => l.event === 'agent.stopped')).toBe(true);
  });
});

/** The parent of a process, from /proc (Linux); undefined elsewhere. */
function parentOf(pid: number): number | undefined {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return undefined;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ")".
  const text = readFileSync(stat, 'utf8');
  return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start', () => {
  it('builds nothing when dist/ is current, runs the agent as npm\'s own child, stops it on SIGTERM to npm, and says where SIGHUP goes', async () => {
    // Bring dist/ up to date (nothing to do when it is), then `npm start` must leave it untouched.
    const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: REPO, encoding: 'utf8', timeout: 300_000 });
    expect({ status: build.status, stderr: build.stderr }).toEqual({ status: 0, stderr: '' });
    const entries = ['dist/src/cli/main.js', 'dist/praxis-agent.js'].map((f) => path.join(REPO, f));
    const built = entries.map((entry) => statSync(entry).mtimeMs);

    const agent = new AgentProcess([], await shippedConfigEnv(), ['npm', 'start', '--silent', '--']);
    await agent.ready();
    expect(entries.map((entry) => statSync(entry).mtimeMs)).toEqual(built);

    const ready = await agent.waitFor((l) => String(l.msg).startsWith('praxis-agent ready'));
    const agentPid = Number(ready.pid);
    expect(agentPid).not.toBe(agent.pid);
    // No shell between npm and the agent: npm's SIGTERM reaches the agent instead of killing a shell and orphaning it.
    const parent = parentOf(agentPid);
    if (parent !== undefined) expect(parent).toBe(agent.pid);
    const hint = await agent.waitFor((l) => l.launcher === 'npm start');
    expect(hint.msg).toContain(`kill -HUP ${agentPid}`);

    agent.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    expect(agent.lines.some((l) => l.event === 'agent.stopped')).toBe(true);
    expect(isAlive(agentPid)).toBe(false);
  }, 300_000);

  it('stops gracefully on Ctrl-C in a terminal: the SIGINT npm forwards is not taken for a second signal', async () => {
    const agent = new AgentProcess([], await shippedConfigEnv(), ['npm', 'start', '--silent', '--'], true);
    await agent.ready();
    const ready = await agent.waitFor((l) => String(l.msg).startsWith('praxis-agent ready'));
    agent.killGroup('SIGINT'); // npm and the agent both get it, and npm forwards its own
    expect(await agent.exited).toBe(0);
    expect(agent.lines.some((l) => l.msg === 'second signal: exiting without waiting for plugins')).toBe(false);
    expect(agent.lines.some((l) => l.event === 'agent.stopped')).toBe(true);
    expect(isAlive(Number(ready.pid))).toBe(false);
  }, 300_000);
});
