import type nodemailer from 'nodemailer';
import {
  AgentControl,
  compileTemplate,
  errorMessage,
  inject,
  injectable,
  LOGGER,
  MAX_PEM_FILE_BYTES,
  PLUGIN_CONFIG,
  readConfigFile,
  readSecretFile,
  type Logger,
  type Notification,
  type Notifier,
  type Plugin,
  type SinkResult,
} from 'praxis-agent';
import { endpointOf, type EmailConfig } from './config';
import { renderMail, renderText, type MailTemplates } from './render';
import { smtpOutcome } from './smtp-outcome';

/**
 * The email sink: each notification (one aggregation group) becomes one e-mail to the recipients
 * of its receiver, sent through the configured SMTP server with nodemailer.
 *
 * One connection per send, not a pool: alerting sends a few mails an hour, and a pooled connection
 * left idle is cut by the server (most close idle sessions within minutes) so the next alert's
 * first attempt would fail on a dead socket. A fresh connection per attempt also means an aborted
 * attempt (the pipeline's timeout, agent stop) closes exactly its own socket, the password file is
 * read anew each time (rotation needs no restart), and stop() has nothing to drain.
 */
@injectable()
export class EmailPlugin implements Plugin, Notifier {
  private ca?: Buffer;
  /** Compiled templates per receiver name ('' for the top-level ones), each field falling back to the top level. */
  private readonly templates = new Map<string, MailTemplates>();
  private readonly counts = { sent: 0, retry: 0, permanent: 0 };

  constructor(
    @inject(PLUGIN_CONFIG) private readonly config: EmailConfig,
    @inject(LOGGER) private readonly logger: Logger,
    private readonly control: AgentControl,
  ) {}

  /** Reads tls.ca_file and auth.password_file once, so a wrong path fails the start, not the first page. */
  start(): void {
    const caFile = this.config.tls.ca_file;
    if (caFile !== undefined) this.ca = readConfigFile(this.control.resolvePath(caFile), { key: 'tls.ca_file', maxBytes: MAX_PEM_FILE_BYTES });
    // The schema compiled each template already (errors at validation, with line:column): this cannot throw.
    const top = compiled(this.config);
    this.templates.set('', top);
    for (const [name, r] of Object.entries(this.config.receivers)) this.templates.set(name, { ...top, ...compiled(r) });
    this.password();
    const { host, port, secure } = endpointOf(this.config);
    this.logger.info({ host, port, secure, require_tls: this.config.require_tls }, `email sink ready: SMTP ${host}:${port}${secure ? ' (TLS)' : ''}`);
  }

  stop(): void {
    // Nothing held between sends: each send's connection is closed when it ends or is aborted.
  }

  stats(): Record<string, unknown> {
    return { ...this.counts };
  }

  async send(notification: Notification, signal: AbortSignal): Promise<SinkResult> {
    const result = await this.attempt(notification, signal);
    this.counts[result.outcome === 'delivered' ? 'sent' : result.outcome]++;
    return result;
  }

  private async attempt(notification: Notification, signal: AbortSignal): Promise<SinkResult> {
    const override = this.config.receivers[notification.receiver];
    const to = override?.to ?? this.config.to;
    if (to.length === 0) {
      return { outcome: 'permanent', reason: `no recipients for receiver "${notification.receiver}": set to, or receivers.${notification.receiver}.to` };
    }
    let password: string | undefined;
    try {
      password = this.password();
    } catch (error) {
      return { outcome: 'retry', afterMs: 0, reason: errorMessage(error) };
    }
    const { host, port, secure } = endpointOf(this.config);
    const username = this.config.auth?.username;
    const secrets = password === undefined ? [] : [password, Buffer.from(`\u0000${username}\u0000${password}`).toString('base64')];
    const transport = (await loadNodemailer()).createTransport({
      host,
      port,
      secure,
      requireTLS: !secure && this.config.require_tls,
      tls: {
        rejectUnauthorized: this.config.tls.reject_unauthorized,
        ...(this.ca && { ca: this.ca }),
        ...(this.config.tls.server_name !== undefined && { servername: this.config.tls.server_name }),
      },
      ...(username !== undefined && password !== undefined && { auth: { user: username, pass: password } }),
      connectionTimeout: this.config.connection_timeout,
      greetingTimeout: this.config.greeting_timeout,
      socketTimeout: this.config.socket_timeout,
      // nodemailer's own logger would print the SMTP dialogue (and, with debug, the AUTH lines).
      logger: false,
      debug: false,
    });
    const mail = renderMail(notification, this.templates.get(notification.receiver) ?? this.templates.get('') ?? {});
    const text = mail.text.trim() === '' ? undefined : mail.text;
    const html = mail.html.trim() === '' ? undefined : mail.html;
    try {
      await transport.sendMail({
        from: override?.from ?? this.config.from,
        to,
        subject: mail.subject,
        // Both templates rendering nothing would send an empty mail: the default text instead.
        text: text ?? (html === undefined ? renderText(notification) : undefined),
        html,
        headers: { ...this.config.headers, ...override?.headers },
        // Rendered text only: never let a string from an alert make nodemailer read a file or URL.
        disableFileAccess: true,
        disableUrlAccess: true,
        signal,
      });
      return { outcome: 'delivered' };
    } catch (error) {
      return smtpOutcome(error, secrets);
    } finally {
      transport.close();
    }
  }

  /** The SMTP password: the config value (already substituted from env or file) or password_file, read now. */
  private password(): string | undefined {
    const auth = this.config.auth;
    if (auth?.password_file === undefined) return auth?.password;
    return readSecretFile(this.control.resolvePath(auth.password_file), { key: 'auth.password_file' });
  }
}

function compiled(t: { subject?: string; text?: string; html?: string }): MailTemplates {
  return {
    ...(t.subject !== undefined && { subject: compileTemplate(t.subject) }),
    ...(t.text !== undefined && { text: compileTemplate(t.text) }),
    ...(t.html !== undefined && { html: compileTemplate(t.html) }),
  };
}

/**
 * nodemailer, required on the first send rather than at start: it is one of the larger modules,
 * and the shipped config declares this sink whether or not anyone is paged by e-mail.
 */
async function loadNodemailer(): Promise<typeof nodemailer> {
  return (await import('nodemailer')).default;
}
