import path from 'node:path';
import { isMap, isScalar, isSeq, parseDocument, Scalar, type Document, type Node } from 'yaml';
import { readBoundedFile, secretText } from '../core/config-files';
import { AgentError, type ErrorCode } from '../core/errors';
import { isSecretKey } from '../core/redact';
import type { KeyPath } from './positions';
import type { SecretReference } from './secret-values';

export interface SubstitutionOptions {
  env: NodeJS.ProcessEnv;
  /** Folder that relative `${file:...}` paths are resolved from (the config file's folder). */
  baseDir: string;
}

/** What substitution did: the references it could not substitute, and the secrets it put in. */
export interface SubstitutionResult {
  problems: SubstitutionProblem[];
  /** Every `${file:...}` and secret-looking `${VAR}` substituted, with its value. */
  secrets: SecretReference[];
  /** Key paths whose value now holds a secret, with the scalar's text as written. */
  secretPaths: { path: KeyPath; written: string }[];
}

/** A reference that could not be substituted; the scalar keeps its original text. */
export interface SubstitutionProblem {
  path: KeyPath;
  code: ErrorCode;
  message: string;
}

interface Expansion {
  value: string;
  /** At least one `${...}` reference was replaced (not just `$${` escapes). */
  substituted: boolean;
  /** A `${file:...}` secret went into the value. */
  secret: boolean;
  /** The secrets that went into the value: files and secret-looking variables. */
  secrets: SecretReference[];
  problems: Array<Omit<SubstitutionProblem, 'path'>>;
}

const VAR_REFERENCE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

/**
 * Replaces `${VAR}`, `${VAR:-default}` and `${file:path}` in the string scalars of `doc` (values
 * only, not keys), in place. Working on parsed scalars rather than the raw text means a value
 * can never break the YAML structure or shift reported positions.
 *
 * A plain (unquoted) scalar is re-read as YAML after substitution, so `port: ${PORT}` becomes a
 * number and `enabled: ${ON:-false}` a boolean; quoted and block scalars stay strings, and so
 * does anything containing a secret (a password of digits must not turn into a number).
 */
export function substituteEnv(doc: Document, options: SubstitutionOptions): SubstitutionResult {
  const out: SubstitutionResult = { problems: [], secrets: [], secretPaths: [] };
  walk(doc.contents as Node | null, [], (scalar, keyPath) => {
    if (typeof scalar.value !== 'string' || !scalar.value.includes('${')) return;
    const written = scalar.value;
    const result = expand(written, options);
    for (const p of result.problems) out.problems.push({ ...p, path: keyPath });
    if (result.problems.length > 0) return;
    if (result.secrets.length > 0) {
      out.secrets.push(...result.secrets);
      out.secretPaths.push({ path: keyPath, written });
    }
    scalar.value = scalar.type === Scalar.PLAIN && result.substituted && !result.secret ? reinterpret(result.value) : result.value;
  });
  return out;
}

/** Visits every value scalar with its key path; aliases are skipped (their anchor is visited). */
function walk(node: Node | null, keyPath: PropertyKey[], visit: (scalar: Scalar, keyPath: KeyPath) => void): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      walk(pair.value as Node | null, [...keyPath, key], visit);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => walk(item as Node | null, [...keyPath, i], visit));
  } else if (isScalar(node)) {
    visit(node, keyPath);
  }
}

/** Expands the references in one string. Exported for tests. */
export function expand(text: string, options: SubstitutionOptions): Expansion {
  const out: Expansion = { value: '', substituted: false, secret: false, secrets: [], problems: [] };
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      out.value += '${';
      i += 3;
      continue;
    }
    if (!text.startsWith('${', i)) {
      out.value += text[i];
      i += 1;
      continue;
    }
    const end = text.indexOf('}', i + 2);
    const inner = end < 0 ? undefined : text.slice(i + 2, end);
    if (inner === undefined || inner.includes('${')) {
      out.problems.push({
        code: 'CONFIG_INVALID_VALUE',
        message: 'malformed ${...} reference (unclosed or nested); write $${ for a literal ${',
      });
      return out;
    }
    out.value += resolveReference(inner, options, out);
    out.substituted = true;
    i = end + 1;
  }
  return out;
}

function resolveReference(inner: string, options: SubstitutionOptions, out: Expansion): string {
  if (inner.startsWith('file:')) {
    out.secret = true;
    const value = readSecret(inner.slice('file:'.length), options.baseDir, out);
    out.secrets.push({ reference: `\${${inner}}`, value });
    return value;
  }
  const match = VAR_REFERENCE.exec(inner);
  if (!match) {
    out.problems.push({
      code: 'CONFIG_INVALID_VALUE',
      message: `invalid reference "\${${inner}}": use \${NAME}, \${NAME:-default} or \${file:/path}`,
    });
    return '';
  }
  const [, name, fallback] = match;
  const value = options.env[name];
  // Like the shell's ${NAME:-default}: the default also replaces an empty value.
  if (fallback !== undefined && (value === undefined || value === '')) return fallback;
  if (value === undefined) {
    out.problems.push({
      code: 'CONFIG_ENV_UNSET',
      message: `environment variable ${name} is not set (set it, or give a default: \${${name}:-default})`,
    });
    return '';
  }
  // A value from a variable named like a secret is one too; a default written in the file is not.
  if (isSecretKey(name)) out.secrets.push({ reference: `\${${name}}`, value });
  return value;
}

/**
 * A `${file:...}` secret, read by the core's one file reader (regular files only, at most 64 KiB,
 * never waiting on a FIFO). Unlike a plugin's `*_file`, an empty file substitutes an empty value.
 */
function readSecret(file: string, baseDir: string, out: Expansion): string {
  const target = path.resolve(baseDir, file);
  try {
    return secretText(readBoundedFile(target, { key: `\${file:${file}}` }));
  } catch (error) {
    // Only the path and why: never anything read from the file.
    const reason = error instanceof AgentError ? String(error.details?.reason) : 'cannot read';
    out.problems.push({ code: 'CONFIG_SECRET_FILE', message: `cannot read secret file ${target} (${reason})` });
    return '';
  }
}

/**
 * What a plain scalar with this text would have been: `8080` → 8080, `true` → true, `~` → null.
 * Text that would be something other than a single plain scalar (`a: b`, `[1]`, `"x"`, `# x`)
 * stays the string it is, as does text that reads as a string (keeping its exact spacing).
 */
function reinterpret(text: string): unknown {
  const doc = parseDocument(text);
  if (doc.errors.length > 0 || !isScalar(doc.contents) || doc.contents.type !== Scalar.PLAIN) return text;
  const value: unknown = doc.contents.value;
  return typeof value === 'string' ? text : value;
}
