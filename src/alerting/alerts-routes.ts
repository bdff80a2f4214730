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
 * Mounts `GET /alerts` and `POST /alerts/{fingerprint}/ack`; both need the bearer token when
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
    add('POST', '/alerts/*', async (req, res) => {
      const path = (req.url ?? '/').split('?', 1)[0] as string;
      const match = /^\/alerts\/([^/]+)\/ack$/.exec(path);
      if (!match) throw new HttpError(404, 'HTTP_NOT_FOUND', `no endpoint ${path} (acknowledge with POST /alerts/{fingerprint}/ack)`);
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
