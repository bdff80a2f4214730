import { AgentError } from '../core/errors';
import { formatPath, type FieldIssue } from './registry';

/**
 * Deepest nesting of objects and arrays accepted in an event's `data` (`data` itself is level 1,
 * `{"a": {"b": []}}` is 3). Every consumer (store, audit log, redaction, event-logger, WebSocket)
 * walks or serialises events recursively; a bound here is what keeps all of them within the stack.
 */
export const MAX_EVENT_DEPTH = 32;

/** Most object keys plus array elements in one event's `data`, counted at every depth. */
export const MAX_EVENT_MEMBERS = 10_000;

/** A container met on the walk; `parent` and `key` rebuild its path only when it is reported. */
interface Node {
  value: object;
  depth: number;
  parent?: Node;
  key?: PropertyKey;
}

/** The own `__proto__` keys found in `data` (their parent's path): the schema must keep them as data. */
export type ProtoKeyPaths = PropertyKey[][];

/**
 * Walks `data` without recursion and throws when it is deeper than {@link MAX_EVENT_DEPTH}
 * (EVENT_TOO_DEEP; a circular reference is reported as such), or holds more than
 * {@link MAX_EVENT_MEMBERS} keys and elements (EVENT_TOO_LARGE). Returns where `data` has an own
 * `__proto__` key (JSON.parse makes one), so the caller can check that validation kept it.
 */
export function checkDataLimits(type: string, data: unknown): ProtoKeyPaths {
  const protoKeys: ProtoKeyPaths = [];
  if (typeof data !== 'object' || data === null) return protoKeys;
  const stack: Node[] = [{ value: data, depth: 1 }];
  let members = 0;
  const visit = (parent: Node, key: PropertyKey, child: unknown): void => {
    // Objects with toJSON (Date, Buffer) are serialised by their own rule; they are leaves here.
    if (typeof child !== 'object' || child === null || typeof (child as { toJSON?: unknown }).toJSON === 'function') return;
    const next: Node = { value: child, depth: parent.depth + 1, parent, key };
    if (isAncestor(child, parent)) throw limitError('EVENT_TOO_DEEP', type, next, 'circular reference: the value contains itself');
    if (next.depth > MAX_EVENT_DEPTH) {
      throw limitError('EVENT_TOO_DEEP', type, next, `nested deeper than ${MAX_EVENT_DEPTH} levels of objects and arrays (limit MAX_EVENT_DEPTH)`);
    }
    stack.push(next);
  };
  // Plain loops, no entry arrays: this runs on every publish (npm run bench, bus).
  for (let node = stack.pop(); node; node = stack.pop()) {
    const value = node.value as Record<string, unknown> | unknown[];
    const keys = Array.isArray(value) ? undefined : Object.keys(value);
    members += keys ? keys.length : (value as unknown[]).length;
    if (members > MAX_EVENT_MEMBERS) {
      throw limitError('EVENT_TOO_LARGE', type, node, `more than ${MAX_EVENT_MEMBERS} keys and array elements in one event (limit MAX_EVENT_MEMBERS)`);
    }
    if (!keys) {
      const array = value as unknown[];
      for (let i = 0; i < array.length; i++) visit(node, i, array[i]);
      continue;
    }
    for (const key of keys) {
      if (key === '__proto__') protoKeys.push(pathOf(node));
      visit(node, key, (value as Record<string, unknown>)[key]);
    }
  }
  return protoKeys;
}

/**
 * Throws EVENT_INVALID when validation dropped one of the `__proto__` keys {@link checkDataLimits}
 * found (zod strips them from records and non-strict objects): a key is kept as data or the event
 * is refused, never silently changed.
 */
export function checkProtoKeysKept(type: string, parsed: unknown, protoKeys: ProtoKeyPaths): void {
  for (const path of protoKeys) {
    let at: unknown = parsed;
    for (const key of path) at = typeof at === 'object' && at !== null && Object.hasOwn(at, key) ? (at as Record<PropertyKey, unknown>)[key] : undefined;
    if (typeof at === 'object' && at !== null && Object.hasOwn(at, '__proto__')) continue;
    const issue: FieldIssue = { path: formatPath([...path, '__proto__'], 'data'), message: `the schema of ${type} cannot keep a "__proto__" key as data; rename the key` };
    throw new AgentError('EVENT_INVALID', `invalid ${type} event: ${issue.path}: ${issue.message}`, { type, issues: [issue] });
  }
}

function isAncestor(value: object, node: Node | undefined): boolean {
  for (let n = node; n; n = n.parent) if (n.value === value) return true;
  return false;
}

function pathOf(node: Node): PropertyKey[] {
  const path: PropertyKey[] = [];
  for (let n: Node | undefined = node; n?.parent; n = n.parent) path.unshift(n.key as PropertyKey);
  return path;
}

function limitError(code: 'EVENT_TOO_DEEP' | 'EVENT_TOO_LARGE', type: string, node: Node, message: string): AgentError {
  const issue: FieldIssue = { path: formatPath(pathOf(node), 'data'), message };
  return new AgentError(code, `${type} event refused: ${issue.path}: ${message}`, { type, issues: [issue], limit: code === 'EVENT_TOO_DEEP' ? MAX_EVENT_DEPTH : MAX_EVENT_MEMBERS });
}
