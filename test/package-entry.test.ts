import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { AgentProcess, REPO, runCli } from './helpers/cli';

/**
 * The package as an author outside this repository gets it: `require('praxis-agent')` and
 * `require('praxis-agent/testing')` resolved through package.json `exports` to the built dist/,
 * in a plain Node process (no jest, no ts-jest path mapping).
 */
function runNode(script: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['-e', script], { cwd: REPO, encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('package entry points', () => {
  it("export the SDK and the typed client from 'praxis-agent'", () => {
    const result = runNode(`
      const sdk = require('praxis-agent');
      console.log(JSON.stringify(['AgentClient', 'agentAdminUrl', 'agentBearerToken', 'definePlugin', 'On', 'Bus', 'Clock', 'z', 'redactSecrets'].map((k) => [k, typeof sdk[k]])));
    `);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual([
      ['AgentClient', 'function'],
      ['agentAdminUrl', 'function'],
      ['agentBearerToken', 'function'],
      ['definePlugin', 'function'],
      ['On', 'function'],
      ['Bus', 'function'],
      ['Clock', 'function'],
      ['z', 'object'],
      ['redactSecrets', 'function'],
    ]);
  });

  it("let the harness of 'praxis-agent/testing' run a plugin outside jest", () => {
    const fixture = path.join(REPO, 'dist/test/fixtures/third-party-plugin');
    const result = runNode(`
      const { createPluginHarness } = require('praxis-agent/testing');
      const definition = require(${JSON.stringify(fixture)}).default;
      (async () => {
        const h = createPluginHarness(definition, { config: { label: 'outside' } });
        await h.start();
        await h.bus.publish('system.error', { severity: 'info', message: 'hi', component: 'x' });
        await h.bus.idle();
        await h.stop();
        console.log(JSON.stringify({ received: h.instance.received.map((e) => e.type), subscriptions: h.subscriptions }));
      })().catch((error) => { console.error(error); process.exit(1); });
    `);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ received: ['system.error'], subscriptions: 0 });
  });
});

describe('the built agent (dist/praxis-agent.js, one bundle) and a third-party plugin', () => {
  it("share one SDK: the plugin's Bus, @On handlers and event type are the agent's, and the built-in plugins see what it publishes", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'praxis-bundle-'));
    const config = path.join(dir, 'agent.config.yaml');
    const fixture = path.join(REPO, 'dist/test/fixtures/third-party-plugin');
    writeFileSync(
      config,
      ['log: { format: json }', 'http: { host: 127.0.0.1, port: 0 }', 'plugins:', '  - name: events-log', '    use: event-logger', '    config: { types: ["system.error"], include_data: true }', '  - name: recorder', `    use: ${fixture}`, ''].join('\n'),
    );
    try {
      const agent = new AgentProcess(['--config', config]);
      const url = await agent.ready();
      // backup.completed is the plugin's own event type: the agent validates it with the plugin's schema,
      // delivers it to the plugin's @On handler, and the plugin's injected Bus publishes the system.error.
      const response = await fetch(`${url}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'backup.completed', data: { job: 'nightly', bytes: 1, ok: false } }),
      });
      expect(response.status).toBe(202);
      const logged = await agent.waitFor((l) => l.plugin === 'events-log' && l.event === 'system.error');
      expect(logged).toMatchObject({ source: 'recorder', data: { message: 'backup nightly failed', error_code: 'BACKUP_FAILED' } });
      agent.kill('SIGTERM');
      expect(await agent.exited).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * The SDK is what a plugin author needs and nothing else: a change to this list is a change to the
 * public API, made on purpose (and to the README's "Writing a plugin").
 */
const SDK_EXPORTS = [
  'AGENT_TAG_PREFIX', 'ALERTING_STATE', 'AgentClient', 'AgentClientError', 'agentAdminUrl', 'agentBearerToken', 'AgentControl', 'AgentError', 'AlertingState', 'Backoff', 'Bus', 'Clock', 'DEFAULT_SECRET_KEY_PATTERNS',
  'ERROR_CODES', 'EVENT_PATTERN', 'EVENT_STORE', 'EventRegistry', 'EventStore', 'FakeClock', 'FleetInbox', 'HttpError', 'HttpRoutes', 'LOGGER',
  'MAX_PEM_FILE_BYTES', 'MAX_READ_LIMIT', 'MAX_SECRET_FILE_BYTES', 'On', 'PLUGIN_CONFIG', 'PLUGIN_NAME', 'PREVIOUS_STATE', 'SystemClock', 'TimeoutError', 'coreEventSchemas', 'definePlugin',
  'bearerTokenSchema', 'canonicalJson', 'durationSchema', 'ensureDir', 'errorMessage', 'eventPatternSchema', 'fleetOrigin', 'eventTypeMatcher', 'inject', 'injectable', 'isSecretKey',
  'readConfigFile', 'readSecretFile',
  'httpOutcome', 'isNotifier', 'sinkRequest', 'isTimeoutError', 'parseRetryAfter', 'redactSecrets', 'redactText', 'redactValue', 'retry', 'runOnce', 'settledWithin', 'withTimeout', 'z',
  'TemplateError', 'compileTemplate', 'templateData', 'templateSchema',
];
const TESTING_EXPORTS = ['FakeClock', 'PluginHarness', 'SqliteEventStore', 'createPluginHarness', 'runPluginConformance', 'sampleEvents', 'selfSignedCert', 'waitFor'];
/** Re-exported from their libraries as they are (documented there and in the README). */
const THIRD_PARTY = new Set(['inject', 'injectable', 'z']);

describe('the public SDK', () => {
  it('exports what a plugin author needs and none of the agent internals', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect(Object.keys(require('../src/index') as object).sort()).toEqual([...SDK_EXPORTS].sort());
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect(Object.keys(require('../src/testing/index') as object).sort()).toEqual([...TESTING_EXPORTS].sort());
  });

  const program = ts.createProgram({
    rootNames: ['src/index.ts', 'src/testing/index.ts', 'examples/error-budget/index.ts', 'examples/error-budget/error-budget.test.ts', 'test/fixtures/third-party-plugin/index.ts'].map((f) => path.join(REPO, f)),
    options: { ...ts.getDefaultCompilerOptions(), module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, experimentalDecorators: true, baseUrl: REPO, paths: { 'praxis-agent': ['./src/index.ts'], 'praxis-agent/testing': ['./src/testing/index.ts'] } },
  });
  const checker = program.getTypeChecker();

  it.each(['src/index.ts', 'src/testing/index.ts'])('gives every export of %s a one-line contract (TSDoc)', (entry) => {
    const file = program.getSourceFile(path.join(REPO, entry)) as ts.SourceFile;
    const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(file) as ts.Symbol);
    expect(exports.length).toBeGreaterThan(5);
    const undocumented = exports
      .filter((symbol) => !THIRD_PARTY.has(symbol.name))
      .filter((symbol) => {
        const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
        return ts.displayPartsToString(target.getDocumentationComment(checker)).trim() === '';
      })
      .map((symbol) => symbol.name);
    expect(undocumented).toEqual([]);
  });

  it('is all the example plugin and the third-party fixture use: they import nothing else of the agent', () => {
    const imports: string[] = [];
    for (const f of ['examples/error-budget/index.ts', 'examples/error-budget/error-budget.test.ts', 'test/fixtures/third-party-plugin/index.ts']) {
      const file = program.getSourceFile(path.join(REPO, f)) as ts.SourceFile;
      for (const statement of file.statements) {
        if (ts.isImportDeclaration(statement)) imports.push((statement.moduleSpecifier as ts.StringLiteral).text);
      }
    }
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((m) => !['praxis-agent', 'praxis-agent/testing', './index'].includes(m) && !m.startsWith('node:'))).toEqual([]);
  });
});

describe('a third-party plugin project', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'praxis-third-party-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("loads examples/error-budget with the `use: ./examples/error-budget` its README shows, from a config next to the repository's folders", () => {
    // A config in a folder laid out like the repository (its examples/ and the dist/ they build into).
    symlinkSync(path.join(REPO, 'examples'), path.join(dir, 'examples'));
    symlinkSync(path.join(REPO, 'dist'), path.join(dir, 'dist'));
    const config = path.join(dir, 'agent.config.yaml');
    writeFileSync(config, 'http:\n  enabled: false\nplugins:\n  - name: error-budget\n    use: ./examples/error-budget\n    config:\n      budget: 2\n');
    const validate = runCli(['validate', '--config', config]);
    expect({ status: validate.status, stderr: validate.stderr }).toEqual({ status: 0, stderr: '' });
    const plugins = runCli(['plugins', '--config', config, '--json']);
    expect(plugins.status).toBe(0);
    expect(JSON.parse(plugins.stdout)).toEqual([expect.objectContaining({ name: 'error-budget', use: './examples/error-budget', version: '0.1.0' })]);
  });

  it('says so when `use` names TypeScript source the agent cannot load, and how to build it', () => {
    mkdirSync(path.join(dir, 'my-plugin'));
    writeFileSync(path.join(dir, 'my-plugin/index.ts'), "import { definePlugin } from 'praxis-agent';\n");
    const config = path.join(dir, 'agent.config.yaml');
    writeFileSync(config, 'http:\n  enabled: false\nplugins:\n  - name: mine\n    use: ./my-plugin\n  - name: file\n    use: ./my-plugin/index.ts\n');
    const result = runCli(['validate', '--config', config]);
    expect(result.status).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/plugins\[0\]\.use: cannot find plugin module "\.\/my-plugin" .*it is TypeScript source.*Build it with tsc.*\(PLUGIN_NOT_FOUND\)$/),
      expect.stringMatching(/plugins\[1\]\.use: plugin module "\.\/my-plugin\/index\.ts" failed to load: .*it is TypeScript source.*\(PLUGIN_INVALID_MODULE\)$/),
    ]);
  });
});
