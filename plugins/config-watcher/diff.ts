import { isSecretKey, redactSecrets, redactValue } from 'praxis-agent';

/** One step of a key path: an object key or an array index. */
export type Segment = string | number;

/** One changed key; `undefined` means absent (added or removed). */
export interface Change {
  path: Segment[];
  old: unknown;
  new: unknown;
}

/** `index`: arrays are compared item by item (`list[2]`); `whole`: an array is one value. */
export type ArrayMode = 'index' | 'whole';

/**
 * Every changed leaf between two documents, in document order (the old document's keys first,
 * then keys that are new). Objects are walked; a key added or removed with an object value is
 * reported leaf by leaf; a value that changes kind (object to scalar) is one change at its path.
 */
export function diffDocuments(before: unknown, after: unknown, arrays: ArrayMode): Change[] {
  const changes: Change[] = [];
  walk([], before, after, arrays, changes);
  return changes;
}

function walk(path: Segment[], a: unknown, b: unknown, arrays: ArrayMode, out: Change[]): void {
  if (deepEqual(a, b)) return;
  if (walkable(a, b, isRecord)) {
    const left = (a ?? {}) as Record<string, unknown>;
    const right = (b ?? {}) as Record<string, unknown>;
    const keys = [...Object.keys(left), ...Object.keys(right).filter((k) => !Object.hasOwn(left, k))];
    for (const key of keys) walk([...path, key], Object.hasOwn(left, key) ? left[key] : undefined, Object.hasOwn(right, key) ? right[key] : undefined, arrays, out);
    return;
  }
  if (arrays === 'index' && walkable(a, b, Array.isArray)) {
    const left = (a ?? []) as unknown[];
    const right = (b ?? []) as unknown[];
    for (let i = 0; i < Math.max(left.length, right.length); i++) walk([...path, i], left[i], right[i], arrays, out);
    return;
  }
  out.push({ path, old: a, new: b });
}

/** Both sides are containers of `kind`, or one is and the other is absent; an empty container added or removed is one change. */
function walkable(a: unknown, b: unknown, kind: (v: unknown) => boolean): boolean {
  const ka = kind(a);
  const kb = kind(b);
  if (ka && kb) return true;
  if (ka && b === undefined) return size(a) > 0;
  if (kb && a === undefined) return size(b) > 0;
  return false;
}

function size(value: unknown): number {
  return Array.isArray(value) ? value.length : Object.keys(value as object).length;
}

/** `database.pools[0].size`; keys other than plain words are quoted: `hosts["api.example.com"]`. */
export function formatKeyPath(path: readonly Segment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/**
 * A value as it may appear in an event: `null` when absent; `***` plus a short hash when any key
 * on its path looks secret; otherwise with secret-looking keys inside it redacted.
 */
export function publishable(path: readonly Segment[], value: unknown, patterns: readonly string[]): unknown {
  if (value === undefined) return null;
  if (path.some((s) => typeof s === 'string' && isSecretKey(s, patterns))) return redactValue(value);
  return redactSecrets(value, patterns);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function isRecord(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}
