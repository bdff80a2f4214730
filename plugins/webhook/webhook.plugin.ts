import { createHash } from 'node:crypto';
import {
  AgentControl,
  AgentError,
  Clock,
  httpOutcome,
  inject,
  injectable,
  isTimeoutError,
  LOGGER,
  MAX_PEM_FILE_BYTES,
  PLUGIN_CONFIG,
  readConfigFile,
  readSecretFile,
  sinkRequest,
  withTimeout,
  type Logger,
  type Notification,
  type Notifier,
  type Plugin,
  type SinkResult,
  type TlsOptions,
} from 'praxis-agent';
import type { WebhookConfig } from './config';
import { webhookPayload } from './payload';

/** One place the sink posts to: the sink's own settings, or a receiver's overrides on top of them. */
interface Destination {
  url: URL;
  maxAlerts: number;
  timeout: number | undefined;
  headers: Record<string, string>;
  /** The rate-limit bucket: a digest of the URL, never the URL (it may hold a token). */
  rateKey: string;
}

/**
 * The generic webhook sink: each notification is POSTed as JSON in Alertmanager's webhook format
 * (see ./payload). The answer maps through the SDK's `httpOutcome` (2xx delivered; 429, 408 and 5xx
 * retried, Retry-After honoured; other statuses permanent); network errors, TLS failures and
 * timeouts are retried. Files (url_file, credentials, TLS material) are read once, at start, with the
 * SDK's readConfigFile / readSecretFile (CONFIG_FILE_UNREADABLE); a file that holds something other
 * than the value its key needs is CONFIG_INVALID_VALUE, as the value written inline would be.
 */
@injectable()
export class WebhookPlugin implements Plugin, Notifier {
  private readonly destinations = new Map<string, Destination>();
  private fallback?: Destination;
  private tls: TlsOptions = { rejectUnauthorized: true };

  constructor(
    @inject(PLUGIN_CONFIG) private readonly config: WebhookConfig,
    @inject(LOGGER) private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly control: AgentControl,
  ) {}

  start(): void {
    const c = this.config;
    const tls = c.http_config.tls_config;
    this.tls = {
      rejectUnauthorized: !(tls?.insecure_skip_verify ?? false),
      ...(tls?.ca_file !== undefined && { ca: this.readPem('http_config.tls_config.ca_file', tls.ca_file) }),
      ...(tls?.cert_file !== undefined && { cert: this.readPem('http_config.tls_config.cert_file', tls.cert_file) }),
      ...(tls?.key_file !== undefined && { key: this.readPem('http_config.tls_config.key_file', tls.key_file) }),
      ...(tls?.server_name !== undefined && { servername: tls.server_name }),
    };
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'praxis-agent', ...c.headers };
    const authorization = this.authorization();
    if (authorization !== undefined) headers.authorization = authorization;

    const base = {
      url: c.url ?? (c.url_file !== undefined ? this.readUrl('url_file', c.url_file) : undefined),
      maxAlerts: c.max_alerts ?? 0,
      timeout: c.timeout,
      headers,
    };
    if (base.url !== undefined) this.fallback = destination(base.url, base);
    for (const [receiver, o] of Object.entries(c.receivers)) {
      const url = o.url ?? (o.url_file !== undefined ? this.readUrl(`receivers.${receiver}.url_file`, o.url_file) : base.url);
      if (url === undefined) continue; // the schema saw to it that there is one (or a fallback)
      this.destinations.set(receiver, destination(url, { maxAlerts: o.max_alerts ?? base.maxAlerts, timeout: o.timeout ?? base.timeout, headers: { ...headers, ...o.headers } }));
    }
  }

  stop(): void {
    // Nothing held between sends: each attempt has its own connection.
  }

  rateKey(notification: Notification): string {
    return this.destinationFor(notification.receiver)?.rateKey ?? 'none';
  }

  async send(notification: Notification, signal: AbortSignal): Promise<SinkResult> {
    const target = this.destinationFor(notification.receiver);
    if (!target) return { outcome: 'permanent', reason: `webhook has no url for receiver "${notification.receiver}" (set url, or receivers.${notification.receiver}.url)` };
    const body = webhookPayload(notification, { maxAlerts: target.maxAlerts, externalURL: this.config.external_url, agentFields: this.config.agent_fields });
    const controller = new AbortController();
    const abort = (): void => controller.abort();
    if (signal.aborted) abort();
    signal.addEventListener('abort', abort, { once: true });
    try {
      const request = sinkRequest(target.url, { body, headers: target.headers, tls: this.tls, signal: controller.signal, maxBodyBytes: 4096 });
      const answer = await (target.timeout === undefined ? request : withTimeout(this.clock, request, target.timeout, abort));
      const result = httpOutcome(answer.status, answer.headers['retry-after'], 'webhook', this.clock.now());
      this.logger.debug({ receiver: notification.receiver, group: notification.groupKey, status: answer.status, outcome: result.outcome }, 'webhook answered');
      return result;
    } catch (error) {
      const reason = isTimeoutError(error)
        ? `webhook did not answer within ${target.timeout} ms`
        : signal.aborted
          ? 'webhook request aborted (the attempt timed out or the agent is stopping)'
          : `webhook request failed: ${errorCode(error)}`;
      this.logger.debug({ receiver: notification.receiver, group: notification.groupKey, outcome: 'retry' }, reason);
      return { outcome: 'retry', afterMs: 0, reason };
    } finally {
      signal.removeEventListener('abort', abort);
    }
  }

  private destinationFor(receiver: string): Destination | undefined {
    return this.destinations.get(receiver) ?? this.fallback;
  }

  private authorization(): string | undefined {
    const { authorization, basic_auth: basic } = this.config.http_config;
    if (authorization) {
      const credentials = authorization.credentials ?? this.readSecret('http_config.authorization.credentials_file', authorization.credentials_file as string);
      return `${authorization.type} ${credentials}`;
    }
    if (basic) {
      const password = basic.password ?? (basic.password_file !== undefined ? this.readSecret('http_config.basic_auth.password_file', basic.password_file) : '');
      return `Basic ${Buffer.from(`${basic.username}:${password}`).toString('base64')}`;
    }
    return undefined;
  }

  private readUrl(key: string, file: string): URL {
    const text = this.readSecret(key, file);
    const resolved = this.control.resolvePath(file);
    try {
      const url = new URL(text);
      if (url.protocol === 'http:' || url.protocol === 'https:') return url;
    } catch {
      // reported below, without the content
    }
    throw new AgentError('CONFIG_INVALID_VALUE', `${key}: ${resolved} does not hold an http:// or https:// URL (its content is not shown: it may be a secret)`, { key, file: resolved });
  }

  /** A one-value secret from a file (one trailing newline dropped); never shown. */
  private readSecret(key: string, file: string): string {
    const resolved = this.control.resolvePath(file);
    const text = readSecretFile(resolved, { key });
    if (!/^[\x21-\x7e]+$/.test(text)) throw new AgentError('CONFIG_INVALID_VALUE', `${key}: ${resolved} must hold one value of visible ASCII characters (no spaces or line breaks; the content is not shown)`, { key, file: resolved });
    return text;
  }

  private readPem(key: string, file: string): Buffer {
    return readConfigFile(this.control.resolvePath(file), { key, maxBytes: MAX_PEM_FILE_BYTES });
  }
}

function destination(url: string | URL, settings: Omit<Destination, 'url' | 'rateKey'>): Destination {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  return { ...settings, url: parsed, rateKey: `url-${createHash('sha256').update(parsed.href).digest('hex').slice(0, 12)}` };
}

/** What went wrong, without the error's message (Node's messages can quote the URL). */
function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.name : 'unknown error';
}
