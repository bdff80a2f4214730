import { z } from 'zod';
import type { Notification } from './notification';

/**
 * The one template mechanism of every sink: Alertmanager's `title` / `text` / `summary` fields are Go
 * `text/template` sources, and an imported alertmanager.yml must render as Alertmanager renders it.
 *
 * Why a deliberately minimal hand-written engine and not a library: the npm implementations of Go
 * templates are either a wrapper around a Go binary (not shippable in a Node agent) or a loose
 * subset (`@ctrl/golang-template`: no pipelines, no `eq` / `len`, no trim markers, errors without a
 * position, and non-Go extensions such as `re_replace`). What this module needs that none gives is
 * the property the issue asks for: a template that compiles renders, and one that would fail or
 * render differently in Alertmanager is rejected when the config is validated, at its line:column.
 * That takes a parser that knows the *shape* of Alertmanager's data (which fields exist, which are
 * lists, which print as what), so checking happens at compile time against static types instead
 * of at send time. The subset is small and fixed (see {@link SUPPORTED}); the tests render every
 * form through the real `amtool template render` (Alertmanager's own Go `text/template` with its
 * function map) and compare byte for byte.
 *
 * Semantics follow Alertmanager (`template/template.go`, Go's `text/template` with
 * `missingkey=zero`): a missing label or annotation renders as "" (the zero value of its
 * `map[string]string`, not Go's `<no value>`, which only a map of interfaces prints); times print as
 * Go's `time.Time.String()` (`2026-11-30 10:00:00.5 +0000 UTC`; a firing alert's `.EndsAt` is Go's
 * zero time `0001-01-01 00:00:00 +0000 UTC`); a label map prints as `map[a:1 b:2]`; `title` is
 * Alertmanager's (each word capitalised, the rest lower-cased). `.GroupKey` and `.TruncatedAlerts`
 * are the agent's own (Alertmanager has them in the webhook payload, not in templates).
 */

/** What the templates may use, listed in every rejection. */
export const SUPPORTED =
  'fields .Receiver .Status .Alerts .GroupLabels .CommonLabels .CommonAnnotations .ExternalURL .GroupKey .TruncatedAlerts, ' +
  '.Alerts.Firing / .Alerts.Resolved, in `range .Alerts`: .Status .Labels .Annotations .StartsAt .EndsAt .GeneratorURL .Fingerprint, ' +
  'a label or annotation as .Labels.name or `index .Labels "name"`, .Labels.SortedPairs (.Name .Value); ' +
  'actions if / else if / else / range / end; functions len eq ne lt le gt ge not and or index toUpper toLower title; ' +
  'pipes `x | f`, parentheses, "strings", integers, true / false; trim markers {{- -}}; comments {{/* */}}';

/** A template that cannot be compiled: what is wrong, at which line and column (1-based) of its source. */
export class TemplateError extends Error {
  constructor(
    readonly detail: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${line}:${column}: ${detail}`);
    this.name = 'TemplateError';
  }
}

/** A compiled template: render it as many times as needed; rendering never throws for data of the {@link TemplateData} shape. */
export interface NotificationTemplate {
  readonly source: string;
  render(data: TemplateData): string;
}

/** Alertmanager's template data (`template.Data`), as the agent fills it; times as RFC 3339. */
export interface TemplateData {
  Receiver: string;
  Status: 'firing' | 'resolved';
  Alerts: TemplateAlert[];
  GroupLabels: Record<string, string>;
  CommonLabels: Record<string, string>;
  CommonAnnotations: Record<string, string>;
  ExternalURL: string;
  GroupKey: string;
  TruncatedAlerts: number;
}

/** One alert of {@link TemplateData} (Alertmanager's `template.Alert`). */
export interface TemplateAlert {
  Status: 'firing' | 'resolved';
  Labels: Record<string, string>;
  Annotations: Record<string, string>;
  /** RFC 3339. */
  StartsAt: string;
  /** RFC 3339; Go's zero time `0001-01-01T00:00:00Z` for a firing alert, as Alertmanager sends it. */
  EndsAt: string;
  GeneratorURL: string;
  Fingerprint: string;
}

/** Go's zero `time.Time` in RFC 3339: what Alertmanager puts in `endsAt` of a firing alert. */
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

/**
 * The template data of a notification, as Alertmanager builds it (`Template.Data`): the receiver's
 * name passed through Go's `regexp.QuoteMeta` (Alertmanager does that, so `db.oncall` renders as
 * `db\.oncall`), a firing alert's `EndsAt` the zero time, absent generator URLs "".
 */
export function templateData(notification: Notification, externalURL = ''): TemplateData {
  return {
    Receiver: quoteMeta(notification.receiver),
    Status: notification.status,
    Alerts: notification.alerts.map((a) => ({
      Status: a.status,
      Labels: { ...a.labels },
      Annotations: { ...a.annotations },
      StartsAt: a.startsAt,
      EndsAt: a.status === 'firing' || !a.endsAt ? GO_ZERO_TIME : a.endsAt,
      GeneratorURL: a.generatorURL ?? '',
      Fingerprint: a.fingerprint,
    })),
    GroupLabels: { ...notification.groupLabels },
    CommonLabels: { ...notification.commonLabels },
    CommonAnnotations: { ...notification.commonAnnotations },
    ExternalURL: externalURL,
    GroupKey: notification.groupKey,
    TruncatedAlerts: notification.truncatedAlerts,
  };
}

/** Go's `regexp.QuoteMeta`. */
export function quoteMeta(text: string): string {
  return text.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/**
 * A zod string schema that compiles the template when the config is validated; a template that
 * does not compile is an issue whose message starts with the template's `line:column`.
 */
export const templateSchema: z.ZodType<string> = z.string().superRefine((source, ctx) => {
  try {
    compileTemplate(source);
  } catch (error) {
    if (!(error instanceof TemplateError)) throw error;
    ctx.addIssue({ code: 'custom', message: `template ${error.message}` });
  }
});

/**
 * Compiles a Go template of the supported subset.
 * @throws TemplateError naming the construct, its line:column and what is supported.
 */
export function compileTemplate(source: string): NotificationTemplate {
  const nodes = new Parser(source).parse();
  return {
    source,
    render(data: TemplateData): string {
      const out: string[] = [];
      execute(nodes, data, out);
      return out.join('');
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Static types: what each field is, so a template is checked once, at compile time.

type Type = 'string' | 'int' | 'bool' | 'time' | 'kv' | 'alerts' | 'alert' | 'pairs' | 'pair' | 'data';

const FIELDS: Partial<Record<Type, Record<string, Type>>> = {
  data: {
    Receiver: 'string',
    Status: 'string',
    Alerts: 'alerts',
    GroupLabels: 'kv',
    CommonLabels: 'kv',
    CommonAnnotations: 'kv',
    ExternalURL: 'string',
    GroupKey: 'string',
    TruncatedAlerts: 'int',
  },
  alert: { Status: 'string', Labels: 'kv', Annotations: 'kv', StartsAt: 'time', EndsAt: 'time', GeneratorURL: 'string', Fingerprint: 'string' },
  alerts: { Firing: 'alerts', Resolved: 'alerts' },
  pair: { Name: 'string', Value: 'string' },
};

/** Alertmanager's KV methods: in Go they shadow a label of the same name, so only SortedPairs is offered and the others rejected. */
const KV_METHODS = new Set(['SortedPairs', 'Names', 'Values', 'Remove']);

const ELEMENT: Partial<Record<Type, Type>> = { alerts: 'alert', pairs: 'pair', kv: 'string' };

const TYPE_NAMES: Record<Type, string> = {
  string: 'a string',
  int: 'an integer',
  bool: 'a boolean',
  time: 'a time',
  kv: 'a label map',
  alerts: 'a list of alerts',
  alert: 'an alert',
  pairs: 'a list of label pairs',
  pair: 'a label pair',
  data: 'the notification data',
};

// ---------------------------------------------------------------------------------------------
// The syntax tree.

type Expr =
  | { kind: 'field'; base: 'dot' | Expr; path: string[]; types: Type[]; type: Type }
  | { kind: 'literal'; value: string | number | boolean; type: Type }
  | { kind: 'call'; fn: string; args: Expr[]; type: Type };

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'print'; expr: Expr }
  | { kind: 'if'; cond: Expr; then: Node[]; else: Node[] }
  | { kind: 'range'; over: Expr; body: Node[]; else: Node[] };

type Token =
  | { t: 'field'; names: string[]; pos: number } // `.`, `.A.B`
  | { t: 'ident'; name: string; pos: number }
  | { t: 'string'; value: string; pos: number }
  | { t: 'number'; value: number; pos: number }
  | { t: 'pipe' | 'lparen' | 'rparen'; pos: number }
  | { t: 'trailing'; names: string[]; pos: number }; // `.A` right after `)`

interface Action {
  tokens: Token[];
  pos: number; // of the first token, or of `{{` when empty
  end: number; // offset after `}}`
}

interface Frame {
  kind: 'if' | 'range';
  node: Extract<Node, { kind: 'if' | 'range' }>;
  dot: Type;
  inElse: boolean;
  pos: number;
  /** An `else if` opened an implicit nested if that the same `end` closes. */
  chained: Frame[];
}

const FUNCTIONS = ['len', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'not', 'and', 'or', 'index', 'toUpper', 'toLower', 'title'];
const UNSUPPORTED_KEYWORDS = new Set(['with', 'define', 'template', 'block', 'break', 'continue', 'nil']);
const SPACE = /[ \t\r\n]/;

class Parser {
  private pos = 0;

  constructor(private readonly src: string) {}

  parse(): Node[] {
    const root: Node[] = [];
    const stack: Frame[] = [];
    let dot: Type = 'data';
    let target = root;
    let trimNext = false;
    while (this.pos < this.src.length) {
      const open = this.src.indexOf('{{', this.pos);
      let text = this.src.slice(this.pos, open === -1 ? undefined : open);
      if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
      if (open === -1) {
        if (text) target.push({ kind: 'text', text });
        break;
      }
      const trimBefore = this.src[open + 2] === '-' && SPACE.test(this.src[open + 3] ?? '');
      if (trimBefore) text = text.replace(/[ \t\r\n]+$/, '');
      if (text) target.push({ kind: 'text', text });
      this.pos = open + (trimBefore ? 3 : 2);
      // Go's lexer: a comment starts right after `{{` or `{{- ` (one space), nowhere else.
      const action = this.src.startsWith('/*', open + (trimBefore ? 4 : 2)) ? this.readComment(open + (trimBefore ? 4 : 2)) : this.readAction(open);
      trimNext = action.trimAfter;
      this.pos = action.end;
      if (action.comment) continue;
      const [first] = action.tokens;
      if (!first) throw this.error(open, 'empty action {{ }}');
      if (first.t === 'ident' && (first.name === 'if' || first.name === 'range')) {
        const expr = this.pipeline(action.tokens.slice(1), dot, first.pos, first.name);
        const node: Extract<Node, { kind: 'if' | 'range' }> =
          first.name === 'if' ? { kind: 'if', cond: expr, then: [], else: [] } : { kind: 'range', over: this.rangeable(expr, first.pos), body: [], else: [] };
        target.push(node);
        stack.push({ kind: first.name, node, dot, inElse: false, pos: first.pos, chained: [] });
        if (node.kind === 'range') dot = ELEMENT[node.over.type] as Type;
        target = node.kind === 'if' ? node.then : node.body;
      } else if (first.t === 'ident' && first.name === 'else') {
        const frame = stack[stack.length - 1];
        const current = frame?.chained[frame.chained.length - 1] ?? frame;
        if (!frame || !current || current.inElse) throw this.error(first.pos, frame ? '{{ else }} after {{ else }}' : '{{ else }} outside {{ if }} or {{ range }}');
        current.inElse = true;
        dot = current.dot;
        target = current.node.else;
        const next = action.tokens[1];
        if (next) {
          if (!(next.t === 'ident' && next.name === 'if') || frame.kind === 'range') {
            throw this.error(next.pos, `unsupported {{ else ${describeToken(next).replace(/"/g, '')} ... }}: only {{ else }}, and {{ else if ... }} inside {{ if }}, are (supported: ${SUPPORTED})`);
          }
          const node: Extract<Node, { kind: 'if' }> = { kind: 'if', cond: this.pipeline(action.tokens.slice(2), dot, next.pos, 'if'), then: [], else: [] };
          target.push(node);
          frame.chained.push({ kind: 'if', node, dot, inElse: false, pos: next.pos, chained: [] });
          target = node.then;
        }
      } else if (first.t === 'ident' && first.name === 'end') {
        if (action.tokens.length > 1) throw this.error(action.tokens[1].pos, 'unexpected argument after {{ end }}');
        const frame = stack.pop();
        if (!frame) throw this.error(first.pos, '{{ end }} without {{ if }} or {{ range }}');
        dot = frame.dot;
        const parent = stack[stack.length - 1];
        target = parent ? this.bodyOf(parent) : root;
      } else {
        const expr = this.pipeline(action.tokens, dot, first.pos, undefined);
        this.printable(expr, first.pos);
        target.push({ kind: 'print', expr });
      }
    }
    const unclosed = stack[stack.length - 1];
    if (unclosed) throw this.error(unclosed.pos, `{{ ${unclosed.kind} }} without {{ end }}`);
    return root;
  }

  private bodyOf(frame: Frame): Node[] {
    const inner = frame.chained[frame.chained.length - 1] ?? frame;
    if (inner.inElse) return inner.node.else;
    return inner.node.kind === 'if' ? inner.node.then : inner.node.body;
  }

  // A comment runs from its opening to `*/}}` or `*/ -}}`: in Go nothing else may follow it in the action.
  private readComment(start: number): Action & { trimAfter: boolean; comment: boolean } {
    const close = this.src.indexOf('*/', start + 2);
    if (close === -1) throw this.error(start, 'unclosed comment: expected */}}');
    const after = close + 2;
    if (this.src.startsWith('}}', after)) return { tokens: [], pos: start, end: after + 2, trimAfter: false, comment: true };
    if (SPACE.test(this.src[after] ?? '') && this.src.startsWith('-}}', after + 1)) return { tokens: [], pos: start, end: after + 4, trimAfter: true, comment: true };
    throw this.error(after, 'comment ends before the action does: expected */}} or */ -}} right after the comment');
  }

  /** Reads one action after `{{` (and its trim marker) up to and including `}}`. */
  private readAction(open: number): Action & { trimAfter: boolean; comment: boolean } {
    const src = this.src;
    let i = this.pos;
    const closes = (at: number): { end: number; trim: boolean } | undefined => {
      if (src.startsWith('}}', at)) return { end: at + 2, trim: false };
      if (SPACE.test(src[at] ?? '')) {
        let j = at;
        while (SPACE.test(src[j] ?? '')) j++;
        if (src.startsWith('-}}', j)) return { end: j + 3, trim: true };
        if (src.startsWith('}}', j)) return { end: j + 2, trim: false };
      }
      return undefined;
    };
    const tokens: Token[] = [];
    for (;;) {
      const end = closes(i);
      if (end) return { tokens, pos: tokens[0]?.pos ?? open, end: end.end, trimAfter: end.trim, comment: false };
      const c = src[i];
      if (c === undefined) throw this.error(open, 'unclosed action: expected }}');
      if (SPACE.test(c)) {
        i++;
      } else if (c === '.') {
        const m = /^\.(?:[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)?/.exec(src.slice(i)) as RegExpExecArray;
        const names = m[0] === '.' ? [] : m[0].slice(1).split('.');
        if (src[i + m[0].length] === '.') throw this.error(i + m[0].length, `bad field name after "${m[0]}"`);
        const previous = tokens[tokens.length - 1];
        tokens.push(previous?.t === 'rparen' && previous.pos + 1 === i ? { t: 'trailing', names, pos: i } : { t: 'field', names, pos: i });
        i += m[0].length;
      } else if (/[A-Za-z_]/.test(c)) {
        const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i)) as RegExpExecArray;
        tokens.push({ t: 'ident', name: m[0], pos: i });
        i += m[0].length;
      } else if (c === '"') {
        const { value, end: after } = this.quoted(i);
        tokens.push({ t: 'string', value, pos: i });
        i = after;
      } else if (c === '`') {
        const close = src.indexOf('`', i + 1);
        if (close === -1) throw this.error(i, 'unterminated raw string: expected `');
        tokens.push({ t: 'string', value: src.slice(i + 1, close), pos: i });
        i = close + 1;
      } else if (/[-+0-9]/.test(c)) {
        const m = /^[-+]?[0-9][0-9A-Za-z_.]*/.exec(src.slice(i));
        if (!m || !/^[-+]?[0-9]+$/.test(m[0])) throw this.error(i, `unsupported number "${m?.[0] ?? c}": only decimal integers are (supported: ${SUPPORTED})`);
        tokens.push({ t: 'number', value: Number(m[0]), pos: i });
        i += m[0].length;
      } else if (c === '|' && src[i + 1] !== '|') {
        tokens.push({ t: 'pipe', pos: i++ });
      } else if (c === '(') {
        tokens.push({ t: 'lparen', pos: i++ });
      } else if (c === ')') {
        tokens.push({ t: 'rparen', pos: i++ });
      } else if (c === '$') {
        const name = /^\$[A-Za-z0-9_]*/.exec(src.slice(i))?.[0] ?? '$';
        throw this.error(i, `variables are not supported ("${name}") (supported: ${SUPPORTED})`);
      } else if (c === ':' || c === '=') {
        throw this.error(i, `variable assignment "${src.startsWith(':=', i) ? ':=' : c}" is not supported (supported: ${SUPPORTED})`);
      } else if (c === "'") {
        throw this.error(i, `character constants are not supported: use "a string" (supported: ${SUPPORTED})`);
      } else {
        throw this.error(i, `unexpected "${c}" in action (supported: ${SUPPORTED})`);
      }
    }
  }

  /** A Go double-quoted string with the common escapes. */
  private quoted(start: number): { value: string; end: number } {
    let value = '';
    for (let i = start + 1; i < this.src.length; i++) {
      const c = this.src[i];
      if (c === '"') return { value, end: i + 1 };
      if (c === '\n') break;
      if (c !== '\\') {
        value += c;
        continue;
      }
      const e = this.src[++i];
      const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' };
      if (e !== undefined && e in simple) value += simple[e];
      else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(this.src.slice(i + 1, i + 5))) {
        value += String.fromCharCode(parseInt(this.src.slice(i + 1, i + 5), 16));
        i += 4;
      } else throw this.error(i - 1, `unsupported escape "\\${e ?? ''}" in string: use \\n \\t \\r \\" \\\\ or \\uXXXX`);
    }
    throw this.error(start, 'unterminated string: expected "');
  }

  /** A pipeline: `operand`, `fn args...`, `x | fn args...`, typed against the dot's type. */
  private pipeline(tokens: Token[], dot: Type, pos: number, action: string | undefined): Expr {
    if (tokens.length === 0) throw this.error(pos, `missing value for ${action ? `{{ ${action} }}` : 'action'}`);
    const stages: Token[][] = [[]];
    let depth = 0;
    for (const token of tokens) {
      if (token.t === 'lparen') depth++;
      if (token.t === 'rparen') depth--;
      if (depth < 0) throw this.error(token.pos, 'unexpected ")"');
      if (token.t === 'pipe' && depth === 0) stages.push([]);
      else stages[stages.length - 1].push(token);
    }
    if (depth > 0) throw this.error(tokens[tokens.length - 1].pos, 'unclosed "(": expected ")"');
    let value: Expr | undefined;
    for (const [n, stage] of stages.entries()) {
      const at = stage[0]?.pos ?? pos;
      if (stage.length === 0) throw this.error(n === 0 ? pos : tokens.find((t) => t.t === 'pipe')?.pos ?? pos, 'missing command in pipeline');
      value = this.command(stage, dot, value, at);
    }
    return value as Expr;
  }

  /** One pipeline stage; `piped` is the previous stage's value, passed as the last argument. */
  private command(tokens: Token[], dot: Type, piped: Expr | undefined, pos: number): Expr {
    const head = tokens[0];
    if (head.t === 'ident' && head.name !== 'true' && head.name !== 'false') {
      if (!FUNCTIONS.includes(head.name)) throw this.unknownIdent(head.name, head.pos);
      const args = this.operands(tokens.slice(1), dot);
      if (piped) args.push(piped);
      return this.call(head.name, args, head.pos);
    }
    if (piped) throw this.error(pos, `a pipeline stage after "|" must be a function (supported: ${SUPPORTED})`);
    const [value, ...rest] = this.operands(tokens, dot);
    if (rest.length > 0) throw this.error(tokens[1].pos, `unexpected argument: ${describeToken(tokens[0])} is not a function`);
    return value;
  }

  private operands(tokens: Token[], dot: Type): Expr[] {
    const out: Expr[] = [];
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i];
      switch (token.t) {
        case 'field':
          out.push(this.field('dot', dot, token.names, token.pos));
          break;
        case 'string':
          out.push({ kind: 'literal', value: token.value, type: 'string' });
          break;
        case 'number':
          out.push({ kind: 'literal', value: token.value, type: 'int' });
          break;
        case 'ident':
          if (token.name === 'true' || token.name === 'false') out.push({ kind: 'literal', value: token.name === 'true', type: 'bool' });
          else if (FUNCTIONS.includes(token.name)) throw this.error(token.pos, `function "${token.name}" as an argument must be in parentheses: (${token.name} ...)`);
          else throw this.unknownIdent(token.name, token.pos);
          break;
        case 'lparen': {
          let depth = 0;
          let j = i;
          for (; j < tokens.length; j++) {
            if (tokens[j].t === 'lparen') depth++;
            if (tokens[j].t === 'rparen' && --depth === 0) break;
          }
          let inner = this.pipeline(tokens.slice(i + 1, j), dot, token.pos, undefined);
          const trailing = tokens[j + 1];
          if (trailing?.t === 'trailing') {
            inner = this.field(inner, inner.type, trailing.names, trailing.pos);
            j++;
          }
          out.push(inner);
          i = j;
          break;
        }
        default:
          throw this.error(token.pos, `unexpected ${describeToken(token)}`);
      }
    }
    return out;
  }

  private field(base: 'dot' | Expr, type: Type, names: string[], pos: number): Expr {
    const types: Type[] = [];
    let current = type;
    let at = pos; // the `.` before `name`
    for (const name of names) {
      let next: Type | undefined;
      if (current === 'kv') {
        if (name === 'SortedPairs') next = 'pairs';
        else if (KV_METHODS.has(name)) throw this.error(at, `.${name} is not supported (a label of that name is not reachable in Go either: use index .Labels "${name}"); supported: ${SUPPORTED}`);
        else next = 'string';
      } else next = FIELDS[current]?.[name];
      if (!next) {
        const known = Object.keys(FIELDS[current] ?? {});
        const hint = known.length > 0 ? `; ${TYPE_NAMES[current]} has ${known.map((k) => `.${k}`).join(' ')}` : '';
        throw this.error(at, `unknown field .${name}: ${TYPE_NAMES[current]} has no field ${name}${hint} (supported: ${SUPPORTED})`);
      }
      types.push(next);
      current = next;
      at += 1 + name.length;
    }
    return { kind: 'field', base, path: names, types, type: current };
  }

  private call(fn: string, args: Expr[], pos: number): Expr {
    const arity = (min: number, max = min): void => {
      if (args.length < min || args.length > max) {
        const want = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
        throw this.error(pos, `${fn} takes ${want} argument${want === '1' ? '' : 's'}, got ${args.length}`);
      }
    };
    const need = (arg: Expr, types: Type[], what: string): void => {
      if (!types.includes(arg.type)) throw this.error(pos, `${fn}: ${what} must be ${types.map((t) => TYPE_NAMES[t]).join(' or ')}, not ${TYPE_NAMES[arg.type]}`);
    };
    switch (fn) {
      case 'len':
        arity(1);
        need(args[0], ['alerts', 'pairs', 'kv', 'string'], 'its argument');
        return { kind: 'call', fn, args, type: 'int' };
      case 'eq':
      case 'ne':
      case 'lt':
      case 'le':
      case 'gt':
      case 'ge': {
        if (fn === 'eq') arity(2, Infinity);
        else arity(2);
        const comparable: Type[] = fn === 'eq' || fn === 'ne' ? ['string', 'int', 'bool'] : ['string', 'int'];
        need(args[0], comparable, 'its arguments');
        for (const arg of args.slice(1)) {
          if (arg.type !== args[0].type) throw this.error(pos, `${fn}: cannot compare ${TYPE_NAMES[args[0].type]} with ${TYPE_NAMES[arg.type]}`);
        }
        return { kind: 'call', fn, args, type: 'bool' };
      }
      case 'not':
        arity(1);
        return { kind: 'call', fn, args, type: 'bool' };
      case 'and':
      case 'or':
        arity(1, Infinity);
        for (const arg of args.slice(1)) {
          if (arg.type !== args[0].type) throw this.error(pos, `${fn}: its arguments must be of one type (${TYPE_NAMES[args[0].type]} and ${TYPE_NAMES[arg.type]} here); use (not ...) or (eq ...) to make booleans`);
        }
        return { kind: 'call', fn, args, type: args[0].type };
      case 'index':
        arity(2);
        need(args[0], ['kv'], 'its first argument');
        need(args[1], ['string'], 'the key');
        return { kind: 'call', fn, args, type: 'string' };
      default: // toUpper toLower title
        arity(1);
        need(args[0], ['string'], 'its argument');
        return { kind: 'call', fn, args, type: 'string' };
    }
  }

  private rangeable(expr: Expr, pos: number): Expr {
    if (!ELEMENT[expr.type]) throw this.error(pos, `range over ${TYPE_NAMES[expr.type]}: only .Alerts, .Alerts.Firing, .Alerts.Resolved, a label map and .SortedPairs can be ranged over`);
    return expr;
  }

  private printable(expr: Expr, pos: number): void {
    if (['alerts', 'alert', 'pairs', 'pair', 'data'].includes(expr.type)) {
      throw this.error(pos, `cannot print ${TYPE_NAMES[expr.type]} (Go would print its internal structure): use its fields or {{ range }}`);
    }
  }

  private unknownIdent(name: string, pos: number): TemplateError {
    if (UNSUPPORTED_KEYWORDS.has(name)) return this.error(pos, `"${name}" is not supported (supported: ${SUPPORTED})`);
    if (['if', 'range', 'else', 'end'].includes(name)) return this.error(pos, `"${name}" must start its action: {{ ${name} ... }}`);
    return this.error(pos, `function "${name}" is not supported (supported: ${SUPPORTED})`);
  }

  error(offset: number, detail: string): TemplateError {
    const before = this.src.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    return new TemplateError(detail, line, column);
  }
}

function describeToken(token: Token): string {
  switch (token.t) {
    case 'field':
    case 'trailing':
      return token.names.length === 0 ? '"."' : `".${token.names.join('.')}"`;
    case 'ident':
      return `"${token.name}"`;
    case 'string':
      return `string ${JSON.stringify(token.value)}`;
    case 'number':
      return `number ${token.value}`;
    case 'pipe':
      return '"|"';
    default:
      return `"${token.t === 'lparen' ? '(' : ')'}"`;
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering: the tree was type-checked, so values have the shapes their static types say.

type Value = unknown;

function execute(nodes: Node[], dot: Value, out: string[]): void {
  for (const node of nodes) {
    switch (node.kind) {
      case 'text':
        out.push(node.text);
        break;
      case 'print':
        out.push(format(evaluate(node.expr, dot), node.expr.type));
        break;
      case 'if':
        execute(truthy(evaluate(node.cond, dot), node.cond.type) ? node.then : node.else, dot, out);
        break;
      case 'range': {
        const items = elements(evaluate(node.over, dot), node.over.type);
        if (items.length === 0) execute(node.else, dot, out);
        for (const item of items) execute(node.body, item, out);
        break;
      }
    }
  }
}

function evaluate(expr: Expr, dot: Value): Value {
  switch (expr.kind) {
    case 'literal':
      return expr.value;
    case 'field': {
      let value = expr.base === 'dot' ? dot : evaluate(expr.base, dot);
      let type: Type = expr.base === 'dot' ? 'data' : expr.base.type;
      for (const [i, name] of expr.path.entries()) {
        value = member(value, type, name);
        type = expr.types[i];
      }
      return value;
    }
    case 'call':
      return callFn(expr, dot);
  }
}

function member(value: Value, type: Type, name: string): Value {
  if (type === 'kv') {
    const map = asMap(value);
    if (name === 'SortedPairs') return sortedPairs(map);
    return Object.prototype.hasOwnProperty.call(map, name) ? map[name] : '';
  }
  if (type === 'alerts') {
    const list = Array.isArray(value) ? (value as TemplateAlert[]) : [];
    return list.filter((a) => (name === 'Firing' ? a.Status === 'firing' : a.Status === 'resolved'));
  }
  const record = (value ?? {}) as Record<string, unknown>;
  return record[name];
}

/** Alertmanager's `KV.SortedPairs`: `alertname` first, then the other names sorted. */
function sortedPairs(map: Record<string, string>): Array<{ Name: string; Value: string }> {
  const names = Object.keys(map).sort(compareGo);
  const i = names.indexOf('alertname');
  if (i > 0) names.unshift(...names.splice(i, 1));
  return names.map((Name) => ({ Name, Value: map[Name] }));
}

function callFn(expr: Extract<Expr, { kind: 'call' }>, dot: Value): Value {
  const args = expr.args.map((a) => evaluate(a, dot));
  const a0 = args[0];
  switch (expr.fn) {
    case 'len':
      return expr.args[0].type === 'string' ? Buffer.byteLength(String(a0 ?? '')) : elements(a0, expr.args[0].type).length;
    case 'eq':
      return args.slice(1).some((b) => b === a0);
    case 'ne':
      return a0 !== args[1];
    case 'lt':
      return order(a0, args[1]) < 0;
    case 'le':
      return order(a0, args[1]) <= 0;
    case 'gt':
      return order(a0, args[1]) > 0;
    case 'ge':
      return order(a0, args[1]) >= 0;
    case 'not':
      return !truthy(a0, expr.args[0].type);
    case 'and': {
      for (const [i, arg] of args.entries()) if (!truthy(arg, expr.args[i].type)) return arg;
      return args[args.length - 1];
    }
    case 'or': {
      for (const [i, arg] of args.entries()) if (truthy(arg, expr.args[i].type)) return arg;
      return args[args.length - 1];
    }
    case 'index': {
      const map = asMap(a0);
      const key = String(args[1]);
      return Object.prototype.hasOwnProperty.call(map, key) ? map[key] : '';
    }
    case 'toUpper':
      return String(a0 ?? '').toUpperCase();
    case 'toLower':
      return String(a0 ?? '').toLowerCase();
    default: // title
      return title(String(a0 ?? ''));
  }
}

/** Go compares strings byte-wise (UTF-8), which for these purposes is code point order. */
function compareGo(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function order(a: Value, b: Value): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return compareGo(String(a ?? ''), String(b ?? ''));
}

/**
 * Alertmanager's `title` (golang.org/x/text/cases.Title): in each word the first letter upper-case
 * and the rest lower-case. Words as Unicode's word boundaries (UAX #29) make them for Latin text:
 * letters, digits and `_` run together, `.` `:` `'` `’` join letters (`hello.world`, `o'neil`) and
 * `.` `,` `;` `'` join digits (`1.5x`); anything else (space, `-`, `/`) separates words.
 */
const WORD = /[\p{L}\p{M}\p{N}_]+(?:(?:(?<=[\p{L}\p{M}])[.:'’\u00B7](?=[\p{L}\p{M}])|(?<=\p{N})[.,;'’](?=\p{N}))[\p{L}\p{M}\p{N}_]+)*/gu;

function title(text: string): string {
  return text.replace(WORD, (word) => word.toLowerCase().replace(/\p{L}/u, (first) => first.toUpperCase()));
}

function asMap(value: Value): Record<string, string> {
  return value && typeof value === 'object' ? (value as Record<string, string>) : {};
}

function elements(value: Value, type: Type): Value[] {
  if (type === 'kv') {
    const map = asMap(value);
    return Object.keys(map).sort(compareGo).map((k) => map[k]);
  }
  return Array.isArray(value) ? value : [];
}

/** Go's truth: the zero value and empty collections are false; structs (an alert, a time) are true. */
function truthy(value: Value, type: Type): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string' && value !== '';
    case 'int':
      return typeof value === 'number' && value !== 0;
    case 'bool':
      return value === true;
    case 'kv':
      return Object.keys(asMap(value)).length > 0;
    case 'alerts':
    case 'pairs':
      return Array.isArray(value) && value.length > 0;
    default:
      return true;
  }
}

function format(value: Value, type: Type): string {
  switch (type) {
    case 'time':
      return goTime(String(value ?? GO_ZERO_TIME));
    case 'kv': {
      const map = asMap(value);
      return `map[${Object.keys(map)
        .sort(compareGo)
        .map((k) => `${k}:${map[k]}`)
        .join(' ')}]`;
    }
    case 'int':
      return String(typeof value === 'number' ? value : 0);
    case 'bool':
      return value === true ? 'true' : 'false';
    default:
      return typeof value === 'string' ? value : '';
  }
}

/**
 * Go's `time.Time.String()` of an RFC 3339 time: `2006-01-02 15:04:05.999999999 -0700 MST`, the
 * fraction without trailing zeros, `+0000 UTC` for `Z`, `+0200 +0200` for a numeric offset.
 */
export function goTime(rfc3339: string): string {
  const m = /^(\d{4,}-\d\d-\d\d)[Tt ](\d\d:\d\d:\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)$/.exec(rfc3339);
  if (!m) return rfc3339;
  const fraction = (m[3] ?? '').slice(0, 10).replace(/\.?0+$/, '');
  const zone = m[4].toUpperCase() === 'Z' ? '+0000 UTC' : `${m[4].replace(':', '')} ${m[4].replace(':', '')}`;
  return `${m[1]} ${m[2]}${fraction} ${zone}`;
}
