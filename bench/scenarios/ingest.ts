/**
 * HTTP ingest end to end: `praxis-agent start` taking `POST /events` from 4 keep-alive clients
 * (bench/http-load.ts, raw sockets in this process), single `system.error` events and arrays of
 * 100, against a bare `node:http` server that parses the body and answers 202 with a UUID per
 * event (bench/baselines/bare-http-ingest.ts). Agents: a minimal config (HTTP only: no store, no
 * plugins, no alerting) and the shipped agent.config.yaml with its plugins off and no store (the
 * core with the alerting engine: a system.error of severity error becomes an alert). Every round
 * starts the three servers and measures them in alternating windows (bench/ingest-windows.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchConfig, shippedPluginsOff, startAgent, writeConfig } from '../agent-process';
import type { Scenario, ScenarioContext, ScenarioResult } from '../harness';
import { systemErrors } from '../http-load';
import { CONCURRENCY, ingestMeasurements, ingestWindows, logPids, type IngestServer, type Workload } from '../ingest-windows';
import { AGENT_BIN, spawnUntilReady, type Spawned } from '../process-probe';

export const BASELINE = 'baseline: bare node:http';
export const BATCH = 100;

/** The bare node:http ingest server, ready. */
export function startBareIngest(): Promise<Spawned> {
  return spawnUntilReady([path.join(__dirname, '..', 'baselines', 'bare-http-ingest.js')], /^listening (\d+)$/);
}

export const ingestScenario: Scenario = {
  name: 'ingest',
  description: `POST /events from ${CONCURRENCY} keep-alive clients, agent vs bare node:http`,
  unavailable() {
    return fs.existsSync(AGENT_BIN) ? undefined : `${AGENT_BIN} not found`;
  },
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const windowMs = ctx.quick ? 250 : 600;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'praxis-bench-ingest-'));
    const minimal = writeConfig(dir, 'minimal', benchConfig('bench-ingest'));
    const shipped = writeConfig(dir, 'shipped-off', shippedPluginsOff());
    const workloads: Workload[] = [
      { metric: `arrays of ${BATCH}`, body: systemErrors(BATCH) },
      { metric: 'single events', body: systemErrors(1) },
    ];
    const names = [BASELINE, 'agent (http only)', 'agent (shipped config, plugins off)'];
    const measurements = ingestMeasurements(names, workloads);
    let clientNotes: string[] = [];
    try {
      for (let round = 0; round < ctx.rounds; round++) {
        const procs: Spawned[] = [];
        try {
          procs.push(await startBareIngest());
          procs.push((await startAgent(minimal)).proc);
          procs.push((await startAgent(shipped, { PRAXIS_PORT: '0', PRAXIS_DATA_DIR: path.join(dir, 'data') })).proc);
          const servers: IngestServer[] = procs.map((p, i) => ({ name: names[i]!, port: p.port, pids: [p.child.pid!] }));
          logPids(ctx.log, servers);
          clientNotes = await ingestWindows(servers, workloads, 1, windowMs, measurements);
        } finally {
          await Promise.all(procs.map((p) => p.stop()));
        }
        ctx.log(`ingest round ${round + 1}/${ctx.rounds}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    return {
      scenario: 'ingest',
      description: this.description,
      rounds: ctx.rounds,
      measurements,
      // The issue sets no floor for plain ingest: its table measured 0.70×; the ratio is the finding.
      targets: [],
      notes: [
        `${ctx.rounds} rounds × 1 window of ${windowMs} ms per server and workload, alternated; each server idle before its window`,
        'shipped config, plugins off: the core with its alerting engine (every system.error of severity error is an alert) and bus settings, no store',
        ...clientNotes.map((n) => `last round, ${n}`),
      ],
    };
  },
};
