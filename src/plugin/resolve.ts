import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { AgentError, errorMessage } from '../core/errors';
import { assertInjectable, isPluginDefinition, type PluginDefinition } from './definition';

/** Where a plugin module came from: `plugins/<name>` in this package, a file path, or an npm package. */
export type PluginOrigin = 'builtin' | 'path' | 'package';

export interface ResolvedPlugin {
  use: string;
  origin: PluginOrigin;
  /** The module file that was loaded. */
  file: string;
  definition: PluginDefinition;
}

/** `plugins/` next to `src/` (the same relative place in the sources and in `dist/`). */
export const BUILTIN_PLUGINS_DIR = path.resolve(__dirname, '../../plugins');

/**
 * The built-in plugins' modules compiled into the agent's bundle (dist/praxis-agent.js), by name:
 * there they are loaded from the bundle, which shares the one SDK (its DI tokens and classes) with
 * them. Empty when the agent runs from tsc's separate files (tests, dist/src).
 */
const bundledBuiltins = new Map<string, () => Record<string, unknown>>();

/** Called once by the bundle's entry, before any plugin is resolved. */
export function registerBundledBuiltins(modules: Record<string, () => Record<string, unknown>>): void {
  for (const [name, load] of Object.entries(modules)) bundledBuiltins.set(name, load);
}

/** Names of the built-in plugins (folders of `plugins/` with an entry module). */
export function builtinPluginNames(): string[] {
  if (!existsSync(BUILTIN_PLUGINS_DIR)) return [];
  return readdirSync(BUILTIN_PLUGINS_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && ['index.js', 'index.ts'].some((f) => existsSync(path.join(BUILTIN_PLUGINS_DIR, d.name, f))))
    .map((d) => d.name)
    .sort();
}

/** How `use` will be resolved: a path (starts with . or /), a built-in name, or else an npm package. */
export function originOf(use: string): PluginOrigin {
  if (use.startsWith('.') || path.isAbsolute(use)) return 'path';
  return builtinPluginNames().includes(use) ? 'builtin' : 'package';
}

const TYPESCRIPT_HINT =
  ': it is TypeScript source, which the agent does not compile. Build it with tsc (experimentalDecorators and emitDecoratorMetadata on) and point `use` at the compiled .js file, or at a folder whose package.json `main` names it';

/** True when `request` names TypeScript source: a .ts file, or a folder with index.ts and nothing Node can load. */
function isTypeScriptSource(request: string): boolean {
  return request.endsWith('.ts') ? existsSync(request) : existsSync(`${request}.ts`) || existsSync(path.join(request, 'index.ts'));
}

/**
 * Loads the module named by a plugin entry's `use` and returns its definition. Relative paths are
 * resolved from `baseDir` (the config file's folder), packages from `baseDir` then the working
 * directory. Throws PLUGIN_NOT_FOUND or PLUGIN_INVALID_MODULE.
 */
export function resolvePlugin(use: string, baseDir: string): ResolvedPlugin {
  const origin = originOf(use);
  const request =
    origin === 'builtin' ? path.join(BUILTIN_PLUGINS_DIR, use) : origin === 'path' ? path.resolve(baseDir, use) : use;
  let file: string;
  try {
    file = require.resolve(request, { paths: [baseDir, process.cwd()] });
  } catch {
    const builtins = builtinPluginNames();
    throw new AgentError(
      'PLUGIN_NOT_FOUND',
      `cannot find plugin module "${use}"` +
        (origin === 'package' ? ` (not a built-in plugin: ${builtins.join(', ') || 'none'}; not an installed npm package)` : ` (looked for ${request})`) +
        (origin === 'path' && isTypeScriptSource(request) ? TYPESCRIPT_HINT : ''),
      { use, origin },
    );
  }
  let mod: Record<string, unknown>;
  try {
    const bundled = origin === 'builtin' ? bundledBuiltins.get(use) : undefined;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = bundled ? bundled() : (require(file) as Record<string, unknown>);
  } catch (error) {
    const hint = file.endsWith('.ts') ? TYPESCRIPT_HINT : '';
    throw new AgentError('PLUGIN_INVALID_MODULE', `plugin module "${use}" failed to load: ${errorMessage(error)}${hint}`, { use, file }, { cause: error });
  }
  const definition = [mod.default, mod.plugin, mod].find(isPluginDefinition);
  if (!definition) {
    throw new AgentError('PLUGIN_INVALID_MODULE', `module "${use}" does not export a plugin definition (export default definePlugin({...}))`, { use, file });
  }
  // definePlugin() checks this too; a definition written as a plain object gets the same check.
  try {
    assertInjectable(definition);
  } catch (error) {
    throw new AgentError('PLUGIN_INVALID_MODULE', `plugin module "${use}": ${errorMessage(error)}`, { use, file }, { cause: error });
  }
  return { use, origin, file, definition };
}
