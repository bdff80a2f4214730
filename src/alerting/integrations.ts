import path from 'node:path';
import type { PathIssue } from '../config/issues';
import type { KeyPath } from '../config/positions';
import { errorMessage } from '../core/errors';
import type { ResolvedPlugin } from '../plugin/resolve';
import type { AlertmanagerConfig } from './config';

/**
 * Alertmanager's integrations (`email_configs`, `slack_configs`, `pagerduty_configs`,
 * `webhook_configs` of a receiver) as instances of the built-in sink plugins, so an imported
 * alertmanager.yml delivers unchanged: each entry becomes one sink instance, configured by the
 * sink's own `AlertmanagerIntegration.toConfig` and validated by its schema, and is added to the
 * receiver's `sinks`. Problems are reported at the entry in the file, never at send time.
 */

/** Which built-in sink stands for each Alertmanager integration. */
export const INTEGRATION_SINKS = { email_configs: 'email', slack_configs: 'slack', pagerduty_configs: 'pagerduty', webhook_configs: 'webhook' } as const;

export type IntegrationKey = keyof typeof INTEGRATION_SINKS;

/** Alertmanager's `send_resolved` defaults per integration (config/notifiers.go). */
const DEFAULT_SEND_RESOLVED: Record<IntegrationKey, boolean> = { email_configs: false, slack_configs: false, pagerduty_configs: true, webhook_configs: true };

/** One sink instance made from an integration entry. */
export interface IntegrationSink {
  /** Its plugin instance name, e.g. `ops-email-0`. */
  name: string;
  /** The built-in sink, e.g. `email`. */
  use: string;
  receiver: string;
  resolved: ResolvedPlugin;
  /** The plugin config as mapped from the entry (what a reload compares). */
  written: Record<string, unknown>;
  /** The plugin config, validated by the sink's schema. */
  config: unknown;
  sendResolved: boolean;
}

/**
 * The sink instances for every integration entry of `config`'s receivers, and the problems
 * (at `prefix` + `receivers[i].<key>[j]...`). Adds each instance's name to its receiver's `sinks`
 * when there is no problem. `taken`: plugin instance names already declared.
 */
export function integrationSinks(
  config: AlertmanagerConfig,
  prefix: KeyPath,
  taken: ReadonlySet<string>,
  resolve: (use: string) => ResolvedPlugin,
  baseDir: string,
): { sinks: IntegrationSink[]; issues: PathIssue[] } {
  const sinks: IntegrationSink[] = [];
  const issues: PathIssue[] = [];
  const names = new Set(taken);
  const global = absoluteFiles(config.global ?? {}, baseDir);
  for (const [i, receiver] of config.receivers.entries()) {
    for (const key of Object.keys(INTEGRATION_SINKS) as IntegrationKey[]) {
      for (const [j, entry] of (receiver[key] ?? []).entries()) {
        const at = [...prefix, 'receivers', i, key, j];
        const problem = (path: KeyPath, message: string): void => void issues.push({ path: [...at, ...path], code: 'CONFIG_INVALID_VALUE', anchor: path.length > 0 ? 'key' : 'value', message });
        const use = INTEGRATION_SINKS[key];
        let resolved: ResolvedPlugin;
        try {
          resolved = resolve(use);
        } catch (error) {
          problem([], `${key} needs the built-in ${use} sink, which could not be loaded: ${errorMessage(error)}`);
          continue;
        }
        const integration = resolved.definition.sink?.alertmanager;
        if (integration?.key !== key) {
          problem([], `the built-in ${use} plugin does not declare Alertmanager's ${key}`);
          continue;
        }
        let mapped: ReturnType<typeof integration.toConfig>;
        try {
          mapped = integration.toConfig(absoluteFiles(entry, baseDir), { global, receiver: receiver.name });
        } catch (error) {
          problem([], `${use}: could not read this ${key} entry: ${errorMessage(error)}`);
          continue;
        }
        if ('problems' in mapped) {
          for (const p of mapped.problems) problem(p.path, p.message);
          continue;
        }
        const { send_resolved: sendResolved, ...pluginConfig } = mapped.config as Record<string, unknown>;
        const parsed = resolved.definition.configSchema.safeParse(pluginConfig);
        if (!parsed.success) {
          for (const issue of parsed.error.issues) problem([], `as ${use} sink config, ${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
          continue;
        }
        const name = uniqueName(`${slug(receiver.name)}-${use}-${j}`, names);
        names.add(name);
        receiver.sinks = [...receiver.sinks, name];
        sinks.push({ name, use, receiver: receiver.name, resolved, written: pluginConfig, config: parsed.data, sendResolved: typeof sendResolved === 'boolean' ? sendResolved : DEFAULT_SEND_RESOLVED[key] });
      }
    }
  }
  return { sinks, issues };
}

/** A copy with every relative path under a `*_file` key made absolute from `baseDir`. */
function absoluteFiles(value: Readonly<Record<string, unknown>>, baseDir: string): Record<string, unknown> {
  const walk = (v: unknown, key?: string): unknown => {
    if (typeof v === 'string' && key?.endsWith('_file') && v !== '' && !path.isAbsolute(v)) return path.resolve(baseDir, v);
    if (Array.isArray(v)) return v.map((item) => walk(item));
    if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, walk(item, k)]));
    return v;
  };
  return walk(value) as Record<string, unknown>;
}

/** A receiver name as the start of a lower-kebab-case plugin instance name. */
function slug(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return /^[a-z]/.test(s) ? s : `r-${s || 'receiver'}`.replace(/-+$/, '');
}

function uniqueName(base: string, names: ReadonlySet<string>): string {
  if (!names.has(base)) return base;
  for (let n = 2; ; n++) if (!names.has(`${base}-${n}`)) return `${base}-${n}`;
}
