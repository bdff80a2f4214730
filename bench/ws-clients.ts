/**
 * The WebSocket clients of the fan-out and latency benchmarks, in their own process (forked by
 * bench/scenarios/websocket.ts) so that their cost never lands on the server being measured, and
 * is the same for the agent and the baseline. Every client counts the messages it receives; the
 * first `sampled` clients also read each event's `sent_at` (epoch ms, stamped by the publisher)
 * to record publish → receive latency. Commands arrive over IPC.
 *
 * Clients may be named as a `group` (counted apart in the snapshot) and be `slow`: a slow client
 * pauses its socket (reads nothing) for SLOW_PAUSE_MS out of every SLOW_PERIOD_MS, so the server
 * sees a reader that keeps up with a trickle but not with a burst.
 */
import WebSocket from 'ws';

export type ClientCommand =
  | { cmd: 'connect'; url: string; count: number; sampled: number; group?: string; slow?: boolean }
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
  /** The same counts per group (clients connected without a group are in `default`), with the close codes seen. */
  groups: Record<string, GroupSnapshot>;
}

export interface GroupSnapshot {
  clients: number;
  received: number;
  min_received: number;
  open: number;
  /** Close code → clients closed with it (1013: the server dropped a slow consumer). */
  closes: Record<string, number>;
}

/** A slow client reads nothing for SLOW_PAUSE_MS of every SLOW_PERIOD_MS. */
export const SLOW_PERIOD_MS = 250;
export const SLOW_PAUSE_MS = 200;

const SENT_AT = /"sent_at":([0-9.]+)/;
const sockets: WebSocket[] = [];
const counts: number[] = [];
const groupOf: string[] = [];
const closes = new Map<string, Record<string, number>>();
const slow: WebSocket[] = [];
let latencies: number[] = [];
let slowTimer: NodeJS.Timeout | undefined;

const now = () => performance.timeOrigin + performance.now();

/** Pauses every slow client, resumes them SLOW_PAUSE_MS later, every SLOW_PERIOD_MS. */
function startSlowReaders(): void {
  if (slowTimer) return;
  slowTimer = setInterval(() => {
    for (const ws of slow) if (ws.readyState === WebSocket.OPEN) ws.pause();
    setTimeout(() => {
      for (const ws of slow) if (ws.readyState === WebSocket.OPEN) ws.resume();
    }, SLOW_PAUSE_MS);
  }, SLOW_PERIOD_MS);
}

function connect(url: string, count: number, sampled: number, group = 'default', isSlow = false): Promise<void> {
  const opened: Promise<void>[] = [];
  if (!closes.has(group)) closes.set(group, {});
  for (let i = 0; i < count; i++) {
    const ws = new WebSocket(url);
    const index = sockets.push(ws) - 1;
    counts.push(0);
    groupOf.push(group);
    if (isSlow) slow.push(ws);
    ws.on('close', (code: number) => {
      const seen = closes.get(group)!;
      seen[code] = (seen[code] ?? 0) + 1;
    });
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
  return Promise.all(opened).then(() => {
    if (isSlow) startSlowReaders();
  });
}

function snapshot(): ClientSnapshot {
  let received = 0;
  let min = Infinity;
  const groups: Record<string, GroupSnapshot> = {};
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    received += c;
    if (c < min) min = c;
    const name = groupOf[i]!;
    const g = (groups[name] ??= { clients: 0, received: 0, min_received: Infinity, open: 0, closes: closes.get(name) ?? {} });
    g.clients++;
    g.received += c;
    g.min_received = Math.min(g.min_received, c);
    if (sockets[i]!.readyState === WebSocket.OPEN) g.open++;
  }
  const open = Object.values(groups).reduce((n, g) => n + g.open, 0);
  const result = { received, min_received: min === Infinity ? 0 : min, open, latencies, groups };
  latencies = [];
  return result;
}

process.on('message', (message: ClientCommand) => {
  const reply = (value: unknown) => process.send?.(value);
  if (message.cmd === 'connect') {
    connect(message.url, message.count, message.sampled, message.group, message.slow).then(
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
