/**
 * WebSocket fan-out and latency: the agent's websocket-broadcaster plugin against a bare `ws`
 * server that sends one pre-serialised Buffer per event to every client
 * (bench/baselines/bare-ws-server.ts --fanout). Three processes: the server under test, the
 * clients (bench/ws-clients.ts, forked) and this one, the publisher, which POSTs events as a JSON
 * array to the server's HTTP ingest (`POST /events` on both), so both do the same work per event.
 *
 * Per round both servers run side by side, each with its own clients process, and are measured in
 * alternating short windows (baseline, agent, baseline, ...):
 *   - fan-out: 500 clients filtered on `service.*`; the publisher keeps at most WINDOW events in
 *     flight per client (the slowest one) and publishes as fast as that allows; deliveries/s
 *     counted by the clients.
 *   - latency at half the baseline's saturation (its median deliveries/s of the round ÷ 500 ÷ 2,
 *     events/s), 500 clients; p99 of publish → receive measured on SAMPLED clients.
 *   - latency at 10k events/s with 5 clients (the 500 are closed first).
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Measurement, Scenario, ScenarioContext, ScenarioResult } from '../harness';
import { AGENT_READY, agentArgs, agentNodeArgs, benchAgentConfig, ROOT, sleep, spawnUntilReady, track, type Spawned } from '../process-probe';
import { percentile } from '../http-load';
import type { ClientCommand, ClientSnapshot } from '../ws-clients';

const PLUGIN = path.join(ROOT, 'dist', 'plugins', 'websocket-broadcaster', 'index.js');
const CLIENTS = 500;
const SAMPLED = 20;
/** Events in flight per client during the fan-out run (published but not yet received by the slowest client). */
const WINDOW = 100;
const BATCH = 20;
const FAST_RATE = 10_000;
const FEW_CLIENTS = 5;

export const agentConfig = (maxConnections: number): string =>
  benchAgentConfig(
    'bench-ws',
    `  - name: ws
    use: websocket-broadcaster
    config:
      port: 0
      max_connections: ${maxConnections}
      default_event_types: ["service.*"]
`,
  );

const now = () => performance.timeOrigin + performance.now();

export interface Server {
  wsUrl: string;
  ingestUrl: string;
  proc: Spawned;
}

interface Target {
  name: string;
  start(config: string): Promise<Server>;
}

/** The bare ws baseline (`--fanout`) and the agent with the config given to `start`. */
export const TARGETS: Target[] = [
  {
    name: 'baseline: bare ws',
    async start() {
      const proc = await spawnUntilReady([path.join(__dirname, '..', 'baselines', 'bare-ws-server.js'), '--fanout'], /^listening (\d+) (\d+)$/);
      return { proc, wsUrl: `ws://127.0.0.1:${proc.match[1]}`, ingestUrl: `http://127.0.0.1:${proc.match[2]}/events` };
    },
  },
  {
    name: 'agent',
    async start(config) {
      const proc = await spawnUntilReady(agentArgs(config, agentNodeArgs()), AGENT_READY);
      const ws = proc.lines.map((l) => /websocket broadcaster listening on (ws:\/\/[^\s"]+)/.exec(l)?.[1]).find(Boolean);
      if (!ws) {
        await proc.stop();
        throw new Error('the agent never said where the websocket broadcaster listens');
      }
      return { proc, wsUrl: ws, ingestUrl: `http://127.0.0.1:${proc.port}/events` };
    },
  },
];

/** The forked clients process (bench/ws-clients.ts), driven by one request/reply at a time over IPC. */
export class Clients {
  private readonly child: ChildProcess;
  private pending?: (value: unknown) => void;

  constructor() {
    const execArgv = (process.env.BENCH_CLIENTS_NODE_ARGS ?? '').split(' ').filter(Boolean);
    this.child = track(fork(path.join(__dirname, '..', 'ws-clients.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv }));
    this.child.on('message', (m) => {
      const resolve = this.pending;
      this.pending = undefined;
      resolve?.(m);
    });
  }

  private request<T>(command: ClientCommand): Promise<T> {
    return new Promise((resolve, reject) => {
      this.pending = resolve as (value: unknown) => void;
      this.child.send(command, (error) => error && reject(error));
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Opens `count` clients on `url`, the first `sampled` of them recording latency; `group`, `slow` and `raw` as in ws-clients.ts. */
  async connect(url: string, count: number, sampled: number, options: { group?: string; slow?: boolean; raw?: boolean } = {}): Promise<void> {
    const reply = await this.request<{ ok: boolean; error?: string }>({ cmd: 'connect', url, count, sampled, ...options });
    if (!reply.ok) throw new Error(`clients could not connect to ${url}: ${reply.error}`);
  }

  snapshot(): Promise<ClientSnapshot> {
    return this.request({ cmd: 'snapshot' });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.send({ cmd: 'close' });
    });
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let seq = 0;

/** POSTs `count` service.status events, each stamped with `sent_at`, and waits for 202. */
function publish(url: string, count: number): Promise<void> {
  const events = [];
  const sentAt = now();
  for (let i = 0; i < count; i++) events.push({ type: 'service.status', data: { service_name: 'checkout', status: 'healthy', metrics: { seq: seq++, sent_at: sentAt } } });
  const body = JSON.stringify(events);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 202 ? resolve() : reject(new Error(`POST ${url}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Publishes as fast as the slowest client keeps up (≤ WINDOW events in flight) for `ms`, after a warm-up; deliveries/s. */
async function saturate(server: Server, clients: Clients, count: number, ms: number): Promise<number> {
  const first = await clients.snapshot();
  const base = first.min_received;
  let published = 0;
  let start = 0;
  let startReceived = 0;
  const warmUpUntil = performance.now() + 200;
  const end = warmUpUntil + ms;
  for (;;) {
    const snap = await clients.snapshot();
    const t = performance.now();
    if (!start && t >= warmUpUntil) {
      start = t;
      startReceived = snap.received;
    }
    if (t >= end) {
      if (snap.open < count) throw new Error(`only ${snap.open} of ${count} clients still open`);
      // Let the backlog drain so the next window (maybe the other server's) starts from quiet.
      const drainUntil = performance.now() + 10_000;
      while ((await clients.snapshot()).min_received - base < published) {
        if (performance.now() > drainUntil) throw new Error(`clients still miss events 10 s after the window (${published} published)`);
        await sleep(5);
      }
      return ((snap.received - startReceived) / (t - start)) * 1000;
    }
    if (published - (snap.min_received - base) < WINDOW) {
      await publish(server.ingestUrl, BATCH);
      published += BATCH;
    } else {
      await sleep(1);
    }
  }
}

/** Publishes at `rate` events/s for `ms` (after a short warm-up); p50 and p99 publish → receive in ms. */
export async function latencyAt(server: Server, clients: Clients, rate: number, ms: number): Promise<{ p50: number; p99: number; achieved: number }> {
  const tick = 10;
  const warmUp = 300;
  const t0 = performance.now();
  let published = 0;
  let measuredFrom = 0;
  let measuredPublished = 0;
  for (;;) {
    const elapsed = performance.now() - t0;
    if (!measuredFrom && elapsed >= warmUp) {
      await clients.snapshot(); // drop warm-up latencies
      measuredFrom = performance.now();
      measuredPublished = published;
    }
    if (elapsed >= warmUp + ms) break;
    const due = Math.floor((rate * elapsed) / 1000) - published;
    if (due > 0) {
      await publish(server.ingestUrl, due);
      published += due;
    }
    await sleep(tick);
  }
  const achieved = ((published - measuredPublished) / (performance.now() - measuredFrom)) * 1000;
  await sleep(200); // let the last events arrive
  const snap = await clients.snapshot();
  return { p50: percentile(snap.latencies, 50), p99: percentile(snap.latencies, 99), achieved };
}

export const websocketScenario: Scenario = {
  name: 'websocket',
  description: `WebSocket fan-out to ${CLIENTS} filtered clients, and publish → receive latency`,
  unavailable() {
    return fs.existsSync(PLUGIN) ? undefined : `${path.relative(ROOT, PLUGIN)} not built`;
  },
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    // Both servers stay up, each with its own clients, and are measured in alternating short
    // windows: the load other processes put on a shared machine comes in bursts, and alternating
    // spreads it over both instead of over whichever happened to run at the time.
    const rounds = Math.min(ctx.rounds, 2);
    const windows = ctx.quick ? 2 : 4;
    const windowMs = ctx.quick ? 400 : 700;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'praxis-bench-ws-'));
    const config = path.join(dir, 'agent.yaml');
    fs.writeFileSync(config, agentConfig(CLIENTS + 100));
    const m = (metric: string, unit: string, higherIsBetter: boolean): Measurement[] =>
      TARGETS.map((t) => ({ variant: t.name, metric, unit, higherIsBetter, samples: [] }));
    const fanout = m(`fan-out, ${CLIENTS} clients`, 'deliveries/s', true);
    const halfRate = m(`p99 @ ½ baseline saturation, ${CLIENTS} clients`, 'ms', false);
    const fast = m(`p99 @ ${FAST_RATE / 1000}k events/s, ${FEW_CLIENTS} clients`, 'ms', false);
    const notes: string[] = [];
    try {
      for (let round = 0; round < rounds; round++) {
        const servers: Server[] = [];
        const many: Clients[] = [];
        const few: Clients[] = [];
        try {
          for (const target of TARGETS) {
            const server = await target.start(config);
            servers.push(server);
            many.push(new Clients());
            await many.at(-1)!.connect(server.wsUrl, CLIENTS, SAMPLED);
          }
          await sleep(300);
          for (let w = 0; w < windows; w++) {
            for (let i = 0; i < servers.length; i++) fanout[i]!.samples.push(await saturate(servers[i]!, many[i]!, CLIENTS, windowMs));
          }
          const baseSaturation = [...fanout[0]!.samples.slice(-windows)].sort((a, b) => a - b)[windows >> 1]!;
          const rate = Math.max(1, Math.round(baseSaturation / CLIENTS / 2));
          for (let w = 0; w < windows; w++) {
            for (let i = 0; i < servers.length; i++) {
              const half = await latencyAt(servers[i]!, many[i]!, rate, windowMs);
              halfRate[i]!.samples.push(half.p99);
              if (half.achieved < rate * 0.9) notes.push(`round ${round + 1} ${TARGETS[i]!.name}: publisher reached ${Math.round(half.achieved)} of ${rate} events/s (server too slow to answer)`);
            }
          }
          notes.push(`round ${round + 1}: ½ baseline saturation = ${rate} events/s to ${CLIENTS} clients`);
          // The 500 clients go before 10k events/s: they would get every one of them too.
          await Promise.all(many.splice(0).map((c) => c.close()));
          for (const server of servers) {
            few.push(new Clients());
            await few.at(-1)!.connect(server.wsUrl, FEW_CLIENTS, FEW_CLIENTS);
          }
          await sleep(100);
          for (let w = 0; w < windows; w++) {
            for (let i = 0; i < servers.length; i++) {
              const result = await latencyAt(servers[i]!, few[i]!, FAST_RATE, windowMs);
              fast[i]!.samples.push(result.p99);
              if (result.achieved < FAST_RATE * 0.9) notes.push(`round ${round + 1} ${TARGETS[i]!.name}: publisher reached ${Math.round(result.achieved)} of ${FAST_RATE} events/s`);
            }
          }
        } finally {
          await Promise.all([...many, ...few].map((c) => c.close()));
          await Promise.all(servers.map((s) => s.proc.stop()));
        }
        ctx.log(`websocket round ${round + 1}/${rounds}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const baseline = TARGETS[0]!.name;
    return {
      scenario: 'websocket',
      description: this.description,
      rounds: rounds * windows,
      measurements: [...fanout, ...halfRate, ...fast],
      targets: [
        { kind: 'ratio_at_least', variant: 'agent', baseline, metric: fanout[0]!.metric, value: 0.8 },
        { kind: 'ratio_at_most', variant: 'agent', baseline, metric: halfRate[0]!.metric, value: 2 },
        { kind: 'ratio_at_most', variant: 'agent', baseline, metric: fast[0]!.metric, value: 2 },
      ],
      notes: [`${rounds} rounds × ${windows} alternating windows of ${windowMs} ms; events POSTed as JSON arrays to each server's ingest; ${SAMPLED} sampled clients measure latency`, ...notes],
    };
  },
};
