import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AgentProcess, REPO, runCli } from './helpers/cli';

/** The third-party fixture as built into dist/ by `npm test`'s pretest. */
const FIXTURE = path.join(REPO, 'dist/test/fixtures/third-party-plugin');

function configFile(lines: string[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'praxis-fail-'));
  const file = path.join(dir, 'agent.config.yaml');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** No JavaScript stack frame (`    at fn (file:line:col)`) anywhere in the text. */
const STACK_FRAME = /^\s+at .+:\d+:\d+\)?$/m;

describe('praxis-agent start: start-up failures print `CODE: message` and exit non-zero', () => {
  it('names the plugin whose start() failed, stops the one already started, and exits 1 without a stack trace on stderr', () => {
    const file = configFile(['http:', '  port: 0', 'plugins:', '  - name: first', `    use: ${FIXTURE}`, '  - name: broken', `    use: ${FIXTURE}`, '    config:', '      fail_on_start: true']);
    const result = runCli(['start', '--config', file]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^praxis-agent: PLUGIN_START_FAILED: plugin "broken" \(.+\) failed to start: recorder refuses to start$/m);
    expect(result.stderr).not.toMatch(STACK_FRAME);
    const lines = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    // Every log line from a plugin carries its name; the failure is logged with its code.
    expect(lines).toContainEqual(expect.objectContaining({ plugin: 'first', msg: 'recorder started' }));
    expect(lines).toContainEqual(expect.objectContaining({ plugin: 'broken', code: 'PLUGIN_START_FAILED', msg: 'plugin failed to start' }));
    expect(lines).toContainEqual(expect.objectContaining({ event: 'agent.error', data: expect.objectContaining({ error_code: 'PLUGIN_START_FAILED' }) }));
    expect(lines.some((l) => l.event === 'agent.started')).toBe(false);
    expect(lines).toContainEqual(expect.objectContaining({ plugin: 'first', msg: 'recorder stopped' }));
    expect(lines.some((l) => l.plugin === 'broken' && l.msg === 'recorder stopped')).toBe(false);
  });

  describe('when the admin port is in use', () => {
    let blocker: Server;
    beforeAll(async () => {
      blocker = createServer();
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    });
    afterAll(async () => {
      await new Promise((resolve) => blocker.close(resolve));
    });

    it('exits 1 with HTTP_LISTEN_FAILED naming host:port', () => {
      const { port } = blocker.address() as { port: number };
      const file = configFile(['http:', `  port: ${port}`]);
      const result = runCli(['start', '--config', file]);
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`^praxis-agent: HTTP_LISTEN_FAILED: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`, 'm'));
      expect(result.stderr).not.toMatch(STACK_FRAME);
    });
  });

  it('refuses a config with an unknown plugin, a duplicate name and a dependency cycle: exit 2, every problem coded, nothing started', () => {
    const file = configFile([
      'http:',
      '  port: 0',
      'plugins:',
      '  - name: ghost',
      '    use: ./no-such-plugin',
      '  - name: twin',
      `    use: ${FIXTURE}`,
      '  - name: twin',
      `    use: ${FIXTURE}`,
      '  - name: loop',
      `    use: ${FIXTURE}`,
      '    depends_on: [loop]',
    ]);
    for (const command of ['start', 'validate']) {
      const result = runCli([command, '--config', file]);
      expect({ command, status: result.status }).toEqual({ command, status: 2 });
      expect(result.stdout).toBe('');
      expect(result.stderr).not.toMatch(STACK_FRAME);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toEqual([
        expect.stringMatching(new RegExp(`^${escape(file)}:5:10 plugins\\[0\\]\\.use: cannot find plugin module "\\./no-such-plugin".*\\(PLUGIN_NOT_FOUND\\)$`)),
        expect.stringMatching(new RegExp(`^${escape(file)}:8:11 plugins\\[2\\]\\.name: plugin name "twin" is already used by plugins\\[1\\].*\\(CONFIG_DUPLICATE_PLUGIN\\)$`)),
        expect.stringMatching(new RegExp(`^${escape(file)}:12:18 plugins\\[3\\]\\.depends_on\\[0\\]: dependency cycle: loop -> loop \\(PLUGIN_DEPENDENCY_CYCLE\\)$`)),
      ]);
    }
  });
});

describe('praxis-agent start: shutdown_timeout', () => {
  it('names the plugin that overran, still stops the others, and exits 3', async () => {
    const file = configFile([
      'agent:',
      '  shutdown_timeout: 200ms',
      'http:',
      '  port: 0',
      'plugins:',
      '  - name: quick',
      `    use: ${FIXTURE}`,
      '  - name: stuck',
      `    use: ${FIXTURE}`,
      '    config:',
      '      stop_delay_ms: 60000',
    ]);
    const agent = new AgentProcess(['--config', file]);
    await agent.ready();
    agent.kill('SIGTERM');
    expect(await agent.exited).toBe(3);
    expect(agent.stderr.join('')).toMatch(/^praxis-agent: PLUGIN_STOP_TIMEOUT: plugin "stuck" did not stop within shutdown_timeout \(200 ms\); exit code 3$/m);
    expect(agent.lines).toContainEqual(expect.objectContaining({ plugin: 'stuck', code: 'PLUGIN_STOP_TIMEOUT' }));
    const stopped = agent.lines.find((l) => l.event === 'agent.stopped');
    expect(stopped?.data).toMatchObject({ exit_code: 3, failed_plugins: ['stuck'] });
    // quick (started first, stopped last) was still stopped, after stuck's deadline.
    expect(agent.lines).toContainEqual(expect.objectContaining({ plugin: 'quick', msg: 'recorder stopped' }));
    expect(agent.lines.some((l) => l.plugin === 'quick' && l.level === 50)).toBe(false);
  });

  it('names a plugin whose stop() throws, still stops the others, and exits 3', async () => {
    const file = configFile(['http:', '  port: 0', 'plugins:', '  - name: quick', `    use: ${FIXTURE}`, '  - name: grumpy', `    use: ${FIXTURE}`, '    config:', '      fail_on_stop: true']);
    const agent = new AgentProcess(['--config', file]);
    await agent.ready();
    agent.kill('SIGTERM');
    expect(await agent.exited).toBe(3);
    expect(agent.stderr.join('')).toMatch(/^praxis-agent: PLUGIN_STOP_FAILED: plugin "grumpy" failed to stop \(see the log\); exit code 3$/m);
    expect(agent.stderr.join('')).not.toMatch(STACK_FRAME);
    expect(agent.lines).toContainEqual(expect.objectContaining({ plugin: 'grumpy', code: 'PLUGIN_STOP_FAILED', msg: 'plugin failed to stop' }));
    expect(agent.lines).toContainEqual(expect.objectContaining({ plugin: 'quick', msg: 'recorder stopped' }));
    expect(agent.lines.find((l) => l.event === 'agent.stopped')?.data).toMatchObject({ exit_code: 3, failed_plugins: ['grumpy'] });
  });

  it('on a signal during start-up, finishes starting, then stops everything in order and exits 0', async () => {
    const file = configFile(['http:', '  port: 0', 'plugins:', '  - name: early', `    use: ${FIXTURE}`, '  - name: slow', `    use: ${FIXTURE}`, '    config:', '      start_delay_ms: 3000']);
    const agent = new AgentProcess(['--config', file]);
    await agent.waitFor((l) => l.plugin === 'early' && l.msg === 'recorder started');
    agent.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    expect(agent.lines).toContainEqual(expect.objectContaining({ signal: 'SIGTERM', msg: 'signal during start-up: stopping as soon as start-up has finished' }));
    const lifecycle = agent.lines.filter((l) => l.plugin === undefined && typeof l.event === 'string').map((l) => l.event);
    expect(lifecycle).toEqual(['agent.starting', 'agent.started', 'agent.stopping', 'system.shutdown', 'agent.stopped']);
    // Both plugins, including the one that finished starting after the signal, were stopped (reverse order).
    expect(agent.lines.filter((l) => l.msg === 'recorder stopped').map((l) => l.plugin)).toEqual(['slow', 'early']);
    expect(agent.stderr.join('')).toBe('');
  });

  it('exits 1 at once on a second signal while plugins are still stopping', async () => {
    const file = configFile(['agent:', '  shutdown_timeout: 10m', 'http:', '  port: 0', 'plugins:', '  - name: stuck', `    use: ${FIXTURE}`, '    config:', '      stop_delay_ms: 600000']);
    const agent = new AgentProcess(['--config', file]);
    await agent.ready();
    agent.kill('SIGTERM');
    await agent.waitFor((l) => l.event === 'system.shutdown');
    agent.kill('SIGINT');
    expect(await agent.exited).toBe(1);
    expect(agent.lines).toContainEqual(expect.objectContaining({ signal: 'SIGINT', msg: 'second signal: exiting without waiting for plugins' }));
    expect(agent.lines.some((l) => l.event === 'agent.stopped')).toBe(false);
  });
});

describe('praxis-agent from the checkout', () => {
  it('runs as `npx praxis-agent`', () => {
    const result = spawnSync('npx', ['--no-install', 'praxis-agent', '--version'], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
    const { version } = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
    // stderr only for the failure message: npm may print its own notices there.
    expect({ status: result.status, stdout: result.stdout.trim(), stderr: result.status === 0 ? '' : result.stderr }).toEqual({ status: 0, stdout: version, stderr: '' });
  });
});

describe('praxis-agent schema --from-config', () => {
  it('adds the event types of the plugins the config declares, third-party ones too', () => {
    const file = configFile(['plugins:', '  - name: backups', `    use: ${FIXTURE}`]);
    const plain = JSON.parse(runCli(['schema']).stdout) as Record<string, unknown>;
    expect(plain).not.toHaveProperty(['backup.completed']);

    const result = runCli(['schema', '--from-config', file]);
    expect(result.status).toBe(0);
    const schemas = JSON.parse(result.stdout) as Record<string, { properties: { data: { properties: Record<string, unknown>; required: string[] } } }>;
    expect(Object.keys(schemas)).toEqual(expect.arrayContaining(['system.error', 'service.heartbeat', 'backup.completed']));
    expect(Object.keys(schemas['backup.completed'].properties.data.properties)).toEqual(['job', 'bytes', 'ok']);

    const one = runCli(['schema', '--from-config', file, '--type', 'backup.completed']);
    expect(one.status).toBe(0);
    expect(JSON.parse(one.stdout)).toEqual(schemas['backup.completed']);
  });

  it('exits 2 with the config problems when the file is invalid', () => {
    const file = configFile(['plugins:', '  - name: ghost', '    use: ./no-such-plugin']);
    const result = runCli(['schema', '--from-config', file]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('PLUGIN_NOT_FOUND');
  });
});

describe('praxis-agent start: a plugin background task that rejects unhandled', () => {
  it('is logged with UNHANDLED_REJECTION and reported as agent.error; the agent keeps serving and exits 0 on SIGTERM', async () => {
    const file = configFile(['http:', '  port: 0', 'plugins:', '  - name: leaky', `    use: ${FIXTURE}`, '    config:', '      label: leaky', '      reject_in_background: true']);
    const agent = new AgentProcess(['--config', file]);
    const url = await agent.ready();
    const line = await agent.waitFor((l) => l.event === 'agent.error');
    expect(line.data).toMatchObject({ error_code: 'UNHANDLED_REJECTION', message: expect.stringContaining('leaky background task failed') });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    agent.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    expect(agent.stderr.join('')).toBe('');
  });
});

describe('praxis-agent start: an exception thrown outside any handler', () => {
  it('is logged with UNCAUGHT_EXCEPTION, every plugin is stopped gracefully, and the agent exits 1', async () => {
    const file = configFile(['http:', '  port: 0', 'plugins:', '  - name: calm', `    use: ${FIXTURE}`, '  - name: bomb', `    use: ${FIXTURE}`, '    config:', '      label: bomb', '      throw_in_timer: true']);
    const agent = new AgentProcess(['--config', file]);
    expect(await agent.exited).toBe(1);
    expect(agent.stderr.join('')).toMatch(/^praxis-agent: UNCAUGHT_EXCEPTION: uncaught exception: bomb timer blew up; stopping the agent$/m);
    expect(agent.lines.find((l) => l.code === 'UNCAUGHT_EXCEPTION')).toMatchObject({ level: 60 });
    expect(agent.lines.filter((l) => l.msg === 'recorder stopped').map((l) => l.plugin).sort()).toEqual(['bomb', 'calm']);
    expect(agent.lines.find((l) => l.event === 'agent.stopped')).toMatchObject({ data: { reason: 'uncaught exception' } });
  });
});

describe('praxis-agent with a mistyped command', () => {
  it('names the unknown command and the real ones (exit 2) instead of passing it to start', () => {
    const result = runCli(['valdate', '--config', 'agent.config.yaml']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^praxis-agent: unknown command "valdate"; commands: start, validate, plugins, schema, emit\b/m);
    expect(result.stderr).not.toContain("arguments for 'start'");
    expect(result.stdout).toBe('');
  });

  it('still runs the default command when the first argument is an option', () => {
    const result = runCli(['--config', '/nonexistent/agent.yaml']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('CONFIG_NOT_FOUND');
  });
});

describe('praxis-agent emit: bad arguments', () => {
  it('exits 2 naming an unreadable --token-file, without a stack trace and without sending anything', () => {
    const result = runCli(['emit', 'system.error', '--url', 'http://127.0.0.1:9', '--data', '{}', '--token-file', '/nonexistent/token']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^praxis-agent emit: --token-file: cannot read \/nonexistent\/token \(no such file\)$/m);
    expect(result.stderr).not.toMatch(STACK_FRAME);
  });

  it('exits 1 naming the URL when no agent listens there', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise((resolve) => closed.close(resolve));
    const result = runCli(['emit', 'system.error', '--url', `http://127.0.0.1:${port}`, '--data', '{"severity":"info","message":"x","component":"y"}']);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^praxis-agent emit: cannot reach praxis-agent at http://127\\.0\\.0\\.1:${port}/events: ECONNREFUSED`, 'm'));
    expect(result.stderr).not.toMatch(STACK_FRAME);
  });
});
