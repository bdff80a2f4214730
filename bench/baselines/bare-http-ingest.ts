/**
 * The ingest baseline of issue 12: a bare `node:http` server on 127.0.0.1, port 0, that takes
 * `POST /events` the way the agent does (a JSON event or array of events), parses the body and
 * answers 202 with the agent's response shape, a fresh UUID per event. No validation, no bus: the
 * least an HTTP ingest can do. Prints `listening <port>`; exits on SIGTERM.
 * Run from the compiled tree: `node dist/bench/baselines/bare-http-ingest.js`.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let value: unknown;
    try {
      value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400).end();
      return;
    }
    const events = Array.isArray(value) ? value : [value];
    const body = JSON.stringify({ accepted: events.map((_, index) => ({ index, event_id: randomUUID() })), rejected: [] });
    res.writeHead(202, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) }).end(body);
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`));
process.on('SIGTERM', () => process.exit(0));
