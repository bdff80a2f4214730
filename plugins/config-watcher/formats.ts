import path from 'node:path';
import { errorMessage } from 'praxis-agent';
import { LineCounter, parseDocument } from 'yaml';

/** The formats config-watcher reads. */
export type FileFormat = 'yaml' | 'json' | 'env';

/** A parsed file: its document (plain data) and the change reason it carries, if any. */
export type Parsed = { ok: true; document: unknown; reason?: string } | { ok: false; line: number; column: number; message: string };

/** Top-level key (JSON, YAML) that annotates a change with its reason; it is not part of the diff. */
export const REASON_KEY = '_change_reason';
/** A comment line (YAML, .env) that annotates a change with its reason: `# change-reason: raise the pool for the sale`. */
const REASON_COMMENT = /^[ \t]*#[ \t]*change-reason:[ \t]*(.+?)[ \t]*$/im;

/** The format a file name implies: .yaml/.yml, .json, .env / .env.* / *.env; undefined when it implies none. */
export function formatOf(file: string): FileFormat | undefined {
  const base = path.basename(file).toLowerCase();
  const ext = path.extname(base);
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  if (ext === '.json') return 'json';
  if (base === '.env' || base.startsWith('.env.') || ext === '.env') return 'env';
  return undefined;
}

/** Parses `text`; a failure names the 1-based line and column of the first problem. */
export function parseText(text: string, format: FileFormat): Parsed {
  const parsed = format === 'yaml' ? parseYaml(text) : format === 'json' ? parseJson(text) : parseEnv(text);
  if (!parsed.ok) return parsed;
  let { document } = parsed;
  let reason = format === 'json' ? undefined : REASON_COMMENT.exec(text)?.[1];
  if (isRecord(document) && REASON_KEY in document) {
    const { [REASON_KEY]: annotated, ...rest } = document;
    if (typeof annotated === 'string' && annotated.trim() !== '') reason = annotated.trim();
    document = rest;
  }
  return reason === undefined ? { ok: true, document } : { ok: true, document, reason };
}

function parseYaml(text: string): Parsed {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const [error] = doc.errors;
  if (error) {
    const { line, col } = lines.linePos(error.pos[0]);
    return { ok: false, line, column: col, message: error.message.split('\n')[0] };
  }
  try {
    // A file with only comments is an empty document; aliases are capped against "billion laughs".
    return { ok: true, document: doc.toJS({ maxAliasCount: 1000 }) ?? {} };
  } catch (e) {
    return { ok: false, line: 1, column: 1, message: errorMessage(e) };
  }
}

function parseJson(text: string): Parsed {
  if (text.trim() === '') return { ok: true, document: {} };
  try {
    return { ok: true, document: JSON.parse(text) as unknown };
  } catch (e) {
    const message = errorMessage(e);
    // V8 says either "... (line 3 column 5)" or "... at position 42"; both become line:column.
    const lineCol = /line (\d+) column (\d+)/.exec(message);
    if (lineCol) return { ok: false, line: Number(lineCol[1]), column: Number(lineCol[2]), message };
    const position = /position (\d+)/.exec(message);
    const offset = position ? Number(position[1]) : text.length;
    const before = text.slice(0, offset).split('\n');
    return { ok: false, line: before.length, column: (before.at(-1)?.length ?? 0) + 1, message };
  }
}

const ENV_LINE = /^(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*=[ \t]*(.*)$/;

/**
 * `.env` files: `KEY=value`, `export KEY=value`, `# comments`, blank lines; values may be
 * 'single-quoted' (literal), "double-quoted" (\n, \t, \", \\ escapes) or bare (a ` #` starts a
 * comment). Keys are kept whole: `A.B=1` is the key `A.B`, not a nested path.
 */
function parseEnv(text: string): Parsed {
  const document: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = ENV_LINE.exec(line);
    const column = raw.length - raw.trimStart().length + 1;
    if (!match) return { ok: false, line: i + 1, column, message: 'expected KEY=value' };
    const [, key, rest] = match;
    const value = envValue(rest);
    if (value === undefined) return { ok: false, line: i + 1, column: column + line.indexOf('=') + 1, message: `unterminated quoted value for ${key}` };
    document[key] = value;
  }
  return { ok: true, document };
}

function envValue(rest: string): string | undefined {
  const quote = rest[0];
  if (quote === '"' || quote === "'") {
    let end = 1;
    while (end < rest.length && (rest[end] !== quote || (quote === '"' && rest[end - 1] === '\\' && rest[end - 2] !== '\\'))) end++;
    if (end >= rest.length) return undefined;
    const inner = rest.slice(1, end);
    if (quote === "'") return inner;
    return inner.replace(/\\([nrt"\\])/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' })[c] ?? c);
  }
  return rest.replace(/[ \t]+#.*$/, '').trim();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
