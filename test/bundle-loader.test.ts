import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO } from './helpers/cli';

/** Loads the bundle through bin/load-bundle.js in a plain node process, from `root` (a copy of bin/ and dist/). */
function load(root: string): { cacheUsed: boolean; main: string; sameSdk: boolean } {
  const script = `
    const { loadBundle } = require(${JSON.stringify(path.join(root, 'bin/load-bundle.js'))});
    const loaded = loadBundle();
    const sdk = require(${JSON.stringify(path.join(root, 'dist/index.js'))});
    console.log(JSON.stringify({ cacheUsed: loaded.cacheUsed, main: typeof loaded.exports.cli.main, sameSdk: sdk === loaded.exports.sdk }));`;
  const result = spawnSync(process.execPath, ['-e', script], { cwd: REPO, encoding: 'utf8', timeout: 30_000 });
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as { cacheUsed: boolean; main: string; sameSdk: boolean };
}

describe('bin/load-bundle.js: the bundle with its V8 code cache', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(tmpdir(), 'praxis-bundle-'));
    mkdirSync(path.join(root, 'bin'));
    mkdirSync(path.join(root, 'dist'));
    copyFileSync(path.join(REPO, 'bin/load-bundle.js'), path.join(root, 'bin/load-bundle.js'));
    for (const file of ['praxis-agent.js', 'praxis-agent.js.cache', 'index.js', 'testing.js']) copyFileSync(path.join(REPO, 'dist', file), path.join(root, 'dist', file));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('uses the cache the build wrote for this bundle, and registers the bundle as the package entry points see it', () => {
    expect(load(root)).toEqual({ cacheUsed: true, main: 'function', sameSdk: true });
  });

  it("ignores a cache written for another bundle (V8 checks only the source's length) and one V8 rejects", () => {
    const cache = path.join(root, 'dist/praxis-agent.js.cache');
    const original = readFileSync(cache);
    try {
      writeFileSync(cache, Buffer.concat([Buffer.from('0'.repeat(40)), original.subarray(40)]));
      expect(load(root)).toEqual({ cacheUsed: false, main: 'function', sameSdk: true });
      writeFileSync(cache, Buffer.concat([original.subarray(0, 40), Buffer.alloc(1000, 7)]));
      expect(load(root)).toEqual({ cacheUsed: false, main: 'function', sameSdk: true });
      // Keyed by the bundle's id alone, as for a compile inside another wrapper (e.g. Module.wrap's, one byte longer).
      const id = /bundle-id=([0-9a-f]{40})/.exec(readFileSync(path.join(root, 'dist/praxis-agent.js'), 'latin1').slice(-80))?.[1] ?? '';
      writeFileSync(cache, Buffer.concat([Buffer.from(id, 'latin1'), original.subarray(40)]));
      expect(load(root)).toEqual({ cacheUsed: false, main: 'function', sameSdk: true });
    } finally {
      writeFileSync(cache, original);
    }
  });

  it('without its cache file the bundle compiles as usual; without the bundle the CLI says to build it', () => {
    const cache = path.join(root, 'dist/praxis-agent.js.cache');
    const original = readFileSync(cache);
    try {
      rmSync(cache);
      expect(load(root)).toEqual({ cacheUsed: false, main: 'function', sameSdk: true });
    } finally {
      writeFileSync(cache, original);
    }
    const unbuilt = mkdtempSync(path.join(tmpdir(), 'praxis-unbuilt-'));
    try {
      mkdirSync(path.join(unbuilt, 'bin'));
      for (const file of ['praxis-agent.js', 'load-bundle.js']) copyFileSync(path.join(REPO, 'bin', file), path.join(unbuilt, 'bin', file));
      const result = spawnSync(process.execPath, [path.join(unbuilt, 'bin/praxis-agent.js'), 'validate'], { encoding: 'utf8', timeout: 30_000 });
      expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 1, stderr: 'praxis-agent: not built yet; run `npm run build` (npm ci does it for you)\n' });
    } finally {
      rmSync(unbuilt, { recursive: true, force: true });
    }
  });

  it("keeps zod's locales out of the bundle, and z.locales working: each loads from zod's own files on first use", () => {
    expect(readFileSync(path.join(REPO, 'dist/praxis-agent.js'), 'utf8')).not.toContain('erwartet'); // from the German locale's messages
    const script = `
      const { z } = require('./bin/load-bundle.js').loadBundle().exports.sdk;
      const message = () => z.string().safeParse(1).error.issues[0].message;
      const english = message();
      z.config(z.core.locales.de());
      const german = message();
      z.config(z.locales.en());
      console.log(JSON.stringify({ english, german, again: message(), count: Object.keys(z.locales).length }));`;
    const result = spawnSync(process.execPath, ['-e', script], { cwd: REPO, encoding: 'utf8', timeout: 30_000 });
    expect(result.stderr).toBe('');
    const { english, german, again, count } = JSON.parse(result.stdout) as Record<string, unknown>;
    expect({ english, german, again }).toEqual({
      english: 'Invalid input: expected string, received number',
      german: 'Ungültige Eingabe: erwartet string, erhalten Zahl',
      again: 'Invalid input: expected string, received number',
    });
    expect(count).toBeGreaterThan(40);
  });

  it('loads the nats plugin and its client (a bundle of their own) only for a config that enables it, with the main bundle\'s SDK', () => {
    // validate resolves the enabled plugins, as a start does; the shipped config enables fleet with PRAXIS_FLEET=true.
    const script = `
      const natsBundle = require.resolve('./dist/praxis-agent.nats.js');
      const loaded = require('./bin/load-bundle.js').loadBundle();
      const quiet = { out() {}, err() {} };
      const validate = () => loaded.exports.cli.main(['node', 'praxis-agent', 'validate', '--config', 'agent.config.yaml'], quiet);
      (async () => {
        const off = await validate();
        const before = Boolean(require.cache[natsBundle]);
        process.env.PRAXIS_FLEET = 'true';
        const on = await validate();
        const after = Boolean(require.cache[natsBundle]);
        const plugin = require(natsBundle).default;
        console.log(JSON.stringify({ off, before, on, after, name: plugin.name, sameSdk: require.cache[require.resolve('./dist/index.js')].exports === loaded.exports.sdk }));
      })();`;
    const result = spawnSync(process.execPath, ['-e', script], { cwd: REPO, encoding: 'utf8', timeout: 30_000, env: { ...process.env, PRAXIS_FLEET: 'false' } });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ off: 0, before: false, on: 0, after: true, name: 'nats', sameSdk: true });
    expect(readFileSync(path.join(REPO, 'dist/praxis-agent.js'), 'utf8').includes('@nats-io')).toBe(false);
  });

  it('with --enable-source-maps, names the TypeScript sources in stack traces (through the bundle\'s source map)', () => {
    const script = `
      const { sdk } = require('./bin/load-bundle.js').loadBundle().exports;
      try { new sdk.Backoff({}); } catch (error) { console.log(error.stack.split('\\n')[1]); }`;
    const result = spawnSync(process.execPath, ['--enable-source-maps', '-e', script], { cwd: REPO, encoding: 'utf8', timeout: 30_000 });
    expect(result.stdout).toMatch(/at new Backoff \(.*src\/core\/backoff\.ts:\d+:\d+\)/);
  });
});
