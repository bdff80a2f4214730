import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TestClient } from '../plugins/websocket-broadcaster/test-client';
import { waitFor } from 'praxis-agent/testing';
import { AgentProcess } from './helpers/cli';

/** An agent config (store on, the broadcaster on a free port) with these broadcaster settings and lines of the http section. */
function agentConfig(broadcaster: string[], http: string[] = []): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'praxis-fanout-'));
  const file = path.join(dir, 'agent.config.yaml');
  writeFileSync(
    file,
    ['log:', '  level: info', 'http:', '  port: 0', ...http, 'store:', '  enabled: true', '  data_dir: ./data', 'plugins:', '  - name: events-ws', '    use: websocket-broadcaster', '    config:', '      port: 0', ...broadcaster.map((l) => `      ${l}`), ''].join('\n'),
  );
  return file;
}

/**
 * POSTs `batches` arrays of `perBatch` system.error events of about `size` bytes each (every answer
 * must be 202), each batch once the `readers` have the one before: a publisher that outruns the
 * fan-out would get the process first, and readers max_lag behind would be cut too.
 */
async function post(admin: string, batches: number, perBatch: number, size: number, readers: TestClient[] = []): Promise<void> {
  const before = readers.map((c) => c.events().length);
  for (let b = 0; b < batches; b++) {
    const body = JSON.stringify(Array.from({ length: perBatch }, (_, i) => ({ type: 'system.error', data: { severity: 'error', message: `b${b}e${i} ${'x'.repeat(size)}`, component: 'fanout-test' } })));
    const res = await fetch(`${admin}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(202);
    const want = (b + 1) * perBatch;
    await waitFor(() => readers.every((c, i) => c.events().length >= (before[i] as number) + want), { what: `the readers have batch ${b + 1}`, timeoutMs: 30_000 });
  }
}

/** Checks that the client has `total` events, in offset order, none missing (the agent's own events before them included). */
function hasAll(c: TestClient, total: number): void {
  const offsets = c.events().map((e) => e.id);
  expect(offsets.length).toBeGreaterThanOrEqual(total);
  expect(offsets).toEqual(Array.from({ length: offsets.length }, (_, i) => (offsets[0] as number) + i));
}

/** The agent as a child process: POST /events while WebSocket clients are connected, one of them not reading. */
describe('ingest with WebSocket clients connected (child process, real sockets)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'praxis-fanout-'));
  const config = path.join(dir, 'agent.config.yaml');
  writeFileSync(
    config,
    [
      'log:',
      '  level: info',
      'http:',
      '  port: 0',
      'store:',
      '  enabled: true',
      '  data_dir: ./data',
      'plugins:',
      '  - name: events-ws',
      '    use: websocket-broadcaster',
      '    config:',
      '      port: 0',
      '      max_buffered_bytes: 262144',
      '',
    ].join('\n'),
  );
  let agent: AgentProcess | undefined;
  const clients: TestClient[] = [];

  afterAll(() => {
    for (const c of clients.splice(0)) c.ws.terminate();
    agent?.kill('SIGKILL');
  });

  it('answers every POST /events while a client does not read; the client is cut off at its cap, the others get every event in order', async () => {
    agent = new AgentProcess(['--config', config]);
    const admin = await agent.ready();
    const url = (await agent.waitFor((l) => l.plugin === 'events-ws' && typeof l.url === 'string')).url as string;
    const fast = await Promise.all(Array.from({ length: 5 }, () => TestClient.connect(url)));
    const paused = await TestClient.connect(url);
    clients.push(...fast, paused);
    paused.ws.pause();
    const batches = 40;
    const perBatch = 100;
    // 4,000 events of about 2 KB: far more than the paused client's cap and socket buffers take.
    for (let b = 0; b < batches; b++) {
      const body = JSON.stringify(Array.from({ length: perBatch }, (_, i) => ({ type: 'system.error', data: { severity: 'error', message: `b${b}e${i} ${'x'.repeat(2000)}`, component: 'fanout-test' } })));
      const res = await fetch(`${admin}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(res.status).toBe(202);
    }
    const total = batches * perBatch;
    for (const c of fast) await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`a fast client got ${c.events().length} of ${total} events`)), 20_000);
      const check = (): void => {
        if (c.events().length >= total) {
          clearTimeout(timer);
          resolve();
        } else setTimeout(check, 20);
      };
      check();
    });
    for (const c of fast) {
      const offsets = c.events().map((e) => e.id);
      expect(offsets).toHaveLength(total);
      expect(offsets.every((o, i) => i === 0 || o === (offsets[i - 1] as number) + 1)).toBe(true);
    }
    paused.ws.resume();
    expect(await paused.closed).toEqual({ code: 1013, reason: 'Slow consumer: outgoing buffer limit exceeded' });
    const stats = (await (await fetch(`${admin}/stats`)).json()) as { components: Record<string, { active_connections: number; messages_sent: number; event_writes: number }> };
    const ws = stats.components['events-ws'] as { active_connections: number; messages_sent: number; event_writes: number };
    expect(ws.active_connections).toBe(5);
    // Batched: far fewer socket writes than events sent.
    expect(ws.event_writes).toBeLessThan(ws.messages_sent / 4);
  }, 60_000);
});

describe('max_lag (child process, real sockets)', () => {
  const agents: AgentProcess[] = [];
  const clients: TestClient[] = [];

  afterEach(() => {
    for (const c of clients.splice(0)) c.ws.terminate();
    for (const a of agents.splice(0)) a.kill('SIGKILL');
  });

  async function start(config: string): Promise<{ admin: string; url: string; agent: AgentProcess }> {
    const agent = new AgentProcess(['--config', config]);
    agents.push(agent);
    const admin = await agent.ready();
    const url = (await agent.waitFor((l) => l.plugin === 'events-ws' && typeof l.url === 'string')).url as string;
    return { admin, url, agent };
  }

  it('cuts a client that cannot be served within max_lag (1013) while the reading clients are not cut and every POST is answered; one log line for the cut', async () => {
    // The byte cap far away: only the lag can cut.
    const { admin, url, agent } = await start(agentConfig(['max_lag: 1s', 'max_buffered_bytes: 268435456']));
    const readers = await Promise.all(Array.from({ length: 3 }, () => TestClient.connect(url)));
    const stalled = await TestClient.connect(url);
    clients.push(...readers, stalled);
    stalled.ws.pause();
    // 8 MB: more than the stalled client's socket buffers take, so events wait in its socket and the agent.
    await post(admin, 40, 100, 2000, readers);
    await agent.waitFor((l) => String(l.msg).includes('too slow'), 10_000);
    stalled.ws.resume();
    expect(await stalled.closed).toEqual({ code: 1013, reason: 'Slow consumer: events waited longer than max_lag' });
    const cutLines = agent.lines.filter((l) => String(l.msg).includes('too slow'));
    expect(cutLines).toHaveLength(1);
    expect(cutLines[0]).toMatchObject({ level: 40, msg: 'websocket client too slow: disconnected (max_lag)', max_lag_ms: 1000 });
    expect(cutLines[0]?.lag_ms as number).toBeGreaterThan(1000);
    // Ingest still answers, and the readers are all there, with every event.
    await post(admin, 1, 10, 10, readers);
    for (const c of readers) hasAll(c, 4010);
    const stats = (await (await fetch(`${admin}/stats`)).json()) as { components: Record<string, { active_connections: number }> };
    expect(stats.components['events-ws']?.active_connections).toBe(3);
  }, 90_000);

  it('the defaults do not cut a client reading normally through a 10,000-event POST', async () => {
    const { admin, url, agent } = await start(agentConfig([], ['  body_limit: 16777216']));
    const readers = await Promise.all(Array.from({ length: 3 }, () => TestClient.connect(url)));
    clients.push(...readers);
    await post(admin, 1, 10_000, 200, readers);
    for (const c of readers) hasAll(c, 10_000);
    const stats = (await (await fetch(`${admin}/stats`)).json()) as { components: Record<string, { active_connections: number; max_lag_seen_ms: number }> };
    expect(stats.components['events-ws']?.active_connections).toBe(3);
    expect(agent.lines.filter((l) => String(l.msg).includes('too slow'))).toEqual([]);
    if (process.env.PRAXIS_TEST_PRINT_LAG) process.stdout.write(`max_lag_seen_ms after a 10,000-event POST: ${stats.components['events-ws']?.max_lag_seen_ms}\n`);
  }, 90_000);
});
