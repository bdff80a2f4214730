import { createHash } from 'node:crypto';

/**
 * Key fragments that mark a value as secret unless configured otherwise (case-insensitive
 * substring match, so `pass` also covers `db_password` and `passwd`, `auth` covers
 * `authorization` and `auth_token`, `key` covers `routing_key` and `apikey`). The one list: the
 * logger, the audit log, event-logger, config-watcher and health-probe all redact with it.
 */
export const DEFAULT_SECRET_KEY_PATTERNS: readonly string[] = [
  'password',
  'passwd',
  'pass',
  'secret',
  'token',
  'auth',
  'authorization',
  'apikey',
  'api_key',
  'key',
  'private_key',
  'credential',
  'dsn',
  'cookie',
  'webhook',
];

/** What {@link redactValue} produces: `***` and 8 hex digits. */
const REDACTED = /^\*\*\*[0-9a-f]{8}$/;

/**
 * Each pattern list as the fragments to look for: lower case, without those a shorter fragment of
 * the list already covers (`password` when `pass` is there). Computed once per list, since the check
 * runs for every key of every object the logger, the audit log and event-logger write.
 */
const fragmentsOf = new WeakMap<readonly string[], readonly string[]>();

function fragments(patterns: readonly string[]): readonly string[] {
  let found = fragmentsOf.get(patterns);
  if (!found) {
    const lower = [...new Set(patterns.map((p) => p.toLowerCase()))];
    found = lower.filter((p) => !lower.some((q) => q !== p && p.includes(q)));
    fragmentsOf.set(patterns, found);
  }
  return found;
}

/** True when `key` contains one of `patterns`, ignoring case. */
export function isSecretKey(key: string, patterns: readonly string[] = DEFAULT_SECRET_KEY_PATTERNS): boolean {
  const lower = key.toLowerCase();
  return fragments(patterns).some((p) => lower.includes(p));
}

/**
 * `***` plus the first 8 hex digits of the value's SHA-256: the secret is gone, but a change of it
 * is still visible (the hash changes) and equal values stay comparable. A value that is already
 * redacted is returned as it is, so redacting twice (a producer, then the audit log) changes nothing.
 */
export function redactValue(value: unknown): string {
  if (value === undefined || value === null) return '***';
  if (typeof value === 'string' && REDACTED.test(value)) return value;
  return `***${createHash('sha256').update(textOf(value)).digest('hex').slice(0, 8)}`;
}

function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    // Too deep, circular or a BigInt: still redacted, only the change is no longer visible.
    return '[unserialisable]';
  }
}

/** `scheme://userinfo@`: greedy up to the last `@` before the path, so a password holding `@` is covered whole. */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#]+)@/gi;
/** `?name=value` / `&name=value` / `;name=value` pairs, redacted when the name looks secret. */
const QUERY_PARAM = /([?&;])([^\s=&#;?]+)=([^\s&#;]*)/g;

/**
 * `text` with credentials in URLs replaced: the userinfo of `scheme://user:password@host` and the
 * values of secret-looking query parameters (`?token=...`, `&password=...`) become
 * {@link redactValue} of what they were; everything else is kept.
 */
export function redactText(text: string, patterns: readonly string[] = DEFAULT_SECRET_KEY_PATTERNS): string {
  // Cheap tests first: most strings hold no URL and no query string.
  let out = text.includes('://') ? text.replace(URL_USERINFO, (_, scheme: string, userinfo: string) => `${scheme}${redactValue(userinfo)}@`) : text;
  if (out.includes('=')) out = out.replace(QUERY_PARAM, (all, sep: string, name: string, value: string) => (isSecretKey(name, patterns) && value !== '' ? `${sep}${name}=${redactValue(value)}` : all));
  return out;
}

type Container = Record<string, unknown> | unknown[];

/** One container being copied: its keys, how far we are, and the copy once a value changed. */
interface Frame {
  source: Container;
  keys: string[];
  next: number;
  copy?: Container;
  parent?: Frame;
  keyInParent?: string;
}

/**
 * The one redaction function. Returns `value` with every value stored under a secret-looking key
 * (at any depth) replaced by {@link redactValue}, and every string passed through
 * {@link redactText} (credentials in URLs). Plain objects and arrays are walked; other objects
 * (Errors, Dates, class instances) are kept as they are. The input is never modified: what
 * changes is copied, what does not is shared (so a clean object costs no copy). Walks without
 * recursion, so data nested thousands deep is redacted, not a stack overflow; a reference to an
 * enclosing object becomes `[Circular]`.
 */
export function redactSecrets<T>(value: T, patterns: readonly string[] = DEFAULT_SECRET_KEY_PATTERNS): T {
  if (!isContainer(value)) return leaf(value, patterns) as T;
  let result: unknown = value;
  const open = new Set<object>();
  const stack: Frame[] = [];
  const enter = (source: Container, parent?: Frame, keyInParent?: string): void => {
    open.add(source);
    stack.push({ source, keys: Object.keys(source), next: 0, parent, keyInParent });
  };
  enter(value);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1];
    if (frame.next === frame.keys.length) {
      stack.pop();
      open.delete(frame.source);
      const done = frame.copy ?? frame.source;
      if (frame.parent) set(frame.parent, frame.keyInParent as string, frame.source, done);
      else result = done;
      continue;
    }
    const key = frame.keys[frame.next++];
    const child = (frame.source as Record<string, unknown>)[key];
    if (!Array.isArray(frame.source) && isSecretKey(key, patterns)) set(frame, key, child, child === undefined ? child : redactValue(child));
    else if (!isContainer(child)) set(frame, key, child, leaf(child, patterns));
    else if (open.has(child)) set(frame, key, child, '[Circular]');
    else enter(child, frame, key);
  }
  return result as T;
}

/** Records a child's redacted value, copying the container on its first change. */
function set(frame: Frame, key: string, original: unknown, value: unknown): void {
  if (value === original && frame.copy === undefined) return;
  frame.copy ??= Array.isArray(frame.source) ? [...frame.source] : { ...frame.source };
  // defineProperty, not assignment: a `__proto__` key in the data must stay data.
  Object.defineProperty(frame.copy, key, { value, enumerable: true, writable: true, configurable: true });
}

function leaf(value: unknown, patterns: readonly string[]): unknown {
  return typeof value === 'string' ? redactText(value, patterns) : value;
}

function isContainer(value: unknown): value is Container {
  if (Array.isArray(value)) return true;
  if (value === null || typeof value !== 'object') return false;
  // A plain object of any realm (objects made by structuredClone or in a vm context have another
  // realm's Object.prototype): its prototype is null or has none itself; a class instance's has.
  const proto = Object.getPrototypeOf(value) as object | null;
  return proto === null || Object.getPrototypeOf(proto) === null;
}
