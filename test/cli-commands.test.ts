import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { AgentProcess, REPO, runCli, shippedConfigEnv } from './helpers/cli';

function configFile(text: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'praxis-cli-'));
  const file = path.join(dir, 'agent.config.yaml');
  writeFileSync(file, text);
  return file;
}

describe('praxis-agent validate', () => {
  it('exits 0 on the shipped config and on every example under config/', () => {
    const examples = readdirSync(path.join(REPO, 'config')).filter((f) => f.endsWith('.yaml')).map((f) => `config/${f}`);
    expect(examples).toContain('config/agent.full.yaml');
    for (const file of ['agent.config.yaml', ...examples]) {
      const result = runCli(['validate', '--config', file]);
      expect({ file, status: result.status, stderr: result.stderr }).toEqual({ file, status: 0, stderr: '' });
      expect(result.stdout).toContain('valid');
    }
  });

  it('reports bad indentation with file, line and column, and no stack trace', () => {
    const file = configFile('http:\n  port: 9780\n   host: 127.0.0.1\n');
    const result = runCli(['validate', '--config', file]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:\\d+ `, 'm'));
    expect(result.stderr).toContain('CONFIG_YAML_SYNTAX');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('lists every problem at once: wrong type, unknown key, unknown plugin', () => {
    const file = configFile(['http:', '  port: "eighty"', '  hots: 127.0.0.1', 'plugins:', '  - name: ghost', '    use: ./no-such-plugin', ''].join('\n'));
    const result = runCli(['validate', '--config', file]);
    const lines = result.stderr.trim().split('\n');
    expect(result.status).toBe(2);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^${escape(file)}:2:9 http\\.port: .*\\(CONFIG_INVALID_VALUE\\)$`)),
        expect.stringMatching(new RegExp(`^${escape(file)}:3:3 http\\.hots: .*\\(CONFIG_UNKNOWN_KEY\\)$`)),
        expect.stringMatching(new RegExp(`^${escape(file)}:6:10 plugins\\[0\\]\\.use: .*\\(PLUGIN_NOT_FOUND\\)$`)),
      ]),
    );
  });

  it('names an unset environment variable at its position', () => {
    const file = configFile('agent:\n  name: ${PRAXIS_TEST_NEVER_SET}\n');
    const env = { ...process.env };
    delete env.PRAXIS_TEST_NEVER_SET;
    const result = runCli(['validate', '--config', file], env);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^${escape(file)}:2:9 agent\\.name: .*PRAXIS_TEST_NEVER_SET.*\\(CONFIG_ENV_UNSET\\)$`, 'm'));
  });

  it('exits 2 when the file does not exist', () => {
    const result = runCli(['validate', '--config', '/nonexistent/agent.yaml']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('CONFIG_NOT_FOUND');
  });
});

describe('praxis-agent plugins', () => {
  it('lists declared plugins, their origin and whether they load', () => {
    const fixture = path.join(REPO, 'dist/test/fixtures/third-party-plugin');
    const file = configFile(
      ['plugins:', '  - name: events-log', '    use: event-logger', `  - name: recorder`, `    use: ${fixture}`, '  - name: ghost', '    use: ./no-such-plugin', ''].join('\n'),
    );
    const result = runCli(['plugins', '--config', file, '--json']);
    const rows = JSON.parse(result.stdout) as { name: string; origin?: string; loads: boolean; version?: string }[];
    expect(rows.map((r) => [r.name, r.origin, r.loads, r.version])).toEqual([
      ['events-log', 'builtin', true, '0.1.0'],
      ['recorder', 'path', true, '1.0.0'],
      ['ghost', 'path', false, undefined],
    ]);
    expect(result.status).toBe(2);
    const table = runCli(['plugins', '--config', 'agent.config.yaml']);
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/^events-log\s+event-logger\s+builtin\s+0\.1\.0\s+yes\s+yes$/m);
  });
});

describe('praxis-agent: plugin modules loaded only for their own commands', () => {
  /** Runs the CLI in a child node and reports whether the audit-log plugin module was loaded. */
  function loadsAuditLog(args: string[]): boolean {
    const script = `require('./dist/src/cli/main.js').main(['node', 'praxis-agent', ...${JSON.stringify(args)}], { out() {}, err() {} })
      .then(() => process.stdout.write(String(Object.keys(require.cache).some((f) => f.includes('plugins/audit-log')))));`;
    return spawnSync(process.execPath, ['-e', script], { cwd: REPO, encoding: 'utf8' }).stdout === 'true';
  }

  it('does not load built-in plugins for start (also when it begins with an option) or core commands', () => {
    expect(loadsAuditLog(['--config', '/nonexistent/agent.yaml'])).toBe(false);
    expect(loadsAuditLog(['validate', '--config', '/nonexistent/agent.yaml'])).toBe(false);
    expect(loadsAuditLog(['audit', 'tail', '/nonexistent/audit.log'])).toBe(true);
    expect(loadsAuditLog(['--help'])).toBe(true);
  });

  it('does not load the plugins a config declares to find the agent for emit', () => {
    // Nothing listens on port 1: emit fails to connect, after reading the address from the config.
    const file = configFile(['http:', '  port: 1', 'plugins:', '  - name: audit', '    use: audit-log', `    config: { path: ${JSON.stringify(path.join(tmpdir(), 'praxis-emit-audit.log'))} }`, ''].join('\n'));
    expect(loadsAuditLog(['emit', 'system.error', '--data', '{}', '--config', file])).toBe(false);
  });
});

describe('praxis-agent --help', () => {
  it('lists the core commands and the commands built-in plugins contribute', () => {
    const result = runCli(['--help']);
    expect(result.status).toBe(0);
    for (const command of ['start', 'validate', 'plugins', 'schema', 'emit', 'audit']) expect(result.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
  });
});

describe('praxis-agent schema', () => {
  it('prints the JSON Schema of every event type', () => {
    const result = runCli(['schema']);
    expect(result.status).toBe(0);
    const schemas = JSON.parse(result.stdout) as Record<string, { properties: { data: { properties: Record<string, unknown> } } }>;
    expect(Object.keys(schemas)).toEqual(expect.arrayContaining(['system.error', 'config.changed', 'service.status', 'system.health', 'agent.started']));
    expect(Object.keys(schemas['system.error'].properties.data.properties)).toEqual(['severity', 'message', 'error_code', 'component', 'diagnostic_data', 'stack_trace']);
  });

  it('names the known event types when --type names an unknown one', () => {
    const result = runCli(['schema', '--type', 'nope']);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('EVENT_UNKNOWN_TYPE: unknown event type "nope"; known types: ');
    for (const type of ['system.error', 'config.changed', 'service.heartbeat']) expect(result.stderr).toContain(type);
    expect(result.stderr).toContain('--from-config');
  });

  it('prints the config JSON Schema, identical to the committed copy', () => {
    const result = runCli(['schema', '--config']);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(JSON.parse(readFileSync(path.join(REPO, 'config/agent.config.schema.json'), 'utf8')));
  });
});

describe('praxis-agent emit', () => {
  let agent: AgentProcess | undefined;
  afterAll(async () => {
    agent?.kill('SIGTERM');
    await agent?.exited;
  });

  it('publishes to a running agent and reports field errors', async () => {
    agent = new AgentProcess(['--config', 'agent.config.yaml'], await shippedConfigEnv());
    const url = await agent.ready();
    const ok = runCli(['emit', 'system.error', '--url', url, '--data', '{"severity":"warning","message":"slow disk","component":"db"}', '--tag', 'cron', '--source', 'nightly-job']);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const eventId = ok.stdout.trim();
    expect(eventId).toMatch(/^[0-9a-f-]{36}$/);
    const logged = await agent.waitFor((l) => l.plugin === 'events-log' && l.event_id === eventId);
    expect(logged.source).toBe('nightly-job');

    const bad = runCli(['emit', 'system.error', '--url', url, '--data', '{"severity":"fatal","message":"x","component":"db"}']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('data.severity');

    const notJson = runCli(['emit', 'system.error', '--url', url, '--data', '{oops']);
    expect(notJson.status).toBe(2);
  });
});

describe('praxis-agent emit, finding the agent from its config file', () => {
  it('reaches an agent bound to an IPv6 address (brackets in the URL)', async () => {
    const free = createServer();
    await new Promise<void>((resolve) => free.listen(0, '::1', resolve));
    const { port } = free.address() as AddressInfo;
    await new Promise((resolve) => free.close(resolve));
    const file = configFile(['http:', '  host: "::1"', `  port: ${port}`, ''].join('\n'));
    const agent = new AgentProcess(['--config', file]);
    expect(await agent.ready()).toBe(`http://[::1]:${port}`);
    const sent = runCli(['emit', 'system.error', '--config', file, '--data', '{"severity":"warning","message":"over IPv6","component":"net"}']);
    expect({ status: sent.status, stderr: sent.stderr }).toEqual({ status: 0, stderr: '' });
    expect(sent.stdout.trim()).toMatch(/^[0-9a-f-]{36}$/);
    agent.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
