import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { EventBus } from '../bus/event-bus';
import { SystemClock } from '../core/clock';
import { EventRegistry } from '../events/registry';
import type { Event } from '../events/types';
import { AdminServer, type AdminServerOptions } from '../http/admin-server';
import { AgentClient, AgentClientError } from './agent-client';

const VALID = { severity: 'error', message: 'disk full', component: 'backup' } as const;
const TOKEN = 'client-test-token';

interface Harness {
  url: string;
  bus: EventBus;
  received: Event<'system.error'>[];
  setReady(ready: boolean): void;
}

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

async function agent(options: Partial<AdminServerOptions> = {}): Promise<Harness> {
  const bus = new EventBus(new EventRegistry(), new SystemClock());
  const received: Event<'system.error'>[] = [];
  bus.subscribe('system.error', (e) => {
    received.push(e);
  });
  let ready = true;
  const server = new AdminServer(
    { host: '127.0.0.1', port: 0, body_limit: 64 * 1024, ...options },
    {
      bus,
      logger: pino({ level: 'silent' }),
      plugins: () => [{ name: 'p', use: 'builtin:p', version: '1.0.0', state: ready ? 'running' : 'starting' }],
      ready: () => ready,
      stats: () => ({}),
    },
  );
  cleanups.push(() => server.stop());
  const url = await server.start();
  return { url, bus, received, setReady: (r) => (ready = r) };
}

/** A port nothing listens on: bind one, note it, close it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function caught(promise: Promise<unknown>): Promise<AgentClientError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AgentClientError);
  return error as AgentClientError;
}

describe('AgentClient', () => {
  it('emits an event and gets back the id the handler sees', async () => {
    const h = await agent();
    const client = new AgentClient({ url: `${h.url}/` });
    const { event_id } = await client.emit('system.error', VALID, { correlation_id: 'c-1', tags: ['t'] });
    await h.bus.idle();
    expect(h.received).toHaveLength(1);
    expect(h.received[0]?.metadata).toMatchObject({ event_id, correlation_id: 'c-1', tags: ['t'], source: 'ingest' });
  });

  it('surfaces field errors of a rejected event', async () => {
    const h = await agent();
    const client = new AgentClient({ url: h.url });
    // Deliberately invalid, as untyped callers (the CLI) may send.
    const error = await caught(client.emit('system.error', { ...VALID, severity: 'meh' } as never));
    expect(error).toMatchObject({ status: 400, code: 'EVENT_INVALID' });
    expect(error.errors).toEqual([expect.objectContaining({ path: 'data.severity' })]);
    expect(error.message).toMatch(/data\.severity/);
  });

  it('surfaces reserved and unknown types with their codes', async () => {
    const h = await agent();
    const client = new AgentClient({ url: h.url });
    expect(await caught(client.emit('agent.stopping', { reason: 'x' }))).toMatchObject({ status: 400, code: 'EVENT_RESERVED_TYPE' });
    expect(await caught(client.emit('nope.nothing' as 'system.error', VALID))).toMatchObject({ code: 'EVENT_UNKNOWN_TYPE', errors: [expect.objectContaining({ path: 'type' })] });
  });

  it('sends a batch and returns the per-event outcome', async () => {
    const h = await agent();
    const client = new AgentClient({ url: h.url });
    const result = await client.emitBatch([
      { type: 'system.error', data: VALID },
      { type: 'service.status', data: { service_name: 'db', status: 'healthy' } },
      { type: 'system.error', data: { ...VALID, component: '' } },
    ]);
    expect(result.accepted.map((a) => a.index)).toEqual([0, 1]);
    expect(result.rejected).toEqual([expect.objectContaining({ index: 2, code: 'EVENT_INVALID', errors: [expect.objectContaining({ path: 'data.component' })] })]);
  });

  it('throws for a batch in which nothing was accepted, with index-prefixed field errors', async () => {
    const h = await agent();
    const client = new AgentClient({ url: h.url });
    const error = await caught(client.emitBatch([{ type: 'system.error', data: { ...VALID, severity: 'x' as 'error' } }]));
    expect(error.status).toBe(400);
    expect(error.errors).toEqual([expect.objectContaining({ path: '[0].data.severity' })]);
    expect(error.result?.rejected).toHaveLength(1);
  });

  it('surfaces 401 without and with a wrong token, and works with the right one', async () => {
    const h = await agent({ auth_token: TOKEN });
    expect(await caught(new AgentClient({ url: h.url }).emit('system.error', VALID))).toMatchObject({ status: 401, code: 'HTTP_UNAUTHORIZED' });
    const wrong = await caught(new AgentClient({ url: h.url, token: 'nope' }).emit('system.error', VALID));
    expect(wrong).toMatchObject({ status: 401, code: 'HTTP_UNAUTHORIZED' });
    expect(wrong.message).not.toContain('nope');
    await expect(new AgentClient({ url: h.url, token: TOKEN }).emit('system.error', VALID)).resolves.toHaveProperty('event_id');
  });

  it('refuses a token that cannot be sent as a header, without echoing it', () => {
    expect(() => new AgentClient({ url: 'http://127.0.0.1:1', token: 'bad\ntoken' })).toThrow(AgentClientError);
    expect(() => new AgentClient({ url: 'http://127.0.0.1:1', token: 'bad\ntoken' })).not.toThrow(/bad/);
  });

  it('surfaces an unreachable agent as a network error', async () => {
    const port = await closedPort();
    const client = new AgentClient({ url: `http://127.0.0.1:${port}` });
    const error = await caught(client.emit('system.error', VALID));
    expect(error.status).toBeUndefined();
    expect(error.message).toMatch(/cannot reach praxis-agent .*ECONNREFUSED/);
    expect(await client.health()).toBe(false);
    await expect(client.ready()).rejects.toBeInstanceOf(AgentClientError);
  });

  it('surfaces a timeout', async () => {
    // A server that accepts the request and never answers.
    const silent: Server = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const client = new AgentClient({ url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, timeoutMs: 100 });
    const error = await caught(client.emit('system.error', VALID));
    expect(error.message).toMatch(/timed out after 100 ms/);
    expect(await client.health()).toBe(false);
  });

  it('reports non-agent error responses by status', async () => {
    const proxy: Server = createServer((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>bad gateway</html>');
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    });
    const client = new AgentClient({ url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` });
    expect(await caught(client.emit('system.error', VALID))).toMatchObject({ status: 502, message: 'the agent answered HTTP 502' });
  });

  it('checks health and readiness', async () => {
    const h = await agent();
    const client = new AgentClient({ url: h.url });
    expect(await client.health()).toBe(true);
    expect(await client.ready()).toEqual({ ready: true, plugins: [{ name: 'p', use: 'builtin:p', version: '1.0.0', state: 'running' }] });
    h.setReady(false);
    expect(await client.ready()).toEqual({ ready: false, plugins: [{ name: 'p', use: 'builtin:p', version: '1.0.0', state: 'starting' }] });
  });
});
