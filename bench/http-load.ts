/**
 * The HTTP load of the ingest scenarios: keep-alive connections on raw TCP sockets, each sending
 * one pre-built `POST /events` request at a time and reading the response's status line and
 * Content-Length (both servers answer with one). Node's http client costs more CPU per request
 * than the bare server it would measure: on 2 cores the client would bound the baseline, and the
 * ratio would flatter the agent. The load runs in the runner process, outside the server measured.
 */
import net from 'node:net';

/** One pre-serialised request body and the number of events in it. */
export interface IngestBody {
  body: Buffer;
  events: number;
}

/** `count` system.error events (one object when count is 1, else an array), serialised once. */
export function systemErrors(count: number): IngestBody {
  const event = (i: number) => ({ type: 'system.error', data: { severity: 'error', message: `bench error ${i}`, component: 'bench' } });
  const value = count === 1 ? event(0) : Array.from({ length: count }, (_, i) => event(i));
  return { body: Buffer.from(JSON.stringify(value)), events: count };
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** One keep-alive connection; `post` sends one request and resolves with its status when the whole response is in. */
export class IngestConnection {
  private buffer: Buffer = Buffer.alloc(0);
  private waiting?: { resolve: (status: number) => void; reject: (error: Error) => void };
  private failure?: Error;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
      this.parse();
    });
    const fail = (error: Error) => {
      this.failure = error;
      this.waiting?.reject(error);
      this.waiting = undefined;
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('the server closed the connection')));
  }

  static open(port: number): Promise<IngestConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve(new IngestConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  /** The bytes of a `POST /events` request carrying `body`. */
  static request(body: IngestBody): Buffer {
    const head = `POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.body.length}\r\nConnection: keep-alive\r\n\r\n`;
    return Buffer.concat([Buffer.from(head), body.body]);
  }

  post(request: Buffer): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(request);
    });
  }

  private parse(): void {
    const end = this.buffer.indexOf(HEADER_END);
    if (end < 0 || !this.waiting) return;
    const head = this.buffer.subarray(0, end).toString('latin1');
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length) {
      this.waiting.reject(new Error(`response without Content-Length: ${head.split('\r\n')[0]}`));
      this.waiting = undefined;
      return;
    }
    const total = end + HEADER_END.length + Number(length[1]);
    if (this.buffer.length < total) return;
    const status = Number(head.slice(9, 12));
    this.buffer = this.buffer.subarray(total);
    const { resolve } = this.waiting;
    this.waiting = undefined;
    resolve(status);
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface LoadResult {
  /** Events accepted per second (202 responses × events per request). */
  eventsPerSecond: number;
  requests: number;
  /** Events accepted in all, the warm-up included. */
  accepted: number;
  /** Milliseconds per request. */
  latencies: number[];
  /** Requests were still unanswered after the grace period (closedLoop), and were given up. */
  gaveUp?: boolean;
}

function check(status: number): void {
  if (status !== 202) throw new Error(`POST /events answered ${status}, expected 202`);
}

/**
 * `connections.length` clients, each posting `body` back to back (one request in flight per
 * connection) for `ms` after a warm-up of `warmUpMs`: events accepted per second, counting the
 * responses that arrive between the end of the warm-up and the last one. Requests still unanswered
 * `graceMs` after the window are given up (their connections destroyed): a server that stalls shows
 * as few (or no) events per second, not as a run that never ends.
 */
export async function closedLoop(connections: readonly IngestConnection[], body: IngestBody, ms: number, warmUpMs = 100, graceMs = 3_000): Promise<LoadResult> {
  const request = IngestConnection.request(body);
  const warmUpUntil = performance.now() + warmUpMs;
  const end = warmUpUntil + ms;
  let requests = 0;
  const latencies: number[] = [];
  let lastEnd = warmUpUntil;
  let gaveUp = false;
  let accepted = 0;
  const loops = Promise.all(
    connections.map(async (connection) => {
      for (;;) {
        const start = performance.now();
        if (start >= end) return;
        const status = await connection.post(request);
        if (gaveUp) return;
        check(status);
        accepted += body.events;
        const done = performance.now();
        if (done >= warmUpUntil) {
          lastEnd = done;
          requests++;
          latencies.push(done - start);
        }
      }
    }),
  );
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), end + graceMs - performance.now());
  });
  try {
    gaveUp = await Promise.race([loops.then(() => false), expired]);
  } finally {
    clearTimeout(timer);
  }
  if (gaveUp) {
    loops.catch(() => undefined);
    for (const c of connections) c.close();
  }
  // Given up: the time since the last answer counts too (nothing was accepted in it).
  const seconds = ((gaveUp ? performance.now() : lastEnd) - warmUpUntil) / 1000;
  return { eventsPerSecond: (requests * body.events) / seconds, requests, accepted, latencies, gaveUp };
}

/**
 * Posts `body` `rate` times per second for `ms` on a schedule that does not wait for answers
 * (an open loop: a stalled server shows as latency, not as fewer requests), each on a free
 * connection of the pool (a new one is opened when all are busy). Latency is from the scheduled
 * send time, so a request delayed by a busy pool counts its wait.
 */
export async function openLoop(port: number, pool: IngestConnection[], body: IngestBody, rate: number, ms: number): Promise<LoadResult> {
  const request = IngestConnection.request(body);
  const free = [...pool];
  const latencies: number[] = [];
  const inFlight: Promise<void>[] = [];
  const start = performance.now();
  const total = Math.max(1, Math.round((rate * ms) / 1000));
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push(
      (async () => {
        let connection = free.pop();
        if (!connection) {
          connection = await IngestConnection.open(port);
          pool.push(connection);
        }
        check(await connection.post(request));
        latencies.push(performance.now() - due);
        free.push(connection);
      })(),
    );
  }
  await Promise.all(inFlight);
  return { eventsPerSecond: ((total * body.events) / (performance.now() - start)) * 1000, requests: total, accepted: total * body.events, latencies };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}
