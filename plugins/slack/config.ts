import { durationSchema, templateSchema, z } from 'praxis-agent';

const httpUrl = z
  .string()
  // Never echo the value: it is the secret. zod's url() would quote nothing either, but say so plainly.
  .refine((value) => isHttpUrl(value), 'expected an http:// or https:// URL (the value is not shown: it is a secret)');

/** A Slack colour: `good`, `warning`, `danger` or `#rrggbb`. */
export const SLACK_COLOR = /^(good|warning|danger|#[0-9a-fA-F]{6})$/;

/**
 * A fixed colour, or a Go template rendering one (Alertmanager's `{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}`);
 * a rendered value that is no colour falls back to the severity's.
 */
const colorSchema = z.union([z.string().regex(SLACK_COLOR), templateSchema.refine((source) => source.includes('{{'))], {
  error: 'expected good, warning, danger, a colour like #36a64f, or a Go template rendering one',
});

/** What a receiver may set differently from the sink's own settings. */
const overrideFields = {
  webhook_url: httpUrl.optional().describe('Another incoming webhook for this receiver (a secret: use ${ENV} or ${file:...}).'),
  webhook_url_file: z.string().min(1).optional().describe('A file holding that webhook URL, read at start; relative to the agent config file.'),
  channel: z.string().min(1).optional().describe('Channel to post in (#alerts); only legacy webhooks honour it, an app webhook posts to its own channel.'),
  username: z.string().min(1).optional().describe('Name shown as the sender (legacy webhooks).'),
  icon_emoji: z.string().regex(/^:[a-z0-9_+'-]+:$/, 'expected an emoji code like :rotating_light:').optional().describe('Sender icon as an emoji code (legacy webhooks).'),
  icon_url: z.url({ protocol: /^https?$/ }).optional().describe('Sender icon as an image URL (legacy webhooks).'),
  color: colorSchema.optional().describe('Attachment colour instead of the severity\'s: good, warning, danger, #rrggbb, or a Go template rendering one.'),
  title: templateSchema
    .refine((source) => source.length > 0, 'must not be empty')
    .optional()
    .describe('Header text instead of the default ("FIRING · CRITICAL · 3 alerts · alertname=X"): a Go template (the agent\'s Alertmanager subset) or plain text.'),
  text: templateSchema
    .refine((source) => source.length > 0, 'must not be empty')
    .optional()
    .describe('Message body (Slack mrkdwn) instead of the per-alert sections: a Go template or plain text; label and annotation values in it are escaped.'),
};

const receiverSchema = z.strictObject(overrideFields).describe('Settings for one receiver, over the sink\'s own.');

export const slackConfigSchema = z
  .strictObject({
    ...overrideFields,
    webhook_url: httpUrl
      .optional()
      .describe('The incoming webhook URL (https://hooks.slack.com/services/...). It is a secret: write ${SLACK_WEBHOOK_URL} or ${file:/run/secrets/slack}, never the URL itself.'),
    webhook_url_file: z.string().min(1).optional().describe('A file holding the webhook URL (one line), read at start; relative to the agent config file. Instead of webhook_url.'),
    timeout: durationSchema
      .refine((ms) => ms > 0, 'must be longer than 0')
      .default(10_000)
      .describe('One request\'s limit; the delivery pipeline\'s attempt timeout cuts it off too.'),
    tls: z
      .strictObject({
        ca_file: z.string().min(1).describe('PEM file of certificate authorities to trust for an https webhook (a proxy or a private endpoint); relative to the agent config file.'),
      })
      .optional()
      .describe('TLS for https webhooks.'),
    receivers: z
      .record(z.string().min(1), receiverSchema)
      .default({})
      .describe('Per-receiver overrides, by receiver name (the notification\'s receiver).'),
  })
  .superRefine(
    (config, ctx) => {
      const c = config as Partial<SlackConfig>;
      if (c.webhook_url === undefined && c.webhook_url_file === undefined) {
        ctx.addIssue({ code: 'custom', path: ['webhook_url'], message: 'missing: set webhook_url (e.g. ${SLACK_WEBHOOK_URL}) or webhook_url_file' });
      }
      const both = (path: (string | number)[], o: { webhook_url?: unknown; webhook_url_file?: unknown }): void => {
        if (o.webhook_url !== undefined && o.webhook_url_file !== undefined) ctx.addIssue({ code: 'custom', path: [...path, 'webhook_url_file'], message: 'use either webhook_url or webhook_url_file, not both' });
      };
      both([], c);
      if (typeof c.receivers === 'object' && c.receivers !== null) for (const [name, r] of Object.entries(c.receivers)) if (typeof r === 'object' && r !== null) both(['receivers', name], r);
      const hasHttps = [c.webhook_url, ...Object.values(c.receivers ?? {}).map((r) => (r as { webhook_url?: unknown } | null)?.webhook_url)].some((u) => typeof u === 'string' && u.startsWith('https:'));
      const hasFile = c.webhook_url_file !== undefined || Object.values(c.receivers ?? {}).some((r) => (r as { webhook_url_file?: unknown } | null)?.webhook_url_file !== undefined);
      if (c.tls !== undefined && !hasHttps && !hasFile) ctx.addIssue({ code: 'custom', path: ['tls'], message: 'tls only applies to https:// webhook URLs' });
    },
    { when: () => true },
  )
  .describe('Posts each notification to a Slack incoming webhook as a Block Kit message.');

export type SlackConfig = z.output<typeof slackConfigSchema>;
export type SlackReceiverConfig = z.output<typeof receiverSchema>;

export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}
