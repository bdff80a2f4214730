/**
 * The footprint and WebSocket baseline of issue 6: a bare `node` process running a `ws` server on
 * 127.0.0.1, port 0. Prints `listening <ws port>` once it accepts connections; exits on SIGTERM.
 *
 * With `--fanout` it also takes events the way the agent does, as a JSON array POSTed to
 * `http://127.0.0.1:<http port>/events` (printed as `listening <ws port> <http port>`), and sends
 * each one, serialised once into one Buffer, to every connected client: the least a broadcaster
 * can do. The frame has the agent's shape and size (metadata, envelope), so clients work alike. Run from the compiled tree: `node dist/bench/baselines/bare-ws-server.js [--fanout]`.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

const fanout = process.argv.includes('--fanout');
const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
const clients = new Set<WebSocket>();
let offset = 0;
server.on('connection', (ws) => {
  clients.add(ws);
  ws.on('close', () => clients.delete(ws));
  ws.on('error', () => clients.delete(ws));
});

function ingest(req: http.IncomingMessage, res: http.ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let events: unknown[];
    try {
      events = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown[];
    } catch {
      res.writeHead(400).end();
      return;
    }
    for (const event of events as { type: string; data: Record<string, unknown> }[]) {
      // The same bytes the agent sends (defaults, metadata, message envelope), so that the clients
      // do the same work for both servers; serialised once, one Buffer shared by every client.
      const full = { type: event.type, data: { health_check_results: {}, ...event.data }, metadata: { event_id: randomUUID(), timestamp: new Date().toISOString(), source: 'ingest', tags: [] } };
      const frame = Buffer.from(`{"type":"eventStream","payload":${JSON.stringify(full)},"id":"${++offset}"}`);
      for (const ws of clients) ws.send(frame, { binary: false });
    }
    res.writeHead(202, { 'content-type': 'application/json' }).end(`{"accepted":${events.length}}`);
  });
}

server.on('listening', () => {
  const wsPort = (server.address() as AddressInfo).port;
  if (!fanout) {
    process.stdout.write(`listening ${wsPort}\n`);
    return;
  }
  const api = http.createServer(ingest);
  api.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${wsPort} ${(api.address() as AddressInfo).port}\n`));
});
process.on('SIGTERM', () => process.exit(0));
