import { durationSchema, eventPatternSchema, z } from 'praxis-agent';

/** One subject token: no dots, wildcards or whitespace (NATS subject rules), so `<prefix>.<agent_id>.<type>` parses back. */
export const SUBJECT_TOKEN = /^[A-Za-z0-9_-]+$/;
/** A subject prefix: dot-separated tokens, no wildcards. */
const SUBJECT_PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
/** A stream or durable consumer name: JetStream refuses `.`, `*`, `>`, whitespace and path separators. */
const JS_NAME = /^[A-Za-z0-9_-]+$/;

const positiveDuration = durationSchema.refine((ms) => ms > 0, 'must be longer than 0');

const streamSchema = z
  .strictObject({
    name: z.string().regex(JS_NAME, 'letters, digits, _ and - only').default('PRAXIS_EVENTS').describe('JetStream stream that holds the fleet events; its subjects are `<subject_prefix>.>`.'),
    retention: z.enum(['limits', 'interest', 'workqueue']).default('limits').describe('Retention policy of the stream (JetStream RetentionPolicy). `limits` keeps messages until max_age / max_bytes remove them.'),
    max_age: durationSchema.default(7 * 24 * 3_600_000).describe('Messages older than this are removed by the server (default 7d; 0: no age limit).'),
    max_bytes: z.number().int().min(-1).default(-1).describe('Largest size of the stream in bytes, oldest messages removed beyond it (-1: no limit).'),
    replicas: z.number().int().min(1).max(5).default(1).describe('Copies of each message in a NATS cluster (1 on a single server).'),
    duplicate_window: positiveDuration.default(120_000).describe("The server's deduplication window for Nats-Msg-Id (default 2m, the server's own default)."),
    create: z.boolean().default(true).describe('Create the stream when it does not exist; false: it must exist (created by an operator) and is only checked.'),
  })
  .describe('The stream the sidecars publish to and aggregators consume from. An existing stream whose settings differ is an error (NATS_STREAM_MISMATCH), never changed silently.');

const authSchema = z
  .strictObject({
    token_file: z.string().min(1).optional().describe('File holding the server token (relative to the config file).'),
    token_env: z.string().min(1).optional().describe('Environment variable holding the server token.'),
    user: z.string().min(1).optional().describe('User name; needs password_file or password_env.'),
    password_file: z.string().min(1).optional().describe('File holding the password of `user`.'),
    password_env: z.string().min(1).optional().describe('Environment variable holding the password of `user`.'),
    nkey_seed_file: z.string().min(1).optional().describe('File holding an NKey user seed (SU...).'),
    creds_file: z.string().min(1).optional().describe('A .creds file (user JWT and NKey seed, as `nsc` writes it).'),
  })
  .superRefine((auth, ctx) => {
    const kinds = [
      auth.token_file !== undefined || auth.token_env !== undefined ? 'token' : undefined,
      auth.user !== undefined ? 'user' : undefined,
      auth.nkey_seed_file !== undefined ? 'nkey' : undefined,
      auth.creds_file !== undefined ? 'creds' : undefined,
    ].filter((k) => k !== undefined);
    if (kinds.length > 1) ctx.addIssue({ code: 'custom', message: `give one way to authenticate, not ${kinds.join(' and ')}` });
    if (auth.token_file !== undefined && auth.token_env !== undefined) ctx.addIssue({ code: 'custom', path: ['token_env'], message: 'give token_file or token_env, not both' });
    if (auth.user !== undefined && (auth.password_file === undefined) === (auth.password_env === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['password_file'], message: 'user needs exactly one of password_file or password_env' });
    }
    if (auth.user === undefined && (auth.password_file !== undefined || auth.password_env !== undefined)) ctx.addIssue({ code: 'custom', path: ['user'], message: 'a password needs a user' });
  })
  .describe('How the agent authenticates to NATS: one of token, user + password, NKey seed or creds file. Secrets come from files or the environment, never from this file.');

const tlsSchema = z
  .strictObject({
    ca_file: z.string().min(1).optional().describe('PEM CA bundle that signed the server certificate.'),
    cert_file: z.string().min(1).optional().describe('PEM client certificate (mutual TLS); needs key_file.'),
    key_file: z.string().min(1).optional().describe('PEM private key of cert_file.'),
  })
  .refine((tls) => (tls.cert_file === undefined) === (tls.key_file === undefined), { message: 'cert_file and key_file go together', path: ['key_file'] })
  .describe('Connect with TLS (paths relative to the config file). `tls: {}` requires TLS with the system CAs.');

export const natsConfigSchema = z
  .strictObject({
    servers: z.array(z.string().min(1)).min(1).default(['nats://127.0.0.1:4222']).describe('NATS server URLs (nats://host:port, tls://host:port); the client tries them in turn.'),
    role: z.enum(['sidecar', 'aggregator']).default('sidecar').describe('sidecar: forward this agent\'s events to the stream. aggregator: consume the whole fleet\'s stream into this agent\'s bus (alerting runs there).'),
    agent_id: z.string().regex(SUBJECT_TOKEN, 'one subject token: letters, digits, _ and - only').optional().describe('This agent in subjects (`<subject_prefix>.<agent_id>.<type>`) and in the `agent` label of fleet alerts. Default: agent.name unless it is the default "praxis-agent", else the host name (made a valid token).'),
    subject_prefix: z.string().regex(SUBJECT_PREFIX, 'dot-separated tokens of letters, digits, _ and -').default('praxis.events').describe('Subjects are `<subject_prefix>.<agent_id>.<event type>`; the stream takes `<subject_prefix>.>`.'),
    stream: streamSchema.default(streamSchema.parse({})),
    types: z.array(eventPatternSchema).min(1).default(['*']).describe('Sidecar: which events to forward (exact types, "prefix.*" or "*"). Aggregator: which fleet events to take in.'),
    auth: authSchema.optional(),
    tls: tlsSchema.optional(),
    reconnect: z
      .strictObject({
        initial: positiveDuration.default(250).describe('First wait before reconnecting.'),
        max: positiveDuration.default(30_000).describe('Longest wait between reconnect attempts; the agent keeps trying as long as it runs.'),
      })
      .default({ initial: 250, max: 30_000 })
      .describe('Backoff between connection attempts (doubling, with jitter). The agent starts without NATS and never gives up.'),
    forward: z
      .strictObject({
        max_in_flight: z.number().int().min(1).max(65_536).default(256).describe('Published events awaiting their PubAck at once (pipelined, in order).'),
        ack_timeout: positiveDuration.default(5_000).describe('How long a PubAck may take before the publish is retried.'),
        checkpoint_file: z.string().min(1).default('.praxis-data/nats-forward.json').describe('Where the last acknowledged store offset is kept (relative to the config file); survives restarts and crashes.'),
      })
      .default({ max_in_flight: 256, ack_timeout: 5_000, checkpoint_file: '.praxis-data/nats-forward.json' })
      .describe('Sidecar: forwarding from the local event store.'),
    consumer: z
      .strictObject({
        durable: z.string().regex(JS_NAME, 'letters, digits, _ and - only').default('praxis-aggregator').describe('Durable pull consumer shared by every aggregator: each event is processed by one of them.'),
        max_ack_pending: z.number().int().min(1).default(1000).describe('Messages handed out and not yet acknowledged, across all aggregators.'),
        ack_wait: positiveDuration.default(30_000).describe('A message not acknowledged within this is redelivered (to any aggregator).'),
        batch: z.number().int().min(1).max(10_000).default(100).describe('Messages fetched per pull.'),
        lease: durationSchema.refine((ms) => ms === 0 || ms >= 1_000, 'must be 0 (off) or at least 1s: it is refreshed every quarter of itself').default(10_000).describe('Active/standby aggregators: only the holder of a leader lease (a key in the JetStream KV bucket `<stream>_<durable>_lease`, expiring after this long unless refreshed) consumes, so alerting runs once for the fleet; the others stand by and take over when it expires. 0: every aggregator consumes (load sharing; each alerts on its share).'),
      })
      .default({ durable: 'praxis-aggregator', max_ack_pending: 1000, ack_wait: 30_000, batch: 100, lease: 10_000 })
      .describe('Aggregator: the durable pull consumer on the stream.'),
    alert_state: z
      .strictObject({
        replicate: z.boolean().default(true).describe('Aggregator with alerting: share silences and acks with the other aggregators, and the lease holder\'s notification log and alerts with the next holder, through the KV bucket `<stream>_<durable>_alerting` (see plugins/nats/README.md). false: each aggregator keeps its own.'),
      })
      .default({ replicate: true })
      .describe('Aggregator: the alerting state shared between aggregators.'),
  })
  .describe('Fleet mode on NATS JetStream: sidecars forward their events to one stream, aggregators consume it (see plugins/nats/README.md).');

export type NatsConfig = z.output<typeof natsConfigSchema>;
export type NatsAuthConfig = NonNullable<NatsConfig['auth']>;
export type NatsTlsConfig = NonNullable<NatsConfig['tls']>;
export type StreamConfig = NatsConfig['stream'];
