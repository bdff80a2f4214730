'use strict';
/**
 * Loads the agent's bundle (dist/praxis-agent.js, see scripts/bundle.js) as require() would, with
 * V8's code cache for it when the build wrote one (dist/praxis-agent.js.cache): compiling the
 * bundle and the functions a start runs was a quarter of the agent's start-up CPU. Node 20 has no
 * module.enableCompileCache, so this does what it does for one file.
 *
 * The cache belongs to one bundle compiled inside one wrapper: its first 40 bytes are a SHA-1 of
 * the bundle's id (its last line, a SHA-1 of its content) and the wrapper, since V8 itself only
 * checks the source's length. A cache that
 * does not match, or that V8 rejects (another node version or V8 flags), is ignored: the bundle
 * compiles as usual. With --enable-source-maps the bundle is require()d, without the cache, so
 * that stack traces name the TypeScript sources.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const vm = require('node:vm');

const BUNDLE = path.join(__dirname, '..', 'dist', 'praxis-agent.js');
const CACHE = `${BUNDLE}.cache`;
const ID_LENGTH = 40;

/** The id the bundle ends with (`//# bundle-id=<sha1>`), or undefined. */
function bundleId(tail) {
  const match = /\/\/# bundle-id=([0-9a-f]{40})\s*$/.exec(tail);
  return match ? match[1] : undefined;
}

/**
 * Our own CommonJS wrapper, written around the bundle as it is read: Module.wrap(source) would
 * make a second 2.2 MB string and leave the first, as garbage in V8's large-object space, resident
 * until the next full GC (3.9 MiB of the agent's idle RSS, the Buffer included). Read into one
 * buffer with the wrapper around it, the bundle becomes one string, and the buffer is freed at once.
 */
const WRAPPER = ['(function (exports, require, module, __filename, __dirname) { ', '\n})'];

/**
 * glibc's malloc raises its mmap threshold to the size of each mmapped block the process frees
 * (up to 32 MiB, DEFAULT_MMAP_THRESHOLD_MAX): freeing the bundle's 1.8 MB buffer and the code
 * cache's 1.3 MB one set it to 1.8 MB for the agent's life, so the blocks V8's helper threads
 * allocate and free during start-up stayed in their malloc arenas instead of being unmapped
 * (1.3 MiB of the idle agent's RSS, A/B in one run). So both files are read into one block larger
 * than that ceiling, which is mapped and unmapped without moving the threshold; only the pages
 * read into are ever touched. Elsewhere (another libc, overcommit refused) it is just a buffer.
 */
const READ_BLOCK = 33 * 2 ** 20;

/** A buffer for `size` bytes: READ_BLOCK when they fit and it can be had. */
function readBuffer(size) {
  if (size <= READ_BLOCK) {
    try {
      return Buffer.allocUnsafeSlow(READ_BLOCK);
    } catch {
      // not granted: the exact size below
    }
  }
  return Buffer.allocUnsafeSlow(size);
}

/** Reads the whole of `fd` (`size` bytes) into `bytes` at `at`. */
function readAll(fd, size, bytes, at, file) {
  let read = 0;
  while (read < size) {
    const n = fs.readSync(fd, bytes, at + read, size - read, read);
    if (n === 0) throw new Error(`${file} changed while it was read`);
    read += n;
  }
}

/** Size of `file`, or undefined when it cannot be read. */
function sizeOf(file) {
  try {
    return fs.statSync(file).size;
  } catch {
    return undefined;
  }
}

/**
 * The bundle's source inside WRAPPER, and its id (from its last line), read into `bytes` (which
 * must hold the wrapped source); `end` is where the wrapped source ends in it.
 */
function readWrapped(bytes) {
  const fd = fs.openSync(BUNDLE, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const [head, foot] = WRAPPER.map((text) => Buffer.from(text, 'latin1'));
    if (bytes === undefined || bytes.length < head.length + size + foot.length) bytes = Buffer.allocUnsafeSlow(head.length + size + foot.length);
    head.copy(bytes, 0);
    readAll(fd, size, bytes, head.length, BUNDLE);
    foot.copy(bytes, head.length + size);
    const end = head.length + size + foot.length;
    const tail = bytes.subarray(head.length + Math.max(0, size - 80), head.length + size).toString('latin1');
    return { source: bytes.toString('utf8', 0, end), id: bundleId(tail), end };
  } finally {
    fs.closeSync(fd);
  }
}

/** What a code cache starts with: it belongs to this bundle, compiled inside this WRAPPER. */
function cacheKey(id) {
  return crypto.createHash('sha1').update(`${id}\0${WRAPPER.join('\0')}`).digest('hex');
}

/**
 * The code cache for the bundle `id`, or undefined. Read into `bytes` from `at` (aligned: V8 copies
 * a cache that is not) when it fits there.
 */
function readCache(id, bytes, at) {
  if (!id) return undefined;
  try {
    const fd = fs.openSync(CACHE, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const start = Math.ceil(at / 64) * 64;
      const data = bytes !== undefined && start + size <= bytes.length ? bytes.subarray(start, start + size) : Buffer.allocUnsafeSlow(size);
      readAll(fd, size, data, 0, CACHE);
      return data.subarray(0, ID_LENGTH).toString('latin1') === cacheKey(id) ? data.subarray(ID_LENGTH) : undefined;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

/**
 * The bundle's module, registered in require's cache under its file name as require() would (the
 * package's entry points, dist/index.js and dist/testing.js, then get this same instance).
 * `useCache: false` compiles without the code cache; the script is returned to write a new one.
 */
function loadBundle({ useCache = true } = {}) {
  const cached = Module._cache[BUNDLE];
  if (cached) return { exports: cached.exports };
  // Node maps stack traces through the bundle's source map (to the TypeScript sources) only for
  // what require() compiled: with --enable-source-maps, that matters more than the cache.
  if (process.sourceMapsEnabled) return { exports: require(BUNDLE), cacheUsed: false };
  // One block for both files (see READ_BLOCK); garbage once compiled.
  const bytes = readBuffer(WRAPPER.join('').length + (sizeOf(BUNDLE) ?? 0) + 64 + (useCache ? (sizeOf(CACHE) ?? 0) : 0));
  const { source, id, end } = readWrapped(bytes);
  const cachedData = useCache ? readCache(id, bytes, end) : undefined;
  const script = new vm.Script(source, {
    filename: BUNDLE,
    cachedData,
    importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const mod = new Module(BUNDLE, module);
  mod.filename = BUNDLE;
  mod.paths = Module._nodeModulePaths(path.dirname(BUNDLE));
  Module._cache[BUNDLE] = mod;
  try {
    script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(BUNDLE), mod, BUNDLE, path.dirname(BUNDLE));
  } catch (error) {
    delete Module._cache[BUNDLE];
    throw error;
  }
  mod.loaded = true;
  return { exports: mod.exports, script, id, cacheUsed: cachedData !== undefined && !script.cachedDataRejected };
}

/**
 * Writes dist/praxis-agent.js.cache from a fresh process: compiles the bundle, runs `validate` on
 * the shipped config (loading the config and every built-in plugin, the functions a start
 * compiles too), then saves the code V8 compiled (`npm run build` calls this after bundling).
 */
async function writeCodeCache(config) {
  const { exports, script, id } = loadBundle({ useCache: false });
  const quiet = { out() {}, err() {} };
  await exports.cli.main(['node', 'praxis-agent', 'validate', '--config', config], quiet);
  if (!id) throw new Error(`${BUNDLE} has no bundle id`);
  fs.writeFileSync(CACHE, Buffer.concat([Buffer.from(cacheKey(id), 'latin1'), script.createCachedData()]));
}

module.exports = { BUNDLE, CACHE, cacheKey, loadBundle, writeCodeCache };
