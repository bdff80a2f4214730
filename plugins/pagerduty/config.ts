import { templateSchema, z } from 'praxis-agent';

export const SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];
const severityEnum = z.enum(SEVERITIES);

/** `host` or `host:port`, no scheme or path: pdjs always speaks https to `https://${server}/v2/enqueue`. */
const SERVER = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

const severitySchema = z
  .union([
    severityEnum.describe('One severity for every event.'),
    z
      .strictObject({
        label: z.string().min(1).optional().describe('The alert label the severity is read from (default severity); a group takes the highest severity of its firing alerts.'),
        template: templateSchema.optional().describe('Instead of label: a Go template rendering the severity, e.g. {{ .CommonLabels.priority }} (Alertmanager\'s severity field).'),
        map: z
          .record(z.string(), severityEnum)
          .default({})
          .describe('Other values of the label (or template) and the PagerDuty severity each stands for, e.g. { page: critical, ticket: warning }.'),
        default: severityEnum.default('error').describe('The severity when the label is absent or has another value.'),
      })
      .refine((s) => s.label === undefined || s.template === undefined, { message: 'label and template are mutually exclusive', path: ['template'] })
      .describe('Read from an alert label (or rendered by a template), then mapped.'),
  ])
  .describe('PagerDuty severity (critical, error, warning, info): fixed, or read from an alert label (default: the `severity` label, else error).');

const dedupKeySchema = z
  .enum(['group', 'fingerprint'])
  .describe('group (default): one incident per alert group, one event per notification; fingerprint: one incident per alert, one event per alert.');
const clientSchema = templateSchema.describe('The client shown in PagerDuty (default praxis-agent); a Go template or plain text.');

/** A field that is rendered for each notification: Go template or plain text; empty output leaves the field out. */
const text = templateSchema.refine((source) => source.length > 0, 'must not be empty');

/** What a receiver may override; also the top-level fields. */
const destinationFields = {
  routing_key: z.string().min(1).optional().describe('The Events API v2 integration key. A secret: write ${PAGERDUTY_ROUTING_KEY} or ${file:/run/secrets/pd-key}; never logged.'),
  routing_key_file: z.string().min(1).optional().describe('A file holding the integration key (read at start, trimmed); relative to the agent config file. Not with routing_key.'),
  severity: severitySchema.optional(),
  dedup_key: dedupKeySchema.optional(),
  summary: text.optional().describe('Summary (a Go template or plain text), instead of the default "[FIRING:2] group labels: common summary"; at most 1024 characters are sent.'),
  source: text.optional().describe('payload.source, the affected system (a Go template or plain text). Default: the alerts\' common `instance` label, else this machine\'s host name.'),
  component: text.optional().describe('payload.component (a Go template or plain text). Default: the alerts\' common `component` label.'),
  group: text.optional().describe('payload.group (a Go template or plain text). Default: the alerts\' common `service` label.'),
  class: text.optional().describe('payload.class (a Go template or plain text). Default: the alerts\' common `type` label (the event type, e.g. system.error).'),
  client: clientSchema.optional(),
  client_url: z.url({ protocol: /^https?$/ }).optional().describe('A link from the incident back to this agent or a dashboard.'),
  details: z.record(z.string(), templateSchema).optional().describe('Entries added to custom_details, each a Go template or plain text.'),
  links: z
    .array(z.strictObject({ href: z.url({ protocol: /^https?$/ }).describe('Link target.'), text: z.string().optional().describe('Link text.') }))
    .optional()
    .describe('Links shown on the incident (trigger events).'),
  images: z
    .array(
      z.strictObject({
        src: z.url({ protocol: /^https$/ }).describe('Image URL (https).'),
        href: z.url({ protocol: /^https?$/ }).optional().describe('Where a click on the image goes.'),
        alt: z.string().optional().describe('Alternative text.'),
      }),
    )
    .optional()
    .describe('Images shown on the incident (trigger events).'),
};

const receiverSchema = z.strictObject(destinationFields).describe('Overrides for notifications of this receiver.');

export const pagerdutyConfigSchema = z
  .strictObject({
    ...destinationFields,
    severity: severitySchema.prefault({}),
    dedup_key: dedupKeySchema.default('group'),
    client: clientSchema.default('praxis-agent'),
    server: z
      .string()
      .regex(SERVER, 'expected a host or host:port (no https:// and no path), e.g. events.eu.pagerduty.com')
      .default('events.pagerduty.com')
      .describe('The Events API host (https only): events.pagerduty.com, events.eu.pagerduty.com, or host:port of a relay.'),
    tls: z
      .strictObject({
        ca_file: z.string().min(1).optional().describe('PEM file of extra certificate authorities to trust; relative to the agent config file.'),
        insecure_skip_verify: z.boolean().default(false).describe('Accept any server certificate (tests only).'),
      })
      .prefault({})
      .describe('TLS settings for the connection to server.'),
    change_events: z
      .boolean()
      .default(false)
      .describe('Send notices of config.changed alerts (a rule with notice: true) as PagerDuty change events instead of triggers.'),
    receivers: z.record(z.string().min(1), receiverSchema).default({}).describe('Per-receiver overrides, by the receiver\'s name (e.g. another routing_key per team).'),
  })
  .superRefine((config, ctx) => {
    const entries: Array<[Array<string>, { routing_key?: unknown; routing_key_file?: unknown }]> = [[[], config]];
    for (const [name, receiver] of Object.entries(config.receivers ?? {})) entries.push([['receivers', name], receiver]);
    for (const [path, entry] of entries) {
      if (entry?.routing_key !== undefined && entry.routing_key_file !== undefined) {
        ctx.addIssue({ code: 'custom', path: [...path, 'routing_key_file'], message: 'routing_key and routing_key_file are mutually exclusive' });
      }
    }
    const hasKey = entries.some(([, e]) => e?.routing_key !== undefined || e?.routing_key_file !== undefined);
    if (!hasKey) {
      ctx.addIssue({ code: 'custom', path: ['routing_key'], message: 'a PagerDuty sink needs routing_key or routing_key_file (the Events API v2 integration key), here or per receiver under receivers' });
    }
  })
  .describe('Sends alert notifications to PagerDuty (Events API v2): trigger, acknowledge and resolve incidents.');

export type PagerdutyConfig = z.output<typeof pagerdutyConfigSchema>;
export type SeverityConfig = z.output<typeof severitySchema>;
