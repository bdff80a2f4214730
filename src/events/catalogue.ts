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
  .custom<Record<string, unknown>>(isObject, { error: expectedRecord })
  .meta({ type: 'object', propertyNames: { type: 'string' }, additionalProperties: {} });

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

function expectedRecord(issue: { input?: unknown }): string {
  return `Invalid input: expected record, received ${typeName(issue.input)}`;
}

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

// The alerting engine's decisions (src/alerting): every decision is an event, so the audit log, the
// WebSocket stream and GET /events show why something was or was not sent.

/**
 * Name → text: an alert's labels or annotations. Every key is kept, like {@link anyObjectSchema}
 * keeps them: `__proto__` is a valid label name, and a record schema would strip it (and so refuse
 * the event). Unlike it, the map is copied: the engine publishes the labels of the alerts it keeps,
 * and a subscriber that changed them must not change an alert's identity.
 */
export const stringMapSchema = z
  .custom<Record<string, string>>(isObject, { error: expectedRecord })
  .superRefine((map, ctx) => {
    for (const key of Object.keys(map)) {
      if (typeof map[key] !== 'string') ctx.addIssue({ code: 'custom', path: [key], message: `Invalid input: expected string, received ${typeName(map[key])}` });
    }
  })
  .meta({ type: 'object', propertyNames: { type: 'string' }, additionalProperties: { type: 'string' } })
  .transform((map) => {
    const copy: Record<string, string> = {};
    // defineProperty, not assignment: a `__proto__` key stays data.
    for (const key of Object.keys(map)) Object.defineProperty(copy, key, { value: map[key], enumerable: true, writable: true, configurable: true });
    return copy;
  });

const labelsSchema = stringMapSchema.describe("The alert's labels (name → value): its identity.");
const annotationsSchema = stringMapSchema.describe('The annotations (name → text): summary, description, runbook_url, ...');

/** Alertmanager's alert fingerprint (src/alerting/fingerprint.ts). */
export const fingerprintSchema = z
  .string()
  .regex(/^[0-9a-f]{16}$/, 'expected a fingerprint: 16 lowercase hex digits')
  .describe("Alertmanager's fingerprint of the labels: 16 lowercase hex digits.");

/** An RFC 3339 timestamp; the offset may be `Z` or `±hh:mm`. */
const rfc3339 = z.iso.datetime({ offset: true });

const alertnameSchema = z.string().describe("The alert's alertname label ('' when it has none).");
const alertOriginSchema = z
  .enum(['event', 'external'])
  .describe("event: made by an alerting rule from the agent's events; external: posted in Alertmanager's form (Prometheus, amtool).");
const receiverSchema = z.string().min(1).describe('The receiver (alerting.receivers[].name).');
const groupKeySchema = z
  .string()
  .min(1)
  .describe('The aggregation group\'s key, as Alertmanager keys it: the route\'s key, ":", the group labels ({}/{team="db"}:{alertname="DiskFull"}).');
const ruleNameSchema = z.string().min(1).optional().describe('The alerting rule that made the alert (its name, or rules[i]); event alerts only.');
const occurrencesSchema = z.number().int().min(1).describe('Matching events (or posts) in this lifecycle so far.');

export const alertPendingSchema = z
  .strictObject({
    fingerprint: fingerprintSchema,
    alertname: alertnameSchema,
    labels: labelsSchema,
    annotations: annotationsSchema,
    starts_at: rfc3339.describe('When this lifecycle began: the first occurrence.'),
    rule: ruleNameSchema,
    occurrences: occurrencesSchema,
  })
  .describe('An alert matched a rule but waits for its `for` / `for_count` before it fires; nothing is sent for it yet.');

export const alertFiringSchema = z
  .strictObject({
    fingerprint: fingerprintSchema,
    alertname: alertnameSchema,
    labels: labelsSchema,
    annotations: annotationsSchema,
    starts_at: rfc3339.describe('When this lifecycle began: the first occurrence, or the posted startsAt.'),
    origin: alertOriginSchema,
    rule: ruleNameSchema,
    occurrences: occurrencesSchema,
  })
  .describe('An alert started firing: it joins the aggregation groups of the routes it matches.');

export const alertResolvedSchema = z
  .strictObject({
    fingerprint: fingerprintSchema,
    alertname: alertnameSchema,
    labels: labelsSchema,
    starts_at: rfc3339.describe('When this lifecycle began.'),
    ends_at: rfc3339.describe('When it resolved.'),
    origin: alertOriginSchema,
    resolved_by: z
      .enum(['recovery', 'resolve_timeout', 'ends_at'])
      .describe("recovery: the condition cleared (e.g. the service is healthy again); resolve_timeout: no matching event within the rule's resolve_timeout; ends_at: an external alert's endsAt passed."),
  })
  .describe('A firing alert resolved.');

export const alertNotifiedSchema = z
  .strictObject({
    notification_id: z.uuid().describe('Ties this notification to its alert.delivery events.'),
    receiver: receiverSchema,
    sinks: z.array(z.string().min(1)).describe("The receiver's sinks (plugin instances) that are to deliver it."),
    group: groupKeySchema,
    group_labels: stringMapSchema.describe("The labels the group is grouped by (the route's group_by labels the alerts have)."),
    status: z.enum(['firing', 'resolved']).describe('firing when any alert in it fires, else resolved.'),
    reason: z
      .enum(['first_notification', 'new_alerts_in_group', 'new_resolved_alerts', 'all_alerts_resolved', 'repeat_interval_elapsed', 'notice', 'acknowledged', 'test'])
      .describe("Why it is sent: Alertmanager's notify reasons, plus notice (a notice rule's one-shot message), acknowledged (an operator acknowledged an alert) and test (praxis-agent alert test)."),
    reminder: z.boolean().describe('Nothing changed since the last notification of this group: a repeat_interval reminder.'),
    fingerprints: z.array(fingerprintSchema).describe('Fingerprints of the alerts in it, firing and resolved.'),
    alerts: z.number().int().min(0).describe('How many alerts it is about, the truncated ones included.'),
    truncated_alerts: z.number().int().min(0).describe('How many of them the per-message cap left out of the message.'),
  })
  .refine((n) => n.truncated_alerts <= n.alerts, {
    path: ['truncated_alerts'],
    message: 'cannot exceed alerts (which counts the truncated ones)',
    // Only compared when both counts are valid, so a bad count is reported once.
    when: (payload) => payload.issues.length === 0,
  })
  .describe('The engine decided to send one notification for one aggregation group to one receiver.');

export const alertDeliverySchema = z
  .strictObject({
    notification_id: z.uuid().describe('The notification (alert.notified) this attempt delivers.'),
    delivery_id: z.number().int().positive().describe('The delivery in the outbox (one per notification and sink): GET /alerts/deliveries lists it, `praxis-agent alert retry ID` retries a dead letter.'),
    receiver: receiverSchema,
    sink: z.string().min(1).describe('The sink (plugin instance) that made the attempt.'),
    group: groupKeySchema,
    attempt: z.number().int().min(1).describe('1 for the first attempt of this sink for this notification.'),
    outcome: z
      .enum(['delivered', 'retry', 'permanent', 'expired'])
      .describe('delivered; retry: failed, tried again after retry_in_ms; permanent: can never succeed, not retried; expired: given up, out of time.'),
    reason: z.string().optional().describe('Why it failed, for operators; never holds a secret.'),
    retry_in_ms: z.number().int().min(0).optional().describe('With retry: when the next attempt is made.'),
  })
  .describe('One attempt of one sink to deliver one notification.');

export const alertSilencedSchema = z
  .strictObject({
    fingerprint: fingerprintSchema,
    alertname: alertnameSchema,
    labels: labelsSchema,
    receiver: receiverSchema,
    group: groupKeySchema,
    silence_ids: z.array(z.string().min(1)).min(1).describe('The active silences that mute it.'),
  })
  .describe('An alert was left out of a notification because a silence mutes it.');

export const alertInhibitedSchema = z
  .strictObject({
    fingerprint: fingerprintSchema,
    alertname: alertnameSchema,
    labels: labelsSchema,
    receiver: receiverSchema,
    group: groupKeySchema,
    inhibit_rule: z.number().int().min(0).describe('The index of the rule in inhibit_rules.'),
    source_fingerprint: fingerprintSchema.describe('The firing alert that inhibits it.'),
  })
  .describe('An alert was left out of a notification because a firing alert inhibits it.');

export const alertMutedSchema = z
  .strictObject({
    receiver: receiverSchema,
    group: groupKeySchema,
    fingerprints: z.array(fingerprintSchema).describe('The alerts whose notification is held.'),
    reason: z
      .enum(['mute_time_intervals', 'active_time_intervals'])
      .describe("mute_time_intervals: one of the route's mute_time_intervals is active; active_time_intervals: none of the route's active_time_intervals is."),
    intervals: z.array(z.string().min(1)).describe('The time intervals that decided: the active mute intervals, or the active_time_intervals none of which is active.'),
  })
  .describe("A route's notifications are held by time intervals; the first flush after the mute ends catches up.");

export const alertAcknowledgedSchema = z
  .strictObject({
    fingerprint: fingerprintSchema,
    alertname: alertnameSchema,
    labels: labelsSchema,
    by: z.string().describe('Who acknowledged it.'),
    comment: z.string(),
    expires_at: rfc3339.optional().describe('When the acknowledgement stops holding; absent: until the alert changes state.'),
  })
  .describe('An operator acknowledged a firing alert: reminders stop until it changes state or the acknowledgement expires.');

/** One matcher of a silence, in Alertmanager API v2's shape (hence camelCase). */
export const silenceMatcherSchema = z.strictObject({
  name: z.string().min(1).describe('Label name.'),
  value: z.string().describe('Label value, or an RE2 regex (fully anchored) when isRegex.'),
  isRegex: z.boolean().describe('=~ / !~ rather than = / !=.'),
  isEqual: z.boolean().describe('false for != / !~.'),
});

const silenceFields = {
  id: z.string().min(1).describe('The silence id.'),
  matchers: z.array(silenceMatcherSchema).min(1).describe('All must match for the silence to mute an alert.'),
  starts_at: rfc3339,
  ends_at: rfc3339,
  created_by: z.string().describe('Author (may be empty, as in the Alertmanager API).'),
  comment: z.string(),
};

export const silenceCreatedSchema = z
  .strictObject({
    ...silenceFields,
    replaced: z.string().min(1).optional().describe('The silence this one replaced (expired), when an update could not change it in place.'),
  })
  .describe('A silence was created.');

export const silenceUpdatedSchema = z.strictObject(silenceFields).describe('A silence was changed in place.');

export const silenceExpiredSchema = z.strictObject(silenceFields).describe('A silence was expired before its end (by an operator, or replaced by an update): ends_at is when it stopped muting.');

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
  'alert.pending': alertPendingSchema,
  'alert.firing': alertFiringSchema,
  'alert.resolved': alertResolvedSchema,
  'alert.notified': alertNotifiedSchema,
  'alert.delivery': alertDeliverySchema,
  'alert.silenced': alertSilencedSchema,
  'alert.inhibited': alertInhibitedSchema,
  'alert.muted': alertMutedSchema,
  'alert.acknowledged': alertAcknowledgedSchema,
  'silence.created': silenceCreatedSchema,
  'silence.updated': silenceUpdatedSchema,
  'silence.expired': silenceExpiredSchema,
} as const;
