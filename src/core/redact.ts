import { createHash } from 'node:crypto';

/** Key fragments that mark a value as secret unless configured otherwise (case-insensitive substring match). */
export const DEFAULT_SECRET_KEY_PATTERNS: readonly string[] = ['password', 'secret', 'token', 'key', 'webhook', 'credential'];

/** True when `key` contains one of `patterns`, ignoring case. */
export function isSecretKey(key: string, patterns: readonly string[] = DEFAULT_SECRET_KEY_PATTERNS): boolean {
  const lower = key.toLowerCase();
  return patterns.some((p) => lower.includes(p.toLowerCase()));
}

/**
 * `***` plus the first 8 hex digits of the value's SHA-256: the secret is gone, but a change of it
 * is still visible (the hash changes) and equal values stay comparable.
 */
export function redactValue(value: unknown): string {
  if (value === undefined || value === null) return '***';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return `***${createHash('sha256').update(text).digest('hex').slice(0, 8)}`;
}

/**
 * A deep copy of `value` in which every value stored under a secret-looking key is replaced by
 * {@link redactValue}. Arrays and nested objects are walked; other values are kept as they are.
 */
export function redactSecrets<T>(value: T, patterns: readonly string[] = DEFAULT_SECRET_KEY_PATTERNS): T {
  return walk(value, patterns) as T;
}

function walk(value: unknown, patterns: readonly string[]): unknown {
  if (Array.isArray(value)) return value.map((v) => walk(v, patterns));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = isSecretKey(key, patterns) ? redactValue(v) : walk(v, patterns);
  return out;
}
