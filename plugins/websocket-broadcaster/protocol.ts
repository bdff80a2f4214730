import type { StoredEvent } from 'praxis-agent';
import type { WEBSOCKET_ERRORS } from './errors';

/**
 * The wire protocol, compatible with the clients of the system this replaces. Every message is
 * `{ type, payload, id?, timestamp?, correlation_id? }` as JSON text.
 */
export const CLIENT_TYPES = ['SUBSCRIBE_EVENTS', 'UNSUBSCRIBE_EVENTS', 'PING'] as const;
export type ClientType = (typeof CLIENT_TYPES)[number];

/** Codes of `error` messages. */
export type ProtocolErrorCode = keyof typeof WEBSOCKET_ERRORS;

/** WebSocket close codes and reasons the server uses. */
export const CLOSE = {
  SHUTDOWN: { code: 1001, reason: 'Server shutting down' },
  HEARTBEAT: { code: 1001, reason: 'Heartbeat timeout' },
  MAX_CONNECTIONS: { code: 1008, reason: 'Maximum connections reached' },
  TOO_MANY_ERRORS: { code: 1008, reason: 'Too many errors' },
  SLOW_CONSUMER: { code: 1013, reason: 'Slow consumer: outgoing buffer limit exceeded' },
  LAGGING: { code: 1013, reason: 'Slow consumer: events waited longer than max_lag' },
} as const;

export interface ClientMessage {
  type: ClientType;
  payload: Record<string, unknown>;
  id?: string;
}

export type ParseResult = { ok: true; message: ClientMessage } | { ok: false; code: ProtocolErrorCode; message: string };

/** Parses one text message from a client; never throws. */
export function parseClientMessage(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, code: 'INVALID_JSON', message: 'message is not valid JSON' };
  }
  if (!isRecord(value) || typeof value.type !== 'string') {
    return { ok: false, code: 'INVALID_MESSAGE', message: 'expected a JSON object {"type": string, "payload": object}' };
  }
  if (value.payload !== undefined && !isRecord(value.payload)) {
    return { ok: false, code: 'INVALID_MESSAGE', message: 'payload must be an object' };
  }
  if (!(CLIENT_TYPES as readonly string[]).includes(value.type)) {
    return { ok: false, code: 'UNKNOWN_TYPE', message: `unknown message type "${value.type.slice(0, 64)}"; expected one of ${CLIENT_TYPES.join(', ')}` };
  }
  const message: ClientMessage = { type: value.type as ClientType, payload: (value.payload as Record<string, unknown> | undefined) ?? {} };
  if (typeof value.id === 'string' || typeof value.id === 'number') message.id = String(value.id);
  return { ok: true, message };
}

/** The resume point a SUBSCRIBE_EVENTS asks for: `since: {offset, epoch}` or `last_event_id`. */
export interface ResumePoint {
  offset: number;
  epoch?: string;
}

/** Reads the resume point of a subscription; `undefined` when none, `null` when malformed. */
export function resumePointOf(payload: Record<string, unknown>): ResumePoint | undefined | null {
  const { since, last_event_id: lastId } = payload;
  if (since !== undefined) {
    if (!isRecord(since) || !isOffset(since.offset) || (since.epoch !== undefined && typeof since.epoch !== 'string')) return null;
    return { offset: Number(since.offset), ...(typeof since.epoch === 'string' ? { epoch: since.epoch } : {}) };
  }
  if (lastId !== undefined) return isOffset(lastId) ? { offset: Number(lastId) } : null;
  return undefined;
}

/** What the upgrade request's query asks for: the filter and resume point, applied before any event is sent. */
export interface ConnectRequest {
  /** The filter, replacing default_event_types (validated by the caller against the catalogue). */
  types?: string[];
  resume?: ResumePoint;
}

/**
 * Reads `?event_types=a,b.*&since=<offset>&epoch=<epoch>` of an upgrade URL; other parameters
 * (`token`) are not its business. `since` is read as a SUBSCRIBE_EVENTS's `since` is. Returns the
 * reason when a parameter is malformed, given twice, empty, or an epoch comes without `since`.
 */
export function connectRequestOf(query: URLSearchParams): { ok: true; request: ConnectRequest } | { ok: false; code: ProtocolErrorCode; message: string } {
  const request: ConnectRequest = {};
  for (const name of ['event_types', 'since', 'epoch']) {
    if (query.getAll(name).length > 1) return { ok: false, code: 'INVALID_MESSAGE', message: `query parameter ${name} is given more than once` };
  }
  const types = query.get('event_types');
  if (types !== null) {
    request.types = types.split(',').map((t) => t.trim()).filter((t) => t.length > 0);
    if (request.types.length === 0) return { ok: false, code: 'INVALID_EVENT_TYPES', message: 'query parameter event_types names no event type; leave it out to keep default_event_types' };
  }
  const since = query.get('since');
  const epoch = query.get('epoch');
  if (since === null) {
    if (epoch !== null) return { ok: false, code: 'INVALID_MESSAGE', message: 'query parameter epoch needs since (the offset it numbers)' };
  } else {
    const resume = resumePointOf({ since: { offset: since, ...(epoch === null ? {} : { epoch }) } });
    if (!resume || epoch === '') return { ok: false, code: 'INVALID_MESSAGE', message: 'query parameter since must be an offset (integer >= 0), epoch the epoch of the welcome it came from' };
    request.resume = resume;
  }
  return { ok: true, request };
}

function isOffset(value: unknown): boolean {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0;
  return typeof value === 'string' && /^\d{1,15}$/.test(value);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A message from the server; `timestamp` is the plugin clock's ISO time. */
export function serverMessage(type: string, payload: Record<string, unknown>, timestamp: string, extra: { correlation_id?: string } = {}): string {
  return JSON.stringify({ type, payload, timestamp, ...extra });
}

/** The `error` frame: `{type: "error", payload: {message, code, timestamp, ...details}}`. */
export function errorFrame(code: ProtocolErrorCode, message: string, timestamp: string, details: Record<string, unknown> = {}): string {
  return serverMessage('error', { message, code, timestamp, ...details }, timestamp);
}

/**
 * The frame of one event: `{"type":"eventStream","payload":<event JSON>,"id":"<offset>"}`. The
 * event's JSON is the store's text, embedded as is; the result is sent to every matching client.
 */
export function eventFrame(entry: Pick<StoredEvent, 'offset' | 'json'>): Buffer {
  return Buffer.from(`{"type":"eventStream","payload":${entry.json},"id":"${entry.offset}"}`);
}

/**
 * The bytes of one unmasked, unfragmented WebSocket text frame (RFC 6455 5.2) carrying `payload`:
 * what `ws` writes for `send(payload)` on a server connection without compression. Built once per
 * event, so a burst of events goes to each client as one socket write of ready frames.
 */
export function textFrame(payload: Buffer): Buffer {
  const n = payload.length;
  const headerLength = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + n);
  frame[0] = 0x81; // FIN + opcode 1 (text)
  if (n < 126) {
    frame[1] = n;
  } else if (n < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    frame.writeUInt32BE(n >>> 0, 6);
  }
  payload.copy(frame, headerLength);
  return frame;
}
