import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument, type Document, type YAMLError } from 'yaml';
import type { z } from 'zod';
import { integrationSinks, type IntegrationSink } from '../alerting/integrations';
import { alertingSectionSchema, alertmanagerConfigSchema, alertmanagerShape, checkAlertingSection, checkAlertmanagerConfig, type AlertmanagerConfig } from '../alerting/config';
import { errorMessage, isAgentError, type ErrorCode } from '../core/errors';
import { formatPath } from '../events/registry';
import { originOf, resolvePlugin, type PluginOrigin, type ResolvedPlugin } from '../plugin/resolve';
import { findCycles, startOrder, type DependencyEdge } from './dependencies';
import { duplicateKeyOffsets } from './duplicate-keys';
import { substituteEnv, type SubstitutionProblem, type SubstitutionResult } from './env-substitution';
import { toPathIssues, type IssueContext, type PathIssue } from './issues';
import { SourcePositions, type Anchor, type KeyPath } from './positions';
import { ConfigError, sortProblems, type ConfigProblem } from './problems';
import { SecretValues } from './secret-values';
import { agentConfigSchema, pluginEntrySchema, type AgentConfig, type PluginEntry } from './schema';

export { ConfigError, formatProblem, isConfigError, type ConfigProblem } from './problems';

/**
 * A config is validated once per start or reload: zod's JIT (on an object schema's first parse it
 * generates and compiles a parser with `new Function`) would cost more than it saves, for every
 * object schema of the config and of each plugin's config (2.4 MiB of the shipped config's idle
 * RSS). Schemas parsed often (the event catalogue on the bus) keep their JIT.
 */
const PARSED_ONCE = { jitless: true } as const;

export interface LoadOptions {
  /** Variables for `${VAR}` references; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
}

export interface LoadedPlugin {
  entry: PluginEntry;
  resolved: ResolvedPlugin;
  /** The entry's `config`, parsed by the plugin's own configSchema (defaults applied). */
  config: unknown;
}

export interface LoadedConfig {
  /** Absolute path of the config file. */
  file: string;
  /** Its folder: relative plugin paths and `${file:...}` secrets are resolved from here. */
  baseDir: string;
  config: AgentConfig;
  /**
   * The values that came from secrets (`${file:...}`, `${DB_PASSWORD}`), to mask wherever a
   * message could carry one. Absent on configs not made by loadConfig: nothing to mask.
   */
  secrets?: SecretValues;
  /**
   * The enabled plugins in start order: declared order, except that each plugin's dependencies
   * (depends_on and its definition's dependencies) are moved before it. Stop in reverse.
   */
  plugins: LoadedPlugin[];
  /** The `alerting:` section's Alertmanager configuration (inline or from its config_file); absent without the section. */
  alerting?: AlertmanagerConfig;
  /**
   * That configuration as written (Alertmanager's keys only, without the agent's `sinks`), for
   * `GET /api/v2/status` (`config.original`, which amtool parses with Alertmanager's own parser).
   */
  alertingSource?: Record<string, unknown>;
}

/** One declared plugin entry as `praxis-agent plugins` shows it. */
export interface PluginDescription {
  name: string;
  use: string;
  enabled: boolean;
  origin?: PluginOrigin;
  /** The module file, when it resolved. */
  file?: string;
  version?: string;
  description?: string;
  /** Enabled, resolves, and its config and dependencies are valid. */
  loads: boolean;
  /** The first problem found with this entry. */
  problem?: string;
}

/**
 * Reads, substitutes, validates and resolves a config file. Every problem is collected before
 * anything is thrown, so one run shows everything to fix.
 * @throws ConfigError listing all problems, each with its file position.
 */
export function loadConfig(file: string, options: LoadOptions = {}): LoadedConfig {
  const analysis = analyze(file, options);
  if (analysis.problems.length > 0) throw new ConfigError(sortProblems(analysis.problems));
  const config = analysis.config as AgentConfig;
  const plugins = analysis.order.map((i): LoadedPlugin => {
    const state = analysis.entries[i];
    return { entry: config.plugins[i], resolved: state.resolved as ResolvedPlugin, config: state.config };
  });
  // After the declared plugins: they start after them and stop before them.
  for (const sink of analysis.integrations) {
    const entry: PluginEntry = { name: sink.name, use: sink.use, enabled: true, depends_on: [], delivery: { send_resolved: sink.sendResolved }, config: sink.written };
    plugins.push({ entry, resolved: sink.resolved, config: sink.config });
  }
  return {
    file: analysis.absolute,
    baseDir: analysis.baseDir,
    config,
    secrets: analysis.secrets,
    plugins,
    ...(analysis.alerting && { alerting: analysis.alerting.config, alertingSource: analysis.alerting.source }),
  };
}

/**
 * Every declared plugin entry with what is known about it. Plugin problems are reported per
 * entry instead of thrown; only a file that cannot be read or parsed as YAML throws ConfigError.
 */
export function describePlugins(file: string, options: LoadOptions = {}): PluginDescription[] {
  const analysis = analyze(file, options);
  return analysis.entries.map((state, i) => {
    const definition = state.resolved?.definition;
    const problem = analysis.problems.find((p) => belongsTo(p, i, analysis.entryOfProblem));
    const origin = state.resolved?.origin ?? (state.use !== undefined ? originOf(state.use) : undefined);
    const shown = (key: 'name' | 'use', value: string): string => analysis.secrets.display(formatPath(['plugins', i, key]), value);
    return {
      name: state.name !== undefined ? shown('name', state.name) : `plugins[${i}]`,
      use: shown('use', state.use ?? ''),
      enabled: state.enabled,
      ...(origin && { origin }),
      ...(state.resolved && { file: state.resolved.file }),
      ...(definition && { version: definition.version }),
      ...(definition?.description !== undefined && { description: definition.description }),
      loads: state.enabled && state.resolved !== undefined && problem === undefined,
      ...(problem && { problem: problem.message }),
    };
  });
}

// ---------------------------------------------------------------------------------------------

/** What is known about one `plugins[i]` item. */
interface EntryState {
  /** Raw `name` / `use`, when they are strings (even if the entry is otherwise invalid). */
  name?: string;
  use?: string;
  enabled: boolean;
  /** The entry parsed by pluginEntrySchema; absent when its core keys are invalid. */
  entry?: PluginEntry;
  resolved?: ResolvedPlugin;
  /** Output of the plugin's configSchema, when valid. */
  config?: unknown;
}

interface Analysis {
  absolute: string;
  baseDir: string;
  problems: ConfigProblem[];
  /** Problems concerning an entry that are positioned elsewhere (dependency cycles). */
  entryOfProblem: Map<ConfigProblem, number[]>;
  config?: AgentConfig;
  secrets: SecretValues;
  entries: EntryState[];
  order: number[];
  alerting?: { config: AlertmanagerConfig; source: Record<string, unknown> };
  /** Sink instances made from the Alertmanager integrations of `alerting`'s receivers. */
  integrations: IntegrationSink[];
}

/** Builds problems with positions for one parsed file. */
class ProblemSink {
  readonly problems: ConfigProblem[] = [];
  readonly entryOfProblem = new Map<ConfigProblem, number[]>();

  constructor(
    private readonly file: string,
    private readonly positions: SourcePositions,
    readonly secrets: SecretValues,
  ) {}

  /** Messages are masked: a plugin's error or a module path may quote a value that came from a secret. */
  add(keyPath: KeyPath, anchor: Anchor, code: ErrorCode, message: string, entries?: number[]): void {
    const { line, column } = this.positions.positionOf(keyPath, anchor);
    const problem = { file: this.file, line, column, path: formatPath(keyPath), code, message: this.secrets.mask(message) };
    this.problems.push(problem);
    if (entries) this.entryOfProblem.set(problem, entries);
  }

  addIssues(error: z.ZodError, ctx: IssueContext, skip: (keyPath: string) => boolean = () => false): void {
    for (const issue of toPathIssues(error, ctx)) {
      if (!skip(formatPath(issue.path))) this.add(issue.path, issue.anchor, issue.code, issue.message);
    }
  }
}

function analyze(file: string, options: LoadOptions): Analysis {
  const absolute = path.resolve(file);
  const baseDir = path.dirname(absolute);
  const { doc, positions } = parse(file, absolute);
  const substitution = substituteEnv(doc, { env: options.env ?? process.env, baseDir });
  const secrets = new SecretValues(substitution.secrets, new Map(substitution.secretPaths.map((p) => [formatPath(p.path), p.written])));
  const sink = new ProblemSink(file, positions, secrets);

  const raw = toPlain(doc, file);
  const entries = readEntries(raw);
  reportSubstitutionProblems(substitution.problems, entries, sink);
  const refused = refuseSecretIdentities(substitution.secretPaths, entries, secrets, sink);
  // A value left unsubstituted (or refused) would also fail validation; one problem per value is enough.
  const unsubstituted = new Set([...substitution.problems.map((p) => formatPath(p.path)), ...refused]);

  const parsed = agentConfigSchema.safeParse(raw, PARSED_ONCE);
  if (!parsed.success) sink.addIssues(parsed.error, { schema: agentConfigSchema, input: raw, prefix: [] }, (p) => unsubstituted.has(p));

  checkDuplicateNames(entries, sink);
  for (const [i, state] of entries.entries()) {
    if (state.entry?.enabled) loadEntry(i, state, baseDir, sink, unsubstituted);
  }
  const order = checkDependencies(entries, sink);
  const integrations: IntegrationSink[] = [];
  const alerting = loadAlerting(raw, file, baseDir, entries, sink, integrations);

  return {
    absolute,
    baseDir,
    problems: sink.problems,
    entryOfProblem: sink.entryOfProblem,
    config: parsed.success ? parsed.data : undefined,
    secrets,
    entries,
    order,
    ...(alerting && { alerting }),
    integrations,
  };
}

/**
 * The `alerting:` section's Alertmanager configuration: inline, or read from `config_file` (a
 * path relative to the agent config) and reported against that file's own lines. Undefined when
 * there is no section or it has problems (added to `sink`).
 */
function loadAlerting(raw: unknown, file: string, baseDir: string, entries: readonly EntryState[], sink: ProblemSink, integrations: IntegrationSink[]): { config: AlertmanagerConfig; source: Record<string, unknown> } | undefined {
  // Anything but a map is reported by the agent schema.
  if (!isRecord(raw) || !isRecord(raw.alerting)) return undefined;
  const sectionIssues = checkAlertingSection(raw.alerting);
  for (const issue of sectionIssues) sink.add(issue.path, issue.anchor, issue.code, issue.message);
  const section = alertingSectionSchema.safeParse(raw.alerting, PARSED_ONCE);
  if (sectionIssues.length > 0 || !section.success) return undefined;
  const context = { pluginNames: new Set(entries.flatMap((e) => (e.enabled && e.name !== undefined ? [e.name] : []))) };

  const { config_file: configFile, ...inline } = section.data;
  if (configFile === undefined) {
    const issues = checkAlertmanagerConfig(inline, ['alerting'], context);
    if (issues.length === 0) issues.push(...mapIntegrations(inline, ['alerting'], context.pluginNames, baseDir, baseDir, integrations));
    for (const issue of issues) sink.add(issue.path, issue.anchor, issue.code, issue.message);
    return issues.length === 0 ? { config: inline, source: alertmanagerSource(raw.alerting) } : undefined;
  }

  // Named as the agent config is named (relative stays relative), so FILE:LINE:COL is clickable.
  const shown = path.isAbsolute(configFile) ? configFile : path.join(path.dirname(file), configFile);
  let input: unknown;
  let fileSink: ProblemSink;
  try {
    const { doc, positions } = parse(shown, path.resolve(baseDir, configFile));
    fileSink = new ProblemSink(shown, positions, sink.secrets);
    input = toPlain(doc, shown);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const p of error.problems) {
      if (p.line > 0) sink.problems.push(p);
      else sink.add(['alerting', 'config_file'], 'value', p.code, `${shown}: ${p.message}`);
    }
    return undefined;
  }
  const parsed = alertmanagerConfigSchema.safeParse(input, PARSED_ONCE);
  if (!parsed.success) fileSink.addIssues(parsed.error, { schema: alertmanagerConfigSchema, input, prefix: [] });
  else {
    const issues = checkAlertmanagerConfig(parsed.data, [], context);
    if (issues.length === 0) issues.push(...mapIntegrations(parsed.data, [], context.pluginNames, baseDir, path.dirname(path.resolve(baseDir, configFile)), integrations));
    for (const issue of issues) fileSink.add(issue.path, issue.anchor, issue.code, issue.message);
  }
  sink.problems.push(...fileSink.problems);
  return parsed.success && fileSink.problems.length === 0 ? { config: parsed.data, source: alertmanagerSource(input) } : undefined;
}

/** Alertmanager's keys of a section as written, without what only the agent reads (`sinks`, rules, ...). */
function alertmanagerSource(written: unknown): Record<string, unknown> {
  const source = structuredClone(written) as Record<string, unknown>;
  for (const key of Object.keys(source)) if (!Object.hasOwn(alertmanagerShape, key)) delete source[key];
  if (Array.isArray(source.receivers)) for (const receiver of source.receivers as Record<string, unknown>[]) if (isRecord(receiver)) delete receiver.sinks;
  return source;
}

/** Adds the sink instances made from `config`'s Alertmanager integrations to `integrations`; answers the problems. */
function mapIntegrations(config: AlertmanagerConfig, prefix: KeyPath, taken: ReadonlySet<string>, baseDir: string, filesDir: string, integrations: IntegrationSink[]): PathIssue[] {
  const { sinks, issues } = integrationSinks(config, prefix, taken, (use) => resolvePlugin(use, baseDir), filesDir);
  integrations.push(...sinks);
  return issues;
}

function reportSubstitutionProblems(problems: readonly SubstitutionProblem[], entries: EntryState[], sink: ProblemSink): void {
  for (const p of problems) {
    const [section, i, key] = p.path;
    const entry = section === 'plugins' && typeof i === 'number' ? entries[i] : undefined;
    // An unset variable in a disabled plugin's settings is expected (that is often why it is disabled).
    if (entry && key === 'config' && !entry.enabled) continue;
    // An entry whose name/use/... still holds a `${...}` must not be resolved or cross-checked.
    if (entry && key !== 'config') delete entry.entry;
    sink.add(p.path, 'value', p.code, p.message);
  }
}

/** Why each name-like key cannot hold a secret: where its value is shown. */
const SHOWN_EVERYWHERE = new Map([
  ['agent.name', 'the agent name is the source of every event it publishes and appears in its logs'],
  ['name', 'a plugin name appears in logs, events, /stats and metrics'],
  ['use', "a plugin's use is shown by `praxis-agent plugins` and in logs"],
]);

/**
 * Refuses a secret (`${file:...}`, a secret-looking `${VAR}`) as agent.name or as a plugin's name
 * or use: those values are shown everywhere, so they cannot be masked the way a password can.
 * Returns the refused paths; their entries are not resolved.
 */
function refuseSecretIdentities(secretPaths: SubstitutionResult['secretPaths'], entries: EntryState[], secrets: SecretValues, sink: ProblemSink): string[] {
  const refused: string[] = [];
  for (const { path: keyPath } of secretPaths) {
    const [section, i, key] = keyPath;
    const entry = section === 'plugins' && typeof i === 'number' && keyPath.length === 3 ? entries[i] : undefined;
    const why = section === 'agent' && i === 'name' && keyPath.length === 2 ? SHOWN_EVERYWHERE.get('agent.name') : entry && typeof key === 'string' ? SHOWN_EVERYWHERE.get(key) : undefined;
    if (why === undefined) continue;
    const where = formatPath(keyPath);
    if (entry) delete entry.entry;
    refused.push(where);
    sink.add(keyPath, 'value', 'CONFIG_INVALID_VALUE', `${secrets.display(where, '')} cannot be used here: ${why}; a secret (\${file:...} or a variable named like a password, token or key) is only for settings that are never shown`);
  }
  return refused;
}

/** Reads and parses the YAML; a file that cannot be read or parsed ends the analysis here. */
function parse(file: string, absolute: string): { doc: Document; positions: SourcePositions } {
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (code ?? errorMessage(error));
    throw new ConfigError([{ file, line: 0, column: 0, path: '', code: 'CONFIG_NOT_FOUND', message: `cannot read config file (${reason})` }]);
  }
  const lines = new LineCounter();
  // prettyErrors adds a source excerpt to messages; we report positions ourselves instead.
  // Duplicate keys are found by duplicateKeyOffsets: yaml's own check is quadratic in the keys of a map.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const duplicates = duplicateKeyOffsets(doc).map((offset): ConfigProblem => {
    const { line, col } = lines.linePos(offset);
    return { file, line, column: col, path: '', code: 'CONFIG_YAML_SYNTAX', message: syntaxMessage('DUPLICATE_KEY', 'Map keys must be unique') };
  });
  if (doc.errors.length > 0 || duplicates.length > 0) throw new ConfigError(sortProblems([...syntaxProblems(doc.errors, text, lines, file), ...duplicates]));
  return { doc, positions: new SourcePositions(doc, lines) };
}

/**
 * yaml's errors as problems. One mistake gets special care: a line indented deeper than its
 * siblings (`port: 80` / `   host: x`) is read as the continuation of the value above, and yaml
 * reports two errors at that value. We report one, at the over-indented line, which is the one
 * to fix.
 */
function syntaxProblems(errors: readonly YAMLError[], text: string, lines: LineCounter, file: string): ConfigProblem[] {
  const continued = new Set(errors.filter((e) => e.code === 'MULTILINE_IMPLICIT_KEY').map((e) => e.pos[0]));
  return errors
    .filter((e) => !(e.code === 'BLOCK_AS_IMPLICIT_KEY' && continued.has(e.pos[0])))
    .map((e): ConfigProblem => {
      if (e.code === 'MULTILINE_IMPLICIT_KEY') {
        const { line } = lines.linePos(e.pos[1]);
        const message = 'line indented too far: YAML reads it as part of the value on the line above; align it with the keys it belongs with';
        return { file, line, column: indentOf(text, lines, line) + 1, path: '', code: 'CONFIG_YAML_SYNTAX', message };
      }
      const { line, col } = lines.linePos(e.pos[0]);
      // yaml points a misaligned key at the start of its line; the key itself is what to move.
      const column = e.code === 'BAD_INDENT' ? indentOf(text, lines, line) + 1 : col;
      return { file, line, column, path: '', code: 'CONFIG_YAML_SYNTAX', message: syntaxMessage(e.code, e.message) };
    });
}

/** How many spaces and tabs start 1-based `line`. */
function indentOf(text: string, lines: LineCounter, line: number): number {
  const start = lines.lineStarts[line - 1] ?? 0;
  let end = start;
  while (text[end] === ' ' || text[end] === '\t') end += 1;
  return end - start;
}

/** yaml's message, with a hint where its wording rarely leads people to the actual mistake. */
function syntaxMessage(code: string, message: string): string {
  const hints: Record<string, string> = {
    BAD_INDENT: 'check the indentation',
    TAB_AS_INDENT: 'indent with spaces',
    DUPLICATE_KEY: 'the same key appears twice in this map',
  };
  const hint = hints[code];
  return hint ? `${message} (${hint})` : message;
}

function toPlain(doc: Document, file: string): unknown {
  try {
    // An empty file (or one with only comments) is a config with every default.
    return doc.toJS({ maxAliasCount: 1000 }) ?? {};
  } catch (error) {
    // toJS only throws for alias abuse ("billion laughs"); it is still a broken YAML file.
    throw new ConfigError([{ file, line: 1, column: 1, path: '', code: 'CONFIG_YAML_SYNTAX', message: errorMessage(error) }]);
  }
}

function readEntries(raw: unknown): EntryState[] {
  const items = isRecord(raw) && Array.isArray(raw.plugins) ? (raw.plugins as unknown[]) : [];
  return items.map((item): EntryState => {
    const fields = isRecord(item) ? item : {};
    const parsed = pluginEntrySchema.safeParse(item, PARSED_ONCE);
    return {
      ...(typeof fields.name === 'string' && { name: fields.name }),
      ...(typeof fields.use === 'string' && { use: fields.use }),
      enabled: fields.enabled !== false,
      ...(parsed.success && { entry: parsed.data }),
    };
  });
}

function checkDuplicateNames(entries: readonly EntryState[], sink: ProblemSink): void {
  const first = new Map<string, number>();
  for (const [i, { name }] of entries.entries()) {
    if (name === undefined) continue;
    const earlier = first.get(name);
    if (earlier === undefined) first.set(name, i);
    else sink.add(['plugins', i, 'name'], 'value', 'CONFIG_DUPLICATE_PLUGIN', `plugin name "${name}" is already used by plugins[${earlier}]; names must be unique`);
  }
}

/** Resolves an enabled entry's module and validates its `config` against the plugin's schema. */
function loadEntry(i: number, state: EntryState, baseDir: string, sink: ProblemSink, unsubstituted: ReadonlySet<string>): void {
  const entry = state.entry as PluginEntry;
  try {
    state.resolved = resolvePlugin(entry.use, baseDir);
  } catch (error) {
    const code: ErrorCode = isAgentError(error) && error.code === 'PLUGIN_NOT_FOUND' ? 'PLUGIN_NOT_FOUND' : 'PLUGIN_INVALID_MODULE';
    sink.add(['plugins', i, 'use'], 'value', code, errorMessage(error));
    return;
  }
  const schema = state.resolved.definition.configSchema;
  const input = entry.config ?? {};
  const prefix: KeyPath = ['plugins', i, 'config'];
  let result: z.ZodSafeParseResult<unknown>;
  try {
    result = schema.safeParse(input, PARSED_ONCE);
  } catch (error) {
    // A throwing refinement or transform is the plugin's bug, but it is reported like any value problem.
    sink.add(prefix, 'value', 'CONFIG_INVALID_VALUE', `plugin ${state.resolved.definition.name} could not validate its config: ${errorMessage(error)}`);
    return;
  }
  if (result.success) state.config = result.data;
  else sink.addIssues(result.error, { schema, input, prefix }, (p) => unsubstituted.has(p));
}

/**
 * Checks `depends_on` and definition `dependencies`, reports cycles, and returns the start order
 * of the enabled, valid entries (empty when there is a cycle).
 */
function checkDependencies(entries: readonly EntryState[], sink: ProblemSink): number[] {
  const nodes = entries.flatMap((s, i) => (s.entry?.enabled ? [i] : []));
  const byName = new Map<string, number>();
  for (const i of nodes) if (!byName.has(entries[i].name as string)) byName.set(entries[i].name as string, i);
  const edges: DependencyEdge[] = [];

  for (const i of nodes) {
    const entry = entries[i].entry as PluginEntry;
    for (const [k, dep] of entry.depends_on.entries()) {
      const target = byName.get(dep);
      if (target !== undefined) edges.push({ from: i, to: target, site: ['plugins', i, 'depends_on', k] });
      else if (entries.some((s) => s.name === dep && s.entry === undefined)) continue; // invalid entry, reported already
      else {
        const disabled = entries.some((s) => s.name === dep);
        const why = disabled ? 'which is disabled (enabled: false)' : 'which is not declared in plugins';
        sink.add(['plugins', i, 'depends_on', k], 'value', 'PLUGIN_DEPENDENCY_MISSING', `depends on "${dep}", ${why}`);
      }
    }
    edges.push(...typeDependencies(i, entries, nodes, sink));
  }

  const cycles = findCycles(nodes, edges);
  for (const cycle of cycles) {
    const names = [...cycle.nodes, cycle.nodes[0]].map((n) => entries[n].name).join(' -> ');
    sink.add(cycle.site, 'value', 'PLUGIN_DEPENDENCY_CYCLE', `dependency cycle: ${names}`, cycle.nodes);
  }
  return cycles.length > 0 ? [] : startOrder(nodes, edges);
}

/** Edges to every enabled entry of each plugin type the definition of entry `i` depends on. */
function typeDependencies(i: number, entries: readonly EntryState[], nodes: readonly number[], sink: ProblemSink): DependencyEdge[] {
  const definition = entries[i].resolved?.definition;
  const edges: DependencyEdge[] = [];
  for (const type of definition?.dependencies ?? []) {
    const providers = nodes.filter((j) => j !== i && entries[j].resolved?.definition.name === type);
    edges.push(...providers.map((to) => ({ from: i, to, site: ['plugins', i, 'use'] })));
    // An entry that failed to resolve may well be the provider; its own problem says why.
    const maybeProvider = nodes.some((j) => entries[j].resolved === undefined && entries[j].use === type);
    if (providers.length === 0 && !maybeProvider) {
      sink.add(['plugins', i, 'use'], 'value', 'PLUGIN_DEPENDENCY_MISSING', `plugin ${definition?.name} requires an enabled "${type}" plugin; add an entry with use: ${type}`);
    }
  }
  return edges;
}

function belongsTo(problem: ConfigProblem, i: number, entryOfProblem: Map<ConfigProblem, number[]>): boolean {
  const prefix = `plugins[${i}]`;
  const own = problem.path === prefix || problem.path.startsWith(`${prefix}.`) || problem.path.startsWith(`${prefix}[`);
  return own || (entryOfProblem.get(problem)?.includes(i) ?? false);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
