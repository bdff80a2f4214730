import { z } from 'zod';
import type { PathIssue } from '../config/issues';
import { isSecretKey, redactText } from '../core/redact';
import type { KeyPath } from '../config/positions';
import { promDuration } from './duration';
import { LABEL_NAME, Matcher, MatcherError, parseMatchers } from './matchers';
import { alertRulesShape, labelMapSchema, labelNameSchema } from './rules';
import { timeIntervalDefinitionSchema } from './time-intervals';

/**
 * Alertmanager's configuration file (`alertmanager.yml`, as of 0.25) as the agent reads it: the
 * same keys with the same meaning and validation rules, so an existing file loads unchanged. What
 * the engine does not implement yet is validated and kept (inhibit_rules, time intervals, the
 * integration configs, global); what it will not implement is refused by name.
 *
 * Two layers: the zod schemas check each value on its own (durations, regexes, label names);
 * {@link checkAlertmanagerConfig} checks what spans the file (receivers and intervals that routes
 * name, unique names, the root route's rules).
 */

const nonZeroDuration = promDuration.refine((ms) => ms > 0, 'cannot be zero');


/** A list of matcher strings, each `name="value"` or a `{...}` list; checked by parsing and compiling each. */
const matcherList = z
  .array(z.string())
  .superRefine((lines, ctx) => {
    for (const [i, line] of lines.entries()) {
      try {
        parseMatchers(line);
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: [i], message: (error as MatcherError).message });
      }
    }
  })
  .describe('Label matchers: name="value", name!="value", name=~"regex", name!~"regex" (RE2, fully anchored).');

/** A legacy `match_re` map: label name → RE2 expression (fully anchored). */
const regexMap = labelMapSchema.superRefine((map, ctx) => {
  for (const [name, value] of Object.entries(map)) {
    try {
      new Matcher('=~', name, value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: [name], message: (error as MatcherError).message });
    }
  }
});

const groupBy = z
  .array(z.string())
  .superRefine((labels, ctx) => {
    for (const [i, label] of labels.entries()) {
      if (label !== '...' && !LABEL_NAME.test(label)) ctx.addIssue({ code: 'custom', path: [i], message: `invalid label name "${label}" in group_by list` });
      else if (labels.indexOf(label) !== i) ctx.addIssue({ code: 'custom', path: [i], message: `duplicated label "${label}" in group_by` });
    }
    if (labels.includes('...') && labels.length > 1) ctx.addIssue({ code: 'custom', message: "cannot have wildcard group_by ('...') and other labels at the same time" });
  })
  .describe("Labels to group alerts by; ['...'] groups by all labels.");

/** One node of the routing tree, as written. */
export interface RouteConfig {
  receiver?: string;
  group_by?: string[];
  continue: boolean;
  matchers?: string[];
  match?: Record<string, string>;
  match_re?: Record<string, string>;
  mute_time_intervals?: string[];
  active_time_intervals?: string[];
  /** Milliseconds. */
  group_wait?: number;
  group_interval?: number;
  repeat_interval?: number;
  routes?: RouteConfig[];
}

/** The routing tree; a child inherits what it does not set (see src/alerting/route.ts). */
export const routeSchema: z.ZodType<RouteConfig, unknown> = z.lazy(() =>
  z
    .strictObject({
      receiver: z.string().optional().describe('Receiver of alerts that end at this route; inherited when unset.'),
      group_by: groupBy.optional(),
      continue: z.boolean().default(false).describe('Keep matching the following sibling routes after this one matched.'),
      matchers: matcherList.optional(),
      match: labelMapSchema.optional().describe('Deprecated in Alertmanager: label name → exact value.'),
      match_re: regexMap.optional().describe('Deprecated in Alertmanager: label name → RE2 regex (fully anchored).'),
      mute_time_intervals: z.array(z.string()).optional().describe('Names of time intervals during which this route sends nothing.'),
      active_time_intervals: z.array(z.string()).optional().describe('Names of time intervals outside which this route sends nothing.'),
      group_wait: promDuration.optional().describe('How long to wait before the first notification of a new group (default 30s).'),
      group_interval: nonZeroDuration.optional().describe('How long to wait before notifying about changes to a group (default 5m).'),
      repeat_interval: nonZeroDuration.optional().describe('How long to wait before repeating a notification that was sent (default 4h).'),
      routes: z.array(routeSchema).optional().describe('Child routes, tried in order.'),
    })
    .describe('A route: which alerts it takes (matchers) and to whom and how they are sent.'),
  // Names the recursive definition in the generated JSON Schema ($defs/alertmanager_route).
).meta({ id: 'alertmanager_route' });

const integrationConfigs = z.array(z.record(z.string(), z.unknown())).optional();

/**
 * Alertmanager integrations the agent does not provide. They are declared (not left to the strict
 * object) so that the error names the integration instead of calling it a misspelt key.
 */
export const UNSUPPORTED_INTEGRATIONS = [
  'discord_configs',
  'opsgenie_configs',
  'wechat_configs',
  'pushover_configs',
  'victorops_configs',
  'sns_configs',
  'telegram_configs',
  'webex_configs',
  'msteams_configs',
  'msteamsv2_configs',
  'jira_configs',
  'rocketchat_configs',
  'incidentio_configs',
] as const;

/** A receiver: `name`, the agent's `sinks`, and Alertmanager's integration configs (kept for delivery, or refused by name). */
export const receiverSchema = z
  .strictObject({
    name: z.string().min(1, 'missing name in receiver').describe('Unique name that routes refer to.'),
    sinks: z.array(z.string().min(1)).default([]).describe('Names of sink plugin instances (under plugins:) that deliver for this receiver; none: notifications are dropped.'),
    email_configs: integrationConfigs.describe("Alertmanager's email integration; kept for the built-in email sink."),
    slack_configs: integrationConfigs.describe("Alertmanager's Slack integration; kept for the built-in Slack sink."),
    pagerduty_configs: integrationConfigs.describe("Alertmanager's PagerDuty integration; kept for the built-in PagerDuty sink."),
    webhook_configs: integrationConfigs.describe("Alertmanager's webhook integration; kept for the built-in webhook sink."),
    ...Object.fromEntries(UNSUPPORTED_INTEGRATIONS.map((key) => [key, z.unknown().optional().describe('Not supported (refused).')])),
  })
  .describe('A receiver: a name routes send to, and the sinks that deliver for it.');

/** An inhibit rule in Alertmanager's form, new (`*_matchers`) and legacy (`*_match`, `*_match_re`). */
export const inhibitRuleSchema = z
  .strictObject({
    source_matchers: matcherList.optional(),
    target_matchers: matcherList.optional(),
    source_match: labelMapSchema.optional(),
    source_match_re: regexMap.optional(),
    target_match: labelMapSchema.optional(),
    target_match_re: regexMap.optional(),
    equal: z.array(labelNameSchema).optional().describe('Labels that must have the same value on the source and the target alert.'),
  })
  .describe('Mutes alerts matching the target while an alert matching the source fires (validated and kept; inhibition comes next).');

/** A receiver as validated. */
export type ReceiverConfig = z.output<typeof receiverSchema>;
/** An inhibit rule as validated (matchers still as strings: parse them with parseMatchers / matchersFromMap). */
export type InhibitRuleConfig = z.output<typeof inhibitRuleSchema>;

/** The keys an alertmanager.yml may hold, each optional; both the imported file and the inline section use them. */
export const alertmanagerShape = {
  global: z
    .looseObject({
      resolve_timeout: promDuration.optional().describe('The end of a posted alert that sets no endsAt: it resolves this long after it was last posted (default 5m).'),
    })
    .optional()
    .describe("Alertmanager's global settings: resolve_timeout is used by the engine; the SMTP, Slack and PagerDuty defaults are kept for delivery."),
  route: routeSchema.optional(),
  receivers: z.array(receiverSchema).default([]),
  inhibit_rules: z.array(inhibitRuleSchema).default([]),
  time_intervals: z.array(timeIntervalDefinitionSchema).default([]),
  mute_time_intervals: z.array(timeIntervalDefinitionSchema).default([]).describe('Deprecated in Alertmanager: the same as time_intervals.'),
  templates: z.array(z.string()).default([]).describe('Notification template files (accepted and kept for delivery).'),
};

/** A whole `alertmanager.yml`, as Alertmanager reads it (unknown keys are errors, as with its strict parser). */
export const alertmanagerConfigSchema = z.strictObject(alertmanagerShape).describe('An Alertmanager configuration file.');

/** A validated Alertmanager configuration. */
export type AlertmanagerConfig = z.output<typeof alertmanagerConfigSchema>;

/** The `alerting:` section of agent.config.yaml: `config_file`, or the same keys inline. */
export const alertingSectionSchema = z
  .strictObject({
    config_file: z.string().min(1).optional().describe("An alertmanager.yml (Alertmanager's own format, unchanged), relative to this config file. Instead of the keys inline."),
    ...alertmanagerShape,
    // The agent's own keys (which events become alerts): beside config_file as well as inline.
    ...alertRulesShape,
    recent_changes_window: promDuration
      .default(15 * 60_000)
      .describe('Notifications carry the config.changed events of this last period (redacted), as probable causes; 0: none.'),
  })
  .describe('Alerting: routing of alerts to receivers, in Alertmanager\'s format, inline or in config_file.');

/** The `alerting:` section as parsed. */
export type AlertingSection = z.output<typeof alertingSectionSchema>;

const INLINE_KEYS = Object.keys(alertmanagerShape);

/**
 * Problems of the `alerting:` section itself: it takes `config_file` or the keys inline, exactly one.
 * `raw` is the section as written (defaults not applied).
 */
export function checkAlertingSection(raw: Record<string, unknown>): PathIssue[] {
  const inline = INLINE_KEYS.filter((key) => Object.hasOwn(raw, key));
  if (raw.config_file !== undefined && inline.length > 0) {
    return inline.map((key) => ({ path: ['alerting', key], code: 'CONFIG_INVALID_VALUE', anchor: 'key', message: `"${key}" cannot be set inline together with alerting.config_file: use one of the two` }));
  }
  if (raw.config_file === undefined && !Object.hasOwn(raw, 'route')) {
    return [{ path: ['alerting', 'route'], code: 'CONFIG_MISSING_KEY', anchor: 'parent', message: 'missing required key "route" (or alerting.config_file naming an alertmanager.yml)' }];
  }
  return [];
}

/** What {@link checkAlertmanagerConfig} needs to know about the rest of the agent config. */
export interface AlertingContext {
  /** Names of the plugin instances declared under `plugins:` (sinks must be among them). */
  pluginNames: ReadonlySet<string>;
}

/**
 * Alertmanager's cross-checks, each problem at the key path to fix (under `prefix`): a route
 * exists and its root has a receiver, no matchers, no time intervals and no `continue`; receivers
 * and time intervals have unique names and every one a route names exists; no unsupported
 * integration; every sink is a declared plugin instance.
 */
export function checkAlertmanagerConfig(config: AlertmanagerConfig, prefix: KeyPath, context: AlertingContext): PathIssue[] {
  const issues: PathIssue[] = [];
  const at = (path: KeyPath, message: string, anchor: PathIssue['anchor'] = 'value', code: PathIssue['code'] = 'CONFIG_INVALID_VALUE'): void => {
    issues.push({ path: [...prefix, ...path], code, anchor, message });
  };

  const receivers = new Set<string>();
  for (const [i, receiver] of config.receivers.entries()) {
    if (receivers.has(receiver.name)) at(['receivers', i, 'name'], `receiver name "${receiver.name}" is not unique`);
    receivers.add(receiver.name);
    for (const key of UNSUPPORTED_INTEGRATIONS) {
      if (Object.hasOwn(receiver, key)) {
        at(['receivers', i, key], `Alertmanager's ${key} integration is not supported; supported: email_configs, slack_configs, pagerduty_configs, webhook_configs, or sinks: [<plugin instance>]`, 'key', 'ALERTING_UNSUPPORTED');
      }
    }
    for (const [k, sink] of receiver.sinks.entries()) {
      if (!context.pluginNames.has(sink)) at(['receivers', i, 'sinks', k], `sink "${sink}" is not a plugin instance declared under plugins:`);
    }
  }

  const intervals = new Set<string>();
  for (const key of ['mute_time_intervals', 'time_intervals'] as const) {
    for (const [i, interval] of config[key].entries()) {
      if (intervals.has(interval.name)) at([key, i, 'name'], `time interval "${interval.name}" is not unique`);
      intervals.add(interval.name);
    }
  }

  const root = config.route;
  if (!root) {
    at(['route'], 'missing required key "route" (no route provided in config)', 'parent', 'CONFIG_MISSING_KEY');
    return issues;
  }
  if (!root.receiver) at(['route'], 'root route must specify a default receiver', 'key', 'CONFIG_MISSING_KEY');
  for (const key of ['matchers', 'match', 'match_re'] as const) {
    if (root[key] !== undefined && Object.keys(root[key]).length > 0) at(['route', key], 'root route must not have any matchers: it takes every alert', 'key');
  }
  for (const key of ['mute_time_intervals', 'active_time_intervals'] as const) {
    if ((root[key]?.length ?? 0) > 0) at(['route', key], `root route must not have any ${key.replace(/_/g, ' ')}`, 'key');
  }
  if (root.continue) at(['route', 'continue'], 'cannot have continue in root route');

  const visit = (route: RouteConfig, path: KeyPath): void => {
    if (route.receiver && !receivers.has(route.receiver)) at([...path, 'receiver'], `undefined receiver "${route.receiver}" used in route${receivers.size > 0 ? ` (receivers: ${[...receivers].join(', ')})` : ''}`);
    for (const key of ['mute_time_intervals', 'active_time_intervals'] as const) {
      for (const [k, name] of (route[key] ?? []).entries()) {
        if (!intervals.has(name)) at([...path, key, k], `undefined time interval "${name}" used in route`);
      }
    }
    for (const [i, child] of (route.routes ?? []).entries()) visit(child, [...path, 'routes', i]);
  };
  visit(root, ['route']);
  return issues;
}

/** Keys whose value is a URL that is itself a secret in Alertmanager (`SecretURL`: Slack's webhook, a webhook's URL). */
const SECRET_URL_KEYS = new Set(['api_url', 'slack_api_url', 'url']);

/**
 * An Alertmanager configuration as written, with its secrets replaced by `<secret>`, as
 * Alertmanager's own `GET /api/v2/status` shows them: the structure is kept (amtool parses it with
 * Alertmanager's parser), the values under secret-looking keys are masked, secret URLs keep only
 * their origin (a URL field must still parse), and credentials in any other URL are redacted.
 */
export function maskAlertmanagerSecrets(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((item) => maskAlertmanagerSecrets(item, key));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskAlertmanagerSecrets(v, k)]));
  }
  if (typeof value !== 'string') return value;
  if (SECRET_URL_KEYS.has(key)) return maskedUrl(value);
  return isSecretKey(key) ? '<secret>' : redactText(value);
}

/** A secret URL as a URL Alertmanager's parser still takes: its origin kept, the rest (where tokens live) masked. */
function maskedUrl(text: string): string {
  try {
    return `${new URL(text).origin}/<secret>`;
  } catch {
    return '<secret>';
  }
}
