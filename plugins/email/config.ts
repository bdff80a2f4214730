import { durationSchema, templateSchema, z } from 'praxis-agent';

const positiveDuration = durationSchema.refine((ms) => ms > 0, 'must be longer than 0');

/** `ops@example.com` or `Ops <ops@example.com>`; the SMTP server judges the rest. */
const addressSchema = z
  .string()
  .regex(/^[^\r\n]*\S+@\S+[^\r\n]*$/, 'expected an e-mail address like ops@example.com or "Ops <ops@example.com>"');

const recipientsSchema = z.array(addressSchema).min(1, 'expected at least one address');

/** A header name (RFC 5322 field name) and a one-line value: a CR or LF would let a value inject headers. */
const headersSchema = z
  .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]*$/, 'expected a header name like X-Priority'), z.string().regex(/^[^\r\n]*$/, 'a header value must be one line'))
  .superRefine((headers, ctx) => {
    for (const name of Object.keys(headers)) {
      if (['to', 'from'].includes(name.toLowerCase())) ctx.addIssue({ code: 'custom', path: [name], message: `set ${name.toLowerCase()} (the envelope follows it), not the header` });
      if (name.toLowerCase() === 'subject') ctx.addIssue({ code: 'custom', path: [name], message: 'set subject (a template, or fixed text), not the header' });
    }
  });

/** The three templates, at the top and per receiver (README "Templates"). */
const templateFields = {
  subject: templateSchema.optional().describe('Go template (Alertmanager subset) of the subject; default "[FIRING:N] alertname (group labels)". Line breaks become spaces.'),
  text: templateSchema.optional().describe('Go template of the plain-text body; default: the built-in listing of the alerts and probable causes. "" leaves the text part out.'),
  html: templateSchema
    .optional()
    .describe('Go template of the HTML body; every value from the data is HTML-escaped before it goes in. Default: the built-in listing. "" leaves the HTML part out.'),
};

/** `host:port` or `[v6 address]:port`, as Alertmanager's smarthost. */
const SMARTHOST = /^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+):(\d{1,5})$/;

export const emailConfigSchema = z
  .strictObject({
    smarthost: z
      .string()
      .regex(SMARTHOST, 'expected "host:port", e.g. "smtp.example.com:587"')
      .optional()
      .describe('The SMTP server as "host:port" (Alertmanager\'s smarthost); or host and port.'),
    host: z.string().min(1).optional().describe('The SMTP server\'s host name or address; instead of smarthost.'),
    port: z.number().int().min(1).max(65535).optional().describe('The SMTP port with host: default 465 when secure, else 587.'),
    secure: z
      .boolean()
      .optional()
      .describe('Implicit TLS from the first byte (SMTPS, usually port 465). Default: true on port 465, else false (then STARTTLS, see require_tls).'),
    require_tls: z
      .boolean()
      .default(true)
      .describe('Refuse to send unless the server offers STARTTLS and the upgrade succeeds (Alertmanager\'s default too); false sends in clear text when the server offers no STARTTLS.'),
    tls: z
      .strictObject({
        ca_file: z.string().min(1).optional().describe('PEM file of extra certificate authorities to trust; relative to the agent config file.'),
        reject_unauthorized: z.boolean().default(true).describe('Verify the server certificate; false accepts any (a self-signed one, and an attacker\'s).'),
        server_name: z.string().min(1).optional().describe('The name to verify the certificate against (and to send as SNI); default: the host.'),
      })
      .default({ reject_unauthorized: true })
      .describe('TLS of the connection (implicit or STARTTLS).'),
    auth: z
      .strictObject({
        username: z.string().min(1).describe('SMTP AUTH user name.'),
        password: z.string().min(1).optional().describe('SMTP AUTH password: write "${SMTP_PASSWORD}" or "${file:/run/secrets/smtp}", never the password itself.'),
        password_file: z
          .string()
          .min(1)
          .optional()
          .describe('A file holding the password (trailing newline ignored), read at start and before each send; relative to the agent config file. Instead of password.'),
      })
      .optional()
      .describe('SMTP AUTH (PLAIN or LOGIN, whichever the server offers); absent: no authentication.'),
    // Optional here only so that an empty config reports every missing key at once (see superRefine).
    from: addressSchema.optional().describe('The sender address (From and envelope sender); required.'),
    to: z.array(addressSchema).default([]).describe('Recipients of every notification, unless receivers.<name>.to names others.'),
    headers: headersSchema.default({}).describe('Extra headers of every mail (not To, From or Subject: see to, from, subject).'),
    ...templateFields,
    connection_timeout: positiveDuration.default(10_000).describe('Give up when the TCP (or TLS) connection is not open after this long.'),
    greeting_timeout: positiveDuration.default(10_000).describe('Give up when the server has not greeted this long after connecting.'),
    socket_timeout: positiveDuration.default(20_000).describe('Give up when the connection is idle this long in the middle of a command.'),
    receivers: z
      .record(
        z.string().min(1),
        z
          .strictObject({
            to: recipientsSchema.optional().describe('Recipients for this receiver instead of to.'),
            from: addressSchema.optional().describe('Sender for this receiver instead of from.'),
            headers: headersSchema.optional().describe('Headers for this receiver, over (and merged with) headers.'),
            ...templateFields,
          })
          .describe('Overrides for the notifications of one alerting receiver.'),
      )
      .default({})
      .describe('Per alerting receiver (the receiver\'s name) overrides of to, from, headers, subject, text and html.'),
  })
  .superRefine((c, ctx) => {
    if (c.from === undefined) ctx.addIssue({ code: 'custom', path: ['from'], message: 'missing: the sender address, e.g. "Alerts <alerts@example.com>"' });
    if (c.smarthost === undefined && c.host === undefined) {
      ctx.addIssue({ code: 'custom', path: ['smarthost'], message: 'missing: set smarthost ("host:port") or host (and port)' });
    }
    if (c.smarthost !== undefined && c.host !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['host'], message: 'set smarthost or host, not both' });
    }
    if (c.smarthost !== undefined && c.port !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['port'], message: 'smarthost already names the port; drop port' });
    }
    if (c.smarthost !== undefined) {
      const port = Number(SMARTHOST.exec(c.smarthost)?.[2]);
      if (port < 1 || port > 65535) ctx.addIssue({ code: 'custom', path: ['smarthost'], message: 'the port must be between 1 and 65535' });
    }
    if (c.auth && (c.auth.password === undefined) === (c.auth.password_file === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['auth'], message: 'set exactly one of password ("${SMTP_PASSWORD}", "${file:/path}") and password_file' });
    }
    for (const [path, t] of [[[], c] as const, ...Object.entries(c.receivers).map(([name, r]) => [['receivers', name], r] as const)]) {
      if (t.text === '' && t.html === '') ctx.addIssue({ code: 'custom', path: [...path, 'html'], message: 'text and html cannot both be "": a mail needs a body' });
    }
    if (c.to.length === 0) {
      const receivers = Object.entries(c.receivers);
      if (receivers.length === 0) ctx.addIssue({ code: 'custom', path: ['to'], message: 'missing: at least one recipient (to, or receivers.<name>.to)' });
      for (const [name, r] of receivers) {
        if (r.to === undefined) ctx.addIssue({ code: 'custom', path: ['receivers', name, 'to'], message: 'missing: this receiver has no recipients since to is empty' });
      }
    }
  })
  .describe('Sends each alert notification as one e-mail (HTML and plain text) through an SMTP server.');

export type EmailConfig = z.output<typeof emailConfigSchema>;

/** Where to connect, from smarthost or host/port. */
export function endpointOf(config: EmailConfig): { host: string; port: number; secure: boolean } {
  let host: string;
  let port: number | undefined;
  if (config.smarthost !== undefined) {
    const m = SMARTHOST.exec(config.smarthost) as RegExpExecArray;
    host = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1];
    port = Number(m[2]);
  } else {
    host = config.host as string;
    port = config.port;
  }
  const secure = config.secure ?? port === 465;
  return { host, port: port ?? (secure ? 465 : 587), secure };
}
