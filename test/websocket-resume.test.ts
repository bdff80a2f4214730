import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TestClient } from '../plugins/websocket-broadcaster/test-client';
import { AgentProcess } from './helpers/cli';

/** The agent as a child process on one data dir, restarted: the event stream survives it. */
describe('event store and WebSocket resume across agent restarts (child processes)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'praxis-resume-'));
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
      '  commit_interval: 50ms',
      'plugins:',
      '  - name: events-ws',
      '    use: websocket-broadcaster',
      '    config:',
      '      port: 0',
      '      default_event_types: ["system.error"]',
      '',
    ].join('\n'),
  );
  let agent: AgentProcess | undefined;
  const clients: TestClient[] = [];

  afterEach(() => {
    for (const c of clients.splice(0)) c.ws.terminate();
  });

  async function startAgent(): Promise<{ admin: string; ws: string }> {
    agent = new AgentProcess(['--config', config]);
    const admin = await agent.ready();
    const line = await agent.waitFor((l) => l.plugin === 'events-ws' && typeof l.url === 'string');
    return { admin, ws: line.url as string };
  }

  async function emit(admin: string, message: string): Promise<void> {
    const res = await fetch(`${admin}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'system.error', data: { severity: 'error', message, component: 'test' } }),
    });
    expect(res.status).toBe(202);
  }

  async function connect(url: string): Promise<TestClient> {
    const client = await TestClient.connect(url);
    clients.push(client);
    return client;
  }

  const messagesOf = (client: TestClient): string[] => client.events().map((e) => (e.payload.data as { message: string }).message);

  it('replays what a client missed, exactly once and in order, after a clean restart; a crash changes the epoch', async () => {
    const first = await startAgent();
    const client = await connect(first.ws);
    const epoch = client.messages[0].payload.epoch as string;
    expect(epoch).toMatch(/^[0-9a-f-]{36}$/);
    await emit(first.admin, 'e1');
    const seen = await client.next((m) => m.type === 'eventStream');
    // The broadcaster's get_stats() is on /stats (components.<name>) and /metrics (praxis_component_stat).
    const stats = (await (await fetch(`${first.admin}/stats`)).json()) as { components: Record<string, Record<string, unknown>> };
    expect(Object.keys(stats.components['events-ws']).sort()).toEqual(['active_connections', 'average_messages_per_connection', 'broadcast_count', 'bursts', 'connection_states', 'errors', 'event_writes', 'fanout_ms', 'max_lag_seen_ms', 'messages_received', 'messages_sent', 'total_connections', 'total_errors']);
    expect(stats.components['events-ws']).toMatchObject({ active_connections: 1, total_connections: 1, connection_states: { connected: 1 } });
    const metrics = await (await fetch(`${first.admin}/metrics`)).text();
    expect(metrics).toMatch(/^praxis_component_stat\{component="events-ws",key="active_connections"\} 1$/m);
    expect(metrics).toMatch(/^praxis_component_stat\{component="events-ws",key="connection_states\.connected"\} 1$/m);
    await client.close();
    for (const m of ['e2', 'e3', 'e4']) await emit(first.admin, m);

    // Dashboards that poll see the same stream over HTTP.
    const polled = (await (await fetch(`${first.admin}/events?since=${seen.id}&types=system.error`)).json()) as { epoch: string; recovered: boolean; next_offset: number; events: { offset: number; event: { data: { message: string } } }[] };
    expect(polled).toMatchObject({ epoch, recovered: true });
    expect(polled.events.map((e) => e.event.data.message)).toEqual(['e2', 'e3', 'e4']);
    expect(polled.next_offset).toBeGreaterThan(polled.events[2].offset);
    expect((await fetch(`${first.admin}/events?since=abc`)).status).toBe(400);
    expect((await fetch(`${first.admin}/events?types=sys*`)).status).toBe(400);

    (agent as AgentProcess).kill('SIGTERM');
    expect(await (agent as AgentProcess).exited).toBe(0);

    const second = await startAgent();
    await emit(second.admin, 'e5');
    const resumed = await connect(second.ws);
    expect(resumed.messages[0].payload.epoch).toBe(epoch);
    resumed.send({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: ['system.error'], since: { offset: Number(seen.id), epoch } } });
    expect((await resumed.next((m) => m.type === 'chatMessage')).payload).toMatchObject({ recovered: true, epoch });
    await emit(second.admin, 'e6');
    await resumed.next((m) => m.type === 'eventStream' && (m.payload.data as { message: string }).message === 'e6');
    await resumed.roundTrip();
    expect(messagesOf(resumed)).toEqual(['e2', 'e3', 'e4', 'e5', 'e6']);
    const ids = resumed.events().map((e) => e.id);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);

    // Killed without a clean shutdown: offsets shown to clients may be lost, so the epoch changes.
    (agent as AgentProcess).kill('SIGKILL');
    await (agent as AgentProcess).exited;
    const third = await startAgent();
    const after = await connect(third.ws);
    expect(after.messages[0].payload.epoch).not.toBe(epoch);
    after.send({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: ['system.error'], since: { offset: ids[ids.length - 1], epoch } } });
    expect((await after.next((m) => m.type === 'chatMessage')).payload).toMatchObject({ recovered: false });
    const stale = (await (await fetch(`${third.admin}/events?since=0&epoch=${epoch}`)).json()) as { recovered: boolean };
    expect(stale.recovered).toBe(false);
  });
});
