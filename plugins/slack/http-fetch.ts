import { sinkRequest } from 'praxis-agent';

/**
 * The slice of `fetch` that @slack/webhook 8 calls (its `fetch` option), over the SDK's
 * `sinkRequest`. Why not the global fetch: it cannot trust a CA per sink (`tls.ca_file`) without
 * the undici package, and Node's fetch puts the URL into some of its error messages (`Failed to
 * parse URL from ...`), while here the URL (the secret) goes nowhere but the request.
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
  return async (url, init = {}) => {
    const target = new URL(String(url));
    const answer = await sinkRequest(target, {
      method: init.method ?? 'GET',
      ...(init.headers && { headers: init.headers }),
      body: typeof init.body === 'string' ? init.body : '',
      ...(init.signal && { signal: init.signal }),
      ...(options.ca && { tls: { ca: options.ca } }),
      maxBodyBytes: MAX_RESPONSE_BYTES,
    });
    const headers = Object.entries(answer.headers);
    return {
      ok: answer.status >= 200 && answer.status < 300,
      status: answer.status,
      statusText: answer.statusText,
      url: target.href,
      headers: { get: (name) => answer.headers[name.toLowerCase()] ?? null, entries: () => headers },
      text: () => Promise.resolve(answer.body),
      json: () => Promise.resolve().then(() => JSON.parse(answer.body) as unknown),
      arrayBuffer: () => Promise.resolve(new TextEncoder().encode(answer.body).buffer as ArrayBuffer),
    };
  };
}
