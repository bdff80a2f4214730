/**
 * Bundles tsc's output (dist/) into one file, dist/praxis-agent.js: the CLI, the agent, the SDK,
 * praxis-agent/testing and the built-in plugins, with the dependencies they load at start. Loading
 * ~430 modules one by one (resolve, stat, read, wrap, compile) was most of the agent's start-up.
 *
 * Run by `npm run build` after tsc. It bundles tsc's JavaScript, not the TypeScript sources:
 * tsyringe needs the decorator metadata (design:paramtypes) that only tsc emits.
 *
 * One module graph for everyone: bin/praxis-agent.js, the package's entry points (dist/index.js
 * for 'praxis-agent', dist/testing.js for 'praxis-agent/testing', written here) and the built-in
 * plugins (registered with src/plugin/resolve.ts, their `require('praxis-agent')` bundled to the
 * same src/index.js) all use this file's modules, so a third-party plugin's `require('praxis-agent')`
 * gets the same Bus, tokens and tsyringe container as the agent.
 *
 * Built-in plugins in LAZY_PLUGINS are bundled apart, each into dist/praxis-agent.<name>.js with
 * the libraries only it uses, and that file is loaded when a config enables the plugin: the nats
 * plugin and the NATS client are a fifth of the agent's source (360 KB) and run only in fleet mode.
 * Their `require('praxis-agent')` is the package's entry point, dist/index.js, so the main
 * bundle's SDK all the same.
 *
 * Left out, loaded from node_modules when first used: the native better-sqlite3, and modules an
 * idle agent does not load (pino-pretty only for a terminal, prom-client on the first /metrics
 * scrape, re2js for the first regex matcher, nodemailer and pdjs on the first send, cron and luxon
 * for the first cron expression, zod's locales other than English). What is bundled but never run
 * still costs memory: V8 keeps the bundle's whole source as long as the agent runs.
 * Usage: node scripts/bundle.js (writes only when the bundle changed, so an up-to-date dist/ is left untouched).
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const esbuild = require('esbuild');
const { CACHE, cacheKey } = require('../bin/load-bundle.js');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const BUNDLE = path.join(DIST, 'praxis-agent.js');
/** Built-in plugins bundled apart (see above). */
const LAZY_PLUGINS = ['nats'];
const lazyBundle = (name) => `praxis-agent.${name}.js`;
const EXTERNAL = ['@jest/globals', 'better-sqlite3', 'pino-pretty', 'prom-client', 're2js', 'nodemailer', '@pagerduty/pdjs', 'cron'];

/** The built-in plugins tsc compiled: folders of dist/plugins with an index.js. */
function builtinPlugins() {
  const dir = path.join(DIST, 'plugins');
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(dir, d.name, 'index.js')))
    .map((d) => d.name)
    .sort();
}

/** The bundle's entry: lazy getters, so that the CLI does not evaluate the testing helpers and vice versa. */
function entrySource() {
  const loaders = builtinPlugins().map((name) => {
    const file = LAZY_PLUGINS.includes(name) ? `./${lazyBundle(name)}` : `./plugins/${name}/index.js`;
    return `  ${JSON.stringify(name)}: () => require(${JSON.stringify(file)}),`;
  });
  return [
    "require('./src/plugin/resolve.js').registerBundledBuiltins({",
    ...loaders,
    '});',
    'module.exports = {',
    "  get sdk() { return require('./src/index.js'); },",
    "  get testing() { return require('./src/testing/index.js'); },",
    "  get cli() { return require('./src/cli/main.js'); },",
    '};',
    '',
  ].join('\n');
}

/**
 * Every bundled module sees the bundle's __dirname; a module that finds files next to itself
 * (src/agent/version.js reads package.json, src/config/off-thread.js starts its worker,
 * src/plugin/resolve.js lists dist/plugins, thread-stream its worker) gets its own back.
 */
const ownDirname = {
  name: 'own-dirname',
  setup(build) {
    build.onLoad({ filter: /\.c?js$/ }, async (args) => {
      const source = await fs.promises.readFile(args.path, 'utf8');
      if (!/\b__(dirname|filename)\b/.test(source)) return { contents: source, loader: 'js' };
      const rel = (p) => JSON.stringify(path.relative(DIST, p).split(path.sep).join('/'));
      const prologue = `var __dirname = require("node:path").join(__bundleDir, ${rel(path.dirname(args.path))}), __filename = require("node:path").join(__bundleDir, ${rel(args.path)});`;
      return { contents: `${prologue}\n${source}`, loader: 'js' };
    });
  },
};

/** The lazily loaded plugin bundles stay out of the main bundle: its entry requires them by name. */
const lazyPluginBundles = {
  name: 'lazy-plugin-bundles',
  setup(build) {
    build.onResolve({ filter: /^\.\/praxis-agent\.[\w-]+\.js$/ }, (args) => ({ path: args.path, external: true }));
  },
};

/** A lazily loaded plugin's `require('praxis-agent')`: the package's entry points, i.e. the main bundle's SDK. */
const sdkFromEntryPoints = {
  name: 'sdk-from-entry-points',
  setup(build) {
    build.onResolve({ filter: /^praxis-agent(\/testing)?$/ }, (args) => ({ path: args.path === 'praxis-agent' ? './index.js' : './testing.js', external: true }));
  },
};

/** The built-in plugins' `require('praxis-agent')` is the bundle's own SDK, not a second copy. */
const sdkSelfReference = {
  name: 'sdk-self-reference',
  setup(build) {
    build.onResolve({ filter: /^praxis-agent(\/testing)?$/ }, (args) => ({
      path: path.join(DIST, 'src', args.path === 'praxis-agent' ? 'index.js' : 'testing/index.js'),
    }));
  },
};

/**
 * zod as ES modules, not its CommonJS build: tsc's require('zod') would get index.cjs, whose
 * `locales` export requires all ~45 locale modules at load, one wrapped module each (60 ms of a
 * start); as ES modules esbuild hoists them into the bundle's scope, where they cost nothing until used.
 */
const zodAsEsm = {
  name: 'zod-as-esm',
  setup(build) {
    build.onResolve({ filter: /^zod(\/.*)?$/ }, (args) => {
      if (args.kind !== 'require-call' || args.pluginData === 'zod-as-esm') return undefined;
      return build.resolve(args.path, { kind: 'import-statement', resolveDir: args.resolveDir, importer: args.importer, pluginData: 'zod-as-esm' });
    });
  },
};

/**
 * zod's error-message locales (300 KB, a seventh of the bundle's source, which V8 holds in memory
 * as long as the agent runs) stay out of the bundle: `z.locales` (classic and core) is a module of
 * getters that loads zod's own CommonJS locales on first use. English, the default, is bundled:
 * zod imports it directly.
 */
const zodLocalesOnDemand = {
  name: 'zod-locales-on-demand',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => (/[\\/]zod[\\/]v4[\\/](classic|core)[\\/]/.test(args.importer) ? { path: 'zod-locales', namespace: 'zod-locales' } : undefined));
    build.onResolve({ filter: /^zod\/v4\/locales$/, namespace: 'zod-locales' }, () => ({ path: 'zod/v4/locales', external: true }));
    build.onLoad({ filter: /.*/, namespace: 'zod-locales' }, () => {
      const index = fs.readFileSync(require.resolve('zod/v4/locales/index.js'), 'utf8');
      const names = [...index.matchAll(/as (\w+) \}/g)].map((m) => m[1]);
      if (names.length < 40) throw new Error(`zod/v4/locales/index.js: expected its ~45 locales, found ${names.length}`);
      const contents = [
        'let locales;',
        `for (const name of ${JSON.stringify(names)}) Object.defineProperty(exports, name, { enumerable: true, get: () => (locales ??= require('zod/v4/locales'))[name] });`,
      ].join('\n');
      return { contents, loader: 'js' };
    });
  },
};

/**
 * The package's entry points (types stay in dist/src): the bundle's SDK and testing helpers. A
 * process that runs tsc's separate files instead (dist/src/cli/main.js loaded directly) gets those,
 * so that a plugin it loads shares its classes and tokens all the same.
 */
function facade(member, separate) {
  return [
    "'use strict';",
    `// 'praxis-agent${member === 'sdk' ? '' : '/testing'}' (see scripts/bundle.js).`,
    "const bundle = require.resolve('./praxis-agent.js');",
    "const separate = !require.cache[bundle] && require.cache[require.resolve('./src/bus/bus.js')];",
    `module.exports = separate ? require(${JSON.stringify(separate)}) : require(bundle).${member};`,
    '',
  ].join('\n');
}
const FACADES = { 'index.js': facade('sdk', './src/index.js'), 'testing.js': facade('testing', './src/testing/index.js') };

function writeIfChanged(file, contents) {
  if (fs.existsSync(file) && fs.readFileSync(file).equals(Buffer.from(contents))) return false;
  fs.writeFileSync(file, contents);
  return true;
}

const COMMON = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: EXTERNAL,
  banner: { js: 'var __bundleDir = __dirname;' },
  sourcemap: 'linked',
  sourcesContent: false,
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'eof',
  logLevel: 'warning',
  write: false,
  metafile: Boolean(process.env.BUNDLE_METAFILE),
};

async function main() {
  const result = await esbuild.build({
    ...COMMON,
    stdin: { contents: entrySource(), resolveDir: DIST, sourcefile: 'bundle-entry.js', loader: 'js' },
    outfile: BUNDLE,
    plugins: [lazyPluginBundles, sdkSelfReference, zodLocalesOnDemand, zodAsEsm, ownDirname],
  });
  const lazy = await Promise.all(
    LAZY_PLUGINS.map((name) =>
      esbuild.build({
        ...COMMON,
        entryPoints: [path.join(DIST, 'plugins', name, 'index.js')],
        outfile: path.join(DIST, lazyBundle(name)),
        plugins: [sdkFromEntryPoints, ownDirname],
      }),
    ),
  );
  if (result.metafile) fs.writeFileSync(process.env.BUNDLE_METAFILE, JSON.stringify(result.metafile));
  let changed = 0;
  for (const file of [...result.outputFiles, ...lazy.flatMap((r) => r.outputFiles)]) {
    // The bundle's last line is its id, which its code cache must carry (bin/load-bundle.js).
    const contents = file.path === BUNDLE ? withId(file.contents) : file.contents;
    changed += writeIfChanged(file.path, contents);
  }
  for (const [name, contents] of Object.entries(FACADES)) changed += writeIfChanged(path.join(DIST, name), contents);
  if (changed > 0) process.stdout.write(`bundled ${path.relative(ROOT, BUNDLE)}\n`);
  if (!cacheMatches()) writeCodeCache();
}

function withId(contents) {
  const id = crypto.createHash('sha1').update(contents).digest('hex');
  return Buffer.concat([contents, Buffer.from(`\n//# bundle-id=${id}\n`)]);
}

function cacheMatches() {
  const id = /\/\/# bundle-id=([0-9a-f]{40})\s*$/.exec(fs.readFileSync(BUNDLE, 'latin1').slice(-80))?.[1];
  try {
    return id !== undefined && fs.readFileSync(CACHE).subarray(0, 40).toString('latin1') === cacheKey(id);
  } catch {
    return false;
  }
}

/** In a fresh node process, as the agent will load it (no esbuild, no flags of this one). */
function writeCodeCache() {
  const script = `require('./bin/load-bundle.js').writeCodeCache('agent.config.yaml').catch((e) => { console.error(e); process.exit(1); })`;
  const result = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' } });
  if (result.status !== 0) throw new Error(`writing ${path.relative(ROOT, CACHE)} failed`);
}

main().catch((error) => {
  process.stderr.write(`bundle: ${error && error.stack ? error.stack : String(error)}\n`);
  process.exit(1);
});
