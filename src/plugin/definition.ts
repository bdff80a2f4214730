import 'reflect-metadata';
import type { z } from 'zod';
import type { SinkDeclaration } from '../alerting/notifier';
import { AgentError, errorTableProblem, type ErrorCodeTable } from '../core/errors';

/**
 * A running plugin. Created by the container with its dependencies injected; creating it must
 * have no side effects (no I/O, no timers): all of that starts in `start()`.
 */
export interface Plugin {
  /**
   * Begins work. Return promptly: long-running work (servers, schedules) is started, not awaited
   * to completion. A throw or rejection fails the agent's start-up with PLUGIN_START_FAILED.
   * `@On` handlers are subscribed after `start()` resolves.
   */
  start?(): void | Promise<void>;
  /**
   * Releases everything the plugin holds. Must be idempotent and safe to call without `start()`.
   * Must finish within `agent.shutdown_timeout`. Before it is called, on every path (shutdown,
   * removal or restart on reload), no new events reach the plugin and the events already queued
   * for it have been delivered, within `agent.shutdown_timeout`: what is still queued then is
   * discarded and counted (PLUGIN_EVENTS_DISCARDED). On a restart, events queued for the old
   * instance go to the new one instead.
   */
  stop?(): void | Promise<void>;
  /**
   * State for the instance that replaces this one, which injects it as `@inject(PREVIOUS_STATE)`.
   * Called only on a restart (a reload that changed the plugin's entry), once `stop()` returned,
   * and also when it threw or ran out of `agent.shutdown_timeout` (judge then whether the state is
   * still good); never on removal or agent shutdown. Must be synchronous and cheap. The value
   * is passed as is, in-process, not serialised, and only to an instance of the same plugin type
   * (definition name; its version may differ, so check the shape). A throw is logged
   * (PLUGIN_HANDOVER_FAILED) and the successor starts without state; the restart goes on.
   */
  handOver?(): unknown;
  /**
   * The plugin's own statistics, read on demand: shown under `components.<name>` on /stats, and
   * every numeric value exported on /metrics as `praxis_component_stat{component,key}`.
   */
  stats?(): Record<string, unknown>;
  /**
   * A few key facts about the plugin's health for operators (e.g. `{ connected: false,
   * pending_events: 120 }`), read on demand and shown with its entry on /readyz and /stats
   * (`plugins[].status`) while it runs. Informational: it does not make the agent unready.
   */
  status?(): Record<string, unknown>;
}

/** Where a CLI command writes. */
export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
}

/**
 * A CLI command a built-in plugin contributes: `name: 'audit verify'` becomes
 * `praxis-agent audit verify ARGS...`. It parses its own arguments (node:util parseArgs) and
 * resolves the exit code. Commands run without starting the agent.
 */
export interface PluginCommand {
  readonly name: string;
  readonly description: string;
  /** Shown in help after the command name, e.g. `FILE... [--key-file F]`. */
  readonly usage?: string;
  run(args: string[], io: CommandIo): number | Promise<number>;
}

/**
 * A plugin class; its constructor parameters are injected by type or by token. `object` rather
 * than `Plugin`: a plugin made only of `@On` handlers needs neither start() nor stop().
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PluginClass = new (...args: any[]) => object;

/** Everything the agent needs to know about a plugin, declared once (see {@link definePlugin}). */
export interface PluginDefinition<S extends z.ZodType = z.ZodType> {
  /** Plugin type name, e.g. `event-logger`; lower-kebab-case. */
  readonly name: string;
  /** The plugin's own version (semver). */
  readonly version: string;
  readonly description?: string;
  /**
   * The plugin's config section, validated before anything starts. It should accept `{}` (every
   * field has a default) so the plugin runs without configuration; `.describe()` each field: the
   * descriptions become the JSON Schema editors use.
   */
  readonly configSchema: S;
  /** Event types this plugin publishes that the core catalogue does not define. */
  readonly events?: Readonly<Record<string, z.ZodType>>;
  /**
   * Error codes this plugin raises (`AgentError`, the `error_code` of the system.error it
   * publishes), each with its meaning: `{ BACKUP_FAILED: 'A backup job failed.' }`. UPPER_SNAKE_CASE,
   * never a core code. The README's error table and /stats list them under the plugin's name; an
   * error event it publishes with a code that is neither its own nor the core's is reported
   * (ERROR_CODE_UNDECLARED).
   */
  readonly errors?: ErrorCodeTable;
  /** Plugin type names that must be declared (and are started) before this one. */
  readonly dependencies?: readonly string[];
  /**
   * Present on a sink (a plugin whose class implements the notifier contract, `Notifier`): its
   * delivery defaults and the Alertmanager integration it stands for.
   */
  readonly sink?: SinkDeclaration;
  /** CLI commands this plugin adds to `praxis-agent` (built-in plugins only). */
  readonly commands?: readonly PluginCommand[];
  /** The implementation; resolved from a child container of the agent's. */
  readonly plugin: PluginClass;
}

/** The validated config type of a plugin definition. */
export type PluginConfig<D extends PluginDefinition> = z.output<D['configSchema']>;

const NAME_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** tsyringe's metadata key for `@inject(TOKEN)` parameters. */
const INJECTION_TOKENS = 'injectionTokens';

/**
 * Throws PLUGIN_INVALID_MODULE when the container could not construct `definition.plugin`: it has
 * constructor parameters, but neither decorator metadata (`design:paramtypes`) nor an `@inject`
 * token tells which. Without this check such a plugin loads and then gets `undefined` for its
 * `Bus` and fails on its first event.
 */
export function assertInjectable(definition: Pick<PluginDefinition, 'name' | 'plugin'>): void {
  const cls = definition.plugin;
  if (cls.length === 0 || Reflect.getMetadata('design:paramtypes', cls) !== undefined) return;
  const tokens = (Reflect.getOwnMetadata(INJECTION_TOKENS, cls) ?? {}) as Record<number, unknown>;
  const untyped = Array.from({ length: cls.length }, (_, i) => i).filter((i) => tokens[i] === undefined);
  if (untyped.length === 0) return;
  throw new AgentError(
    'PLUGIN_INVALID_MODULE',
    `plugin "${definition.name}": class ${cls.name || '(anonymous)'} has ${cls.length} constructor parameter(s) but no decorator metadata, ` +
      `so the agent cannot tell what to inject (parameter${untyped.length === 1 ? '' : 's'} ${untyped.join(', ')}). ` +
      'Compile the plugin with tsc and "experimentalDecorators": true and "emitDecoratorMetadata": true in its tsconfig.json, and decorate the class with @injectable(). ' +
      'tsx, esbuild and Vite never emit decorator metadata; swc does with jsc.transform.decoratorMetadata.',
    { plugin: definition.name, class: cls.name, parameters: cls.length },
  );
}

/**
 * Declares a plugin. Export the result as the module's default export (or as `plugin`). Throws
 * when the name is not lower-kebab-case, or PLUGIN_INVALID_MODULE when the class cannot be
 * injected (compiled without decorator metadata, see {@link assertInjectable}).
 */
export function definePlugin<S extends z.ZodType>(definition: PluginDefinition<S>): PluginDefinition<S> {
  if (!NAME_PATTERN.test(definition.name)) {
    throw new TypeError(`plugin name "${definition.name}" must be lower-kebab-case`);
  }
  const errors = errorTableProblem(definition.errors ?? {});
  if (errors) throw new TypeError(`plugin "${definition.name}": ${errors}`);
  assertInjectable(definition);
  return Object.freeze({ ...definition });
}

/** True when `value` has the shape definePlugin() produces. */
export function isPluginDefinition(value: unknown): value is PluginDefinition {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<PluginDefinition>;
  return (
    typeof v.name === 'string' &&
    typeof v.version === 'string' &&
    typeof v.plugin === 'function' &&
    typeof (v.configSchema as { safeParse?: unknown } | undefined)?.safeParse === 'function'
  );
}
