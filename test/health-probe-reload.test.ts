import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Agent } from '../src/agent/agent';
import type { ReloadResult } from '../src/agent/agent-control';
import { loadConfig } from '../src/config/loader';
import { FakeClock } from '../src/core/clock';
import type { Event } from '../src/events/types';
import { refusedPort, TestServer } from '../plugins/health-probe/test-peers';
import { waitFor } from './helpers/async';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('health-probe across an agent reload', () => {
  it('keeps the state of checks whose config did not change: no re-announcement, no second alarm, same cadence', async () => {
    const ok = await new TestServer().start();
    cleanups.push(() => ok.stop());
    const port = await refusedPort();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'health-probe-reload-'));
    const file = path.join(dir, 'agent.config.yaml');
    const write = (extra: string): void =>
      writeFileSync(
        file,
        [
          'http:',
          '  enabled: false',
          'plugins:',
          '  - name: health',
          '    use: health-probe',
          '    config:',
          '      flapping: { enabled: false }',
          '      services:',
          '        api:',
          `          checks: { web: { kind: http, url: "${ok.url}" } }`,
          '        db:',
          `          checks: { port: { kind: tcp, port: ${port} } }`,
          extra,
        ].join('\n'),
      );
    write('');
    const clock = new FakeClock(Date.now());
    const agent = new Agent(loadConfig(file), { logger: pino({ level: 'silent' }), clock });
    cleanups.push(() => agent.stop());
    const events: Event[] = [];
    agent.bus.subscribe('*', (e) => void events.push(e), { name: 'test-recorder', capacity: 10_000 });
    const ofType = <T extends Event['type']>(type: T) => events.filter((e): e is Event<T> => e.type === type);
    const stats = () => (agent.stats().components as Record<string, { services: Record<string, { checks_run: number; status: string }> }>).health;
    await agent.start();
    await clock.advance(0);
    await waitFor(() => ofType('service.status').length === 2 && ofType('system.error').length === 1, { what: 'api healthy, db unhealthy' });
    expect(stats().services).toMatchObject({ api: { status: 'healthy', checks_run: 1 }, db: { status: 'unhealthy', checks_run: 1 } });

    // A new service: the plugin's config changed, so the core restarts it.
    write(['        cache:', `          checks: { port: { kind: tcp, port: ${port} } }`].join('\n'));
    const result: ReloadResult = await agent.reload('test');
    expect(result).toMatchObject({ status: 'applied', restarted: ['health'] });
    await clock.advance(0);
    await waitFor(() => ofType('service.status').length === 3, { what: 'the new service has a status' });
    await agent.bus.idle();
    const announced = ofType('service.status').map((e) => `${e.data.service_name} ${e.data.status}`);
    expect(announced.slice(0, 2).sort()).toEqual(['api healthy', 'db unhealthy']);
    expect(announced.slice(2)).toEqual(['cache unhealthy']); // api and db are not announced again
    expect(ofType('system.error').map((e) => e.data.component)).toEqual(['db', 'cache']); // db is not alarmed twice
    expect(stats().services).toMatchObject({ api: { status: 'healthy', checks_run: 1 }, db: { status: 'unhealthy', checks_run: 1 } });

    // The unchanged checks keep their cadence: the next run is one interval (30 s) after the last.
    await clock.advance(30_000);
    await waitFor(() => stats().services.api.checks_run === 2 && stats().services.db.checks_run === 2, { what: 'second runs' });
    await agent.bus.idle();
    expect(ofType('service.status')).toHaveLength(3);
  });

});
