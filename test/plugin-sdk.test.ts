import { definePlugin, EventRegistry, FakeClock, HttpError, HttpRoutes, injectable, On, z, type Event } from 'praxis-agent';
import { createPluginHarness } from 'praxis-agent/testing';
import { EventBus } from '../src/bus/event-bus';
import { silentLogger } from '../src/core/logger';
import type { PluginStatus as ClientPluginStatus } from '../src/client/agent-client';
import { AdminServer, type AdminServerDeps } from '../src/http/admin-server';
import type { PluginStatus } from '../src/plugin/plugin-host';
import { ScopedHttpRoutes } from '../src/plugin/http-routes';

@injectable()
class Both {
  readonly seen: string[] = [];

  @On('system.*')
  onSystem(event: Event<'system.error'> | Event<'system.health'> | Event<'system.shutdown'>): void {
    this.seen.push(`system:${event.type}`);
  }

  @On('config.changed', { capacity: 4, overflow: 'drop_oldest' })
  onConfig(event: Event<'config.changed'>): void {
    this.seen.push(`config:${event.data.config_path}`);
  }
}

@injectable()
class Mistyped {
  // @ts-expect-error the compiler rejects a handler whose parameter does not match its pattern
  @On('system.error') onError(_event: Event<'config.changed'>): void {}
}

describe('plugin SDK', () => {
  it('subscribes @On handlers after start, with wildcards and per-handler options, and removes them at stop', async () => {
    const h = createPluginHarness(definePlugin({ name: 'both', version: '1.0.0', configSchema: z.object({}), plugin: Both }));
    await h.start();
    expect(h.subscriptions).toBe(2);
    expect(h.bus.stats().handlers.filter((s) => s.owner === 'both').map((s) => [s.id.split('#')[0], s.capacity, s.overflow])).toEqual([
      ['both:onSystem', 1024, 'block'],
      ['both:onConfig', 4, 'drop_oldest'],
    ]);
    await h.bus.publish('system.health', { status: 'healthy', services: {} });
    await h.bus.publish('config.changed', { config_path: 'a.yaml#x', old_value: 1, new_value: 2 });
    await h.bus.publish('service.status', { service_name: 'api', status: 'healthy' });
    await h.stop();
    expect((h.instance as Both).seen).toEqual(['system:system.health', 'config:a.yaml#x']);
    expect(h.subscriptions).toBe(0);
  });

  it('rejects plugin names that are not lower-kebab-case', () => {
    expect(() => definePlugin({ name: 'Bad_Name', version: '1.0.0', configSchema: z.object({}), plugin: Mistyped })).toThrow(/lower-kebab-case/);
  });
});

@injectable()
class Hello {
  constructor(private readonly routes: HttpRoutes) {}

  start(): void {
    this.routes.add('GET', '/hello/*', (req, res) => this.routes.sendJson(res, 200, { hello: req.url?.split('/').pop() }));
    this.routes.add('POST', '/echo', async (req, res) => {
      const body = (await this.routes.readBody(req, 16)).toString('utf8');
      if (body === 'teapot') throw new HttpError(418, 'HTTP_BAD_REQUEST', 'no teapots here');
      this.routes.sendJson(res, 200, { echo: body });
    }, { auth: false });
  }
}

describe('HttpRoutes', () => {
  const hello = definePlugin({ name: 'hello', version: '1.0.0', configSchema: z.object({}), plugin: Hello });

  it('serves a plugin route on the admin server and removes it when the plugin stops', async () => {
    const h = createPluginHarness(hello, { http: {} });
    await h.start();
    const res = await fetch(`${h.url}/hello/world`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ hello: 'world' });
    const url = h.url as string;
    await h.stop();
    await expect(fetch(`${url}/hello/world`)).rejects.toThrow();
  });

  it('removes routes on ScopedHttpRoutes.close() while the server keeps running', async () => {
    const bus = new EventBus(new EventRegistry(), new FakeClock());
    const admin = new AdminServer({ host: '127.0.0.1', port: 0, body_limit: 1024 }, { bus, logger: silentLogger(), plugins: () => [], ready: () => true, stats: () => ({}) });
    const url = await admin.start();
    try {
      const routes = new ScopedHttpRoutes(admin, 'p');
      routes.add('GET', '/x', (_req, res) => routes.sendJson(res, 200, {}));
      expect((await fetch(`${url}/x`)).status).toBe(200);
      routes.close();
      expect((await fetch(`${url}/x`)).status).toBe(404);
    } finally {
      await admin.stop();
    }
  });

  it('reads bodies within a limit and answers JSON and coded errors with what HttpRoutes and HttpError give a plugin', async () => {
    const h = createPluginHarness(hello, { http: {} });
    await h.start();
    try {
      const echo = await fetch(`${h.url}/echo`, { method: 'POST', body: 'hi' });
      expect([echo.status, echo.headers.get('content-type'), await echo.json()]).toEqual([200, 'application/json; charset=utf-8', { echo: 'hi' }]);
      const teapot = await fetch(`${h.url}/echo`, { method: 'POST', body: 'teapot' });
      expect([teapot.status, await teapot.json()]).toEqual([418, { error: { code: 'HTTP_BAD_REQUEST', message: 'no teapots here' } }]);
      const large = await fetch(`${h.url}/echo`, { method: 'POST', body: 'x'.repeat(17) });
      expect([large.status, ((await large.json()) as { error: { code: string } }).error.code]).toEqual([413, 'HTTP_PAYLOAD_TOO_LARGE']);
    } finally {
      await h.stop();
    }
  });

  it('fails start-up with HTTP_DISABLED when there is no admin server', async () => {
    const h = createPluginHarness(hello);
    await expect(h.start()).rejects.toThrow(/HTTP_DISABLED|http\.enabled is false/);
  });
});

/** True only when A and B are the same type (not merely assignable one way). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

describe('PluginStatus', () => {
  it('is one type for the plugin host, the admin server and the typed client (a second declaration drifted)', () => {
    // Fails to compile when the client's or the admin server's PluginStatus differs from the host's.
    const clientSeesTheHostsShape: Same<ClientPluginStatus, PluginStatus> = true;
    const adminServesTheHostsShape: Same<ReturnType<AdminServerDeps['plugins']>[number], PluginStatus> = true;
    expect([clientSeesTheHostsShape, adminServesTheHostsShape]).toEqual([true, true]);
  });
});
