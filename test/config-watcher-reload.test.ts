import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent } from '../src/agent/agent';
import { loadConfig } from '../src/config/loader';
import { silentLogger } from '../src/core/logger';
import type { Event } from '../src/events/types';
import { ReloadProbe } from './fixtures/reload-probe';
import { waitFor } from './helpers/async';
import { AgentProcess } from './helpers/cli';

const PROBE = path.join(__dirname, 'fixtures/reload-probe');

describe('config-watcher reloading the agent it runs in', () => {
  it('restarts the plugin whose entry changed when agent.config.yaml changes, and keeps the old config when it turns invalid', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'praxis-cw-agent-'));
    const file = path.join(dir, 'agent.config.yaml');
    const probe = `./${path.relative(dir, PROBE)}`;
    const yaml = (label: string, extra = '', debounce = 20): string =>
      `http:\n  enabled: false\nplugins:\n  - name: watcher\n    use: config-watcher\n    config:\n      watch_agent_config: true\n      debounce_ms: ${debounce}\n  - name: probe\n    use: ${probe}\n    config:\n      label: ${label}\n${extra}`;
    writeFileSync(file, yaml('v1'));
    ReloadProbe.instances.length = 0;
    const agent = new Agent(loadConfig(file), { logger: silentLogger() });
    const events: Event[] = [];
    agent.bus.subscribe('*', (e) => void events.push(e), { name: 'test-recorder', capacity: 10_000 });
    await agent.start();
    try {
      // An editor's atomic save of the agent's own config.
      writeFileSync(`${file}.tmp`, yaml('v2'));
      renameSync(`${file}.tmp`, file);
      await waitFor(() => ReloadProbe.instances.some((p) => p.config.label === 'v2'), { what: 'the probe restarted with label v2' });
      const changed = events.filter((e): e is Event<'config.changed'> => e.type === 'config.changed');
      expect(changed.map((e) => [e.data.config_path.split('#')[1], e.data.old_value, e.data.new_value])).toEqual([['plugins[1].config.label', 'v1', 'v2']]);
      expect(ReloadProbe.instances.map((p) => [p.config.label, p.stopped])).toEqual([
        ['v1', true],
        ['v2', false],
      ]);
      expect(agent.host.stateOf('watcher')).toBe('running');

      // Valid YAML, invalid config: the agent keeps running on v2 and says why.
      writeFileSync(file, yaml('v3', '    bogus: true\n'));
      const isRejection = (e: Event): e is Event<'system.error'> => e.type === 'system.error' && (e as Event<'system.error'>).data.error_code === 'CONFIG_RELOAD_INVALID';
      await waitFor(() => events.some(isRejection), { what: 'the rejected reload' });
      const rejected = events.find(isRejection);
      expect(rejected?.data.diagnostic_data?.problems).toEqual([expect.stringMatching(/agent\.config\.yaml:\d+:\d+ plugins\[1\]\.bogus: .*CONFIG_UNKNOWN_KEY/)]);
      expect(ReloadProbe.instances).toHaveLength(2);
      expect(agent.loaded.plugins[1].config).toMatchObject({ label: 'v2' });

      // A change to the watcher's own entry restarts the watcher itself (from its own reload request),
      // and the new instance keeps watching.
      writeFileSync(file, yaml('v3', '', 30));
      await waitFor(() => ReloadProbe.instances.some((p) => p.config.label === 'v3'), { what: 'the probe restarted with label v3' });
      await waitFor(() => agent.host.stateOf('watcher') === 'running', { what: 'the watcher running again' });
      writeFileSync(file, yaml('v4', '', 30));
      await waitFor(() => ReloadProbe.instances.some((p) => p.config.label === 'v4'), { what: 'the restarted watcher saw the next change' });
      expect(agent.pluginStatuses().map((p) => [p.name, p.state])).toEqual([
        ['watcher', 'running'],
        ['probe', 'running'],
      ]);
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  });
});

describe('praxis-agent start: SIGHUP (child process)', () => {
  it('reloads the config: the event-logger restarts with its new types and the log says so; an invalid file changes nothing', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'praxis-sighup-'));
    const file = path.join(dir, 'agent.config.yaml');
    const yaml = (types: string): string => `http:\n  port: 0\nlog:\n  format: json\nplugins:\n  - name: events-log\n    use: event-logger\n    config:\n      types: ${types}\n`;
    writeFileSync(file, yaml('["system.error"]'));
    const child = new AgentProcess(['--config', file]);
    const url = await child.ready();
    const emit = async (type: string, data: unknown): Promise<string> => {
      const res = await fetch(`${url}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type, data }) });
      expect(res.status).toBe(202);
      return ((await res.json()) as { accepted: { event_id: string }[] }).accepted[0].event_id;
    };
    const config = { config_path: 'app.yaml#a', old_value: 1, new_value: 2 };
    const before = await emit('config.changed', config);

    writeFileSync(file, yaml('["config.changed"]'));
    child.kill('SIGHUP');
    const reloaded = await child.waitFor((l) => String(l.msg).startsWith('config reloaded (SIGHUP)'));
    expect(reloaded).toMatchObject({ restarted: ['events-log'], msg: 'config reloaded (SIGHUP): restarted events-log' });
    const after = await emit('config.changed', config);
    await child.waitFor((l) => l.plugin === 'events-log' && l.event_id === after);
    expect(child.lines.some((l) => l.event_id === before && l.plugin === 'events-log')).toBe(false);

    writeFileSync(file, 'plugins: [\n');
    child.kill('SIGHUP');
    const rejected = await child.waitFor((l) => String(l.msg).startsWith('config reload (SIGHUP) rejected'));
    expect(rejected.problems).toEqual([expect.stringMatching(/agent\.config\.yaml:\d+:\d+ .*CONFIG_YAML_SYNTAX/)]);
    // Still running the previous config.
    const still = await emit('config.changed', config);
    await child.waitFor((l) => l.plugin === 'events-log' && l.event_id === still);

    child.kill('SIGTERM');
    expect(await child.exited).toBe(0);
  });
});
