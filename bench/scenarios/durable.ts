/**
 * The durable ingest path: the same HTTP ingest as the `ingest` scenario (4 keep-alive clients
 * posting system.error events) into an agent with the event store (shipped settings: group commit
 * every 100 ms, synchronous=FULL) and the audit-log plugin (fsync: every; system.error is audited
 * by default), against the same agent without them in the same run; and each alone, to tell what
 * bounds the pair. Every round starts the four agents and alternates windows between them; /stats
 * after the round proves nothing was dropped on the way (a faster but lossy path would not count).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { auditPlugin, benchConfig, durabilityNote, startAgent, storeSection, writeConfig } from '../agent-process';
import type { Scenario, ScenarioContext, ScenarioResult } from '../harness';
import { systemErrors } from '../http-load';
import { CONCURRENCY, ingestMeasurements, ingestWindows, logPids, threadMeasurements, type IngestServer, type Workload } from '../ingest-windows';
import { AGENT_BIN, type Spawned } from '../process-probe';
import { BATCH } from './ingest';

const BASELINE = 'baseline: agent, not durable';
const DURABLE = 'agent + store + audit-log';

export const durableScenario: Scenario = {
  name: 'durable',
  description: `POST /events from ${CONCURRENCY} clients with the store and audit-log (fsync: every) on, vs the same agent without them`,
  unavailable() {
    return fs.existsSync(AGENT_BIN) ? undefined : `${AGENT_BIN} not found`;
  },
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const windowMs = ctx.quick ? 250 : 600;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'praxis-bench-durable-'));
    const durableConfig = (data: string) => benchConfig('bench-durable', { store: storeSection(data), plugins: [auditPlugin(data)] });
    const variants: { name: string; config: (data: string) => Record<string, unknown>; bin?: string }[] = [
      { name: BASELINE, config: () => benchConfig('bench-plain') },
      { name: DURABLE, config: durableConfig },
      { name: 'agent + store', config: (data) => benchConfig('bench-store', { store: storeSection(data) }) },
      { name: 'agent + audit-log', config: (data) => benchConfig('bench-audit', { plugins: [auditPlugin(data)] }) },
    ];
    // An A/B in the same run: another build's bin/praxis-agent.js (e.g. of the commit before a change), durable and store alone.
    const other = process.env.BENCH_DURABLE_OTHER_BIN;
    if (other) {
      variants.push({ name: `${DURABLE} (${other})`, config: durableConfig, bin: other });
      variants.push({ name: `agent + store (${other})`, config: (data) => benchConfig('bench-store', { store: storeSection(data) }), bin: other });
    }
    // The audit-log's sealing in a worker thread (off by default), always and on demand: what it moves off the main thread, and what it costs in all.
    if (process.env.BENCH_DURABLE_SEAL_IN_WORKER) {
      for (const mode of [true, 'on_demand']) {
        variants.push({ name: `${DURABLE} (seal_in_worker: ${String(mode)})`, config: (data) => benchConfig(`bench-durable-worker-${String(mode)}`, { store: storeSection(data), plugins: [auditPlugin(data, { seal_in_worker: mode })] }) });
      }
    }
    const workloads: Workload[] = [
      { metric: `arrays of ${BATCH}`, body: systemErrors(BATCH) },
      { metric: 'single events', body: systemErrors(1) },
    ];
    const names = variants.map((v) => v.name);
    // The batched workload, the target, is also broken down by thread (user and system).
    const measurements = [...ingestMeasurements(names, workloads), ...threadMeasurements(names, workloads[0]!)];
    const notes: string[] = [];
    let clientNotes: string[] = [];
    try {
      for (let round = 0; round < ctx.rounds; round++) {
        const procs: Spawned[] = [];
        try {
          for (const [i, variant] of variants.entries()) {
            const data = path.join(dir, `r${round}-${i}`);
            procs.push((await startAgent(writeConfig(dir, `v${i}`, variant.config(data)), undefined, variant.bin)).proc);
          }
          const servers: IngestServer[] = procs.map((p, i) => ({ name: variants[i]!.name, port: p.port, pids: [p.child.pid!] }));
          logPids(ctx.log, servers);
          clientNotes = await ingestWindows(servers, workloads, 1, windowMs, measurements);
          if (round === ctx.rounds - 1) {
            for (const server of servers.slice(1)) notes.push(`last round, ${server.name}: ${await durabilityNote(server.port)}`);
          }
        } finally {
          await Promise.all(procs.map((p) => p.stop()));
        }
        fs.rmSync(path.join(dir), { recursive: true, force: true });
        fs.mkdirSync(dir);
        ctx.log(`durable round ${round + 1}/${ctx.rounds}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    return {
      scenario: 'durable',
      description: this.description,
      rounds: ctx.rounds,
      measurements,
      targets: [{ kind: 'ratio_at_least', variant: DURABLE, baseline: BASELINE, metric: workloads[0]!.metric, value: 0.5 }],
      notes: [
        `${ctx.rounds} rounds × 1 window of ${windowMs} ms per agent and workload, alternated; each agent idle (its audit queue and store commits drained) before the next window`,
        'store: enabled, commit_interval 100ms (shipped); audit-log: defaults, fsync: every; data in a temp dir on the same disk',
        ...notes,
        ...clientNotes.map((n) => `last round, ${n}`),
      ],
    };
  },
};
