/**
 * Fleet mode, the sidecar: events/s from the bus into the JetStream stream, every PubAck received.
 * In-process against a real nats-server (JetStream, file storage, started by the bench). Variants,
 * interleaved round by round, each into a fresh stream:
 *   - agent: publish → store → forward: N events published on the bus (validation, metadata), the
 *     event store appends and group-commits them (its defaults), the nats plugin reads them back
 *     once committed and publishes each with Nats-Msg-Id, up to 256 PubAcks in flight; timed from
 *     the first publish to the last PubAck;
 *   - agent: forward a backlog: the same N events already in the store (an outage ending): the
 *     plugin starts and forwards them; timed from start to the last PubAck;
 *   - baseline: bare JetStream publish of the same N event JSON texts with Nats-Msg-Id, 256 in
 *     flight, awaiting every PubAck (what the forwarder does, without reading a store).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import plugin from '../../plugins/nats/index';
import type { NatsPlugin } from '../../plugins/nats/nats.plugin';
import { SystemClock } from '../../src/core/clock';
import { PluginHarness } from '../../src/testing/harness';
import { SqliteEventStore } from '../../src/store/sqlite-event-store';
import { BenchNatsServer } from '../nats-server';
import type { Measurement, Scenario, ScenarioContext, ScenarioResult } from '../harness';

const IN_FLIGHT = 256;
const DATA = { service_name: 'checkout', status: 'degraded' as const, metrics: { latency_ms: 912, consecutive_failures: 2 } };

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 1));
}

interface Round {
  stream: string;
  dir: string;
}

function round(i: number, variant: string): Round {
  return { stream: `BENCH_${variant}_${i}_${process.pid}`, dir: mkdtempSync(path.join(tmpdir(), 'praxis-bench-fleet-')) };
}

function harness(url: string, r: Round, store: SqliteEventStore): PluginHarness {
  return new PluginHarness(plugin, {
    name: 'fleet',
    clock: new SystemClock(),
    store,
    config: { servers: [url], agent_id: 'bench', subject_prefix: `bench.${r.stream}`, stream: { name: r.stream }, forward: { max_in_flight: IN_FLIGHT, checkpoint_file: path.join(r.dir, 'cp.json') } },
  });
}

/** Publish N on the bus, forwarded live; events/s. */
async function live(url: string, r: Round, n: number): Promise<number> {
  const store = new SqliteEventStore({ dir: r.dir }, new SystemClock());
  store.open();
  const h = harness(url, r, store);
  await h.start();
  const plugin = h.instance as NatsPlugin;
  await until(() => plugin.stats().stream_ok === true);
  const base = store.head;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await h.bus.publish('service.status', DATA);
  await until(() => (plugin.stats().last_acked_offset as number) >= base + n);
  const s = seconds(start);
  await h.stop();
  store.close();
  return n / s;
}

/** N events already in the store, forwarded when the plugin starts; events/s. */
async function backlog(url: string, r: Round, n: number): Promise<number> {
  const store = new SqliteEventStore({ dir: r.dir }, new SystemClock());
  store.open();
  const h = harness(url, r, store);
  for (let i = 0; i < n; i++) await h.bus.publish('service.status', DATA);
  await h.bus.idle();
  store.flush();
  const head = store.head;
  const start = process.hrtime.bigint();
  await h.start();
  const plugin = h.instance as NatsPlugin;
  await until(() => plugin.stats().last_acked_offset === head);
  const s = seconds(start);
  await h.stop();
  store.close();
  return n / s;
}

/** Bare JetStream publish of the same JSON texts, IN_FLIGHT PubAcks outstanding; events/s. */
async function bare(url: string, r: Round, n: number): Promise<number> {
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: r.stream, subjects: [`bench.${r.stream}.>`] });
  const js = jetstream(nc);
  const ts = new Date().toISOString();
  const texts = Array.from({ length: n }, (_, i) => {
    const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    return { id, json: JSON.stringify({ type: 'service.status', data: DATA, metadata: { event_id: id, timestamp: ts, source: 'bench', tags: [] } }) };
  });
  const start = process.hrtime.bigint();
  const inflight = new Set<Promise<unknown>>();
  for (const t of texts) {
    const p = js.publish(`bench.${r.stream}.bench.service.status`, t.json, { msgID: t.id });
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
    if (inflight.size >= IN_FLIGHT) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  const s = seconds(start);
  await nc.close();
  return n / s;
}

async function cleanup(url: string, r: Round): Promise<void> {
  const nc = await connect({ servers: url });
  await (await jetstreamManager(nc)).streams.delete(r.stream).catch(() => undefined);
  await nc.close();
  rmSync(r.dir, { recursive: true, force: true });
}

export const fleetForwardScenario: Scenario = {
  name: 'fleet-forward',
  description: 'fleet mode sidecar: bus → store → JetStream with every PubAck, vs bare JetStream publish',
  unavailable: () => BenchNatsServer.unavailable(),
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const n = ctx.quick ? 2_000 : 20_000;
    const server = await BenchNatsServer.start();
    const variants: Array<[string, (url: string, r: Round, n: number) => Promise<number>]> = [
      ['agent: publish → store → forward', live],
      ['agent: forward a backlog', backlog],
      ['baseline: bare JetStream publish', bare],
    ];
    const measurements: Measurement[] = variants.map(([variant]) => ({ variant, metric: 'throughput', unit: 'events/s acknowledged', higherIsBetter: true, samples: [] }));
    try {
      for (let i = 0; i < ctx.rounds; i++) {
        for (const [v, [name, run]] of variants.entries()) {
          const r = round(i, String(v));
          measurements[v]!.samples.push(await run(server.url, r, n));
          await cleanup(server.url, r);
          ctx.log(`fleet-forward round ${i + 1}/${ctx.rounds}: ${name}`);
        }
      }
    } finally {
      await server.stop();
    }
    return {
      scenario: 'fleet-forward',
      description: this.description,
      rounds: ctx.rounds,
      measurements,
      targets: [],
      notes: [`${n} service.status events per variant and round, ${IN_FLIGHT} PubAcks in flight, one nats-server 2.9 (file storage) on the same machine`],
    };
  },
};
