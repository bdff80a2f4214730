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
 *
 * `raw` clients (bench/raw-ws-client.ts) read frames in place instead of through `ws`, at a
 * fraction of the CPU; every client, raw or not, checks that each event's offset is the previous
 * one + 1 (`out_of_order` counts the frames that were not).
 */
import WebSocket from 'ws';
import { isEvent, RawWsClient, tailId } from './raw-ws-client';

export type ClientCommand =
  | { cmd: 'connect'; url: string; count: number; sampled: number; group?: string; slow?: boolean; raw?: boolean }
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
  /** When each client that closed did (epoch ms), in close order. */
  closed_at: number[];
  /** Event frames, summed over the clients, whose offset was not the previous one's + 1 (a gap or a reordering). */
  out_of_order: number;
}

/** What the process needs of a client, `ws` or raw. */
interface Client {
  readonly open: boolean;
  pause(): void;
  resume(): void;
  terminate(): void;
}

/** A slow client reads nothing for SLOW_PAUSE_MS of every SLOW_PERIOD_MS. */
export const SLOW_PERIOD_MS = 250;
export const SLOW_PAUSE_MS = 200;

const SENT_AT = /"sent_at":([0-9.]+)/;
const clients: Client[] = [];
const counts: number[] = [];
const disorder: number[] = [];
const groupOf: string[] = [];
const closes = new Map<string, Record<string, number>>();
const closedAt = new Map<string, number[]>();
const slow: Client[] = [];
let latencies: number[] = [];
let slowTimer: NodeJS.Timeout | undefined;

const now = () => performance.timeOrigin + performance.now();

/** Pauses every slow client, resumes them SLOW_PAUSE_MS later, every SLOW_PERIOD_MS. */
function startSlowReaders(): void {
  if (slowTimer) return;
  slowTimer = setInterval(() => {
    for (const c of slow) if (c.open) c.pause();
    setTimeout(() => {
      for (const c of slow) if (c.open) c.resume();
    }, SLOW_PAUSE_MS);
  }, SLOW_PERIOD_MS);
}

/** A `ws` client: every message parsed into its own Buffer (as an application would get it). */
function wsClient(url: string, index: number, sample: boolean, onClose: (code: number) => void, onOpen: (error?: Error) => void): Client {
  const ws = new WebSocket(url);
  let last = 0;
  ws.on('close', onClose);
  ws.on('message', (data: Buffer) => {
    counts[index]!++;
    if (!isEvent(data, 0, data.length)) return;
    const id = tailId(data, 0, data.length);
    if (last !== 0 && id !== last + 1) disorder[index]!++;
    last = id;
    if (sample) {
      const match = SENT_AT.exec(data.toString('latin1'));
      if (match) latencies.push(now() - Number(match[1]));
    }
  });
  ws.once('open', () => onOpen());
  ws.once('error', onOpen);
  return {
    get open() {
      return ws.readyState === WebSocket.OPEN;
    },
    pause: () => ws.pause(),
    resume: () => ws.resume(),
    terminate: () => ws.terminate(),
  };
}

/** A raw client (bench/raw-ws-client.ts): frames counted in place. */
function rawClient(url: string, index: number, sample: boolean, onClose: (code: number) => void, onOpen: (error?: Error) => void): Client {
  const client: RawWsClient = new RawWsClient(
    url,
    {
      onEvent(_id, data, start, end) {
        counts[index] = client.received;
        disorder[index] = client.outOfOrder;
        if (sample) {
          const match = SENT_AT.exec(data.toString('latin1', start, end));
          if (match) latencies.push(now() - Number(match[1]));
        }
      },
      onClose,
    },
    onOpen,
  );
  return client;
}

function connect(url: string, count: number, sampled: number, group = 'default', isSlow = false, raw = false): Promise<void> {
  const opened: Promise<void>[] = [];
  if (!closes.has(group)) closes.set(group, {});
  if (!closedAt.has(group)) closedAt.set(group, []);
  for (let i = 0; i < count; i++) {
    const index = counts.push(0) - 1;
    disorder.push(0);
    groupOf.push(group);
    const onClose = (code: number) => {
      const seen = closes.get(group)!;
      seen[code] = (seen[code] ?? 0) + 1;
      closedAt.get(group)!.push(now());
    };
    opened.push(
      new Promise((resolve, reject) => {
        const client = (raw ? rawClient : wsClient)(url, index, i < sampled, onClose, (error) => (error ? reject(error) : resolve()));
        clients.push(client);
        if (isSlow) slow.push(client);
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
    const g = (groups[name] ??= { clients: 0, received: 0, min_received: Infinity, open: 0, closes: closes.get(name) ?? {}, closed_at: closedAt.get(name) ?? [], out_of_order: 0 });
    g.clients++;
    g.received += c;
    g.min_received = Math.min(g.min_received, c);
    g.out_of_order += disorder[i]!;
    if (clients[i]!.open) g.open++;
  }
  const open = Object.values(groups).reduce((n, g) => n + g.open, 0);
  const result = { received, min_received: min === Infinity ? 0 : min, open, latencies, groups };
  latencies = [];
  return result;
}

process.on('message', (message: ClientCommand) => {
  const reply = (value: unknown) => process.send?.(value);
  if (message.cmd === 'connect') {
    connect(message.url, message.count, message.sampled, message.group, message.slow, message.raw).then(
      () => reply({ ok: true }),
      (error: unknown) => reply({ ok: false, error: String(error) }),
    );
  } else if (message.cmd === 'snapshot') {
    reply(snapshot());
  } else {
    for (const c of clients) c.terminate();
    process.exit(0);
  }
});
