/**
 * Start-up and idle footprint: spawn → ready and idle RSS of `praxis-agent start` with the shipped
 * agent.config.yaml (every built-in plugin, the store, alerting), with the same config's plugins
 * off (the core with the store and alerting: what the plugins add is the difference), and with a
 * minimal config (HTTP + event-logger), against a bare `node` process running a `ws` server
 * (bench/baselines/bare-ws-server.ts). All spawned from this process (the probe), alternately,
 * round after round:
 *   - spawn → ready: from spawn() to the process's own ready line (the agent's "praxis-agent ready
 *     on <url>" log line; the baseline's "listening <port>"), then one TCP connect proves it;
 *   - main-thread CPU to ready: /proc/<pid>/schedstat when the ready line arrives (the JavaScript
 *     thread's own CPU time: what start-up costs, less blurred by other jobs than wall time);
 *   - idle RSS: /proc/<pid>/status VmRSS after a second of idling once ready.
 * BENCH_STARTUP_OTHER_BIN=<path of another build's bin/praxis-agent.js> adds that build with the
 * shipped config, for a before/after in one run.
 * The shipped config runs as users run it (`--config agent.config.yaml`), with PRAXIS_PORT a free
 * port (its health-probe checks that port), PRAXIS_WS_PORT=0 and a fresh PRAXIS_DATA_DIR per start.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { benchConfig, SHIPPED_CONFIG, shippedConfig, writeConfig } from '../agent-process';
import type { Measurement, Scenario, ScenarioContext, ScenarioResult, Target } from '../harness';
import { AGENT_BIN, AGENT_READY, agentArgs, agentNodeArgs, connectOnce, freePort, ROOT, rssOf, schedOf, sleep, spawnUntilReady } from '../process-probe';

const IDLE_MS = 1_000;
const BASELINE = 'baseline: node + ws';
const SHIPPED = 'agent (shipped config)';
const MINIMAL = 'agent (http + event-logger)';

interface Variant {
  name: string;
  args: string[];
  ready: RegExp;
  /** Environment for one start (a fresh data dir, a free port). */
  env?(): Promise<NodeJS.ProcessEnv>;
}

/** Built-in plugins (folders of plugins/) the shipped config does not use. */
function builtinsNotShipped(): string[] {
  const used = new Set(((parse(fs.readFileSync(SHIPPED_CONFIG, 'utf8')) as { plugins: { use: string }[] }).plugins ?? []).map((p) => p.use));
  return fs.readdirSync(path.join(ROOT, 'plugins')).filter((name) => fs.existsSync(path.join(ROOT, 'plugins', name, 'index.ts')) && !used.has(name));
}

export const startupScenario: Scenario = {
  name: 'startup',
  description: 'spawn → ready and idle RSS, the shipped config and others vs a bare node + ws server',
  unavailable() {
    return fs.existsSync(AGENT_BIN) ? undefined : `${AGENT_BIN} not found`;
  },
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'praxis-bench-startup-'));
    let starts = 0;
    const shippedEnv = async (): Promise<NodeJS.ProcessEnv> => ({
      PRAXIS_PORT: String(await freePort()),
      PRAXIS_WS_PORT: '0',
      PRAXIS_DATA_DIR: path.join(dir, `data-${starts++}`),
    });
    const pluginsOff = writeConfig(
      dir,
      'shipped-plugins-off',
      shippedConfig((config) => {
        for (const plugin of config.plugins as Record<string, unknown>[]) plugin.enabled = false;
        for (const receiver of ((config.alerting as Record<string, unknown>).receivers as Record<string, unknown>[]) ?? []) receiver.sinks = [];
      }),
    );
    const minimal = writeConfig(dir, 'minimal', benchConfig('bench-startup', { plugins: [{ name: 'events-log', use: 'event-logger', config: {} }] }));
    const variants: Variant[] = [
      { name: BASELINE, args: [path.join(__dirname, '..', 'baselines', 'bare-ws-server.js')], ready: /^listening (\d+)$/ },
      { name: SHIPPED, args: agentArgs(SHIPPED_CONFIG, agentNodeArgs()), ready: AGENT_READY, env: shippedEnv },
      { name: 'agent (shipped config, plugins off)', args: agentArgs(pluginsOff, agentNodeArgs()), ready: AGENT_READY, env: shippedEnv },
      { name: MINIMAL, args: agentArgs(minimal, agentNodeArgs()), ready: AGENT_READY },
    ];
    // An A/B in the same run: another build's bin/praxis-agent.js (e.g. of the commit before a change) with the shipped config.
    const other = process.env.BENCH_STARTUP_OTHER_BIN;
    if (other) variants.push({ name: `agent (shipped config, ${other})`, args: [...agentNodeArgs(), other, 'start', '--config', SHIPPED_CONFIG], ready: AGENT_READY, env: shippedEnv });
    const ready: Measurement[] = variants.map((v) => ({ variant: v.name, metric: 'spawn → ready', unit: 'ms', higherIsBetter: false, samples: [] }));
    const rss: Measurement[] = variants.map((v) => ({ variant: v.name, metric: 'idle RSS', unit: 'MiB', higherIsBetter: false, samples: [] }));
    const cpu: Measurement[] = variants.map((v) => ({ variant: v.name, metric: 'main-thread CPU to ready', unit: 'ms', higherIsBetter: false, samples: [] }));
    try {
      for (let round = 0; round < ctx.rounds; round++) {
        for (const [i, variant] of variants.entries()) {
          const proc = await spawnUntilReady(variant.args, variant.ready, 20_000, await variant.env?.());
          try {
            cpu[i]!.samples.push(schedOf(proc.child.pid!).runMs);
            await connectOnce(proc.port);
            ready[i]!.samples.push(proc.readyMs);
            await sleep(ctx.quick ? IDLE_MS / 4 : IDLE_MS);
            rss[i]!.samples.push(rssOf(proc.child.pid!) / 2 ** 20);
          } finally {
            await proc.stop();
          }
        }
        ctx.log(`startup round ${round + 1}/${ctx.rounds}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const missing = builtinsNotShipped();
    const targets: Target[] = [
      // Issue 12: the shipped config, which runs every built-in plugin.
      { kind: 'ratio_at_most', variant: SHIPPED, baseline: BASELINE, metric: 'spawn → ready', value: 2.5 },
      { kind: 'ratio_at_most', variant: SHIPPED, baseline: BASELINE, metric: 'idle RSS', value: 1.5 },
      // Issue 6: the minimal agent.
      { kind: 'ratio_at_most', variant: MINIMAL, baseline: BASELINE, metric: 'spawn → ready', value: 4 },
      { kind: 'ratio_at_most', variant: MINIMAL, baseline: BASELINE, metric: 'idle RSS', value: 1.5 },
    ];
    return {
      scenario: 'startup',
      description: this.description,
      rounds: ctx.rounds,
      measurements: [...rss, ...ready, ...cpu],
      targets,
      notes: [
        `shipped config: ${missing.length ? `built-in plugins it does not use: ${missing.join(', ')}` : 'every built-in plugin'}, the store and alerting; a fresh data dir per start; RSS read ${ctx.quick ? IDLE_MS / 4 : IDLE_MS} ms after ready`,
      ],
    };
  },
};
