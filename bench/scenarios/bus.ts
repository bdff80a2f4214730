/**
 * Bus throughput: bursts of events published to 4 typed handlers of one type, drained, repeated.
 * Variants, interleaved round by round so machine noise hits them alike:
 *   - agent (validated): `EventBus.publish` — zod validation of data, metadata stamped (UUID, ISO timestamp)
 *   - agent (validated, from a plugin): the same through a plugin's `ScopedBus`, which passes
 *     `{ source: <plugin> }` as metadata (so the metadata is validated too)
 *   - agent (pre-validated): `EventBus.publishValidated` — the core's path for events it already
 *     validated (store replay), no zod, metadata taken as given
 *   - baseline: microtask bus — one array queue per listener drained with queueMicrotask
 *   - reference: EventEmitter — synchronous emit, no queue at all
 * Every variant's handlers count what they receive; a round whose counts are short fails the run.
 */
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import { EventBus, ScopedBus } from '../../src/bus/event-bus';
import { SystemClock } from '../../src/core/clock';
import { EventRegistry } from '../../src/events/registry';
import type { Event, EventType } from '../../src/events/types';
import { MicrotaskBus } from '../baselines/microtask-bus';
import { nextTurn, type Measurement, type Scenario, type ScenarioContext, type ScenarioResult } from '../harness';

const TYPE = 'bench.sample';
const HANDLERS = 4;
/** Events per burst: below the default queue capacity (1024), so the agent's bus never blocks. */
const BURST = 1000;

/** A plugin-style event type: a strict object with a few typed fields. */
const sampleSchema = z.strictObject({
  service: z.string().min(1),
  status: z.enum(['healthy', 'degraded', 'unhealthy']),
  seq: z.number().int().nonnegative(),
  latency_ms: z.number().nonnegative(),
});
type Sample = z.infer<typeof sampleSchema>;

interface Variant {
  name: string;
  /** Publishes events [from, to) and resolves when every handler has seen them. */
  burst(from: number, to: number): Promise<void>;
  received(): number;
}

function counter(): { handle: (event: { data: unknown }) => void; count: () => number } {
  let n = 0;
  let sum = 0;
  return {
    handle: (event) => {
      sum += (event.data as Sample).seq;
      n++;
    },
    count: () => (sum >= 0 ? n : -1),
  };
}

function agentBus(): { bus: EventBus; counters: ReturnType<typeof counter>[] } {
  const registry = new EventRegistry();
  registry.register(TYPE, sampleSchema, 'bench');
  const bus = new EventBus(registry, new SystemClock());
  const counters = Array.from({ length: HANDLERS }, counter);
  for (const c of counters) bus.subscribe(TYPE as EventType, c.handle);
  return { bus, counters };
}

const total = (counters: ReturnType<typeof counter>[]) => counters.reduce((s, c) => s + c.count(), 0);

function agentValidated(): Variant {
  const { bus, counters } = agentBus();
  return {
    name: 'agent (validated)',
    async burst(from, to) {
      for (let i = from; i < to; i++) {
        // Not awaited: publish resolves once queued, and a burst never fills a queue.
        void bus.publish(TYPE as EventType, { service: 'checkout', status: 'healthy', seq: i, latency_ms: 12.5 } as never);
      }
      await nextTurn();
    },
    received: () => total(counters),
  };
}

/** What a plugin does: publish through its ScopedBus, which names the plugin as the event's source. */
function agentPlugin(): Variant {
  const { bus, counters } = agentBus();
  const scoped = new ScopedBus(bus, 'bench-plugin');
  return {
    name: 'agent (validated, from a plugin)',
    async burst(from, to) {
      for (let i = from; i < to; i++) {
        void scoped.publish(TYPE as EventType, { service: 'checkout', status: 'healthy', seq: i, latency_ms: 12.5 } as never);
      }
      await nextTurn();
    },
    received: () => total(counters),
  };
}

function agentPrevalidated(): Variant {
  const { bus, counters } = agentBus();
  // Replay-like input: ids and timestamps already exist as strings (read back from storage).
  const id = '0b6f4c1e-8d0a-4c57-9a35-2f1d1c3b8e11';
  const ts = '2026-11-25T15:00:00.000Z';
  return {
    name: 'agent (pre-validated)',
    async burst(from, to) {
      for (let i = from; i < to; i++) {
        const event = { type: TYPE, data: { service: 'checkout', status: 'healthy', seq: i, latency_ms: 12.5 }, metadata: { event_id: id, timestamp: ts, tags: [] } };
        void bus.publishValidated(event as unknown as Event);
      }
      await nextTurn();
    },
    received: () => total(counters),
  };
}

function microtaskBaseline(): Variant {
  const bus = new MicrotaskBus();
  const counters = Array.from({ length: HANDLERS }, counter);
  for (const c of counters) bus.subscribe(TYPE, c.handle);
  return {
    name: 'baseline: microtask bus',
    async burst(from, to) {
      for (let i = from; i < to; i++) bus.publish(TYPE, { service: 'checkout', status: 'healthy', seq: i, latency_ms: 12.5 });
      await nextTurn();
    },
    received: () => total(counters),
  };
}

function eventEmitterReference(): Variant {
  const emitter = new EventEmitter();
  const counters = Array.from({ length: HANDLERS }, counter);
  for (const c of counters) emitter.on(TYPE, (data: unknown) => c.handle({ data }));
  return {
    name: 'reference: EventEmitter',
    async burst(from, to) {
      for (let i = from; i < to; i++) emitter.emit(TYPE, { service: 'checkout', status: 'healthy', seq: i, latency_ms: 12.5 });
      await nextTurn();
    },
    received: () => total(counters),
  };
}

/** Events per second of `events` events in bursts; throws when a handler missed some. */
async function measure(variant: Variant, events: number): Promise<number> {
  const before = variant.received();
  const start = process.hrtime.bigint();
  for (let from = 0; from < events; from += BURST) await variant.burst(from, Math.min(events, from + BURST));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const got = variant.received() - before;
  if (got !== events * HANDLERS) throw new Error(`${variant.name}: handlers received ${got} of ${events * HANDLERS} events`);
  return events / seconds;
}

export const busScenario: Scenario = {
  name: 'bus',
  description: `publish → ${HANDLERS} typed handlers, bursts of ${BURST}`,
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const events = ctx.quick ? 50_000 : 300_000;
    const variants = [microtaskBaseline(), agentValidated(), agentPlugin(), agentPrevalidated(), eventEmitterReference()];
    const measurements: Measurement[] = variants.map((v) => ({ variant: v.name, metric: 'throughput', unit: 'events/s', higherIsBetter: true, samples: [] }));
    // Warm-up: let the JIT settle on every path before anything counts.
    for (const v of variants) await measure(v, Math.min(events, 100_000));
    for (let round = 0; round < ctx.rounds; round++) {
      for (let i = 0; i < variants.length; i++) {
        const rate = await measure(variants[i] as Variant, events);
        measurements[i]!.samples.push(rate);
      }
      ctx.log(`bus round ${round + 1}/${ctx.rounds}`);
    }
    return {
      scenario: 'bus',
      description: this.description,
      rounds: ctx.rounds,
      measurements,
      targets: [
        { kind: 'at_least', variant: 'agent (validated)', metric: 'throughput', value: 1_000_000, unit: 'events/s' },
        { kind: 'at_least', variant: 'agent (validated, from a plugin)', metric: 'throughput', value: 1_000_000, unit: 'events/s' },
        { kind: 'ratio_at_least', variant: 'agent (pre-validated)', baseline: 'baseline: microtask bus', metric: 'throughput', value: 0.25 },
      ],
      notes: [`${events} events per round and variant; zod validation + UUID + ISO timestamp per event on the validated path`],
    };
  },
};
