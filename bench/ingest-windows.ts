/**
 * Ingest throughput measured in alternating windows: every server of a round stays up, and each
 * window posts one workload to one server from CONCURRENCY keep-alive connections (server A,
 * server B, ..., then again), waiting for all of them to go quiet in between so that one server's
 * backlog never runs in another's window.
 */
import type { Measurement } from './harness';
import { closedLoop, IngestConnection, type IngestBody, type LoadResult } from './http-load';
import { agentNodeArgs, cpuTimeOf, waitIdle as waitForIdle } from './process-probe';
import { classifyThreads, threadDelta, threadTimesOf, type ThreadGroup } from './thread-probe';

/** Keep-alive clients posting at once (issue 12). */
export const CONCURRENCY = 4;

export interface IngestServer {
  /** The variant name in the table. */
  name: string;
  port: number;
  /** Processes to wait for between windows: the server first (its CPU is reported), then its clients. */
  pids: number[];
}

export interface Workload {
  /** The metric name in the table, e.g. `arrays of 100`. */
  metric: string;
  body: IngestBody;
}

/**
 * Per workload, one events/s measurement per server, then the server process's CPU use during the
 * same windows (% of one core: near 100 the server is CPU-bound; well below, it waits on something,
 * e.g. fsync), then its CPU time per accepted event, counted until it is idle again after the
 * window (what an audit queue or a store commit does after the answer is included; with `freeze`,
 * where backlogs never drain, the window only).
 */
export function ingestMeasurements(names: readonly string[], workloads: readonly Workload[]): Measurement[] {
  return workloads.flatMap((w) => [
    ...names.map((variant) => ({ variant, metric: w.metric, unit: 'events/s', higherIsBetter: true, samples: [] as number[] })),
    ...names.map((variant) => ({ variant, metric: cpuMetric(w), unit: '% of a core', higherIsBetter: false, samples: [] as number[] })),
    ...names.map((variant) => ({ variant, metric: costMetric(w), unit: 'µs', higherIsBetter: false, samples: [] as number[] })),
  ]);
}

/**
 * Rows that break the server's CPU per event down by thread group, user and system time apart
 * (thread-probe.ts), and the load client's own CPU per event: add them to the measurements of
 * {@link ingestWindows} for the workloads to break down.
 */
export function threadMeasurements(names: readonly string[], workload: Workload): Measurement[] {
  const rows = THREAD_ROWS.flatMap((g) => [`${g} user`, `${g} system`]);
  return names.flatMap((variant) => [
    ...rows.map((row) => ({ variant, metric: `${threadPrefix(workload)}${row}`, unit: 'µs', higherIsBetter: false, samples: [] as number[] })),
    { variant, metric: clientMetric(workload), unit: 'µs', higherIsBetter: false, samples: [] as number[] },
  ]);
}

/** worker_threads and the rest (inspector thread, profiler) share a row: both are usually 0. */
const THREAD_ROWS = ['main', 'V8 platform (GC, JIT)', 'libuv threadpool', 'other threads'] as const;
const rowOf = (group: ThreadGroup): (typeof THREAD_ROWS)[number] =>
  group === 'worker_threads' || group === 'other' ? 'other threads' : group;
const threadPrefix = (w: Workload) => `CPU per event, ${w.metric}, thread: `;
const clientMetric = (w: Workload) => `load client CPU per event, ${w.metric}`;

const cpuMetric = (w: Workload) => `server CPU, ${w.metric}`;
const costMetric = (w: Workload) => `server CPU per event, ${w.metric}`;

/**
 * `windows` alternating windows of `windowMs` per workload and server, pushing events/s into
 * `measurements` (from {@link ingestMeasurements} with the same servers and workloads). Returns
 * notes on the load client's own CPU use (near 100%, the client bounds the fastest server).
 *
 * With `freeze`, the other servers' processes are stopped (SIGSTOP) during each window instead of
 * waited for: for servers whose backlog takes longer to work off than a window (a broadcaster
 * with thousands of clients), which then keep it for their own windows.
 */
export async function ingestWindows(
  servers: readonly IngestServer[],
  workloads: readonly Workload[],
  windows: number,
  windowMs: number,
  measurements: Measurement[],
  freeze = false,
  /** How long a window waits for requests still unanswered at its end (see closedLoop). */
  graceMs = 3_000,
  /** Called around each measured window (not the warm-up), e.g. to read what the server's clients saw in it. */
  hooks: WindowHooks = {},
): Promise<string[]> {
  const pids = servers.flatMap((s) => s.pids);
  const clientCpu = new Map<string, number>();
  const gaveUp = new Map<string, number>();
  const waitIdle = (all: number[]) => (freeze ? Promise.resolve() : waitForIdle(all));
  const postFor = async (server: IngestServer, workload: Workload, ms: number) => {
    if (freeze) only(servers, server);
    try {
      const result = await post(server, workload, ms, graceMs);
      if (result.gaveUp) gaveUp.set(server.name, (gaveUp.get(server.name) ?? 0) + 1);
      return result;
    } finally {
      if (freeze) only(servers);
    }
  };
  // Warm-up: the JIT compiles the hot paths of each server before anything is recorded.
  for (const workload of workloads) for (const server of servers) await postFor(server, workload, WARM_UP_MS);
  for (let w = 0; w < windows; w++) {
    for (const workload of workloads) {
      for (const server of servers) {
        const find = (metric: string) => {
          const found = measurements.find((m) => m.variant === server.name && m.metric === metric);
          if (!found) throw new Error(`no measurement for ${server.name} / ${metric}`);
          return found;
        };
        await waitIdle(pids);
        const pid = server.pids[0]!;
        const byThread = measurements.some((m) => m.variant === server.name && m.metric === clientMetric(workload));
        // The hooks' work (reading what clients saw, connecting new ones) is not the window's.
        await hooks.before?.(server);
        const groups = byThread ? classifyThreads(pid) : undefined;
        const threadsBefore = byThread ? threadTimesOf(pid) : undefined;
        const cpu = cpuTimeOf(pid);
        const own = process.cpuUsage();
        const t = performance.now();
        const result = await postFor(server, workload, windowMs);
        const elapsed = performance.now() - t;
        const used = process.cpuUsage(own);
        const cpuInWindow = cpuTimeOf(pid) - cpu;
        await hooks.after?.(server, result);
        find(workload.metric).samples.push(result.eventsPerSecond);
        find(cpuMetric(workload)).samples.push((cpuInWindow / elapsed) * 100);
        await waitIdle([pid]);
        find(costMetric(workload)).samples.push(((cpuTimeOf(pid) - cpu) * 1000) / result.accepted);
        if (groups && threadsBefore) {
          const perEvent = (ms: number) => (ms * 1000) / result.accepted;
          const rows = new Map<string, number>();
          for (const [group, t] of threadDelta(threadsBefore, threadTimesOf(pid), groups)) {
            const row = rowOf(group);
            rows.set(`${row} user`, (rows.get(`${row} user`) ?? 0) + perEvent(t.userMs));
            rows.set(`${row} system`, (rows.get(`${row} system`) ?? 0) + perEvent(t.systemMs));
          }
          for (const [row, value] of rows) find(`${threadPrefix(workload)}${row}`).samples.push(value);
          find(clientMetric(workload)).samples.push(perEvent((used.user + used.system) / 1000));
        }
        clientCpu.set(workload.metric, Math.max(clientCpu.get(workload.metric) ?? 0, ((used.user + used.system) / 1000 / elapsed) * 100));
      }
    }
  }
  await waitIdle(pids);
  return [
    ...[...clientCpu].map(([metric, pct]) => `${metric}: the load client (this process) used at most ${Math.round(pct)}% of a core in a window`),
    ...[...gaveUp].map(([name, n]) => `${name}: in ${n} window(s) (warm-up included) POSTs were still unanswered ${graceMs} ms after the window, and given up`),
  ];
}

const WARM_UP_MS = 300;

export interface WindowHooks {
  before?(server: IngestServer): void | Promise<void>;
  /** Right after the window (every server running again). */
  after?(server: IngestServer, result: LoadResult): void | Promise<void>;
}

/** Events/s accepted by `server` from CONCURRENCY fresh keep-alive connections posting `workload` for `ms`. */
async function post(server: IngestServer, workload: Workload, ms: number, graceMs: number): Promise<LoadResult> {
  const connections = await Promise.all(Array.from({ length: CONCURRENCY }, () => IngestConnection.open(server.port)));
  try {
    return await closedLoop(connections, workload.body, ms, 100, graceMs);
  } finally {
    for (const c of connections) c.close();
  }
}

/** Lets only `active`'s processes run (SIGCONT), stopping every other server's (SIGSTOP); without `active`, all run. */
export function only(servers: readonly IngestServer[], active?: IngestServer): void {
  for (const server of servers) {
    if (server === active || !active) continue;
    for (const pid of server.pids) process.kill(pid, 'SIGSTOP');
  }
  for (const pid of active?.pids ?? servers.flatMap((s) => s.pids)) process.kill(pid, 'SIGCONT');
}

/** With BENCH_AGENT_NODE_ARGS (e.g. --cpu-prof, whose files are named by pid), which pid is which server. */
export function logPids(log: (message: string) => void, servers: readonly IngestServer[]): void {
  if (agentNodeArgs().length) for (const s of servers) log(`${s.name}: pid ${s.pids.join(', ')}`);
}
