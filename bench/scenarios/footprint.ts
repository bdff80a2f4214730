/**
 * Footprint: `praxis-agent start` on a minimal config (admin/ingest HTTP on port 0, the
 * event-logger plugin) against a bare `node` process running a `ws` server. Both are spawned from
 * this process (the probe), alternately, round after round:
 *   - spawn → ready: from spawn() to the process's own ready line (the agent's "praxis-agent ready
 *     on <url>" log line; the baseline's "listening <port>"), then one TCP connect proves it;
 *   - idle RSS: /proc/<pid>/status VmRSS after a second of idling once ready.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Measurement, Scenario, ScenarioContext, ScenarioResult } from '../harness';
import { AGENT_BIN, AGENT_READY, agentArgs, benchAgentConfig, connectOnce, rssOf, sleep, spawnUntilReady } from '../process-probe';

const IDLE_MS = 1_000;

const MINIMAL_CONFIG = benchAgentConfig(
  'bench-footprint',
  `  - name: events-log
    use: event-logger
    config: {}
`,
);

interface Target {
  name: string;
  args: string[];
  ready: RegExp;
}

export const footprintScenario: Scenario = {
  name: 'footprint',
  description: 'idle RSS and spawn → ready, agent vs a bare node + ws server',
  unavailable() {
    return fs.existsSync(AGENT_BIN) ? undefined : `${AGENT_BIN} not found`;
  },
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'praxis-bench-'));
    const config = path.join(dir, 'agent.yaml');
    fs.writeFileSync(config, MINIMAL_CONFIG);
    const targets: Target[] = [
      { name: 'baseline: node + ws', args: [path.join(__dirname, '..', 'baselines', 'bare-ws-server.js')], ready: /^listening (\d+)$/ },
      { name: 'agent', args: agentArgs(config), ready: AGENT_READY },
    ];
    const ready: Measurement[] = targets.map((t) => ({ variant: t.name, metric: 'spawn → ready', unit: 'ms', higherIsBetter: false, samples: [] }));
    const rss: Measurement[] = targets.map((t) => ({ variant: t.name, metric: 'idle RSS', unit: 'MiB', higherIsBetter: false, samples: [] }));
    try {
      for (let round = 0; round < ctx.rounds; round++) {
        for (let i = 0; i < targets.length; i++) {
          const target = targets[i]!;
          const proc = await spawnUntilReady(target.args, target.ready);
          try {
            await connectOnce(proc.port);
            ready[i]!.samples.push(proc.readyMs);
            await sleep(ctx.quick ? IDLE_MS / 4 : IDLE_MS);
            rss[i]!.samples.push(rssOf(proc.child.pid!) / 2 ** 20);
          } finally {
            await proc.stop();
          }
        }
        ctx.log(`footprint round ${round + 1}/${ctx.rounds}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    return {
      scenario: 'footprint',
      description: this.description,
      rounds: ctx.rounds,
      measurements: [...rss, ...ready],
      targets: [
        { kind: 'ratio_at_most', variant: 'agent', baseline: 'baseline: node + ws', metric: 'idle RSS', value: 1.5 },
        { kind: 'ratio_at_most', variant: 'agent', baseline: 'baseline: node + ws', metric: 'spawn → ready', value: 4 },
      ],
      notes: [`agent: bin/praxis-agent.js start, http on port 0 + event-logger; RSS read ${IDLE_MS} ms after ready`],
    };
  },
};
