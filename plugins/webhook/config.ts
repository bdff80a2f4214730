import { durationSchema, z } from 'praxis-agent';

/**
 * The webhook sink's config: one destination (a URL and how to reach it), with per-receiver
 * overrides. Field names follow Alertmanager's `webhook_configs` so an alertmanager.yml entry
 * maps onto it one to one. Messages never echo a URL: it may hold a token.
 */

const urlSchema = z
  .string()
  .min(1, 'is empty')
  .refine((value) => isHttpUrl(value), 'expected an http:// or https:// URL (the value is not shown: it may hold a secret)');

const fileSchema = z.string().min(1, 'is empty');

const positiveDuration = durationSchema.refine((ms) => ms > 0, 'must be longer than 0');

const destinationFields = {
  url: urlSchema.optional().describe('Where to POST (http or https). A secret (it often carries a token): write it as ${WEBHOOK_URL} or ${file:/run/secrets/webhook-url}. Exactly one of url and url_file.'),
  url_file: fileSchema.optional().describe('A file holding the URL (one line), read once at start (a regular file of at most 64 KiB); relative to the agent config file. Instead of url.'),
  max_alerts: z.number().int().nonnegative().optional().describe('At most this many alerts per message, the rest counted in truncatedAlerts (Alertmanager\'s max_alerts). 0: all (default).'),
  timeout: positiveDuration.optional().describe('Give up one request after this long (a retry). Default: the delivery attempt\'s own timeout (delivery.timeout, 10s).'),
  headers: z
    .record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not an HTTP header name'), z.string().regex(/^[^\r\n\0]*$/, 'a header value cannot hold a line break (the value is not shown)'))
    .optional()
    .describe('Extra request headers; values may be secrets (${VAR} / ${file:...}) and never appear in logs or results.'),
};

const tlsConfigSchema = z
  .strictObject({
    ca_file: fileSchema.optional().describe('PEM file of the certificate authorities to trust for an https URL; relative to the agent config file.'),
    cert_file: fileSchema.optional().describe('PEM client certificate (mutual TLS); with key_file.'),
    key_file: fileSchema.optional().describe('PEM private key of cert_file.'),
    server_name: z.string().min(1).optional().describe('The name to verify the server certificate against (and send as SNI), when it is not the URL\'s host.'),
    insecure_skip_verify: z.boolean().default(false).describe('Accept any server certificate. Only for tests: anyone on the path can then read the alerts.'),
  })
  .refine((tls) => (tls.cert_file === undefined) === (tls.key_file === undefined), { message: 'cert_file and key_file go together', path: ['cert_file'] })
  .describe('TLS settings for https URLs (Alertmanager\'s http_config.tls_config).');

const secretValue = (what: string) => z.string().min(1, 'is empty').regex(/^[\x21-\x7e]+$/, `${what} may only hold visible ASCII characters (it goes into a header); the value is not shown`);

const authorizationSchema = z
  .strictObject({
    type: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'expected an authorization scheme such as Bearer').default('Bearer').describe('The scheme (Bearer).'),
    credentials: secretValue('credentials').optional().describe('The credentials (a token): ${VAR} or ${file:...}; never logged.'),
    credentials_file: fileSchema.optional().describe('A file holding the credentials, read once at start; instead of credentials.'),
  })
  .refine((a) => (a.credentials === undefined) !== (a.credentials_file === undefined), { message: 'give exactly one of credentials and credentials_file' })
  .describe('An Authorization header: `<type> <credentials>` (Alertmanager\'s http_config.authorization).');

const basicAuthSchema = z
  .strictObject({
    username: z.string().min(1).describe('User name.'),
    password: z.string().optional().describe('Password: ${VAR} or ${file:...}; never logged.'),
    password_file: fileSchema.optional().describe('A file holding the password, read once at start; instead of password.'),
  })
  .refine((b) => b.password === undefined || b.password_file === undefined, { message: 'give at most one of password and password_file' })
  .describe('HTTP basic authentication (Alertmanager\'s http_config.basic_auth).');

const httpConfigSchema = z
  .strictObject({
    tls_config: tlsConfigSchema.optional(),
    authorization: authorizationSchema.optional(),
    basic_auth: basicAuthSchema.optional(),
    proxy_url: z
      .unknown()
      .optional()
      .refine((value) => value === undefined, 'proxies are not supported yet: Node\'s HTTP client takes none without an extra library; reach the webhook directly or through a transparent proxy')
      .describe('Not supported (a request through an HTTP proxy): set to get a clear error rather than a silent direct connection.'),
  })
  .refine((h) => h.authorization === undefined || h.basic_auth === undefined, { message: 'give at most one of authorization and basic_auth' })
  .describe('How to reach the URL: TLS, authentication (Alertmanager\'s http_config).');

const overridesSchema = z
  .strictObject({ ...destinationFields })
  .refine((o) => o.url === undefined || o.url_file === undefined, { message: 'give at most one of url and url_file', path: ['url_file'] })
  .describe('Settings that differ for this receiver; the others are the sink\'s.');

export const webhookConfigSchema = z
  .strictObject({
    ...destinationFields,
    http_config: httpConfigSchema.default({}),
    external_url: z.string().default('').describe('What the payload says as externalURL (Alertmanager sends its own web address there): e.g. this agent\'s address. Default empty.'),
    agent_fields: z
      .boolean()
      .default(true)
      .describe('Add the agent\'s own fields that Alertmanager\'s payload does not have (recentChanges: probable-cause config changes; acknowledgement per alert), only when they have a value. false: exactly Alertmanager\'s fields.'),
    receivers: z.record(z.string().min(1), overridesSchema).default({}).describe('Per receiver name: overrides of url, url_file, max_alerts, timeout or headers (headers are merged).'),
  })
  .superRefine((c, ctx) => {
    if (c.url !== undefined && c.url_file !== undefined) ctx.addIssue({ code: 'custom', path: ['url_file'], message: 'give at most one of url and url_file' });
    const everyReceiverHasOne = Object.keys(c.receivers).length > 0 && Object.values(c.receivers).every((r) => r.url !== undefined || r.url_file !== undefined);
    if (c.url === undefined && c.url_file === undefined && !everyReceiverHasOne) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'missing: give url (e.g. url: ${WEBHOOK_URL}) or url_file, or one per entry of receivers' });
    }
  })
  .describe('webhook: POSTs each notification as JSON in Alertmanager\'s webhook format (version 4).');

export type WebhookConfig = z.output<typeof webhookConfigSchema>;
export type WebhookOverrides = z.output<typeof overridesSchema>;

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}
