import crypto, { createHash, createHmac } from 'node:crypto';
import { errorMessage } from 'praxis-agent';

/**
 * The audit line format. One JSON object per line, keys in this order:
 *
 *   seq, recorded_at, timestamp, type, event_id, correlation_id, source, tags, data,
 *   file_start (only on the first line of a file), prev, hash, hmac (only with a key)
 *
 * `hash` is the SHA-256 (hex) of the line's canonical content: the object without `hash` and
 * `hmac`, serialised as JSON with object keys sorted (by UTF-16 code unit) at every depth and no
 * whitespace. `prev` is the previous line's `hash` (the genesis hash for the very first line), so
 * each line commits to everything before it. `hmac` is HMAC-SHA256(key, canonical content).
 */

/** `prev` of the first line of a chain. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * The `type` of the record that starts a file after the previous one vanished, was replaced or
 * was truncated while the writer appended to it. Its `seq` and `prev` continue the chain from the
 * last line the writer wrote (`data.last_seq`, `data.last_hash`), so `audit verify` can tell which
 * records are missing and that nothing else is.
 */
export const FILE_BREAK_TYPE = 'audit.file_break';

/** What happened to the file the writer was appending to, as seen from its path. */
export const FILE_BREAK_REASONS = ['vanished', 'replaced', 'truncated'] as const;
/** One of {@link FILE_BREAK_REASONS}. */
export type FileBreakReason = (typeof FILE_BREAK_REASONS)[number];

/** `data` of an `audit.file_break` record. */
export interface FileBreakData {
  reason: FileBreakReason;
  /** The path the writer appends to. */
  file: string;
  /** seq of the first line of the lost file (null: unknown); with `last_seq`, the records that may be lost. */
  first_seq: number | null;
  /** seq and hash of the last line the writer wrote to it. */
  last_seq: number;
  last_hash: string;
  /** Where what was found at the path (the replacement, or the truncated file) was kept; null when nothing was there. */
  kept_as: string | null;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** What the writer queues for one event: everything but the chain fields. `data` is already redacted and JSON-normalised. */
export interface AuditEntry {
  timestamp: string;
  type: string;
  event_id: string | null;
  correlation_id: string | null;
  source: string | null;
  tags: string[];
  data: unknown;
  /** `JSON.stringify(data)`, when already known (from {@link normaliseData}); computed when absent. */
  dataJson?: string;
  /** `canonicalJson(data)`, when already known; computed when absent. */
  dataCanonical?: string;
}

/** One line of the audit log as parsed. */
export interface AuditRecord extends Omit<AuditEntry, 'dataJson' | 'dataCanonical'> {
  seq: number;
  recorded_at: string;
  file_start?: true;
  prev: string;
  hash: string;
  hmac?: string;
}

/** Deterministic JSON of a JSON-normalised value (as produced by JSON.parse): sorted keys, no whitespace. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  // Loops and concatenation rather than map/join: this runs for every value of every line written.
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]);
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    out += `${i === 0 ? '' : ','}${JSON.stringify(k)}:${canonicalJson(obj[k])}`;
  }
  return `${out}}`;
}

/** The canonical content of a record: everything except `hash` and `hmac`. */
export function canonicalContent(record: Record<string, unknown>): string {
  const { hash: _hash, hmac: _hmac, ...content } = record;
  return canonicalJson(content);
}

/** SHA-256 (hex) of `text`; one-shot `crypto.hash` (Node 20.12+) where there is one: about half the cost per line of a Hash object. */
export const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function' ? (text) => crypto.hash('sha256', text, 'hex') : (text) => createHash('sha256').update(text).digest('hex');

export function hmacHex(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text).digest('hex');
}

/**
 * A JSON-normalised deep copy (what JSON.parse of the written line will give back), so the hash
 * computed at write time is the hash verify recomputes, with its JSON text (the copy serialises
 * to exactly that text, so the writer puts it in the line as it is). Values JSON cannot hold are
 * recorded as a note instead of failing the write.
 */
export function normaliseData(data: unknown): { data: unknown; json: string } {
  try {
    const json = JSON.stringify(data);
    return json === undefined ? { data: null, json: 'null' } : { data: JSON.parse(json) as unknown, json };
  } catch (error) {
    const note = { audit_note: `event data could not be serialised: ${errorMessage(error)}` };
    return { data: note, json: JSON.stringify(note) };
  }
}

export interface ChainPosition {
  seq: number;
  prev: string;
  recordedAt: string;
  fileStart: boolean;
}

/**
 * An entry's text, everything but the chain fields, in the three pieces {@link sealPrepared} puts
 * them between: the canonical content up to `event_id`, the canonical content from `source` on,
 * and the line's fields from `timestamp` to `data`. Plain JSON text (no raw newline, so a batch of
 * them travels to the sealing worker as one string joined by newlines).
 */
export type PreparedEntry = readonly [canonicalHead: string, canonicalTail: string, lineBody: string];

/** Serialises the parts of an entry that do not depend on its place in the chain. */
export function prepareEntry(entry: AuditEntry): PreparedEntry {
  const timestamp = JSON.stringify(entry.timestamp);
  const type = JSON.stringify(entry.type);
  const eventId = JSON.stringify(entry.event_id);
  const correlationId = JSON.stringify(entry.correlation_id);
  const source = JSON.stringify(entry.source);
  const tags = JSON.stringify(entry.tags);
  const data = entry.dataJson ?? JSON.stringify(entry.data) ?? 'null';
  return [
    `{"correlation_id":${correlationId},"data":${entry.dataCanonical ?? canonicalJson(entry.data)},"event_id":${eventId},`,
    // Tags are strings: their canonical form is their JSON.
    `"source":${source},"tags":${tags},"timestamp":${timestamp},"type":${type}}`,
    `"timestamp":${timestamp},"type":${type},"event_id":${eventId},"correlation_id":${correlationId},"source":${source},"tags":${tags},"data":${data},`,
  ];
}

/**
 * Builds the line (without its newline) for a prepared entry at `position` and returns it with
 * its hash. Both texts are assembled from their parts rather than by serialising a record object
 * twice: the canonical content has its top-level keys in sorted order by construction, and the
 * line is byte for byte what `JSON.stringify` of the record (keys in the order above) gives, which
 * is what `audit verify` compares against.
 */
export function sealPrepared(entry: PreparedEntry, position: ChainPosition, key?: Buffer): { line: string; hash: string } {
  // What JSON.stringify gives for them, without its call and copy per line: seq is a safe integer,
  // recorded_at an ISO 8601 time and prev a hex hash (nothing to escape in either).
  const seq = String(position.seq);
  const recordedAt = `"${position.recordedAt}"`;
  const prev = `"${position.prev}"`;
  const fileStart = position.fileStart ? '"file_start":true,' : '';
  const canonical = `${entry[0]}${fileStart}"prev":${prev},"recorded_at":${recordedAt},"seq":${seq},${entry[1]}`;
  const hash = sha256Hex(canonical);
  const hmac = key ? `,"hmac":"${hmacHex(key, canonical)}"` : '';
  return { line: `{"seq":${seq},"recorded_at":${recordedAt},${entry[2]}${fileStart}"prev":${prev},"hash":"${hash}"${hmac}}`, hash };
}

/** {@link sealPrepared} of {@link prepareEntry}. */
export function sealEntry(entry: AuditEntry, position: ChainPosition, key?: Buffer): { line: string; hash: string } {
  return sealPrepared(prepareEntry(entry), position, key);
}

/** Parses one line; a description of what is wrong when it is not a well-formed audit record. */
export function parseRecord(text: string): { record: AuditRecord } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: 'not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problem: 'not a JSON object' };
  const r = value as Record<string, unknown>;
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 1) return { problem: 'no valid "seq"' };
  if (typeof r.hash !== 'string' || !HEX64.test(r.hash)) return { problem: 'no valid "hash"' };
  if (typeof r.prev !== 'string' || !HEX64.test(r.prev)) return { problem: 'no valid "prev"' };
  if (typeof r.type !== 'string') return { problem: 'no "type"' };
  if (r.hmac !== undefined && (typeof r.hmac !== 'string' || !HEX64.test(r.hmac))) return { problem: 'a malformed "hmac"' };
  return { record: r as unknown as AuditRecord };
}

/** The `data` of an `audit.file_break` record, or undefined when it does not have that shape. */
export function parseFileBreak(data: unknown): FileBreakData | undefined {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return undefined;
  const d = data as Record<string, unknown>;
  const seqOrNull = (v: unknown): boolean => v === null || (Number.isSafeInteger(v) && (v as number) >= 1);
  if (!FILE_BREAK_REASONS.includes(d.reason as FileBreakReason) || typeof d.file !== 'string') return undefined;
  if (!seqOrNull(d.first_seq) || !Number.isSafeInteger(d.last_seq) || (d.last_seq as number) < 1) return undefined;
  if (typeof d.last_hash !== 'string' || !HEX64.test(d.last_hash) || (d.kept_as !== null && typeof d.kept_as !== 'string')) return undefined;
  return d as unknown as FileBreakData;
}

/** The sequence number of a line without fully parsing it (lines start with `{"seq":N,`). */
export function quickSeq(text: string): number | undefined {
  const match = /^\{"seq":(\d+),/.exec(text);
  return match ? Number(match[1]) : undefined;
}
