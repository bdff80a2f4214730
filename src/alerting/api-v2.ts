import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { AdminServer } from '../http/admin-server';
import type { RouteHandler } from '../plugin/http-routes';
import { readBody } from '../http/body';
import { HttpError, sendJson } from '../http/reply';
import type { AlertingApi, AlertView, GroupAlertsView, SilenceView } from './alerting-api';
import { postableAlertSchema } from './alerts';
import { compileRe2, MatcherError, parseMatcher, type LabelSet, type Matcher } from './matchers';
import { SilenceError, type PostableSilence } from './silences';

/**
 * Alertmanager's API v2 (`api/v2/openapi.yaml` and `api/v2/api.go`, as of 0.25) on the agent's
 * admin server, so that `amtool --alertmanager.url=...` and Prometheus (as its Alertmanager) talk to
 * the agent unchanged: alerts (post, list, groups), silences (set, list, get, expire), status and
 * receivers. Errors are answered as Alertmanager answers them: a JSON string naming the problem.
 * The agent's pending alerts are not Alertmanager alerts and are not listed here (`GET /alerts`
 * lists them); like Alertmanager, alerts whose end has passed are not listed either.
 */

/** What `GET /api/v2/status` reports besides the engine's state. */
export interface AlertmanagerApiInfo {
  /** Cluster name (`cluster.name`); absent: none, as a standalone Alertmanager. */
  clusterName?: string;
  /** The agent's version (`versionInfo.version`). */
  version: string;
  /** Largest accepted request body in bytes (`http.body_limit`); default 1 MiB. */
  bodyLimit?: number;
}

/** Alertmanager's gettable alert. */
export interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  receivers: { name: string }[];
  fingerprint: string;
  startsAt: string;
  updatedAt: string;
  endsAt: string;
  generatorURL?: string;
  status: { state: 'active' | 'suppressed' | 'unprocessed'; silencedBy: string[]; inhibitedBy: string[] };
}

/** Alertmanager's alert group. */
export interface AlertGroup {
  labels: Record<string, string>;
  receiver: { name: string };
  alerts: GettableAlert[];
}

/** Alertmanager's gettable silence. */
export interface GettableSilence {
  id: string;
  status: { state: SilenceView['state'] };
  updatedAt: string;
  matchers: { name: string; value: string; isRegex: boolean; isEqual: boolean }[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
}

/** The filters of `GET /api/v2/alerts` and `GET /api/v2/alerts/groups`. */
export interface AlertQuery {
  /** Label matchers (`filter`), with Alertmanager's filter semantics (see {@link matchesFilter}). */
  filter: Matcher[];
  active: boolean;
  silenced: boolean;
  inhibited: boolean;
  unprocessed: boolean;
  /** Receiver regex (`receiver`), anchored; absent or empty: any receiver. */
  receiver?: { test(text: string): boolean };
}

// Go's zero time, what Alertmanager's API shows for a time that is not set.
const GO_ZERO_TIME = '0001-01-01T00:00:00.000Z';
const DEFAULT_BODY_LIMIT = 1_048_576;
// strfmt's UUID: any version, hex, dashed.
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** An error answered as Alertmanager does: the status and the message as a JSON string. */
class V2Error extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** `strconv.ParseBool`, as go-swagger binds a boolean query parameter. */
function parseBool(params: URLSearchParams, name: string, fallback: boolean): boolean {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(raw)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(raw)) return false;
  throw new V2Error(400, `${name} in query must be of type boolean: ${JSON.stringify(raw)}`);
}

/** The `filter` parameters: one matcher each (`alertname="x"`, `severity=~"crit.*"`). */
function parseFilter(params: URLSearchParams): Matcher[] {
  return params.getAll('filter').map((text) => {
    try {
      return parseMatcher(text);
    } catch (error) {
      if (error instanceof MatcherError) throw new V2Error(400, `bad filter ${JSON.stringify(text)}: ${error.message}`);
      throw error;
    }
  });
}

/**
 * The query of `GET /api/v2/alerts` (and `/alerts/groups`): `filter` (repeatable), `active`,
 * `silenced`, `inhibited`, `unprocessed` (booleans, default true), `receiver` (a regex).
 * @throws an error naming the bad parameter (answered 400).
 */
export function parseAlertQuery(params: URLSearchParams): AlertQuery {
  const query: AlertQuery = {
    filter: parseFilter(params),
    active: parseBool(params, 'active', true),
    silenced: parseBool(params, 'silenced', true),
    inhibited: parseBool(params, 'inhibited', true),
    unprocessed: parseBool(params, 'unprocessed', true),
  };
  const receiver = params.get('receiver');
  if (receiver !== null && receiver !== '') {
    try {
      query.receiver = compileRe2(`^(?:${receiver})$`);
    } catch (error) {
      throw new V2Error(400, `failed to parse receiver param: ${(error as Error).message}`);
    }
  }
  return query;
}

/**
 * Alertmanager's `matchFilterLabels`, kept in its form: its special cases for an empty matcher value
 * (`name=""` passes a missing label, `name!=""` a present one) agree with plain matching for labels
 * without empty values, which is what alerts have.
 */
export function matchesFilter(matchers: readonly Matcher[], labels: LabelSet): boolean {
  return matchers.every((m) => {
    const present = Object.hasOwn(labels, m.name);
    const negative = m.type === '!=' || m.type === '!~';
    if (m.value === '' && (negative ? present : !present)) return true;
    return m.matchesValue(present ? labels[m.name] : '');
  });
}

/** The API's state of an alert: suppressed while silenced or inhibited, else active. */
function stateOf(view: AlertView): 'active' | 'suppressed' {
  return view.silencedBy.length > 0 || view.inhibitedBy.length > 0 ? 'suppressed' : 'active';
}

/** An Alertmanager alert: firing (an alert whose end has passed is resolved, and not listed). */
function listable(view: AlertView): boolean {
  return view.alert.state === 'firing';
}

/** Whether an alert passes the state and label filters (Alertmanager's `alertFilter`). */
export function passesAlertFilter(view: AlertView, query: AlertQuery): boolean {
  if (!listable(view)) return false;
  if (!query.active && stateOf(view) === 'active') return false;
  if (!query.silenced && view.silencedBy.length > 0) return false;
  if (!query.inhibited && view.inhibitedBy.length > 0) return false;
  return matchesFilter(query.filter, view.alert.labels);
}

function iso(ms: number | undefined): string {
  return ms === undefined ? GO_ZERO_TIME : new Date(ms).toISOString();
}

/** An alert in the API's form, with the receivers given (the groups' receivers for `/alerts/groups`). */
export function gettableAlert(view: AlertView, receivers: readonly string[] = view.receivers): GettableAlert {
  const { alert } = view;
  return {
    annotations: { ...alert.annotations },
    endsAt: iso(alert.endsAt),
    fingerprint: alert.fingerprint,
    receivers: receivers.map((name) => ({ name })),
    startsAt: iso(alert.startsAt),
    status: { inhibitedBy: [...view.inhibitedBy], silencedBy: [...view.silencedBy], state: stateOf(view) },
    updatedAt: iso(alert.updatedAt),
    ...(alert.generatorURL ? { generatorURL: alert.generatorURL } : {}),
    labels: { ...alert.labels },
  };
}

/** `GET /api/v2/alerts`: the listable alerts passing the query, sorted by fingerprint. */
export function listAlerts(views: readonly AlertView[], query: AlertQuery): GettableAlert[] {
  return views
    .filter((view) => (!query.receiver || view.receivers.some((r) => query.receiver?.test(r))) && passesAlertFilter(view, query))
    .map((view) => gettableAlert(view))
    .sort((a, b) => compare(a.fingerprint, b.fingerprint));
}

/**
 * `GET /api/v2/alerts/groups`: the groups whose receiver passes the receiver regex, each with its
 * alerts passing the filters (a group left without alerts is not listed). An alert's receivers are
 * those of the listed groups holding it, sorted, as Alertmanager's dispatcher reports them. Groups
 * are sorted by labels then receiver, alerts by `job`, `instance`, then labels.
 */
export function listAlertGroups(groups: readonly GroupAlertsView[], query: AlertQuery): AlertGroup[] {
  const receivers = new Map<string, string[]>();
  const kept: { group: GroupAlertsView; alerts: AlertView[] }[] = [];
  for (const group of groups) {
    if (query.receiver && !query.receiver.test(group.receiver)) continue;
    const alerts = group.alerts.filter((view) => passesAlertFilter(view, query));
    if (alerts.length === 0) continue;
    for (const view of alerts) receivers.set(view.alert.fingerprint, [...(receivers.get(view.alert.fingerprint) ?? []), group.receiver]);
    kept.push({ group, alerts });
  }
  kept.sort((a, b) => labelSetOrder(a.group.groupLabels, b.group.groupLabels) || compare(a.group.receiver, b.group.receiver));
  return kept.map(({ group, alerts }) => ({
    alerts: [...alerts].sort((a, b) => alertOrder(a.alert.labels, b.alert.labels)).map((view) => gettableAlert(view, [...(receivers.get(view.alert.fingerprint) ?? [])].sort(compare))),
    labels: { ...group.groupLabels },
    receiver: { name: group.receiver },
  }));
}

/** A silence in the API's form. */
export function gettableSilence(silence: SilenceView): GettableSilence {
  return {
    id: silence.id,
    status: { state: silence.state },
    updatedAt: silence.updatedAt,
    comment: silence.comment,
    createdBy: silence.createdBy,
    endsAt: silence.endsAt,
    matchers: silence.matchers.map((m) => ({ isEqual: m.isEqual, isRegex: m.isRegex, name: m.name, value: m.value })),
    startsAt: silence.startsAt,
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Prometheus' `LabelSet.Before`: fewer labels first, then by the sorted names and values. */
function labelSetOrder(a: LabelSet, b: LabelSet): number {
  const aKeys = Object.keys(a);
  const bKeys = Object.keys(b);
  if (aKeys.length !== bKeys.length) return aKeys.length - bKeys.length;
  for (const name of [...aKeys, ...bKeys].sort(compare)) {
    if (!Object.hasOwn(a, name)) return -1;
    if (!Object.hasOwn(b, name)) return 1;
    const order = compare(a[name], b[name]);
    if (order !== 0) return order;
  }
  return 0;
}

/** Alertmanager's `AlertSlice` order: by `job`, then `instance` (alerts with the label first), then labels. */
function alertOrder(a: LabelSet, b: LabelSet): number {
  for (const key of ['job', 'instance']) {
    const aHas = Object.hasOwn(a, key);
    const bHas = Object.hasOwn(b, key);
    if (!aHas && !bHas) continue;
    if (!aHas) return 1;
    if (!bHas) return -1;
    const order = compare(a[key], b[key]);
    if (order !== 0) return order;
  }
  return labelSetOrder(a, b);
}

const postableAlertsSchema = z.array(postableAlertSchema);

const postableSilenceSchema = z.object({
  id: z.string().optional(),
  matchers: z
    .array(
      z.object({
        name: z.string(),
        value: z.string(),
        isRegex: z.boolean(),
        isEqual: z.boolean().nullable().optional(),
      }),
    )
    .min(1, 'at least one matcher required'),
  startsAt: z.iso.datetime({ offset: true }),
  endsAt: z.iso.datetime({ offset: true }),
  createdBy: z.string(),
  comment: z.string(),
});

/** zod's issues, one `path: message` each, joined (the API's 400 body). */
function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(body)'}: ${issue.message}`).join('; ');
}

/** The JSON body of a request; 415 for a body that does not say it is JSON, 400 for invalid JSON. */
async function jsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/json\s*(;|$)/i.test(type)) throw new V2Error(415, `unsupported media type ${JSON.stringify(type)}: send application/json`);
  let body: Buffer;
  try {
    body = await readBody(req, limit);
  } catch (error) {
    if (error instanceof HttpError) throw new V2Error(error.status, error.message);
    throw error;
  }
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new V2Error(400, `request body is not valid JSON: ${(error as Error).message}`);
  }
}

function queryOf(req: IncomingMessage): URLSearchParams {
  return new URL(req.url ?? '/', 'http://agent').searchParams;
}

/** The silence id of `/api/v2/silence/{id}`. */
function silenceId(req: IncomingMessage): string {
  const path = (req.url ?? '/').split('?', 1)[0] as string;
  const id = decodeURIComponent(path.slice('/api/v2/silence/'.length));
  if (!UUID.test(id)) throw new V2Error(400, `silenceID in path must be of type uuid: ${JSON.stringify(id)}`);
  return id;
}

/** A handler whose V2Error (and body errors) are answered as Alertmanager answers them. */
function v2(handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      await handler(req, res);
    } catch (error) {
      if (!(error instanceof V2Error)) throw error;
      // Unread bodies are not drained: the connection closes, as the admin server does for its errors.
      sendJson(res, error.status, error.message, req.complete ? {} : { connection: 'close' });
    }
  };
}

/** 200 without a body, as Alertmanager answers POST /alerts and DELETE /silence/{id}. */
function sendOk(res: ServerResponse): void {
  res.writeHead(200, { 'content-length': 0, 'cache-control': 'no-store' });
  res.end();
}

function silenceFailure(error: unknown): never {
  if (error instanceof SilenceError) throw new V2Error(error.kind === 'not_found' ? 404 : 400, error.message);
  throw error;
}

/**
 * Mounts the API v2 routes on the admin server; every one needs the bearer token when
 * `http.auth_token` is set, reads included. Returns a function that removes them again.
 */
export function mountAlertmanagerApi(server: Pick<AdminServer, 'addRoute'>, api: AlertingApi, info: AlertmanagerApiInfo): () => void {
  const limit = info.bodyLimit ?? DEFAULT_BODY_LIMIT;
  // Reads too: alerts and the configuration are as sensitive as GET /events (amtool sends the token with --http.config.file).
  const add = (method: string, path: string, handler: RouteHandler): (() => void) => server.addRoute(method, path, handler, { auth: true });
  const removers = [
    add(
      'POST',
      '/api/v2/alerts',
      v2(async (req, res) => {
        const parsed = postableAlertsSchema.safeParse(await jsonBody(req, limit));
        if (!parsed.success) throw new V2Error(400, `invalid alerts: ${describeIssues(parsed.error)}`);
        const { errors } = api.postAlerts(parsed.data);
        if (errors.length > 0) throw new V2Error(400, errors.map((e) => e.message).join('; '));
        sendOk(res);
      }),
    ),
    add(
      'GET',
      '/api/v2/alerts',
      v2((req, res) => sendJson(res, 200, listAlerts(api.alerts(), parseAlertQuery(queryOf(req))))),
    ),
    add(
      'GET',
      '/api/v2/alerts/groups',
      v2((req, res) => sendJson(res, 200, listAlertGroups(api.groups(), parseAlertQuery(queryOf(req))))),
    ),
    add(
      'POST',
      '/api/v2/silences',
      v2(async (req, res) => {
        const parsed = postableSilenceSchema.safeParse(await jsonBody(req, limit));
        if (!parsed.success) throw new V2Error(400, `invalid silence: ${describeIssues(parsed.error)}`);
        const input: PostableSilence = parsed.data;
        let id: string;
        try {
          ({ id } = api.setSilence(input));
        } catch (error) {
          silenceFailure(error);
        }
        sendJson(res, 200, { silenceID: id });
      }),
    ),
    add(
      'GET',
      '/api/v2/silences',
      v2((req, res) => sendJson(res, 200, api.silences({ filter: parseFilter(queryOf(req)) }).map(gettableSilence))),
    ),
    add(
      'GET',
      '/api/v2/silence/*',
      v2((req, res) => {
        const id = silenceId(req);
        const silence = api.silence(id);
        if (!silence) throw new V2Error(404, `silence ${id} not found`);
        sendJson(res, 200, gettableSilence(silence));
      }),
    ),
    add(
      'DELETE',
      '/api/v2/silence/*',
      v2((req, res) => {
        try {
          api.expireSilence(silenceId(req));
        } catch (error) {
          silenceFailure(error);
        }
        sendOk(res);
      }),
    ),
    add('GET', '/api/v2/status', (_req, res) =>
      sendJson(res, 200, {
        cluster: { ...(info.clusterName ? { name: info.clusterName } : {}), status: 'disabled', peers: [] },
        config: { original: api.configText },
        uptime: new Date(api.startedAt).toISOString(),
        versionInfo: { branch: '', buildDate: '', buildUser: '', goVersion: process.version, revision: '', version: info.version },
      }),
    ),
    add('GET', '/api/v2/receivers', (_req, res) =>
      sendJson(
        res,
        200,
        api.receivers().map((name) => ({ name })),
      ),
    ),
  ];
  return () => {
    for (const remove of removers) remove();
  };
}
