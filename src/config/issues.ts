import type { z } from 'zod';
import type { ErrorCode } from '../core/errors';
import type { Anchor, KeyPath } from './positions';

type Issue = z.core.$ZodIssue;

/** A schema issue translated to a config problem, not yet positioned in the file. */
export interface PathIssue {
  path: KeyPath;
  code: ErrorCode;
  anchor: Anchor;
  message: string;
}

export interface IssueContext {
  /** The schema that produced the issues, used to suggest the key an unknown key was meant to be. */
  schema: z.ZodType;
  /** The value that was validated, used to tell a missing key from a wrong value. */
  input: unknown;
  /** Where `input` sits in the whole document (`['plugins', 2, 'config']`). */
  prefix: KeyPath;
}

/**
 * One problem per issue, and one per key of an `unrecognized_keys` issue (zod reports them
 * together, but each key is at its own line).
 */
export function toPathIssues(error: z.ZodError, ctx: IssueContext): PathIssue[] {
  return error.issues.flatMap((issue): PathIssue[] => {
    const path = [...ctx.prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      const allowed = keysAt(ctx.schema, issue.path);
      return issue.keys.map((key) => ({
        path: [...path, key],
        code: 'CONFIG_UNKNOWN_KEY',
        anchor: 'key',
        message: unknownKeyMessage(key, allowed),
      }));
    }
    // A union (durations are number | string) reports an absent key as invalid_union, not invalid_type.
    if ((issue.code === 'invalid_type' || issue.code === 'invalid_union') && isAbsent(ctx.input, issue.path)) {
      const key = issue.path.at(-1);
      const expected = issue.code === 'invalid_type' ? issue.expected : valueMessage(issue).replace(/^expected /, '').replace(/, received \w+$/, '');
      return [{ path, code: 'CONFIG_MISSING_KEY', anchor: 'parent', message: `missing required key "${String(key)}" (expected ${expected})` }];
    }
    return [{ path, code: 'CONFIG_INVALID_VALUE', anchor: 'value', message: valueMessage(issue) }];
  });
}

/** Zod's messages, minus the "Invalid input: " every one of ours would start with. */
function valueMessage(issue: Issue): string {
  if (issue.code === 'invalid_union') {
    const expected = issue.errors.map((branch) => (branch.length === 1 && branch[0].code === 'invalid_type' && branch[0].path.length === 0 ? branch[0] : undefined));
    if (expected.length > 0 && expected.every((e) => e !== undefined)) {
      const received = /received (\w+)/.exec(expected[0]?.message ?? '')?.[1];
      const types = [...new Set(expected.map((e) => e?.expected))].join(' or ');
      return `expected ${types}${received ? `, received ${received}` : ''}`;
    }
  }
  return issue.message.replace(/^Invalid input: /, '');
}

function unknownKeyMessage(key: string, allowed: readonly string[] | undefined): string {
  if (!allowed || allowed.length === 0) return `unknown key "${key}"`;
  const suggestion = closest(key, allowed);
  if (suggestion) return `unknown key "${key}" (did you mean "${suggestion}"?)`;
  return `unknown key "${key}" (expected one of: ${allowed.join(', ')})`;
}

/** True when the last segment of `path` does not exist in `input` (nor does some parent). */
function isAbsent(input: unknown, path: readonly PropertyKey[]): boolean {
  let node: unknown = input;
  for (const [i, segment] of path.entries()) {
    if (node === undefined) return true;
    if (node === null || typeof node !== 'object') return false;
    if (i === path.length - 1) return !Object.prototype.hasOwnProperty.call(node, segment);
    node = (node as Record<PropertyKey, unknown>)[segment];
  }
  return false;
}

/**
 * The part of a zod schema's internal definition needed to find the keys an object accepts.
 * Zod 4 exposes it as `_zod.def`; typing only these fields keeps us off its large generics.
 */
interface DefLike {
  type: string;
  shape?: Record<string, SchemaLike>;
  innerType?: SchemaLike;
  in?: SchemaLike;
  element?: SchemaLike;
  getter?: () => SchemaLike;
}
interface SchemaLike {
  _zod: { def: DefLike };
}

/** The keys the object schema at `path` accepts, when it can be determined. */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] | undefined {
  let node: SchemaLike | undefined = unwrap(schema as unknown as SchemaLike);
  for (const segment of path) {
    const def: DefLike | undefined = node?._zod.def;
    if (def?.type === 'object' && typeof segment === 'string') node = def.shape?.[segment];
    else if (def?.type === 'array' && typeof segment === 'number') node = def.element;
    else return undefined;
    node = unwrap(node);
  }
  const def = node?._zod.def;
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : undefined;
}

/** Looks through wrappers (default, optional, transform pipes...) to the schema that holds keys. */
function unwrap(schema: SchemaLike | undefined): SchemaLike | undefined {
  let node = schema;
  for (let guard = 0; node && guard < 32; guard += 1) {
    const def: DefLike = node._zod.def;
    const inner = def.innerType ?? def.in ?? (def.type === 'lazy' ? def.getter?.() : undefined);
    if (!inner) return node;
    node = inner;
  }
  return node;
}

/** The allowed key that is a likely misspelling of `key`, if there is exactly one obvious one. */
function closest(key: string, allowed: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(key.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of allowed) {
    // The distance is at least the difference in length: most candidates need no table at all
    // (a file of 40,000 unknown keys spent most of its validation time here).
    if (Math.abs(candidate.length - key.length) > Math.min(limit, bestDistance)) continue;
    const d = distance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= limit ? best : undefined;
}

/** Edit distance where swapping two neighbouring letters counts as one edit (optimal string alignment). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i += 1) {
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
