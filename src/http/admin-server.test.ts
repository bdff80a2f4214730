import { sampleEvents } from '../testing/samples';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { EventBus } from '../bus/event-bus';
import { SystemClock } from '../core/clock';
import { AgentError } from '../core/errors';
import type { Logger } from '../core/logger';
import { EventRegistry } from '../events/registry';
import type { Event } from '../events/types';
import type { PluginStatus } from '../plugin/plugin-host';
import { AdminServer, type AdminServerOptions } from './admin-server';
import { HttpError, sendJson } from './reply';

// Response bodies are checked by the assertions themselves; typing each shape would only repeat them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const VALID = { severity: 'error', message: 'disk full', component: 'backup' } as const;
const TOKEN = 's3cret-token-value';

interface Harness {
  server: AdminServer;
  bus: EventBus;
  url: string;
  received: Event<'system.error'>[];
  logs: string[];
  plugins: PluginStatus[];
  setReady(ready: boolean): void;
}

const running: AdminServer[] = [];

async function setup(options: Partial<AdminServerOptions> = {}): Promise<Harness> {
  const bus = new EventBus(new EventRegistry(), new SystemClock());
  const received: Event<'system.error'>[] = [];
  bus.subscribe('system.error', (event) => {
    received.push(event);
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const logger: Logger = pino({ level: 'trace' }, sink);
  const plugins: PluginStatus[] = [{ name: 'http-check', use: 'builtin:http-check', version: '1.0.0', state: 'running' }];
  let ready = true;
  const server = new AdminServer(
    { host: '127.0.0.1', port: 0, body_limit: 64 * 1024, ...options },
    {
      bus,
      logger,
      plugins: () => plugins,
      ready: () => ready,
      stats: () => ({ bus: bus.stats(), plugins, process: { pid: process.pid } }),
    },
  );
  running.push(server);
  const url = await server.start();
  return { server, bus, url, received, logs, plugins, setReady: (r) => (ready = r) };
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Json; headers: Headers }> {
  const response = await fetch(`${url}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}

async function get(url: string, path: string, method = 'GET', headers: Record<string, string> = {}): Promise<{ status: number; text: string; body: Json; headers: Headers }> {
  const response = await fetch(`${url}${path}`, { method, headers });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, text, body, headers: response.headers };
}

/** A raw request, for bodies fetch cannot send (chunked streams larger than the limit). */
function rawPost(url: string, chunks: Buffer[], headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    // The server may close while we are still writing; the response is what matters.
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe('POST /events', () => {
  it('accepts a valid event, delivers it with the returned id and source "ingest"', async () => {
    const h = await setup();
    const res = await post(h.url, { type: 'system.error', data: VALID });
    expect(res.status).toBe(202);
    expect(res.body.rejected).toEqual([]);
    expect(res.body.accepted).toHaveLength(1);
    const [accepted] = res.body.accepted;
    expect(accepted.index).toBe(0);
    await h.bus.idle();
    expect(h.received).toHaveLength(1);
    expect(h.received[0]?.metadata.event_id).toBe(accepted.event_id);
    expect(h.received[0]?.metadata.source).toBe('ingest');
    expect(h.received[0]?.data).toEqual(VALID);
  });

  it('keeps the metadata the sender gives, including its own source', async () => {
    const h = await setup();
    const metadata = { source: 'cron', correlation_id: 'run-42', tags: ['nightly', 'nightly', 'db'] };
    const res = await post(h.url, { type: 'system.error', data: VALID, metadata });
    expect(res.status).toBe(202);
    await h.bus.idle();
    expect(h.received[0]?.metadata).toMatchObject({ source: 'cron', correlation_id: 'run-42', tags: ['nightly', 'db'] });
  });

  it('uses deps.source as the default source', async () => {
    const bus = new EventBus(new EventRegistry(), new SystemClock());
    const seen: Event<'system.error'>[] = [];
    bus.subscribe('system.error', (e) => {
      seen.push(e);
    });
    const server = new AdminServer({ host: '127.0.0.1', port: 0, body_limit: 1024 }, { bus, logger: pino({ level: 'silent' }), plugins: () => [], ready: () => true, stats: () => ({}), source: 'edge' });
    running.push(server);
    const url = await server.start();
    expect((await post(url, { type: 'system.error', data: VALID, metadata: { tags: ['x'] } })).status).toBe(202);
    await bus.idle();
    expect(seen[0]?.metadata).toMatchObject({ source: 'edge', tags: ['x'] });
  });

  it('accepts the good events of a batch and reports field errors for the bad one', async () => {
    const h = await setup();
    const res = await post(h.url, [
      { type: 'system.error', data: VALID },
      { type: 'system.error', data: { ...VALID, severity: 'apocalyptic' } },
      { type: 'system.error', data: { ...VALID, message: 'second' } },
    ]);
    expect(res.status).toBe(202);
    expect(res.body.accepted.map((a: { index: number }) => a.index)).toEqual([0, 2]);
    expect(res.body.rejected).toHaveLength(1);
    const [rejected] = res.body.rejected;
    expect(rejected).toMatchObject({ index: 1, code: 'EVENT_INVALID' });
    expect(rejected.errors).toEqual([expect.objectContaining({ path: 'data.severity' })]);
    await h.bus.idle();
    expect(h.received.map((e) => e.data.message)).toEqual(['disk full', 'second']);
    expect(h.received.map((e) => e.metadata.event_id)).toEqual(res.body.accepted.map((a: { event_id: string }) => a.event_id));
  });

  it('answers 400 when every event is rejected, with an error and the per-event detail', async () => {
    const h = await setup();
    const res = await post(h.url, [
      { type: 'system.error', data: { ...VALID, severity: 'bad' } },
      { type: 'system.error', data: { severity: 'error' } },
    ]);
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({ code: 'EVENT_INVALID', message: 'all 2 events were rejected' });
    expect(res.body.accepted).toEqual([]);
    expect(res.body.rejected[1].errors.map((e: { path: string }) => e.path).sort()).toEqual(['data.component', 'data.message']);
    await h.bus.idle();
    expect(h.received).toHaveLength(0);
  });

  it('answers a single rejected event with its own code and message', async () => {
    const h = await setup();
    const res = await post(h.url, { type: 'system.error', data: { ...VALID, extra: 1 } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('EVENT_INVALID');
    expect(res.body.rejected[0].errors).toEqual([expect.objectContaining({ path: 'data.extra' })]);
  });

  it('uses HTTP_BAD_REQUEST when rejected events have different codes', async () => {
    const h = await setup();
    const res = await post(h.url, [{ type: 'no.such_type', data: {} }, { type: 'system.error', data: {} }]);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('HTTP_BAD_REQUEST');
    expect(res.body.rejected.map((r: { code: string }) => r.code)).toEqual(['EVENT_UNKNOWN_TYPE', 'EVENT_INVALID']);
  });

  it('rejects agent.* events as reserved', async () => {
    const h = await setup();
    const agentEvents: Event[] = [];
    h.bus.subscribe('agent.*', (e) => {
      agentEvents.push(e);
    });
    const res = await post(h.url, { type: 'agent.stopping', data: { reason: 'forged' } });
    expect(res.status).toBe(400);
    expect(res.body.rejected[0]).toMatchObject({ index: 0, code: 'EVENT_RESERVED_TYPE', errors: [expect.objectContaining({ path: 'type' })] });
    await h.bus.idle();
    expect(agentEvents).toHaveLength(0);
  });

  it.each(['alert.notified', 'silence.created'] as const)('rejects %s as reserved: the alerting engine publishes it, a client cannot forge one', async (type) => {
    const h = await setup();
    const seen: Event[] = [];
    h.bus.subscribe(type, (e) => void seen.push(e));
    const res = await post(h.url, { type, data: sampleEvents[type] });
    expect(res.status).toBe(400);
    expect(res.body.rejected[0]).toMatchObject({ code: 'EVENT_RESERVED_TYPE', message: `${type}: ${type.split('.')[0]}.* events are published by the agent itself and cannot be ingested` });
    await h.bus.idle();
    expect(seen).toHaveLength(0);
  });

  it('rejects unknown types with EVENT_UNKNOWN_TYPE naming the type field', async () => {
    const h = await setup();
    const res = await post(h.url, { type: 'backup.completed', data: {} });
    expect(res.status).toBe(400);
    expect(res.body.rejected[0]).toMatchObject({ code: 'EVENT_UNKNOWN_TYPE', errors: [{ path: 'type', message: expect.stringContaining('backup.completed') }] });
  });

  it('gives field errors for items that are not events', async () => {
    const h = await setup();
    const res = await post(h.url, [42, null, { data: VALID }, { type: 7, data: VALID }, { type: 'system.error', data: VALID, meta: {} }, ['x']]);
    expect(res.status).toBe(400);
    const byIndex = res.body.rejected.map((r: { index: number; code: string; errors: { path: string }[] }) => [r.index, r.code, r.errors.map((e) => e.path)]);
    expect(byIndex).toEqual([
      [0, 'EVENT_INVALID', ['(root)']],
      [1, 'EVENT_INVALID', ['(root)']],
      [2, 'EVENT_INVALID', ['type']],
      [3, 'EVENT_INVALID', ['type']],
      [4, 'EVENT_INVALID', ['meta']],
      [5, 'EVENT_INVALID', ['(root)']],
    ]);
  });

  it('reports invalid metadata as field errors under metadata', async () => {
    const h = await setup();
    const res = await post(h.url, [
      { type: 'system.error', data: VALID, metadata: { tags: 'nope' } },
      { type: 'system.error', data: VALID, metadata: 'nope' },
      { type: 'system.error', data: VALID, metadata: { event_id: 'not-a-uuid' } },
    ]);
    expect(res.status).toBe(400);
    expect(res.body.rejected.map((r: { errors: { path: string }[] }) => r.errors[0]?.path)).toEqual(['metadata.tags', 'metadata', 'metadata.event_id']);
  });

  it('accepts NDJSON, ignoring blank lines and reporting lines of bad events', async () => {
    const h = await setup();
    const lines = [
      JSON.stringify({ type: 'system.error', data: VALID }),
      '',
      '   ',
      JSON.stringify({ type: 'system.error', data: { ...VALID, severity: 'meh' } }),
      JSON.stringify({ type: 'system.error', data: { ...VALID, message: 'third' } }),
      '',
    ].join('\n');
    const res = await post(h.url, lines, { 'content-type': 'application/x-ndjson' });
    expect(res.status).toBe(202);
    expect(res.body.accepted.map((a: { index: number }) => a.index)).toEqual([0, 2]);
    expect(res.body.rejected).toEqual([expect.objectContaining({ index: 1, line: 4, code: 'EVENT_INVALID' })]);
    await h.bus.idle();
    expect(h.received.map((e) => e.data.message)).toEqual(['disk full', 'third']);
  });

  it('accepts CRLF NDJSON', async () => {
    const h = await setup();
    const body = `${JSON.stringify({ type: 'system.error', data: VALID })}\r\n${JSON.stringify({ type: 'system.error', data: VALID })}\r\n`;
    const res = await post(h.url, body, { 'content-type': 'application/x-ndjson; charset=utf-8' });
    expect(res.status).toBe(202);
    expect(res.body.accepted).toHaveLength(2);
  });

  it('answers 400 naming the NDJSON line that is not JSON, and publishes nothing', async () => {
    const h = await setup();
    const body = [JSON.stringify({ type: 'system.error', data: VALID }), '', '{"type": "system.error", data}'].join('\n');
    const res = await post(h.url, body, { 'content-type': 'application/x-ndjson' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'HTTP_BAD_REQUEST', line: 3 });
    expect(res.body.error.message).toMatch(/line 3/);
    await h.bus.idle();
    expect(h.received).toHaveLength(0);
  });

  it('answers 400 for invalid JSON', async () => {
    const h = await setup();
    const res = await post(h.url, '{"type": "system.error",');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('HTTP_BAD_REQUEST');
    expect(res.body.error.message).toMatch(/^invalid JSON/);
  });

  it.each([
    ['an empty body', ''],
    ['an empty array', '[]'],
    ['only blank NDJSON lines', '\n\n'],
  ])('answers 400 for %s', async (_name, body) => {
    const h = await setup();
    const res = await post(h.url, body, body.startsWith('\n') ? { 'content-type': 'application/x-ndjson' } : {});
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('HTTP_BAD_REQUEST');
  });

  it('answers 415 for an unsupported content type, with a hint', async () => {
    const h = await setup();
    const res = await post(h.url, 'type=system.error', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('HTTP_UNSUPPORTED_MEDIA_TYPE');
    expect(res.body.error.message).toMatch(/application\/json/);
  });

  it('answers 415 for a charset other than UTF-8', async () => {
    const h = await setup();
    const res = await post(h.url, JSON.stringify({ type: 'system.error', data: VALID }), { 'content-type': 'application/json; charset=latin1' });
    expect(res.status).toBe(415);
  });

  it('reads a body without content type as JSON', async () => {
    const h = await setup();
    const res = await rawPost(h.url, [Buffer.from(JSON.stringify({ type: 'system.error', data: VALID }))], { 'content-type': '' });
    expect(res.status).toBe(202);
  });

  it('answers 413 when Content-Length exceeds body_limit, and closes the connection', async () => {
    const h = await setup({ body_limit: 1024 });
    const big = JSON.stringify({ type: 'system.error', data: { ...VALID, message: 'x'.repeat(2000) } });
    const res = await post(h.url, big);
    expect(res.status).toBe(413);
    expect(res.body.error).toMatchObject({ code: 'HTTP_PAYLOAD_TOO_LARGE', limit: 1024 });
    expect(res.headers.get('connection')).toBe('close');
    await h.bus.idle();
    expect(h.received).toHaveLength(0);
  });

  it('answers 413 for a chunked body that grows past body_limit without reading it all', async () => {
    const h = await setup({ body_limit: 1024 });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const res = await rawPost(h.url, Array.from({ length: 160 }, () => chunk)); // 10 MiB, no Content-Length
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error.code).toBe('HTTP_PAYLOAD_TOO_LARGE');
    // The server keeps serving.
    expect((await get(h.url, '/healthz')).status).toBe(200);
  });

  it('answers 503 BUS_CLOSED when the bus is draining', async () => {
    const h = await setup();
    await h.bus.drain();
    const res = await post(h.url, { type: 'system.error', data: VALID });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('BUS_CLOSED');
  });

  it('waits for a full block queue instead of failing (backpressure)', async () => {
    const bus = new EventBus(new EventRegistry(), new SystemClock(), { queue_capacity: 1, overflow: 'block' });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const handled: string[] = [];
    bus.subscribe('system.error', async (e) => {
      await gate;
      handled.push(e.data.message);
    });
    const server = new AdminServer({ host: '127.0.0.1', port: 0, body_limit: 4096 }, { bus, logger: pino({ level: 'silent' }), plugins: () => [], ready: () => true, stats: () => ({}) });
    running.push(server);
    const url = await server.start();
    const pending = post(url, ['a', 'b', 'c'].map((message) => ({ type: 'system.error', data: { ...VALID, message } })));
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    const res = await pending;
    expect(res.status).toBe(202);
    expect(res.body.accepted).toHaveLength(3);
    await bus.idle();
    expect(handled).toEqual(['a', 'b', 'c']);
  });
});

describe('bearer token', () => {
  it('answers 401 with WWW-Authenticate when the token is missing', async () => {
    const h = await setup({ auth_token: TOKEN });
    const res = await post(h.url, { type: 'system.error', data: VALID });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('HTTP_UNAUTHORIZED');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    await h.bus.idle();
    expect(h.received).toHaveLength(0);
  });

  it.each([
    ['a wrong token', 'Bearer wrong-token'],
    ['a token with a suffix', `Bearer ${TOKEN}x`],
    ['another scheme', `Basic ${TOKEN}`],
    ['an empty bearer', 'Bearer '],
  ])('answers 401 for %s', async (_name, authorization) => {
    const h = await setup({ auth_token: TOKEN });
    const res = await post(h.url, { type: 'system.error', data: VALID }, { authorization });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
  });

  it('accepts the right token and never logs it', async () => {
    const h = await setup({ auth_token: TOKEN });
    expect((await post(h.url, { type: 'system.error', data: VALID }, { authorization: `Bearer ${TOKEN}` })).status).toBe(202);
    expect((await post(h.url, { type: 'system.error', data: VALID }, { authorization: `bearer ${TOKEN}` })).status).toBe(202);
    await post(h.url, { type: 'system.error', data: VALID }, { authorization: `Bearer ${TOKEN}-nope` });
    expect(h.logs.length).toBeGreaterThan(0);
    expect(h.logs.join('')).not.toContain(TOKEN);
  });

  it('does not require the token for probes and scrapers: /healthz, /readyz, /metrics', async () => {
    const h = await setup({ auth_token: TOKEN });
    expect((await get(h.url, '/healthz')).status).toBe(200);
    expect((await get(h.url, '/readyz')).status).toBe(200);
    expect((await get(h.url, '/metrics')).status).toBe(200);
  });

  it('answers /readyz without the token with the verdict and plugin states only; with it, with their details', async () => {
    const h = await setup({ auth_token: TOKEN });
    h.setReady(false);
    Object.assign(h.plugins[0]!, { state: 'failed', error: 'connect ECONNREFUSED db.internal:5432' });
    const probe = await get(h.url, '/readyz');
    expect(probe.status).toBe(503);
    expect(probe.body).toEqual({ ready: false, plugins: [{ name: 'http-check', use: 'builtin:http-check', state: 'failed' }] });
    expect(probe.text).not.toContain('db.internal');
    const wrong = await get(h.url, '/readyz', 'GET', { authorization: 'Bearer wrong-token' });
    expect(wrong.body).toEqual(probe.body);
    const operator = await get(h.url, '/readyz', 'GET', { authorization: `Bearer ${TOKEN}` });
    expect(operator.status).toBe(503);
    expect(operator.body.plugins[0]).toMatchObject({ state: 'failed', error: 'connect ECONNREFUSED db.internal:5432', version: '1.0.0' });
  });

  it('requires the token for /stats when one is set (its error texts are for operators), and not without one', async () => {
    const h = await setup({ auth_token: TOKEN });
    const refused = await get(h.url, '/stats');
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('HTTP_UNAUTHORIZED');
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
    expect((await get(h.url, '/stats', 'GET', { authorization: 'Bearer wrong-token' })).status).toBe(401);
    const allowed = await get(h.url, '/stats', 'GET', { authorization: `Bearer ${TOKEN}` });
    expect(allowed.status).toBe(200);
    expect(allowed.body.bus).toMatchObject({ events_published: 0 });
    const open = await setup();
    expect((await get(open.url, '/stats')).status).toBe(200);
  });
});

describe('admin endpoints', () => {
  it('GET /healthz answers ok, HEAD too', async () => {
    const h = await setup();
    const res = await get(h.url, '/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const head = await get(h.url, '/healthz', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
  });

  it('GET /readyz answers 200 when ready and 503 when not, with plugin states', async () => {
    const h = await setup();
    const ok = await get(h.url, '/readyz');
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ ready: true, plugins: h.plugins });
    h.setReady(false);
    h.plugins[0]!.state = 'starting';
    const notReady = await get(h.url, '/readyz');
    expect(notReady.status).toBe(503);
    expect(notReady.body).toEqual({ ready: false, plugins: [{ name: 'http-check', use: 'builtin:http-check', version: '1.0.0', state: 'starting' }] });
  });

  it('GET /stats answers the stats JSON', async () => {
    const h = await setup();
    await post(h.url, { type: 'system.error', data: VALID });
    await h.bus.idle();
    const res = await get(h.url, '/stats');
    expect(res.status).toBe(200);
    expect(res.body.bus).toMatchObject({ events_published: 1, events_processed: 1 });
    expect(res.body.plugins).toEqual(h.plugins);
  });

  it('GET /metrics serves valid Prometheus text computed from the bus', async () => {
    const h = await setup();
    expect((await post(h.url, { type: 'system.error', data: VALID })).status).toBe(202);
    await post(h.url, { type: 'system.error', data: { severity: 'nope' } });
    await h.bus.idle();
    const res = await get(h.url, '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheus(res.text);
    expect(res.text).toContain('praxis_events_published_total{type="system.error"} 1\n');
    expect(res.text).toContain('praxis_events_processed_total{type="system.error"} 1\n');
    expect(res.text).toMatch(/^praxis_events_rejected_total 1$/m);
    expect(res.text).toMatch(/^praxis_handlers_active \d+$/m);
    expect(res.text).toContain('praxis_plugin_up{plugin="http-check",state="running"} 1');
    expect(res.text).toMatch(/^praxis_agent_ready 1$/m);
    expect(res.text).toMatch(/^praxis_handler_queue_depth\{handler="core:system\.error#1",plugin="core"\} 0$/m);
    expect(res.text).toMatch(/^praxis_handler_errors_total\{handler="core:system\.error#1",plugin="core"\} 0$/m);
    expect(res.text).toMatch(/^praxis_events_dropped_total/m);
    expect(families.get('praxis_events_published_total')).toBe('counter');
    expect(families.get('praxis_events_processed_total')).toBe('counter');
    expect(families.get('praxis_events_dropped_total')).toBe('counter');
    expect(families.get('praxis_events_rejected_total')).toBe('counter');
    expect(families.get('praxis_handler_errors_total')).toBe('counter');
    expect(families.get('praxis_handler_queue_depth')).toBe('gauge');
    expect(families.get('praxis_http_requests_total')).toBe('counter');
    // Requests answered before the first scrape (prom-client loads then) are counted too.
    expect(res.text).toContain('praxis_http_requests_total{method="POST",route="/events",status="202"} 1\n');
    expect(res.text).toContain('praxis_http_requests_total{method="POST",route="/events",status="400"} 1\n');
    // Default process metrics, prefixed.
    expect(families.get('praxis_process_cpu_user_seconds_total')).toBe('counter');
    expect(families.has('praxis_nodejs_heap_size_used_bytes')).toBe(true);
    expect([...families.keys()].every((name) => name.startsWith('praxis_'))).toBe(true);
  });

  it('GET /metrics counts handler errors and tracks plugin state changes', async () => {
    const h = await setup();
    h.bus.subscribe('system.error', () => {
      throw new Error('boom');
    }, { name: 'flaky' });
    await post(h.url, [{ type: 'system.error', data: VALID }, { type: 'system.error', data: VALID }]);
    await h.bus.idle();
    h.plugins[0]!.state = 'failed';
    const text = (await get(h.url, '/metrics')).text;
    expect(text).toMatch(/^praxis_handler_errors_total\{handler="core:flaky#\d+",plugin="core"\} 2$/m);
    expect(text).toContain('praxis_plugin_up{plugin="http-check",state="failed"} 0');
    expect(text).not.toContain('state="running"');
  });

  it('keeps two servers\' metrics apart (private registries)', async () => {
    const a = await setup();
    const b = await setup();
    await post(a.url, { type: 'system.error', data: VALID });
    expect((await get(a.url, '/metrics')).text).toContain('praxis_events_published_total{type="system.error"} 1');
    expect((await get(b.url, '/metrics')).text).not.toContain('praxis_events_published_total{type="system.error"}');
  });

  it('answers 404 JSON for unknown paths', async () => {
    const h = await setup();
    const res = await get(h.url, '/nope?x=1');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: 'HTTP_NOT_FOUND', message: expect.stringContaining('/nope') } });
  });

  it('answers 405 with Allow for a known path and the wrong method', async () => {
    const h = await setup();
    const res = await get(h.url, '/events');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(res.body.error.code).toBe('HTTP_METHOD_NOT_ALLOWED');
    const del = await get(h.url, '/healthz', 'DELETE');
    expect(del.status).toBe(405);
    expect(del.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('addRoute', () => {
  it('serves exact and prefix routes; exact wins, longer prefix wins', async () => {
    const h = await setup();
    h.server.addRoute('POST', '/heartbeat/*', (req, res) => sendJson(res, 200, { route: 'prefix', url: req.url }));
    h.server.addRoute('POST', '/heartbeat/special/*', (_req, res) => sendJson(res, 200, { route: 'longer' }));
    h.server.addRoute('POST', '/heartbeat/exact', (_req, res) => sendJson(res, 200, { route: 'exact' }));
    const call = async (path: string): Promise<Json> => (await fetch(`${h.url}${path}`, { method: 'POST' })).json();
    expect(await call('/heartbeat/db')).toEqual({ route: 'prefix', url: '/heartbeat/db' });
    expect(await call('/heartbeat/exact')).toEqual({ route: 'exact' });
    expect(await call('/heartbeat/special/x')).toEqual({ route: 'longer' });
    expect((await fetch(`${h.url}/heartbeat`, { method: 'POST' })).status).toBe(404);
  });

  it('requires the token for non-GET routes by default, not for GET routes', async () => {
    const h = await setup({ auth_token: TOKEN });
    h.server.addRoute('POST', '/-/reload', (_req, res) => sendJson(res, 200, { reloaded: true }));
    h.server.addRoute('GET', '/heartbeat/*', (_req, res) => sendJson(res, 200, {}));
    h.server.addRoute('GET', '/private', (_req, res) => sendJson(res, 200, {}), { auth: true });
    expect((await fetch(`${h.url}/-/reload`, { method: 'POST' })).status).toBe(401);
    expect((await fetch(`${h.url}/-/reload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${h.url}/heartbeat/db`)).status).toBe(200);
    expect((await fetch(`${h.url}/private`)).status).toBe(401);
  });

  it('removes a route with the returned function and refuses duplicates', async () => {
    const h = await setup();
    const remove = h.server.addRoute('GET', '/x', (_req, res) => sendJson(res, 200, {}));
    expect(() => h.server.addRoute('get', '/x', () => undefined)).toThrow(/already registered/);
    expect(() => h.server.addRoute('GET', 'x', () => undefined)).toThrow(/must start with/);
    expect((await get(h.url, '/x')).status).toBe(200);
    remove();
    remove();
    expect((await get(h.url, '/x')).status).toBe(404);
    h.server.addRoute('GET', '/x', (_req, res) => sendJson(res, 200, { again: true }));
    expect((await get(h.url, '/x')).body).toEqual({ again: true });
  });

  it('queues standby routes with the same method and path: the first answers, the next takes over when it is removed', async () => {
    const h = await setup();
    expect(h.server.hasRoute('get', '/shared')).toBe(false);
    const first = h.server.addRoute('GET', '/shared', (_req, res) => sendJson(res, 200, { from: 'first' }), { standby: true });
    h.server.addRoute('GET', '/shared', (_req, res) => sendJson(res, 200, { from: 'second' }), { standby: true });
    expect(h.server.hasRoute('get', '/shared')).toBe(true);
    // Only routes that both stand by may share: a plain one is refused either way round.
    expect(() => h.server.addRoute('GET', '/shared', () => undefined)).toThrow(/already registered/);
    h.server.addRoute('GET', '/plain', () => undefined);
    expect(() => h.server.addRoute('GET', '/plain', () => undefined, { standby: true })).toThrow(/already registered/);
    expect((await get(h.url, '/shared')).body).toEqual({ from: 'first' });
    first();
    expect((await get(h.url, '/shared')).body).toEqual({ from: 'second' });
  });

  it('turns thrown errors into JSON responses and keeps serving', async () => {
    const h = await setup();
    h.server.addRoute('GET', '/http-error', () => {
      throw new HttpError(409, 'CONFIG_INVALID_VALUE', 'conflict', { key: 'k' });
    });
    h.server.addRoute('GET', '/agent-error', async () => {
      throw new AgentError('PLUGIN_STOP_FAILED', 'nope');
    });
    h.server.addRoute('GET', '/crash', () => {
      throw new Error('secret internals');
    });
    h.server.addRoute('GET', '/late-crash', (_req, res) => {
      res.writeHead(200);
      res.write('partial');
      throw new Error('after headers');
    });
    expect(await get(h.url, '/http-error')).toMatchObject({ status: 409, body: { error: { code: 'CONFIG_INVALID_VALUE', message: 'conflict', key: 'k' } } });
    expect(await get(h.url, '/agent-error')).toMatchObject({ status: 500, body: { error: { code: 'PLUGIN_STOP_FAILED', message: 'nope' } } });
    const crash = await get(h.url, '/crash');
    expect(crash.status).toBe(500);
    expect(crash.body.error.code).toBe('HTTP_INTERNAL_ERROR');
    expect(crash.text).not.toContain('secret internals');
    await expect(fetch(`${h.url}/late-crash`).then((r) => r.text())).rejects.toThrow();
    expect((await get(h.url, '/healthz')).status).toBe(200);
    expect(h.logs.join('')).toContain('secret internals');
  });
});

describe('lifecycle', () => {
  it('resolves the base URL with the real port; start twice gives the same URL', async () => {
    const h = await setup();
    expect(h.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(h.url).not.toMatch(/:0$/);
    expect(h.server.url).toBe(h.url);
    expect(await h.server.start()).toBe(h.url);
    expect(h.server.server.listening).toBe(true);
  });

  it('reports 127.0.0.1 when bound to all interfaces', async () => {
    const h = await setup({ host: '0.0.0.0' });
    expect(h.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await get(h.url, '/healthz')).status).toBe(200);
  });

  it('stop() is idempotent and clears the URL', async () => {
    const h = await setup();
    await Promise.all([h.server.stop(), h.server.stop()]);
    await h.server.stop();
    expect(h.server.url).toBeUndefined();
    expect(h.server.server.listening).toBe(false);
    await expect(fetch(`${h.url}/healthz`)).rejects.toThrow();
  });

  it('stop() without start() is a no-op', async () => {
    const server = new AdminServer({ host: '127.0.0.1', port: 0, body_limit: 10 }, { bus: new EventBus(new EventRegistry(), new SystemClock()), logger: pino({ level: 'silent' }), plugins: () => [], ready: () => true, stats: () => ({}) });
    await expect(server.stop()).resolves.toBeUndefined();
    expect(server.url).toBeUndefined();
  });

  it('stop() closes idle keep-alive connections at once', async () => {
    const h = await setup();
    // fetch keeps the connection alive after this request.
    expect((await get(h.url, '/healthz')).status).toBe(200);
    const begun = Date.now();
    await h.server.stop();
    expect(Date.now() - begun).toBeLessThan(1000);
  });

  it('stop() lets an in-flight request finish, then cuts connections after the grace period', async () => {
    const h = await setup({ shutdown_grace_ms: 200 });
    let release!: () => void;
    h.server.addRoute('GET', '/slow', async (_req, res) => {
      await new Promise<void>((resolve) => (release = resolve));
      sendJson(res, 200, { done: true });
    });
    h.server.addRoute('GET', '/hang', () => new Promise<void>(() => undefined));
    const slow = get(h.url, '/slow');
    const hang = fetch(`${h.url}/hang`).then(() => 'answered', () => 'cut');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stopping = h.server.stop();
    release();
    expect(await slow).toMatchObject({ status: 200, body: { done: true } });
    await stopping;
    expect(await hang).toBe('cut');
  });

  it('fails with HTTP_LISTEN_FAILED naming host:port when the port is in use', async () => {
    const h = await setup();
    const port = Number(new URL(h.url).port);
    const other = new AdminServer({ host: '127.0.0.1', port, body_limit: 10 }, { bus: h.bus, logger: pino({ level: 'silent' }), plugins: () => [], ready: () => true, stats: () => ({}) });
    const error = await other.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AgentError);
    expect(error).toMatchObject({ code: 'HTTP_LISTEN_FAILED', details: { host: '127.0.0.1', port, reason: 'EADDRINUSE' } });
    expect((error as Error).message).toContain(`127.0.0.1:${port}`);
    expect(other.url).toBeUndefined();
    await other.stop();
  });

  it('fails with HTTP_LISTEN_FAILED for an invalid port', async () => {
    const server = new AdminServer({ host: '127.0.0.1', port: 70000, body_limit: 10 }, { bus: new EventBus(new EventRegistry(), new SystemClock()), logger: pino({ level: 'silent' }), plugins: () => [], ready: () => true, stats: () => ({}) });
    await expect(server.start()).rejects.toMatchObject({ code: 'HTTP_LISTEN_FAILED' });
  });
});

/**
 * A strict-enough reader of the Prometheus text format (0.0.4): every line is HELP, TYPE or a
 * sample of a declared family. Returns family name → TYPE.
 */
function parsePrometheus(text: string): Map<string, string> {
  const families = new Map<string, string>();
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const labels = `\\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\.)*",?)*\\}`;
  // Prometheus parses values with Go's ParseFloat, which accepts NaN in any case (prom-client writes "Nan").
  const value = '(?:[-+]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][-+]?\\d+)?|[Nn][Aa][Nn]|[-+]Inf)';
  const sample = new RegExp(`^(${name})(${labels})? ${value}(?: -?\\d+)?$`);
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      families.set(type[1] as string, type[2] as string);
      continue;
    }
    if (/^# HELP \S+ .*$/.test(line)) continue;
    const match = sample.exec(line);
    if (!match) throw new Error(`not Prometheus text: ${line}`);
    const metric = match[1] as string;
    const family = [...families.keys()].find((f) => metric === f || (/_(bucket|sum|count)$/.test(metric) && metric.replace(/_(bucket|sum|count)$/, '') === f));
    if (!family) throw new Error(`sample without TYPE: ${line}`);
  }
  return families;
}
