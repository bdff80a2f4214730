import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

/** One request the fake Slack received. */
export interface Recorded {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type Answer = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

/**
 * A real HTTP(S) server on 127.0.0.1 standing in for hooks.slack.com: it records every request
 * and answers with `answer` (200 `ok` by default; set it to answer 500, 429 with Retry-After, 400,
 * or never). `close()` also cuts the connections of requests it left hanging.
 */
export class FakeSlack {
  readonly requests: Recorded[] = [];
  answer: Answer = (_req, res) => void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  private readonly sockets = new Set<Socket>();
  private server?: http.Server;

  /** Resolves with each request as it arrives (after its body is read). */
  private waiters: Array<() => void> = [];

  async listen(tls?: { key: Buffer; cert: Buffer }): Promise<string> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        this.requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
        for (const w of this.waiters.splice(0)) w();
        this.answer(req, res, body);
      });
    };
    this.server = tls ? https.createServer(tls, handler) : http.createServer(handler);
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('secureConnection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  }

  /** Resolves once a request has arrived. */
  nextRequest(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The JSON body of request `i`. */
  payload(i = this.requests.length - 1): Record<string, unknown> {
    return JSON.parse(this.requests[i].body) as Record<string, unknown>;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

