import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpError } from './reply';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Checks `Authorization: Bearer <token>` in constant time. Both sides are hashed first so the
 * comparison does not leak the token's length either. Neither token is ever put in an error or log.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  const presented = match?.[1] ?? '';
  // Always compare, even without a header, so a missing header costs the same as a wrong one.
  const equal = timingSafeEqual(digest(presented), digest(token));
  return equal && match !== null;
}

/** Throws 401 unless the request carries the configured bearer token; a no-op when none is configured. */
export function requireBearer(req: IncomingMessage, token: string | undefined): void {
  if (token === undefined) return;
  if (bearerMatches(req.headers.authorization, token)) return;
  const message = req.headers.authorization === undefined
    ? 'missing bearer token: send "Authorization: Bearer <http.auth_token>"'
    : 'invalid bearer token';
  throw new HttpError(401, 'HTTP_UNAUTHORIZED', message, {}, { 'www-authenticate': 'Bearer realm="praxis-agent"' });
}
