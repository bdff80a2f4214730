import type { RE2JS } from 're2js';
import { runOnce } from '../core/timed';

// re2js loads on the first regex matcher: every agent start reads its config, which imports this
// module, and most configs have no alerting regex at all.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const loadRe2 = runOnce(() => (require('re2js') as typeof import('re2js')).RE2JS);

/** Compiles `source` with RE2 syntax (no lookaround, no backreferences). @throws for what RE2 refuses. */
export function compileRe2(source: string): RE2JS {
  return loadRe2().compile(source);
}

/**
 * Alertmanager's label matchers (prometheus/alertmanager `pkg/labels`, as of 0.25): the four
 * operators, the string forms `name="value"` and `{a="b", c=~"d"}`, and the legacy `match` /
 * `match_re` maps. Pure: no I/O, no clock; later parts of the engine (routing, inhibition,
 * silences, the API's filters) all match through this module.
 */

/** The operators, as written in a matcher. */
export type MatchType = '=' | '!=' | '=~' | '!~';

/** An alert's labels. A label that is absent is the empty string to every matcher. */
export type LabelSet = Readonly<Record<string, string>>;

/** A matcher that cannot be built: bad syntax, or a regular expression RE2 refuses. */
export class MatcherError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MatcherError';
  }
}

// Go's `\s` is ASCII whitespace only; JavaScript's would also take Unicode spaces.
const WS = '[\\t\\n\\f\\r ]';
// '=~' is tried before '=' so that `a=~"x"` is not read as `a` = `~"x"`.
const MATCHER_FORM = new RegExp(`^${WS}*([a-zA-Z_:][a-zA-Z0-9_:]*)${WS}*(=~|=|!=|!~)${WS}*([\\s\\S]*?)${WS}*$`);

/** One label matcher. Regex matchers are compiled once, fully anchored, with RE2 semantics. */
export class Matcher {
  private readonly re: RE2JS | undefined;

  /** @throws MatcherError when `type` is a regex operator and `value` is not an RE2 expression. */
  constructor(
    readonly type: MatchType,
    readonly name: string,
    readonly value: string,
  ) {
    if (type === '=~' || type === '!~') this.re = compileAnchored(value);
  }

  /** Whether the matcher accepts this label value ("" for a label the alert does not have). */
  matchesValue(value: string): boolean {
    switch (this.type) {
      case '=':
        return value === this.value;
      case '!=':
        return value !== this.value;
      case '=~':
        return (this.re as RE2JS).test(value);
      case '!~':
        return !(this.re as RE2JS).test(value);
    }
  }

  /** Whether the alert with these labels satisfies the matcher; a missing label counts as "". */
  matches(labels: LabelSet): boolean {
    return this.matchesValue(Object.hasOwn(labels, this.name) ? labels[this.name] : '');
  }

  /** Alertmanager's canonical form: `name="value"` with `\\`, `\"` and `\n` escaped. */
  toString(): string {
    return `${this.name}${this.type}"${this.value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`;
  }
}

/**
 * Compiles a regex matcher's value as Alertmanager does: `^(?:VALUE)$` in RE2 syntax. The value
 * is pasted in, not parsed separately, so a value such as `a)|(b` behaves exactly as it does there.
 */
function compileAnchored(value: string): RE2JS {
  try {
    return compileRe2(`^(?:${value})$`);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new MatcherError(`invalid regular expression "${value}": ${reason} (RE2 syntax: no lookaround, no backreferences)`);
  }
}

/** True when every matcher accepts the labels (an empty list accepts everything). */
export function matchesAll(matchers: readonly Matcher[], labels: LabelSet): boolean {
  return matchers.every((m) => m.matches(labels));
}

/**
 * Parses one matcher: a label name, an operator, and a value that may be double-quoted. Inside the
 * value `\"`, `\n` and `\\` are escapes; any other backslash is literal, as in Alertmanager 0.25;
 * an unquoted value is taken as written (trimmed).
 * @throws MatcherError naming what is wrong.
 */
export function parseMatcher(text: string): Matcher {
  const form = MATCHER_FORM.exec(text);
  if (!form) throw new MatcherError(`bad matcher format: ${text} (expected name="value", name!="value", name=~"regex" or name!~"regex")`);
  const [, name, type, raw] = form;
  return new Matcher(type as MatchType, name, unescapeValue(raw));
}

/** The value of a matcher with OpenMetrics escapes undone and its surrounding quotes removed. */
function unescapeValue(raw: string): string {
  const quoted = raw.startsWith('"');
  const body = quoted ? raw.slice(1) : raw;
  let expectClosingQuote = quoted;
  let value = '';
  let escaped = false;
  for (let i = 0; i < body.length; i += 1) {
    const c = body[i];
    if (escaped) {
      escaped = false;
      value += c === 'n' ? '\n' : c === '"' || c === '\\' ? c : `\\${c}`;
    } else if (c === '\\') {
      // A backslash as the very last character is literal.
      if (i < body.length - 1) escaped = true;
      else value += c;
    } else if (c === '"') {
      if (!expectClosingQuote || i < body.length - 1) throw new MatcherError(`matcher value contains unescaped double quote: ${raw}`);
      expectClosingQuote = false;
    } else {
      value += c;
    }
  }
  if (expectClosingQuote) throw new MatcherError(`matcher value contains unescaped double quote: ${raw}`);
  return value;
}

/**
 * Parses a comma-separated list of matchers, optionally in braces: `{a="b", c=~"d"}`,
 * `a=b,c!=d`. Commas inside double quotes do not separate; a trailing comma is allowed.
 * @throws MatcherError for the first matcher that is wrong.
 */
export function parseMatchers(text: string): Matcher[] {
  let s = text.startsWith('{') ? text.slice(1) : text;
  s = s.endsWith('}') ? s.slice(0, -1) : s;
  const tokens: string[] = [];
  let token = '';
  let insideQuotes = false;
  let escaped = false;
  for (const c of s) {
    if (c === ',' && !insideQuotes) {
      tokens.push(token);
      token = '';
      continue;
    }
    if (c === '"') {
      if (!escaped) insideQuotes = !insideQuotes;
      else escaped = false;
    } else if (c === '\\') {
      escaped = !escaped;
    } else {
      escaped = false;
    }
    token += c;
  }
  // Only the last token may be empty (a trailing comma); an empty one in the middle is an error.
  if (token.trim() !== '') tokens.push(token.trim());
  return tokens.map(parseMatcher);
}

/** Label names as Prometheus accepts them in `match`, `match_re`, `group_by` and `equal`. */
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Matchers for a legacy `match` (type `=`) or `match_re` (type `=~`) map. Alertmanager 0.25
 * compiles a `match_re` value to `^(?:VALUE)$` when it reads the file, then builds the matcher from
 * that source, which anchors it once more; the value is kept in that form so that a value with
 * unbalanced parentheses (`a)|(b`) matches exactly what it matches there.
 * @throws MatcherError for a regex RE2 refuses.
 */
export function matchersFromMap(map: Readonly<Record<string, string>>, type: '=' | '=~'): Matcher[] {
  return Object.entries(map).map(([name, value]) => new Matcher(type, name, type === '=~' ? `^(?:${value})$` : value));
}

/** Alertmanager's order for a list of matchers (by name, value, then operator), used when it prints them. */
export function sortMatchers(matchers: readonly Matcher[]): Matcher[] {
  const rank: Record<MatchType, number> = { '=': 0, '!=': 1, '=~': 2, '!~': 3 };
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return [...matchers].sort((a, b) => cmp(a.name, b.name) || cmp(a.value, b.value) || rank[a.type] - rank[b.type]);
}
