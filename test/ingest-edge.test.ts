import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Agent } from '../src/agent/agent';
import { AgentClient } from '../src/client/agent-client';
import { loadConfig } from '../src/config/loader';
import { createLogger } from '../src/core/logger';
import { MAX_EVENT_DEPTH, MAX_EVENT_MEMBERS } from '../src/events/data-limits';
import type { Event } from '../src/events/types';
import { nestedDiagnostics, wideDiagnostics } from './helpers/event-shapes';

interface Answer {
  status: number;
  body: {
    error?: { code: string; message: string };
    accepted: { index: number; event_id: string; duplicate?: true }[];
    rejected: { index: number; code: string; message: string; errors: { path: string; message: string }[] }[];
  };
}

interface EventsPage {
  events: { offset: number; event: Event<'system.error'> }[];
}

/**
 * POST /events at the edge, checked against every real consumer behind it: the SQLite store
 * (GET /events, and again after a restart from disk), the audit-log plugin's file and the
 * event-logger plugin's log lines.
 */
describe('ingest edge: what is accepted is kept, what is refused is refused whole', () => {
  let dir: string;
  let config: string;
  let auditFile: string;
  let agent: Agent | undefined;
  let logLines: Record<string, unknown>[];

  function startAgent(yaml: string = defaultYaml()): Promise<Agent> {
    writeFileSync(config, yaml);
    logLines = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString('utf8').split('\n')) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
        callback();
      },
    });
    const started = new Agent(loadConfig(config), { logger: createLogger({ level: 'info', format: 'json', destination }) });
    agent = started;
    return started.start().then(() => started);
  }

  function defaultYaml(): string {
    return [
      'agent:\n  name: edge-agent',
      'http:\n  port: 0',
      'store:\n  enabled: true\n  data_dir: ./data',
      'plugins:',
      '  - name: audit\n    use: audit-log',
      `    config:\n      path: ${JSON.stringify(auditFile)}\n      types: ["system.error"]\n      fsync: none`,
      '  - name: events-log\n    use: event-logger',
      '    config:\n      types: ["system.error"]',
      '',
    ].join('\n');
  }

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'praxis-ingest-edge-'));
    config = path.join(dir, 'agent.config.yaml');
    auditFile = path.join(dir, 'audit', 'audit.log');
  });

  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function post(body: unknown): Promise<Answer> {
    const res = await fetch(`${(agent as Agent).adminUrl as string}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Answer['body'] };
  }

  async function storedText(): Promise<string> {
    return (await fetch(`${(agent as Agent).adminUrl as string}/events?types=system.error&limit=1000`)).text();
  }

  async function stored(): Promise<EventsPage['events']> {
    return (JSON.parse(await storedText()) as EventsPage).events;
  }

  async function audited(): Promise<{ event_id: string; data: unknown }[]> {
    await (agent as Agent).bus.idle();
    await ((agent as Agent).host.instanceOf('audit') as unknown as { flushed(): Promise<void> }).flushed();
    return readFileSync(auditFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { event_id: string; data: unknown });
  }

  const errorData = (message: string, diagnostic_data: Record<string, unknown>): Record<string, unknown> => ({ severity: 'error', message, component: 'edge', diagnostic_data });

  describe('item 1: nesting depth and size are bounded for every consumer', () => {
    it('stores, audits and logs an event exactly at both limits; refuses one past either with a 400 naming limit and path, storing nothing', async () => {
      await startAgent();
      const deep = errorData('at the depth limit', nestedDiagnostics(MAX_EVENT_DEPTH));
      const wide = errorData('at the size limit', wideDiagnostics(MAX_EVENT_MEMBERS));
      const acceptedDeep = await post({ type: 'system.error', data: deep });
      const acceptedWide = await post({ type: 'system.error', data: wide });
      expect([acceptedDeep.status, acceptedWide.status]).toEqual([202, 202]);
      const ids = [acceptedDeep.body.accepted[0]?.event_id, acceptedWide.body.accepted[0]?.event_id];

      const tooDeep = await post({ type: 'system.error', data: errorData('one level too deep', nestedDiagnostics(MAX_EVENT_DEPTH + 1)) });
      expect(tooDeep.status).toBe(400);
      expect(tooDeep.body.error?.code).toBe('EVENT_TOO_DEEP');
      expect(tooDeep.body.rejected[0]?.errors).toEqual([
        { path: `data.diagnostic_data.nest${'[0]'.repeat(MAX_EVENT_DEPTH - 2)}`, message: `nested deeper than ${MAX_EVENT_DEPTH} levels of objects and arrays (limit MAX_EVENT_DEPTH)` },
      ]);
      const tooWide = await post({ type: 'system.error', data: errorData('one member too many', wideDiagnostics(MAX_EVENT_MEMBERS + 1)) });
      expect(tooWide.status).toBe(400);
      expect(tooWide.body.error?.code).toBe('EVENT_TOO_LARGE');
      expect(tooWide.body.error?.message).toContain(`more than ${MAX_EVENT_MEMBERS} keys and array elements`);
      // The body of the report: 5000 nested arrays in 10 KB (written as text: JSON.stringify of it overflows the stack).
      const reportBody = `{"type":"system.error","data":{"severity":"error","message":"5000 deep","component":"edge","diagnostic_data":{"nest":${'['.repeat(5000)}${']'.repeat(5000)}}}}`;
      const report = await fetch(`${(agent as Agent).adminUrl as string}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: reportBody });
      expect([report.status, ((await report.json()) as Answer['body']).error?.code]).toEqual([400, 'EVENT_TOO_DEEP']);

      const expectStored = async (): Promise<void> => {
        const events = await stored();
        expect(events.map((e) => e.event.data.message)).toEqual(['at the depth limit', 'at the size limit']);
        expect(events.map((e) => e.event.metadata.event_id)).toEqual(ids);
        expect(events[0]?.event.data).toEqual(deep);
        expect(events[1]?.event.data).toEqual(wide);
      };
      await expectStored();

      const audit = await audited();
      expect(audit.map((r) => r.event_id)).toEqual(ids);
      expect(audit[0]?.data).toEqual(deep);
      expect(audit[1]?.data).toEqual(wide);

      const logged = logLines.filter((l) => l.plugin === 'events-log');
      expect(logged.map((l) => l.event_id)).toEqual(ids);
      expect(logged[0]?.data).toEqual(deep);
      expect(logged[1]?.data).toEqual(wide);

      // Replay from disk: a new agent on the same data folder serves the same events.
      await (agent as Agent).stop();
      await startAgent();
      await expectStored();
    });
  });

  describe('item 2: a __proto__ key is data end to end', () => {
    it('stores and returns diagnostic_data with __proto__, constructor and prototype keys unchanged', async () => {
      await startAgent();
      const hostile = '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"prototype":1}';
      const body = `{"type":"system.error","data":{"severity":"error","message":"proto","component":"edge","diagnostic_data":${hostile}}}`;
      const res = await fetch(`${(agent as Agent).adminUrl as string}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(res.status).toBe(202);
      const text = await storedText();
      expect(text).toContain(`"diagnostic_data":${hostile}`);
      const diagnostics = (JSON.parse(text) as EventsPage).events[0]?.event.data.diagnostic_data as Record<string, unknown>;
      expect(Object.keys(diagnostics)).toEqual(['__proto__', 'constructor', 'prototype']);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();

      const services = await post(JSON.parse('{"type":"system.health","data":{"status":"healthy","services":{"__proto__":{"status":"healthy"}}}}'));
      expect(services.status).toBe(400);
      expect(services.body.rejected[0]).toMatchObject({ code: 'EVENT_INVALID', errors: [{ path: 'data.services.__proto__' }] });
    });
  });

  describe('item 3: retries are idempotent by metadata.event_id; what clients may say in metadata', () => {
    const event = (event_id: string, message = 'retried'): Record<string, unknown> => ({ type: 'system.error', data: { severity: 'error', message, component: 'edge' }, metadata: { event_id } });

    it('answers a retry with the original id and duplicate: true, stores it once, also across a restart and in one batch', async () => {
      await startAgent();
      const id = randomUUID();
      const first = await post(event(id));
      const retry = await post(event(id));
      expect(first.body.accepted).toEqual([{ index: 0, event_id: id }]);
      expect(retry.status).toBe(202);
      expect(retry.body.accepted).toEqual([{ index: 0, event_id: id, duplicate: true }]);

      // Two concurrent retries of a new id, and the same id twice in one batch: stored once each.
      const racing = randomUUID();
      const answers = await Promise.all([post(event(racing)), post(event(racing))]);
      expect(answers.map((a) => a.body.accepted[0]?.duplicate ?? false).sort()).toEqual([false, true]);
      const batched = randomUUID();
      const batch = await post([event(batched), event(batched)]);
      expect(batch.body.accepted).toEqual([{ index: 0, event_id: batched }, { index: 1, event_id: batched, duplicate: true }]);

      // A "retry" that is not a valid event is an error, not a duplicate.
      const invalid = await post({ ...event(id), data: { severity: 'bad' } });
      expect([invalid.status, invalid.body.error?.code]).toEqual([400, 'EVENT_INVALID']);

      // The store remembers across a restart (its retention is the window).
      await (agent as Agent).stop();
      await startAgent();
      expect((await post(event(id))).body.accepted).toEqual([{ index: 0, event_id: id, duplicate: true }]);

      const ids = (await stored()).map((e) => e.event.metadata.event_id);
      for (const each of [id, racing, batched]) expect(ids.filter((i) => i === each)).toHaveLength(1);
      const stats = (await (await fetch(`${(agent as Agent).adminUrl as string}/stats`)).json()) as { ingest: { duplicates: number } };
      expect(stats.ingest.duplicates).toBe(1);

      // The typed client says so too.
      const client = new AgentClient({ url: (agent as Agent).adminUrl as string });
      const again = await client.emit('system.error', { severity: 'error', message: 'retried', component: 'edge' }, { event_id: id });
      expect(again).toEqual({ event_id: id, duplicate: true });
    });

    it('lets a refused event be corrected and resent with the same id', async () => {
      await startAgent();
      const id = randomUUID();
      expect((await post({ ...event(id), data: { severity: 'bad' } })).status).toBe(400);
      expect((await post(event(id))).body.accepted).toEqual([{ index: 0, event_id: id }]);
    });

    it('deduplicates in memory when the store is off', async () => {
      await startAgent('http:\n  port: 0\n');
      const id = randomUUID();
      let published = 0;
      (agent as Agent).bus.subscribe('system.error', () => {
        published++;
      });
      await post(event(id));
      expect((await post(event(id))).body.accepted).toEqual([{ index: 0, event_id: id, duplicate: true }]);
      await (agent as Agent).bus.idle();
      expect(published).toBe(1);
    });

    it('refuses a source that is the agent itself or one of its plugins, keeps any other', async () => {
      await startAgent();
      const withSource = (source: string): Record<string, unknown> => ({ type: 'system.error', data: { severity: 'error', message: `from ${source}`, component: 'edge' }, metadata: { source } });
      for (const source of ['edge-agent', 'audit', 'store', 'bus']) {
        const answer = await post(withSource(source));
        expect([source, answer.status, answer.body.error?.code, answer.body.rejected[0]?.errors[0]?.path]).toEqual([source, 400, 'EVENT_RESERVED_SOURCE', 'metadata.source']);
      }
      expect((await post(withSource('other-agent'))).status).toBe(202);
      const events = await stored();
      expect(events.map((e) => [e.event.data.message, e.event.metadata.source])).toEqual([['from other-agent', 'other-agent']]);
    });

    it('refuses a timestamp more than 5 minutes ahead; keeps one slightly ahead and any in the past as sent', async () => {
      await startAgent();
      const at = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();
      const stamped = (timestamp: string): Record<string, unknown> => ({ type: 'system.error', data: { severity: 'error', message: timestamp, component: 'edge' }, metadata: { timestamp } });
      const future = await post(stamped(at(3_600_000)));
      expect([future.status, future.body.error?.code, future.body.rejected[0]?.errors[0]?.path]).toEqual([400, 'EVENT_TIMESTAMP_SKEW', 'metadata.timestamp']);
      expect(future.body.error?.message).toMatch(/3600 s ahead of the agent's clock; at most 300 s/);
      const kept = [at(60_000), at(-2 * 365 * 86_400_000), '2001-01-01T00:00:00.000Z'];
      for (const timestamp of kept) expect((await post(stamped(timestamp))).status).toBe(202);
      expect((await stored()).map((e) => e.event.metadata.timestamp)).toEqual(kept);
    });
  });
});
