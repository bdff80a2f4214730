/** Error codes of the nats plugin (`definePlugin({ errors })`); the README's error table lists them. */
export const NATS_ERRORS = {
  NATS_CONNECT_FAILED: 'The agent cannot reach any NATS server in `servers` (refused, unreachable, TLS handshake failed); it works locally and keeps retrying with backoff.',
  NATS_AUTH_FAILED: 'A NATS server refused the credentials (auth.*): wrong token, password, NKey or creds, or the user lacks permission; the agent keeps retrying with backoff.',
  NATS_STREAM_MISMATCH: 'The stream exists with settings (subjects, retention, max_age, max_bytes, replicas, duplicate_window) other than the config says; the agent does not change it: align the config or update the stream (nats stream edit).',
  NATS_STREAM_MISSING: 'The stream does not exist and stream.create is false.',
  NATS_JETSTREAM_UNAVAILABLE: 'The NATS server has no JetStream (start it with -js) or the account has no JetStream access.',
  NATS_FORWARD_GAP: 'Events left the local store (store.max_age / max_events retention) before they could be forwarded: they are not in the stream; the message gives the count and the offsets.',
  NATS_PUBLISH_FAILED: 'A forwarded event got no PubAck (timeout, connection lost) or was refused: forwarding goes back to the last acknowledged offset and retries with backoff (re-sent events are deduplicated by Nats-Msg-Id).',
  NATS_STORE_REQUIRED: 'The sidecar role forwards from the local event store: enable `store` in agent.config.yaml.',
  NATS_CHECKPOINT_FAILED: 'The forwarding checkpoint file cannot be written or read; forwarding goes on, a restart may re-send events (deduplicated against the stream).',
  NATS_CONSUMER_MISMATCH: 'Aggregator: the durable consumer exists with settings (ack_policy, filter_subject, max_ack_pending, ack_wait) other than consumer.* says; the agent does not change it: make consumer.* match on every aggregator, or change the consumer yourself (nats consumer edit).',
  NATS_CONSUME_FAILED: 'Aggregator: the durable pull consumer cannot be created or read (JetStream refused, timed out, or the stream is gone); the aggregator retries with backoff and /readyz is 503 meanwhile.',
  NATS_ALERT_STATE_FAILED: "Aggregator: the alert state's KV bucket `<stream>_<durable>_alerting` cannot be opened, read or written (JetStream refused or timed out); silences, acks and the notification log stay in the local store and are written once it can (retried with backoff). Reported once per episode, its end at info.",
  NATS_ALERT_STATE_MISMATCH: "Aggregator: the alert state's KV bucket exists with other settings (history, max_age) than the replication needs; the agent does not change it: delete the bucket while no aggregator runs (nats kv del <stream>_<durable>_alerting).",
  NATS_ALERT_STATE_INVALID: "Aggregator: a value in the alert state's KV bucket is not one an aggregator wrote (not JSON, a foreign key, an invalid silence, alert, ack or log entry, a key that does not match its value): skipped and reported; the rest is merged.",
} as const;

type NatsErrors = typeof NATS_ERRORS;

declare module 'praxis-agent' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface ErrorCodeMap extends NatsErrors {}
}
