import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Agent } from '../src/agent/agent';
import { AgentClient } from '../src/client/agent-client';
import { loadConfig } from '../src/config/loader';
import { FakeClock } from '../src/core/clock';
import { createLogger } from '../src/core/logger';
import type { Event } from '../src/events/types';

/** The store's database handle: the test fills the disk with SQLite's own page limit. */
type Db = { pragma(sql: string, options?: { simple: true }): unknown };

/**
 * A full disk for real: `PRAGMA max_page_count` makes SQLite answer SQLITE_FULL ("database or
 * disk is full") through the same code path as a disk without space, no root needed.
 */
describe('event store commit failures (full disk)', () => {
  let dir: string;
  let agent: Agent;
  let clock: FakeClock;
  let logLines: Record<string, unknown>[];
  let storeErrors: Event<'system.error'>[];

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'praxis-store-full-'));
    const file = path.join(dir, 'agent.config.yaml');
    writeFileSync(file, 'http:\n  port: 0\nstore:\n  enabled: true\n  data_dir: ./data\n  commit_interval: 0\n');
    logLines = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString('utf8').split('\n')) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
        callback();
      },
    });
    clock = new FakeClock(Date.now());
    agent = new Agent(loadConfig(file), { clock, logger: createLogger({ level: 'info', format: 'json', destination }) });
    storeErrors = [];
    agent.bus.subscribe('system.error', (event) => {
      if (event.data.error_code === 'STORE_COMMIT_FAILED') storeErrors.push(event);
    });
    await agent.start();
  });

  afterEach(async () => {
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = async (route: string): Promise<{ status: number; body: string }> => {
    const res = await fetch(`${agent.adminUrl as string}${route}`);
    return { status: res.status, body: await res.text() };
  };
  const post = (message: string): Promise<Response> =>
    fetch(`${agent.adminUrl as string}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'system.error', data: { severity: 'info', message, component: 'filler', diagnostic_data: { blob: 'x'.repeat(4000) } } }),
    });

  it('reports STORE_COMMIT_FAILED once per episode, shows it on /readyz, /stats and /metrics, and recovers without losing events', async () => {
    const db = (agent.store as unknown as { db: Db }).db;
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`);

    for (let i = 0; i < 5; i++) expect((await post(`during the outage ${i}`)).status).toBe(202);
    await agent.bus.idle();
    // Retries come with backoff on the agent's clock: let several of them fail.
    for (let i = 0; i < 4; i++) await clock.advance(10_000);
    await agent.bus.idle();

    const stats = JSON.parse((await get('/stats')).body) as { store: Record<string, unknown> };
    expect(stats.store).toMatchObject({ commit_failing: true, commit_failing_since: expect.any(String), last_commit_error: { message: 'database or disk is full' } });
    expect(stats.store.commit_errors as number).toBeGreaterThanOrEqual(4);
    expect(stats.store.commit_failing_attempts).toBe(stats.store.commit_errors);

    const ready = await get('/readyz');
    expect(ready.status).toBe(503);
    const readiness = JSON.parse(ready.body) as { ready: boolean; store: { ready: boolean; reason: string } };
    expect(readiness).toMatchObject({ ready: false, store: { ready: false } });
    expect(readiness.store.reason).toMatch(/^STORE_COMMIT_FAILED: .*database or disk is full/);
    const viaClient = await new AgentClient({ url: agent.adminUrl as string }).ready();
    expect(viaClient).toMatchObject({ ready: false, store: { ready: false, reason: readiness.store.reason } });

    const metrics = (await get('/metrics')).body;
    expect(metrics).toMatch(/^praxis_component_stat\{component="store",key="commit_failing"\} 1$/m);
    expect(metrics).toMatch(/^praxis_agent_ready 0$/m);

    // One system.error and one error log line for the whole episode, not one per retry.
    expect(storeErrors.map((e) => [e.data.severity, e.data.component, e.metadata.source])).toEqual([['error', 'store', 'store']]);
    expect(storeErrors[0]?.data.diagnostic_data).toMatchObject({ sqlite_code: 'SQLITE_FULL' });
    expect(logLines.filter((l) => l.error_code === 'STORE_COMMIT_FAILED' && l.level === 50)).toHaveLength(1);

    // Space again: the next retry commits everything that waited.
    db.pragma('max_page_count = 1073741823');
    await clock.advance(10_000);
    await agent.bus.idle();
    expect((await get('/readyz')).status).toBe(200);
    const after = JSON.parse((await get('/stats')).body) as { store: Record<string, unknown> };
    expect(after.store).toMatchObject({ commit_failing: false, commit_failing_since: null, pending_events: 0, events_lost: 0, last_commit_error: { message: 'database or disk is full' } });
    expect(storeErrors.map((e) => e.data.severity)).toEqual(['error', 'info']);
    expect(storeErrors[1]?.data.diagnostic_data).toMatchObject({ recovered: true, attempts: stats.store.commit_errors });
    expect(logLines.some((l) => l.level === 30 && /event store commits again/.test(String(l.msg)))).toBe(true);

    const page = JSON.parse((await get('/events?types=system.error&limit=1000')).body) as { events: { event: Event<'system.error'> }[] };
    const messages = page.events.map((e) => e.event.data.message);
    for (let i = 0; i < 5; i++) expect(messages).toContain(`during the outage ${i}`);
  });
});
