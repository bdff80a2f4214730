import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Bus, definePlugin, EventRegistry, FakeClock, HttpError, HttpRoutes, injectable, On, z, type Event } from 'praxis-agent';
import { createPluginHarness } from 'praxis-agent/testing';
import { Agent } from '../src/agent/agent';
import { EventBus } from '../src/bus/event-bus';
import type { PluginStatus as ClientPluginStatus } from '../src/client/agent-client';
import { loadConfig } from '../src/config/loader';
import { silentLogger } from '../src/core/logger';
import { AdminServer, type AdminServerDeps } from '../src/http/admin-server';
import { ScopedHttpRoutes } from '../src/plugin/http-routes';
import type { PluginStatus } from '../src/plugin/plugin-host';

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

  it("carries the running plugin's status() (on /readyz and /stats); one that throws is left out and logged, and nothing is asked before start", async () => {
    let calls = 0;
    let broken = false;
    @injectable()
    class Stateful {
      status(): Record<string, unknown> {
        calls++;
        if (broken) throw new Error('status broke');
        return { connected: false, pending_events: 3 };
      }
    }
    const h = createPluginHarness(definePlugin({ name: 'stateful', version: '1.0.0', configSchema: z.object({}), plugin: Stateful }), { http: {} });
    expect(h.status.status).toBeUndefined();
    expect(calls).toBe(0);
    await h.start();
    const readyz = (await (await fetch(`${h.url}/readyz`)).json()) as { ready: boolean; plugins: PluginStatus[] };
    expect(readyz).toMatchObject({ ready: true, plugins: [{ name: 'stateful', state: 'running', status: { connected: false, pending_events: 3 } }] });
    broken = true;
    expect(h.status).toEqual({ name: 'stateful', use: 'stateful', version: '1.0.0', state: 'running' });
    await h.stop();
  });
});

@injectable()
class Reporter {
  constructor(private readonly bus: Bus) {}

  @On('config.changed')
  async report(event: Event<'config.changed'>): Promise<void> {
    await this.bus.publish('system.error', { severity: 'error', message: 'bad change', error_code: event.data.config_path, component: 'reporter' });
  }
}

describe('error codes owned by plugins', () => {
  const reporter = definePlugin({
    name: 'reporter',
    version: '1.0.0',
    configSchema: z.object({}),
    errors: { REPORTER_BAD_CHANGE: 'A change the reporter does not like.' },
    plugin: Reporter,
  });

  it('checks the codes a plugin declares: UPPER_SNAKE_CASE, a meaning, never a core code', () => {
    const define = (errors: Record<string, string>) => () => definePlugin({ name: 'p', version: '1.0.0', configSchema: z.object({}), errors, plugin: Reporter });
    expect(define({ lower_case: 'x' })).toThrow('error code "lower_case" must be UPPER_SNAKE_CASE');
    expect(define({ HANDLER_FAILED: 'mine now' })).toThrow('error code HANDLER_FAILED is a core code; a plugin declares only its own');
    expect(define({ P_FAILED: ' ' })).toThrow('error code P_FAILED needs a one-sentence meaning');
    expect(define({ P_FAILED: 'It failed.' })).not.toThrow();
  });

  it("delivers an error event whose code the plugin does not declare, and reports that once per code; its own and the core's codes pass", async () => {
    const h = createPluginHarness(reporter);
    await h.start();
    const change = (code: string) => h.bus.publish('config.changed', { config_path: code, old_value: 1, new_value: 2 });
    for (const code of ['REPORTER_BAD_CHANGE', 'HANDLER_FAILED', 'MADE_UP', 'MADE_UP', 'HEALTH_TIMEOUT']) await change(code);
    await h.bus.idle();
    expect(h.eventsOf('system.error').map((e) => e.data.error_code)).toEqual(['REPORTER_BAD_CHANGE', 'HANDLER_FAILED', 'MADE_UP', 'MADE_UP', 'HEALTH_TIMEOUT']);
    const undeclared = h.eventsOf('agent.error').filter((e) => e.data.error_code === 'ERROR_CODE_UNDECLARED');
    expect(undeclared.map((e) => [e.data.component, e.data.diagnostic_data?.error_code])).toEqual([
      ['reporter', 'MADE_UP'],
      // Another plugin's code is not this plugin's to raise (no other plugin declares it here either).
      ['reporter', 'HEALTH_TIMEOUT'],
    ]);
    expect(undeclared[0].data.message).toContain('add it to definePlugin({ errors })');
    await h.stop();
  });

  describe('in the agent', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'praxis-codes-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('merges the plugins\' codes with the core\'s and counts error events by code and owner on /stats', async () => {
      const fixture = path.join(__dirname, 'fixtures/third-party-plugin');
      const file = path.join(dir, 'agent.config.yaml');
      writeFileSync(file, `http:\n  enabled: false\nplugins:\n  - name: recorder\n    use: ${fixture}\n  - name: audit\n    use: audit-log\n    config:\n      path: ${path.join(dir, 'audit.log')}\n`);
      const agent = new Agent(loadConfig(file), { logger: silentLogger() });
      await agent.start();
      await agent.bus.publish('backup.completed', { job: 'nightly', bytes: 0, ok: false }); // the recorder raises BACKUP_FAILED
      await agent.bus.publish('system.error', { severity: 'error', message: 'x', error_code: 'AUDIT_WRITE_FAILED', component: 'test' });
      await agent.bus.publish('system.error', { severity: 'error', message: 'x', error_code: 'DISK_FULL', component: 'app' });
      await agent.bus.idle();
      expect(agent.stats().error_codes).toEqual({
        by_code: { BACKUP_FAILED: { owner: 'recorder', count: 1 }, AUDIT_WRITE_FAILED: { owner: 'audit-log', count: 1 } },
        other: 1,
      });
      expect(agent.host.errorCodes.get('BACKUP_FAILED')).toEqual({ code: 'BACKUP_FAILED', owner: 'recorder', meaning: 'A backup job reported ok: false.' });
      expect(await agent.stop()).toBe(0);
    });

    it('refuses two plugin types that claim the same code (ERROR_CODE_CONFLICT)', () => {
      const copy = path.join(dir, 'copy.js');
      writeFileSync(copy, `const { definePlugin, z } = require('praxis-agent');\nclass C {}\nmodule.exports = definePlugin({ name: 'copycat', version: '1.0.0', configSchema: z.object({}), errors: { BACKUP_FAILED: 'Mine too.' }, plugin: C });\n`);
      const file = path.join(dir, 'agent.config.yaml');
      writeFileSync(file, `http:\n  enabled: false\nplugins:\n  - name: recorder\n    use: ${path.join(__dirname, 'fixtures/third-party-plugin')}\n  - name: copycat\n    use: ./copy.js\n`);
      expect(() => new Agent(loadConfig(file), { logger: silentLogger() })).toThrow(
        expect.objectContaining({ code: 'ERROR_CODE_CONFLICT', message: 'plugin copycat declares error code BACKUP_FAILED, which belongs to plugin recorder' }),
      );
    });
  });
});
