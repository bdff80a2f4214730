import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { AgentControl, redactValue, SystemClock, type Event, type ReloadResult } from 'praxis-agent';
import { createPluginHarness, FakeClock, runPluginConformance, waitFor, type PluginHarness } from 'praxis-agent/testing';
import { diffDocuments, formatKeyPath } from './diff';
import { parseText } from './formats';
import configWatcher from './index';

const conformanceDir = mkdtempSync(path.join(tmpdir(), 'config-watcher-conf-'));
writeFileSync(path.join(conformanceDir, 'app.yaml'), 'a: 1\n');
runPluginConformance(configWatcher, { config: { files: [path.join(conformanceDir, 'app.yaml')] } });

/** Lets fs.watch deliver what it has (real time), for asserting that nothing more happens. */
const quiet = (ms = 150): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'config-watcher-'));
}

const changes = (h: PluginHarness): Event<'config.changed'>[] => h.eventsOf('config.changed');
const errors = (h: PluginHarness): Event<'system.error'>[] => h.eventsOf('system.error');

let running: PluginHarness[] = [];

function harness(config: Record<string, unknown>, options: { clock?: FakeClock; agentControl?: AgentControl } = {}): PluginHarness {
  const h = createPluginHarness(configWatcher, { config: { debounce_ms: 25, changed_by_env: 'CONFIG_WATCHER_TEST_USER', ...config }, clock: options.clock ?? new SystemClock(), ...(options.agentControl && { agentControl: options.agentControl }) });
  running.push(h);
  return h;
}

afterEach(async () => {
  await Promise.all(running.map((h) => h.stop()));
  running = [];
  delete process.env.CONFIG_WATCHER_TEST_USER;
});

describe('config-watcher', () => {
  it('publishes one config.changed per changed key, with dot paths, redacted secrets, who and why, as one change set', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.yaml');
    writeFileSync(file, 'server:\n  port: 80\n  host: a.example\ndb:\n  password: hunter2\nlist: [1, 2]\n');
    process.env.CONFIG_WATCHER_TEST_USER = 'alice';
    const h = harness({ files: [file] });
    await h.start();
    writeFileSync(file, '# change-reason: move to 8080\nserver:\n  port: 8080\n  timeout: 30\ndb:\n  password: correct-horse\nlist: [1, 3]\n');
    await waitFor(() => changes(h).length >= 5, { what: 'five config.changed events' });
    await quiet();
    const got = changes(h);
    expect(got.map((e) => [e.data.config_path, e.data.old_value, e.data.new_value])).toEqual([
      [`${file}#server.port`, 80, 8080],
      [`${file}#server.host`, 'a.example', null],
      [`${file}#server.timeout`, null, 30],
      [`${file}#db.password`, redactValue('hunter2'), redactValue('correct-horse')],
      [`${file}#list[1]`, 2, 3],
    ]);
    expect(JSON.stringify(got)).not.toMatch(/hunter2|correct-horse/);
    expect(got.every((e) => e.data.changed_by === 'alice' && e.data.change_reason === 'move to 8080')).toBe(true);
    expect(new Set(got.map((e) => e.metadata.correlation_id)).size).toBe(1);
    expect(got[0].metadata.source).toBe('config-watcher');
    expect(h.instance.stats?.()).toMatchObject({ files_watched: 1, change_sets: 1, changes_published: 5 });
  });

  it('survives atomic replace (write temp + rename) again and again, and ignores a rewrite with the same content', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.json');
    writeFileSync(file, JSON.stringify({ level: 'info' }));
    const h = harness({ files: [file], changed_by: 'deployer', change_reason: 'release 42' });
    await h.start();
    for (const level of ['debug', 'warn', 'error']) {
      const temp = path.join(dir, `.app.json.${level}.tmp`);
      writeFileSync(temp, JSON.stringify({ level }));
      renameSync(temp, file);
      await waitFor(() => changes(h).some((e) => e.data.new_value === level), { what: `level ${level}` });
    }
    writeFileSync(file, JSON.stringify({ level: 'error' }));
    await quiet();
    expect(changes(h).map((e) => [e.data.config_path, e.data.old_value, e.data.new_value, e.data.changed_by, e.data.change_reason])).toEqual([
      [`${file}#level`, 'info', 'debug', 'deployer', 'release 42'],
      [`${file}#level`, 'debug', 'warn', 'deployer', 'release 42'],
      [`${file}#level`, 'warn', 'error', 'deployer', 'release 42'],
    ]);
  });

  it('reports deletion as removed keys and re-creation as added keys, naming the file owner', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'settings.yml');
    writeFileSync(file, 'a: 1\nb:\n  c: 2\n');
    const h = harness({ files: [file] });
    await h.start();
    unlinkSync(file);
    await waitFor(() => changes(h).length >= 2, { what: 'removals' });
    expect(changes(h).map((e) => [e.data.config_path, e.data.old_value, e.data.new_value])).toEqual([
      [`${file}#a`, 1, null],
      [`${file}#b.c`, 2, null],
    ]);
    expect(changes(h)[0].data).not.toHaveProperty('changed_by'); // gone: no owner, nothing configured
    writeFileSync(file, 'a: 5\n');
    await waitFor(() => changes(h).length >= 3, { what: 're-creation' });
    expect(changes(h)[2].data).toMatchObject({ config_path: `${file}#a`, old_value: null, new_value: 5, changed_by: userInfo().username });
  });

  it('reports an unparsable file once with file:line:col, keeps the last good version as baseline, and diffs against it when fixed', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.yaml');
    writeFileSync(file, 'pool: 5\nname: api\n');
    const h = harness({ files: [file] });
    await h.start();
    writeFileSync(file, 'pool: 6\nname: a: b\n');
    await waitFor(() => errors(h).length >= 1, { what: 'a parse error' });
    writeFileSync(file, 'pool: 6\nname: a: b\n'); // same broken content: no second report
    await quiet();
    expect(errors(h)).toHaveLength(1);
    expect(errors(h)[0].data).toMatchObject({
      severity: 'warning',
      error_code: 'CONFIG_WATCH_PARSE',
      component: 'config-watcher',
      message: expect.stringMatching(new RegExp(`^${escape(file)}:2:7: cannot parse yaml: Nested mappings`)),
      diagnostic_data: { file, line: 2 },
    });
    expect(changes(h)).toEqual([]);
    writeFileSync(file, 'pool: 7\nname: api\n');
    await waitFor(() => changes(h).length >= 1, { what: 'the fixed file diffed' });
    await quiet();
    expect(changes(h).map((e) => [e.data.config_path, e.data.old_value, e.data.new_value])).toEqual([[`${file}#pool`, 5, 7]]);
  });

  it('reads .env files, redacts secret keys there, and takes the reason from a JSON _change_reason key', async () => {
    const dir = tempDir();
    const env = path.join(dir, '.env.production');
    const json = path.join(dir, 'flags.json');
    writeFileSync(env, '# comment\nexport API_KEY=abc\nLOG_LEVEL=info\nGREETING="hi there"\n');
    writeFileSync(json, '{"beta": false}');
    const h = harness({ files: [env, { path: json, changed_by: 'ops' }] });
    await h.start();
    writeFileSync(env, 'export API_KEY=def\nLOG_LEVEL=info # unchanged\nGREETING=\'hi  there\'\n');
    writeFileSync(json, '{"_change_reason": "launch beta", "beta": true}');
    await waitFor(() => changes(h).length >= 3, { what: 'env and json changes' });
    await quiet();
    const byPath = Object.fromEntries(changes(h).map((e) => [e.data.config_path, e.data]));
    expect(byPath[`${env}#API_KEY`]).toMatchObject({ old_value: redactValue('abc'), new_value: redactValue('def') });
    expect(byPath[`${env}#GREETING`]).toMatchObject({ old_value: 'hi there', new_value: 'hi  there' });
    expect(byPath[`${json}#beta`]).toMatchObject({ old_value: false, new_value: true, change_reason: 'launch beta', changed_by: 'ops' });
    expect(Object.keys(byPath)).toHaveLength(3);

    writeFileSync(json, '{"beta": true,\n  "x": }');
    await waitFor(() => errors(h).length >= 1, { what: 'json parse error' });
    expect(errors(h)[0].data.message).toMatch(new RegExp(`^${escape(json)}:2:\\d+: cannot parse json`));
    writeFileSync(env, 'NOT A LINE\n');
    await waitFor(() => errors(h).length >= 2, { what: 'env parse error' });
    expect(errors(h)[1].data.message).toMatch(new RegExp(`^${escape(env)}:1:1: cannot parse env: expected KEY=value`));
  });

  it('redacts credentials inside URL values of a real .env file (DB_URL=postgres://u:pw@h/db)', async () => {
    const dir = tempDir();
    const env = path.join(dir, '.env');
    writeFileSync(env, 'DB_URL=postgres://app:old-pw@db.internal:5432/app\nCACHE_URL=redis://cache:6379/0?password=old-cache-pw&db=0\n');
    const h = harness({ files: [env] });
    await h.start();
    writeFileSync(env, 'DB_URL=postgres://app:new-pw@db.internal:5432/app\nCACHE_URL=redis://cache:6379/0?password=new-cache-pw&db=1\n');
    await waitFor(() => changes(h).length >= 2, { what: 'two URL changes' });
    await quiet();
    const got = changes(h);
    expect(JSON.stringify(got)).not.toMatch(/old-pw|new-pw|cache-pw/);
    const [db, cache] = got.map((e) => e.data);
    expect(db.config_path).toBe(`${env}#DB_URL`);
    // Still a readable URL, and the changed password shows as a changed hash.
    expect(db.old_value).toMatch(/^postgres:\/\/\*\*\*[0-9a-f]{8}@db\.internal:5432\/app$/);
    expect(db.new_value).not.toBe(db.old_value);
    expect(cache.new_value).toMatch(/^redis:\/\/cache:6379\/0\?password=\*\*\*[0-9a-f]{8}&db=1$/);
  });

  it('logs at info, at start, which files it watches and in which folders', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.yaml');
    writeFileSync(file, 'a: 1\n');
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const h = createPluginHarness(configWatcher, { config: { files: [file] }, logger });
    running.push(h);
    await h.start();
    const started = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => /^watching /.test(String(l.msg)));
    expect(started).toMatchObject({ level: 30, files: [file], folders: [dir] });
    expect(started?.msg).toContain(file);
  });

  it('reads a file in the format set in config when its extension does not say', async () => {
    const dir = tempDir();
    const conf = path.join(dir, 'settings.conf');
    writeFileSync(conf, 'POOL_SIZE=5\nDB_PASSWORD=old\n');
    const h = harness({ files: [{ path: conf, format: 'env', change_reason: 'managed by ansible' }] });
    await h.start();
    writeFileSync(conf, 'POOL_SIZE=10\nDB_PASSWORD=new\n');
    await waitFor(() => changes(h).length >= 2, { what: 'env changes' });
    await quiet();
    expect(changes(h).map((e) => [e.data.config_path, e.data.old_value, e.data.new_value, e.data.change_reason])).toEqual([
      [`${conf}#POOL_SIZE`, '5', '10', 'managed by ansible'],
      [`${conf}#DB_PASSWORD`, redactValue('old'), redactValue('new'), 'managed by ansible'],
    ]);
  });

  it('debounces a burst of writes into one change set (fake clock)', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.yaml');
    writeFileSync(file, 'level: info\n');
    const clock = new FakeClock();
    const h = harness({ files: [file], debounce_ms: 200 }, { clock });
    await h.start();
    const fsEvents = (): number => Number(h.instance.stats?.().fs_events);
    for (const level of ['a', 'b', 'c', 'final']) {
      const before = fsEvents();
      writeFileSync(file, `level: ${level}\n`);
      await waitFor(() => fsEvents() > before, { what: `the watcher saw "${level}"` });
      await clock.advance(150); // less than the debounce: each write restarts the wait
    }
    await quiet(50);
    expect(changes(h)).toEqual([]);
    await clock.advance(200);
    await waitFor(() => changes(h).length >= 1, { what: 'the change set' });
    await quiet();
    expect(changes(h).map((e) => [e.data.old_value, e.data.new_value])).toEqual([['info', 'final']]);
  });

  it('reads a file written continuously after debounce_max_ms, although it never goes quiet (fake clock)', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.yaml');
    writeFileSync(file, 'level: info\n');
    const clock = new FakeClock();
    const h = harness({ files: [file], debounce_ms: 200, debounce_max_ms: 500 }, { clock });
    await h.start();
    const fsEvents = (): number => Number(h.instance.stats?.().fs_events);
    const write = async (level: string): Promise<void> => {
      const before = fsEvents();
      writeFileSync(file, `level: ${level}\n`);
      await waitFor(() => fsEvents() > before, { what: `the watcher saw "${level}"` });
    };
    // A write every 150 ms: never 200 ms of quiet. The burst began at 0, so the file is read at 500.
    for (const level of ['a', 'b', 'c', 'd']) {
      await write(level);
      await clock.advance(150);
    }
    await waitFor(() => changes(h).length >= 1, { what: 'the change set cut at debounce_max_ms' });
    expect(changes(h).map((e) => [e.data.old_value, e.data.new_value])).toEqual([['info', 'd']]);
    // The next burst counts from its own first event.
    await write('e');
    await clock.advance(150);
    await quiet(50);
    expect(changes(h)).toHaveLength(1);
    await clock.advance(50);
    await waitFor(() => changes(h).length >= 2, { what: 'the second change set' });
    expect(changes(h).map((e) => [e.data.old_value, e.data.new_value])).toEqual([['info', 'd'], ['d', 'e']]);
  });

  it('sees a Kubernetes ConfigMap update (the ..data symlink swapped to a new folder)', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, '..v1'));
    writeFileSync(path.join(dir, '..v1', 'app.yaml'), 'replicas: 1\n');
    symlinkSync('..v1', path.join(dir, '..data'));
    symlinkSync(path.join('..data', 'app.yaml'), path.join(dir, 'app.yaml'));
    const file = path.join(dir, 'app.yaml');
    const h = harness({ files: [file] });
    await h.start();
    mkdirSync(path.join(dir, '..v2'));
    writeFileSync(path.join(dir, '..v2', 'app.yaml'), 'replicas: 3\n');
    symlinkSync('..v2', path.join(dir, '..data_tmp'));
    renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    await waitFor(() => changes(h).length >= 1, { what: 'the swapped ConfigMap' });
    expect(changes(h)[0].data).toMatchObject({ config_path: `${file}#replicas`, old_value: 1, new_value: 3 });
  });

  it('starts watching a folder that appears after start', async () => {
    const dir = path.join(tempDir(), 'later');
    const file = path.join(dir, 'app.yaml');
    const h = harness({ files: [file], rewatch_interval_ms: 20 });
    await h.start();
    mkdirSync(dir);
    await waitFor(() => Number(h.instance.stats?.().folders_watched) === 1, { what: 'folder watched' });
    writeFileSync(file, 'a: 1\n');
    await waitFor(() => changes(h).length >= 1, { what: 'the new file' });
    expect(changes(h)[0].data).toMatchObject({ config_path: `${file}#a`, old_value: null, new_value: 1 });
    // The folder goes away and comes back: still watched.
    rmSync(dir, { recursive: true });
    await waitFor(() => Number(h.instance.stats?.().folders_watched) === 0, { what: 'folder gone' });
    mkdirSync(dir);
    writeFileSync(file, 'a: 2\n');
    await waitFor(() => changes(h).some((e) => e.data.new_value === 2), { what: 'the file in the re-created folder' });
  });

  it('asks the agent to reload when a reload_agent file changes, and watches the agent config when asked', async () => {
    const dir = tempDir();
    const agentFile = path.join(dir, 'agent.config.yaml');
    writeFileSync(agentFile, 'log:\n  level: info\n');
    const reasons: string[] = [];
    const control = new (class extends AgentControl {
      get configFile(): string {
        return agentFile;
      }

      reload(reason: string): Promise<ReloadResult> {
        reasons.push(reason);
        return Promise.resolve({ status: 'unchanged', reason, restarted: [], started: [], stopped: [], unchanged: [], failed: [], restart_required: ['log'], problems: [], message: 'ok' });
      }
    })();
    const other = path.join(dir, 'other.yaml');
    writeFileSync(other, 'x: 1\n');
    const h = harness({ watch_agent_config: true, files: ['other.yaml'] }, { agentControl: control });
    await h.start();
    expect(h.instance.stats?.()).toMatchObject({ files_watched: 2 });
    writeFileSync(other, 'x: 2\n'); // relative to the agent config's folder; no reload_agent
    await waitFor(() => changes(h).length >= 1, { what: 'other.yaml change' });
    expect(changes(h)[0].data.config_path).toBe('other.yaml#x');
    writeFileSync(agentFile, 'log:\n  level: debug\n');
    await waitFor(() => reasons.length >= 1, { what: 'a reload' });
    expect(reasons).toEqual([expect.stringContaining('changed')]);
    expect(changes(h).map((e) => e.data.config_path)).toContainEqual(expect.stringMatching(/agent\.config\.yaml#log\.level$/));
  });

  it('rejects a file whose format it cannot tell, unless format is set', () => {
    expect(configWatcher.configSchema.safeParse({ files: ['settings.conf'] }).error?.issues[0].message).toMatch(/set format/);
    expect(configWatcher.configSchema.safeParse({ files: [{ path: 'settings.conf', format: 'env' }] }).success).toBe(true);
    expect(configWatcher.configSchema.safeParse({ files: [{ path: 'a.yaml', bogus: 1 }] }).success).toBe(false);
  });
});

describe('diffDocuments', () => {
  it('walks objects, compares arrays by index or whole, and quotes odd keys', () => {
    const before = { a: { b: 1, 'x.y': true }, list: ['p', 'q'], kind: { deep: 1 } };
    const after = { a: { b: 2, 'x.y': true, c: { d: 3 } }, list: ['p'], kind: 'flat' };
    expect(diffDocuments(before, after, 'index').map((c) => [formatKeyPath(c.path), c.old, c.new])).toEqual([
      ['a.b', 1, 2],
      ['a.c.d', undefined, 3],
      ['list[1]', 'q', undefined],
      ['kind', { deep: 1 }, 'flat'],
    ]);
    expect(diffDocuments(before, after, 'whole').map((c) => formatKeyPath(c.path))).toEqual(['a.b', 'a.c.d', 'list', 'kind']);
    expect(formatKeyPath(['hosts', 'api.example.com', 0, 'port'])).toBe('hosts["api.example.com"][0].port');
    expect(diffDocuments({ a: {} }, {}, 'index')).toEqual([{ path: ['a'], old: {}, new: undefined }]);
  });

  it('parses a change-reason comment and strips a _change_reason key', () => {
    expect(parseText('# change-reason:  rotate keys \na: 1\n', 'yaml')).toEqual({ ok: true, document: { a: 1 }, reason: 'rotate keys' });
    expect(parseText('_change_reason: why\na: 1\n', 'yaml')).toEqual({ ok: true, document: { a: 1 }, reason: 'why' });
    expect(parseText('', 'yaml')).toEqual({ ok: true, document: {} });
    expect(parseText('a: [1\n', 'yaml')).toMatchObject({ ok: false, line: expect.any(Number) });
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
