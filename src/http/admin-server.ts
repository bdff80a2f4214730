import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EventBus } from '../bus/event-bus';
import { adminUrlFor } from '../client/agent-connection';
import { Clock, SystemClock } from '../core/clock';
import { AgentError, errorMessage, isAgentError } from '../core/errors';
import type { Logger } from '../core/logger';
import type { RouteHandler, RouteOptions } from '../plugin/http-routes';
import type { PluginStatus } from '../plugin/plugin-host';
import { runOnce } from '../core/timed';
import { bearerMatches, requireBearer } from './auth';
import { readBody } from './body';
import { ingest, ingestFailure, ingestFormat, ingestStatus, parseIngestBody, reservedSources } from './ingest';
import { IngestDedup, type EventIdIndex } from './ingest-dedup';
import { createAdminMetrics, type AdminMetrics } from './metrics';
import { HttpError, sendError, sendJson } from './reply';

export interface AdminServerOptions {
  host: string;
  port: number;
  /** When set, POST /events (and every non-GET route) requires `Authorization: Bearer <token>`. */
  auth_token?: string;
  /** Largest accepted request body in bytes. */
  body_limit: number;
  /** How long stop() lets in-flight requests finish before cutting their connections (default 5000). */
  shutdown_grace_ms?: number;
}

export interface AdminServerDeps {
  bus: EventBus;
  logger: Logger;
  /** Current plugin states, for /readyz and /metrics. */
  plugins(): PluginStatus[];
  /** True once every plugin started. */
  ready(): boolean;
  /** The event store, when it is on: ingest deduplicates against it, /readyz reports its commits. */
  store?: AdminStore;
  /** The agent's name (agent.name): ingested events may not claim it as their source. */
  agentName?: string;
  /** Defaults to the system clock; ingest compares client timestamps with it. */
  clock?: Clock;
  /** JSON for /stats, grouped per component. */
  stats(): Record<string, unknown>;
  /** Each plugin's own stats by plugin name, exported on /metrics as praxis_component_stat. */
  componentStats?(): Record<string, Record<string, unknown>>;
  /** metadata.source of ingested events that do not name one (default 'ingest'). */
  source?: string;
  /** The agent's memory of event ids, when the agent shares it with fleet mode; else the server keeps its own. */
  dedup?: IngestDedup;
}

/** What the admin server needs of the event store. */
export interface AdminStore extends EventIdIndex {
  /** Why the store keeps the agent from being ready (commits failing), or undefined. */
  readinessProblem(): string | undefined;
}

interface Route {
  method: string;
  /** As registered: `/heartbeat/*` for a prefix route; also the metrics label. */
  path: string;
  /** For prefix routes, what the request path must start with. */
  prefix?: string;
  auth: boolean;
  /** Added with `standby`: another standby route with the same method and path may queue behind it. */
  standby: boolean;
  handler: RouteHandler;
}

const DEFAULT_SHUTDOWN_GRACE_MS = 5000;

/**
 * The admin and ingest HTTP API on plain `node:http`: /healthz, /readyz, /metrics, /stats and
 * POST /events, plus routes added by plugins through {@link addRoute}. Every failure is answered
 * with `{ error: { code, message } }`; no request can crash the process.
 */
export class AdminServer {
  private readonly http: Server;
  private readonly routes: Route[] = [];
  private readonly metrics: AdminMetrics;
  private readonly inFlight = new Set<ServerResponse>();
  private readonly dedup: IngestDedup;
  private readonly clock: Clock;
  private baseUrl?: string;
  /** An admin server listens once and closes once: start() and stop() are idempotent, concurrent calls share one outcome. */
  private readonly listenOnce = runOnce(() => this.listen());
  private readonly closeOnce = runOnce(() => this.close());

  constructor(
    private readonly options: AdminServerOptions,
    private readonly deps: AdminServerDeps,
  ) {
    this.http = createServer((req, res) => this.onRequest(req, res));
    this.clock = deps.clock ?? new SystemClock();
    this.dedup = deps.dedup ?? new IngestDedup(this.clock, deps.store);
    this.metrics = createAdminMetrics({ busStats: () => deps.bus.stats(), plugins: () => deps.plugins(), ready: () => this.readiness().ready, componentStats: () => deps.componentStats?.() ?? {} });
    this.addBuiltinRoutes();
  }

  /** Base URL once listening, e.g. `http://127.0.0.1:9780`. */
  get url(): string | undefined {
    return this.baseUrl;
  }

  /** The underlying server, e.g. for a WebSocket broadcaster to handle 'upgrade'. */
  get server(): Server {
    return this.http;
  }

  /**
   * Adds a route. `path` is matched exactly, or as a prefix when it ends in `/*` (`/heartbeat/*`
   * matches `/heartbeat/db`); exact routes win over prefix routes, longer prefixes over shorter.
   * Returns a function that removes the route again (for plugins that stop or reload).
   */
  addRoute(method: string, path: string, handler: RouteHandler, options: RouteOptions = {}): () => void {
    const verb = method.toUpperCase();
    if (!path.startsWith('/')) throw new Error(`route path must start with "/": ${path}`);
    const standby = options.standby === true;
    // Standby routes queue behind one another: find() answers with the first one registered.
    if (this.routes.some((r) => r.method === verb && r.path === path && !(standby && r.standby))) {
      throw new Error(`route ${verb} ${path} is already registered`);
    }
    const route: Route = {
      method: verb,
      path,
      standby,
      auth: options.auth ?? (verb !== 'GET' && verb !== 'HEAD'),
      handler,
      ...(path.endsWith('/*') ? { prefix: path.slice(0, -1) } : {}),
    };
    this.routes.push(route);
    return () => {
      const at = this.routes.indexOf(route);
      if (at >= 0) this.routes.splice(at, 1);
    };
  }

  hasRoute(method: string, path: string): boolean {
    const verb = method.toUpperCase();
    return this.routes.some((r) => r.method === verb && r.path === path);
  }

  /** Listens and resolves the base URL with the actual port (port 0 picks a free one). Later calls return the same outcome. */
  start(): Promise<string> {
    return this.listenOnce();
  }

  /**
   * Stops listening and closes idle keep-alive connections at once; in-flight requests get
   * `shutdown_grace_ms` to finish, then their connections are cut. Idempotent; a no-op when not started.
   */
  async stop(): Promise<void> {
    if (!this.listenOnce.called) return;
    await this.listenOnce().catch(() => undefined);
    if (!this.http.listening && !this.closeOnce.called) return;
    return this.closeOnce();
  }

  private listen(): Promise<string> {
    const { host, port } = this.options;
    return new Promise<string>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        this.http.off('listening', onListening);
        const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
        reject(new AgentError('HTTP_LISTEN_FAILED', `cannot listen on ${where}: ${error.message}`, { host, port, reason: error.code }, { cause: error }));
      };
      const onListening = (): void => {
        this.http.off('error', onError);
        this.baseUrl = baseUrlOf(this.http.address() as AddressInfo);
        this.deps.logger.debug({ url: this.baseUrl }, 'admin HTTP server listening');
        resolve(this.baseUrl);
      };
      this.http.once('error', onError);
      this.http.once('listening', onListening);
      try {
        this.http.listen({ host, port });
      } catch (error) {
        // Invalid ports throw synchronously instead of emitting 'error'.
        this.http.off('listening', onListening);
        this.http.off('error', onError);
        onError(error as NodeJS.ErrnoException);
      }
    });
  }

  private close(): Promise<void> {
    return new Promise<void>((resolve) => {
      const grace = setTimeout(() => this.http.closeAllConnections(), this.options.shutdown_grace_ms ?? DEFAULT_SHUTDOWN_GRACE_MS);
      grace.unref();
      this.http.close(() => {
        clearTimeout(grace);
        this.baseUrl = undefined;
        this.deps.logger.debug('admin HTTP server stopped');
        resolve();
      });
      this.http.closeIdleConnections();
      // Responses still being prepared close their connection instead of waiting for keep-alive.
      for (const res of this.inFlight) res.shouldKeepAlive = false;
    });
  }

  private addBuiltinRoutes(): void {
    this.addRoute('GET', '/healthz', (_req, res) => sendJson(res, 200, { status: 'ok' }));
    this.addRoute('GET', '/readyz', (req, res) => {
      const readiness = this.readiness();
      const status = readiness.ready ? 200 : 503;
      const token = this.options.auth_token;
      if (token === undefined || bearerMatches(req.headers.authorization, token)) return sendJson(res, status, { ...readiness, plugins: this.deps.plugins() });
      // A probe without the token gets the verdict and each plugin's state, not the free text
      // (plugin errors, the store's file and failure) that /stats also keeps behind the token.
      const plugins = this.deps.plugins().map(({ name, use, state }) => ({ name, use, state }));
      sendJson(res, status, { ready: readiness.ready, ...(readiness.store && { store: { ready: readiness.store.ready } }), plugins });
    });
    this.addRoute('GET', '/metrics', async (_req, res) => {
      const { text, contentType } = await this.metrics.scrape();
      res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
      res.end(text);
    });
    // Probes and scrapers read /healthz, /readyz (its details only with the token) and /metrics without a
    // token; /stats needs it when one is set: beside counts it carries free text (error messages,
    // hosts, lease holders), like GET /events.
    this.addRoute('GET', '/stats', (_req, res) => sendJson(res, 200, { ...this.deps.stats(), ingest: this.dedup.stats() }), { auth: true });
    this.addRoute('POST', '/events', (req, res) => this.handleIngest(req, res), { auth: true });
  }

  /** Ready: every plugin started and, with the store on, its commits succeed (else `store.reason` says why not). */
  private readiness(): { ready: boolean; store?: { ready: boolean; reason?: string } } {
    if (!this.deps.store) return { ready: this.deps.ready() };
    const reason = this.deps.store.readinessProblem();
    return { ready: this.deps.ready() && reason === undefined, store: reason === undefined ? { ready: true } : { ready: false, reason } };
  }

  private async handleIngest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const format = ingestFormat(req.headers['content-type']);
    const body = await readBody(req, this.options.body_limit);
    const items = parseIngestBody(body, format);
    const result = await ingest(this.deps.bus, items, {
      source: this.deps.source ?? 'ingest',
      reservedSources: reservedSources(this.deps.agentName, this.deps.plugins()),
      dedup: this.dedup,
      clock: this.clock,
    });
    const status = ingestStatus(result);
    // A response in which nothing was accepted is an error response too, so it also carries `error`.
    sendJson(res, status, status === 202 ? result : { error: ingestFailure(result), ...result });
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?', 1)[0] as string;
    const route = this.find(method === 'HEAD' ? 'GET' : method, path);
    this.inFlight.add(res);
    if (this.closeOnce.called) res.shouldKeepAlive = false;
    res.once('close', () => this.inFlight.delete(res));
    res.once('finish', () => this.metrics.countRequest(method, route?.path ?? 'unmatched', res.statusCode));
    this.dispatch(req, res, method, path, route).catch((error: unknown) => this.fail(req, res, error));
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, method: string, path: string, route: Route | undefined): Promise<void> {
    if (!route) {
      const allowed = this.allowedMethods(path);
      if (allowed.length > 0) {
        throw new HttpError(405, 'HTTP_METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}; use ${allowed.join(', ')}`, { allow: allowed }, { allow: allowed.join(', ') });
      }
      throw new HttpError(404, 'HTTP_NOT_FOUND', `no endpoint ${path}`);
    }
    if (route.auth) requireBearer(req, this.options.auth_token);
    await route.handler(req, res);
  }

  private find(method: string, path: string): Route | undefined {
    let best: Route | undefined;
    for (const route of this.routes) {
      if (route.method !== method) continue;
      if (route.path === path) return route;
      if (route.prefix && path.startsWith(route.prefix) && (!best?.prefix || route.prefix.length > best.prefix.length)) best = route;
    }
    return best;
  }

  private allowedMethods(path: string): string[] {
    const methods = new Set<string>();
    for (const r of this.routes) if (r.path === path || (r.prefix && path.startsWith(r.prefix))) methods.add(r.method);
    if (methods.has('GET')) methods.add('HEAD');
    return [...methods].sort();
  }

  /** Answers a failed request; never throws (this is the last line of defence). */
  private fail(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    const where = `${req.method ?? '?'} ${(req.url ?? '').split('?', 1)[0]}`;
    try {
      if (res.headersSent) {
        this.deps.logger.error({ err: error, request: where }, `admin HTTP handler failed after responding: ${errorMessage(error)}`);
        res.destroy();
        return;
      }
      if (error instanceof HttpError) {
        const log = error.status >= 500 ? 'error' : 'debug';
        this.deps.logger[log]({ request: where, status: error.status, code: error.code }, error.message);
        sendError(res, error.status, error.code, error.message, error.details, { ...error.headers, ...closeIfUnread(req) });
        return;
      }
      this.deps.logger.error({ err: error, request: where }, `admin HTTP handler failed: ${errorMessage(error)}`);
      if (isAgentError(error)) {
        sendError(res, 500, error.code, error.message, {}, closeIfUnread(req));
      } else {
        sendError(res, 500, 'HTTP_INTERNAL_ERROR', `internal error while handling ${where}; see the agent log`, {}, closeIfUnread(req));
      }
    } catch (secondary) {
      this.deps.logger.error({ err: secondary, request: where }, 'admin HTTP error response failed');
      res.destroy();
    }
  }
}

/**
 * An error answered before the body was read (401, 404, 413, 415, ...) closes the connection:
 * otherwise Node would keep reading and discarding a body of any size to reuse the connection.
 */
function closeIfUnread(req: IncomingMessage): Record<string, string> {
  return req.complete ? {} : { connection: 'close' };
}

function baseUrlOf(address: AddressInfo): string {
  return adminUrlFor(address.address, address.port);
}
