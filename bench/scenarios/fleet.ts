/**
 * Fleet mode end to end: events POSTed to a sidecar agent (store on, nats sidecar) are forwarded to
 * a JetStream stream and consumed by an aggregator agent (store on, nats aggregator) into its bus
 * and store; events/s from the first POST until the aggregator has published the last one. The
 * baseline in the same run: the same messages (the stored events' JSON, Nats-Msg-Id headers)
 * published bare from the runner with the sidecar's window of PubAcks in flight (256), and consumed
 * by a bare durable pull consumer process that acks each (batches of 100, as the aggregator).
 * Both against a nats-server of the bench's own (started for the scenario, like fleet-forward's),
 * on streams of their own.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { jetstream, jetstreamManager, type PubAck } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { agentStats, benchConfig, startAgent, storeSection, writeConfig } from '../agent-process';
import { BenchNatsServer } from '../nats-server';
import type { Measurement, Scenario, ScenarioContext, ScenarioResult } from '../harness';
import { AGENT_BIN, ROOT, sleep, track } from '../process-probe';

const FLEET = 'agents: sidecar → JetStream → aggregator';
const BARE = 'baseline: bare NATS publish → pull consume';
const BATCH = 100;
const IN_FLIGHT = 256;

function natsPlugin(url: string, role: 'sidecar' | 'aggregator', prefix: string, stream: string, dir: string): Record<string, unknown> {
  return {
    name: 'fleet',
    use: 'nats',
    config: { servers: [url], role, agent_id: `bench-${role}`, subject_prefix: prefix, stream: { name: stream }, forward: { checkpoint_file: path.join(dir, 'forward.json') } },
  };
}

/** The arrays of `BATCH` system.error events the sidecar is sent. */
function bodies(count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i += BATCH) {
    out.push(JSON.stringify(Array.from({ length: Math.min(BATCH, count - i) }, (_, j) => ({ type: 'system.error', data: { severity: 'error', message: `bench error ${i + j}`, component: 'bench' } }))));
  }
  return out;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`fleet bench: timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function fleetRound(url: string, dir: string, count: number): Promise<{ rate: number; note: string }> {
  const id = randomUUID().slice(0, 8);
  const prefix = `bench${id}.events`;
  const stream = `BENCH_FLEET_${id}`;
  const sidecarData = path.join(dir, `sidecar-${id}`);
  const aggregatorData = path.join(dir, `aggregator-${id}`);
  const sidecar = await startAgent(writeConfig(dir, `sidecar-${id}`, benchConfig('bench-sidecar', { store: storeSection(sidecarData), plugins: [natsPlugin(url, 'sidecar', prefix, stream, sidecarData)] })));
  const aggregator = await startAgent(writeConfig(dir, `aggregator-${id}`, benchConfig('bench-aggregator', { store: storeSection(aggregatorData), plugins: [natsPlugin(url, 'aggregator', prefix, stream, aggregatorData)] })));
  const published = async (): Promise<number> => ((await agentStats(aggregator.port)).components as Record<string, { inbox?: { published: number } }>).fleet?.inbox?.published ?? 0;
  try {
    await until('the aggregator to consume', async () => ((await agentStats(aggregator.port)).components as Record<string, { consuming?: boolean }>).fleet?.consuming === true, 20_000);
    const started = performance.now();
    for (const body of bodies(count)) {
      const res = await fetch(`http://127.0.0.1:${sidecar.port}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (res.status !== 202) throw new Error(`fleet bench: POST /events answered ${res.status}`);
      await res.arrayBuffer();
    }
    const posted = performance.now() - started;
    await until('the aggregator to publish every event', async () => (await published()) >= count, 120_000);
    const elapsed = performance.now() - started;
    return { rate: count / (elapsed / 1000), note: `${count} events POSTed in ${posted.toFixed(0)} ms, on the aggregator's bus after ${elapsed.toFixed(0)} ms` };
  } finally {
    await Promise.all([sidecar.proc.stop(), aggregator.proc.stop()]);
    await deleteStream(url, stream);
  }
}

/** What the sidecar would forward: the events' JSON as its store keeps them, with their ids. */
function storedEvents(count: number): { id: string; json: string }[] {
  return Array.from({ length: count }, (_, i) => {
    const id = randomUUID();
    const event = { type: 'system.error', data: { severity: 'error', message: `bench error ${i}`, component: 'bench' }, metadata: { event_id: id, timestamp: new Date().toISOString(), tags: [], source: 'ingest' } };
    return { id, json: JSON.stringify(event) };
  });
}

async function bareRound(url: string, count: number): Promise<{ rate: number; note: string }> {
  const id = randomUUID().slice(0, 8);
  const prefix = `bench${id}.events`;
  const stream = `BENCH_BARE_${id}`;
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`] });
    const consumer = track(spawn(process.execPath, [path.join(ROOT, 'dist', 'bench', 'baselines', 'bare-nats-consumer.js'), url, stream, `${prefix}.>`, 'bare', String(count), String(BATCH)], { stdio: ['ignore', 'pipe', 'inherit'] }));
    const lines = readline.createInterface({ input: consumer.stdout! });
    const next = (): Promise<string> => new Promise((resolve) => lines.once('line', resolve));
    if ((await next()) !== 'ready') throw new Error('fleet bench: bare consumer did not start');
    const done = next();
    const events = storedEvents(count);
    const js = jetstream(nc);
    const subject = `${prefix}.bench-sidecar.system.error`;
    const started = performance.now();
    const window: Promise<PubAck>[] = [];
    for (const e of events) {
      const h = headers();
      h.set('Praxis-Agent', 'bench-sidecar');
      window.push(js.publish(subject, e.json, { msgID: e.id, headers: h }));
      if (window.length >= IN_FLIGHT) await window.shift();
    }
    await Promise.all(window);
    const published = performance.now() - started;
    await done;
    const elapsed = performance.now() - started;
    await new Promise((resolve) => consumer.once('exit', resolve));
    return { rate: count / (elapsed / 1000), note: `${count} messages published in ${published.toFixed(0)} ms, consumed after ${elapsed.toFixed(0)} ms` };
  } finally {
    await deleteStream(url, stream, nc);
    await nc.close();
  }
}

async function deleteStream(url: string, name: string, existing?: NatsConnection): Promise<void> {
  const nc = existing ?? (await connect({ servers: url }));
  try {
    await (await jetstreamManager(nc)).streams.delete(name).catch(() => undefined);
  } finally {
    if (!existing) await nc.close();
  }
}

export const fleetScenario: Scenario = {
  name: 'fleet',
  description: 'events/s from POST /events on a sidecar through JetStream into an aggregator\'s bus, vs bare NATS publish and pull consume of the same messages',
  unavailable() {
    if (!fs.existsSync(AGENT_BIN)) return `${AGENT_BIN} not found`;
    return BenchNatsServer.unavailable();
  },
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const count = ctx.quick ? 2_000 : 20_000;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'praxis-bench-fleet-'));
    const measurements: Measurement[] = [FLEET, BARE].map((variant) => ({ variant, metric: 'events/s end to end', unit: 'events/s', higherIsBetter: true, samples: [] }));
    const notes: string[] = [];
    const server = await BenchNatsServer.start();
    try {
      for (let round = 0; round < ctx.rounds; round++) {
        // Alternate which goes first, so a burst of load from elsewhere does not always hit the same one.
        const order = round % 2 === 0 ? ['fleet', 'bare'] : ['bare', 'fleet'];
        for (const which of order) {
          const result = which === 'fleet' ? await fleetRound(server.url, dir, count) : await bareRound(server.url, count);
          (measurements[which === 'fleet' ? 0 : 1] as Measurement).samples.push(result.rate);
          if (round === ctx.rounds - 1) notes.push(`last round, ${which}: ${result.note}`);
        }
        ctx.log(`fleet round ${round + 1}/${ctx.rounds}`);
      }
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    return {
      scenario: 'fleet',
      description: this.description,
      rounds: ctx.rounds,
      measurements,
      targets: [],
      notes: [
        `${count} events per round; a nats-server -js of the bench's own; agents with the store at shipped settings (commit_interval 100ms), the plugin at its defaults (max_in_flight 256, batch 100, max_ack_pending 1000)`,
        'the agent path includes ingest (arrays of 100, one connection), the sidecar store commit before forwarding, the aggregator\'s validation, bus, store commit before the ack',
        ...notes,
      ],
    };
  },
};
