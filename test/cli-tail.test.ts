import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { waitFor } from './helpers/async';
import { AgentProcess, BIN, freePort } from './helpers/cli';

/** `praxis-agent tail` as a child process against a real agent process. */

/** Each test starts agents and tails one after another: on a loaded machine a start alone takes seconds. This bounds a failure; no test asserts on time. */
const PROCESSES_TIMEOUT_MS = 60_000;

interface Tailed {
  offset: number;
  event: { type: string; data: { message?: string }; metadata: { source?: string } };
}

function workDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'praxis-tail-'));
}

function writeConfig(dir: string, lines: string[]): string {
  const file = path.join(dir, 'agent.config.yaml');
  writeFileSync(file, [...lines, ''].join('\n'));
  return file;
}

/** An agent with the store and a broadcaster (on port 0 unless given: the log line names its URL); the data dir stays across restarts. */
function broadcasterConfig(dir: string, broadcaster: { port?: string; authToken?: string; maxBufferedBytes?: number } = {}): string {
  return writeConfig(dir, [
    'http:',
    '  port: 0',
    'store:',
    '  enabled: true',
    '  data_dir: ./data',
    '  commit_interval: 50ms',
    'plugins:',
    '  - name: events-ws',
    '    use: websocket-broadcaster',
    '    config:',
    `      port: ${broadcaster.port ?? 0}`,
    ...(broadcaster.authToken ? [`      auth_token: ${broadcaster.authToken}`] : []),
    ...(broadcaster.maxBufferedBytes ? [`      max_buffered_bytes: ${broadcaster.maxBufferedBytes}`] : []),
  ]);
}

async function startAgent(config: string, env: NodeJS.ProcessEnv = {}): Promise<{ agent: AgentProcess; admin: string; ws: string }> {
  const agent = new AgentProcess(['--config', config], env);
  const admin = await agent.ready();
  const line = await agent.waitFor((l) => l.plugin === 'events-ws' && typeof l.url === 'string');
  return { agent, admin, ws: line.url as string };
}

/** `praxis-agent tail ARGS` (its --json lines parsed; other lines as {raw}). */
function tail(args: string[], env: NodeJS.ProcessEnv = {}): AgentProcess {
  return new AgentProcess(args, env, [process.execPath, BIN, 'tail']);
}

async function emitError(admin: string, message: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`${admin}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ type: 'system.error', data: { severity: 'error', message, component: 'tail-test' }, metadata: { source: 'tail-test' } }),
  });
  expect(res.status).toBe(202);
  return res.status;
}

const isMessage = (message: string) => (line: Record<string, unknown>): boolean => (line as unknown as Tailed).event?.data?.message === message;

/**
 * Without --since a tail starts at the head when it has subscribed, which it does not announce:
 * post probes until each follower has printed one.
 */
async function probe(admin: string, followers: AgentProcess[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await emitError(admin, 'probe');
    try {
      await Promise.all(followers.map((f) => f.waitFor(isMessage('probe'), 250)));
      return;
    } catch (error) {
      if (attempt >= 60) throw error;
    }
  }
}

const events = (process: AgentProcess): Tailed[] => process.lines.filter((l) => typeof l.offset === 'number') as unknown as Tailed[];
/** The messages of the system.error events printed, probes left out. */
const messages = (process: AgentProcess): (string | undefined)[] =>
  events(process)
    .filter((e) => e.event.type === 'system.error' && e.event.data.message !== 'probe')
    .map((e) => e.event.data.message);

async function stop(process: AgentProcess): Promise<number | null> {
  process.kill('SIGTERM');
  return process.exited;
}

describe('praxis-agent tail over the WebSocket broadcaster', () => {
  it('prints posted events in order as JSON lines, only the --types asked for, and exits 0 on SIGTERM', async () => {
    const { agent, admin, ws } = await startAgent(broadcasterConfig(workDir()));
    const all = tail(['--ws-url', ws, '--json']);
    const errorsOnly = tail(['--ws-url', ws, '--json', '--types', 'system.*']);
    await probe(admin, [all, errorsOnly]);
    for (const message of ['one', 'two', 'three']) await emitError(admin, message);
    await fetch(`${admin}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'service.status', data: { service_name: 'db', status: 'degraded' } }) });
    await emitError(admin, 'last');
    await all.waitFor(isMessage('last'));
    await errorsOnly.waitFor(isMessage('last'));

    expect(messages(errorsOnly)).toEqual(['one', 'two', 'three', 'last']);
    expect(events(errorsOnly).every((e) => e.event.type === 'system.error' && e.event.metadata.source === 'tail-test')).toBe(true);
    expect(events(all).filter((e) => e.event.data.message !== 'probe').map((e) => e.event.type)).toEqual(['system.error', 'system.error', 'system.error', 'service.status', 'system.error']);
    const offsets = events(all).map((e) => e.offset);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(new Set(offsets).size).toBe(offsets.length);
    expect(all.lines.filter((l) => l.raw !== undefined)).toEqual([]);

    expect(await stop(all)).toBe(0);
    expect(await stop(errorsOnly)).toBe(0);
    expect(all.stderr.join('')).toBe('');
    await stop(agent);
  }, PROCESSES_TIMEOUT_MS);

  it('--since replays the stored events after that offset, then goes on live; human lines carry the severity as text, coloured on a terminal only', async () => {
    const { agent, admin, ws } = await startAgent(broadcasterConfig(workDir()));
    const first = tail(['--ws-url', ws, '--json', '--types', 'system.error']);
    await probe(admin, [first]);
    for (const message of ['a', 'b', 'c']) await emitError(admin, message);
    await first.waitFor(isMessage('c'));
    const a = events(first).find((e) => e.event.data.message === 'a') as Tailed;
    await stop(first);

    const replay = tail(['--ws-url', ws, '--json', '--types', 'system.error', '--since', String(a.offset)]);
    const human = tail(['--ws-url', ws, '--types', 'system.error', '--since', String(a.offset)]);
    // On a terminal (script(1) gives tail a pseudo-terminal as stdout), NO_COLOR unset.
    const quote = (arg: string): string => `'${arg.replace(/'/g, "'\\''")}'`;
    const terminal = new AgentProcess([], { NO_COLOR: '' }, ['script', '-qfec', [process.execPath, BIN, 'tail', '--ws-url', ws, '--types', 'system.error', '--since', String(a.offset)].map(quote).join(' '), '/dev/null']);
    await replay.waitFor(isMessage('c'));
    await emitError(admin, 'live');
    await replay.waitFor(isMessage('live'));
    await human.waitFor((l) => typeof l.raw === 'string' && l.raw.endsWith(' live'));
    const coloured = String((await terminal.waitFor((l) => typeof l.raw === 'string' && l.raw.includes(' live'))).raw);
    expect(coloured).toContain('\u001b[31m');
    // eslint-disable-next-line no-control-regex
    expect(coloured.replace(/\u001b\[[\d;]*m/g, '').trimEnd()).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z ERROR +system\.error +tail-test +live$/);
    expect(messages(replay)).toEqual(['b', 'c', 'live']);

    const lines = human.lines.map((l) => l.raw as string);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z ERROR +system\.error +tail-test +b$/);
    expect(lines.join('\n')).not.toContain('\u001b');
    expect(await stop(replay)).toBe(0);
    expect(await stop(human)).toBe(0);
    await stop(terminal);
    await stop(agent);
  }, PROCESSES_TIMEOUT_MS);

  it('survives agent restarts without losing or repeating an event; a gap line only when the agent says recovered: false (after a crash)', async () => {
    const config = broadcasterConfig(workDir());
    let running = await startAgent(config);
    const types = 'system.error,agent.*';
    const follower = tail(['--ws-url', running.ws, '--json', '--types', types]);
    await probe(running.admin, [follower]);
    await emitError(running.admin, 'before');
    await follower.waitFor(isMessage('before'));

    // A clean restart on the same port: what was posted while tail was away comes through the replay.
    broadcasterConfig(path.dirname(config), { port: new URL(running.ws).port });
    expect(await stop(running.agent)).toBe(0);
    running = await startAgent(config);
    await emitError(running.admin, 'while away');
    await waitFor(() => follower.stderr.join('').includes('reconnected'), { what: 'tail reconnected', timeoutMs: 20_000 });
    await emitError(running.admin, 'after');
    await follower.waitFor(isMessage('after'));
    expect(messages(follower)).toEqual(['before', 'while away', 'after']);
    expect(follower.lines.filter((l) => l.gap !== undefined)).toEqual([]);
    // Exactly the stored stream: agent.stopped and agent.starting are published while the
    // broadcaster is down, so only the replay brings them.
    const first = events(follower)[0].offset;
    const stored = (await (await fetch(`${running.admin}/events?since=${first - 1}&types=${types}&limit=1000`)).json()) as { events: Tailed[] };
    expect(events(follower).map((e) => e.offset)).toEqual(stored.events.map((e) => e.offset));
    expect(events(follower).map((e) => e.event.type)).toEqual(expect.arrayContaining(['agent.stopping', 'agent.stopped', 'agent.starting', 'agent.started']));

    // Killed without a clean shutdown: the store's epoch changes, the agent answers recovered: false.
    running.agent.kill('SIGKILL');
    await running.agent.exited;
    const reconnects = follower.stderr.join('').split('reconnected').length;
    running = await startAgent(config);
    await waitFor(() => follower.stderr.join('').split('reconnected').length > reconnects, { what: 'tail reconnected after the crash', timeoutMs: 20_000 });
    await emitError(running.admin, 'after crash');
    await follower.waitFor(isMessage('after crash'));
    const gaps = follower.lines.filter((l) => l.gap !== undefined) as unknown as { gap: { after_offset: number; reason: string } }[];
    expect(gaps).toHaveLength(1);
    expect(gaps[0].gap.reason).toMatch(/epoch/);
    expect(messages(follower)).toEqual(['before', 'while away', 'after', 'after crash']);
    expect(await stop(follower)).toBe(0);
    await stop(running.agent);
  }, 2 * PROCESSES_TIMEOUT_MS);

  it('holds back for a reader slower than the stream: cut off as a slow consumer, it resumes and loses nothing', async () => {
    const { agent, admin, ws } = await startAgent(broadcasterConfig(workDir(), { maxBufferedBytes: 16_384 }));
    const child = spawn(process.execPath, [BIN, 'tail', '--ws-url', ws, '--json', '--types', 'system.error'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const exited = new Promise((resolve) => child.on('exit', resolve));
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const printed: Tailed[] = [];
      readline.createInterface({ input: child.stdout }).on('line', (line) => printed.push(JSON.parse(line) as Tailed));
      // Live, not replaying (a replay is paced by the agent and never cut off): a probe came through.
      for (let attempt = 0; !printed.some((e) => e.event.data.message === 'probe'); attempt++) {
        expect(attempt).toBeLessThan(100);
        await emitError(admin, 'probe');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      // Nobody reads tail's stdout now: the pipe fills, then tail's own buffer, then the socket.
      child.stdout.pause();
      const padding = 'x'.repeat(2000);
      // Until the agent has cut tail off (a socket that took nothing for an eighth of max_lag while
      // owed more than the cap), at least 4,000 events.
      const cut = (): boolean => agent.lines.some((l) => String(l.msg).includes('too slow'));
      let count = 0;
      for (let batch = 0; count < 4000 || (!cut() && batch < 400); batch++) {
        const body = Array.from({ length: 100 }, (_, i) => ({ type: 'system.error', data: { severity: 'info', message: `m${batch * 100 + i} ${padding}`, component: 'flood' } }));
        const res = await fetch(`${admin}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        expect(res.status).toBe(202);
        count += 100;
      }
      child.stdout.resume();
      const flood = (): Tailed[] => printed.filter((e) => e.event.data.message?.startsWith('m'));
      await waitFor(() => flood().length >= count, { what: `all ${count} events printed`, timeoutMs: 60_000 });
      expect(flood().map((e) => e.event.data.message?.split(' ')[0])).toEqual(Array.from({ length: count }, (_, i) => `m${i}`));
      const offsets = printed.map((e) => e.offset);
      expect(offsets).toEqual([...new Set(offsets)].sort((a, b) => a - b));
      // Without holding back, tail would have read everything into its memory and never been cut off.
      expect(stderr).toMatch(/1013 Slow consumer.*reconnecting/);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
    await stop(agent);
  }, 2 * PROCESSES_TIMEOUT_MS);

  it('a refused token is a clear error and exit 1, without retrying', async () => {
    const dir = workDir();
    const { agent, ws } = await startAgent(broadcasterConfig(dir, { authToken: '${TAIL_TEST_WS_TOKEN}' }), { TAIL_TEST_WS_TOKEN: 'right-token' });
    const none = tail(['--ws-url', ws], { PRAXIS_TOKEN: '' });
    expect(await none.exited).toBe(1);
    expect(none.stderr.join('')).toMatch(/refused the connection \(HTTP 401\): the broadcaster requires a token; give it with --token-file/);
    const tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, 'wrong-token\n');
    const wrong = tail(['--ws-url', ws, '--token-file', tokenFile]);
    expect(await wrong.exited).toBe(1);
    expect(wrong.stderr.join('')).toMatch(/HTTP 401\): the token is not the broadcaster's auth_token/);
    expect(wrong.stderr.join('')).not.toContain('wrong-token');
    expect(wrong.lines).toEqual([]);

    writeFileSync(tokenFile, 'right-token\n');
    const right = tail(['--ws-url', ws, '--token-file', tokenFile, '--types', 'nope.unknown']);
    expect(await right.exited).toBe(2);
    expect(right.stderr.join('')).toContain('INVALID_EVENT_TYPES');
    await stop(agent);
  }, PROCESSES_TIMEOUT_MS);

  it('finds the broadcaster and its token in the config file', async () => {
    const dir = workDir();
    const free = await startAgent(broadcasterConfig(dir));
    const port = new URL(free.ws).port;
    await stop(free.agent);
    const config = broadcasterConfig(dir, { port, authToken: '${TAIL_TEST_WS_TOKEN}' });
    const env = { TAIL_TEST_WS_TOKEN: 'config-token' };
    const { agent, admin } = await startAgent(config, env);
    const follower = tail(['--config', config, '--json'], { ...env, PRAXIS_TOKEN: '' });
    await probe(admin, [follower]);
    expect(await stop(follower)).toBe(0);
    expect(follower.stderr.join('')).toBe('');
    await stop(agent);
  }, PROCESSES_TIMEOUT_MS);
});

describe('praxis-agent tail without a broadcaster: polling GET /events', () => {
  it('streams the stored events, --since and --types included', async () => {
    const dir = workDir();
    const config = writeConfig(dir, ['http:', '  port: 0', 'store:', '  enabled: true', '  data_dir: ./data', '  commit_interval: 50ms']);
    const agent = new AgentProcess(['--config', config]);
    const admin = await agent.ready();
    for (const message of ['p1', 'p2']) await emitError(admin, message);
    const follower = tail(['--config', config, '--url', admin, '--json', '--since', '0', '--types', 'system.error']);
    await follower.waitFor(isMessage('p2'));
    await emitError(admin, 'p3');
    await follower.waitFor(isMessage('p3'));
    expect(messages(follower)).toEqual(['p1', 'p2', 'p3']);
    expect(follower.stderr.join('')).toContain('declares no websocket-broadcaster plugin: polling GET');
    expect(await stop(follower)).toBe(0);
    await stop(agent);
  }, PROCESSES_TIMEOUT_MS);

  it('keeps polling across an agent restart, without losing or repeating an event', async () => {
    const dir = workDir();
    const config = writeConfig(dir, ['http:', `  port: ${await freePort()}`, 'store:', '  enabled: true', '  data_dir: ./data', '  commit_interval: 50ms']);
    let agent = new AgentProcess(['--config', config]);
    const admin = await agent.ready();
    await emitError(admin, 'r1');
    const follower = tail(['--config', config, '--json', '--since', '0', '--types', 'system.error']);
    await follower.waitFor(isMessage('r1'));
    expect(await stop(agent)).toBe(0);
    agent = new AgentProcess(['--config', config]);
    await agent.ready();
    await emitError(admin, 'r2');
    // A poll may or may not have fallen into the restart: either way the next ones carry on from r1.
    await follower.waitFor(isMessage('r2'), 20_000);
    await emitError(admin, 'r3');
    await follower.waitFor(isMessage('r3'));
    expect(messages(follower)).toEqual(['r1', 'r2', 'r3']);
    expect(follower.lines.filter((l) => l.gap !== undefined)).toEqual([]);
    expect(await stop(follower)).toBe(0);
    await stop(agent);
  }, PROCESSES_TIMEOUT_MS);

  it('names what to configure when the agent has neither a broadcaster nor the store', async () => {
    const config = writeConfig(workDir(), ['http:', '  port: 0']);
    const agent = new AgentProcess(['--config', config]);
    const admin = await agent.ready();
    const follower = tail(['--config', config, '--url', admin]);
    expect(await follower.exited).toBe(1);
    expect(follower.stderr.join('')).toMatch(/has no GET \/events: the agent runs without its event store\. Enable store\.enabled, or the websocket-broadcaster plugin/);
    await stop(agent);
  }, PROCESSES_TIMEOUT_MS);
});
