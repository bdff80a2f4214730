/**
 * Plugin.handOver() / PREVIOUS_STATE: what a restarted plugin is handed by the instance it replaces,
 * through a real Agent reloading a real config file, and through the public plugin harness.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { definePlugin, inject, injectable, PREVIOUS_STATE, z } from 'praxis-agent';
import { createPluginHarness, type PluginHarness } from 'praxis-agent/testing';
import { Agent } from '../src/agent/agent';
import { loadConfig } from '../src/config/loader';
import reloadProbe, { ReloadProbe } from './fixtures/reload-probe';

const PROBE = path.join(__dirname, 'fixtures/reload-probe');
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  ReloadProbe.handled.length = 0;
  ReloadProbe.instances.length = 0;
  ReloadProbe.refuse.clear();
});

/** The `probe` plugin entry: `use` (default the probe) and its config lines. */
const entry = (config: Record<string, unknown>, use = '${probe}'): string =>
  `  - name: probe\n    use: ${use}\n    config:\n${Object.entries(config).map(([k, v]) => `      ${k}: ${String(v)}\n`).join('')}`;
const yaml = (...entries: string[]): string => `agent:\n  shutdown_timeout: 200ms\nhttp:\n  enabled: false\nplugins:${entries.length > 0 ? `\n${entries.join('')}` : ' []\n'}`;

/** An agent on a real config file in a temp dir, logging JSON lines into `logs`. */
async function startAgent(text: string): Promise<{ agent: Agent; write: (text: string) => void; logs: Record<string, unknown>[] }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'praxis-handover-'));
  const file = path.join(dir, 'agent.config.yaml');
  const probe = `./${path.relative(dir, PROBE)}`;
  const write = (t: string): void => writeFileSync(file, t.replaceAll('${probe}', probe));
  write(text);
  const stream = new PassThrough();
  const logs: Record<string, unknown>[] = [];
  stream.on('data', (chunk: Buffer) => logs.push(...chunk.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)));
  const agent = new Agent(loadConfig(file), { logger: pino({ level: 'info' }, stream) });
  await agent.start();
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => agent.stop());
  return { agent, write, logs };
}

async function publishErrors(agent: Agent, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await agent.bus.publish('system.error', { severity: 'info', message: String(i), component: 'test' });
  await agent.bus.idle();
}

const latest = (): ReloadProbe => ReloadProbe.instances[ReloadProbe.instances.length - 1];

describe('handOver() across an agent reload', () => {
  it('hands the stopped instance state to the one that replaces it when the config changed; a fresh start gets undefined', async () => {
    const { agent, write } = await startAgent(yaml(entry({ label: 'v1' })));
    expect(latest().previous).toBeUndefined();
    await publishErrors(agent, 3);

    write(yaml(entry({ label: 'v2' })));
    expect(await agent.reload('test')).toMatchObject({ status: 'applied', restarted: ['probe'] });
    expect(ReloadProbe.instances).toHaveLength(2);
    expect(latest().previous).toEqual({ lineage: ['v1'], handled: 3 });

    await publishErrors(agent, 2);
    write(yaml(entry({ label: 'v3' })));
    await agent.reload('test');
    expect(latest().previous).toEqual({ lineage: ['v1', 'v2'], handled: 5 });
  });

  it('hands nothing over after the plugin was removed and added again', async () => {
    const { agent, write } = await startAgent(yaml(entry({ label: 'v1' })));
    await publishErrors(agent, 3);
    write(yaml());
    expect(await agent.reload('test')).toMatchObject({ status: 'applied', stopped: ['probe'] });
    write(yaml(entry({ label: 'v1' })));
    expect(await agent.reload('test')).toMatchObject({ status: 'applied', started: ['probe'] });
    expect(ReloadProbe.instances).toHaveLength(2);
    expect(latest().previous).toBeUndefined();
  });

  it('logs a throwing handOver() with the plugin name and code; the restart still succeeds, without state', async () => {
    const { agent, write, logs } = await startAgent(yaml(entry({ label: 'v1', throw_on_hand_over: true })));
    await publishErrors(agent, 1);
    write(yaml(entry({ label: 'v2' })));
    expect(await agent.reload('test')).toMatchObject({ status: 'applied', restarted: ['probe'], failed: [] });
    expect(agent.host.stateOf('probe')).toBe('running');
    expect(latest().config.label).toBe('v2');
    expect(latest().previous).toBeUndefined();
    expect(logs.filter((l) => l.code === 'PLUGIN_HANDOVER_FAILED')).toEqual([
      expect.objectContaining({ plugin: 'probe', msg: expect.stringContaining('plugin probe: handOver() failed (probe (v1) cannot hand over)') }),
    ]);
  });

  it('gives the rollback instance the state the instance that failed to start was given', async () => {
    const { agent, write } = await startAgent(yaml(entry({ label: 'v1' })));
    await publishErrors(agent, 4);
    write(yaml(entry({ label: 'v2', fail_on_start: true })));
    expect(await agent.reload('test')).toMatchObject({ status: 'partial', failed: [{ plugin: 'probe', rolled_back: true }] });
    const [, failed, rollback] = ReloadProbe.instances;
    expect(failed.config).toMatchObject({ label: 'v2', fail_on_start: true });
    expect(failed.previous).toEqual({ lineage: ['v1'], handled: 4 });
    expect(rollback.config.label).toBe('v1');
    expect(rollback.previous).toEqual({ lineage: ['v1'], handled: 4 });
    expect(agent.host.stateOf('probe')).toBe('running');
  });

  it('calls handOver() also when stop() ran out of shutdown_timeout', async () => {
    const { agent, write, logs } = await startAgent(yaml(entry({ label: 'v1', hang_on_stop: true })));
    await publishErrors(agent, 2);
    write(yaml(entry({ label: 'v2' })));
    expect(await agent.reload('test')).toMatchObject({ status: 'applied', restarted: ['probe'] });
    expect(logs.some((l) => l.code === 'PLUGIN_STOP_TIMEOUT' && l.plugin === 'probe')).toBe(true);
    expect(latest().previous).toEqual({ lineage: ['v1'], handled: 2 });
  });

  it('hands nothing to an instance of another plugin type when `use` changed', async () => {
    const { agent, write } = await startAgent(yaml(entry({ label: 'v1' })));
    await publishErrors(agent, 2);
    write(yaml(entry({ label: 'v2' }, '${probe}/other-type')));
    expect(await agent.reload('test')).toMatchObject({ status: 'applied', restarted: ['probe'] });
    expect(latest().config.label).toBe('v2');
    expect(latest().previous).toBeUndefined();
  });
});

describe('handOver() through the plugin harness', () => {
  const harnesses: PluginHarness[] = [];
  afterEach(async () => {
    for (const h of harnesses.splice(0)) await h.stop();
  });
  const harness = (...args: Parameters<typeof createPluginHarness>): PluginHarness => {
    const h = createPluginHarness(...args);
    harnesses.push(h);
    return h;
  };

  it('restart(config) hands the state over, and the harness instance is the new one', async () => {
    const h = harness(reloadProbe, { config: { label: 'v1' } });
    await h.start();
    await h.bus.publish('system.error', { severity: 'info', message: 'one', component: 'test' });
    await h.bus.idle();
    const first = h.instance;
    expect(await h.restart({ label: 'v2' })).toEqual({ stop: 'stopped', discarded: 0 });
    expect(h.instance).not.toBe(first);
    expect(h.instance).toMatchObject({ config: { label: 'v2' }, previous: { lineage: ['v1'], handled: 1 } });
    expect(h.status.state).toBe('running');
  });

  it('restart() rejects with PLUGIN_START_FAILED when the new instance fails; restarting on the previous config hands it the same state', async () => {
    const h = harness(reloadProbe, { config: { label: 'v1' } });
    await h.start();
    await expect(h.restart({ label: 'v2', fail_on_start: true })).rejects.toMatchObject({ code: 'PLUGIN_START_FAILED' });
    expect(h.status.state).toBe('failed');
    await h.restart({ label: 'v1' });
    expect(h.instance).toMatchObject({ config: { label: 'v1' }, previous: { lineage: ['v1'], handled: 0 } });
  });

  it('gives undefined when the predecessor has no handOver()', async () => {
    @injectable()
    class Stateless {
      constructor(@inject(PREVIOUS_STATE) readonly previous: unknown) {}
    }
    const stateless = definePlugin({ name: 'stateless', version: '1.0.0', configSchema: z.strictObject({ n: z.number().default(1) }), plugin: Stateless });
    const h = harness(stateless);
    await h.start();
    await h.restart({ n: 2 });
    expect(h.instance).toBeInstanceOf(Stateless);
    expect((h.instance as Stateless).previous).toBeUndefined();
  });
});
