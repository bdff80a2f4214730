import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import type { Clock } from '../core/clock';
import { isAgentError } from '../core/errors';
import type { AdminServer } from '../http/admin-server';
import type { RouteHandler } from '../plugin/http-routes';
import { readBody } from '../http/body';
import { HttpError, sendJson } from '../http/reply';
import type { AcknowledgementInput, AlertingApi, AlertView } from './alerting-api';
import type { AlertState } from './alerts';
import { parsePrometheusDuration } from './duration';
import type { DeliveryState, OutboxRow } from './outbox-store';
import { redactText } from '../core/redact';

/**
 * The agent's own alert routes, beside Alertmanager's API v2: `GET /alerts` lists every alert the
 * engine knows (pending ones too, which Alertmanager's API does not show) with what the engine
 * decided about it, and `POST /alerts/{fingerprint}/ack` acknowledges a firing alert. Errors come
 * in the agent's usual body `{ error: { code, message } }`.
 */

/** An alert as `GET /alerts` shows it: {@link AlertView} with the alert's times as RFC 3339. */
export interface AlertJson extends Omit<AlertView, 'alert'> {
  alert: Omit<AlertView['alert'], 'startsAt' | 'endsAt' | 'updatedAt'> & { startsAt: string; endsAt?: string; updatedAt: string };
}

const STATES: readonly AlertState[] = ['pending', 'firing', 'resolved'];
const DEFAULT_BODY_LIMIT = 1_048_576;

/** The body of `POST /alerts/{fingerprint}/ack`. */
const ackSchema = z
  .strictObject({
    by: z.string().trim().min(1, 'who acknowledges: a non-empty string'),
    comment: z.string().optional(),
    expires_at: z.iso.datetime({ offset: true, error: 'an RFC 3339 time, e.g. 2026-01-02T15:04:05Z' }).optional(),
    duration: z.string().optional(),
  })
  .refine((body) => body.expires_at === undefined || body.duration === undefined, { message: 'give expires_at or duration, not both', path: ['duration'] });

const DELIVERY_STATES: readonly DeliveryState[] = ['pending', 'dead', 'delivered'];

const testSchema = z.strictObject({ receiver: z.string().min(1), wait: z.string().optional() });

/** A delivery as `GET /alerts/deliveries` shows it: times as RFC 3339, the notification summarised. */
export function deliveryJson(row: OutboxRow): Record<string, unknown> {
  const iso = (ms: number): string => new Date(ms).toISOString();
  return {
    id: row.id,
    notification_id: row.notificationId,
    receiver: row.receiver,
    sink: row.sink,
    state: row.state,
    attempts: row.attempts,
    created_at: iso(row.createdAt),
    ...(row.state === 'pending' && { next_attempt_at: iso(row.nextAt) }),
    updated_at: iso(row.updatedAt),
    ...(row.lastReason !== undefined && { last_reason: redactText(row.lastReason) }),
    group: row.notification.groupKey,
    status: row.notification.status,
    reason: row.notification.reason,
    alerts: row.notification.alerts.map((a) => ({ alertname: a.labels.alertname ?? '', status: a.status, fingerprint: a.fingerprint })),
  };
}

/** An alert with its times as RFC 3339. */
export function alertJson(view: AlertView): AlertJson {
  const { startsAt, endsAt, updatedAt, ...rest } = view.alert;
  const alert = { ...rest, startsAt: new Date(startsAt).toISOString(), updatedAt: new Date(updatedAt).toISOString(), ...(endsAt === undefined ? {} : { endsAt: new Date(endsAt).toISOString() }) };
  return { ...view, alert };
}

/**
 * The states asked for by `?state=` (repeatable, or comma-separated); undefined when none is given.
 * @throws HttpError 400 ALERT_BAD_QUERY naming an unknown state.
 */
export function parseStates(params: URLSearchParams): AlertState[] | undefined {
  const values = params.getAll('state').flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  if (values.length === 0) return undefined;
  const unknown = values.find((v) => !(STATES as readonly string[]).includes(v));
  if (unknown !== undefined) throw new HttpError(400, 'ALERT_BAD_QUERY', `state: unknown alert state "${unknown}" (use ${STATES.join(', ')})`, { state: unknown });
  return values as AlertState[];
}

/** Order of `GET /alerts`: firing, pending, resolved; then oldest first. */
function listOrder(a: AlertView, b: AlertView): number {
  const rank: Record<AlertState, number> = { firing: 0, pending: 1, resolved: 2 };
  return rank[a.alert.state] - rank[b.alert.state] || a.alert.startsAt - b.alert.startsAt || (a.alert.fingerprint < b.alert.fingerprint ? -1 : 1);
}

/**
 * What an ack body asks for, with `duration` turned into `expiresAt` from `now`.
 * @throws HttpError 400 ALERT_INVALID naming the field that is wrong.
 */
export function parseAck(body: unknown, now: number): AcknowledgementInput {
  const parsed = ackSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.length > 0 ? issue.path.join('.') : 'body';
    throw new HttpError(400, 'ALERT_INVALID', `acknowledgement ${where}: ${issue.message} (expected {"by": "...", "comment"?: "...", "expires_at"?: RFC 3339 | "duration"?: "2h"})`, { field: where });
  }
  const { by, comment, expires_at: expiresAt, duration } = parsed.data;
  const input: AcknowledgementInput = { by, ...(comment === undefined ? {} : { comment }) };
  if (expiresAt !== undefined) input.expiresAt = new Date(Date.parse(expiresAt)).toISOString();
  if (duration !== undefined) {
    const ms = parsePrometheusDuration(duration);
    if (ms === undefined || ms === 0) throw new HttpError(400, 'ALERT_INVALID', `acknowledgement duration: not a positive duration: "${duration}" (e.g. 30m, 2h, 1d)`, { field: 'duration' });
    input.expiresAt = new Date(now + ms).toISOString();
  }
  return input;
}

async function jsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/json\s*(;|$)/i.test(type)) throw new HttpError(415, 'HTTP_UNSUPPORTED_MEDIA_TYPE', `unsupported media type ${JSON.stringify(type)}: send application/json`);
  const body = await readBody(req, limit);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new HttpError(400, 'ALERT_INVALID', `acknowledgement body is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * Mounts `GET /alerts`, `POST /alerts/{fingerprint}/ack`, `GET /alerts/deliveries`,
 * `POST /alerts/deliveries/{id}/retry` and `POST /alerts/test`; all need the bearer token when
 * `http.auth_token` is set. Returns a function that removes them again.
 */
export function mountAlertRoutes(server: Pick<AdminServer, 'addRoute'>, api: AlertingApi, options: { clock: Clock; bodyLimit?: number }): () => void {
  const limit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  // Reads too: alerts and the configuration are as sensitive as GET /events (amtool sends the token with --http.config.file).
  const add = (method: string, path: string, handler: RouteHandler): (() => void) => server.addRoute(method, path, handler, { auth: true });
  const removers = [
    add('GET', '/alerts', (req, res) => {
      const states = parseStates(new URL(req.url ?? '/', 'http://agent').searchParams);
      const alerts = api
        .alerts()
        .filter((view) => !states || states.includes(view.alert.state))
        .sort(listOrder)
        .map(alertJson);
      sendJson(res, 200, { alerts });
    }),
    add('GET', '/alerts/deliveries', (req, res) => {
      const params = new URL(req.url ?? '/', 'http://agent').searchParams;
      const states = params.getAll('state').flatMap((v) => v.split(',')).filter((v) => v !== '');
      const unknown = states.find((v) => !(DELIVERY_STATES as readonly string[]).includes(v));
      if (unknown !== undefined) throw new HttpError(400, 'ALERT_BAD_QUERY', `state: unknown delivery state "${unknown}" (use ${DELIVERY_STATES.join(', ')})`, { state: unknown });
      const wanted = (states.length > 0 ? states : ['pending', 'dead']) as DeliveryState[];
      sendJson(res, 200, { deliveries: wanted.flatMap((state) => api.deliveries(state, 1000)).sort((a, b) => a.id - b.id).map(deliveryJson) });
    }),
    add('POST', '/alerts/test', async (req, res) => {
      const body = testSchema.safeParse(await jsonBody(req, limit));
      if (!body.success) throw new HttpError(400, 'ALERT_INVALID', `test: ${body.error.issues[0].path.join('.') || 'body'}: ${body.error.issues[0].message} (expected {"receiver": "NAME", "wait"?: "30s"})`);
      const waitMs = body.data.wait === undefined ? 30_000 : parsePrometheusDuration(body.data.wait);
      if (waitMs === undefined) throw new HttpError(400, 'ALERT_INVALID', `test: wait: not a duration: "${body.data.wait}" (e.g. 10s, 1m)`);
      try {
        sendJson(res, 200, { receiver: body.data.receiver, results: await api.sendTest(body.data.receiver, Math.min(waitMs, 300_000)) });
      } catch (error) {
        if (isAgentError(error) && error.code === 'RECEIVER_NOT_FOUND') throw new HttpError(404, 'RECEIVER_NOT_FOUND', error.message, { receiver: body.data.receiver });
        throw error;
      }
    }),
    add('POST', '/alerts/*', async (req, res) => {
      const path = (req.url ?? '/').split('?', 1)[0] as string;
      const retry = /^\/alerts\/deliveries\/(\d+)\/retry$/.exec(path);
      if (retry) {
        req.resume();
        try {
          sendJson(res, 200, deliveryJson(api.retryDelivery(Number(retry[1]))));
        } catch (error) {
          if (isAgentError(error) && error.code === 'DELIVERY_NOT_FOUND') throw new HttpError(404, 'DELIVERY_NOT_FOUND', error.message, { id: Number(retry[1]) });
          if (isAgentError(error) && error.code === 'DELIVERY_NOT_DEAD') throw new HttpError(409, 'DELIVERY_NOT_DEAD', error.message, { id: Number(retry[1]) });
          throw error;
        }
        return;
      }
      const match = /^\/alerts\/([^/]+)\/ack$/.exec(path);
      if (!match) throw new HttpError(404, 'HTTP_NOT_FOUND', `no endpoint ${path} (POST /alerts/{fingerprint}/ack, /alerts/deliveries/{id}/retry or /alerts/test)`);
      const fingerprint = decodeURIComponent(match[1]);
      const input = parseAck(await jsonBody(req, limit), options.clock.now());
      let view: AlertView;
      try {
        view = api.acknowledge(fingerprint, input);
      } catch (error) {
        if (isAgentError(error) && error.code === 'ALERT_NOT_FOUND') throw new HttpError(404, 'ALERT_NOT_FOUND', error.message, { fingerprint });
        if (isAgentError(error) && error.code === 'ALERT_INVALID') throw new HttpError(400, 'ALERT_INVALID', error.message, { fingerprint });
        throw error;
      }
      sendJson(res, 200, alertJson(view));
    }),
  ];
  return () => {
    for (const remove of removers) remove();
  };
}
