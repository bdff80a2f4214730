/**
 * The core's table of stable error codes. Every config error, start-up failure and runtime
 * rejection the core reports carries one of these codes, so users can search for it and the
 * README's error reference can link to it. Codes a plugin raises belong to that plugin: it declares
 * them in `definePlugin({ errors })` (see {@link ErrorCodeRegistry}). Codes are never renamed; add
 * new ones at the end of a group.
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
  CONFIG_FILE_UNREADABLE: "A file a config key names (a plugin's password_file, url_file, routing_key_file, credentials_file, ca_file, cert_file, key_file) cannot be used: missing, permission denied, not a regular file (a folder, pipe or device), over its size limit or empty; the message names the key, the path and why, never the content.",
  // Plugins (start-up: exit code 1; `validate`: exit code 2)
  PLUGIN_NOT_FOUND: 'The module named in `use` cannot be resolved (built-in name, relative path or npm package).',
  PLUGIN_INVALID_MODULE: 'The module does not export a plugin definition (definePlugin(...)).',
  PLUGIN_DEPENDENCY_MISSING: 'A plugin depends on a plugin that is not declared or not enabled.',
  PLUGIN_DEPENDENCY_CYCLE: 'Plugin dependencies form a cycle.',
  PLUGIN_START_FAILED: 'A plugin threw or rejected in start(); the plugins started before it were stopped.',
  PLUGIN_STOP_FAILED: 'A plugin threw or rejected in stop(); the other plugins were still stopped.',
  PLUGIN_STOP_TIMEOUT: 'A plugin did not finish stop() within agent.shutdown_timeout.',
  PLUGIN_HANDOVER_FAILED: "A plugin's handOver() threw when it was restarted on reload; the new instance started without its state (PREVIOUS_STATE undefined).",
  ERROR_CODE_UNDECLARED: "A plugin published an error event whose error_code is neither a core code nor one it declares in definePlugin({ errors }); the event was delivered, and reported once per code.",
  ERROR_CODE_CONFLICT: 'Two plugin types declare the same error code (or a plugin declares a core code); each code has one owner.',
  PLUGIN_EVENTS_DISCARDED: 'Events queued for a plugin being stopped, removed or restarted could not be handled within agent.shutdown_timeout (or its new version no longer subscribes to them); they were discarded and counted (reload result, /stats plugins_discarded_events).',
  UNHANDLED_REJECTION: "A promise rejected with no handler (typically a plugin's background task); `start` logged it, reported it as agent.error and kept running.",
  // Events and the bus
  EVENT_INVALID: 'An event failed validation against its schema; nothing was delivered.',
  UNCAUGHT_EXCEPTION: 'Code (usually a plugin callback) threw outside any handler; the agent stops its plugins gracefully and exits 1.',
  EVENT_UNKNOWN_TYPE: 'An event type that no schema in the catalogue defines.',
  EVENT_TYPE_CONFLICT: 'Two different schemas were registered for the same event type.',
  EVENT_RESERVED_TYPE: "agent.*, alert.* and silence.* events are published by the agent itself (its lifecycle, the alerting engine's decisions) and cannot be ingested.",
  EVENT_TYPE_INVALID_NAME: 'An event type name that is not dotted lower_snake segments (backup.completed).',
  EVENT_TOO_DEEP: "An event's data nests objects and arrays deeper than 32 levels, or contains itself; nothing was delivered.",
  EVENT_TOO_LARGE: "An event's data holds more than 10000 keys and array elements in all; nothing was delivered.",
  EVENT_RESERVED_SOURCE: "An ingested event's metadata.source names this agent (agent.name), one of its plugins, or a core component (bus, store); only they publish as themselves.",
  EVENT_TIMESTAMP_SKEW: "An ingested event's metadata.timestamp is more than 5 minutes ahead of the agent's clock.",
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
  STORE_COMMIT_FAILED: 'The event store cannot commit to its database (disk full, I/O error): events stay pending in memory and commits are retried; /readyz is 503 until one succeeds.',
  // Alerting
  ALERTING_UNSUPPORTED: "A key of Alertmanager's configuration that the agent does not implement (an integration such as opsgenie_configs); the message names it and what is supported instead.",
  ALERT_INVALID: "A posted alert (Alertmanager's postable alert) or a restored alert snapshot is invalid: no labels, an invalid label name, an unparsable time, or a start after its end; or an acknowledgement is refused (the alert is not firing, no `by`, an expiry that is unparsable or not in the future). The message names the alert and the problem.",
  ALERTING_SINK_INVALID: 'A receiver names a sink whose plugin does not implement the notifier contract (send(notification, signal)); the agent does not start.',
  ALERT_DELIVERY_REJECTED: "A sink refused a notification for good (its answer was permanent: a bad address, key or payload): the delivery is dead-lettered; the message names receiver, sink, reason and the delivery id to retry. The alert it becomes is never sent to that sink.",
  ALERT_DELIVERY_EXPIRED: "A notification was still failing when its sink's delivery max_age passed: the delivery is dead-lettered; the message names receiver, sink, last reason and the delivery id to retry. The alert it becomes is never sent to that sink.",
  RECEIVER_NOT_FOUND: 'No receiver of that name in the alerting configuration; the message lists the receivers.',
  DELIVERY_NOT_FOUND: 'No delivery with this id in the outbox (unknown, or ended longer ago than it is kept).',
  DELIVERY_NOT_DEAD: 'Only a dead-lettered delivery can be retried; this one is pending or delivered.',
  ALERT_NOT_FOUND: 'No alert with this fingerprint is known to the engine (never seen, or resolved and forgotten).',
  ALERTING_STATE_WRITE_FAILED: "The alerting engine could not write its state (alerts, notification log, silences, acks) to the agent's database (disk full, I/O error, store closed), or could not create its tables there (also when a newer agent wrote them); the message names the operation and SQLite's error.",
  ALERT_BAD_QUERY: 'GET /alerts got an unknown state (use pending, firing, resolved).',
  // Fleet mode
  FLEET_EVENT_REJECTED: "A message from another agent (fleet mode) is not a valid event: not JSON, a bad envelope, incomplete metadata (event_id and timestamp are required), or data its type's schema refuses; it was published nowhere, and its transport was told not to redeliver it. The message names the origin agent and each bad field.",
  EVENT_RESERVED_TAG: "An ingested event carries a tag agent:<id>: that tag names the agent a fleet event came from (fleet mode) and is set only by the agent that received it.",
} as const;

type CoreErrorCodes = typeof ERROR_CODES;

/**
 * Error code → meaning, as the compiler knows them: the core's, plus those plugins add by module
 * augmentation next to their `definePlugin({ errors })`, so `new AgentError(code)` is checked:
 *
 * ```ts
 * export const BACKUP_ERRORS = { BACKUP_FAILED: 'A backup job failed.' } as const;
 * type BackupErrors = typeof BACKUP_ERRORS;
 * declare module 'praxis-agent' {
 *   interface ErrorCodeMap extends BackupErrors {}
 * }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ErrorCodeMap extends CoreErrorCodes {}

/** A stable error code: the core's ({@link ERROR_CODES}) or one a plugin declares. */
export type ErrorCode = keyof ErrorCodeMap & string;

/** What `definePlugin({ errors })` takes: each code the plugin raises (UPPER_SNAKE_CASE) and what it means, one sentence. */
export type ErrorCodeTable = Readonly<Record<string, string>>;

const CODE_PATTERN = /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/;

/** Why `codes` cannot be a plugin's error table (a name that is not UPPER_SNAKE_CASE, a core code, no meaning); undefined when it can. */
export function errorTableProblem(codes: ErrorCodeTable): string | undefined {
  for (const [code, meaning] of Object.entries(codes)) {
    if (!CODE_PATTERN.test(code)) return `error code "${code}" must be UPPER_SNAKE_CASE`;
    if (Object.hasOwn(ERROR_CODES, code)) return `error code ${code} is a core code; a plugin declares only its own`;
    if (typeof meaning !== 'string' || meaning.trim() === '') return `error code ${code} needs a one-sentence meaning`;
  }
  return undefined;
}

/** One known error code: who raises it and what it means. */
export interface ErrorCodeInfo {
  code: string;
  /** `core`, or the plugin type that declares it. */
  owner: string;
  meaning: string;
}

/**
 * Every error code the running agent knows: the core's, merged with those of each plugin type it
 * hosts (declared in `definePlugin({ errors })`). Each code has one owner.
 */
export class ErrorCodeRegistry {
  private readonly codes = new Map<string, ErrorCodeInfo>(Object.entries(ERROR_CODES).map(([code, meaning]) => [code, { code, owner: 'core', meaning }]));

  /** Adds a plugin type's codes; throws ERROR_CODE_CONFLICT when one belongs to the core or to another plugin type. */
  register(owner: string, codes: ErrorCodeTable): void {
    for (const code of Object.keys(codes)) {
      const known = this.codes.get(code);
      if (known && known.owner !== owner) {
        throw new AgentError('ERROR_CODE_CONFLICT', `plugin ${owner} declares error code ${code}, which belongs to ${known.owner === 'core' ? 'the core' : `plugin ${known.owner}`}`, { code, owner, declared_by: known.owner });
      }
    }
    for (const [code, meaning] of Object.entries(codes)) this.codes.set(code, { code, owner, meaning });
  }

  /** The code's entry, undefined when nobody declares it. */
  get(code: string): ErrorCodeInfo | undefined {
    return this.codes.get(code);
  }

  /** Every known code, the core's first, then each plugin's in registration order. */
  list(): ErrorCodeInfo[] {
    return [...this.codes.values()];
  }
}

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
