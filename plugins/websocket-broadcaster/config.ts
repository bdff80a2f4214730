import { bearerTokenSchema, durationSchema, eventPatternSchema, z } from 'praxis-agent';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** A duration (`500ms`, `30s`, `5m`, or milliseconds) longer than 0. */
const positiveDuration = durationSchema.refine((ms) => ms > 0, 'must be longer than 0');

export const websocketBroadcasterConfigSchema = z
  .strictObject({
    host: z.string().min(1).default('127.0.0.1').describe('Bind address. Anything but loopback (127.0.0.1, ::1, localhost) requires auth_token.'),
    port: z.number().int().min(0).max(65535).default(9781).describe('TCP port; 0 picks a free one (the log line "websocket broadcaster listening on ws://..." names it).'),
    path: z.string().regex(/^\/[^?#\s]*$/, 'a path starting with "/"').default('/ws/events').describe('URL path of the WebSocket endpoint; other paths answer 404.'),
    default_event_types: z
      .array(eventPatternSchema)
      .default(['*'])
      .describe('The filter a new connection starts with, until its first SUBSCRIBE_EVENTS replaces it: exact types, "prefix.*" or "*"; [] sends nothing until the client subscribes.'),
    heartbeat_interval: positiveDuration.default(30_000).describe('The server pings every connection this often; one that answers neither a ping nor sends PING for 3 intervals is closed (1001 "Heartbeat timeout").'),
    max_connections: z
      .number()
      .int()
      .min(1)
      .default(2000)
      .describe('Connections beyond this are closed at once with 1008 "Maximum connections reached". One costs about 16 KB of memory idle, 24 KB once subscribed and receiving (up to max_buffered_bytes more while it lags) and a file descriptor: keep it well under the open-file limit (ulimit -n).'),
    max_payload: z.number().int().min(64).default(65_536).describe('Largest message a client may send, in bytes; a bigger one closes the connection with 1009.'),
    error_threshold: z.number().int().min(1).default(10).describe('Invalid messages after which a connection is closed (1008 "Too many errors").'),
    max_buffered_bytes: z.number().int().min(1024).default(4_194_304).describe('Per-connection cap on bytes waiting to be sent (its socket\'s unsent bytes plus the events queued for it): a client that stopped reading (its socket has not taken the last write for an eighth of max_lag) and is owed more is disconnected (1013 "Slow consumer") instead of slowing anyone else.'),
    max_lag: positiveDuration
      .default(2_000)
      .describe(
        'Longest an event may wait to reach a client (queued in the agent, or unsent in its socket) before the client is disconnected (1013 "Slow consumer"); it reconnects and resumes from the event store. The fan-out takes only a small share of a busy agent (each turn at most a sixth of the time the rest of the event loop took), so when it cannot write every event to every client, ingest goes on and the clients it could not serve in time are cut. Must be longer than 0. Measured: local readers lagged 182 ms through a 10,000-event POST; a dashboard at a normal agent\'s rate lags nothing (its socket buffers take every event).',
      ),
    auth_token: bearerTokenSchema.optional().describe('Bearer token (visible ASCII, no spaces) required at the upgrade (header "Authorization: Bearer ..." or ?token=); without it the request gets 401 and no WebSocket opens. Use ${PRAXIS_WS_TOKEN} or ${file:...}.'),
    allowed_origins: z
      .array(z.string().min(1))
      .default([])
      .describe('Browser origins allowed to connect besides the dashboard\'s (e.g. https://dash.example.com); a request with another Origin header gets 403, one without (not a browser) is let through. The dashboard\'s origin (the admin server\'s port on the host name the browser reached this server by) is always allowed; ["*"] allows any.'),
    public_url: z
      .string()
      .min(1)
      .optional()
      .describe('Where browsers reach this endpoint, told to the dashboard by GET /websocket on the admin server: a ws:// or wss:// URL, or a path relative to the dashboard page behind a reverse proxy (e.g. "ws/events"). Default: this port and path on the host name the page was loaded from.'),
    tls: z
      .strictObject({
        cert_file: z.string().min(1).describe('PEM certificate (chain) file.'),
        key_file: z.string().min(1).describe('PEM private key file.'),
      })
      .optional()
      .describe('Serve wss:// with this certificate and key (paths relative to the agent config file).'),
  })
  .superRefine((config, ctx) => {
    if (!LOOPBACK.has(config.host) && config.auth_token === undefined) {
      ctx.addIssue({ code: 'custom', path: ['auth_token'], message: `host ${config.host} is not loopback: set auth_token so that not anyone on the network can read the event stream` });
    }
  })
  .describe('Streams events to WebSocket clients, with subscriptions, heartbeats, limits and resume from the event store.');

export type WebsocketBroadcasterConfig = z.output<typeof websocketBroadcasterConfigSchema>;
