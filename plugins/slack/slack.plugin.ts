import { createHash } from 'node:crypto';
import { IncomingWebhook, IncomingWebhookHTTPError, IncomingWebhookRequestError, type IncomingWebhookSendArguments } from '@slack/webhook';
import {
  AgentControl,
  AgentError,
  Clock,
  compileTemplate,
  errorMessage,
  httpOutcome,
  inject,
  injectable,
  LOGGER,
  MAX_PEM_FILE_BYTES,
  PLUGIN_CONFIG,
  readConfigFile,
  readSecretFile,
  redactText,
  templateData,
  type Logger,
  type Notification,
  type Notifier,
  type Plugin,
  type NotificationTemplate,
  type SinkResult,
  type TemplateData,
} from 'praxis-agent';
import { isHttpUrl, SLACK_COLOR, type SlackConfig, type SlackReceiverConfig } from './config';
import { nodeFetch, type SlackFetchInit, type SlackFetchResponse } from './http-fetch';
import { escapeMrkdwn, renderMessage, type RenderOptions } from './render';

/** How the sink names its requests in results: never the URL, which is the secret. */
const WHAT = 'Slack webhook';

/** Longest Slack error body quoted in a reason (`invalid_payload`, `no_service`, `channel_not_found`). */
const MAX_BODY_IN_REASON = 200;

/** What the library's fetch saw during one send. */
interface Seen {
  response?: SlackFetchResponse;
  error?: unknown;
  /** The library's own timeout fired. */
  timedOut?: boolean;
}

/** One destination: the URL (secret) and the id shown instead of it. */
interface Webhook {
  url: string;
  /** First 12 hex digits of the URL's SHA-256: the rate key, and what logs say instead of the URL. */
  id: string;
}

/**
 * Posts each notification to a Slack incoming webhook through @slack/webhook, and answers what
 * Slack said in the notifier contract's terms. It renders and sends, once per call: the library's
 * own retries are off (the delivery pipeline retries, honouring Retry-After), and its `fetch`
 * option is where this sink reads the response's `Retry-After` (the library's error does not carry
 * headers) and ties the request to the attempt's signal.
 */
@injectable()
export class SlackPlugin implements Plugin, Notifier {
  private webhooks?: { base: Webhook; receivers: Map<string, Webhook> };
  private fetch?: ReturnType<typeof nodeFetch>;
  private readonly inFlight = new Set<AbortController>();
  /** Compiled title / text / color templates by source (the schema compiled each once already: these cannot fail). */
  private readonly templates = new Map<string, NotificationTemplate>();

  constructor(
    @inject(PLUGIN_CONFIG) private readonly config: SlackConfig,
    @inject(LOGGER) private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly control: AgentControl,
  ) {}

  start(): void {
    const ca = this.config.tls ? this.readCa(this.config.tls.ca_file) : undefined;
    const base = this.webhookOf(this.config, 'webhook_url_file');
    const receivers = new Map<string, Webhook>();
    for (const [name, r] of Object.entries(this.config.receivers)) {
      if (r.webhook_url !== undefined || r.webhook_url_file !== undefined) receivers.set(name, this.webhookOf(r, `receivers.${name}.webhook_url_file`));
    }
    this.webhooks = { base, receivers };
    this.fetch = nodeFetch({ ...(ca && { ca }) });
    const ids = [...new Set([base.id, ...[...receivers.values()].map((w) => w.id)])];
    this.logger.info({ targets: ids }, `Slack sink ready: ${ids.length} webhook${ids.length === 1 ? '' : 's'} (shown by id, the URL is a secret)`);
  }

  stop(): void {
    for (const controller of this.inFlight) controller.abort();
    this.inFlight.clear();
  }

  /** Slack allows about one message per second per webhook: the bucket is the webhook. */
  rateKey(notification: Notification): string {
    return `webhook:${this.webhookFor(notification.receiver)?.id ?? idOf(this.config.webhook_url ?? this.config.webhook_url_file ?? '')}`;
  }

  async send(notification: Notification, signal: AbortSignal): Promise<SinkResult> {
    const webhook = this.webhookFor(notification.receiver);
    if (!webhook || !this.fetch) return { outcome: 'retry', afterMs: 0, reason: 'the Slack sink is not started' };
    if (signal.aborted) return { outcome: 'retry', afterMs: 0, reason: `${WHAT} request not sent: the attempt was aborted (timed out, or the agent is stopping)` };
    const settings: SlackReceiverConfig = { ...this.config, ...this.config.receivers[notification.receiver] };
    const message = renderMessage(notification, this.renderOptions(notification, settings));

    const controller = new AbortController();
    this.inFlight.add(controller);
    const fetch = this.fetch;
    const seen: Seen = {};
    // The library's fetch option: the attempt's signal and stop() abort the request too (the library
    // passes only its own timeout), the response is kept for its Retry-After, and a failure is kept
    // as thrown (the library re-wraps errors from another realm, losing their code).
    const capture = async (url: string | URL, init?: SlackFetchInit): Promise<SlackFetchResponse> => {
      const signals = [signal, controller.signal, ...(init?.signal ? [init.signal] : [])];
      try {
        seen.response = await fetch(url, { ...init, signal: AbortSignal.any(signals) });
        return seen.response;
      } catch (error) {
        seen.error = error;
        seen.timedOut = init?.signal?.aborted === true;
        throw error;
      }
    };
    const client = new IncomingWebhook(webhook.url, {
      fetch: capture,
      timeout: this.config.timeout,
      retryConfig: { retries: 0 },
      ...(settings.channel !== undefined && { channel: settings.channel }),
      ...(settings.username !== undefined && { username: settings.username }),
      ...(settings.icon_emoji !== undefined && { icon_emoji: settings.icon_emoji }),
      ...(settings.icon_url !== undefined && { icon_url: settings.icon_url }),
    });
    let result: SinkResult;
    try {
      await client.send(message as unknown as IncomingWebhookSendArguments);
      result = { outcome: 'delivered' };
    } catch (error) {
      result = this.outcomeOf(error, seen, signal.aborted || controller.signal.aborted, webhook);
    } finally {
      this.inFlight.delete(controller);
    }
    const line = { receiver: notification.receiver, group: notification.groupKey, target: webhook.id, outcome: result.outcome, ...(result.outcome !== 'delivered' && { reason: result.reason }) };
    this.logger.debug(line, `Slack notification to ${notification.receiver}: ${result.outcome}`);
    return result;
  }

  /** The operator's title, text and colour for this notification, rendered; empty output means the default. */
  private renderOptions(notification: Notification, settings: SlackReceiverConfig): RenderOptions {
    if (settings.title === undefined && settings.text === undefined && settings.color === undefined) return {};
    const data = templateData(notification);
    const render = (source: string | undefined, with_: TemplateData = data): string | undefined => {
      if (source === undefined) return undefined;
      let template = this.templates.get(source);
      if (!template) this.templates.set(source, (template = compileTemplate(source)));
      const out = template.render(with_).trim();
      return out === '' ? undefined : out;
    };
    const title = render(settings.title);
    // The body is mrkdwn: the data's values are escaped, the template's own markup (links, *bold*) is kept.
    const text = settings.text === undefined ? undefined : render(settings.text, escapeData(data));
    const color = render(settings.color);
    return { ...(title !== undefined && { title }), ...(text !== undefined && { text }), ...(color !== undefined && SLACK_COLOR.test(color) && { color }) };
  }

  private outcomeOf(error: unknown, seen: Seen, aborted: boolean, webhook: Webhook): SinkResult {
    const scrub = (text: string): string => scrubUrl(text, webhook.url);
    if (error instanceof IncomingWebhookHTTPError) {
      const result = httpOutcome(error.statusCode, seen.response?.headers.get('retry-after'), WHAT, this.clock.now());
      if (result.outcome === 'delivered') return result;
      // Slack names the problem in the body (`invalid_payload`, `no_service`); one line of it, scrubbed.
      const body = typeof error.body === 'string' ? scrub(error.body.replace(/\s+/g, ' ').trim()).slice(0, MAX_BODY_IN_REASON) : '';
      return body === '' ? result : { ...result, reason: `${result.reason}: ${body}` };
    }
    if (aborted) return { outcome: 'retry', afterMs: 0, reason: `${WHAT} request aborted (the attempt timed out, or the agent is stopping)` };
    if (seen.timedOut) return { outcome: 'retry', afterMs: 0, reason: `${WHAT} did not answer within ${this.config.timeout} ms` };
    // No answer (refused, reset, TLS, DNS): the request may work next time.
    const cause = (seen.error ?? (error instanceof IncomingWebhookRequestError ? error.original : error)) as { code?: unknown; message?: unknown } | undefined;
    const code = typeof cause?.code === 'string' ? ` (${cause.code})` : '';
    const message = typeof cause?.message === 'string' ? cause.message : errorMessage(error);
    return { outcome: 'retry', afterMs: 0, reason: `${WHAT} request failed${code}: ${scrub(message)}` };
  }

  private webhookFor(receiver: string): Webhook | undefined {
    return this.webhooks && (this.webhooks.receivers.get(receiver) ?? this.webhooks.base);
  }

  private webhookOf(settings: { webhook_url?: string; webhook_url_file?: string }, fileKey: string): Webhook {
    const url = settings.webhook_url ?? this.readWebhookFile(settings.webhook_url_file as string, fileKey);
    return { url, id: idOf(url) };
  }

  /** The webhook URL a file holds (one line); never quoted: it is a secret. */
  private readWebhookFile(file: string, key: string): string {
    const resolved = this.control.resolvePath(file);
    const url = readSecretFile(resolved, { key });
    if (!isHttpUrl(url) || /\s/.test(url)) {
      throw new AgentError('CONFIG_INVALID_VALUE', `${key}: ${resolved} does not hold one http:// or https:// URL (its content is not shown: it is a secret)`, { key, file: resolved });
    }
    return url;
  }

  private readCa(file: string): Buffer {
    return readConfigFile(this.control.resolvePath(file), { key: 'tls.ca_file', maxBytes: MAX_PEM_FILE_BYTES });
  }
}

/** Every string of the template data escaped for mrkdwn (labels, annotations, URLs, the receiver). */
function escapeData<T>(value: T): T {
  if (typeof value === 'string') return escapeMrkdwn(value) as T;
  if (Array.isArray(value)) return value.map(escapeData) as T;
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapeData(v)])) as T;
  return value;
}

function idOf(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 12);
}

/**
 * `text` without the webhook URL or its path (the token part), for reasons and logs: an error
 * message or an answer's body may quote them. Then the agent's redaction of URL credentials.
 */
export function scrubUrl(text: string, url: string): string {
  const secrets = [url];
  try {
    const parsed = new URL(url);
    if (parsed.pathname.length > 1) secrets.push(`${parsed.host}${parsed.pathname}`, parsed.pathname + parsed.search);
  } catch {
    // Not a URL: only the whole value can be hidden.
  }
  let out = text;
  for (const secret of secrets.filter(Boolean).sort((a, b) => b.length - a.length)) out = out.split(secret).join('(the webhook URL)');
  return redactText(out);
}
