import { FakeClock } from '../core/clock';
import { EventRegistry } from '../events/registry';
import type { Event } from '../events/types';
import { EventBus, type BusOptions } from './event-bus';
import { deferred, waitFor } from '../../test/helpers/async';

function setup(options: Partial<BusOptions> = {}): EventBus {
  return new EventBus(new EventRegistry(), new FakeClock(), options);
}

/** A small seeded PRNG (mulberry32) so a failing interleaving can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Yields a random number of times, mixing microtask and macrotask turns. */
async function jitter(rand: () => number): Promise<void> {
  const turns = Math.floor(rand() * 4);
  for (let i = 0; i < turns; i++) {
    if (rand() < 0.3) await new Promise((resolve) => setImmediate(resolve));
    else await Promise.resolve();
  }
}

/** A handler that records what it receives and how many of its own calls overlap. */
function tracked(rand: () => number) {
  const seen: string[] = [];
  let active = 0;
  let maxActive = 0;
  const handler = async (event: Event<'system.error'>): Promise<void> => {
    active++;
    maxActive = Math.max(maxActive, active);
    await jitter(rand);
    seen.push(`${event.data.component}:${event.data.message}`);
    await jitter(rand);
    active--;
  };
  return { seen, handler, maxActive: () => maxActive };
}

const numbered = (publisher: string, n: number) => ({ severity: 'info' as const, message: String(n), component: publisher });

/** The numbers one publisher's events arrived with, in arrival order. */
function sequenceOf(seen: string[], publisher: string): number[] {
  return seen.filter((s) => s.startsWith(`${publisher}:`)).map((s) => Number(s.split(':')[1]));
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('delivery order', () => {
  it.each([1, 2, 3])('one handler gets events in publish order, one at a time (seed %i)', async (seed) => {
    const rand = random(seed);
    const bus = setup();
    const a = tracked(rand);
    const b = tracked(rand);
    bus.subscribe('system.error', a.handler);
    bus.subscribe('system.error', b.handler);

    for (let i = 0; i < 200; i++) {
      await bus.publish('system.error', numbered('p', i));
      if (rand() < 0.2) await jitter(rand);
    }
    await bus.idle();

    expect(sequenceOf(a.seen, 'p')).toEqual(range(200));
    expect(sequenceOf(b.seen, 'p')).toEqual(range(200));
    expect(a.maxActive()).toBe(1);
    expect(b.maxActive()).toBe(1);
  });

  it('keeps order without awaiting publish (fire-and-forget publishers)', async () => {
    const rand = random(7);
    const bus = setup();
    const h = tracked(rand);
    bus.subscribe('system.error', h.handler);
    const publishes = range(100).map((i) => bus.publish('system.error', numbered('p', i)));
    await Promise.all(publishes);
    await bus.idle();
    expect(sequenceOf(h.seen, 'p')).toEqual(range(100));
    expect(h.maxActive()).toBe(1);
  });

  it.each([
    ['an ample queue', {}],
    ['a small blocking queue', { queue_capacity: 2, overflow: 'block' as const }],
  ])('concurrent publishers each keep their order for every handler, with %s', async (_what, options) => {
    const rand = random(42);
    const bus = setup(options);
    const handlers = [tracked(rand), tracked(rand), tracked(rand)];
    bus.subscribe('system.error', handlers[0].handler);
    bus.subscribe('system.*', handlers[1].handler as (e: Event<'system.error' | 'system.health' | 'system.shutdown'>) => Promise<void>);
    bus.subscribe('*', handlers[2].handler as (e: Event) => Promise<void>);

    const publishers = ['p0', 'p1', 'p2', 'p3', 'p4'];
    const perPublisher = 60;
    await Promise.all(
      publishers.map(async (p) => {
        for (let i = 0; i < perPublisher; i++) {
          await bus.publish('system.error', numbered(p, i));
          await jitter(rand);
        }
      }),
    );
    await bus.idle();

    for (const h of handlers) {
      expect(h.seen).toHaveLength(publishers.length * perPublisher);
      for (const p of publishers) expect(sequenceOf(h.seen, p)).toEqual(range(perPublisher));
      expect(h.maxActive()).toBe(1);
    }
    // Publishers really interleaved (otherwise the test proves little) ...
    expect(handlers[0].seen.slice(0, perPublisher).some((s) => !s.startsWith('p0:'))).toBe(true);
    // ... and every handler saw the same global order.
    expect(handlers[1].seen).toEqual(handlers[0].seen);
    expect(handlers[2].seen).toEqual(handlers[0].seen);
    expect(bus.stats().events_dropped).toBe(0);
  });
});

describe('handler concurrency', () => {
  it('a slow handler does not hold back another handler', async () => {
    const bus = setup();
    const gate = deferred();
    const slow: string[] = [];
    const fast: string[] = [];
    bus.subscribe('system.error', async (e) => {
      slow.push(e.data.message);
      await gate.promise;
    }, { name: 'slow' });
    bus.subscribe('system.error', (e) => {
      fast.push(e.data.message);
    }, { name: 'fast' });

    for (let i = 0; i < 10; i++) await bus.publish('system.error', numbered('p', i));
    await waitFor(() => fast.length === 10, { what: 'fast handler received everything' });

    // The slow handler is still stuck on its first event while the fast one is done.
    expect(fast).toEqual(range(10).map(String));
    expect(slow).toEqual(['0']);
    const stats = Object.fromEntries(bus.stats().handlers.map((h) => [h.id.split('#')[0], h]));
    expect(stats['core:slow']).toMatchObject({ queue_depth: 9, processed: 0 });
    expect(stats['core:fast']).toMatchObject({ queue_depth: 0, processed: 10 });

    gate.resolve();
    await bus.idle();
    expect(slow).toEqual(range(10).map(String));
  });

  it('two handlers are in flight at the same time', async () => {
    const bus = setup();
    const gateA = deferred();
    const gateB = deferred();
    let inA = false;
    let inB = false;
    bus.subscribe('system.error', async () => {
      inA = true;
      await gateA.promise;
    });
    bus.subscribe('system.error', async () => {
      inB = true;
      await gateB.promise;
    });
    await bus.publish('system.error', numbered('p', 0));
    // Both started although neither has finished.
    await waitFor(() => inA && inB, { what: 'both handlers running' });
    gateB.resolve();
    gateA.resolve();
    await bus.idle();
    expect(bus.stats().events_processed).toBe(2);
  });
});
