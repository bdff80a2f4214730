import { z } from 'zod';
import { alertingSectionSchema } from '../alerting/config';

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * The one duration type of the config: milliseconds (`1500`) or a whole number with a unit
 * (`500ms`, `10s`, `5m`, `1h`, `14d`); parsed to milliseconds, 0 allowed. Plugins use it too
 * (`durationSchema.refine((ms) => ms > 0, ...)` where 0 makes no sense). It stays a union of
 * number and string: the config loader reports an absent or wrongly typed one as
 * "expected number or string" (src/config/issues.ts).
 */
export const durationSchema = z
  .union(
    [
      z.number().int().nonnegative(),
      z.string().regex(DURATION, 'expected a duration like 500ms, 10s, 5m or 1h'),
    ],
    {
      error: (issue) =>
        issue.input === undefined ? 'missing: expected a duration like 10s, 5m, 1h or 14d' : 'expected a duration like 500ms, 10s, 5m, 1h or 14d, or milliseconds',
    },
  )
  .transform((value) => {
    if (typeof value === 'number') return value;
    const [, amount, unit] = DURATION.exec(value) as RegExpExecArray;
    return Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  })
  .describe('Milliseconds, or a number with a unit: 500ms, 10s, 5m, 1h, 14d.');

/**
 * A bearer token: visible ASCII only (`!` to `~`), no spaces. The Authorization header parser
 * takes the token up to the first whitespace and HTTP headers carry no other characters
 * reliably, so a token with a space, a tab or a non-ASCII letter could never match: it is
 * refused here instead. The message never shows the token.
 */
export const bearerTokenSchema = z
  .string()
  .min(1)
  .regex(/^[\x21-\x7e]+$/, 'a bearer token may only hold visible ASCII characters (no spaces, tabs, line breaks or non-ASCII letters), since it must fit an Authorization header; the token is not shown');

export const overflowPolicySchema = z
  .enum(['block', 'drop_newest', 'drop_oldest'])
  .describe('When a handler queue is full: block the publisher until there is room, drop the new event, or drop the oldest queued event. Drops are counted.');

const queueCapacitySchema = z.number().int().min(1).max(1_000_000);

export const PLUGIN_NAME_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

export const pluginEntrySchema = z
  .strictObject({
    name: z.string().regex(PLUGIN_NAME_PATTERN, 'plugin names are lower-kebab-case').describe('Unique name of this plugin instance; logs, stats and metrics use it.'),
    use: z.string().min(1).describe('Which plugin: a built-in name (event-logger), a path relative to this file (./plugins/mine) or an npm package.'),
    enabled: z.boolean().default(true).describe('Set to false to keep the entry but not load it.'),
    depends_on: z.array(z.string()).default([]).describe('Names of plugin instances that must start before this one (and stop after it).'),
    queue: z
      .strictObject({
        capacity: queueCapacitySchema.optional(),
        overflow: overflowPolicySchema.optional(),
      })
      .optional()
      .describe("Overrides bus.queue_capacity / bus.overflow for this plugin's handlers."),
    delivery: z
      .strictObject({
        rate_limit: z
          .strictObject({
            rate: z.number().positive().describe('Sends allowed per `per`.'),
            per: durationSchema.refine((ms) => ms > 0, 'must be more than 0').describe('The period `rate` counts over, e.g. 1s or 1m.'),
            burst: z.number().int().min(1).default(1).describe('Sends allowed at once before the rate applies.'),
          })
          .optional()
          .describe('Token bucket per sink (and per destination the sink names, e.g. its webhook): throttled notifications wait, none is dropped.'),
        timeout: durationSchema.refine((ms) => ms > 0, 'must be more than 0').optional().describe('One attempt\'s limit; then it is retried.'),
        max_age: durationSchema.refine((ms) => ms > 0, 'must be more than 0').optional().describe('How long a notification is retried before it is dead-lettered (default 1h).'),
        send_resolved: z.boolean().optional().describe('Whether resolved alerts are sent through this sink (default true).'),
      })
      .optional()
      .describe("For a sink plugin: overrides the sink's delivery defaults (rate limit, attempt timeout, max age, send_resolved)."),
    config: z.unknown().optional().describe("The plugin's own settings, validated against its schema."),
  })
  .describe('A plugin to load.');

export const agentSectionSchema = z
  .strictObject({
    name: z.string().min(1).default('praxis-agent').describe('Name of this agent; the `source` of the events it publishes itself.'),
    shutdown_timeout: durationSchema.default(10_000).describe('How long plugins have, together, to stop on SIGTERM/SIGINT.'),
  })
  .describe('The agent process.');

export const logSectionSchema = z
  .strictObject({
    level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    format: z.enum(['auto', 'json', 'pretty']).default('auto').describe('auto: readable on a terminal, JSON lines otherwise.'),
  })
  .describe('Logging (pino).');

export const httpSectionSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Serve the admin and ingest HTTP API.'),
    host: z.string().min(1).default('127.0.0.1').describe('Bind address. Keep 127.0.0.1 unless auth_token is set.'),
    port: z.number().int().min(0).max(65535).default(9780).describe('TCP port; 0 picks a free one (the ready log line says which).'),
    auth_token: bearerTokenSchema.optional().describe('Bearer token required by POST /events (visible ASCII, no spaces); use ${PRAXIS_TOKEN} or ${file:/run/secrets/token}.'),
    body_limit: z.number().int().min(1).default(1_048_576).describe('Largest accepted request body in bytes (413 above it).'),
    dashboard: z.boolean().default(true).describe('Serve the live dashboard at / (built by npm run build; its API calls need auth_token when one is set).'),
  })
  .describe('Admin HTTP server: the dashboard at /, /healthz, /readyz, /metrics, /stats and POST /events.');

export const busSectionSchema = z
  .strictObject({
    queue_capacity: queueCapacitySchema.default(1024).describe('Events each handler may have queued.'),
    overflow: overflowPolicySchema.default('block'),
    error_threshold: z.number().int().min(0).default(100).describe('Errors after which a handler is quarantined (0: never).'),
  })
  .describe('The in-process event bus.');

export const storeSectionSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Keep the event stream on disk (SQLite) so clients can resume and replay (the WebSocket broadcaster, GET /events).'),
    data_dir: z.string().min(1).default('.praxis-data').describe('Folder of the event database (events.db), relative to this config file. One agent per folder.'),
    commit_interval: durationSchema.default(100).describe('Group commit: events are written in one transaction at most this long after arriving. The durability window: a crash loses at most this much of the newest events (0: one commit per event).'),
    max_batch: z.number().int().min(1).max(1_000_000).default(1000).describe('Commit early once this many events are waiting.'),
    max_age: durationSchema.default(604_800_000).describe('Remove events older than this (default 168h = 7 days; 0: no age limit).'),
    max_events: z.number().int().min(0).default(1_000_000).describe('Keep at most this many events, removing the oldest (0: no limit).'),
    retention_interval: durationSchema.default(60_000).describe('How often retention (max_age, max_events) runs.'),
  })
  .describe('The durable event store: every event with a stream offset, for replay after a reconnect or restart.');

/** The whole `agent.config.yaml`, core sections only: each plugin's `config` is checked against its own schema. */
export const agentConfigSchema = z
  .strictObject({
    agent: agentSectionSchema.prefault({}),
    log: logSectionSchema.prefault({}),
    http: httpSectionSchema.prefault({}),
    bus: busSectionSchema.prefault({}),
    store: storeSectionSchema.prefault({}),
    plugins: z.array(pluginEntrySchema).default([]).describe('Plugins, started in this order (after their depends_on), stopped in reverse.'),
    alerting: alertingSectionSchema.optional(),
  })
  .describe('praxis-agent configuration.');

export type AgentConfig = z.output<typeof agentConfigSchema>;
export type PluginEntry = z.output<typeof pluginEntrySchema>;
