import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  AgentControl,
  Bus,
  Clock,
  EVENT_PATTERN,
  EVENT_STORE,
  EventRegistry,
  HttpRoutes,
  inject,
  injectable,
  LOGGER,
  MAX_PEM_FILE_BYTES,
  PLUGIN_CONFIG,
  readConfigFile,
  runOnce,
  settledWithin,
  type CancelTimer,
  type Event,
  type EventStore,
  type Logger,
  type Plugin,
  type StoredEvent,
  type Unsubscribe,
} from 'praxis-agent';
// Its own server checks its own token exactly as the admin server does: core, not SDK (built-in plugins only).
import { bearerMatches } from '../../src/http/auth';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { WebsocketBroadcasterConfig } from './config';
import { Connection, type ConnectionState } from './connection';
import { FanOut, type CutReason } from './fanout';
import { SlowCutLog } from './slow-cuts';
import { originAllowed } from './origins';
import { CLOSE, connectRequestOf, errorFrame, eventFrame, parseClientMessage, resumePointOf, serverMessage, type ClientMessage, type ConnectRequest, type ProtocolErrorCode, type ResumePoint } from './protocol';

/**
 * The statistics of the spec's WebSocket manager, its keys first. `connection_states.connecting`
 * is always 0: a connection is accepted and connected in one step (the key stays for the spec's clients).
 */
export type WebsocketStats = {
  total_connections: number;
  active_connections: number;
  messages_sent: number;
  messages_received: number;
  broadcast_count: number;
  errors: number;
  connection_states: Record<ConnectionState | 'connecting', number>;
  total_errors: number;
  average_messages_per_connection: number;
  /** Beyond the spec: socket writes that carried live events (a burst of events is one write per client). */
  event_writes: number;
  /** Beyond the spec: event-loop turns of the fan-out that wrote events. */
  bursts: number;
  /** Beyond the spec: milliseconds (wall time) of the fan-out's turns, their write completions included. */
  fanout_ms: number;
  /** Beyond the spec: the longest any connection still open waited for an event (ms), as seen by the fan-out's checks: how near max_lag the clients come. */
  max_lag_seen_ms: number;
};

/** Events replayed per store read; the replay yields to the event loop between pages. */
const REPLAY_PAGE = 500;
/** While a replaying client has over half of max_buffered_bytes unsent, its next event waits this long (plugin clock). */
const PACING_MS = 10;
/** How long stop() lets clients answer the close handshake before their sockets are cut. */
const CLOSE_GRACE_MS = 1000;

/**
 * Streams bus events to WebSocket clients on its own server (`ws`), with per-connection filters,
 * heartbeats, limits and, when the agent has an event store, resume without gap or duplicate.
 */
@injectable()
export class WebsocketBroadcasterPlugin implements Plugin {
  private server?: Server;
  private wss?: WebSocketServer;
  private readonly connections = new Set<Connection>();
  private unsubscribe?: Unsubscribe;
  private heartbeat?: CancelTimer;
  /** Pending replay pages and close cut-offs, cancelled by stop(). */
  private readonly timers = new Set<CancelTimer>();
  private baseUrl?: string;
  private readonly stopOnce = runOnce(() => this.shutdown());
  /** Offsets of the stream when there is no store (no replay): a counter in this process. */
  private localOffset = 0;
  private counters = { total_connections: 0, messages_sent: 0, messages_received: 0, broadcast_count: 0, errors: 0, disconnected: 0, ended_in_error: 0, event_writes: 0 };
  /** The publisher (the store's append, or the bus handler) only queues events here: ingest never waits on the sockets. */
  private readonly fanout: FanOut;
  private readonly cuts: SlowCutLog;
  /** Connections in state `connected`, kept as states change (counting them per upgrade was O(n)). */
  private active = 0;

  constructor(
    private readonly bus: Bus,
    private readonly clock: Clock,
    private readonly registry: EventRegistry,
    @inject(PLUGIN_CONFIG) private readonly config: WebsocketBroadcasterConfig,
    @inject(LOGGER) private readonly logger: Logger,
    private readonly agent: AgentControl,
    private readonly routes: HttpRoutes,
    @inject(EVENT_STORE, { isOptional: true }) private readonly store?: EventStore,
  ) {
    this.fanout = new FanOut(
      () => this.connections,
      (conn, data, count) => this.writeEvents(conn, data, count),
      (conn, why) => this.cutOff(conn, why),
      { maxBufferedBytes: config.max_buffered_bytes, maxLagMs: config.max_lag },
    );
    this.cuts = new SlowCutLog(logger, clock);
  }

  /** `ws://host:port/path` once listening. */
  get url(): string | undefined {
    return this.baseUrl;
  }

  async start(): Promise<void> {
    const { tls } = this.config;
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => this.onPlainRequest(req, res);
    this.server = tls ? createHttpsServer(this.tlsOptions(tls), onRequest) : createHttpServer(onRequest);
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.config.max_payload, perMessageDeflate: false, clientTracking: false });
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
    const address = await listen(this.server, this.config.host, this.config.port);
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.baseUrl = `${tls ? 'wss' : 'ws'}://${host}:${address.port}${this.config.path}`;
    if (this.store) {
      this.unsubscribe = this.store.subscribe((entry) => this.broadcast(entry));
    } else {
      // No store: events are numbered in this process only, and nothing can be replayed.
      this.unsubscribe = this.bus.subscribe('*', (event: Event) => {
        // With nobody connected the event is only numbered and counted (the fan-out queues nothing
        // then): serialising it was a tenth of ingest.
        const json = this.connections.size === 0 ? '' : JSON.stringify(event);
        this.broadcast({ offset: ++this.localOffset, type: event.type, json, event });
      }, { name: 'broadcast', capacity: 10_000, overflow: 'drop_oldest' });
    }
    this.scheduleHeartbeat();
    this.advertise(address.port);
    this.logger.info({ url: this.baseUrl, replay: this.store !== undefined }, `websocket broadcaster listening on ${this.baseUrl}${this.store ? '' : ' (no event store: no replay)'}`);
  }

  stop(): Promise<void> {
    return this.stopOnce();
  }

  private get stopping(): boolean {
    return this.stopOnce.called;
  }

  /** The spec's name for {@link stats}. */
  get_stats(): WebsocketStats {
    return this.stats();
  }

  /** The spec's statistics (see {@link WebsocketStats}). */
  stats(): WebsocketStats {
    const states: WebsocketStats['connection_states'] = { connecting: 0, connected: 0, disconnecting: 0, disconnected: this.counters.disconnected, error: this.counters.ended_in_error };
    let totalErrors = 0;
    for (const c of this.connections) {
      states[c.state]++;
      totalErrors += c.errors;
    }
    const { total_connections, messages_sent, messages_received, broadcast_count, errors, event_writes } = this.counters;
    return {
      total_connections,
      active_connections: states.connected,
      messages_sent,
      messages_received,
      broadcast_count,
      errors,
      connection_states: states,
      total_errors: totalErrors,
      average_messages_per_connection: total_connections === 0 ? 0 : (messages_sent + messages_received) / total_connections,
      event_writes,
      bursts: this.fanout.turns,
      fanout_ms: Math.round(this.fanout.busyMs),
      max_lag_seen_ms: Math.round(this.fanout.maxLagSeen),
    };
  }

  private async shutdown(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.heartbeat?.();
    this.heartbeat = undefined;
    for (const cancel of this.timers) cancel();
    this.timers.clear();
    // Events published before stop() still reach the clients, before the close frame.
    this.fanout.finish();
    this.cuts.flush();
    const server = this.server;
    if (!server) return;
    const closed = [...this.connections].map((c) => new Promise<void>((resolve) => {
      c.ws.once('close', () => resolve());
      this.close(c, CLOSE.SHUTDOWN);
    }));
    // Clients that do not answer the close handshake in time are cut off.
    await settledWithin(this.clock, Promise.all(closed), CLOSE_GRACE_MS);
    for (const c of this.connections) c.ws.terminate();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    this.wss?.close();
    this.baseUrl = undefined;
  }

  /**
   * `GET /websocket` on the admin server tells the dashboard where this endpoint is (it runs on a
   * port of its own) and whether it needs a token. With several broadcasters the first one started
   * (the first declared) answers: the page asks for every type in its URL, so any of them would
   * serve it, and the first is the one a reader of the config can predict. The others stand by
   * (the route's `standby`): when a reload removes the one answering, the next takes over.
   */
  private advertise(port: number): void {
    if (this.routes.url === undefined) return;
    const info = {
      ...(this.config.public_url === undefined ? {} : { url: this.config.public_url }),
      port,
      path: this.config.path,
      tls: this.config.tls !== undefined,
      token_required: this.config.auth_token !== undefined,
      replay: this.store !== undefined,
    };
    const behind = this.routes.has('GET', '/websocket');
    this.routes.add('GET', '/websocket', (_req, res) => this.routes.sendJson(res, 200, info), { auth: false, standby: true });
    if (behind) {
      this.logger.info(
        { url: this.baseUrl },
        `the dashboard does not use this broadcaster (${this.baseUrl}) while the websocket-broadcaster declared before it runs: GET /websocket names the one declared first; declare the one browsers should use first`,
      );
    }
  }

  /** The certificate and key, read from paths relative to the agent config file. */
  private tlsOptions(tls: NonNullable<WebsocketBroadcasterConfig['tls']>): { cert: Buffer; key: Buffer } {
    const read = (key: string, file: string): Buffer => readConfigFile(this.agent.resolvePath(file), { key, maxBytes: MAX_PEM_FILE_BYTES });
    return { cert: read('tls.cert_file', tls.cert_file), key: read('tls.key_file', tls.key_file) };
  }

  /** Plain HTTP requests (no upgrade) get 426 on the endpoint, 404 elsewhere. */
  private onPlainRequest(req: IncomingMessage, res: ServerResponse): void {
    const onPath = pathOf(req) === this.config.path;
    const body = JSON.stringify({ error: onPath ? 'this endpoint speaks WebSocket only' : 'not found' });
    res.writeHead(onPath ? 426 : 404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(onPath ? { upgrade: 'websocket' } : {}) });
    res.end(body);
  }

  /** Checks path, origin and token before any WebSocket exists. */
  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => undefined);
    if (this.stopping) return reject(socket, 503, 'server shutting down');
    if (pathOf(req) !== this.config.path) return reject(socket, 404, 'not found');
    const origin = req.headers.origin;
    const adminPort = this.routes.url === undefined ? undefined : Number(new URL(this.routes.url).port);
    if (!originAllowed(origin, this.config.allowed_origins, { adminPort, host: req.headers.host })) {
      this.logger.warn({ origin }, 'websocket upgrade refused: origin not allowed');
      return reject(socket, 403, 'origin not allowed');
    }
    const token = this.config.auth_token;
    if (token !== undefined) {
      const queryToken = new URL(req.url ?? '/', 'http://localhost').searchParams.get('token');
      const header = req.headers.authorization ?? (queryToken ? `Bearer ${queryToken}` : undefined);
      if (!bearerMatches(header, token)) {
        this.logger.warn({ remote: req.socket.remoteAddress }, 'websocket upgrade refused: missing or invalid bearer token');
        return reject(socket, 401, header === undefined ? 'missing bearer token' : 'invalid bearer token', { 'www-authenticate': 'Bearer realm="praxis-agent"' });
      }
    }
    // The filter and resume point of the query are checked as a SUBSCRIBE_EVENTS is, but refused
    // as a whole: a connection never starts on a filter other than the one asked for.
    const parsed = connectRequestOf(new URL(req.url ?? '/', 'http://localhost').searchParams);
    if (!parsed.ok) return reject(socket, 400, parsed.message, {}, { code: parsed.code });
    const invalid = parsed.request.types?.filter((t) => !this.isValidType(t)) ?? [];
    if (invalid.length > 0) {
      return reject(socket, 400, `unknown or invalid event types in query parameter event_types: ${invalid.map((t) => JSON.stringify(t)).join(', ')}; use known types, "prefix.*" or "*"`, {}, { code: 'INVALID_EVENT_TYPES', invalid_types: invalid });
    }
    this.wss?.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req, socket, parsed.request));
  }

  private onConnection(ws: WebSocket, req: IncomingMessage, socket: Duplex, request: ConnectRequest): void {
    if (this.stopping) return ws.close(CLOSE.SHUTDOWN.code, CLOSE.SHUTDOWN.reason);
    if (this.active >= this.config.max_connections) {
      this.logger.warn({ max_connections: this.config.max_connections }, 'websocket connection refused: maximum connections reached');
      return ws.close(CLOSE.MAX_CONNECTIONS.code, CLOSE.MAX_CONNECTIONS.reason);
    }
    const conn = new Connection(randomUUID(), ws, this.clock.now(), req.socket.remoteAddress ?? '', socket);
    this.connections.add(conn);
    this.active++;
    this.counters.total_connections++;
    ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(conn, data, isBinary));
    ws.on('pong', () => {
      conn.lastSeen = this.clock.now();
    });
    ws.on('error', (error: Error) => {
      conn.errors++;
      this.counters.errors++;
      if (conn.state !== 'disconnecting') this.setState(conn, 'error');
      this.logger.debug({ connection: conn.id, err: error }, 'websocket connection error');
    });
    ws.on('close', () => {
      this.connections.delete(conn);
      if (conn.state === 'error') this.counters.ended_in_error++;
      else this.counters.disconnected++;
      this.setState(conn, 'disconnected');
    });
    conn.useDefaults(this.config.default_event_types);
    // The query's filter is the connection's first subscribe: later SUBSCRIBE_EVENTS add to it.
    if (request.types) conn.subscribe(request.types);
    // Synchronous from here to the replay's start: nothing is sent live before it, so nothing needs tracking.
    conn.cursor = this.store?.head ?? this.localOffset;
    // Until the first resume, remember what is sent live (as filters, not offsets) so the replay skips it.
    if (this.store && !request.resume) conn.trackLive();
    const outcome = request.resume ? this.resumeOutcome(request.resume) : undefined;
    this.send(conn, serverMessage('welcome', {
      connection_id: conn.id,
      message: this.store ? 'Connected to the praxis-agent event stream' : 'Connected to the praxis-agent event stream (no event store: replay unavailable)',
      subscribed: conn.patterns,
      replay: this.store !== undefined,
      ...(this.store ? { epoch: this.store.epoch, head: this.store.head } : {}),
      ...outcome?.answer,
      heartbeat_interval_ms: this.config.heartbeat_interval,
    }, this.clock.isoNow()));
    this.logger.debug({ connection: conn.id, remote: conn.remote }, 'websocket client connected');
    if (outcome?.replayFrom !== undefined) this.startReplay(conn, outcome.replayFrom);
  }

  private onMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    // What was published before this message goes out first, under the filter in force then: an
    // answer never overtakes an earlier event, and a resume starts from where live delivery ended.
    this.fanout.catchUp(conn);
    conn.messagesReceived++;
    this.counters.messages_received++;
    conn.lastSeen = this.clock.now();
    if (conn.state !== 'connected') return;
    if (isBinary) return this.fail(conn, 'INVALID_MESSAGE', 'binary messages are not supported; send JSON text');
    const parsed = parseClientMessage(rawText(data));
    if (!parsed.ok) return this.fail(conn, parsed.code, parsed.message);
    const { message } = parsed;
    if (message.type === 'PING') {
      this.send(conn, serverMessage('PONG', { timestamp: this.clock.isoNow() }, this.clock.isoNow(), message.id !== undefined ? { correlation_id: message.id } : {}));
      return;
    }
    this.onSubscription(conn, message);
  }

  private onSubscription(conn: Connection, message: ClientMessage): void {
    const subscribe = message.type === 'SUBSCRIBE_EVENTS';
    const requested = message.payload.event_types;
    if (!Array.isArray(requested)) return this.fail(conn, 'INVALID_MESSAGE', `${message.type} needs payload.event_types: an array of event types`);
    const resume = subscribe ? resumePointOf(message.payload) : undefined;
    if (resume === null) return this.fail(conn, 'INVALID_MESSAGE', 'payload.since must be {offset: integer >= 0, epoch?: string}; payload.last_event_id an offset');
    const valid: string[] = [];
    const invalid: unknown[] = [];
    for (const t of requested) (this.isValidType(t) ? valid : invalid).push(t);
    if (invalid.length > 0) {
      this.fail(conn, 'INVALID_EVENT_TYPES', `unknown or invalid event types: ${invalid.map((t) => JSON.stringify(t)).join(', ')}; use known types, "prefix.*" or "*"`, { invalid_types: invalid });
      if (conn.state !== 'connected') return;
    }
    // A SUBSCRIBE that names no valid type (a resume-only request, or every type refused) keeps
    // the filter as it is, the default one included.
    const replaced = subscribe && valid.length > 0 ? conn.subscribe(valid) : undefined;
    if (!subscribe) conn.unsubscribe(valid);
    const payload: Record<string, unknown> = {
      content: `${subscribe ? 'Subscribed to' : 'Unsubscribed from'} ${valid.length} event types${replaced ? ` (replacing the default subscription: ${replaced.join(', ') || 'none'})` : ''}`,
      sender: 'system',
      type: 'system',
      subscribed: conn.patterns,
      ...(replaced ? { replaced_defaults: replaced } : {}),
    };
    const outcome = resume ? this.resumeOutcome(resume) : undefined;
    Object.assign(payload, outcome?.answer);
    this.send(conn, serverMessage('chatMessage', payload, this.clock.isoNow(), message.id !== undefined ? { correlation_id: message.id } : {}));
    if (outcome?.replayFrom !== undefined) this.startReplay(conn, outcome.replayFrom);
  }

  /** What a resume answers (`recovered`, with `reason` when not; the store's epoch, head and tail), and where its replay starts when there is one. */
  private resumeOutcome(resume: ResumePoint): { answer: Record<string, unknown>; replayFrom?: number } {
    const store = this.store;
    if (!store) return { answer: { recovered: false, reason: 'no event store: replay unavailable' } };
    const recovered = store.covers(resume.offset, resume.epoch ?? store.epoch);
    const answer: Record<string, unknown> = { recovered, epoch: store.epoch, head: store.head, tail: store.tail };
    if (!recovered) answer.reason = notRecoveredReason(store, resume);
    return recovered ? { answer, replayFrom: resume.offset } : { answer };
  }

  private isValidType(t: unknown): t is string {
    if (typeof t !== 'string' || !EVENT_PATTERN.test(t)) return false;
    return t === '*' || t.endsWith('.*') || this.registry.has(t);
  }

  /** Sends every matching stored event after `after`, page by page, then switches the connection to live. */
  private startReplay(conn: Connection, after: number): void {
    if (conn.mode === 'live') conn.endLive();
    conn.mode = 'replaying';
    conn.cursor = after;
    // A new resume during a replay replaces it: the older one's pending page stops.
    this.pump(conn, ++conn.replayRun);
  }

  private pump(conn: Connection, run: number): void {
    const store = this.store;
    if (!store || conn.state !== 'connected' || conn.mode !== 'replaying' || run !== conn.replayRun || this.stopping) return;
    // Synchronous from read to mode switch: nothing can be appended in between, so no gap and no duplicate.
    const page = store.read(conn.cursor, { types: conn.patterns, limit: REPLAY_PAGE });
    for (const entry of page.events) {
      // Pace the replay by what the client reads (checked per event: a page of large events alone
      // may exceed the cap): it must not trip the slow-consumer cap by itself.
      if (conn.ws.bufferedAmount > this.config.max_buffered_bytes / 2) {
        conn.cursor = entry.offset - 1;
        return this.after(PACING_MS, () => this.pump(conn, run));
      }
      if (conn.wasSentLive(entry.offset, entry.type)) continue;
      this.sendFrame(conn, eventFrame(entry));
      if (conn.state !== 'connected') return;
    }
    conn.cursor = page.next_offset - 1;
    if (page.events.length < REPLAY_PAGE) {
      conn.mode = 'live';
      conn.cursor = store.head;
      conn.stopTrackingLive();
      return;
    }
    // Yield to the event loop (not a wait: no time needs to pass) so live events and other clients go on.
    setImmediate(() => this.pump(conn, run));
  }

  /** Runs `fn` after `ms` of the plugin's clock, unless stop() comes first. */
  private after(ms: number, fn: () => void): void {
    const cancel = this.clock.setTimeout(() => {
      this.timers.delete(cancel);
      fn();
    }, ms);
    this.timers.add(cancel);
  }

  /** Queues one event for the live connections (see {@link FanOut}). */
  private broadcast(entry: StoredEvent): void {
    this.counters.broadcast_count++;
    this.fanout.add(entry);
  }

  /** Writes ready event frames to one client, unless its unsent bytes would pass the cap: then it is cut off. */
  private writeEvents(conn: Connection, data: Buffer, count: number): boolean {
    if (!this.hasRoom(conn, data.length)) return false;
    // Straight to the socket under `ws`: its sender writes there too, synchronously and in call
    // order (it queues only while compressing, and perMessageDeflate is off), so frames keep
    // their order with welcome, answers, pings and close; bufferedAmount counts these bytes.
    conn.socket.write(data);
    conn.messagesSent += count;
    this.counters.messages_sent += count;
    this.counters.event_writes++;
    return true;
  }

  /** Sends unless the client's unsent bytes would exceed the cap; then it is cut off instead. */
  private sendFrame(conn: Connection, frame: Buffer): void {
    if (!this.hasRoom(conn, frame.length)) return;
    conn.ws.send(frame, { binary: false });
    conn.messagesSent++;
    this.counters.messages_sent++;
  }

  /** True when `bytes` more stay within max_buffered_bytes; otherwise the client is cut off as a slow consumer. */
  private hasRoom(conn: Connection, bytes: number): boolean {
    if (conn.ws.bufferedAmount + bytes <= this.config.max_buffered_bytes) return true;
    this.cutOff(conn, { kind: 'bytes', unsent: conn.ws.bufferedAmount + bytes });
    return false;
  }

  /** Closes a slow consumer at once (1013): what it has not been sent is not sent. */
  private cutOff(conn: Connection, why: CutReason): void {
    if (conn.state === 'disconnecting' || conn.state === 'disconnected') return;
    if (why.kind === 'bytes') {
      this.cuts.cut({ connection: conn.id, buffered_bytes: why.unsent, max_buffered_bytes: this.config.max_buffered_bytes }, 'websocket client too slow: disconnected (max_buffered_bytes)');
    } else {
      this.cuts.cut({ connection: conn.id, lag_ms: why.lagMs, max_lag_ms: this.config.max_lag }, 'websocket client too slow: disconnected (max_lag)');
    }
    this.counters.errors++;
    this.shut(conn, why.kind === 'bytes' ? CLOSE.SLOW_CONSUMER : CLOSE.LAGGING);
  }

  private send(conn: Connection, text: string): void {
    this.sendFrame(conn, Buffer.from(text));
  }

  /** Answers a bad message with an `error`; past error_threshold the connection is closed. */
  private fail(conn: Connection, code: ProtocolErrorCode, message: string, details: Record<string, unknown> = {}): void {
    conn.errors++;
    this.counters.errors++;
    this.send(conn, errorFrame(code, message, this.clock.isoNow(), details));
    if (conn.errors >= this.config.error_threshold) {
      this.logger.warn({ connection: conn.id, errors: conn.errors }, 'websocket client closed after too many errors');
      this.close(conn, CLOSE.TOO_MANY_ERRORS);
    }
  }

  /** Closes the connection after the events published before (they reach the client before the close frame). */
  private close(conn: Connection, why: { code: number; reason: string }): void {
    if (conn.state === 'disconnecting' || conn.state === 'disconnected') return;
    this.fanout.catchUp(conn);
    this.shut(conn, why);
  }

  /** Closes the connection now. */
  private shut(conn: Connection, why: { code: number; reason: string }): void {
    if (conn.state === 'disconnecting' || conn.state === 'disconnected') return;
    this.setState(conn, 'disconnecting');
    conn.ws.close(why.code, why.reason);
  }

  /** Every state change goes through here, so that the count of connected ones stays exact. */
  private setState(conn: Connection, state: ConnectionState): void {
    if (conn.state === state) return;
    if (conn.state === 'connected') this.active--;
    if (state === 'connected') this.active++;
    conn.state = state;
  }

  private scheduleHeartbeat(): void {
    const interval = this.config.heartbeat_interval;
    this.heartbeat = this.clock.setTimeout(() => {
      const now = this.clock.now();
      for (const conn of this.connections) {
        if (conn.state !== 'connected') continue;
        if (now - conn.lastSeen > 3 * interval) {
          this.logger.info({ connection: conn.id }, 'websocket client silent for 3 heartbeat intervals: closed');
          this.close(conn, CLOSE.HEARTBEAT);
          // A silent peer may never finish the close handshake.
          this.after(CLOSE_GRACE_MS, () => conn.ws.terminate());
          continue;
        }
        conn.ws.ping();
      }
      if (!this.stopping) this.scheduleHeartbeat();
    }, interval);
  }
}

function notRecoveredReason(store: EventStore, resume: ResumePoint): string {
  if (resume.epoch !== undefined && resume.epoch !== store.epoch) return `epoch ${resume.epoch} is not the current one (${store.epoch}): history was lost or the database is new`;
  if (resume.offset > store.head) return `offset ${resume.offset} is beyond the newest event (${store.head})`;
  return `events after ${resume.offset} are no longer retained (oldest retained: ${store.tail})`;
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?', 1)[0] as string;
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}

/** Answers an upgrade request with an HTTP error; no WebSocket is opened. */
function reject(socket: Socket, status: number, message: string, headers: Record<string, string> = {}, details: Record<string, unknown> = {}): void {
  const body = JSON.stringify({ error: message, ...details });
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`, 'Connection: close', 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(new Error(`cannot listen on ${host}:${port}: ${error.message}`));
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}
