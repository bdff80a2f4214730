import type { IncomingMessage, ServerResponse } from 'node:http';
import { AgentError } from '../core/errors';
import { readBody } from '../http/body';
import { sendJson } from '../http/reply';

/**
 * Answers one request. Throw `HttpError(status, code, message)` to answer `{ error: { code, message } }`;
 * anything else thrown becomes a 500 whose details go to the agent log only.
 */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** How a route is served. */
export interface RouteOptions {
  /**
   * Require the bearer token (when http.auth_token is set). Defaults to true for methods that
   * change something (anything but GET/HEAD), false for reads.
   */
  auth?: boolean;
  /**
   * Several plugins may offer this route (instances of one plugin, say): when another route with
   * the same method and path was added with `standby` too, this one waits behind it instead of
   * failing, and answers once every route added before it is removed (a plugin stopped or
   * removed by a reload). Without it, a second route with the same method and path is refused.
   */
  standby?: boolean;
}

/** What a plugin's routes are added to: the admin server, when `http.enabled`. */
export interface RouteTarget {
  readonly url: string | undefined;
  addRoute(method: string, path: string, handler: RouteHandler, options?: RouteOptions): () => void;
  /** True when a route with exactly this method and path is registered (a standby one included). */
  hasRoute(method: string, path: string): boolean;
}

/**
 * The admin HTTP server as a plugin sees it (inject `HttpRoutes` by type). Routes a plugin adds
 * are removed when it stops. Paths ending in `/*` match a prefix (`/heartbeat/*`). Non-GET routes
 * require the bearer token when `http.auth_token` is set, unless `{ auth: false }`.
 */
export abstract class HttpRoutes {
  /** Base URL of the admin server once it listens; undefined when HTTP is disabled. */
  abstract get url(): string | undefined;
  /** Adds a route; throws HTTP_DISABLED when the admin server is off. Returns a remover. */
  abstract add(method: string, path: string, handler: RouteHandler, options?: RouteOptions): () => void;
  /** True when the admin server has a route with exactly this method and path (any plugin's, or the agent's). */
  abstract has(method: string, path: string): boolean;

  /**
   * Reads a request body of at most `limitBytes`, as the agent's own endpoints do: a larger one
   * rejects with HttpError 413 (HTTP_PAYLOAD_TOO_LARGE) before or while reading, without buffering it.
   */
  readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
    return readBody(req, limitBytes);
  }

  /** Answers `body` as JSON with `status` (no-store), as the agent's own endpoints do. */
  sendJson(res: ServerResponse, status: number, body: unknown): void {
    sendJson(res, status, body);
  }
}

/** One plugin's routes: tracked so the host can remove what the plugin left when it stops. */
export class ScopedHttpRoutes extends HttpRoutes {
  private readonly removers = new Set<() => void>();

  constructor(
    private readonly target: RouteTarget | undefined,
    private readonly owner: string,
  ) {
    super();
  }

  get url(): string | undefined {
    return this.target?.url;
  }

  add(method: string, path: string, handler: RouteHandler, options?: RouteOptions): () => void {
    if (!this.target) {
      throw new AgentError('HTTP_DISABLED', `plugin "${this.owner}" needs the admin HTTP server for ${method} ${path}, but http.enabled is false`);
    }
    const remove = this.target.addRoute(method, path, handler, options);
    const tracked = (): void => {
      if (this.removers.delete(tracked)) remove();
    };
    this.removers.add(tracked);
    return tracked;
  }

  has(method: string, path: string): boolean {
    return this.target?.hasRoute(method, path) ?? false;
  }

  /** Removes every route the plugin still has. */
  close(): void {
    for (const remove of [...this.removers]) remove();
  }
}
