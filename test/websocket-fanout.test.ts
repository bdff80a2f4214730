import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TestClient } from '../plugins/websocket-broadcaster/test-client';
import { AgentProcess } from './helpers/cli';

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
