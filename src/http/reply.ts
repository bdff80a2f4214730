import type { ServerResponse } from 'node:http';
import { AgentError, type ErrorCode } from '../core/errors';

/**
 * An error that maps to one HTTP response. Route handlers (built-in or added by plugins) throw it;
 * the server turns it into `{ error: { code, message, ...details } }` with the given status.
 */
export class HttpError extends AgentError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
    details?: Record<string, unknown>,
    /** Extra response headers, e.g. `WWW-Authenticate` or `Allow`. */
    readonly headers: Record<string, string> = {},
  ) {
    super(code, message, details);
    this.name = 'HttpError';
  }
}

/** Sends `body` as JSON. Bodies are small (status, stats, ingest results), so one write suffices. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
  });
  res.end(payload);
}

/** Sends the uniform error body `{ error: { code, message, ...details } }`. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: ErrorCode,
  message: string,
  details: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error: { ...details, code, message } }, headers);
}
