import http from 'node:http';
import https from 'node:https';

/**
 * The slice of `fetch` that @slack/webhook 8 calls (its `fetch` option), over node:http(s). Why not
 * the global fetch: it cannot trust a CA per sink (`tls.ca_file`) without the undici package, and
 * Node's fetch puts the URL into some of its error messages (`Failed to parse URL from ...`), while
 * here the URL (the secret) goes nowhere but the request.
 */
export interface SlackFetchResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  readonly url: string;
  readonly headers: { get(name: string): string | null; entries(): Iterable<[string, string]> };
  arrayBuffer(): Promise<ArrayBuffer>;
  json(): Promise<unknown>;
  text(): Promise<string>;
}

export interface SlackFetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | FormData;
  signal?: AbortSignal;
}

/** Slack answers `ok` or a short error code; anything longer is cut here, not buffered. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

export function nodeFetch(options: { ca?: Buffer }): (url: string | URL, init?: SlackFetchInit) => Promise<SlackFetchResponse> {
  return (url, init = {}) =>
    new Promise((resolve, reject) => {
      const target = new URL(String(url));
      const body = typeof init.body === 'string' ? init.body : '';
      const transport = target.protocol === 'https:' ? https : http;
      const request = transport.request(target, {
        method: init.method ?? 'GET',
        headers: { ...init.headers, 'content-length': String(Buffer.byteLength(body)) },
        ...(init.signal && { signal: init.signal }),
        ...(options.ca && { ca: options.ca }),
        // One request per second at most: nothing to gain from keeping sockets, and none left open at stop.
        agent: false,
      });
      request.on('error', reject);
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const done = (): void => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = response.statusCode ?? 0;
          const headers = Object.entries(response.headers).map(([k, v]): [string, string] => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]);
          resolve({
            ok: status >= 200 && status < 300,
            status,
            statusText: response.statusMessage ?? '',
            url: target.href,
            headers: { get: (name) => headers.find(([k]) => k === name.toLowerCase())?.[1] ?? null, entries: () => headers },
            text: () => Promise.resolve(text),
            json: () => Promise.resolve().then(() => JSON.parse(text) as unknown),
            arrayBuffer: () => Promise.resolve(new TextEncoder().encode(text).buffer as ArrayBuffer),
          });
        };
        response.on('data', (chunk: Buffer) => {
          if (size >= MAX_RESPONSE_BYTES) return;
          chunks.push(chunk.subarray(0, MAX_RESPONSE_BYTES - size));
          size += chunk.length;
          if (size >= MAX_RESPONSE_BYTES) {
            response.destroy();
            done();
          }
        });
        response.on('end', () => {
          if (size < MAX_RESPONSE_BYTES) done();
        });
        response.on('error', reject);
        // A body cut off (peer gone, signal aborted) is an error, not a short answer; after done() this changes nothing.
        response.on('close', () => {
          if (!response.complete && size < MAX_RESPONSE_BYTES) reject(new Error('the connection closed before the response ended'));
        });
      });
      request.end(body);
    });
}
