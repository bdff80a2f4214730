import { z } from 'zod';

/**
 * The built-in event catalogue: one zod schema per event type, the single source of the
 * TypeScript types (see types.ts), of runtime validation and of the JSON Schema that
 * `praxis-agent schema` prints. `system.error`, `config.changed` and `service.status` follow the
 * spec (../shared/reference/system-events.md) field for field.
 */

export const severitySchema = z
  .enum(['critical', 'error', 'warning', 'info'])
  .describe('How bad it is: critical pages someone, info is for the record.');

export const serviceStatusValueSchema = z.enum(['healthy', 'degraded', 'unhealthy']);

/**
 * An object of any values, passed through exactly as sent. Unlike `z.record(z.string(), z.unknown())`,
 * which strips a `__proto__` key (JSON.parse makes it an ordinary own key), this keeps it as data;
 * nothing is copied, so nothing can be assigned to a prototype either.
 */
export const anyObjectSchema = z
  .custom<Record<string, unknown>>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), {
    error: (issue) => `Invalid input: expected record, received ${issue.input === null ? 'null' : Array.isArray(issue.input) ? 'array' : typeof issue.input}`,
  })
  .meta({ type: 'object', propertyNames: { type: 'string' }, additionalProperties: {} });

const errorFields = {
  severity: severitySchema,
  message: z.string().min(1).describe('What went wrong, for a human.'),
  error_code: z.string().min(1).optional().describe('A stable machine-readable code, e.g. HEALTH_TIMEOUT.'),
  component: z.string().min(1).describe('The component or service where it happened.'),
  diagnostic_data: anyObjectSchema.optional().describe('Anything that helps diagnose it.'),
  stack_trace: z.string().optional(),
};

export const systemErrorSchema = z.strictObject(errorFields).describe('A system error condition.');

export const configChangedSchema = z
  .strictObject({
    config_path: z.string().min(1).describe('`file#dot.path` of the changed key.'),
    old_value: z.unknown().describe('Value before the change (null when the key was added).'),
    new_value: z.unknown().describe('Value after the change (null when the key was removed).'),
    changed_by: z.string().optional().describe('Who changed it.'),
    change_reason: z.string().optional().describe('Why it was changed.'),
  })
  .describe('A configuration value changed.');

export const serviceStatusSchema = z
  .strictObject({
    service_name: z.string().min(1),
    status: serviceStatusValueSchema,
    health_check_results: anyObjectSchema.default({}).describe('Per-check outcome.'),
    metrics: anyObjectSchema.default({}).describe('Latency, consecutive failures, last error, ...'),
  })
  .describe('A service changed health status.');

export const systemHealthSchema = z
  .strictObject({
    status: serviceStatusValueSchema.describe('Overall status: the worst of all services.'),
    services: z
      .record(
        z.string(),
        z.strictObject({
          status: serviceStatusValueSchema,
          last_checked: z.iso.datetime().optional(),
          latency_ms: z.number().nonnegative().optional(),
          message: z.string().optional(),
        }),
      )
      .describe('Per-service summary keyed by service name.'),
    checked_at: z.iso.datetime().optional(),
  })
  .describe('A snapshot of the health of every known service.');

export const systemShutdownSchema = z
  .strictObject({
    reason: z.string().min(1),
    signal: z.string().optional(),
    grace_period_ms: z.number().int().nonnegative().optional().describe('How long plugins have to finish.'),
  })
  .describe('The system is shutting down gracefully.');

export const agentStartingSchema = z.strictObject({
  agent_name: z.string(),
  version: z.string(),
  pid: z.number().int(),
  config_path: z.string().optional(),
});

export const agentStartedSchema = z.strictObject({
  agent_name: z.string(),
  version: z.string(),
  plugins: z.array(z.string()).describe('Names of the plugins that started, in start order.'),
  admin_url: z.string().optional(),
  startup_ms: z.number().nonnegative(),
});

export const agentStoppingSchema = z.strictObject({
  reason: z.string(),
  signal: z.string().optional(),
});

export const agentStoppedSchema = z.strictObject({
  reason: z.string(),
  uptime_ms: z.number().nonnegative(),
  exit_code: z.number().int(),
  failed_plugins: z.array(z.string()).default([]).describe('Plugins that failed or timed out while stopping.'),
});

export const agentErrorSchema = z.strictObject(errorFields).describe('An error inside the agent process.');

/** The built-in event types and their schemas, by type name. */
export const coreEventSchemas = {
  'system.health': systemHealthSchema,
  'system.error': systemErrorSchema,
  'system.shutdown': systemShutdownSchema,
  'config.changed': configChangedSchema,
  'service.status': serviceStatusSchema,
  'agent.starting': agentStartingSchema,
  'agent.started': agentStartedSchema,
  'agent.stopping': agentStoppingSchema,
  'agent.stopped': agentStoppedSchema,
  'agent.error': agentErrorSchema,
} as const;
