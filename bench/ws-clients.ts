/**
 * The WebSocket clients of the fan-out and latency benchmarks, in their own process (forked by
 * bench/scenarios/websocket.ts) so that their cost never lands on the server being measured, and
 * is the same for the agent and the baseline. Every client counts the messages it receives; the
 * first `sampled` clients also read each event's `sent_at` (epoch ms, stamped by the publisher)
 * to record publish → receive latency. Commands arrive over IPC.
 */
import WebSocket from 'ws';

export type ClientCommand =
  | { cmd: 'connect'; url: string; count: number; sampled: number }
  | { cmd: 'snapshot' }
  | { cmd: 'close' };

export interface ClientSnapshot {
  /** Messages received by all clients since connecting. */
  received: number;
  /** Fewest messages any client received. */
  min_received: number;
  /** Clients still open. */
  open: number;
  /** Latencies (ms) recorded since the previous snapshot. */
  latencies: number[];
}

const SENT_AT = /"sent_at":([0-9.]+)/;
const sockets: WebSocket[] = [];
const counts: number[] = [];
let latencies: number[] = [];

const now = () => performance.timeOrigin + performance.now();

function connect(url: string, count: number, sampled: number): Promise<void> {
  const opened: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const ws = new WebSocket(url);
    const index = sockets.push(ws) - 1;
    counts.push(0);
    const sample = i < sampled;
    ws.on('message', (data: Buffer) => {
      counts[index]!++;
      if (sample) {
        const match = SENT_AT.exec(data.toString('latin1'));
        if (match) latencies.push(now() - Number(match[1]));
      }
    });
    opened.push(
      new Promise((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      }),
    );
  }
  return Promise.all(opened).then(() => undefined);
}

function snapshot(): ClientSnapshot {
  let received = 0;
  let min = Infinity;
  for (const c of counts) {
    received += c;
    if (c < min) min = c;
  }
  const result = { received, min_received: min === Infinity ? 0 : min, open: sockets.filter((s) => s.readyState === WebSocket.OPEN).length, latencies };
  latencies = [];
  return result;
}

process.on('message', (message: ClientCommand) => {
  const reply = (value: unknown) => process.send?.(value);
  if (message.cmd === 'connect') {
    connect(message.url, message.count, message.sampled).then(
      () => reply({ ok: true }),
      (error: unknown) => reply({ ok: false, error: String(error) }),
    );
  } else if (message.cmd === 'snapshot') {
    reply(snapshot());
  } else {
    for (const ws of sockets) ws.terminate();
    process.exit(0);
  }
});
