import http from 'node:http';
import https from 'node:https';

/** TLS settings of an https request, already read from their files. */
export interface TlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
  rejectUnauthorized: boolean;
}

/** What the sink needs of an answer. */
export interface PostAnswer {
  status: number;
  retryAfter: string | undefined;
}

/** An answer body is read (so the connection can be reused) but never kept beyond this. */
const MAX_DRAINED_BYTES = 64 * 1024;

/**
 * One POST with node:http(s), not `fetch`: Node's fetch takes no CA, client certificate or server
 * name without the undici package. Rejects on a network error, a TLS failure or `signal`'s abort
 * (the error's `code` says which; its message may contain the URL, so callers must not show it).
 */
export function post(url: URL, body: string, headers: Record<string, string>, tls: TlsOptions, signal: AbortSignal): Promise<PostAnswer> {
  return new Promise<PostAnswer>((resolve, reject) => {
    const options: https.RequestOptions = {
      method: 'POST',
      headers: { ...headers, 'content-length': Buffer.byteLength(body) },
      signal,
      // A fresh connection per attempt: an attempt never inherits a connection a hung server holds.
      agent: false,
    };
    if (url.protocol === 'https:') Object.assign(options, tls);
    const request = (url.protocol === 'https:' ? https : http).request(url, options, (response) => {
      let drained = 0;
      response.on('data', (chunk: Buffer) => {
        drained += chunk.length;
        if (drained > MAX_DRAINED_BYTES) response.destroy();
      });
      const done = (): void => {
        const retryAfter = response.headers['retry-after'];
        resolve({ status: response.statusCode ?? 0, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter });
      };
      response.on('end', done);
      response.on('close', done); // destroyed after MAX_DRAINED_BYTES: the status is what matters
      response.on('error', () => done());
    });
    request.on('error', reject);
    request.end(body);
  });
}
