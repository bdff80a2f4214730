/**
 * Real peers for the health-probe tests: HTTP(S) and TCP servers on 127.0.0.1 that a test makes
 * healthy, failing, slow (a response held until the test releases it) or refused (certificates:
 * `selfSignedCert` from 'praxis-agent/testing').
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

export type Mode = 'ok' | 'fail' | 'hang' | 'endless';

/** An HTTP or HTTPS server whose behaviour the test switches. */
export class TestServer {
  mode: Mode = 'ok';
  status = 200;
  failStatus = 500;
  body = '{"status":"ok","checks":[{"name":"db","up":true}]}';
  /** Request headers of every request received. */
  readonly requests: http.IncomingHttpHeaders[] = [];
  /** Method, path and body of every request received (the body fills in as it arrives). */
  readonly received: { method: string; url: string; body: string }[] = [];
  /** Responses held by `hang` mode, oldest first; `aborted` is set when the client gave up. */
  readonly held: { res: http.ServerResponse; aborted: boolean }[] = [];
  url = '';
  private readonly server: http.Server;

  constructor(tls?: { key: Buffer; cert: Buffer }) {
    const handler: http.RequestListener = (req, res) => {
      this.requests.push(req.headers);
      const received = { method: req.method ?? '', url: req.url ?? '', body: '' };
      this.received.push(received);
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (received.body += chunk));
      if (this.mode === 'endless') {
        this.streamForever(res);
        return;
      }
      if (this.mode === 'hang') {
        const entry = { res, aborted: false };
        res.on('close', () => {
          if (!res.writableEnded) entry.aborted = true;
        });
        this.held.push(entry);
        return;
      }
      res.writeHead(this.mode === 'ok' ? this.status : this.failStatus, { 'content-type': 'application/json' });
      res.end(this.mode === 'ok' ? this.body : '{"status":"down"}');
    };
    this.server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as net.AddressInfo;
    this.url = `${this.server instanceof https.Server ? 'https' : 'http'}://127.0.0.1:${port}`;
    return this;
  }

  /** `endless` mode: bytes of body sent so far, and whether the client closed the connection. */
  readonly endless = { sent: 0, closedByClient: false };

  /** 200 with the current body, then filler forever (as fast as the client reads) until the client closes. */
  private streamForever(res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/plain' });
    const filler = Buffer.alloc(65_536, 'x');
    res.on('close', () => (this.endless.closedByClient = !res.writableEnded));
    const pump = (): void => {
      while (!res.destroyed) {
        const chunk = this.endless.sent === 0 ? Buffer.concat([Buffer.from(this.body), filler]) : filler;
        this.endless.sent += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
    };
    pump();
  }

  /** Answers every held request (200 with the current body). */
  release(): void {
    for (const { res } of this.held.splice(0)) {
      if (res.writableEnded || res.destroyed) continue;
      res.writeHead(this.status, { 'content-type': 'application/json' });
      res.end(this.body);
    }
  }

  async stop(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A TCP server that accepts and closes connections; `close()` makes its port refuse. */
export async function tcpServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A port on 127.0.0.1 nobody listens on (bound, then released). */
export async function refusedPort(): Promise<number> {
  const { port, close } = await tcpServer();
  await close();
  return port;
}


