/**
 * The one table of stable error codes. Every config error, start-up failure and runtime
 * rejection the agent reports carries one of these codes, so users can search for it and the
 * README's error reference can link to it. Codes are never renamed; add new ones at the end of a
 * group.
 */
export const ERROR_CODES = {
  // Configuration (exit code 2)
  CONFIG_NOT_FOUND: 'The config file does not exist or cannot be read.',
  CONFIG_YAML_SYNTAX: 'The file is not valid YAML (bad indentation, unclosed quote, tab indentation, ...).',
  CONFIG_UNKNOWN_KEY: 'A key that the schema does not define; check its spelling and indentation.',
  CONFIG_INVALID_VALUE: 'A value of the wrong type, out of range, or not one of the allowed values.',
  CONFIG_MISSING_KEY: 'A required key is absent.',
  CONFIG_ENV_UNSET: 'A ${VAR} reference names an environment variable that is not set and has no default.',
  CONFIG_SECRET_FILE: 'A ${file:/path} reference names a file that cannot be read, is not a regular file (a device, pipe or folder) or is larger than 64 KiB.',
  CONFIG_DUPLICATE_PLUGIN: 'Two plugin entries share the same name.',
  CONFIG_RELOAD_INVALID: 'A hot reload (SIGHUP, POST /-/reload, config-watcher) found the config invalid; the agent keeps running on the previous config.',
  CONFIG_WATCH_PARSE: 'config-watcher cannot parse a watched file (YAML, JSON or .env); the last good version stays the baseline.',
  CONFIG_WATCH_READ: 'config-watcher cannot read or watch a watched file or its folder (permissions, not a file).',
  // Plugins (start-up: exit code 1; `validate`: exit code 2)
  PLUGIN_NOT_FOUND: 'The module named in `use` cannot be resolved (built-in name, relative path or npm package).',
  PLUGIN_INVALID_MODULE: 'The module does not export a plugin definition (definePlugin(...)).',
  PLUGIN_DEPENDENCY_MISSING: 'A plugin depends on a plugin that is not declared or not enabled.',
  PLUGIN_DEPENDENCY_CYCLE: 'Plugin dependencies form a cycle.',
  PLUGIN_START_FAILED: 'A plugin threw or rejected in start(); the plugins started before it were stopped.',
  PLUGIN_STOP_FAILED: 'A plugin threw or rejected in stop(); the other plugins were still stopped.',
  PLUGIN_STOP_TIMEOUT: 'A plugin did not finish stop() within agent.shutdown_timeout.',
  UNHANDLED_REJECTION: "A promise rejected with no handler (typically a plugin's background task); `start` logged it, reported it as agent.error and kept running.",
  // Events and the bus
  EVENT_INVALID: 'An event failed validation against its schema; nothing was delivered.',
  UNCAUGHT_EXCEPTION: 'Code (usually a plugin callback) threw outside any handler; the agent stops its plugins gracefully and exits 1.',
  EVENT_UNKNOWN_TYPE: 'An event type that no schema in the catalogue defines.',
  EVENT_TYPE_CONFLICT: 'Two different schemas were registered for the same event type.',
  EVENT_RESERVED_TYPE: 'agent.* events are published by the agent itself and cannot be ingested.',
  EVENT_TYPE_INVALID_NAME: 'An event type name that is not dotted lower_snake segments (backup.completed).',
  BUS_CLOSED: 'The bus is draining for shutdown and accepts no new events.',
  BUS_INVALID_PATTERN: 'A subscription pattern is not an event type, `prefix.*` or `*`.',
  BUS_INVALID_OPTIONS: 'Subscription options out of range (queue capacity must be a positive integer).',
  HANDLER_FAILED: 'An event handler threw or rejected; other handlers were not affected.',
  HANDLER_QUARANTINED: 'A handler exceeded its error threshold and receives no more events.',
  // Admin / ingest HTTP
  HTTP_UNAUTHORIZED: 'The request lacks the bearer token configured in http.auth_token.',
  HTTP_PAYLOAD_TOO_LARGE: 'The request body exceeds http.body_limit.',
  HTTP_BAD_REQUEST: 'The request body is not valid JSON / NDJSON or not an event or list of events.',
  HTTP_NOT_FOUND: 'No such endpoint.',
  HTTP_METHOD_NOT_ALLOWED: 'The endpoint exists but not for this method; the Allow header lists the methods.',
  HTTP_UNSUPPORTED_MEDIA_TYPE: 'POST /events takes application/json or application/x-ndjson (UTF-8).',
  HTTP_INTERNAL_ERROR: 'A request handler failed; details are in the agent log, not in the response.',
  HTTP_DISABLED: 'A plugin needs the admin HTTP server (routes such as /heartbeat) but http.enabled is false.',
  HTTP_LISTEN_FAILED: 'The admin HTTP server could not bind its address (port in use, permission).',
  // Event store
  STORE_OPEN_FAILED: 'The event store database could not be opened (store.data_dir not writable, corrupt file, or in use by another agent).',
  STORE_CLOSED: 'The event store is not open (store disabled, not started yet, or already closed).',
  STORE_BAD_QUERY: 'GET /events got an invalid since, limit or types parameter.',
  // WebSocket broadcaster: codes of `error` messages on the wire (kept from the protocol the old clients speak)
  INVALID_JSON: 'A WebSocket message that is not valid JSON.',
  INVALID_MESSAGE: 'A WebSocket message that is not {type, payload} or whose payload has the wrong shape.',
  UNKNOWN_TYPE: 'A WebSocket message type other than SUBSCRIBE_EVENTS, UNSUBSCRIBE_EVENTS or PING.',
  INVALID_EVENT_TYPES: 'Some requested event types are not known types, `prefix.*` or `*`; the others were applied.',
  // Built-in plugin: audit-log
  AUDIT_WRITE_FAILED: 'The audit log could not be written (disk full, read-only, permissions); events stay queued and writes are retried.',
  AUDIT_EVENTS_DROPPED: "The audit writer's queue was full while the log was unwritable; further events were dropped and counted.",
  AUDIT_LOG_DAMAGED: "At start the audit log's last line was torn or unreadable; the file was rotated aside and writing continued in a new file.",
  AUDIT_KEY_UNAVAILABLE: 'The audit-log HMAC key (hmac.key_env / hmac.key_file) is unset, unreadable or shorter than 16 bytes.',
  // Built-in plugin: health-probe (the `error_code` of its system.error and service.status metrics)
  HEALTH_HTTP_STATUS: 'An http check got a status outside its expect_status set.',
  HEALTH_HTTP_BODY: 'An http check got a body without body_contains, not matching body_matches, not JSON, or with a json path of another value.',
  HEALTH_TIMEOUT: 'A check did not finish within its timeout and was cut off (request aborted, command killed).',
  HEALTH_CONNECT_REFUSED: 'An http or tcp check found nobody listening on the port (connection refused).',
  HEALTH_CONNECT_FAILED: 'An http or tcp check could not connect or lost the connection (unreachable host, reset, unknown name).',
  HEALTH_TLS: 'An https check could not verify the server certificate (untrusted, wrong host name); see tls_verify and ca_file.',
  HEALTH_CERT_EXPIRING: 'An https certificate expires within cert_expiry_warning: the service is degraded and one warning is raised.',
  HEALTH_CERT_EXPIRED: 'An https certificate has expired (seen with tls_verify: false; with verification it fails as HEALTH_TLS).',
  HEALTH_EXEC_FAILED: 'An exec check exited non-zero, was killed, or could not be started.',
  HEALTH_PROCESS: 'A process check found no live process for its pid_file or process_name.',
  HEALTH_DNS: 'A dns check name did not resolve, or not to any expect_address.',
  HEALTH_HEARTBEAT_MISSED: 'A heartbeat check got no report (service.heartbeat, POST /heartbeat/<check>) within its window.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error with a stable code from {@link ERROR_CODES}; `details` is safe to log (no secrets). */
export class AgentError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AgentError';
  }
}

export function isAgentError(err: unknown): err is AgentError {
  return err instanceof AgentError;
}

/** A printable message for anything thrown, without assuming it is an Error. */
export function errorMessage(err: unknown): string {
  // Not only `instanceof Error`: errors from node:fs may come from another realm (jest, vm).
  if (err instanceof Error || (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string')) return (err as Error).message;
  return typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err));
}
