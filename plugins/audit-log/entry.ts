import { DEFAULT_SECRET_KEY_PATTERNS, isSecretKey, redactSecrets, redactText, redactValue, type Event } from 'praxis-agent';
import { canonicalJson, normaliseData, type AuditEntry } from './record';

const REDACTED = /^\*\*\*[0-9a-f]{8}$/;

/** Deeper data takes the general path, which also copes with cycles. */
const MAX_CLEAN_DEPTH = 64;
/** Distinct keys whose verdict is remembered; beyond it the memory starts over (keys made of data must not grow it without bound). */
const MAX_REMEMBERED_KEYS = 10_000;

/**
 * Builds the audit entries of one plugin instance: metadata plus data with secrets redacted.
 * Values under secret-looking keys are replaced by `redactValue` (`***` + 8 hex of their SHA-256,
 * so a change stays visible); for `config.changed` of a secret-looking key
 * (`file#http.auth_token`) the old and new values themselves are redacted.
 *
 * Most event data is already JSON as `JSON.parse` gives it back (it arrived as JSON, or was built
 * from plain values) and holds no secret: one walk checks that and writes the canonical text on
 * the way, and the data is used as it is. Only data that needs redacting or normalising is copied
 * (`redactSecrets`, then a JSON round trip): the same entry either way, a third of the cost for
 * the common case (`npm run bench -- durable`, README "End to end").
 */
export class AuditEntryBuilder {
  private readonly patterns: readonly string[];
  /** Per key seen, its JSON text, or null when it looks secret: the same few keys recur in every event. */
  private readonly keys = new Map<string, string | null>();

  constructor(extraPatterns: readonly string[] = []) {
    this.patterns = extraPatterns.length > 0 ? [...DEFAULT_SECRET_KEY_PATTERNS, ...extraPatterns] : DEFAULT_SECRET_KEY_PATTERNS;
  }

  build(event: Event): AuditEntry {
    const { metadata } = event;
    const tags = [...metadata.tags];
    const entry: AuditEntry = {
      timestamp: metadata.timestamp,
      type: event.type,
      event_id: metadata.event_id,
      correlation_id: metadata.correlation_id ?? null,
      source: metadata.source ?? null,
      tags,
      data: null,
    };
    const canonical = event.type === 'config.changed' ? undefined : this.cleanCanonical(event.data, 0);
    if (canonical !== undefined) {
      // Copied as text now: a publisher changing its object later cannot make line and hash disagree.
      entry.data = event.data;
      entry.dataJson = JSON.stringify(event.data);
      entry.dataCanonical = canonical;
    } else {
      const normalised = normaliseData(this.redact(event));
      entry.data = normalised.data;
      entry.dataJson = normalised.json;
      entry.dataCanonical = canonicalJson(normalised.data);
    }
    return entry;
  }

  private redact(event: Event): unknown {
    const { patterns } = this;
    const data: unknown = redactSecrets(event.data as unknown, patterns);
    if (event.type !== 'config.changed') return data;
    const changed = data as { config_path: string; old_value?: unknown; new_value?: unknown };
    const keyPath = changed.config_path.includes('#') ? changed.config_path.slice(changed.config_path.indexOf('#') + 1) : changed.config_path;
    if (!keyPath.split(/[.[\]]/).some((segment) => segment !== '' && isSecretKey(segment, patterns))) return data;
    return { ...changed, old_value: redactOnce(changed.old_value), new_value: redactOnce(changed.new_value) };
  }

  /**
   * The canonical JSON of `value` when it is already JSON-normal (what JSON.parse of its text gives
   * back: plain objects and arrays, strings, finite numbers, booleans, null; no undefined, no toJSON) and
   * redaction would leave it unchanged; undefined otherwise. Written like `canonicalJson` (keys
   * sorted at every depth), whose output it must equal for such values.
   */
  private cleanCanonical(value: unknown, depth: number): string | undefined {
    switch (typeof value) {
      case 'string':
        return redactText(value, this.patterns) === value ? JSON.stringify(value) : undefined;
      case 'number':
        // NaN, ±Infinity and -0 come back from the round trip as other values (null, 0).
        return Number.isFinite(value) && !Object.is(value, -0) ? JSON.stringify(value) : undefined;
      case 'boolean':
        return value ? 'true' : 'false';
      case 'object':
        break;
      default:
        return undefined; // undefined, functions, symbols, bigint: JSON drops or refuses them
    }
    if (value === null) return 'null';
    if (depth >= MAX_CLEAN_DEPTH) return undefined;
    if (Array.isArray(value)) {
      if ((value as { toJSON?: unknown }).toJSON !== undefined) return undefined;
      let out = '[';
      for (let i = 0; i < value.length; i++) {
        const item = this.cleanCanonical(value[i], depth + 1);
        if (item === undefined) return undefined;
        out += i === 0 ? item : `,${item}`;
      }
      return `${out}]`;
    }
    // Plain objects of any realm, as redactSecrets walks them; anything else (Date, Map, class instances) is normalised.
    const proto = Object.getPrototypeOf(value) as object | null;
    if (proto !== null && Object.getPrototypeOf(proto) !== null) return undefined;
    const obj = value as Record<string, unknown>;
    if (typeof obj.toJSON === 'function') return undefined;
    const keys = sortKeys(Object.keys(obj));
    let out = '{';
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const quoted = this.quotedKey(key);
      if (quoted === null) return undefined;
      const item = this.cleanCanonical(obj[key], depth + 1);
      if (item === undefined) return undefined;
      out += `${i === 0 ? '' : ','}${quoted}:${item}`;
    }
    return `${out}}`;
  }

  /** The key as JSON text, or null when it looks secret; remembered per key. */
  private quotedKey(key: string): string | null {
    let quoted = this.keys.get(key);
    if (quoted === undefined) {
      if (this.keys.size >= MAX_REMEMBERED_KEYS) this.keys.clear();
      quoted = isSecretKey(key, this.patterns) ? null : JSON.stringify(key);
      this.keys.set(key, quoted);
    }
    return quoted;
  }
}

/** The audit entry for one event (see {@link AuditEntryBuilder}; the plugin keeps one builder). */
export function toAuditEntry(event: Event, extraPatterns: readonly string[] = []): AuditEntry {
  return new AuditEntryBuilder(extraPatterns).build(event);
}

/**
 * Sorts `keys` in place in the order of `Array.prototype.sort()` (UTF-16 code units, which is what
 * `<` compares), by insertion: event data has a handful of keys, and the built-in sort allocates a
 * work array per call (an eighth of the audit path's allocation per event before).
 */
function sortKeys(keys: string[]): string[] {
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] as string;
    let j = i - 1;
    while (j >= 0 && (keys[j] as string) > key) {
      keys[j + 1] = keys[j] as string;
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}

/** Redacts a value unless a producer already did (or it is absent: an added or removed key). */
function redactOnce(value: unknown): unknown {
  if (value === null || value === undefined) return value ?? null;
  return typeof value === 'string' && REDACTED.test(value) ? value : redactValue(value);
}
