import type { LoadedConfig, LoadedPlugin } from '../config/loader';
import type { AgentConfig } from '../config/schema';
import type { PluginSpec } from '../plugin/plugin-host';
import type { ReloadResult, ReloadStatus } from './agent-control';

/** What a reload does to the plugins, worked out before anything is touched. */
export interface ReloadPlan {
  /** In the old start order, reversed (stop order). */
  stop: string[];
  /** The new plugins in start order, each with what to do. */
  steps: { action: 'start' | 'restart' | 'keep'; plugin: LoadedPlugin }[];
  /** Top-level config sections other than `plugins` that differ. */
  restartRequired: string[];
}

/**
 * Compares the running config with the new one. A plugin is restarted when its `use`, `config`,
 * `queue`, `depends_on` or `enabled` differ, or when it is not running (a failed plugin is tried
 * again); entries are matched by `name`.
 */
export function planReload(running: LoadedConfig, next: LoadedConfig, isRunning: (name: string) => boolean): ReloadPlan {
  const before = new Map(running.plugins.map((p) => [p.entry.name, p]));
  const after = new Set(next.plugins.map((p) => p.entry.name));
  const stop = [...running.plugins].reverse().map((p) => p.entry.name).filter((name) => !after.has(name));
  const steps = next.plugins.map((plugin) => {
    const old = before.get(plugin.entry.name);
    const action = !old ? 'start' : entryChanged(old, plugin) || !isRunning(plugin.entry.name) ? 'restart' : 'keep';
    return { action, plugin } as const;
  });
  const restartRequired = changedSections(running.config, next.config);
  // An edited alertmanager.yml leaves `alerting.config_file` as it was: compare what it loaded.
  if (!restartRequired.includes('alerting') && stableJson(running.alerting ?? null) !== stableJson(next.alerting ?? null)) restartRequired.push('alerting');
  return { stop, steps, restartRequired: restartRequired.sort() };
}

/** Core sections (`agent`, `log`, `http`, `bus`, and any added later) whose values differ. */
export function changedSections(running: AgentConfig, next: AgentConfig): string[] {
  const keys = new Set([...Object.keys(running), ...Object.keys(next)]);
  keys.delete('plugins');
  return [...keys].filter((key) => stableJson((running as Record<string, unknown>)[key]) !== stableJson((next as Record<string, unknown>)[key])).sort();
}

function entryChanged(a: LoadedPlugin, b: LoadedPlugin): boolean {
  const fields = (p: LoadedPlugin): unknown => ({
    use: p.entry.use,
    module: p.resolved.file,
    enabled: p.entry.enabled,
    depends_on: p.entry.depends_on,
    queue: p.entry.queue ?? null,
    config: p.entry.config ?? null,
  });
  return stableJson(fields(a)) !== stableJson(fields(b));
}

/** JSON with object keys sorted, so that reordering keys in YAML is not a change. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : v,
  ) ?? 'undefined';
}

/** The host's view of a loaded plugin entry. */
export function specOf(p: LoadedPlugin): PluginSpec {
  return { name: p.entry.name, use: p.entry.use, definition: p.resolved.definition, config: p.config, ...(p.entry.queue ? { queue: p.entry.queue } : {}) };
}

/**
 * The config the agent runs on after a reload: the new plugin entries, the running core
 * sections (they take effect only when the agent restarts, so the next reload still reports them).
 * Plugins in `rolledBack` run on their previous entry, so it stays theirs (and the next reload
 * tries the new one again).
 */
export function effectiveConfig(running: LoadedConfig, next: LoadedConfig, rolledBack: ReadonlySet<string> = new Set()): LoadedConfig {
  const previous = new Map(running.plugins.map((p) => [p.entry.name, p]));
  const plugins = next.plugins.map((p) => (rolledBack.has(p.entry.name) ? (previous.get(p.entry.name) ?? p) : p));
  const entries = next.config.plugins.map((e) => (rolledBack.has(e.name) ? (previous.get(e.name)?.entry ?? e) : e));
  return { ...next, plugins, config: { ...running.config, plugins: entries } };
}

/** One sentence saying what a reload did. */
export function describeReload(result: ReloadResult): string {
  const parts: string[] = [];
  if (result.restarted.length > 0) parts.push(`restarted ${result.restarted.join(', ')}`);
  if (result.started.length > 0) parts.push(`started ${result.started.join(', ')}`);
  if (result.stopped.length > 0) parts.push(`stopped ${result.stopped.join(', ')}`);
  for (const f of result.failed) parts.push(`${f.plugin} failed to start: ${f.error}${f.rolled_back ? ` (rolled back: ${f.plugin} keeps running on its previous entry)` : ''}`);
  for (const [plugin, count] of Object.entries(result.discarded ?? {})) parts.push(`${count} event(s) queued for ${plugin} were discarded`);
  if (parts.length === 0) parts.push('no plugin entry changed');
  if (result.restart_required.length > 0) parts.push(`restart required to apply ${result.restart_required.join(', ')}`);
  return `config reloaded (${result.reason}): ${parts.join('; ')}`;
}

/** HTTP status of `POST /-/reload` for each outcome. */
export function reloadHttpStatus(status: ReloadStatus): number {
  return { applied: 200, unchanged: 200, invalid: 422, partial: 500, unavailable: 503 }[status];
}
