import { createHash } from 'node:crypto';
import { durationSchema, z } from 'praxis-agent';
import { loadCron } from './cron';

const positiveDuration = durationSchema.refine((ms) => ms > 0, 'must be longer than 0');

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const nameSchema = z.string().regex(NAME, 'use letters, digits, "-", "_" and "."');

const severitySchema = z.enum(['critical', 'error', 'warning', 'info']);

/** An HTTP status (`200`) or a class of them (`"2xx"`). */
const statusSpecSchema = z.union([z.number().int().min(100).max(599), z.string().regex(/^[1-5]xx$/, 'expected a status code or a class like "2xx"')]);

const commonCheckFields = {
  interval: positiveDuration.optional().describe('Run every this long (10s, 1m). Default 30s; heartbeat checks: the smaller of window and 30s. Not with schedule.'),
  schedule: z
    .string()
    .refine((expr) => loadCron().validateCronExpression(expr).valid, 'not a valid cron expression (5 or 6 fields: [second] minute hour day month weekday)')
    .optional()
    .describe('A cron expression, with an optional leading seconds field ("*/15 * * * * *"); instead of interval.'),
  timeout: positiveDuration.default(5000).describe('A check still running after this long fails with HEALTH_TIMEOUT and is cut off.'),
  degraded_after_ms: z.number().int().positive().optional().describe('A passing check slower than this makes its service degraded.'),
};

const httpCheckSchema = z
  .strictObject({
    kind: z.literal('http').describe('An HTTP(S) request that must answer with an expected status (and body).'),
    ...commonCheckFields,
    url: z
      .url({ protocol: /^https?$/, error: (issue) => (issue.input === undefined ? undefined : 'expected an http:// or https:// URL') })
      .describe('The URL to request.'),
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']).default('GET').describe('HTTP method.'),
    headers: z
      .record(z.string(), z.string())
      .default({})
      .describe('Request headers. Values never appear in events or logs (use ${VAR} / ${file:...} for secrets).'),
    body: z.string().optional().describe('Request body to send.'),
    expect_status: z.array(statusSpecSchema).min(1).default(['2xx']).describe('Statuses that pass: codes (200) or classes ("2xx").'),
    body_contains: z.string().min(1).optional().describe('The response body must contain this text.'),
    body_matches: z
      .string()
      .min(1)
      .refine((source) => isRegExp(source), 'not a valid regular expression')
      .optional()
      .describe('The response body must match this regular expression.'),
    json: z
      .record(z.string().min(1), z.unknown())
      .optional()
      .describe('Dotted paths into the JSON response body and the value each must equal, e.g. {"status": "ok", "checks.0.up": true}.'),
    tls_verify: z.boolean().default(true).describe('Verify the server certificate (https); false accepts self-signed certificates.'),
    ca_file: z.string().min(1).optional().describe('PEM file of extra certificate authorities to trust (https); relative to the agent config file.'),
    cert_expiry_warning: durationSchema
      .default(14 * 86_400_000)
      .describe('https: the service is degraded when its certificate expires within this long (14d); 0 turns it off.'),
  })
  .describe('HTTP check.');

const tcpCheckSchema = z
  .strictObject({
    kind: z.literal('tcp').describe('A TCP connection to host:port must open.'),
    ...commonCheckFields,
    host: z.string().min(1).default('127.0.0.1').describe('Host name or address.'),
    port: z.number().int().min(1).max(65535).describe('TCP port.'),
  })
  .describe('TCP check.');

const execCheckSchema = z
  .strictObject({
    kind: z.literal('exec').describe('A command must exit 0 within the timeout.'),
    ...commonCheckFields,
    command: z
      .union([z.array(z.string().min(1)).min(1), z.string().min(1)])
      .describe('The program and its arguments as a list (no shell); a string only with shell: true.'),
    shell: z.boolean().default(false).describe('Run command through /bin/sh (then it may be a string).'),
    cwd: z.string().min(1).optional().describe('Working directory, relative to the agent config file; default: the config file\'s folder.'),
    env: z.record(z.string(), z.string()).default({}).describe('Extra environment variables.'),
  })
  .describe('Command check.');

const processCheckSchema = z
  .strictObject({
    kind: z.literal('process').describe('A process must be alive, found by PID file or by name.'),
    ...commonCheckFields,
    pid_file: z.string().min(1).optional().describe('File holding the PID of the process; relative to the agent config file.'),
    process_name: z.string().min(1).optional().describe('Name of the process (as in /proc/PID/comm, or its program name).'),
  })
  .describe('Process check.');

const dnsCheckSchema = z
  .strictObject({
    kind: z.literal('dns').describe('A host name must resolve (optionally to an expected address).'),
    ...commonCheckFields,
    hostname: z.string().min(1).describe('The name to resolve (uses the system resolver, /etc/hosts included).'),
    expect_address: z.array(z.string().min(1)).min(1).optional().describe('At least one of these addresses must be among the answers.'),
    family: z.union([z.literal(4), z.literal(6)]).optional().describe('Resolve IPv4 (4) or IPv6 (6) only.'),
  })
  .describe('DNS check.');

const heartbeatCheckSchema = z
  .strictObject({
    kind: z.literal('heartbeat').describe('Push check: fails when no report arrives within window.'),
    ...commonCheckFields,
    window: positiveDuration.describe('A report must arrive at least this often (e.g. 25h for a nightly job).'),
  })
  .describe('Heartbeat (dead man\'s switch): reported by `praxis-agent emit service.heartbeat`, POST /heartbeat/<check> or AgentClient.');

export const checkSchema = z.discriminatedUnion('kind', [
  httpCheckSchema,
  tcpCheckSchema,
  execCheckSchema,
  processCheckSchema,
  dnsCheckSchema,
  heartbeatCheckSchema,
]);

const serviceSchema = z
  .strictObject({
    checks: z.record(nameSchema, checkSchema).describe('The checks of this service, by name.'),
    depends_on: z.array(z.string().min(1)).default([]).describe('Services this one depends on: while one is unhealthy it is reported as the cause and this service raises no system.error.'),
    failure_threshold: z.number().int().min(1).default(3).describe('Consecutive failures of a passing check before it counts as failing (a check\'s first result counts at once).'),
    success_threshold: z.number().int().min(1).default(2).describe('Consecutive successes of a failing check before it counts as passing again.'),
    severity: severitySchema.optional().describe('Severity of the system.error raised when this service turns unhealthy (default: the plugin\'s severity).'),
  })
  .describe('A service and its checks.');

export const healthProbeConfigSchema = z
  .strictObject({
    services: z.record(nameSchema, serviceSchema).default({}).describe('The services to check, by name (the service_name of their events).'),
    snapshot_interval: durationSchema.default(60_000).describe('How often to publish a system.health snapshot of every service; 0 turns it off.'),
    severity: severitySchema.default('error').describe('Severity of the system.error raised when a service turns unhealthy.'),
    flapping: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Detect services that change status too often.'),
        max_transitions: z.number().int().min(1).default(5).describe('More status changes than this within window marks the service flapping.'),
        window: positiveDuration.default(600_000).describe('The window status changes are counted in.'),
        stable_for: positiveDuration.default(300_000).describe('A flapping service must keep one status this long before transitions are published again.'),
      })
      .prefault({})
      .describe('Flapping detection: one service.status with metrics.flapping = true, then transitions are held until the service is stable.'),
  })
  // Cross-field rules run even when other keys have problems (`when`), so `validate` lists every
  // problem at once; the value may then be partly invalid, hence the shape guards.
  .superRefine(
    (config, ctx) => {
      if (!isObject(config.services)) return;
      const services = config.services as Record<string, Partial<ServiceConfig>>;
      const heartbeatOwner = new Map<string, string>();
      for (const [serviceName, service] of Object.entries(services)) {
        if (!isObject(service)) continue;
        if (isObject(service.checks)) {
          if (Object.keys(service.checks).length === 0) {
            ctx.addIssue({ code: 'custom', path: ['services', serviceName, 'checks'], message: 'a service needs at least one check' });
          }
          for (const [checkName, check] of Object.entries(service.checks as Record<string, Partial<CheckConfig>>)) {
            if (!isObject(check)) continue;
            checkRules(check, ['services', serviceName, 'checks', checkName], ctx);
            if (check.kind === 'heartbeat') {
              const owner = heartbeatOwner.get(checkName);
              if (owner !== undefined) {
                ctx.addIssue({
                  code: 'custom',
                  path: ['services', serviceName, 'checks', checkName],
                  message: `heartbeat check "${checkName}" is also declared by service "${owner}"; heartbeat names must be unique (reports name only the check)`,
                });
              }
              heartbeatOwner.set(checkName, serviceName);
            }
          }
        }
        if (!Array.isArray(service.depends_on)) continue;
        for (const [i, dependency] of service.depends_on.entries()) {
          if (dependency === serviceName) ctx.addIssue({ code: 'custom', path: ['services', serviceName, 'depends_on', i], message: 'a service cannot depend on itself' });
          else if (typeof dependency === 'string' && !(dependency in services)) {
            ctx.addIssue({ code: 'custom', path: ['services', serviceName, 'depends_on', i], message: `unknown service "${dependency}" (declared: ${Object.keys(services).join(', ')})` });
          }
        }
      }
      const graph = Object.fromEntries(
        Object.entries(services).map(([name, s]) => [name, isObject(s) && Array.isArray(s.depends_on) ? s.depends_on.filter((d) => typeof d === 'string') : []]),
      );
      const cycle = findCycle(graph);
      if (cycle) ctx.addIssue({ code: 'custom', path: ['services', cycle[0], 'depends_on'], message: `services depend on each other in a cycle: ${cycle.join(' -> ')}` });
    },
    { when: () => true },
  )
  .describe('Checks the services next to the agent and publishes service.status, system.health and system.error.');

export type HealthProbeConfig = z.output<typeof healthProbeConfigSchema>;
export type ServiceConfig = HealthProbeConfig['services'][string];
export type CheckConfig = z.output<typeof checkSchema>;
export type CheckKind = CheckConfig['kind'];
export type CheckOf<K extends CheckKind> = Extract<CheckConfig, { kind: K }>;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Rules that span several keys of one check. */
function checkRules(check: Partial<CheckConfig>, path: (string | number)[], ctx: z.core.$RefinementCtx): void {
  const c = check as Record<string, unknown>;
  if (c.interval !== undefined && c.schedule !== undefined) {
    ctx.addIssue({ code: 'custom', path: [...path, 'schedule'], message: 'use either interval or schedule, not both' });
  }
  if (c.kind === 'exec' && typeof c.command === 'string' && c.shell !== true) {
    ctx.addIssue({ code: 'custom', path: [...path, 'command'], message: 'a command string needs shell: true; without a shell give a list: ["program", "arg"]' });
  }
  if (c.kind === 'process' && (c.pid_file === undefined) === (c.process_name === undefined)) {
    ctx.addIssue({ code: 'custom', path, message: 'a process check needs exactly one of pid_file or process_name' });
  }
  if (c.kind === 'http' && c.ca_file !== undefined && typeof c.url === 'string' && !c.url.startsWith('https:')) {
    ctx.addIssue({ code: 'custom', path: [...path, 'ca_file'], message: 'ca_file only applies to https:// URLs' });
  }
}

function isRegExp(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

/** The first dependency cycle found, as a path that ends where it starts; undefined when there is none. */
function findCycle(graph: Record<string, string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done' || !(node in graph)) return undefined;
    if (state.get(node) === 'visiting') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'visiting');
    stack.push(node);
    for (const next of graph[node]) {
      const found = visit(next);
      if (found) return found;
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of Object.keys(graph)) {
    const found = visit(node);
    if (found) return found;
  }
  return undefined;
}

/**
 * Identifies a check's configuration across a restart: same fingerprint, same check, so it keeps
 * its state. The config is the parsed (zod) value, whose keys come in schema order, so plain JSON
 * is stable for an unchanged check.
 */
export function checkFingerprint(check: CheckConfig): string {
  return createHash('sha256').update(JSON.stringify(check)).digest('hex');
}
