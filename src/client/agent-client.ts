import type { EventMetadataInput } from '../events/metadata';
import type { FieldIssue } from '../events/registry';
import type { EventInputMap, EventType } from '../events/types';
import type { PluginStatus } from '../plugin/plugin-host';
import type { IngestResult } from '../http/ingest';

export type { IngestResult, AcceptedEvent, RejectedEvent } from '../http/ingest';
export type { PluginStatus } from '../plugin/plugin-host';

export interface AgentClientOptions {
  /** Base URL of the agent's admin server, e.g. `http://127.0.0.1:9780`. */
  url: string;
  /** Bearer token (http.auth_token), when the agent requires one. */
  token?: string;
  /** Per-request timeout in milliseconds (default 5000). */
  timeoutMs?: number;
}

/** One event to send, typed by its `type` like `bus.publish`. */
export type EventInput = {
  [K in EventType]: { type: K; data: EventInputMap[K]; metadata?: EventMetadataInput };
}[EventType];

/**
 * The answer of GET /readyz: whether every plugin runs, and each plugin's status. From an agent with
 * `http.auth_token` set, asked without the token: each plugin's name, use and state only, and the store's `ready`.
 */
export interface ReadyResult {
  ready: boolean;
  plugins: PluginStatus[];
  /** With the event store on: whether its commits succeed, and why not (STORE_COMMIT_FAILED: ...). */
  store?: { ready: boolean; reason?: string };
}

/** A page of the stored event stream (`GET /events`); see {@link AgentClient.events}. */
export interface EventsPage {
  /** The epoch the offsets belong to. */
  epoch: string;
  /** False when the history no longer covers `since` (retention, or another epoch): `events` then starts at the oldest retained one. */
  recovered: boolean;
  /** Pass `next_offset - 1` as the next `since`. */
  next_offset: number;
  /** Offset of the newest event. */
  head: number;
  /** Offset of the oldest retained event. */
  tail: number;
  events: { offset: number; event: { type: string; data: unknown; metadata: Record<string, unknown> } }[];
}

/** What {@link AgentClient.events} reads: after `since`, these type patterns, at most `limit`, expecting `epoch`. */
export interface EventsQuery {
  since?: number;
  types?: readonly string[];
  limit?: number;
  epoch?: string;
}

/**
 * Any failed call: the agent answered with an error status, or could not be reached in time.
 * `status` is the HTTP status (absent for network errors and timeouts), `code` the agent's error
 * code (EVENT_INVALID, HTTP_UNAUTHORIZED, ...), `errors` the field errors of rejected events.
 */
export class AgentClientError extends Error {
  readonly status?: number;
  readonly code?: string;
  readonly errors?: FieldIssue[];
  /** For a batch in which nothing was accepted: the per-event outcome. */
  readonly result?: IngestResult;

  constructor(
    message: string,
    fields: { status?: number; code?: string; errors?: FieldIssue[]; result?: IngestResult } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AgentClientError';
    if (fields.status !== undefined) this.status = fields.status;
    if (fields.code !== undefined) this.code = fields.code;
    if (fields.errors !== undefined) this.errors = fields.errors;
    if (fields.result !== undefined) this.result = fields.result;
  }
}

interface Reply {
  status: number;
  body: unknown;
}

const DEFAULT_TIMEOUT_MS = 5000;
// Visible ASCII only: anything else is not a valid header value, and fetch's own error would quote it.
const TOKEN_PATTERN = /^[\x21-\x7e]+$/;

/**
 * A typed client for the agent's ingest and admin API, built on the global `fetch` (Node 18+,
 * browsers). `emit` is typed by event type like `bus.publish`; the agent validates again.
 */
export class AgentClient {
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(options: AgentClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.headers = { accept: 'application/json' };
    if (options.token !== undefined) {
      if (!TOKEN_PATTERN.test(options.token)) throw new AgentClientError('the token contains characters that cannot be sent in an HTTP header');
      this.headers.authorization = `Bearer ${options.token}`;
    }
  }

  /**
   * Sends one event; resolves its event_id, throws {@link AgentClientError} with field errors if
   * rejected. To retry safely, set `metadata.event_id` (a UUID v4) and send the same event again:
   * a retry of an event the agent already has resolves `{ event_id, duplicate: true }`.
   */
  async emit<T extends EventType>(type: T, data: EventInputMap[T], metadata?: EventMetadataInput): Promise<{ event_id: string; duplicate?: true }> {
    const event = metadata === undefined ? { type, data } : { type, data, metadata };
    const reply = await this.request('POST', '/events', event);
    const result = asIngestResult(reply.body);
    const accepted = reply.status === 202 ? result?.accepted[0] : undefined;
    if (accepted) return accepted.duplicate ? { event_id: accepted.event_id, duplicate: true } : { event_id: accepted.event_id };
    const rejected = result?.rejected[0];
    throw failure(reply, rejected && result ? { errors: rejected.errors, result } : {});
  }

  /**
   * Sends several events in one request. Resolves the per-event outcome as long as at least one was
   * accepted (check `rejected`); throws when none was, with every field error prefixed `[index]`.
   */
  async emitBatch(events: EventInput[]): Promise<IngestResult> {
    const reply = await this.request('POST', '/events', events);
    const result = asIngestResult(reply.body);
    if (reply.status === 202 && result) return result;
    const errors = result?.rejected.flatMap((r) => r.errors.map((e) => ({ path: `[${r.index}].${e.path}`, message: e.message })));
    throw failure(reply, result ? { errors: errors ?? [], result } : {});
  }

  /** True when the agent process answers /healthz; false when it does not (never throws). */
  async health(): Promise<boolean> {
    try {
      const reply = await this.request('GET', '/healthz');
      return reply.status === 200;
    } catch {
      return false;
    }
  }

  /** Readiness and plugin states; a not-ready agent (503) is a result, not an error. */
  async ready(): Promise<ReadyResult> {
    const reply = await this.request('GET', '/readyz');
    const body = reply.body as Partial<ReadyResult> | undefined;
    if ((reply.status === 200 || reply.status === 503) && typeof body?.ready === 'boolean' && Array.isArray(body.plugins)) {
      return { ready: body.ready, plugins: body.plugins, ...(body.store ? { store: body.store } : {}) };
    }
    throw failure(reply);
  }

  /**
   * One page of the stored event stream after `since` (needs `store.enabled` on the agent; the
   * agent answers 404 without it). Continue with `since: page.next_offset - 1`.
   */
  async events(query: EventsQuery = {}): Promise<EventsPage> {
    const params = new URLSearchParams();
    if (query.since !== undefined) params.set('since', String(query.since));
    if (query.types !== undefined) params.set('types', query.types.join(','));
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.epoch !== undefined) params.set('epoch', query.epoch);
    const reply = await this.request('GET', `/events?${params.toString()}`);
    const page = reply.body as Partial<EventsPage> | undefined;
    if (reply.status === 200 && typeof page?.epoch === 'string' && Array.isArray(page.events)) return page as EventsPage;
    throw failure(reply);
  }

  private async request(method: string, path: string, payload?: unknown): Promise<Reply> {
    const url = `${this.base}${path}`;
    const headers = payload === undefined ? this.headers : { ...this.headers, 'content-type': 'application/json' };
    try {
      const response = await fetch(url, {
        method,
        headers,
        ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await response.text();
      return { status: response.status, body: parseJson(text) };
    } catch (error) {
      throw this.networkError(method, url, error);
    }
  }

  private networkError(method: string, url: string, error: unknown): AgentClientError {
    // Duck-typed on purpose: fetch's errors may come from another realm (jest, vm), where instanceof fails.
    const { name, message, cause } = (error ?? {}) as { name?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } };
    if (name === 'TimeoutError' || name === 'AbortError') {
      return new AgentClientError(`${method} ${url} timed out after ${this.timeoutMs} ms`, {}, { cause: error });
    }
    // undici reports "fetch failed" and puts the reason (ECONNREFUSED, ENOTFOUND, ...) in the cause.
    const reason = [cause?.code, cause?.message, message].find((r) => typeof r === 'string' && r !== '') ?? String(error);
    return new AgentClientError(`cannot reach praxis-agent at ${url}: ${String(reason)}`, {}, { cause: error });
  }
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Not from the agent (a proxy's HTML page, say); the status still tells what happened.
    return undefined;
  }
}

function asIngestResult(body: unknown): IngestResult | undefined {
  const candidate = body as Partial<IngestResult> | undefined;
  return Array.isArray(candidate?.accepted) && Array.isArray(candidate?.rejected) ? (candidate as IngestResult) : undefined;
}

/** Builds the error for a non-success reply from the agent's `{ error: { code, message } }` body. */
function failure(reply: Reply, extra: { errors?: FieldIssue[]; result?: IngestResult } = {}): AgentClientError {
  const error = (reply.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof error?.code === 'string' ? error.code : undefined;
  const message = typeof error?.message === 'string' ? error.message : `the agent answered HTTP ${reply.status}`;
  return new AgentClientError(message, { status: reply.status, ...(code ? { code } : {}), ...extra });
}
