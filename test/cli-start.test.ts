import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AgentProcess } from './helpers/cli';

/** The shipped config's WebSocket port and event store, moved out of the way of a running agent and the checkout. */
function isolated(): Record<string, string> {
  return { PRAXIS_WS_PORT: '0', PRAXIS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'praxis-data-')) };
}

/** The shipped config, started as a user would: `praxis-agent start` in a child process. */
describe('praxis-agent start (child process, shipped agent.config.yaml)', () => {
  it('becomes ready, serves the admin API, ingests, and exits 0 on SIGTERM with the lifecycle in order', async () => {
    const agent = new AgentProcess(['--config', 'agent.config.yaml'], { PRAXIS_PORT: '0', PRAXIS_LOG_LEVEL: 'info', ...isolated() });
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
    const agent = new AgentProcess(['--config', 'agent.config.yaml'], { PRAXIS_PORT: '0', ...isolated() });
    await agent.ready();
    agent.kill('SIGINT');
    expect(await agent.exited).toBe(0);
    expect(agent.lines.some((l) => l.event === 'agent.stopped')).toBe(true);
  });
});
