import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent } from '../src/agent/agent';
import { AgentControl } from '../src/agent/agent-control';
import { loadConfig } from '../src/config/loader';
import { FakeClock } from '../src/core/clock';
import { silentLogger } from '../src/core/logger';
import type { Event } from '../src/events/types';
import { classToken } from '../src/plugin/tokens';
import { ReloadProbe } from './fixtures/reload-probe';
import { deferred, settle, waitFor } from './helpers/async';

const PROBE = path.join(__dirname, 'fixtures/reload-probe');

interface Setup {
  agent: Agent;
  file: string;
  write: (yaml: string) => void;
  events: Event[];
}

/** An agent on a real config file in a temp dir; `use` in the YAML is `${probe}`. */
function setup(yaml: string, clock?: FakeClock): Setup {
  const dir = mkdtempSync(path.join(tmpdir(), 'praxis-reload-'));
  const file = path.join(dir, 'agent.config.yaml');
  const probe = `./${path.relative(dir, PROBE)}`;
  const write = (text: string): void => writeFileSync(file, text.replaceAll('${probe}', probe));
  write(yaml);
  const agent = new Agent(loadConfig(file), { logger: silentLogger(), ...(clock ? { clock } : {}) });
  const events: Event[] = [];
  agent.bus.subscribe('*', (e) => void events.push(e), { name: 'test-recorder', capacity: 100_000 });
  return { agent, file, write, events };
}

const twoProbes = (slowLabel: string, extra = ''): string =>
  `http:\n  enabled: false\n${extra}plugins:\n  - name: slow\n    use: \${probe}\n    config:\n      label: ${slowLabel}\n      slow: true\n  - name: steady\n    use: \${probe}\n`;

beforeEach(() => {
  ReloadProbe.handled.length = 0;
  ReloadProbe.instances.length = 0;
  ReloadProbe.refuse.clear();
  ReloadProbe.inFlight.clear();
  ReloadProbe.maxInFlight.clear();
  ReloadProbe.gate = Promise.resolve();
});

describe('Agent.reload', () => {
  it('restarts only the plugin whose config changed; events published meanwhile reach it exactly once, the other plugin keeps receiving', async () => {
    const { agent, write } = setup(twoProbes('v1'));
    await agent.start();
    const total = 2000;
    let published = 0;
    let reload: Promise<Awaited<ReturnType<Agent['reload']>>> | undefined;
    let publishedWhenReloadDone = -1;
    // A producer publishing continuously; the reload starts while the slow plugin has a backlog.
    for (let i = 0; i < total; i++) {
      await agent.bus.publish('system.error', { severity: 'error', message: String(i), component: 'producer' });
      published++;
      if (i === 505) {
        write(twoProbes('v2'));
        reload = agent.reload('test');
        void reload.then(() => (publishedWhenReloadDone = published));
      }
      if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const result = await reload;
    await agent.bus.idle();

    expect(result).toMatchObject({ status: 'applied', restarted: ['slow'], unchanged: ['steady'], started: [], stopped: [], failed: [] });
    expect(publishedWhenReloadDone).toBeGreaterThan(506);
    expect(publishedWhenReloadDone).toBeLessThan(total); // the producer really kept publishing during the reload
    const expected = Array.from({ length: total }, (_, i) => String(i));
    const slow = ReloadProbe.handled.filter((h) => h.plugin === 'slow');
    // Exactly once, in publish order, across the two instances.
    expect(slow.map((h) => h.message)).toEqual(expected);
    const v1 = slow.filter((h) => h.label === 'v1').length;
    expect(v1).toBeGreaterThan(0);
    expect(v1).toBeLessThan(total);
    // Every v1 event comes before every v2 event: the old instance stopped before the new one began.
    expect(slow.slice(0, v1).every((h) => h.label === 'v1')).toBe(true);
    expect(ReloadProbe.handled.filter((h) => h.plugin === 'steady').map((h) => h.message)).toEqual(expected);
    expect(agent.bus.stats().events_dropped).toBe(0);
    // The steady plugin's instance was not touched; the slow one's old instance was stopped.
    expect(ReloadProbe.instances.map((p) => [p.name, p.config.label, p.stopped])).toEqual([
      ['slow', 'v1', true],
      ['steady', 'v1', false],
      ['slow', 'v2', false],
    ]);
    expect(agent.host.subscriptionsOf('slow')).toBe(1);
    expect(agent.bus.stats().handlers.filter((h) => h.owner === 'slow')).toEqual([expect.objectContaining({ state: 'active' })]);
    expect(await agent.stop()).toBe(0);
  });

  it('keeps the old config when the new one is invalid and publishes system.error with FILE:LINE:COL problems', async () => {
    const { agent, write, file, events } = setup(twoProbes('v1'));
    await agent.start();
    write(twoProbes('v2').replace('slow: true', 'slow: sometimes').replace('steady\n', 'steady\n    bogus: 1\n'));
    const result = await agent.reload('test');
    expect(result.status).toBe('invalid');
    expect(result.problems).toEqual([
      expect.stringMatching(new RegExp(`^${escape(file)}:\\d+:\\d+ plugins\\[0\\]\\.config\\.slow: .*\\(CONFIG_INVALID_VALUE\\)$`)),
      expect.stringMatching(new RegExp(`^${escape(file)}:\\d+:\\d+ plugins\\[1\\]\\.bogus: .*\\(CONFIG_UNKNOWN_KEY\\)$`)),
    ]);
    expect(result.restarted).toEqual([]);
    await agent.bus.idle();
    const error = events.find((e): e is Event<'system.error'> => e.type === 'system.error');
    expect(error?.data).toMatchObject({ severity: 'error', component: 'config', error_code: 'CONFIG_RELOAD_INVALID', diagnostic_data: { problems: result.problems, reason: 'test' } });
    // Still running the old instances on the old config.
    expect(ReloadProbe.instances.map((p) => [p.name, p.config.label, p.stopped])).toEqual([
      ['slow', 'v1', false],
      ['steady', 'v1', false],
    ]);
    expect(agent.loaded.plugins[0].config).toMatchObject({ label: 'v1' });

    write('plugins: [\n');
    const syntax = await agent.reload('test');
    expect(syntax.problems).toEqual([expect.stringMatching(new RegExp(`^${escape(file)}:\\d+:\\d+ .*\\(CONFIG_YAML_SYNTAX\\)$`))]);
    await agent.stop();
  });

  it('starts added plugins, stops removed ones, says which core sections need a restart, and leaves unchanged plugins alone', async () => {
    const { agent, write } = setup(twoProbes('v1'));
    await agent.start();
    write(`http:\n  enabled: false\nbus:\n  queue_capacity: 64\nplugins:\n  - name: steady\n    use: \${probe}\n  - name: added\n    use: \${probe}\n    config:\n      label: new\n`);
    const result = await agent.reload('test');
    expect(result).toMatchObject({ status: 'applied', stopped: ['slow'], started: ['added'], restarted: [], unchanged: ['steady'], restart_required: ['bus'] });
    expect(result.message).toContain('restart required to apply bus');
    expect(agent.pluginStatuses().map((s) => [s.name, s.state])).toEqual([
      ['steady', 'running'],
      ['added', 'running'],
    ]);
    expect(agent.host.subscriptionsOf('slow')).toBe(0);
    await agent.bus.publish('system.error', { severity: 'info', message: 'after', component: 'test' });
    await agent.bus.idle();
    expect(ReloadProbe.handled.filter((h) => h.message === 'after').map((h) => h.plugin).sort()).toEqual(['added', 'steady']);

    // Same file again: nothing to do, but the bus section still differs from what runs.
    const again = await agent.reload('test');
    expect(again).toMatchObject({ status: 'unchanged', restarted: [], started: [], stopped: [], restart_required: ['bus'] });
    // Key order in YAML is not a change; a disabled entry is stopped.
    write(`http:\n  enabled: false\nplugins:\n  - name: steady\n    use: \${probe}\n  - use: \${probe}\n    name: added\n    enabled: false\n`);
    expect(await agent.reload('test')).toMatchObject({ status: 'applied', stopped: ['added'], unchanged: ['steady'], restart_required: [] });
    expect(await agent.stop()).toBe(0);
  });

  it('delivers every event queued for a removed plugin before stopping it', async () => {
    const { agent, write } = setup(twoProbes('v1'));
    await agent.start();
    const total = 500;
    // The slow plugin yields a macrotask per event: publishing without waiting builds a backlog.
    for (let i = 0; i < total; i++) await agent.bus.publish('system.error', { severity: 'error', message: String(i), component: 'producer' });
    expect(agent.bus.stats().handlers.find((h) => h.owner === 'slow')?.queue_depth).toBeGreaterThan(100);
    write(`http:\n  enabled: false\nplugins:\n  - name: steady\n    use: \${probe}\n`);
    const result = await agent.reload('test');
    expect(result).toMatchObject({ status: 'applied', stopped: ['slow'], unchanged: ['steady'] });
    expect(result.discarded).toBeUndefined();
    const expected = Array.from({ length: total }, (_, i) => String(i));
    expect(ReloadProbe.handled.filter((h) => h.plugin === 'slow').map((h) => h.message)).toEqual(expected);
    expect(ReloadProbe.instances.find((p) => p.name === 'slow')?.stopped).toBe(true);
    expect(agent.bus.stats().events_dropped).toBe(0);
    expect(agent.stats().plugins_discarded_events).toEqual({});
    expect(await agent.stop()).toBe(0);
  });

  it('discards and counts what a removed plugin still holds when shutdown_timeout runs out', async () => {
    const clock = new FakeClock();
    const yaml = (withSlow: boolean): string =>
      `agent:\n  shutdown_timeout: 2s\nhttp:\n  enabled: false\nplugins:\n${withSlow ? '  - name: slow\n    use: ${probe}\n    config:\n      gated: true\n' : ''}  - name: steady\n    use: \${probe}\n`;
    const { agent, write } = setup(yaml(true), clock);
    await agent.start();
    const gate = deferred();
    ReloadProbe.gate = gate.promise;
    for (let i = 0; i < 5; i++) await agent.bus.publish('system.error', { severity: 'error', message: String(i), component: 'producer' });
    await settle(); // slow is inside its handler for event 0, four are queued
    write(yaml(false));
    const reload = agent.reload('test');
    await waitFor(() => clock.pending > 0, { what: 'the drain waiting on the clock' });
    await clock.advance(1999);
    expect(ReloadProbe.instances.find((p) => p.name === 'slow')?.stopped).toBe(false); // still draining
    await clock.advance(1);
    const result = await reload;
    expect(result).toMatchObject({ status: 'applied', stopped: ['slow'], discarded: { slow: 4 } });
    expect(result.message).toContain('4 event(s) queued for slow were discarded');
    expect(agent.stats().plugins_discarded_events).toEqual({ slow: 4 });
    expect(agent.bus.stats().events_dropped).toBe(4);
    gate.resolve();
    await waitFor(() => ReloadProbe.handled.some((h) => h.plugin === 'slow'), { what: 'the handler in flight to return' });
    expect(ReloadProbe.handled.filter((h) => h.plugin === 'slow').map((h) => h.message)).toEqual(['0']);
    expect(ReloadProbe.handled.filter((h) => h.plugin === 'steady')).toHaveLength(5);
    expect(await agent.stop()).toBe(0);
  });

  it('counts the events a restarted plugin no longer subscribes to as discarded, in the reload answer', async () => {
    const clock = new FakeClock();
    const yaml = (watch: boolean): string =>
      `agent:\n  shutdown_timeout: 1s\nhttp:\n  enabled: false\nplugins:\n  - name: slow\n    use: \${probe}\n    config:\n      gated: true\n      watch_config: ${watch}\n`;
    const { agent, write } = setup(yaml(true), clock);
    await agent.start();
    const gate = deferred();
    ReloadProbe.gate = gate.promise;
    for (let i = 0; i < 3; i++) await agent.bus.publish('config.changed', { config_path: `app.yaml#k${i}`, old_value: i, new_value: i + 1 });
    await settle(); // k0 is inside the handler, k1 and k2 are queued
    write(yaml(false));
    const reload = agent.reload('test');
    await waitFor(() => clock.pending > 0, { what: 'the restart waiting for the handler in flight' });
    await clock.advance(1000);
    gate.resolve();
    const result = await reload;
    expect(result).toMatchObject({ status: 'applied', restarted: ['slow'], discarded: { slow: 2 } });
    expect(agent.stats().plugins_discarded_events).toEqual({ slow: 2 });
    await agent.bus.idle();
    expect(ReloadProbe.handled.map((h) => h.message)).toEqual(['app.yaml#k0']);
    expect(await agent.stop()).toBe(0);
  });

  it('stops the agent within shutdown_timeout even when a handler never returns, counting what that plugin still held', async () => {
    const clock = new FakeClock();
    const { agent } = setup(`agent:\n  shutdown_timeout: 2s\nhttp:\n  enabled: false\nplugins:\n  - name: slow\n    use: \${probe}\n    config:\n      gated: true\n`, clock);
    await agent.start();
    ReloadProbe.gate = new Promise<void>(() => undefined); // never opens
    for (let i = 0; i < 5; i++) await agent.bus.publish('system.error', { severity: 'error', message: String(i), component: 'producer' });
    let code: number | undefined;
    const stopping = agent.stop('test').then((c) => (code = c));
    for (let i = 0; i < 10 && code === undefined; i++) {
      await waitFor(() => clock.pending > 0 || code !== undefined, { what: 'the shutdown waiting on the clock' });
      await clock.advance(2000);
    }
    await stopping;
    expect(code).toBe(0);
    // Event 0 is stuck in the handler; 1 to 4 were still queued.
    expect(agent.stats().plugins_discarded_events).toEqual({ slow: 4 });
    expect(ReloadProbe.instances[0].stopped).toBe(true);
  });

  it('keeps the whole shutdown within shutdown_timeout (plus short floors) when a handler and stop() both hang', async () => {
    const clock = new FakeClock();
    const { agent } = setup(`agent:\n  shutdown_timeout: 2s\nhttp:\n  enabled: false\nplugins:\n  - name: slow\n    use: \${probe}\n    config:\n      gated: true\n      hang_on_stop: true\n`, clock);
    await agent.start();
    ReloadProbe.gate = new Promise<void>(() => undefined); // never opens
    for (let i = 0; i < 3; i++) await agent.bus.publish('system.error', { severity: 'error', message: String(i), component: 'producer' });
    const started = clock.now();
    let code: number | undefined;
    const stopping = agent.stop('test').then((c) => (code = c));
    for (let i = 0; i < 100 && code === undefined; i++) {
      await waitFor(() => clock.pending > 0 || code !== undefined, { what: 'the shutdown waiting on the clock' });
      await clock.advance(50);
    }
    await stopping;
    expect(code).toBe(3); // the plugin overran: SHUTDOWN_INCOMPLETE
    // Queue drain at the agent, queue drain at the plugin and stop() share one deadline (before: three
    // times it, 6 s); past it the plugin's drain and its stop() each get the 100 ms floor; 50 = one clock step.
    expect(clock.now() - started).toBeLessThanOrEqual(2000 + 2 * 100 + 50);
  });

  it('rolls a plugin that fails to start with its new config back to its previous entry, and tries the new one again on the next reload', async () => {
    const { agent, write, events } = setup(twoProbes('v1'));
    await agent.start();
    const failing = twoProbes('v2').replace('slow: true', 'slow: true\n      fail_on_start: true');
    write(failing);
    const result = await agent.reload('test');
    expect(result).toMatchObject({ status: 'partial', restarted: [], unchanged: ['steady'], failed: [{ plugin: 'slow', error: expect.stringContaining('refuses to start'), rolled_back: true }] });
    expect(result.message).toContain('slow failed to start: slow refuses to start (rolled back: slow keeps running on its previous entry)');
    expect(agent.host.stateOf('slow')).toBe('running');
    expect(agent.loaded.plugins[0].config).toMatchObject({ label: 'v1' });
    await agent.bus.idle();
    expect(events.find((e): e is Event<'system.error'> => e.type === 'system.error' && (e as Event<'system.error'>).data.component === 'slow')?.data).toMatchObject({
      error_code: 'PLUGIN_START_FAILED',
      message: expect.stringContaining('keeps running on its previous entry'),
      diagnostic_data: { rolled_back: true },
    });
    // The rolled-back instance (v1 again) receives events.
    await agent.bus.publish('system.error', { severity: 'info', message: 'after rollback', component: 'test' });
    await agent.bus.idle();
    expect(ReloadProbe.handled.filter((h) => h.message === 'after rollback').map((h) => [h.plugin, h.label]).sort()).toEqual([['slow', 'v1'], ['steady', 'v1']]);

    // The same file again: the new entry is tried again (it did not become the running one).
    expect(await agent.reload('test')).toMatchObject({ status: 'partial', failed: [{ plugin: 'slow', rolled_back: true }] });

    write(twoProbes('v3'));
    expect(await agent.reload('test')).toMatchObject({ status: 'applied', restarted: ['slow'], unchanged: ['steady'] });
    expect(agent.host.stateOf('slow')).toBe('running');
    expect(agent.loaded.plugins[0].config).toMatchObject({ label: 'v3' });
    expect(await agent.stop()).toBe(0);
  });

  it('never runs the old and the new instance handler at once, even when the old one overruns the restart wait', async () => {
    const yaml = (label: string, hold: number): string =>
      `agent:\n  shutdown_timeout: 100ms\nhttp:\n  enabled: false\nplugins:\n  - name: slow\n    use: \${probe}\n    config:\n      label: ${label}\n      hold_ms: ${hold}\n`;
    const { agent, write } = setup(yaml('v1', 400));
    await agent.start();
    for (let i = 0; i < 3; i++) await agent.bus.publish('system.error', { severity: 'error', message: String(i), component: 'producer' });
    await new Promise((resolve) => setImmediate(resolve)); // v1 is now inside its handler for event 0
    write(yaml('v2', 0));
    expect(await agent.reload('test')).toMatchObject({ restarted: ['slow'] });
    await agent.bus.idle();
    await waitFor(() => ReloadProbe.handled.length === 3, { what: 'all three events handled' });
    expect(ReloadProbe.maxInFlight.get('slow')).toBe(1);
    expect(ReloadProbe.handled.map((h) => [h.message, h.label])).toEqual([['0', 'v1'], ['1', 'v2'], ['2', 'v2']]);
    expect(await agent.stop()).toBe(0);
  });

  it('loses no event queued for a plugin whose restart fails: the rollback instance takes them over', async () => {
    const { agent, write } = setup(twoProbes('v1'));
    await agent.start();
    const total = 1000;
    let reload: Promise<Awaited<ReturnType<Agent['reload']>>> | undefined;
    for (let i = 0; i < total; i++) {
      await agent.bus.publish('system.error', { severity: 'error', message: String(i), component: 'producer' });
      if (i === 300) {
        write(twoProbes('v2').replace('slow: true', 'slow: true\n      fail_on_start: true'));
        reload = agent.reload('test');
      }
      if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await reload).toMatchObject({ status: 'partial', failed: [{ plugin: 'slow', rolled_back: true }] });
    await agent.bus.idle();
    const expected = Array.from({ length: total }, (_, i) => String(i));
    // The agent's own system.error about the failed start reaches the probe too; count the producer's.
    expect(ReloadProbe.handled.filter((h) => h.plugin === 'slow' && /^\d+$/.test(h.message)).map((h) => h.message)).toEqual(expected);
    expect(agent.bus.stats().events_dropped).toBe(0);
    expect(await agent.stop()).toBe(0);
  });

  it('leaves a plugin failed when its previous entry does not start either, and retries it on the next reload', async () => {
    const { agent, write } = setup(twoProbes('v1'));
    await agent.start();
    ReloadProbe.refuse.add('v1');
    write(twoProbes('v2').replace('slow: true', 'slow: true\n      fail_on_start: true'));
    const result = await agent.reload('test');
    expect(result).toMatchObject({ status: 'partial', failed: [{ plugin: 'slow', error: expect.stringContaining('refuses to start'), rolled_back: false }] });
    expect(result.message).not.toContain('rolled back');
    expect(agent.host.stateOf('slow')).toBe('failed');
    expect(agent.host.stateOf('steady')).toBe('running');

    write(twoProbes('v3'));
    expect(await agent.reload('test')).toMatchObject({ status: 'applied', restarted: ['slow'], unchanged: ['steady'] });
    expect(agent.host.stateOf('slow')).toBe('running');
    expect(await agent.stop()).toBe(0);
  });

  it('is refused before start and after stop, and runs reloads one at a time', async () => {
    const { agent, write } = setup(twoProbes('v1'));
    expect((await agent.reload('early')).status).toBe('unavailable');
    await agent.start();
    write(twoProbes('v2'));
    const [a, b] = await Promise.all([agent.reload('a'), agent.reload('b')]);
    expect(a).toMatchObject({ status: 'applied', restarted: ['slow'] });
    expect(b).toMatchObject({ status: 'unchanged', restarted: [] });
    await agent.stop();
    expect((await agent.reload('late')).status).toBe('unavailable');
  });

  it('offers itself to plugins as AgentControl', async () => {
    const { agent, file } = setup(twoProbes('v1'));
    await agent.start();
    const control = agent.container.resolve(classToken(AgentControl));
    expect(control.configFile).toBe(file);
    expect((await control.reload('plugin')).status).toBe('unchanged');
    await agent.stop();
  });
});

describe('POST /-/reload', () => {
  it('answers what was restarted, 422 with the problems when invalid, and wants the bearer token when one is set', async () => {
    process.env.RELOAD_TEST_TOKEN = 'tok-123';
    const { agent, write } = setup(twoProbes('v1').replace('http:\n  enabled: false\n', 'http:\n  port: 0\n  auth_token: ${RELOAD_TEST_TOKEN}\n'));
    await agent.start();
    const url = `${agent.adminUrl}/-/reload`;
    const auth = { authorization: 'Bearer tok-123' };
    expect((await fetch(url, { method: 'POST' })).status).toBe(401);

    write(twoProbes('v2').replace('http:\n  enabled: false\n', 'http:\n  port: 0\n  auth_token: ${RELOAD_TEST_TOKEN}\n'));
    const ok = await fetch(url, { method: 'POST', headers: auth });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ status: 'applied', reason: 'POST /-/reload', restarted: ['slow'], unchanged: ['steady'], message: expect.stringContaining('restarted slow') });

    const nothing = await fetch(url, { method: 'POST', headers: auth });
    expect(nothing.status).toBe(200);
    expect(await nothing.json()).toMatchObject({ status: 'unchanged', message: expect.stringContaining('no plugin entry changed') });

    write('plugins:\n  - name: Bad\n');
    const invalid = await fetch(url, { method: 'POST', headers: auth });
    expect(invalid.status).toBe(422);
    const body = (await invalid.json()) as { status: string; problems: string[] };
    expect(body.status).toBe('invalid');
    expect(body.problems.length).toBeGreaterThan(0);
    expect(body.problems.every((p) => /:\d+:\d+ /.test(p))).toBe(true);
    expect((await fetch(url)).status).toBe(405);
    await agent.stop();
    delete process.env.RELOAD_TEST_TOKEN;
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
