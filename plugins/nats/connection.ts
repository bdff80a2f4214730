import {
  AuthorizationError,
  connect,
  credsAuthenticator,
  nkeyAuthenticator,
  tokenAuthenticator,
  UserAuthenticationExpiredError,
  usernamePasswordAuthenticator,
  type Authenticator,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import { AgentError, Backoff, errorMessage, MAX_PEM_FILE_BYTES, readConfigFile, readSecretFile, redactText, type CancelTimer, type Clock, type Logger } from 'praxis-agent';
import type { NatsAuthConfig, NatsConfig, NatsTlsConfig } from './config';

/** What the connection tells its owner (the forwarder or the aggregator). */
export interface LinkHooks {
  /** A connection is up (first connect, or a new one after the previous closed). Also called after the client reconnected by itself. */
  connected(nc: NatsConnection, reconnected: boolean): void;
  /** The connection was lost; the client or the link is reconnecting. */
  disconnected(reason: string): void;
  /** A failure episode began (or changed kind): report it once, with its code. */
  failing(code: 'NATS_CONNECT_FAILED' | 'NATS_AUTH_FAILED', message: string, diagnostic: Record<string, unknown>): void;
  /** The failure episode ended: connected again after `attempts` failed attempts over `downMs`. */
  recovered(info: { downMs: number; attempts: number }): void;
}

/** The link's state for /stats, /readyz and `fleet status`. */
export interface LinkStats {
  connected: boolean;
  server: string | null;
  connects: number;
  disconnects: number;
  failed_attempts: number;
  /** Why the last attempt or connection failed (never a secret). */
  last_error: string | null;
  /** ISO time since when the agent has been without NATS; null while connected. */
  down_since: string | null;
}

/** Resolves a path from the config the way the agent does (AgentControl.resolvePath). */
export type ResolvePath = (p: string) => string;

/** The resolved options of one connection attempt (secrets read at each attempt, so a rotated file is picked up). */
export function connectionOptions(config: Pick<NatsConfig, 'servers' | 'auth' | 'tls'>, resolve: ResolvePath, name: string): NodeConnectionOptions {
  return {
    servers: config.servers,
    name,
    // One reconnect policy, the link's: a lost connection closes, and the link connects again with
    // its Backoff on the agent's Clock (the client's own loop would give up after 10 attempts by
    // default, and calls a delay handler once per loop turn rather than once per attempt).
    reconnect: false,
    // Otherwise every request (each PubAck awaited) builds two Error objects with stack traces up
    // front, for context should it time out: 28 % of the forwarding CPU in a profile (bench fleet-forward).
    noAsyncTraces: true,
    ...(config.auth ? { authenticator: authenticatorOf(config.auth, resolve) } : {}),
    ...(config.tls ? { tls: tlsOf(config.tls, resolve) } : {}),
  };
}

function authenticatorOf(auth: NatsAuthConfig, resolve: ResolvePath): Authenticator {
  const secret = (key: string, file: string): string => readSecretFile(resolve(file), { key });
  const env = (key: string, name: string): string => {
    const value = process.env[name];
    if (value === undefined || value === '') throw new AgentError('CONFIG_ENV_UNSET', `${key}: environment variable ${name} is not set`, { key, variable: name });
    return value;
  };
  if (auth.token_file !== undefined) return tokenAuthenticator(secret('auth.token_file', auth.token_file));
  if (auth.token_env !== undefined) return tokenAuthenticator(env('auth.token_env', auth.token_env));
  if (auth.user !== undefined) {
    const password = auth.password_file !== undefined ? secret('auth.password_file', auth.password_file) : env('auth.password_env', auth.password_env as string);
    return usernamePasswordAuthenticator(auth.user, password);
  }
  if (auth.nkey_seed_file !== undefined) return nkeyAuthenticator(new TextEncoder().encode(secret('auth.nkey_seed_file', auth.nkey_seed_file).trim()));
  return credsAuthenticator(new Uint8Array(readConfigFile(resolve(auth.creds_file as string), { key: 'auth.creds_file' })));
}

function tlsOf(tls: NatsTlsConfig, resolve: ResolvePath): NonNullable<NodeConnectionOptions['tls']> {
  const pem = (key: string, file: string): string => readConfigFile(resolve(file), { key, maxBytes: MAX_PEM_FILE_BYTES }).toString('utf8');
  return {
    ...(tls.ca_file !== undefined ? { ca: pem('tls.ca_file', tls.ca_file) } : {}),
    ...(tls.cert_file !== undefined ? { cert: pem('tls.cert_file', tls.cert_file) } : {}),
    ...(tls.key_file !== undefined ? { key: pem('tls.key_file', tls.key_file) } : {}),
  };
}

/** True when the server refused the credentials (as opposed to not being reachable). */
export function isAuthError(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e instanceof AuthorizationError || e instanceof UserAuthenticationExpiredError) return true;
    if (/authorization violation|authentication/i.test(e.message)) return true;
  }
  return false;
}


/**
 * One NATS connection that is there whenever a server is: the agent starts without NATS and keeps
 * trying as long as it runs. `connect()` fails at once when no server is up, and the client gives
 * up reconnecting after 10 attempts by default; so the link runs its own loop (capped exponential
 * {@link Backoff} with jitter on the agent's {@link Clock}) around `connect()`, for the first
 * connection and after every lost one (the client's own reconnect is off). Each new connection
 * goes to hooks.connected, where the role sets up what it needs (stream check, consumer). Failures
 * are reported once per episode (hooks.failing / hooks.recovered); secrets are never in a message.
 */
export class NatsLink {
  private nc?: NatsConnection;
  private stopped = false;
  private timer?: CancelTimer;
  private readonly backoff: Backoff;
  private episode?: { since: number; attempts: number; code: string };
  private counters = { connects: 0, disconnects: 0, failed_attempts: 0 };
  private lastError: string | null = null;
  private downSince: number;
  private loop?: Promise<void>;

  constructor(
    private readonly config: Pick<NatsConfig, 'servers' | 'auth' | 'tls' | 'reconnect'>,
    private readonly resolve: ResolvePath,
    private readonly clientName: string,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly hooks: LinkHooks,
    /** For tests: replaces the jitter source. */
    random?: () => number,
  ) {
    this.backoff = new Backoff({ initialMs: config.reconnect.initial, maxMs: config.reconnect.max, jitter: 0.2 }, random);
    this.downSince = clock.now();
  }

  /** The open connection, undefined while there is none. */
  get connection(): NatsConnection | undefined {
    return this.nc && !this.nc.isClosed() ? this.nc : undefined;
  }

  get connected(): boolean {
    return this.connection !== undefined && this.downSince === 0;
  }

  /** Begins connecting; returns at once (the agent does not wait for NATS). */
  start(): void {
    this.attempt();
  }

  /** The servers as they may be shown (credentials in a URL redacted). */
  get servers(): string[] {
    return this.config.servers.map((url) => redactText(url));
  }

  stats(): LinkStats {
    return {
      connected: this.connected,
      server: this.connected ? redactText(this.nc?.getServer() ?? '') || null : null,
      ...this.counters,
      last_error: this.lastError,
      down_since: this.downSince === 0 ? null : new Date(this.downSince).toISOString(),
    };
  }

  /** Drains and closes the connection (pending publishes are flushed); stops retrying. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.();
    this.timer = undefined;
    const nc = this.nc;
    this.nc = undefined;
    if (nc && !nc.isClosed()) {
      try {
        await nc.close();
      } catch {
        // closing a broken connection: nothing left to release
      }
    }
    await this.loop;
  }

  private attempt(): void {
    if (this.stopped) return;
    let options: NodeConnectionOptions;
    try {
      options = connectionOptions(this.config, this.resolve, this.clientName);
    } catch (error) {
      // A secret file that cannot be read: the same episode as a refused login, retried (the file may appear).
      this.fail('NATS_AUTH_FAILED', error);
      return;
    }
    connect(options).then(
      (nc) => this.onConnect(nc),
      (error: unknown) => this.fail(isAuthError(error) ? 'NATS_AUTH_FAILED' : 'NATS_CONNECT_FAILED', error),
    );
  }

  private onConnect(nc: NatsConnection): void {
    if (this.stopped) {
      void nc.close().catch(() => undefined);
      return;
    }
    this.nc = nc;
    this.counters.connects++;
    this.up(this.counters.connects > 1, nc);
    this.loop = this.watch(nc);
  }

  /** Follows the connection's status until it closes for good, then starts the link's loop again. */
  private async watch(nc: NatsConnection): Promise<void> {
    const statuses = (async () => {
      for await (const s of nc.status()) {
        if (this.stopped) return;
        if (s.type === 'disconnect') this.down(`disconnected from ${s.server}`);
        else if (s.type === 'error') this.lastError = redactText(errorMessage(s.error));
      }
    })();
    const closed = await nc.closed();
    await statuses.catch(() => undefined);
    if (this.stopped) return;
    this.nc = undefined;
    this.down(closed ? `connection closed: ${errorMessage(closed)}` : 'connection closed');
    this.fail(closed && isAuthError(closed) ? 'NATS_AUTH_FAILED' : 'NATS_CONNECT_FAILED', closed ?? new Error('connection closed'));
  }

  private up(reconnected: boolean, nc: NatsConnection): void {
    if (this.episode) {
      const { since, attempts } = this.episode;
      this.episode = undefined;
      this.hooks.recovered({ downMs: this.clock.now() - since, attempts });
    }
    this.backoff.reset();
    this.downSince = 0;
    this.lastError = null;
    const server = redactText(nc.getServer());
    this.logger.info({ server, reconnected }, `connected to NATS ${server}`);
    this.hooks.connected(nc, reconnected);
  }

  private down(reason: string): void {
    if (this.downSince !== 0) return;
    this.downSince = this.clock.now();
    this.counters.disconnects++;
    this.logger.warn({ reason }, `NATS connection lost (${reason}); reconnecting`);
    this.hooks.disconnected(reason);
  }

  private fail(code: 'NATS_CONNECT_FAILED' | 'NATS_AUTH_FAILED', error: unknown): void {
    if (this.stopped) return;
    this.counters.failed_attempts++;
    // A server URL may carry credentials (nats://user:password@host): never shown as they are.
    this.lastError = redactText(errorMessage(error));
    if (this.downSince === 0) this.downSince = this.clock.now();
    const delayMs = this.backoff.next();
    if (!this.episode || this.episode.code !== code) {
      const attempts = this.episode?.attempts ?? 0;
      this.episode = { since: this.episode?.since ?? this.clock.now(), attempts, code };
      const what = code === 'NATS_AUTH_FAILED' ? 'refused the credentials' : 'cannot be reached';
      this.hooks.failing(code, `NATS (${this.servers.join(', ')}) ${what}: ${this.lastError}; working locally, retrying with backoff (up to ${this.config.reconnect.max} ms apart)`, {
        servers: this.servers,
        error: this.lastError,
      });
    }
    this.episode.attempts++;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.attempt();
    }, delayMs);
  }
}
