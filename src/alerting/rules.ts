import { z } from 'zod';
import { eventPatternSchema, eventTypeMatcher } from '../bus/pattern';
import { isSecretKey, redactSecrets, redactValue } from '../core/redact';
import { severitySchema } from '../events/catalogue';
import type { Event } from '../events/types';
import { promDuration } from './duration';
import { LABEL_NAME } from './matchers';

/**
 * `alerting.rules`: which of the agent's events become alerts, and with which labels and
 * annotations. No rule language: a rule names event types, optional conditions on the event's
 * data, and settings; the labels come from the event by a fixed mapping ({@link eventLabels}).
 * Pure: {@link AlertRules.evaluate} turns one event into what the alert table needs
 * (src/alerting/alerts.ts), or nothing.
 */

/** Severities from least to most severe; `min_severity` compares by this order. */
export const SEVERITY_ORDER: readonly z.output<typeof severitySchema>[] = ['info', 'warning', 'error', 'critical'];

/** Five minutes: Alertmanager's `resolve_timeout` default, and the default of a rule. */
export const DEFAULT_RESOLVE_TIMEOUT_MS = 300_000;

/** A Prometheus label name, as config keys and values name labels. */
export const labelNameSchema = z.string().regex(LABEL_NAME, 'not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)');
/** Label (or annotation) name → value. */
export const labelMapSchema = z.record(labelNameSchema, z.string());
// What `for` and `for_count` are when unset, to tell a notice that sets them.
const LIFECYCLE_DEFAULTS = { for: 0, for_count: 1 } as const;

/** One rule, as written under `alerting.rules`. */
export const alertRuleSchema = z
  .strictObject({
    name: z.string().min(1).optional().describe('A name for logs and decisions; rules[i] (its index) otherwise.'),
    event: eventPatternSchema.describe('Which event types the rule takes: an exact type (system.error), "prefix.*" or "*".'),
    min_severity: severitySchema.optional().describe('Only events whose data.severity is at least this (info < warning < error < critical); events without one do not match.'),
    match: z
      .record(z.string().min(1), z.union([z.string(), z.array(z.string()).min(1)]))
      .optional()
      .describe('Conditions on the event data: field (a dot path, e.g. status or metrics.kind) → value or list of values; every field must equal one of its values (compared as text).'),
    ignore: z.boolean().default(false).describe('Matching events become no alert, and the rules after this one (the defaults included) are not tried.'),
    notice: z.boolean().default(false).describe('A one-shot notification for every matching event, routed like an alert, with no lifecycle (no pending, no resolve); e.g. every config.changed.'),
    alertname: z.string().min(1).optional().describe('The alertname label; by default the event\'s error_code, ServiceDown / ServiceDegraded for service.status, else the type in PascalCase (SystemError).'),
    labels: labelMapSchema.default({}).describe('Labels added to the alert; they win over the labels taken from the event.'),
    annotations: labelMapSchema.default({}).describe('Annotations added to the alert (summary, description, runbook_url, ...); they win over the summary and description taken from the event.'),
    for: promDuration.default(LIFECYCLE_DEFAULTS.for).describe('How long the condition must last (repeats keep it active) before the alert fires; pending until then. 0: at once.'),
    for_count: z.number().int().min(1).default(LIFECYCLE_DEFAULTS.for_count).describe('How many occurrences before the alert fires (with `for`: both must be reached).'),
    resolve_timeout: promDuration
      .optional()
      .describe('The alert resolves when no matching event repeated it for this long (default 5m; 0: never by time). For service.status rules the default is 0: a healthy status resolves them.'),
  })
  .superRefine((rule, ctx) => {
    if (!rule.notice) return;
    for (const key of ['for', 'for_count', 'resolve_timeout'] as const) {
      const unset = key === 'resolve_timeout' ? rule[key] === undefined : rule[key] === LIFECYCLE_DEFAULTS[key];
      if (!unset) ctx.addIssue({ code: 'custom', path: [key], message: `a notice has no lifecycle: "${key}" does not apply with notice: true` });
    }
  })
  .describe('A rule: which events become alerts (or notices), and how.');

/** A rule as validated (durations in milliseconds). */
export type AlertRuleConfig = z.output<typeof alertRuleSchema>;

/** The keys `alerting.rules` adds to the `alerting:` section (src/alerting/config.ts spreads them in). */
export const alertRulesShape = {
  labels: labelMapSchema.default({}).describe('Constant labels on every alert made from an event, e.g. { env: prod, agent: edge-1 }; the event\'s own labels win.'),
  default_rules: z.boolean().default(true).describe('Also apply the built-in rules after yours: system.error with severity ≥ warning, agent.error, service.status degraded/unhealthy.'),
  rules: z.array(alertRuleSchema).default([]).describe('Which events become alerts, tried in order; the first matching rule decides.'),
};

/** The rules part of a validated `alerting:` section. */
export type AlertRulesConfig = z.output<z.ZodObject<typeof alertRulesShape>>;

/** The built-in rules, tried after the configured ones unless `default_rules: false` (parsed once: without zod's JIT, see src/config/loader.ts). */
export const DEFAULT_RULES: readonly AlertRuleConfig[] = [
  { name: 'default: system.error', event: 'system.error', min_severity: 'warning' },
  { name: 'default: agent.error', event: 'agent.error' },
  { name: 'default: service.status', event: 'service.status', match: { status: ['degraded', 'unhealthy'] } },
].map((rule) => alertRuleSchema.parse(rule, { jitless: true }));

/** What a matching rule makes of one event: the alert's identity, its texts and its lifecycle settings. */
export interface RuleOutcome {
  /** The rule's name, or `rules[i]` when it has none. */
  rule: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  notice: boolean;
  forMs: number;
  forCount: number;
  /** 0: the alert does not resolve by time. */
  resolveTimeoutMs: number;
}

interface CompiledRule {
  config: AlertRuleConfig;
  name: string;
  takes: (type: string) => boolean;
}

/** The configured rules (then the defaults), compiled once and applied to events. */
export class AlertRules {
  private readonly rules: readonly CompiledRule[];
  private readonly constantLabels: Readonly<Record<string, string>>;

  /**
   * Takes the rules part of a validated `alerting:` section; what is missing takes the schema's
   * defaults. With `agent` (this agent's fleet id, `fleetAgentId`), every alert has an `agent` label: the
   * agent the event came from (its `agent:` tag, set in fleet mode), else this one; `labels.agent`
   * in the config replaces this agent's id.
   */
  constructor(config: Partial<AlertRulesConfig> = {}, agent?: string) {
    this.constantLabels = agent === undefined ? (config.labels ?? {}) : { agent, ...config.labels };
    const configured = (config.rules ?? []).map((rule, i) => compile(rule, `rules[${i}]`));
    const defaults = config.default_rules === false ? [] : DEFAULT_RULES.map((rule) => compile(rule, rule.name ?? 'default'));
    this.rules = [...configured, ...defaults];
  }

  /**
   * The `agent` label an alert made from `event` carries (its `agent:` tag, else this agent's), so
   * that a status of one agent of a fleet ends only that agent's status alerts.
   */
  agentOf(event: Pick<Event, 'metadata'>): string | undefined {
    return tagLabels(event.metadata.tags).agent ?? this.constantLabels.agent;
  }

  /** The outcome of the first rule that matches `event`; undefined when none does or it says `ignore`. */
  evaluate(event: Pick<Event, 'type' | 'data' | 'metadata'>): RuleOutcome | undefined {
    const rule = this.rules.find((r) => r.takes(event.type) && conditionsHold(r.config, event.data));
    if (!rule || rule.config.ignore) return undefined;
    const { config } = rule;
    const derived = eventLabels(event);
    if (config.alertname) derived.alertname = config.alertname;
    return {
      rule: rule.name,
      labels: merged(this.constantLabels, tagLabels(event.metadata.tags), derived, config.labels),
      annotations: merged(eventAnnotations(event), config.annotations),
      notice: config.notice,
      forMs: config.for,
      forCount: config.for_count,
      resolveTimeoutMs: config.resolve_timeout ?? (event.type === 'service.status' ? 0 : DEFAULT_RESOLVE_TIMEOUT_MS),
    };
  }
}

function compile(config: AlertRuleConfig, fallbackName: string): CompiledRule {
  return { config, name: config.name ?? fallbackName, takes: eventTypeMatcher([config.event]) };
}

function conditionsHold(rule: AlertRuleConfig, data: unknown): boolean {
  if (rule.min_severity !== undefined) {
    const severity = SEVERITY_ORDER.indexOf(field(data, 'severity') as never);
    if (severity < SEVERITY_ORDER.indexOf(rule.min_severity)) return false;
  }
  for (const [path, wanted] of Object.entries(rule.match ?? {})) {
    const value = text(field(data, path));
    if (value === undefined || !(Array.isArray(wanted) ? wanted : [wanted]).includes(value)) return false;
  }
  return true;
}

/** The value at a dot path of the event data (own keys only). */
function field(data: unknown, path: string): unknown {
  // Most paths are one key (severity, error_code): no split, no array.
  if (!path.includes('.')) return typeof data === 'object' && data !== null && Object.hasOwn(data, path) ? (data as Record<string, unknown>)[path] : undefined;
  let value = data;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
}

/** `system.error` → `SystemError`. */
function pascalCase(type: string): string {
  return type
    .split(/[._]/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

const SERVICE_ALERTNAMES: Readonly<Record<string, string>> = { unhealthy: 'ServiceDown', degraded: 'ServiceDegraded', healthy: 'ServiceHealthy' };
const SERVICE_SEVERITIES: Readonly<Record<string, string>> = { unhealthy: 'critical', degraded: 'warning', healthy: 'info' };

/**
 * The labels an event gives its alert: `alertname`, `type`, `severity`, `component`, `service`,
 * `source` and `error_code`, each from the event where it has one. `service.status` has no
 * severity: unhealthy is `critical`, degraded `warning`.
 */
export function eventLabels(event: Pick<Event, 'type' | 'data' | 'metadata'>): Record<string, string> {
  const { data } = event;
  const status = event.type === 'service.status' ? text(field(data, 'status')) : undefined;
  const errorCode = text(field(data, 'error_code'));
  const labels: Record<string, string | undefined> = {
    alertname: status !== undefined ? (SERVICE_ALERTNAMES[status] ?? pascalCase(event.type)) : (errorCode ?? pascalCase(event.type)),
    type: event.type,
    severity: text(field(data, 'severity')) ?? (status !== undefined ? SERVICE_SEVERITIES[status] : undefined),
    component: text(field(data, 'component')),
    service: text(field(data, 'service_name')),
    source: event.metadata.source,
    error_code: errorCode,
  };
  return withoutEmptyValues(labels);
}

const TAG_PAIR = /^([a-zA-Z_][a-zA-Z0-9_]*)[=:](.*)$/s;

/**
 * The labels an event's tags give: `name=value` or `name:value` (a valid label name) is the label
 * `name`; every other tag goes into one `tags` label, sorted and comma-wrapped (`,db,nightly,`),
 * Prometheus' convention for lists so that `tags=~".*,db,.*"` matches one tag exactly.
 */
export function tagLabels(tags: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  const bare: string[] = [];
  for (const tag of tags) {
    const pair = TAG_PAIR.exec(tag);
    if (pair) setLabel(labels, pair[1], pair[2]);
    else bare.push(tag);
  }
  if (bare.length > 0) labels.tags = `,${[...new Set(bare)].sort().join(',')},`;
  return labels;
}

/**
 * `summary` and `description` from the event: its message for errors; "X is unhealthy" and the
 * last error for service.status; the changed key, old → new value (secrets redacted), who and why
 * for config.changed.
 */
export function eventAnnotations(event: Pick<Event, 'type' | 'data'>): Record<string, string> {
  const { data } = event;
  const message = text(field(data, 'message'));
  if (event.type === 'service.status') {
    const summary = `${text(field(data, 'service_name')) ?? 'service'} is ${text(field(data, 'status')) ?? 'unknown'}`;
    const lastError = text(field(data, 'metrics.last_error'));
    return { summary, description: lastError ? `${summary}: ${lastError}` : summary };
  }
  if (event.type === 'config.changed') {
    const configPath = text(field(data, 'config_path')) ?? '';
    // The key of `file#a.b.key`: a secret-looking one hides its values whole, others lose their secret parts.
    const secret = isSecretKey(configPath.split(/[.#]/).pop() ?? '');
    const show = (value: unknown): string => (secret && value !== null && value !== undefined ? redactValue(value) : (JSON.stringify(redactSecrets(value)) ?? 'null'));
    const by = text(field(data, 'changed_by'));
    const reason = text(field(data, 'change_reason'));
    const lines = [`${configPath}: ${show(field(data, 'old_value'))} → ${show(field(data, 'new_value'))}`];
    if (by) lines.push(`changed by ${by}`);
    if (reason) lines.push(`reason: ${reason}`);
    return { summary: `Configuration changed: ${configPath}`, description: lines.join('\n') };
  }
  if (message === undefined) return { summary: event.type };
  const severity = text(field(data, 'severity'));
  const component = text(field(data, 'component'));
  const code = text(field(data, 'error_code'));
  const where = [severity, component && `in ${component}`, code && `(${code})`].filter(Boolean).join(' ');
  return { summary: message, description: where ? `${where}: ${message}` : message };
}

/** Prometheus treats an empty label value as no label: drop them (and unset ones), so fingerprints agree with Alertmanager's. */
export function withoutEmptyValues(map: Readonly<Record<string, string | undefined>>): Record<string, string> {
  // A plain loop: it runs for every event a rule matches.
  const out: Record<string, string> = {};
  for (const name of Object.keys(map)) {
    const value = map[name];
    if (value !== undefined && value !== '') setLabel(out, name, value);
  }
  return out;
}

/**
 * The maps merged, later ones winning, without empty values (an empty value in a later map
 * removes the name, as `withoutEmptyValues({ ...a, ...b })` would). One object, no spreads: it
 * runs for every event a rule matches.
 */
function merged(...maps: ReadonlyArray<Readonly<Record<string, string | undefined>>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const map of maps) {
    for (const name of Object.keys(map)) {
      const value = map[name];
      if (value === undefined || value === '') delete out[name];
      else setLabel(out, name, value);
    }
  }
  return out;
}

/** `labels[name] = value`, also for the valid label name `__proto__` (an assignment would set the prototype). */
function setLabel(labels: Record<string, string>, name: string, value: string): void {
  if (name === '__proto__') Object.defineProperty(labels, name, { value, enumerable: true, writable: true, configurable: true });
  else labels[name] = value;
}
