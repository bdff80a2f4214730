import { mkdtempSync, writeFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent } from '../src/agent/agent';
import { loadConfig } from '../src/config/loader';
import { FakeClock } from '../src/core/clock';
import { silentLogger } from '../src/core/logger';
import type { Event } from '../src/events/types';
import type { RecorderPlugin } from './fixtures/third-party-plugin';

const FIXTURE = path.join(__dirname, 'fixtures/third-party-plugin');

/** Writes a config next to a temp dir and points `use` at the fixture by a relative path, as a user would. */
function agentFor(yaml: (use: string) => string): Agent {
  const dir = mkdtempSync(path.join(tmpdir(), 'praxis-agent-'));
  const file = path.join(dir, 'agent.config.yaml');
  writeFileSync(file, yaml(`./${path.relative(dir, FIXTURE)}`));
  return new Agent(loadConfig(file), { logger: silentLogger() });
}

function record(agent: Agent): Event[] {
  const events: Event[] = [];
  agent.bus.subscribe('*', (e) => void events.push(e), { name: 'test-recorder', capacity: 10_000 });
  return events;
}

describe('Agent error log', () => {
  it('limits agent.error log lines per component and code, and says how many it suppressed; every rejection is still counted', async () => {
    const stream = new PassThrough();
    const lines: Record<string, unknown>[] = [];
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)));
    const dir = mkdtempSync(path.join(tmpdir(), 'praxis-agent-'));
    const file = path.join(dir, 'agent.config.yaml');
    writeFileSync(file, 'http:\n  enabled: false\n');
    const clock = new FakeClock();
    const agent = new Agent(loadConfig(file), { logger: pino({ level: 'info' }, stream), clock });
    await agent.start();
    const invalid = () => agent.bus.publish('system.error', { severity: 'fatal' } as never).catch(() => undefined);
    for (let i = 0; i < 50; i++) await invalid();
    await agent.bus.idle();
    await new Promise((resolve) => setImmediate(resolve));
    const logged = () => lines.filter((l) => l.event === 'agent.error');
    expect(logged()).toHaveLength(20);
    expect(agent.bus.stats().events_rejected).toBe(50);
    await clock.advance(10_000);
    await invalid();
    await agent.bus.idle();
    await new Promise((resolve) => setImmediate(resolve));
    expect(logged()).toHaveLength(21);
    expect(logged()[20]).toMatchObject({ suppressed: 30, data: { error_code: 'EVENT_INVALID' } });
    await agent.stop();
  });
});

describe('Agent with a third-party plugin loaded from a path', () => {
  it("logs a plugin handler's failure with the plugin's name, and keeps delivering to the others", async () => {
    const stream = new PassThrough();
    const lines: Record<string, unknown>[] = [];
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)));
    const dir = mkdtempSync(path.join(tmpdir(), 'praxis-agent-'));
    const file = path.join(dir, 'agent.config.yaml');
    const use = `./${path.relative(dir, FIXTURE)}`;
    writeFileSync(file, `http:\n  enabled: false\nplugins:\n  - name: thrower\n    use: ${use}\n    config:\n      throw_in_handler: true\n  - name: calm\n    use: ${use}\n`);
    const agent = new Agent(loadConfig(file), { logger: pino({ level: 'info' }, stream) });
    await agent.start();
    await agent.bus.publish('system.error', { severity: 'error', message: 'db down', component: 'db' });
    await agent.bus.idle();
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.find((l) => l.event === 'agent.error')).toMatchObject({ plugin: 'thrower', data: { error_code: 'HANDLER_FAILED', component: 'thrower' } });
    expect((agent.host.instanceOf('calm') as RecorderPlugin).received.map((e) => e.type)).toEqual(['system.error']);
    expect(await agent.stop()).toBe(0);
  });

  it('loads, configures, delivers typed events to it, and stops it', async () => {
    const agent = agentFor((use) => `http:\n  enabled: false\nplugins:\n  - name: backups\n    use: ${use}\n    config:\n      label: nightly\n`);
    const events = record(agent);
    await agent.start();
    const plugin = agent.host.instanceOf('backups') as RecorderPlugin;
    expect(plugin.config.label).toBe('nightly');
    expect(plugin.started).toBe(true);

    await agent.bus.publish('system.error', { severity: 'critical', message: 'db down', component: 'db' });
    await agent.bus.publish('backup.completed', { job: 'pg', bytes: 10, ok: false }, { correlation_id: 'run-7' });
    await agent.bus.idle();

    expect(plugin.received.map((e) => e.type)).toEqual(['system.error', 'backup.completed', 'system.error']);
    const raised = events.find((e): e is Event<'system.error'> => e.type === 'system.error' && e.metadata.source === 'backups');
    expect(raised?.data).toMatchObject({ error_code: 'BACKUP_FAILED', component: 'nightly' });
    expect(raised?.metadata.correlation_id).toBe('run-7');

    await expect(agent.bus.publish('backup.completed', { job: 'pg', bytes: -1, ok: true })).rejects.toMatchObject({ code: 'EVENT_INVALID' });

    expect(await agent.stop()).toBe(0);
    expect(plugin.stopCalls).toBe(1);
    expect(agent.host.subscriptionsOf('backups')).toBe(0);
    expect(agent.pluginStatuses()).toEqual([expect.objectContaining({ name: 'backups', state: 'stopped' })]);
    const rejection = events.find((e): e is Event<'agent.error'> => e.type === 'agent.error');
    expect(rejection?.data).toMatchObject({ error_code: 'EVENT_INVALID', message: expect.stringContaining('data.bytes') });
    expect(events.map((e) => e.type).filter((t) => t !== 'agent.error' && (t.startsWith('agent.') || t === 'system.shutdown'))).toEqual([
      'agent.starting',
      'agent.started',
      'agent.stopping',
      'system.shutdown',
      'agent.stopped',
    ]);
  });

  it('fails start-up naming the plugin, after stopping the ones already started', async () => {
    const agent = agentFor(
      (use) => `http:\n  enabled: false\nplugins:\n  - name: first\n    use: ${use}\n  - name: broken\n    use: ${use}\n    config:\n      fail_on_start: true\n`,
    );
    await expect(agent.start()).rejects.toMatchObject({ code: 'PLUGIN_START_FAILED', message: expect.stringContaining('"broken"') });
    expect((agent.host.instanceOf('first') as RecorderPlugin).stopCalls).toBe(1);
    expect(agent.pluginStatuses().map((s) => [s.name, s.state])).toEqual([
      ['first', 'stopped'],
      ['broken', 'failed'],
    ]);
  });

  it('names a plugin that overruns shutdown_timeout, still stops the others, and exits 3', async () => {
    const agent = agentFor(
      (use) =>
        `agent:\n  shutdown_timeout: 150ms\nhttp:\n  enabled: false\nplugins:\n  - name: quick\n    use: ${use}\n  - name: stuck\n    use: ${use}\n    config:\n      stop_delay_ms: 1000\n`,
    );
    const events = record(agent);
    await agent.start();
    expect(await agent.stop()).toBe(3);
    expect((agent.host.instanceOf('quick') as RecorderPlugin).stopCalls).toBe(1);
    const stopped = events.find((e): e is Event<'agent.stopped'> => e.type === 'agent.stopped');
    expect(stopped?.data).toMatchObject({ exit_code: 3, failed_plugins: ['stuck'] });
  });

  it('starts plugins after their depends_on and stops them in reverse', async () => {
    const agent = agentFor(
      (use) => `http:\n  enabled: false\nplugins:\n  - name: app\n    use: ${use}\n    depends_on: [store]\n  - name: store\n    use: ${use}\n`,
    );
    const events = record(agent);
    await agent.start();
    const started = events.find((e): e is Event<'agent.started'> => e.type === 'agent.started');
    expect(started?.data.plugins).toEqual(['store', 'app']);
    await agent.stop();
  });
});
