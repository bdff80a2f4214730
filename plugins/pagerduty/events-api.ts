import diagnostics from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import https from 'node:https';
import type { event as pdEvent } from '@pagerduty/pdjs';
import { httpOutcome, redactText, type SinkResult } from 'praxis-agent';

/**
 * One request to the PagerDuty Events API v2 through @pagerduty/pdjs, with the library's habits
 * (2.2.4, checked against a local https server in the tests) turned into the notifier contract:
 * - it does not throw on 4xx/5xx, and throws (status lost) when the body is not JSON, e.g. a
 *   proxy's HTML 502 or an empty 202: the answer's status and `Retry-After` are read from the
 *   response itself, as node's http client publishes it on `http.client.response.finish`;
 * - on 429 it asks again 3 times at a fixed `retryTimeout`, ignoring `Retry-After` and its own
 *   `retryCount` option: the first 429 aborts the request, so the library's next try never leaves
 *   (it starts with an aborted signal) and the pipeline waits what `Retry-After` says;
 * - its `requestTimeout` only starts a timer that aborts nothing (and keeps the process alive for
 *   30 s): it is off, and the attempt's signal ends a hung request.
 * Reasons never hold the routing key: the library's errors name the URL (which has no key) and
 * answer bodies are passed through {@link scrub} before they are shown.
 */

const WHAT = 'PagerDuty events API';
const RESPONSE_CHANNEL = 'http.client.response.finish';

export interface EventsApiTarget {
  /** `host` or `host:port`. */
  server: string;
  ca?: Buffer;
  insecureSkipVerify: boolean;
}

export type EventKind = 'event' | 'change';

/** Posts one event (`/v2/enqueue`) or change event (`/v2/change/enqueue`) and says how it went. */
export async function postEvent(target: EventsApiTarget, kind: EventKind, data: object, routingKey: string, signal: AbortSignal, now: () => number): Promise<SinkResult> {
  if (signal.aborted) return { outcome: 'retry', afterMs: 0, reason: `${WHAT}: not sent, the attempt was cancelled` };
  const controller = new AbortController();
  const cancel = (): void => controller.abort();
  signal.addEventListener('abort', cancel, { once: true });
  // One agent per request: it tells this request's answer apart from every other in the process.
  const agent = new https.Agent({ keepAlive: false, ...(target.ca && { ca: target.ca }), rejectUnauthorized: !target.insecureSkipVerify });
  let answer: { status: number; retryAfter?: string } | undefined;
  const onResponse = (message: unknown): void => {
    // `agent` is the Agent a request went through (set by node since 0.x, absent from @types/node).
    const { request, response } = message as { request: ClientRequest & { agent?: unknown }; response: IncomingMessage };
    if (request.agent !== agent || answer) return;
    const retryAfter = response.headers['retry-after'];
    answer = { status: response.statusCode ?? 0, ...(retryAfter !== undefined && { retryAfter }) };
    if (answer.status === 429) controller.abort();
  };
  diagnostics.subscribe(RESPONSE_CHANNEL, onResponse);
  let body: unknown;
  let failure: unknown;
  try {
    const options = { server: target.server, type: kind, data, agent, signal: controller.signal, requestTimeout: 0, retryTimeout: 0 };
    // Required on the first event, not at start: the shipped config declares this sink whether or not it pages.
    const { event } = await import('@pagerduty/pdjs');
    const response = await event(options as unknown as Parameters<typeof pdEvent>[0]);
    body = response.data;
  } catch (err) {
    failure = err;
  } finally {
    diagnostics.unsubscribe(RESPONSE_CHANNEL, onResponse);
    signal.removeEventListener('abort', cancel);
    agent.destroy();
  }
  if (!answer) {
    if (signal.aborted) return { outcome: 'retry', afterMs: 0, reason: `${WHAT}: no answer before the attempt was cancelled (timeout or shutdown)` };
    return { outcome: 'retry', afterMs: 0, reason: `${WHAT}: ${scrub(failureText(failure), routingKey)}` };
  }
  const result = httpOutcome(answer.status, answer.retryAfter, WHAT, now());
  if (result.outcome === 'permanent') return { ...result, reason: withDetail(result.reason, body, routingKey) };
  return result;
}

/** What went wrong before any answer: node's error code and the library's message (which names the URL, never the key). */
function failureText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  const message = err.message.replace(/^request to \S+ failed, reason: /, '');
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}

/** PagerDuty's own explanation of a refused event (`{status, message, errors}`), so the dead letter says what to fix. */
function withDetail(reason: string, body: unknown, routingKey: string): string {
  if (typeof body !== 'object' || body === null) return reason;
  const { message, errors } = body as { message?: unknown; errors?: unknown };
  const parts = [typeof message === 'string' ? message : undefined, ...(Array.isArray(errors) ? errors.filter((e): e is string => typeof e === 'string') : [])].filter(Boolean);
  if (parts.length === 0) return reason;
  const detail = scrub(parts.join('; '), routingKey);
  return `${reason}: ${detail.length > 500 ? `${detail.slice(0, 499)}…` : detail}`;
}

/** `text` without the routing key (should a peer echo it) and without credentials in URLs. */
export function scrub(text: string, routingKey: string): string {
  return redactText(routingKey ? text.split(routingKey).join('***') : text);
}
