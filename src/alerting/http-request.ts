import http from 'node:http';
import https from 'node:https';

/**
 * One HTTP request for sinks, over node:http(s) rather than `fetch`: Node's fetch takes no CA,
 * client certificate or server name per request without the undici package, and puts the URL (a
 * sink's secret, e.g. a Slack webhook) into some of its error messages. A fresh connection per
 * request (sinks send little, and an attempt must never inherit a connection a hung server holds);
 * the answer's body is read up to `maxBodyBytes` and the rest dropped. Rejects on a network error,
 * a TLS failure, a body cut off, or `signal`'s abort; the error's `code` says which, and its
 * message may contain the URL, so never show it as it is.
 */

/** TLS settings of an https request, already read from their files. */
export interface TlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
  rejectUnauthorized?: boolean;
}

/** How {@link sinkRequest} sends: method (default POST), headers, body, TLS, abort signal, body limit. */
export interface SinkRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  tls?: TlsOptions;
  signal?: AbortSignal;
  /** At most this much of the answer's body is kept (default 64 KiB). */
  maxBodyBytes?: number;
}

/** What {@link sinkRequest} answers: status, headers (lower-case names) and the body, bounded. */
export interface SinkResponse {
  status: number;
  statusText: string;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The body as text, cut at `maxBodyBytes`. */
  body: string;
}

const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

/** See the module comment. */
export function sinkRequest(url: URL, options: SinkRequest = {}): Promise<SinkResponse> {
  const max = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const body = options.body ?? '';
  return new Promise<SinkResponse>((resolve, reject) => {
    const https_ = url.protocol === 'https:';
    const request = (https_ ? https : http).request(url, {
      method: options.method ?? 'POST',
      headers: { ...options.headers, 'content-length': String(Buffer.byteLength(body)) },
      ...(options.signal && { signal: options.signal }),
      ...(https_ && options.tls),
      agent: false,
    });
    request.on('error', reject);
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const done = (): void => {
        if (settled) return;
        settled = true;
        const headers = Object.fromEntries(Object.entries(response.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
        resolve({ status: response.statusCode ?? 0, statusText: response.statusMessage ?? '', headers, body: Buffer.concat(chunks).toString('utf8') });
      };
      response.on('data', (chunk: Buffer) => {
        if (size < max) chunks.push(chunk.subarray(0, max - size));
        size += chunk.length;
        if (size >= max) {
          // Enough: the rest is not read (the connection is not reused anyway).
          done();
          response.destroy();
        }
      });
      response.on('end', done);
      response.on('error', (error) => {
        if (!settled) reject(error);
      });
      response.on('close', () => {
        if (!settled && !response.complete) {
          settled = true;
          reject(Object.assign(new Error('the connection closed before the response ended'), { code: 'ECONNRESET' }));
        }
      });
    });
    request.end(body);
  });
}
