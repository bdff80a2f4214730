import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AgentError } from '../core/errors';
import { builtinPluginNames } from '../plugin/resolve';
import { ConfigError, describePlugins, formatProblem, loadConfig, type ConfigProblem, type LoadOptions } from './loader';

const FIXTURES = path.resolve(__dirname, '../../test/fixtures/config');
const PLUGINS = path.join(FIXTURES, 'plugins');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'praxis-config-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a config file into the temp dir; one argument per line, so line N is argument N. */
function config(...lines: string[]): string {
  const file = path.join(dir, 'agent.config.yaml');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

function problemsOf(file: string, options?: LoadOptions): ConfigProblem[] {
  try {
    loadConfig(file, options);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error('expected a ConfigError');
}

/** Problems as `LINE:COL path: message (CODE)` (without the file), the shape users read. */
function linesOf(file: string, options?: LoadOptions): string[] {
  return problemsOf(file, options).map((p) => formatProblem({ ...p, file: '' }).replace(/^:/, ''));
}

const NO_ENV: LoadOptions = { env: {} };

describe('loadConfig: core sections', () => {
  it('applies every default to an empty mapping', () => {
    const file = config('{}');
    const loaded = loadConfig(file, NO_ENV);
    expect(loaded.file).toBe(file);
    expect(loaded.baseDir).toBe(dir);
    expect(loaded.config).toEqual({
      agent: { name: 'praxis-agent', shutdown_timeout: 10_000 },
      log: { level: 'info', format: 'auto' },
      http: { enabled: true, host: '127.0.0.1', port: 9780, body_limit: 1_048_576, dashboard: true },
      bus: { queue_capacity: 1024, overflow: 'block', error_threshold: 100 },
      store: { enabled: false, data_dir: '.praxis-data', commit_interval: 100, max_batch: 1000, max_age: 604_800_000, max_events: 1_000_000, retention_interval: 60_000 },
      plugins: [],
    });
    expect(loaded.plugins).toEqual([]);
  });

  it('treats an empty file or one with only comments as all defaults', () => {
    expect(loadConfig(config(''), NO_ENV).config.http.port).toBe(9780);
    expect(loadConfig(config('# nothing yet'), NO_ENV).config.log.level).toBe('info');
  });

  it('returns an absolute file path but reports problems with the path as given', () => {
    const relative = path.relative(process.cwd(), path.join(FIXTURES, 'bad-indent.yaml'));
    const [problem] = problemsOf(relative);
    expect(problem.file).toBe(relative);
    const loaded = loadConfig(path.relative(process.cwd(), config('http:', '  port: 1')), NO_ENV);
    expect(path.isAbsolute(loaded.file)).toBe(true);
  });

  it('parses durations', () => {
    const loaded = loadConfig(config('agent:', '  shutdown_timeout: 2m'), NO_ENV);
    expect(loaded.config.agent.shutdown_timeout).toBe(120_000);
  });

  it('reports a missing file as CONFIG_NOT_FOUND without a position', () => {
    const file = path.join(dir, 'nope.yaml');
    const problems = problemsOf(file);
    expect(problems).toEqual([{ file, line: 0, column: 0, path: '', code: 'CONFIG_NOT_FOUND', message: 'cannot read config file (no such file)' }]);
    expect(formatProblem(problems[0])).toBe(`${file}: cannot read config file (no such file) (CONFIG_NOT_FOUND)`);
  });
});

describe('loadConfig: YAML syntax', () => {
  it('reports bad indentation at the line yaml points to', () => {
    // bad-indent.yaml line 3: " host: 0.0.0.0" (one space where its siblings have two)
    const problems = problemsOf(path.join(FIXTURES, 'bad-indent.yaml'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ line: 3, column: 2, path: '', code: 'CONFIG_YAML_SYNTAX' });
    expect(problems[0].message).toMatch(/same column/);
  });

  it('points a misaligned key at the key itself, not at the start of its line', () => {
    // deep-bad-indent.yaml line 3: "     host: 0.0.0.0" (the key at column 6, its sibling at column 7)
    const problems = problemsOf(path.join(FIXTURES, 'deep-bad-indent.yaml'));
    expect(problems.map((p) => [p.line, p.column, p.code])).toEqual([[3, 6, 'CONFIG_YAML_SYNTAX']]);
  });

  it('reports a line indented too far at that line, once', () => {
    // over-indent.yaml line 3: "    host: 0.0.0.0" (four spaces where its sibling "port" has two)
    const problems = problemsOf(path.join(FIXTURES, 'over-indent.yaml'));
    expect(problems.map((p) => [p.line, p.column, p.code])).toEqual([[3, 5, 'CONFIG_YAML_SYNTAX']]);
    expect(problems[0].message).toMatch(/^line indented too far/);
    expect(linesOf(config('plugins:', '  - name: a', '      use: b'))).toEqual([expect.stringMatching(/^3:7 line indented too far/)]);
  });

  it('reports tab indentation', () => {
    // tab-indent.yaml line 2 starts with a tab
    const problems = problemsOf(path.join(FIXTURES, 'tab-indent.yaml'));
    expect(problems[0]).toMatchObject({ line: 2, column: 1, code: 'CONFIG_YAML_SYNTAX' });
    expect(problems[0].message).toMatch(/[Tt]ab/);
  });

  it('reports every syntax error, not only the first', () => {
    const file = config('http:', '  port: 80', '  port: 81', 'log: [info');
    const problems = problemsOf(file);
    expect(problems.length).toBeGreaterThanOrEqual(2);
    expect(problems.every((p) => p.code === 'CONFIG_YAML_SYNTAX')).toBe(true);
    expect(problems[0]).toMatchObject({ line: 3, column: 3 }); // the duplicate "port"
  });

  it('reports a duplicate key as a syntax error at the second key', () => {
    expect(linesOf(config('http:', '  port: 80', '  port: 81'))).toEqual([
      '3:3 Map keys must be unique (the same key appears twice in this map) (CONFIG_YAML_SYNTAX)',
    ]);
    // In a sequence item and in a flow map too; equal-looking keys of different types are not duplicates.
    expect(linesOf(config('plugins:', '  - name: a', '    use: b', '    name: c', 'x: {k: 1, k: 2}', 'y: {1: a, "1": b}'))).toEqual([
      '4:5 Map keys must be unique (the same key appears twice in this map) (CONFIG_YAML_SYNTAX)',
      '5:11 Map keys must be unique (the same key appears twice in this map) (CONFIG_YAML_SYNTAX)',
    ]);
  });

  it('reports the first 100 problems of a file with 40,000 unknown keys, and how many more there are', () => {
    const file = path.join(dir, 'huge.yaml');
    writeFileSync(file, Array.from({ length: 40_000 }, (_, i) => `unknown_${i}: ${i}\n`).join(''));
    let error: unknown;
    try {
      loadConfig(file, NO_ENV);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const configError = error as ConfigError;
    expect(configError.problems).toHaveLength(100);
    expect(configError.omitted).toBe(39_900);
    expect(configError.problems[0]).toMatchObject({ line: 1, column: 1, path: 'unknown_0', code: 'CONFIG_UNKNOWN_KEY' });
    expect(configError.problems[99]).toMatchObject({ line: 100, path: 'unknown_99' });
    const lines = configError.format().split('\n');
    expect(lines).toHaveLength(101);
    expect(lines[100]).toBe('and 39900 more problems (fix these and validate again to see them)');
    expect(configError.message).toBe(configError.format());
  });
});

describe('loadConfig: validation problems', () => {
  it('positions an unknown nested key at the key, with a suggestion', () => {
    const file = config('http:', '  port: 80', '  prot: 81');
    expect(problemsOf(file).map(formatProblem)).toEqual([`${file}:3:3 http.prot: unknown key "prot" (did you mean "port"?) (CONFIG_UNKNOWN_KEY)`]);
  });

  it('lists the allowed keys when no key is close', () => {
    expect(linesOf(config('metrics:', '  enabled: true'))).toEqual([
      '1:1 metrics: unknown key "metrics" (expected one of: agent, log, http, bus, store, plugins, alerting) (CONFIG_UNKNOWN_KEY)',
    ]);
  });

  it('positions a wrong type at the value', () => {
    expect(linesOf(config('http:', '  port: eighty'))).toEqual(['2:9 http.port: expected number, received string (CONFIG_INVALID_VALUE)']);
  });

  it('positions an empty value at its key', () => {
    expect(linesOf(config('log:', '  level:'))).toEqual([expect.stringMatching(/^2:3 log\.level: Invalid option: expected one of "trace"\|/)]);
  });

  it('explains durations', () => {
    expect(linesOf(config('agent:', '  shutdown_timeout: 10x', 'bus:', '  error_threshold: -1'))).toEqual([
      '2:21 agent.shutdown_timeout: expected a duration like 500ms, 10s, 5m or 1h (CONFIG_INVALID_VALUE)',
      '4:20 bus.error_threshold: Too small: expected number to be >=0 (CONFIG_INVALID_VALUE)',
    ]);
    expect(linesOf(config('agent:', '  shutdown_timeout: true'))).toEqual([
      '2:21 agent.shutdown_timeout: expected number or string, received boolean (CONFIG_INVALID_VALUE)',
    ]);
  });

  it('rejects a document that is not a mapping', () => {
    expect(linesOf(config('- a', '- b'))).toEqual(['1:1 expected object, received array (CONFIG_INVALID_VALUE)']);
  });

  it('positions a missing required key at the map that lacks it', () => {
    expect(linesOf(config('plugins:', '  - name: x'))).toEqual(['2:5 plugins[0].use: missing required key "use" (expected string) (CONFIG_MISSING_KEY)']);
  });

  it('reports every problem at once, in file order', () => {
    const file = path.join(FIXTURES, 'many-problems.yaml');
    const error = (() => {
      try {
        loadConfig(file, NO_ENV);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toBeInstanceOf(AgentError);
    const configError = error as ConfigError;
    expect(configError.code).toBe('CONFIG_INVALID_VALUE');
    expect(configError.format()).toBe(configError.message);
    expect(configError.format().split('\n')).toEqual([
      `${file}:2:9 agent.name: Too small: expected string to have >=1 characters (CONFIG_INVALID_VALUE)`,
      `${file}:4:3 log.levle: unknown key "levle" (did you mean "level"?) (CONFIG_UNKNOWN_KEY)`,
      `${file}:6:9 http.port: expected number, received string (CONFIG_INVALID_VALUE)`,
      `${file}:9:13 bus.overflow: Invalid option: expected one of "block"|"drop_newest"|"drop_oldest" (CONFIG_INVALID_VALUE)`,
      `${file}:11:11 plugins[0].name: plugin names are lower-kebab-case (CONFIG_INVALID_VALUE)`,
      `${file}:13:5 plugins[1].name: missing required key "name" (expected string) (CONFIG_MISSING_KEY)`,
    ]);
  });
});

describe('loadConfig: environment substitution', () => {
  it('turns an unquoted ${VAR} into the YAML scalar it spells; quoted stays a string', () => {
    const file = config('agent:', '  name: "${PORT}"', 'http:', '  port: ${PORT}', '  enabled: ${ON}');
    const { config: c } = loadConfig(file, { env: { PORT: '8080', ON: 'false' } });
    expect(c.http.port).toBe(8080);
    expect(c.http.enabled).toBe(false);
    expect(c.agent.name).toBe('8080');
  });

  it('keeps substituted text that reads as a string exactly as it is', () => {
    const file = config('agent:', '  name: ${NAME}-${ZONE}');
    expect(loadConfig(file, { env: { NAME: 'edge', ZONE: ' a: b ' } }).config.agent.name).toBe('edge- a: b ');
  });

  it('uses ${VAR:-default} when the variable is unset or empty', () => {
    const file = config('http:', '  port: ${PORT:-9000}', '  host: ${HOST:-0.0.0.0}');
    expect(loadConfig(file, NO_ENV).config.http).toMatchObject({ port: 9000, host: '0.0.0.0' });
    expect(loadConfig(file, { env: { PORT: '', HOST: '' } }).config.http).toMatchObject({ port: 9000, host: '0.0.0.0' });
    expect(loadConfig(file, { env: { PORT: '1234', HOST: '::1' } }).config.http).toMatchObject({ port: 1234, host: '::1' });
  });

  it('reads process.env by default', () => {
    process.env.PRAXIS_LOADER_TEST_PORT = '4321';
    try {
      expect(loadConfig(config('http:', '  port: ${PRAXIS_LOADER_TEST_PORT}')).config.http.port).toBe(4321);
    } finally {
      delete process.env.PRAXIS_LOADER_TEST_PORT;
    }
  });

  it('reports an unset variable by name at the value, once', () => {
    expect(linesOf(config('http:', '  port: ${PRAXIS_PORT}'), NO_ENV)).toEqual([
      '2:9 http.port: environment variable PRAXIS_PORT is not set (set it, or give a default: ${PRAXIS_PORT:-default}) (CONFIG_ENV_UNSET)',
    ]);
  });

  it('unescapes $${ to a literal ${ without substituting', () => {
    expect(loadConfig(config('agent:', '  name: $${NOT_A_VAR}'), NO_ENV).config.agent.name).toBe('${NOT_A_VAR}');
  });

  it('does not substitute in keys or comments', () => {
    const file = config('# ${IGNORED}', 'agent:', '  name: plain # ${ALSO_IGNORED}');
    expect(loadConfig(file, NO_ENV).config.agent.name).toBe('plain');
    expect(linesOf(config('${KEY}: 1'), NO_ENV)).toEqual([expect.stringMatching(/^1:1 \$\{KEY\}: unknown key/)]);
  });

  it('rejects a malformed reference', () => {
    expect(linesOf(config('agent:', '  name: ${OOPS'), NO_ENV)).toEqual([
      '2:9 agent.name: malformed ${...} reference (unclosed or nested); write $${ for a literal ${ (CONFIG_INVALID_VALUE)',
    ]);
    expect(linesOf(config('agent:', '  name: ${1X}'), NO_ENV)).toEqual([
      '2:9 agent.name: invalid reference "${1X}": use ${NAME}, ${NAME:-default} or ${file:/path} (CONFIG_INVALID_VALUE)',
    ]);
  });

  it('reads ${file:...} secrets relative to the config folder, trimming the trailing newline', () => {
    writeFileSync(path.join(dir, 'token'), 's3cr3t-token\n');
    writeFileSync(path.join(dir, 'digits'), '12345\n');
    const file = config('http:', '  auth_token: ${file:token}', '  host: ${file:' + path.join(dir, 'digits') + '}');
    const { config: c } = loadConfig(file, NO_ENV);
    expect(c.http.auth_token).toBe('s3cr3t-token');
    // A secret never becomes a number, even unquoted.
    expect(c.http.host).toBe('12345');
  });

  it('substitutes an empty ${file:...} as an empty value, as it always has (a plugin *_file refuses one)', () => {
    writeFileSync(path.join(dir, 'empty-name'), '');
    const { config: c } = loadConfig(config('http:', '  host: "127.0.0.1${file:empty-name}"'), NO_ENV);
    expect(c.http.host).toBe('127.0.0.1');
  });

  it('reports an unreadable secret file without its content', () => {
    mkdirSync(path.join(dir, 'secrets'));
    const file = config('http:', '  auth_token: ${file:missing-token}', 'agent:', '  name: ${file:secrets}');
    const problems = linesOf(file, NO_ENV);
    expect(problems).toEqual([
      `2:15 http.auth_token: cannot read secret file ${path.join(dir, 'missing-token')} (no such file) (CONFIG_SECRET_FILE)`,
      `4:9 agent.name: cannot read secret file ${path.join(dir, 'secrets')} (is a directory, not a regular file) (CONFIG_SECRET_FILE)`,
    ]);
  });

  it('refuses devices, pipes and secret files over 64 KiB without reading them', () => {
    writeFileSync(path.join(dir, 'big'), Buffer.alloc(64 * 1024 + 1, 'a'));
    writeFileSync(path.join(dir, 'limit'), `${'b'.repeat(64 * 1024 - 1)}\n`);
    execFileSync('mkfifo', [path.join(dir, 'fifo')]);
    const file = config('http:', '  auth_token: ${file:/dev/zero}', '  host: ${file:big}', 'store:', '  data_dir: ${file:fifo}');
    expect(linesOf(file, NO_ENV)).toEqual([
      '2:15 http.auth_token: cannot read secret file /dev/zero (is a device, not a regular file) (CONFIG_SECRET_FILE)',
      `3:9 http.host: cannot read secret file ${path.join(dir, 'big')} (65537 bytes, 1 over the limit of 65536) (CONFIG_SECRET_FILE)`,
      `5:13 store.data_dir: cannot read secret file ${path.join(dir, 'fifo')} (is a named pipe, not a regular file) (CONFIG_SECRET_FILE)`,
    ]);
    // Up to the limit, a secret file is read whole.
    expect(loadConfig(config('http:', '  host: ${file:limit}'), NO_ENV).config.http.host).toHaveLength(64 * 1024 - 1);
  });

  it('refuses a bearer token that could never match an Authorization header, without showing it', () => {
    writeFileSync(path.join(dir, 'token'), 'two words\n');
    const file = config(
      'http:',
      '  auth_token: ${file:token}',
      'plugins:',
      '  - name: ws',
      '    use: websocket-broadcaster',
      '    config:',
      '      auth_token: "tab\\there"',
      '  - name: ws2',
      '    use: websocket-broadcaster',
      '    config:',
      '      auth_token: "caf\u00e9-token"',
      '      port: 0',
    );
    const problems = problemsOf(file, NO_ENV);
    expect(problems.map((p) => [p.path, p.code])).toEqual([
      ['http.auth_token', 'CONFIG_INVALID_VALUE'],
      ['plugins[0].config.auth_token', 'CONFIG_INVALID_VALUE'],
      ['plugins[1].config.auth_token', 'CONFIG_INVALID_VALUE'],
    ]);
    expect(problems[0].message).toMatch(/visible ASCII/);
    expect(JSON.stringify(problems)).not.toMatch(/two words|there|caf/);
    // Any visible ASCII is fine, base64 and URL-safe punctuation included.
    expect(loadConfig(config('http:', '  auth_token: "A-z0.9_~+/=!#$%&*"'), NO_ENV).config.http.auth_token).toBe('A-z0.9_~+/=!#$%&*');
  });

  it('never puts a secret into an error message', () => {
    writeFileSync(path.join(dir, 'level'), 'super-secret-value\n');
    const file = config('log:', '  level: ${file:level}', 'http:', '  port: ${file:level}');
    let message = '';
    try {
      loadConfig(file, NO_ENV);
    } catch (error) {
      message = `${(error as ConfigError).format()}\n${(error as Error).message}\n${JSON.stringify((error as ConfigError).details)}`;
    }
    expect(message).toContain('log.level');
    expect(message).toContain('http.port');
    expect(message).not.toContain('super-secret');
  });

  it('reports substitution and validation problems together', () => {
    expect(linesOf(config('http:', '  port: ${MISSING}', '  hots: x'), NO_ENV)).toEqual([
      '2:9 http.port: environment variable MISSING is not set (set it, or give a default: ${MISSING:-default}) (CONFIG_ENV_UNSET)',
      '3:3 http.hots: unknown key "hots" (did you mean "host"?) (CONFIG_UNKNOWN_KEY)',
    ]);
  });
});

describe('loadConfig: plugins', () => {
  it('loads a valid config with plugins in start order', () => {
    const loaded = loadConfig(path.join(FIXTURES, 'valid.yaml'), NO_ENV);
    expect(loaded.config.agent).toEqual({ name: 'test-agent', shutdown_timeout: 5000 });
    // consumer depends on main-greeter (depends_on) and on every greeter (its definition's dependencies).
    expect(loaded.plugins.map((p) => p.entry.name)).toEqual(['main-greeter', 'spare-greeter', 'consumer']);
    const [main, spare, consumer] = loaded.plugins;
    expect(main.config).toEqual({ greeting: 'hi', level: 'info', retries: 3 });
    expect(spare.config).toEqual({ greeting: 'hello', level: 'info', retries: 3 });
    expect(consumer.config).toEqual({});
    expect(main.resolved).toMatchObject({ use: './plugins/greeter', origin: 'path', file: path.join(PLUGINS, 'greeter.ts') });
    expect(main.resolved.definition.name).toBe('greeter');
    expect(main.entry).toEqual({ name: 'main-greeter', use: './plugins/greeter', enabled: true, depends_on: [], config: { greeting: 'hi' } });
  });

  it('does not load disabled plugins, nor validate their config', () => {
    // valid.yaml's last entry names a module that does not exist and an unset variable.
    const loaded = loadConfig(path.join(FIXTURES, 'valid.yaml'), NO_ENV);
    expect(loaded.plugins.map((p) => p.entry.name)).not.toContain('switched-off');
    expect(loaded.config.plugins.map((p) => p.name)).toContain('switched-off');
  });

  it('still validates the core keys of disabled plugins', () => {
    const file = config('plugins:', '  - name: off', '    use: nowhere', '    enabled: false', '    depends_on: nothing');
    expect(linesOf(file, NO_ENV)).toEqual(['5:17 plugins[0].depends_on: expected array, received string (CONFIG_INVALID_VALUE)']);
  });

  it('starts plugins in declared order, moving only dependencies forward', () => {
    const file = config(
      'plugins:',
      '  - { name: a, use: ' + path.join(PLUGINS, 'greeter') + ', depends_on: [c] }',
      '  - { name: b, use: ' + path.join(PLUGINS, 'greeter') + ' }',
      '  - { name: c, use: ' + path.join(PLUGINS, 'greeter') + ', depends_on: [e] }',
      '  - { name: d, use: ' + path.join(PLUGINS, 'greeter') + ', depends_on: [b] }',
      '  - { name: e, use: ' + path.join(PLUGINS, 'greeter') + ' }',
    );
    expect(loadConfig(file, NO_ENV).plugins.map((p) => p.entry.name)).toEqual(['e', 'c', 'a', 'b', 'd']);
  });

  it('keeps declared order when there are no dependencies', () => {
    const file = config('plugins:', ...['z', 'y', 'x'].map((n) => `  - { name: ${n}, use: ${PLUGINS}/greeter }`));
    expect(loadConfig(file, NO_ENV).plugins.map((p) => p.entry.name)).toEqual(['z', 'y', 'x']);
  });

  it('reports a plugin module that cannot be found at its use value', () => {
    const [problem] = problemsOf(config('plugins:', '  - name: ghost', '    use: ./plugins/ghost'), NO_ENV);
    expect(problem).toMatchObject({ line: 3, column: 10, path: 'plugins[0].use', code: 'PLUGIN_NOT_FOUND' });
    expect(problem.message).toContain('./plugins/ghost');
  });

  it('reports a module without a plugin definition', () => {
    const [problem] = problemsOf(config('plugins:', '  - name: fake', `    use: ${PLUGINS}/not-a-plugin`), NO_ENV);
    expect(problem).toMatchObject({ line: 3, column: 10, path: 'plugins[0].use', code: 'PLUGIN_INVALID_MODULE' });
  });

  it('validates plugin config with the plugin schema, positioned inside config', () => {
    const file = config(
      'plugins:',
      '  - name: greeter',
      `    use: ${PLUGINS}/greeter`,
      '    config:',
      '      level: loud',
      '      retries: 1.5',
      '      extra: true',
    );
    expect(linesOf(file, NO_ENV)).toEqual([
      '5:14 plugins[0].config.level: Invalid option: expected one of "info"|"warn" (CONFIG_INVALID_VALUE)',
      '6:16 plugins[0].config.retries: expected int, received number (CONFIG_INVALID_VALUE)',
      '7:7 plugins[0].config.extra: unknown key "extra" (expected one of: greeting, level, retries) (CONFIG_UNKNOWN_KEY)',
    ]);
  });

  it('positions a missing plugin config key at config, or at the entry without config', () => {
    const withConfig = config('plugins:', '  - name: sender', `    use: ${PLUGINS}/requires-url`, '    config:', '      timeout: 5');
    expect(linesOf(withConfig, NO_ENV)).toEqual(['5:7 plugins[0].config.url: missing required key "url" (expected string) (CONFIG_MISSING_KEY)']);
    const without = config('plugins:', '  - name: sender', `    use: ${PLUGINS}/requires-url`);
    expect(linesOf(without, NO_ENV)).toEqual(['2:5 plugins[0].config.url: missing required key "url" (expected string) (CONFIG_MISSING_KEY)']);
  });

  it('reports duplicate names at the second entry', () => {
    const file = config('plugins:', `  - name: twin`, `    use: ${PLUGINS}/greeter`, `  - name: twin`, `    use: ${PLUGINS}/greeter`, '    enabled: false');
    expect(linesOf(file, NO_ENV)).toEqual(['4:11 plugins[1].name: plugin name "twin" is already used by plugins[0]; names must be unique (CONFIG_DUPLICATE_PLUGIN)']);
  });

  it('reports depends_on naming an undeclared or a disabled plugin', () => {
    const file = config(
      'plugins:',
      `  - name: main`,
      `    use: ${PLUGINS}/greeter`,
      '    depends_on: [nobody, sleeper]',
      `  - name: sleeper`,
      `    use: ${PLUGINS}/greeter`,
      '    enabled: false',
    );
    expect(linesOf(file, NO_ENV)).toEqual([
      '4:18 plugins[0].depends_on[0]: depends on "nobody", which is not declared in plugins (PLUGIN_DEPENDENCY_MISSING)',
      '4:26 plugins[0].depends_on[1]: depends on "sleeper", which is disabled (enabled: false) (PLUGIN_DEPENDENCY_MISSING)',
    ]);
  });

  it('reports a plugin type dependency that no enabled entry provides', () => {
    const file = config('plugins:', '  - name: consumer', `    use: ${PLUGINS}/needs-greeter`);
    expect(linesOf(file, NO_ENV)).toEqual([
      '3:10 plugins[0].use: plugin needs-greeter requires an enabled "greeter" plugin; add an entry with use: greeter (PLUGIN_DEPENDENCY_MISSING)',
    ]);
  });

  it('reports a dependency cycle once, at its first edge', () => {
    const file = config(
      'plugins:',
      `  - { name: a, use: ${PLUGINS}/greeter, depends_on: [b] }`,
      `  - { name: b, use: ${PLUGINS}/greeter, depends_on: [c] }`,
      `  - { name: c, use: ${PLUGINS}/greeter, depends_on: [a] }`,
      `  - { name: d, use: ${PLUGINS}/greeter, depends_on: [d] }`,
    );
    const problems = problemsOf(file, NO_ENV);
    expect(problems.map((p) => [p.line, p.path, p.code, p.message])).toEqual([
      [2, 'plugins[0].depends_on[0]', 'PLUGIN_DEPENDENCY_CYCLE', 'dependency cycle: a -> b -> c -> a'],
      [5, 'plugins[3].depends_on[0]', 'PLUGIN_DEPENDENCY_CYCLE', 'dependency cycle: d -> d'],
    ]);
  });

  it('substitutes variables in use and in plugin config', () => {
    const file = config('plugins:', '  - name: greeter', '    use: ${PLUGIN_DIR}/greeter', '    config:', '      retries: ${RETRIES}', '      greeting: ${GREETING}');
    const loaded = loadConfig(file, { env: { PLUGIN_DIR: PLUGINS, RETRIES: '7', GREETING: 'hey' } });
    expect(loaded.plugins[0].config).toEqual({ greeting: 'hey', level: 'info', retries: 7 });
    // Unset: one problem per value, and the half-substituted `use` is not resolved.
    expect(problemsOf(file, { env: { RETRIES: '7' } }).map((p) => [p.line, p.column, p.path, p.code])).toEqual([
      [3, 10, 'plugins[0].use', 'CONFIG_ENV_UNSET'],
      [6, 17, 'plugins[0].config.greeting', 'CONFIG_ENV_UNSET'],
    ]);
  });

  it('collects plugin problems together with core problems', () => {
    const file = config('http:', '  port: -1', 'plugins:', '  - name: ghost', '    use: ./ghost', '  - name: ghost', `    use: ${PLUGINS}/greeter`);
    expect(problemsOf(file, NO_ENV).map((p) => p.code)).toEqual(['CONFIG_INVALID_VALUE', 'PLUGIN_NOT_FOUND', 'CONFIG_DUPLICATE_PLUGIN']);
  });
});

describe('describePlugins', () => {
  it('describes every declared entry without throwing for plugin problems', () => {
    const file = config(
      'plugins:',
      `  - name: good`,
      `    use: ${PLUGINS}/greeter`,
      `  - name: ghost`,
      `    use: ./ghost`,
      `  - name: off`,
      `    use: ./whatever`,
      `    enabled: false`,
      `  - name: cyclic`,
      `    use: ${PLUGINS}/greeter`,
      `    depends_on: [cyclic]`,
      `  - name: Broken`,
      `    use: ${PLUGINS}/greeter`,
    );
    const rows = describePlugins(file, NO_ENV);
    expect(rows).toEqual([
      { name: 'good', use: `${PLUGINS}/greeter`, enabled: true, origin: 'path', file: path.join(PLUGINS, 'greeter.ts'), version: '1.2.3', description: 'Says hello (test fixture).', loads: true },
      { name: 'ghost', use: './ghost', enabled: true, origin: 'path', loads: false, problem: expect.stringContaining('cannot find plugin module "./ghost"') },
      { name: 'off', use: './whatever', enabled: false, origin: 'path', loads: false },
      expect.objectContaining({ name: 'cyclic', loads: false, problem: 'dependency cycle: cyclic -> cyclic' }),
      { name: 'Broken', use: `${PLUGINS}/greeter`, enabled: true, origin: 'path', loads: false, problem: 'plugin names are lower-kebab-case' },
    ]);
  });

  it('tells built-in, path and package origins apart, also for entries that do not load', () => {
    const builtin = builtinPluginNames()[0] ?? 'event-logger';
    const file = config(
      'plugins:',
      `  - { name: one, use: ${builtin}, enabled: false }`,
      '  - { name: two, use: praxis-no-such-package }',
      '  - { name: three, use: ../elsewhere, enabled: false }',
    );
    expect(describePlugins(file, NO_ENV).map((r) => [r.name, r.origin, r.loads])).toEqual([
      ['one', 'builtin', false],
      ['two', 'package', false],
      ['three', 'path', false],
    ]);
  });

  it('throws the ConfigError when the YAML itself is broken', () => {
    expect(() => describePlugins(path.join(FIXTURES, 'bad-indent.yaml'))).toThrow(ConfigError);
  });
});

describe('validation cost', () => {
  it("validates without zod's JIT: loading the modules and the shipped config compiles no parser (each is used once)", () => {
    const compiled: string[] = [];
    const original = globalThis.Function;
    // zod compiles its object parsers with `new Function(..., body)`; count those bodies.
    globalThis.Function = new Proxy(original, {
      construct(target, args: string[]) {
        const body = String(args.at(-1));
        if (body.includes('payload')) compiled.push(`parser of ${[...body.matchAll(/shape\["(\w+)"\]/g)].map((m) => m[1]).join(', ')}`);
        return Reflect.construct(target, args) as object;
      },
    });
    try {
      jest.isolateModules(() => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const fresh = require('./loader') as typeof import('./loader');
        // Modules whose defaults are parsed at load, as the agent loads them.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        require('../bus/event-bus');
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        require('../store/sqlite-event-store');
        const loaded = fresh.loadConfig(path.resolve(__dirname, '../../agent.config.yaml'), { env: {} });
        expect(loaded.plugins.length).toBeGreaterThan(5);
      });
    } finally {
      globalThis.Function = original;
    }
    expect(compiled).toEqual([]);
  });
});
