import { WebSocket } from 'ws';
import { AgentClient, AgentClientError } from '../client/agent-client';
import { Backoff } from '../core/backoff';
import type { Clock } from '../core/clock';
import { errorMessage } from '../core/errors';
import type { TailEvent } from './tail-format';

/**
 * The event stream of `praxis-agent tail`: over the websocket-broadcaster's protocol, or by polling
 * `GET /events` when no broadcaster is configured. Both resume after a lost connection from the
 * last event printed, with backoff, print each event once, and report a gap only when the agent
 * says the history no longer covers that offset (`recovered: false`).
 */

/** Where the stream's events, gaps and connection notices go. */
export interface TailOutput {
  event(entry: TailEvent): void;
  /** Events after `after` may be missing (the agent answered `recovered: false`). */
  gap(after: number | undefined, reason: string): void;
  /** Connection trouble and recovery, for people (stderr). */
  notice(text: string): void;
  /**
   * Undefined while the output takes more; else a promise of when it will (a pipe to a slow
   * reader). Meanwhile tail reads nothing more: the agent holds the events, or cuts the
   * connection off as a slow consumer and tail resumes once there is room.
   */
  room(): Promise<void> | undefined;
}

/** A failure retrying cannot fix (a refused token, a wrong path, invalid types, nothing at the address at first): tail exits with it. */
export class TailFatalError extends Error {
  /** `usage`: the command line asked for something the agent refuses (unknown event types). */
  constructor(
    message: string,
    readonly kind: 'failure' | 'usage' = 'failure',
  ) {
    super(message);
    this.name = 'TailFatalError';
  }
}

export interface TailOptions {
  /** Event type patterns (`system.error`, `config.*`, `*`). */
  types: string[];
  /** Replay the events after this offset first; without it, the stream starts now. */
  since?: number;
  output: TailOutput;
  clock: Clock;
  /** Aborting ends the stream: the promise resolves. */
  signal: AbortSignal;
}

/** Waits between reconnection attempts: quick after a blip, at most 10 s while the agent is down. */
const RECONNECT = { initialMs: 250, maxMs: 10_000, jitter: 0.2 };
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** The broadcaster closes a connection silent for 3 heartbeat intervals; a client hearing nothing for as long assumes the same. */
const SILENT_INTERVALS = 3;
const POLL_INTERVAL_MS = 1000;
const POLL_PAGE = 1000;

/** The offset of the last event printed and its epoch: an event at or below it is never printed again. */
class Position {
  offset: number | undefined;
  epoch: string | undefined;

  constructor(since: number | undefined) {
    this.offset = since;
  }

  /** True, and the position moves to it, when the event at `offset` has not been printed. */
  advance(offset: number): boolean {
    if (this.offset !== undefined && offset <= this.offset) return false;
    this.offset = offset;
    return true;
  }
}

/**
 * Runs sessions until aborted: a session resolves with why its connection ended, after which the
 * next one starts after a backoff delay. Only the first session's failure is fatal: an address
 * that never answered is a mistake, one that answered before is an agent restarting.
 */
async function keepConnected(target: string, options: TailOptions, session: (connected: () => void) => Promise<string>): Promise<void> {
  const { signal, clock, output } = options;
  const backoff = new Backoff(RECONNECT);
  let connectedOnce = false;
  const connected = (): void => {
    if (backoff.attempts > 0) output.notice(`reconnected to ${target}`);
    connectedOnce = true;
    backoff.reset();
  };
  while (!signal.aborted) {
    const ended = await session(connected);
    if (signal.aborted) return;
    if (!connectedOnce) throw new TailFatalError(`cannot reach ${target}: ${ended} (tail follows a running agent: is it running, with this address?)`);
    const delay = backoff.next();
    output.notice(`${ended}; reconnecting in ${(delay / 1000).toFixed(1)} s`);
    await unlessAborted(clock.sleep(delay), signal);
  }
}

/** Resolves when `promise` does, or at once when aborted. */
function unlessAborted(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    void promise.then(done);
  });
}

interface WireMessage {
  type?: unknown;
  payload?: Record<string, unknown>;
  id?: unknown;
  correlation_id?: unknown;
}

/** Streams over the broadcaster at `url` (ws:// or wss://), with `token` as the bearer token when set. */
export function tailWebSocket(url: string, token: string | undefined, options: TailOptions): Promise<void> {
  const position = new Position(options.since);
  return keepConnected(url, options, (connected) => webSocketSession(url, token, position, options, connected));
}

/**
 * One connection. The filter and the resume point go in the upgrade URL, so the agent applies
 * them before it sends any event: `welcome` says what it did (`subscribed`, `recovered`), and every
 * event after it is one to print, the replay first, then live ones, in order.
 */
function webSocketSession(url: string, token: string | undefined, position: Position, options: TailOptions, connected: () => void): Promise<string> {
  const { signal, clock, output, types } = options;
  return new Promise((resolve, reject) => {
    const resumed = position.offset !== undefined;
    const ws = new WebSocket(connectUrl(url, types, position), { handshakeTimeout: HANDSHAKE_TIMEOUT_MS, ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}) });
    let fatal: TailFatalError | undefined;
    let lastError: Error | undefined;
    let silentMs = 0;
    let paused = false;
    let lastHeard = clock.now();
    let cancelWatchdog = (): void => undefined;
    const heard = (): void => {
      lastHeard = clock.now();
    };
    // One timer per heartbeat period, not one per message: it re-arms for whatever is left.
    const watch = (ms: number): void => {
      cancelWatchdog = clock.setTimeout(() => {
        // Not reading (waiting for room) is not silence.
        const silent = paused ? 0 : clock.now() - lastHeard;
        if (silent < silentMs) return watch(silentMs - silent);
        lastError = new Error(`nothing heard for ${silent} ms (the heartbeat stopped)`);
        ws.terminate();
      }, ms);
    };
    // A paused socket would not read the server's answer to a close: cut it instead.
    const stop = (): void => (paused ? ws.terminate() : ws.close(1000));
    signal.addEventListener('abort', stop, { once: true });

    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      if (status === 400) {
        // Refused parameters: the body says which (unknown event types are a usage error).
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk.slice(0, 4096)));
        res.on('end', () => {
          const answer = parseJsonObject(body);
          const code = typeof answer?.code === 'string' ? answer.code : undefined;
          fatal = new TailFatalError(`${url} refused the connection (HTTP 400)${code ? `: ${code}` : ''}: ${typeof answer?.error === 'string' ? answer.error : body.slice(0, 200)}`, code === 'INVALID_EVENT_TYPES' ? 'usage' : 'failure');
          ws.terminate();
        });
        return;
      }
      const refused = refusal(url, status, token !== undefined);
      // Another status (a proxy's 502 while the agent restarts) is worth another attempt.
      if (refused) fatal = new TailFatalError(refused);
      else lastError = new Error(`${url} answered HTTP ${status} instead of opening a WebSocket`);
      ws.terminate();
    });
    // The first error is the cause: aborting a handshake reports a generic one after it.
    ws.on('error', (error) => {
      lastError ??= error;
    });
    ws.on('ping', heard);
    ws.on('close', (code, reason) => {
      cancelWatchdog();
      signal.removeEventListener('abort', stop);
      if (fatal) reject(fatal);
      else resolve(lastError ? errorMessage(lastError) : `connection closed (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''})`);
    });
    ws.on('message', (data) => {
      heard();
      let message: WireMessage;
      try {
        message = JSON.parse(String(data)) as WireMessage;
      } catch {
        return;
      }
      const payload = message.payload ?? {};
      if (message.type === 'welcome') {
        if (typeof payload.heartbeat_interval_ms === 'number' && payload.heartbeat_interval_ms > 0) {
          silentMs = payload.heartbeat_interval_ms * SILENT_INTERVALS;
          watch(silentMs);
        }
        const old = ignoredParameters(payload, types, resumed);
        if (old) {
          fatal = new TailFatalError(`${url}: ${old}: the agent is older than this tail (its broadcaster does not take the filter and resume point in the connection URL: an agent of the same release as tail, after 0.1.0, is needed); upgrade it, or poll its admin API with --url`);
          ws.close(1000);
          return;
        }
        connected();
        if (payload.recovered === false) {
          output.gap(position.offset, typeof payload.reason === 'string' ? payload.reason : 'the agent cannot replay them');
          // What follows is live, numbered in the agent's current epoch: anything after its head is new.
          position.offset = undefined;
        }
        // Without a resume point the stream starts at the head: events after it are replayed if this connection is lost.
        if (typeof payload.head === 'number') position.offset ??= payload.head;
        if (typeof payload.epoch === 'string') position.epoch = payload.epoch;
      } else if (message.type === 'error') {
        // Every request tail sends is well-formed: an error names types this agent does not know.
        fatal = new TailFatalError(`${url}: ${String(payload.code)}: ${String(payload.message)}`, payload.code === 'INVALID_EVENT_TYPES' ? 'usage' : 'failure');
        ws.close(1000);
      } else if (message.type === 'eventStream') {
        const offset = Number(message.id);
        if (Number.isSafeInteger(offset) && position.advance(offset)) output.event({ offset, event: payload as unknown as TailEvent['event'] });
        const room = paused ? undefined : output.room();
        if (room) {
          paused = true;
          ws.pause();
          void room.then(() => {
            paused = false;
            heard();
            ws.resume();
          });
        }
      }
    });
  });
}

/** The broadcaster's URL with the filter and, once there is one, the resume point (see {@link webSocketSession}). */
function connectUrl(url: string, types: string[], position: Position): string {
  const target = new URL(url);
  target.searchParams.set('event_types', types.join(','));
  if (position.offset !== undefined) {
    target.searchParams.set('since', String(position.offset));
    // The epoch of the offset: the one the last event came in; a --since offset is taken in the agent's current one.
    if (position.epoch !== undefined) target.searchParams.set('epoch', position.epoch);
  }
  return target.toString();
}

/**
 * Why `welcome` shows that the agent did not apply the URL's parameters (an agent before they
 * existed starts on its default filter and answers no resume), or undefined when it did.
 */
function ignoredParameters(welcome: Record<string, unknown>, types: string[], resumed: boolean): string | undefined {
  const subscribed = Array.isArray(welcome.subscribed) ? welcome.subscribed.map(String) : [];
  const asked = [...new Set(types)].sort();
  if (subscribed.length !== asked.length || subscribed.some((t, i) => t !== asked[i])) return `its welcome is subscribed to ${JSON.stringify(subscribed)}, not the ${JSON.stringify(asked)} asked for`;
  if (resumed && typeof welcome.recovered !== 'boolean') return 'its welcome does not answer the resume point';
  return undefined;
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The message for an upgrade refused for good (a token, an origin, a path); undefined for other statuses. */
function refusal(url: string, status: number, withToken: boolean): string | undefined {
  if (status === 401) {
    return `${url} refused the connection (HTTP 401): ${withToken ? 'the token is not the broadcaster\'s auth_token' : 'the broadcaster requires a token'}; give it with --token-file FILE or $PRAXIS_TOKEN`;
  }
  if (status === 403) return `${url} refused the connection (HTTP 403): not an allowed origin`;
  if (status === 404) return `${url} answered HTTP 404: no WebSocket endpoint at this path (the broadcaster's \`path\`, /ws/events by default)`;
  return undefined;
}

/** Streams by polling the admin API's `GET /events` (needs `store.enabled`), once a second while nothing is new. */
export function tailPolling(client: AgentClient, target: string, options: TailOptions): Promise<void> {
  const position = new Position(options.since);
  return keepConnected(target, options, (connected) => pollingSession(client, target, position, options, connected));
}

async function pollingSession(client: AgentClient, target: string, position: Position, options: TailOptions, connected: () => void): Promise<string> {
  const { signal, clock, output, types } = options;
  while (!signal.aborted) {
    let page;
    try {
      // Without --since the stream starts now: the first page only tells where the head is.
      const since = position.offset ?? Number.MAX_SAFE_INTEGER;
      page = await client.events({ since, types, limit: POLL_PAGE, ...(position.epoch ? { epoch: position.epoch } : {}) });
    } catch (error) {
      // Unreachable, or a server error (an agent starting or stopping): worth another attempt.
      if (!(error instanceof AgentClientError) || error.status === undefined || error.status >= 500) return errorMessage(error);
      throw new TailFatalError(pollRefusal(target, error), error.status === 400 ? 'usage' : 'failure');
    }
    connected();
    if (position.offset === undefined) {
      position.offset = page.head;
    } else if (!page.recovered) {
      output.gap(position.offset, position.epoch !== undefined && page.epoch !== position.epoch ? 'the agent\'s event history has a new epoch' : 'retention removed events after this offset');
      position.offset = undefined;
    }
    position.epoch = page.epoch;
    for (const entry of page.events) if (position.advance(entry.offset)) output.event(entry);
    position.offset = Math.max(position.offset ?? 0, page.next_offset - 1);
    const room = output.room();
    if (room) await unlessAborted(room, signal);
    if (page.events.length < POLL_PAGE) await unlessAborted(clock.sleep(POLL_INTERVAL_MS), signal);
  }
  return 'stopped';
}

function pollRefusal(target: string, error: AgentClientError): string {
  if (error.status === 401 || error.status === 403) {
    return `${target} refused GET /events (HTTP ${error.status}${error.code ? ` ${error.code}` : ''}): give the admin API's token with --token-file FILE or $PRAXIS_TOKEN`;
  }
  // Without the store only POST /events exists: GET is 405 there (404 behind a proxy that routes by method).
  if (error.status === 404 || error.status === 405) {
    return `${target} has no GET /events: the agent runs without its event store. Enable store.enabled, or the websocket-broadcaster plugin (then tail uses its stream; --ws-url names it)`;
  }
  return `${target}: GET /events failed (HTTP ${error.status}${error.code ? ` ${error.code}` : ''}): ${error.message}`;
}
