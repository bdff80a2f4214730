/**
 * Publish → receive latency at fixed rates: events POSTed to the server's HTTP ingest (JSON arrays
 * of the events due every 10 ms, each stamped with `sent_at`) and received by CLIENTS WebSocket
 * clients in another process (bench/ws-clients.ts), every one of them recording the latency of
 * every event. The agent (websocket-broadcaster, clients filtered on `service.*`) against the bare
 * ws baseline (bench/baselines/bare-ws-server.ts --fanout) at the same rates: both servers stay
 * up, each with its own clients process, and the windows alternate.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Measurement, Scenario, ScenarioContext, ScenarioResult, Target } from '../harness';
import { ROOT, sleep } from '../process-probe';
import { agentConfig, Clients, latencyAt, TARGETS, type Server } from './websocket';

const PLUGIN = path.join(ROOT, 'dist', 'plugins', 'websocket-broadcaster', 'index.js');
const CLIENTS = 10;
const RATES = [100, 1_000, 10_000];

/** At least this many events per window, so that a p99 rests on enough samples at 100/s. */
const MIN_EVENTS = 200;

const rateName = (rate: number) => (rate >= 1000 ? `${rate / 1000}k/s` : `${rate}/s`);

export const latencyScenario: Scenario = {
  name: 'latency',
  description: `POST /events → WebSocket receive latency at fixed rates, ${CLIENTS} clients, agent vs bare ws`,
  unavailable() {
    return fs.existsSync(PLUGIN) ? undefined : `${path.relative(ROOT, PLUGIN)} not built`;
  },
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const windowMs = ctx.quick ? 300 : 600;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'praxis-bench-latency-'));
    const config = path.join(dir, 'agent.yaml');
    fs.writeFileSync(config, agentConfig(CLIENTS + 10));
    const measurements: Measurement[] = RATES.flatMap((rate) =>
      ['p50', 'p99'].flatMap((stat) => TARGETS.map((t) => ({ variant: t.name, metric: `${stat} @ ${rateName(rate)}`, unit: 'ms', higherIsBetter: false, samples: [] as number[] }))),
    );
    const row = (variant: string, metric: string) => measurements.find((m) => m.variant === variant && m.metric === metric)!;
    const notes: string[] = [];
    try {
      for (let round = 0; round < ctx.rounds; round++) {
        const servers: Server[] = [];
        const clients: Clients[] = [];
        try {
          for (const target of TARGETS) {
            servers.push(await target.start(config));
            clients.push(new Clients());
            await clients.at(-1)!.connect(servers.at(-1)!.wsUrl, CLIENTS, CLIENTS);
          }
          await sleep(200);
          for (const rate of RATES) {
            for (let i = 0; i < servers.length; i++) {
              const result = await latencyAt(servers[i]!, clients[i]!, rate, Math.max(windowMs, (MIN_EVENTS / rate) * 1000));
              row(TARGETS[i]!.name, `p50 @ ${rateName(rate)}`).samples.push(result.p50);
              row(TARGETS[i]!.name, `p99 @ ${rateName(rate)}`).samples.push(result.p99);
              if (result.achieved < rate * 0.9) notes.push(`round ${round + 1} ${TARGETS[i]!.name}: publisher reached ${Math.round(result.achieved)} of ${rate} events/s`);
            }
          }
        } finally {
          await Promise.all(clients.map((c) => c.close()));
          await Promise.all(servers.map((s) => s.proc.stop()));
        }
        ctx.log(`latency round ${round + 1}/${ctx.rounds}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const baseline = TARGETS[0]!.name;
    // Issue 6's latency bound (p99 ≤ 2× the bare server at the same rate), at every rate.
    const targets: Target[] = RATES.map((rate) => ({ kind: 'ratio_at_most', variant: 'agent', baseline, metric: `p99 @ ${rateName(rate)}`, value: 2 }));
    return {
      scenario: 'latency',
      description: this.description,
      rounds: ctx.rounds,
      measurements,
      targets,
      notes: [
        `${ctx.rounds} rounds × 1 window per rate and server (${windowMs} ms, at least ${MIN_EVENTS} events; after a 300 ms warm-up), alternated; events POSTed every 10 ms as one JSON array; every client records every event`,
        ...notes,
      ],
    };
  },
};
