import type { EventBus } from '../bus/event-bus';
import type { Clock } from '../core/clock';
import { errorMessage, isAgentError, type ErrorCode } from '../core/errors';
import type { EventMetadataInput } from '../events/metadata';
import { AGENT_TAG_PREFIX } from '../fleet/fleet-inbox';
import type { FieldIssue } from '../events/registry';
import type { EventInputMap, EventType } from '../events/types';
import { STORE_SOURCE } from '../store/event-store';
import type { IngestDedup } from './ingest-dedup';
import { HttpError } from './reply';

/** One event of a POST /events batch that was published. */
export interface AcceptedEvent {
  /** Position of the event in the request (0-based; blank NDJSON lines do not count). */
  index: number;
  event_id: string;
  /**
   * True when an event with this `metadata.event_id` was already accepted (a retry): nothing was
   * published or stored again, and `event_id` is the original's.
   */
  duplicate?: true;
}

/** One event of a POST /events batch that was refused, with the reason and its field issues. */
export interface RejectedEvent {
  index: number;
  /** NDJSON only: the 1-based line the event was on. */
  line?: number;
  code: ErrorCode;
  message: string;
  /** Field-level problems; empty when the problem is not about one field. */
  errors: FieldIssue[];
}

/** Body of a `POST /events` response (202 and 400 alike). */
export interface IngestResult {
  accepted: AcceptedEvent[];
  rejected: RejectedEvent[];
}

export type IngestFormat = 'json' | 'ndjson';

/** One parsed item before validation; `line` is set for NDJSON. */
export interface IngestItem {
  value: unknown;
  line?: number;
}

const EVENT_KEYS = new Set(['type', 'data', 'metadata']);
/** Types only the agent publishes: its lifecycle, and the alerting engine's decisions (a client must not forge them into the audit log). */
const RESERVED_PREFIXES = ['agent.', 'alert.', 'silence.'] as const;

/** How far ahead of the agent's clock a client's `metadata.timestamp` may be (ms). */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;

/** `metadata.source` of the core components that publish on their own: the bus's reports, the store's. */
const CORE_SOURCES = ['bus', STORE_SOURCE];

/** What ingest needs besides the bus. */
export interface IngestContext {
  /** `metadata.source` of events that do not name one. */
  source: string;
  /** Sources a client may not claim: the agent's name, its plugins' names (see {@link reservedSources}). */
  reservedSources: ReadonlySet<string>;
  dedup: IngestDedup;
  clock: Clock;
}

/** The sources only the agent itself publishes as: its name, its plugin instances and core components. */
export function reservedSources(agentName: string | undefined, plugins: readonly { name: string }[]): Set<string> {
  return new Set([...(agentName ? [agentName] : []), ...plugins.map((p) => p.name), ...CORE_SOURCES]);
}

/**
 * Picks the body format from Content-Type. A missing Content-Type is read as JSON (the common
 * `curl -d` mistake stays usable); anything else that is not JSON or NDJSON is refused with a hint,
 * because guessing would turn a form post into a confusing JSON syntax error.
 */
export function ingestFormat(contentType: string | undefined): IngestFormat {
  if (contentType === undefined || contentType.trim() === '') return 'json';
  const [mediaType = '', ...params] = contentType.toLowerCase().split(';').map((s) => s.trim());
  const charset = params.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/"/g, '');
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw unsupported(`unsupported charset "${charset}": send UTF-8`);
  }
  if (mediaType === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType)) return 'json';
  if (mediaType === 'application/x-ndjson' || mediaType === 'application/ndjson' || mediaType === 'application/jsonl') return 'ndjson';
  throw unsupported(`unsupported Content-Type "${mediaType}": send application/json (an event or an array of events) or application/x-ndjson (one event per line)`);
}

function unsupported(message: string): HttpError {
  return new HttpError(415, 'HTTP_UNSUPPORTED_MEDIA_TYPE', message);
}

/** Splits a body into items: a JSON object or array, or NDJSON lines. Throws 400 naming the bad line. */
export function parseIngestBody(body: Buffer, format: IngestFormat): IngestItem[] {
  const text = body.toString('utf8').replace(/^\uFEFF/, '');
  const items = format === 'ndjson' ? parseNdjson(text) : parseJson(text);
  if (items.length === 0) throw new HttpError(400, 'HTTP_BAD_REQUEST', 'the request contains no events');
  return items;
}

function parseJson(text: string): IngestItem[] {
  if (text.trim() === '') throw new HttpError(400, 'HTTP_BAD_REQUEST', 'empty request body: send an event object or an array of events');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, 'HTTP_BAD_REQUEST', `invalid JSON: ${errorMessage(error)}`);
  }
  return Array.isArray(value) ? value.map((v: unknown) => ({ value: v })) : [{ value }];
}

function parseNdjson(text: string): IngestItem[] {
  const items: IngestItem[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    try {
      items.push({ value: JSON.parse(line), line: i + 1 });
    } catch (error) {
      throw new HttpError(400, 'HTTP_BAD_REQUEST', `invalid JSON on NDJSON line ${i + 1}: ${errorMessage(error)}`, { line: i + 1 });
    }
  }
  return items;
}

interface Checked {
  type: string;
  data: unknown;
  metadata: unknown;
}

/** Why one event was refused: its code, a message and the field issues. */
export type Rejection = Omit<RejectedEvent, 'index' | 'line'>;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The envelope checks the bus cannot do: shape of the item, unknown keys, reserved types (unless
 * `reservedTypesAllowed`: fleet mode republishes the agent.* and alert.* events of other agents).
 */
export function checkEnvelope(value: unknown, reservedTypesAllowed = false): Checked | Rejection {
  if (!isPlainObject(value)) {
    return invalid([{ path: '(root)', message: 'expected an event object { type, data, metadata? }' }]);
  }
  const errors: FieldIssue[] = [];
  if (value.type === undefined) errors.push({ path: 'type', message: 'required' });
  else if (typeof value.type !== 'string') errors.push({ path: 'type', message: `expected a string, got ${jsonType(value.type)}` });
  // Strict like the event schemas: a misspelt "meta" would otherwise silently lose metadata.
  for (const key of Object.keys(value)) {
    if (!EVENT_KEYS.has(key)) errors.push({ path: key, message: 'unknown key: an event has type, data and metadata' });
  }
  if (errors.length > 0) return invalid(errors);
  const type = value.type as string;
  if (reservedTypesAllowed) return { type, data: value.data, metadata: value.metadata };
  const reserved = RESERVED_PREFIXES.find((prefix) => type.startsWith(prefix));
  if (reserved) {
    const message = `${type}: ${reserved}* events are published by the agent itself and cannot be ingested`;
    return { code: 'EVENT_RESERVED_TYPE', message, errors: [{ path: 'type', message }] };
  }
  return { type, data: value.data, metadata: value.metadata };
}

/** An EVENT_INVALID rejection listing `errors`. */
export function invalid(errors: FieldIssue[]): Rejection {
  return { code: 'EVENT_INVALID', message: `invalid event: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors };
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'array' : typeof value;
}

/** Fills in the default source; anything that is not a plain object is left for the bus to reject. */
function withSource(metadata: unknown, source: string): unknown {
  if (metadata === undefined) return { source };
  if (isPlainObject(metadata) && metadata.source === undefined) return { ...metadata, source };
  return metadata;
}

/**
 * What a client may not say in metadata (the bus checks the format of each field): a source the
 * agent publishes as itself, or a timestamp further ahead of the agent's clock than
 * {@link MAX_FUTURE_SKEW_MS}. Timestamps in the past are kept: late delivery (buffering,
 * store-and-forward) is normal, and the stream is ordered by arrival anyway.
 */
function checkClientMetadata(metadata: unknown, context: IngestContext): Rejection | undefined {
  if (!isPlainObject(metadata)) return undefined;
  const { source, timestamp, tags } = metadata;
  const fleetTag = Array.isArray(tags) ? (tags as unknown[]).find((t) => typeof t === 'string' && t.startsWith(AGENT_TAG_PREFIX)) : undefined;
  if (typeof fleetTag === 'string') {
    const message = `tag "${fleetTag}": ${AGENT_TAG_PREFIX}* tags mark events that came from another agent (fleet mode) and are set only by the agent`;
    return { code: 'EVENT_RESERVED_TAG', message, errors: [{ path: 'metadata.tags', message }] };
  }
  if (typeof source === 'string' && context.reservedSources.has(source)) {
    const message = `source "${source}" is this agent or one of its components; ingested events name their own source (default "${context.source}")`;
    return { code: 'EVENT_RESERVED_SOURCE', message, errors: [{ path: 'metadata.source', message }] };
  }
  const at = typeof timestamp === 'string' ? Date.parse(timestamp) : NaN;
  const ahead = at - context.clock.now();
  if (ahead > MAX_FUTURE_SKEW_MS) {
    const message = `timestamp ${timestamp as string} is ${Math.round(ahead / 1000)} s ahead of the agent's clock; at most ${MAX_FUTURE_SKEW_MS / 1000} s is accepted`;
    return { code: 'EVENT_TIMESTAMP_SKEW', message, errors: [{ path: 'metadata.timestamp', message }] };
  }
  return undefined;
}

/** The client's own `metadata.event_id`, the key retries are deduplicated by. */
function clientEventId(metadata: unknown): string | undefined {
  return isPlainObject(metadata) && typeof metadata.event_id === 'string' ? metadata.event_id : undefined;
}

/** Maps what `bus.publish` (or the registry) threw to a rejection the sender can act on. */
export function rejectionOf(error: unknown, type: string): Rejection {
  if (isAgentError(error)) {
    const issues = error.details?.issues;
    const errors = Array.isArray(issues) ? (issues as FieldIssue[]) : error.code === 'EVENT_UNKNOWN_TYPE' ? [{ path: 'type', message: error.message }] : [];
    return { code: error.code, message: error.message, errors };
  }
  // Only a plugin schema whose refinement throws gets here; report it as a validation failure.
  return { code: 'EVENT_INVALID', message: `validation of ${type} failed: ${errorMessage(error)}`, errors: [] };
}

/**
 * Publishes each item in request order. Items are independent: one bad event never blocks the
 * others. Publishing may wait for a full `block` queue (backpressure reaches the HTTP client).
 * An item whose `metadata.event_id` was already accepted is validated but not published again
 * (`duplicate: true`).
 */
export async function ingest(bus: EventBus, items: readonly IngestItem[], context: IngestContext): Promise<IngestResult> {
  const result: IngestResult = { accepted: [], rejected: [] };
  for (let index = 0; index < items.length; index++) {
    const item = items[index] as IngestItem;
    const at = item.line === undefined ? { index } : { index, line: item.line };
    const checked = checkEnvelope(item.value);
    if (!('type' in checked)) {
      result.rejected.push({ ...at, ...checked });
      continue;
    }
    const refused = checkClientMetadata(checked.metadata, context);
    if (refused) {
      result.rejected.push({ ...at, ...refused });
      continue;
    }
    const eventId = clientEventId(checked.metadata);
    const duplicate = eventId !== undefined && context.dedup.has(eventId);
    try {
      if (duplicate) {
        // A retry that fails validation is still an error: "duplicate" only ever means "stored".
        bus.registry.parseData(checked.type, checked.data);
        result.accepted.push({ index, event_id: eventId, duplicate: true });
        context.dedup.countDuplicate();
        continue;
      }
      if (eventId !== undefined) context.dedup.remember(eventId);
      // The bus validates type and data at run time; the static types cannot know them here.
      const event = await bus.publish(
        checked.type as EventType,
        checked.data as EventInputMap[EventType],
        withSource(checked.metadata, context.source) as EventMetadataInput,
      );
      result.accepted.push({ index, event_id: event.metadata.event_id });
    } catch (error) {
      if (eventId !== undefined && !duplicate) context.dedup.forget(eventId);
      result.rejected.push({ ...at, ...rejectionOf(error, checked.type) });
    }
  }
  return result;
}

/** 202 when anything was accepted; 503 when everything bounced off a closing bus; else 400. */
export function ingestStatus(result: IngestResult): number {
  if (result.accepted.length > 0) return 202;
  if (result.rejected.length > 0 && result.rejected.every((r) => r.code === 'BUS_CLOSED')) return 503;
  return 400;
}

/** The `error` member of a response in which no event was accepted. */
export function ingestFailure(result: IngestResult): { code: ErrorCode; message: string } {
  const [first] = result.rejected;
  if (result.rejected.length === 1 && first) return { code: first.code, message: first.message };
  const codes = new Set(result.rejected.map((r) => r.code));
  const [only] = codes;
  const message = `all ${result.rejected.length} events were rejected`;
  return { code: codes.size === 1 && only ? only : 'HTTP_BAD_REQUEST', message };
}
