/**
 * Ingest under WebSocket fan-out: the agent with the websocket-broadcaster (every event to every
 * client, as shipped) taking `POST /events` while N fast and N slow clients are connected
 * (bench/ws-clients.ts in its own process; a slow client pauses its socket 200 ms of every 250 ms),
 * against the same agent with none connected, in the same run. Two measurements:
 *
 *   - ingest throughput: 4 keep-alive clients posting arrays of 100 system.error as fast as they
 *     are answered, windows alternated between the agents. A broadcaster with thousands of clients
 *     cannot work off its backlog between windows, so the other agents (and their clients) are
 *     stopped with SIGSTOP during each window instead of waited for.
 *   - a latency probe: the broadcaster's saturation is measured first (events/s the fast clients
 *     all receive when the publisher keeps a bounded number of events in flight), then single
 *     events are POSTed at half that rate on a fixed schedule (open loop) and the max and p99 of
 *     the POST latency are recorded, on the loaded agent and on the agent with no clients at the
 *     same rate.
 *
 * The clients are raw (bench/raw-ws-client.ts: frames counted in place, each event's offset checked
 * to follow the previous one) unless BENCH_FANOUT_CLIENT=ws. Unless BENCH_CPU_SPLIT=0, every agent
 * (the baseline too) runs on one CPU and the runner (the HTTP load) and the clients process on the
 * other, the clients process at the lowest priority (bench/cpu-split.ts): without it, on 2 cores the
 * clients process takes CPU from the loaded agent, which the agent with no client never loses; at
 * an equal priority it took it from the load client instead (which waited 10× as long for its CPU
 * as it ran). Reported beside each window: the agent's CPU
 * per event by thread, the clients process's CPU share, the clients cut off in it (and when) and
 * the broadcaster's socket writes per burst.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { agentStats, broadcasterPlugin, benchConfig, startAgent, writeConfig, type AgentProcess } from '../agent-process';
import type { Measurement, Scenario, ScenarioContext, ScenarioResult, Target } from '../harness';
import { IngestConnection, openLoop, percentile, systemErrors } from '../http-load';
import { cpuSplit, threadCpus } from '../cpu-split';
import { CONCURRENCY, ingestMeasurements, ingestWindows, logPids, only, threadMeasurements, type IngestServer, type Workload } from '../ingest-windows';
import { agentNodeArgs, cpuTimeOf, ROOT, schedOf, sleep } from '../process-probe';
import { BATCH } from './ingest';
import { Clients } from './websocket';
import type { GroupSnapshot } from '../ws-clients';

const PLUGIN = path.join(ROOT, 'dist', 'plugins', 'websocket-broadcaster', 'index.js');
const NONE = 'baseline: agent, no clients';
/** Events per POST while measuring the broadcaster's saturation, and at most in flight (not yet received by every fast client). */
const SATURATION_BATCH = 10;
const SATURATION_WINDOW = 50;
/** A POST still unanswered this long after a throughput window is given up (the window counts 0 for it). */
const GRACE_MS = 1_000;

/** N fast + N slow clients per loaded agent (one agent per N); BENCH_FANOUT_CLIENTS="100,1000" overrides. */
function clientCounts(quick: boolean): number[] {
  const env = process.env.BENCH_FANOUT_CLIENTS;
  if (env) return env.split(',').map(Number);
  return quick ? [100] : [1000];
}

const loadedName = (n: number) => `agent, ${n} fast + ${n} slow clients`;

/** A loaded agent: N + N clients, this build or (BENCH_FANOUT_OTHER_BIN) another build's bin/praxis-agent.js, for a before/after in one run. */
interface Variant {
  n: number;
  name: string;
  /** How notes and the latency rows name it: `N+N`, and the other build's bin after it. */
  label: string;
  bin?: string;
}

function variantsOf(counts: number[]): Variant[] {
  const other = process.env.BENCH_FANOUT_OTHER_BIN;
  return counts.flatMap((n) => [
    { n, name: loadedName(n), label: `${n}+${n}` },
    ...(other ? [{ n, name: `${loadedName(n)} (${other})`, label: `${n}+${n} (${other})`, bin: other }] : []),
  ]);
}
/** `ws` clients parse every message into a Buffer; raw ones (the default) read frames in place. */
const RAW = process.env.BENCH_FANOUT_CLIENT !== 'ws';
const CLIENTS_CPU = 'clients process CPU in the windows (% of a core)';
const OUT_OF_ORDER = 'events out of order at a fast client';
const CUT = 'clients cut off as slow consumers in a window';
/** The clients process's nice value under the CPU split (the lowest priority). */
const CLIENTS_NICE = 19;

interface Loaded {
  n: number;
  label: string;
  agent: AgentProcess;
  clients: Clients;
  server: IngestServer;
}

/**
 * Events/s the broadcaster delivers to all N fast clients of `loaded` when the publisher keeps at
 * most SATURATION_WINDOW events ahead of the slowest fast client, over `ms` after a warm-up.
 */
async function saturation(loaded: Loaded, ms: number): Promise<number> {
  const fastOf = async () => (await loaded.clients.snapshot()).groups.fast!;
  const connection = await IngestConnection.open(loaded.agent.port);
  const request = IngestConnection.request(systemErrors(SATURATION_BATCH));
  try {
    const base = (await fastOf()).min_received;
    let published = 0;
    let start = 0;
    let startReceived = 0;
    const warmUpUntil = performance.now() + 300;
    const end = warmUpUntil + ms;
    for (;;) {
      const fast = await fastOf();
      const t = performance.now();
      if (!start && t >= warmUpUntil) {
        start = t;
        startReceived = fast.received;
      }
      if (t >= end) {
        // Let the fast clients catch up, so the probe starts from a quiet broadcaster.
        const until = performance.now() + 10_000;
        while ((await fastOf()).min_received - base < published && performance.now() < until) await sleep(10);
        return ((fast.received - startReceived) / loaded.n / (t - start)) * 1000;
      }
      if (published - (fast.min_received - base) < SATURATION_WINDOW) {
        const status = await connection.post(request);
        if (status !== 202) throw new Error(`POST /events answered ${status}`);
        published += SATURATION_BATCH;
      } else {
        await sleep(1);
      }
    }
  } finally {
    connection.close();
  }
}

/** What a window is measured by, read before and after it. */
interface Probe {
  t: number;
  start: number;
  agent: { runMs: number; waitMs: number };
  clients: { runMs: number; waitMs: number };
  agentCpu: number;
  clientsCpu: number;
  fanoutMs: number;
  /** Events received by all clients, fast and slow. */
  delivered: number;
  fastOpen: number;
  slowOpen: number;
  /** When the clients saw a 1013 close (epoch ms, the clients process's clock), fast and slow. */
  cutAt: number[];
}

/**
 * The probe of a window's start (`at: 'start'`) or end. The CPU counters are read nearest the window
 * (last at its start, first at its end): the clients' snapshot waits for the clients process, which
 * may take seconds to answer while it reads a backlog at its low priority.
 */
async function probeOf(l: Loaded, start: number, at: 'start' | 'end'): Promise<Probe> {
  const pid = l.agent.proc.child.pid!;
  const times = () => ({
    t: performance.now(),
    agent: schedOf(pid),
    clients: schedOf(l.clients.pid),
    agentCpu: cpuTimeOf(pid),
    clientsCpu: cpuTimeOf(l.clients.pid),
  });
  const early = at === 'end' ? times() : undefined;
  const ws = ((await agentStats(l.agent.port)).components as Record<string, Record<string, number>> | undefined)?.['events-ws'];
  const snap = await l.clients.snapshot();
  return {
    ...(early ?? times()),
    start,
    fanoutMs: ws?.fanout_ms ?? 0,
    delivered: snap.received,
    fastOpen: snap.groups.fast!.open,
    slowOpen: snap.groups.slow!.open,
    cutAt: [snap.groups.fast!, snap.groups.slow!].flatMap((g) => slowConsumerCloses(g)),
  };
}

/** Connects new clients in place of the fast and slow ones the agent cut off, so that N + N are open again. */
async function topUp(l: Loaded, notes: string[], round: number): Promise<void> {
  const { groups } = await l.clients.snapshot();
  const fast = l.n - groups.fast!.open;
  const slow = l.n - groups.slow!.open;
  if (fast > 0) await l.clients.connect(l.agent.wsUrl!, fast, 0, { group: 'fast', raw: RAW });
  if (slow > 0) await l.clients.connect(l.agent.wsUrl!, slow, 0, { group: 'slow', slow: true, raw: RAW });
  if (fast + slow > 0) notes.push(`round ${round + 1}, ${l.label}: before a window, ${fast} fast and ${slow} slow clients connected in place of those cut off`);
}

/**
 * The times of a group's 1013 closes (slow consumer), as its clients saw them: the agent logs only
 * the first cut of an episode and a count per second, and the clients record every close code.
 */
function slowConsumerCloses(group: GroupSnapshot): number[] {
  const cuts = group.closes['1013'] ?? 0;
  if (cuts === 0) return [];
  // closed_at lists every close; in this scenario every close is the agent's (the clients never close first).
  return cuts === group.closed_at.length ? group.closed_at : group.closed_at.slice(-cuts);
}

/** POST latencies (ms) of single events at `rate`/s for `ms` to `server`, the others stopped meanwhile. */
async function probe(servers: IngestServer[], server: IngestServer, rate: number, ms: number): Promise<number[]> {
  only(servers, server);
  const pool: IngestConnection[] = [];
  try {
    pool.push(await IngestConnection.open(server.port));
    return (await openLoop(server.port, pool, systemErrors(1), rate, ms)).latencies;
  } finally {
    for (const c of pool) c.close();
    only(servers);
  }
}

export const fanoutIngestScenario: Scenario = {
  name: 'fanout-ingest',
  description: 'POST /events with N fast + N slow WebSocket clients connected to the broadcaster, vs none',
  unavailable() {
    return fs.existsSync(PLUGIN) ? undefined : `${path.relative(ROOT, PLUGIN)} not built`;
  },
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const counts = clientCounts(ctx.quick);
    const rounds = Math.min(ctx.rounds, 2);
    const windows = ctx.quick ? 1 : 2;
    const windowMs = ctx.quick ? 300 : 600;
    const probeMs = ctx.quick ? 800 : 1500;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'praxis-bench-fanout-'));
    const config = writeConfig(dir, 'ws', benchConfig('bench-fanout', { plugins: [broadcasterPlugin(2 * Math.max(...counts) + 100)] }));
    const workloads: Workload[] = [{ metric: `arrays of ${BATCH}`, body: systemErrors(BATCH) }];
    const variants = variantsOf(counts);
    const names = [NONE, ...variants.map((v) => v.name)];
    const throughput = [...ingestMeasurements(names, workloads), ...threadMeasurements(names, workloads[0]!)];
    const latency: Measurement[] = variants.flatMap((v) =>
      ['max', 'p99'].flatMap((stat) =>
        [NONE, v.name].map((variant) => ({ variant, metric: `${stat} POST @ ½ saturation of ${v.label}`, unit: 'ms', higherIsBetter: false, samples: [] as number[] })),
      ),
    );
    const checks: Measurement[] = variants.flatMap((v) => [
      { variant: v.name, metric: CLIENTS_CPU, unit: '%', higherIsBetter: false, samples: [] as number[] },
      { variant: v.name, metric: CUT, unit: 'clients', higherIsBetter: false, samples: [] as number[] },
      { variant: v.name, metric: OUT_OF_ORDER, unit: 'events', higherIsBetter: false, samples: [] as number[] },
    ]);
    const row = (variant: string, metric: string) => [...latency, ...checks].find((m) => m.variant === variant && m.metric === metric)!;
    const notes: string[] = [];
    let clientNotes: string[] = [];
    // By default here: the agent on one CPU, the runner (load client) and the clients process on the other.
    const split = cpuSplit(true);
    const pinned: string[] = [];
    // With --cpu-prof: each window's span on the profiles' clock, for profile-top --between.
    const profiling = agentNodeArgs().some((a) => a.startsWith('--cpu-prof'));
    const spans = new Map<string, string[]>();
    const monotonicUs = () => (process.hrtime.bigint() / 1000n).toString();
    let spanStart = '';
    try {
      for (let round = 0; round < rounds; round++) {
        const agents: AgentProcess[] = [];
        const loaded: Loaded[] = [];
        const servers: IngestServer[] = [];
        try {
          const none = await startAgent(config);
          agents.push(none);
          split?.pinServer(none.proc.child.pid!);
          servers.push({ name: NONE, port: none.port, pids: [none.proc.child.pid!] });
          for (const { n, name, label, bin } of variants) {
            const agent = await startAgent(config, undefined, bin);
            agents.push(agent);
            split?.pinServer(agent.proc.child.pid!);
            if (!agent.wsUrl) throw new Error('the agent never said where the websocket broadcaster listens');
            const clients = new Clients();
            if (split) {
              split.pinLoad(clients.pid);
              // The sink yields to the load client on their CPU: in the baseline's windows the load client
              // has it to itself (the clients are stopped), and a clients process that cannot keep up
              // is what the agent cuts off, by design.
              os.setPriority(clients.pid, CLIENTS_NICE);
            }
            await clients.connect(agent.wsUrl, n, 0, { group: 'fast', raw: RAW });
            await clients.connect(agent.wsUrl, n, 0, { group: 'slow', slow: true, raw: RAW });
            ctx.log(`fanout-ingest: ${label} clients connected`);
            const server = { name, port: agent.port, pids: [agent.proc.child.pid!, clients.pid] };
            loaded.push({ n, label, agent, clients, server });
            servers.push(server);
          }
          // The latency probe first, while the broadcasters are quiet.
          for (const l of loaded) {
            only(servers, l.server);
            const saturated = await saturation(l, ctx.quick ? 500 : 1000);
            only(servers);
            ctx.log(`fanout-ingest: ${l.label} saturation measured`);
            const rate = Math.max(2, Math.round(saturated / 2));
            notes.push(`round ${round + 1}, ${l.label} clients: broadcaster saturation ≈ ${Math.round(saturated)} events/s (${Math.round(saturated * l.n)} deliveries/s to the fast clients); probe at ${rate} events/s`);
            for (const target of [servers[0]!, l.server]) {
              const latencies = await probe(servers, target, rate, probeMs);
              const metric = `POST @ ½ saturation of ${l.label}`;
              row(target.name, `max ${metric}`).samples.push(Math.max(...latencies));
              row(target.name, `p99 ${metric}`).samples.push(percentile(latencies, 99));
            }
          }
          ctx.log('fanout-ingest: latency probes done');
          logPids(ctx.log, servers);
          const window = new Map<IngestServer, Probe>();
          const alone = new Map<IngestServer, { runMs: number; waitMs: number }>();
          let runnerBefore = { runMs: 0, waitMs: 0 };
          const epoch = () => performance.timeOrigin + performance.now();
          clientNotes = await ingestWindows(servers, workloads, windows, windowMs, throughput, true, GRACE_MS, {
            async before(server) {
              const l = loaded.find((x) => x.server === server);
              // Every window starts with N fast + N slow clients: those cut as slow consumers in the
              // probes or an earlier window are replaced (without this, a later window measured an
              // agent whose clients were all gone, and passed).
              if (l) await topUp(l, notes, round);
              if (l) window.set(server, await probeOf(l, epoch(), 'start'));
              if (l) runnerBefore = schedOf(process.pid);
              else alone.set(server, schedOf(server.pids[0]!));
              // After the top-up: connecting clients is not the window's work.
              if (profiling) spanStart = monotonicUs();
            },
            async after(server, result) {
              if (profiling) {
                const key = `${server.name}, pid ${server.pids[0]}`;
                spans.set(key, [...(spans.get(key) ?? []), `${spanStart}-${monotonicUs()}`]);
              }
              const l = loaded.find((x) => x.server === server);
              const w = window.get(server);
              const a = alone.get(server);
              if (a) {
                const s = schedOf(server.pids[0]!);
                notes.push(`round ${round + 1}, ${server.name}, window of ${Math.round(result.eventsPerSecond)} events/s: agent main thread ${Math.round(s.runMs - a.runMs)} ms on a CPU, ${Math.round(s.waitMs - a.waitMs)} ms runnable but waiting for one`);
              }
              if (!l || !w) return;
              const now = await probeOf(l, epoch(), 'end');
              const runner = schedOf(process.pid);
              const elapsed = now.t - w.t;
              const cpu = ((now.clientsCpu - w.clientsCpu) / elapsed) * 100;
              row(server.name, CLIENTS_CPU).samples.push(cpu);
              // As the clients saw their 1013 closes by the end probe: a client learns of its cut only once
              // it has read what came before the close frame, so a late one may be missing here.
              const cuts = now.cutAt.filter((t) => t >= w.start).map((t) => Math.round(t - w.start)).sort((a, b) => a - b);
              row(server.name, CUT).samples.push(cuts.length);
              const when = cuts.length ? ` at ${cuts[0]}–${cuts[cuts.length - 1]} ms (median ${percentile(cuts, 50)})` : '';
              const deliveries = now.delivered - w.delivered;
              const agentCpu = now.agentCpu - w.agentCpu;
              const fanout = now.fanoutMs - w.fanoutMs;
              notes.push(
                `round ${round + 1}, ${l.label}, window of ${Math.round(result.eventsPerSecond)} events/s (${Math.round(elapsed)} ms): ` +
                  `agent main thread ${Math.round(now.agent.runMs - w.agent.runMs)} ms on a CPU, ${Math.round(now.agent.waitMs - w.agent.waitMs)} ms runnable but waiting for one; ` +
                  `agent ${Math.round(agentCpu)} ms CPU, of it ${Math.round(fanout)} ms in fan-out turns; ${deliveries} events delivered (${((agentCpu * 1000) / Math.max(1, deliveries)).toFixed(2)} µs agent CPU per delivery, all included); ` +
                  `clients process ${Math.round(cpu)}% of a core (${Math.round(now.clients.waitMs - w.clients.waitMs)} ms waiting for a CPU); ` +
                  `load client (this process) ${Math.round(runner.runMs - runnerBefore.runMs)} ms on a CPU, ${Math.round(runner.waitMs - runnerBefore.waitMs)} ms waiting; ${cuts.length} clients cut off as slow consumers${when}; open after: ${now.fastOpen} fast, ${now.slowOpen} slow`,
              );
            },
          });
          if (round === 0) {
            // What the threads were really allowed, read back after the windows (threads started late included).
            const cpusOf = (pid: number) => threadCpus(pid).join(' / ');
            pinned.push(
              ...servers.map((s) => `${s.name}: agent threads on CPU ${cpusOf(s.pids[0]!)}`),
              ...loaded.map((l) => `clients process of ${l.label} on CPU ${cpusOf(l.clients.pid)}`),
              `runner (load client) on CPU ${cpusOf(process.pid)}`,
            );
          }
          for (const l of loaded) {
            const snap = await l.clients.snapshot();
            const slow = snap.groups.slow!;
            const fast = snap.groups.fast!;
            row(l.server.name, OUT_OF_ORDER).samples.push(fast.out_of_order);
            const ws = ((await agentStats(l.agent.port)).components as Record<string, Record<string, number>> | undefined)?.['events-ws'];
            const writes = ws ? `; broadcaster: ${ws.bursts} bursts, ${ws.event_writes} socket writes of events (${(ws.event_writes / Math.max(1, ws.bursts)).toFixed(0)} per burst, ${(ws.messages_sent / Math.max(1, ws.event_writes)).toFixed(1)} events per write)` : '';
            notes.push(
              `round ${round + 1}, ${l.label} clients after the windows: fast ${fast.open}/${fast.clients} open (closes ${JSON.stringify(fast.closes)}), slow ${slow.open}/${slow.clients} open (closes ${JSON.stringify(slow.closes)}), ${fast.received} + ${slow.received} events received, ${fast.out_of_order} out of order at fast clients${writes}`,
            );
          }
        } finally {
          only(servers);
          await Promise.all(loaded.map((l) => l.clients.close()));
          await Promise.all(agents.map((a) => a.proc.stop()));
        }
        ctx.log(`fanout-ingest round ${round + 1}/${rounds}`);
      }
    } finally {
      split?.restore();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const targets: Target[] = counts.flatMap((n): Target[] => [
      { kind: 'ratio_at_least', variant: loadedName(n), baseline: NONE, metric: workloads[0]!.metric, value: 0.5 },
      { kind: 'at_most', variant: loadedName(n), metric: `max POST @ ½ saturation of ${n}+${n}`, value: 100, unit: 'ms' },
      { kind: 'at_most', variant: loadedName(n), metric: OUT_OF_ORDER, value: 0, unit: 'events' },
    ]);
    return {
      scenario: 'fanout-ingest',
      description: this.description,
      rounds: rounds * windows,
      measurements: [...throughput, ...latency, ...checks],
      targets,
      notes: [
        split
          ? `CPU split (BENCH_CPU_SPLIT=0 turns it off): the agent, baseline and loaded alike, on CPU ${split.server}; the runner (HTTP load) and the WebSocket clients process (at nice ${CLIENTS_NICE}, so it never delays the load client) on CPU ${split.load}. Read back: ${pinned.join('; ')}`
          : 'no CPU split (BENCH_CPU_SPLIT=0, or taskset / a second CPU missing): the agent, the load client and the clients process share every CPU',
        `${RAW ? 'raw clients (frames read in place, offsets checked)' : 'ws clients'}; ${rounds} rounds × ${windows} alternating windows of ${windowMs} ms (${CONCURRENCY} clients, the other agents SIGSTOPped; POSTs unanswered ${GRACE_MS} ms after a window are given up); latency: single events on a fixed schedule for ${probeMs} ms, once per round (${rounds} samples)`,
        ...notes,
        ...[...spans].map(([key, list]) => `profile spans of the windows (µs, CLOCK_MONOTONIC: profile-top --between), ${key}: ${list.join(',')}`),
        ...clientNotes.map((n) => `last round, ${n}`),
      ],
    };
  },
};
