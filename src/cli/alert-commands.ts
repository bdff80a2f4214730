import os from 'node:os';
import { EXIT } from '../agent/agent';
import type { AlertJson } from '../alerting/alerts-routes';
import type { GettableSilence } from '../alerting/api-v2';
import { parsePrometheusDuration } from '../alerting/duration';
import { MatcherError, parseMatcher, type Matcher } from '../alerting/matchers';
import { toMatcher } from '../alerting/silences';
import { SystemClock } from '../core/clock';
import { errorMessage } from '../core/errors';
import { agentAdminUrl, agentBearerToken, type AgentConnectionOptions } from '../client/agent-connection';

/**
 * The CLI's alert commands that talk to a running agent: `alert list`, `alert ack`,
 * `alert deliveries`, `alert retry` and `alert test` through the agent's `/alerts` routes, `alert silence add|query|expire` through Alertmanager's API v2 (the
 * same requests amtool makes). Exit codes: 0 done, 1 the agent refused or could not be reached,
 * 2 bad arguments.
 */

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** A failed command: what to print and the exit code. */
class CommandFailure extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

const TIMEOUT_MS = 10_000;

function usage(message: string): CommandFailure {
  return new CommandFailure(message, EXIT.CONFIG);
}

/**
 * One request to the agent; resolves the parsed JSON body of a success.
 * @throws CommandFailure (exit 1) with the agent's message: `CODE: message` for the agent's own
 * routes, the string Alertmanager's API answers with, or why the agent could not be reached.
 */
async function call(options: AgentConnectionOptions & { timeoutMs?: number }, method: string, path: string, body?: unknown): Promise<unknown> {
  const timeoutMs = options.timeoutMs ?? TIMEOUT_MS;
  let token: string | undefined;
  try {
    token = agentBearerToken(options);
  } catch (error) {
    throw usage(errorMessage(error));
  }
  const url = `${agentAdminUrl(options).replace(/\/+$/, '')}${path}`;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }), signal: AbortSignal.timeout(timeoutMs) });
    text = await response.text();
  } catch (error) {
    const { name, cause } = (error ?? {}) as { name?: string; cause?: { code?: string; message?: string } };
    const reason = name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (cause?.code ?? cause?.message ?? errorMessage(error));
    throw new CommandFailure(`cannot reach praxis-agent at ${url}: ${reason}`, EXIT.FAILURE);
  }
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (response.ok) return parsed;
  const error = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  // The admin server answers a route nobody mounted: the agent runs without an alerting: section.
  const hint = error?.code === 'HTTP_NOT_FOUND' ? ' (the agent has no alerting: section in its config?)' : '';
  if (typeof error?.message === 'string') throw new CommandFailure(`${typeof error.code === 'string' ? `${error.code}: ` : ''}${error.message}${hint}`, EXIT.FAILURE);
  if (typeof parsed === 'string') throw new CommandFailure(`HTTP ${response.status}: ${parsed}`, EXIT.FAILURE);
  throw new CommandFailure(`${method} ${url}: HTTP ${response.status}`, EXIT.FAILURE);
}

/** Runs a command body; prints a failure as `praxis-agent alert: message` and returns its exit code. */
async function run(io: Io, body: () => Promise<void>): Promise<number> {
  try {
    await body();
    return EXIT.OK;
  } catch (error) {
    if (!(error instanceof CommandFailure)) throw error;
    io.err(`praxis-agent alert: ${error.message}`);
    return error.code;
  }
}

/** A table with columns padded to their widest cell (the last column unpadded). */
function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')).join('\n');
}

function labelText(labels: Readonly<Record<string, string>>): string {
  return `{${Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ')}}`;
}

/** The user name amtool puts in `createdBy` by default. */
function defaultAuthor(): string {
  try {
    return os.userInfo().username;
  } catch {
    return '';
  }
}

/**
 * Matchers as amtool takes them, one per argument (`name=value`, `name=~"re"`, `name!=value`);
 * a first argument that is not a matcher is the alertname, as with amtool.
 */
export function matcherArguments(args: readonly string[]): Matcher[] {
  return args.map((arg, i) => {
    try {
      return parseMatcher(arg);
    } catch (error) {
      if (!(error instanceof MatcherError)) throw error;
      if (i === 0) {
        try {
          return parseMatcher(`alertname=${arg}`);
        } catch {
          // Report the argument as given.
        }
      }
      throw usage(error.message);
    }
  });
}

/** `alert list`: every alert the agent knows, with its state and what mutes it. */
export function alertListCommand(options: AgentConnectionOptions & { state?: string; json?: boolean }, io: Io): Promise<number> {
  return run(io, async () => {
    const query = options.state ? `?state=${encodeURIComponent(options.state)}` : '';
    const { alerts } = (await call(options, 'GET', `/alerts${query}`)) as { alerts: AlertJson[] };
    if (options.json) {
      io.out(JSON.stringify(alerts, null, 2));
      return;
    }
    if (alerts.length === 0) {
      io.out('(no alerts)');
      return;
    }
    const muted = (view: AlertJson): string => {
      const parts: string[] = [];
      if (view.silencedBy.length > 0) parts.push(`silenced by ${view.silencedBy.join(',')}`);
      if (view.inhibitedBy.length > 0) parts.push(`inhibited by ${view.inhibitedBy.join(',')}`);
      if (view.acknowledgement) parts.push(`acked by ${view.acknowledgement.by}`);
      return parts.join('; ') || '-';
    };
    const rows = alerts.map((view) => [view.alert.fingerprint, view.alert.state, view.alert.startsAt, view.receivers.join(',') || '-', muted(view), labelText(view.alert.labels)]);
    io.out(table([['FINGERPRINT', 'STATE', 'STARTS AT', 'RECEIVERS', 'MUTED', 'LABELS'], ...rows]));
  });
}

/** `alert ack FINGERPRINT`: acknowledges a firing alert; prints who and until when. */
export function alertAckCommand(fingerprint: string, options: AgentConnectionOptions & { comment?: string; expires?: string; author?: string }, io: Io): Promise<number> {
  return run(io, async () => {
    if (options.expires !== undefined && !parsePrometheusDuration(options.expires)) throw usage(`--expires: not a positive duration: "${options.expires}" (e.g. 30m, 2h, 1d)`);
    const by = options.author ?? defaultAuthor();
    if (by === '') throw usage('--author is required (the current user has no name)');
    const body = { by, ...(options.comment === undefined ? {} : { comment: options.comment }), ...(options.expires === undefined ? {} : { duration: options.expires }) };
    const view = (await call(options, 'POST', `/alerts/${encodeURIComponent(fingerprint)}/ack`, body)) as AlertJson;
    const ack = view.acknowledgement;
    io.out(`acknowledged ${view.alert.fingerprint} ${labelText(view.alert.labels)} by ${ack?.by ?? by}${ack?.expiresAt ? ` until ${ack.expiresAt}` : ' until it changes state'}`);
  });
}

/** `alert silence add MATCHER...`: creates a silence from now for `--duration`; prints its id. */
export function silenceAddCommand(args: readonly string[], options: AgentConnectionOptions & { duration: string; comment?: string; author?: string }, io: Io): Promise<number> {
  return run(io, async () => {
    const matchers = matcherArguments(args);
    if (matchers.length === 0) throw usage('no matchers given: name=value (or name!=value, name=~regex, name!~regex) per argument');
    const ms = parsePrometheusDuration(options.duration);
    if (!ms) throw usage(`--duration: not a positive duration: "${options.duration}" (e.g. 30m, 2h, 1d)`);
    if (!options.comment) throw usage('--comment is required: say why the alerts are silenced');
    const now = new SystemClock().now();
    const silence = {
      matchers: matchers.map((m) => ({ name: m.name, value: m.value, isRegex: m.type === '=~' || m.type === '!~', isEqual: m.type === '=' || m.type === '=~' })),
      startsAt: new Date(now).toISOString(),
      endsAt: new Date(now + ms).toISOString(),
      createdBy: options.author ?? defaultAuthor(),
      comment: options.comment,
    };
    const { silenceID } = (await call(options, 'POST', '/api/v2/silences', silence)) as { silenceID: string };
    io.out(silenceID);
  });
}

/** `alert silence query [MATCHER...]`: the silences not expired (or, with --expired, the expired ones) with these matchers. */
export function silenceQueryCommand(args: readonly string[], options: AgentConnectionOptions & { json?: boolean; expired?: boolean; quiet?: boolean }, io: Io): Promise<number> {
  return run(io, async () => {
    const filter = matcherArguments(args)
      .map((m) => `filter=${encodeURIComponent(m.toString())}`)
      .join('&');
    const all = (await call(options, 'GET', `/api/v2/silences${filter ? `?${filter}` : ''}`)) as GettableSilence[];
    const silences = all.filter((s) => (s.status.state === 'expired') === (options.expired === true));
    if (options.json) {
      io.out(JSON.stringify(silences, null, 2));
      return;
    }
    if (options.quiet) {
      if (silences.length > 0) io.out(silences.map((s) => s.id).join('\n'));
      return;
    }
    if (silences.length === 0) {
      io.out(options.expired ? '(no expired silences)' : '(no silences)');
      return;
    }
    const rows = silences.map((s) => [s.id, s.matchers.map((m) => toMatcher(m).toString()).join(' '), s.status.state, s.startsAt, s.endsAt, s.createdBy, s.comment]);
    io.out(table([['ID', 'MATCHERS', 'STATE', 'STARTS AT', 'ENDS AT', 'CREATED BY', 'COMMENT'], ...rows]));
  });
}

/** `alert silence expire ID...`: expires each silence; goes on after a failure, exits 1 if any failed. */
export async function silenceExpireCommand(ids: readonly string[], options: AgentConnectionOptions, io: Io): Promise<number> {
  if (ids.length === 0) {
    io.err('praxis-agent alert: no silence ids given');
    return EXIT.CONFIG;
  }
  let code: number = EXIT.OK;
  for (const id of ids) {
    const result = await run(io, async () => {
      await call(options, 'DELETE', `/api/v2/silence/${encodeURIComponent(id)}`);
      io.out(`expired ${id}`);
    });
    code = Math.max(code, result);
  }
  return code;
}

interface DeliveryJson {
  id: number;
  receiver: string;
  sink: string;
  state: string;
  attempts: number;
  created_at: string;
  next_attempt_at?: string;
  last_reason?: string;
  alerts: { alertname: string; status: string }[];
}

/** `alert deliveries`: the outbox's pending and dead-lettered deliveries (or those of `--state`). */
export function alertDeliveriesCommand(options: AgentConnectionOptions & { state?: string; json?: boolean }, io: Io): Promise<number> {
  return run(io, async () => {
    const query = options.state ? `?state=${encodeURIComponent(options.state)}` : '';
    const { deliveries } = (await call(options, 'GET', `/alerts/deliveries${query}`)) as { deliveries: DeliveryJson[] };
    if (options.json) {
      io.out(JSON.stringify(deliveries, null, 2));
      return;
    }
    if (deliveries.length === 0) {
      io.out('(no deliveries)');
      return;
    }
    const alerts = (d: DeliveryJson): string => [...new Set(d.alerts.map((a) => a.alertname))].join(',');
    const rows = deliveries.map((d) => [String(d.id), d.state, d.receiver, d.sink, String(d.attempts), d.created_at, alerts(d), d.last_reason ?? '-']);
    io.out(table([['ID', 'STATE', 'RECEIVER', 'SINK', 'ATTEMPTS', 'CREATED', 'ALERTS', 'LAST REASON'], ...rows]));
  });
}

/** `alert retry ID...`: sends dead-lettered deliveries again. */
export function alertRetryCommand(ids: readonly string[], options: AgentConnectionOptions, io: Io): Promise<number> {
  return run(io, async () => {
    const bad = ids.find((id) => !/^\d+$/.test(id));
    if (bad !== undefined) throw usage(`not a delivery id: "${bad}" (alert deliveries --state dead lists them)`);
    for (const id of ids) {
      const d = (await call(options, 'POST', `/alerts/deliveries/${id}/retry`)) as DeliveryJson;
      io.out(`delivery ${d.id} to ${d.receiver} through ${d.sink} is pending again`);
    }
  });
}

/** `alert test --receiver NAME`: a test notification through the real pipeline; prints each sink's answer. Exit 1 unless every sink delivered. */
export function alertTestCommand(options: AgentConnectionOptions & { receiver: string; wait?: string }, io: Io): Promise<number> {
  return run(io, async () => {
    if (options.wait !== undefined && parsePrometheusDuration(options.wait) === undefined) throw usage(`--wait: not a duration: "${options.wait}" (e.g. 10s, 1m)`);
    const { results } = (await call({ ...options, timeoutMs: (parsePrometheusDuration(options.wait ?? '30s') ?? 30_000) + 5_000 }, 'POST', '/alerts/test', { receiver: options.receiver, ...(options.wait ? { wait: options.wait } : {}) })) as {
      results: { sink: string; delivery_id: number; outcome: string; attempts: number; reason?: string }[];
    };
    if (results.length === 0) {
      io.out(`receiver ${options.receiver} has no sinks: its notifications are dropped`);
      return;
    }
    for (const r of results) io.out(`${r.sink}: ${r.outcome} after ${r.attempts} attempt${r.attempts === 1 ? '' : 's'}${r.reason ? ` (${r.reason})` : ''} [delivery ${r.delivery_id}]`);
    if (results.some((r) => r.outcome !== 'delivered')) throw new CommandFailure(`not every sink of ${options.receiver} delivered the test notification`, EXIT.FAILURE);
  });
}
