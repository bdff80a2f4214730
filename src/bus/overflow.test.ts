import { FakeClock } from '../core/clock';
import { EventRegistry } from '../events/registry';
import type { OverflowPolicy } from './bus';
import { EventBus, type BusOptions } from './event-bus';
import type { HandlerStats } from './handler-queue';
import { deferred, settle, waitFor } from '../../test/helpers/async';

function setup(options: Partial<BusOptions> = {}): EventBus {
  return new EventBus(new EventRegistry(), new FakeClock(), options);
}

const numbered = (n: number) => ({ severity: 'info' as const, message: String(n), component: 'test' });

/**
 * A handler stuck on its first event until `release()`; later events pass straight through.
 * `received` lists the event numbers in arrival order.
 */
function blockedHandler(bus: EventBus, capacity: number, overflow: OverflowPolicy) {
  const gate = deferred();
  const received: number[] = [];
  bus.subscribe('system.error', async (e) => {
    received.push(Number(e.data.message));
    if (received.length === 1) await gate.promise;
  }, { name: overflow, capacity, overflow });
  const stats = (): HandlerStats => bus.stats().handlers.find((h) => h.id.startsWith(`core:${overflow}#`)) as HandlerStats;
  return { received, release: gate.resolve, stats };
}

/** Publishes event 1 and waits until the handler holds it, so the queue starts empty. */
async function occupy(bus: EventBus, handler: { received: number[] }): Promise<void> {
  await bus.publish('system.error', numbered(1));
  await waitFor(() => handler.received.length === 1, { what: 'handler busy with event 1' });
}

describe('bounded handler queues', () => {
  it('drop_newest keeps the first events and counts the drops', async () => {
    const bus = setup();
    const h = blockedHandler(bus, 2, 'drop_newest');
    await occupy(bus, h);
    for (let n = 2; n <= 5; n++) await bus.publish('system.error', numbered(n)); // resolves: never blocks

    expect(h.stats()).toMatchObject({ queue_depth: 2, capacity: 2, overflow: 'drop_newest', dropped: 2, processed: 0 });
    expect(bus.stats().events_dropped).toBe(2);
    expect(bus.stats().queued).toBe(2);

    h.release();
    await bus.idle();
    expect(h.received).toEqual([1, 2, 3]);
    const stats = bus.stats();
    expect(h.stats()).toMatchObject({ queue_depth: 0, dropped: 2, processed: 3 });
    expect(stats.events_published).toBe(5);
    expect(stats.events_processed).toBe(3);
    expect(stats.by_type['system.error']).toEqual({ published: 5, processed: 3, dropped: 2 });
  });

  it('drop_oldest keeps the newest events and counts the drops', async () => {
    const bus = setup();
    const h = blockedHandler(bus, 2, 'drop_oldest');
    await occupy(bus, h);
    for (let n = 2; n <= 5; n++) await bus.publish('system.error', numbered(n));

    expect(h.stats()).toMatchObject({ queue_depth: 2, dropped: 2 });
    expect(bus.stats().events_dropped).toBe(2);

    h.release();
    await bus.idle();
    expect(h.received).toEqual([1, 4, 5]);
    expect(h.stats()).toMatchObject({ dropped: 2, processed: 3 });
  });

  it('block makes publish wait until the handler makes room, dropping nothing', async () => {
    const bus = setup();
    const h = blockedHandler(bus, 2, 'block');
    await occupy(bus, h);
    await bus.publish('system.error', numbered(2));
    await bus.publish('system.error', numbered(3));

    let fourthPublished = false;
    const fourth = bus.publish('system.error', numbered(4)).then((event) => {
      fourthPublished = true;
      return event;
    });
    await settle();
    expect(fourthPublished).toBe(false);
    // The waiting publisher counts towards the handler's depth.
    expect(h.stats()).toMatchObject({ queue_depth: 3, dropped: 0 });

    h.release();
    const event = await fourth;
    expect(fourthPublished).toBe(true);
    expect(event.data.message).toBe('4');
    await bus.idle();
    expect(h.received).toEqual([1, 2, 3, 4]);
    expect(h.stats()).toMatchObject({ queue_depth: 0, dropped: 0, processed: 4 });
    expect(bus.stats().events_dropped).toBe(0);
  });

  it('block queues waiting publishers in order', async () => {
    const bus = setup();
    const h = blockedHandler(bus, 1, 'block');
    await occupy(bus, h);
    await bus.publish('system.error', numbered(2));
    const waiting = [3, 4, 5].map((n) => bus.publish('system.error', numbered(n)));
    await settle();
    expect(h.stats().queue_depth).toBe(4);
    h.release();
    await Promise.all(waiting);
    await bus.idle();
    expect(h.received).toEqual([1, 2, 3, 4, 5]);
  });

  it('a blocked publisher still delivers to the other handlers at once', async () => {
    const bus = setup();
    const h = blockedHandler(bus, 1, 'block');
    const others: number[] = [];
    bus.subscribe('system.error', (e) => {
      others.push(Number(e.data.message));
    }, { overflow: 'drop_newest' });
    await occupy(bus, h);
    await bus.publish('system.error', numbered(2));
    const third = bus.publish('system.error', numbered(3));
    await waitFor(() => others.length === 3, { what: 'other handler received all three' });
    expect(others).toEqual([1, 2, 3]);
    h.release();
    await third;
    await bus.idle();
    expect(h.received).toEqual([1, 2, 3]);
  });

  it('unsubscribing a full block handler releases its waiting publishers', async () => {
    const bus = setup();
    const gate = deferred();
    const unsubscribe = bus.subscribe('system.error', () => gate.promise, { capacity: 1, overflow: 'block' });
    await bus.publish('system.error', numbered(1));
    await settle();
    await bus.publish('system.error', numbered(2));
    let released = false;
    const waiting = bus.publish('system.error', numbered(3)).then(() => {
      released = true;
    });
    await settle();
    expect(released).toBe(false);
    unsubscribe();
    await waiting;
    expect(released).toBe(true);
    expect(bus.stats().events_dropped).toBe(2);
    gate.resolve();
    await bus.idle();
  });

  it.each(['drop_newest', 'drop_oldest'] as const)('%s keeps memory bounded: the queue never exceeds its capacity', async (overflow) => {
    const bus = setup();
    const h = blockedHandler(bus, 4, overflow);
    await occupy(bus, h);
    let maxDepth = 0;
    for (let n = 2; n <= 1_000; n++) {
      await bus.publish('system.error', numbered(n));
      maxDepth = Math.max(maxDepth, h.stats().queue_depth);
    }
    expect(maxDepth).toBe(4);
    expect(h.stats().dropped).toBe(995);
    expect(bus.stats().events_dropped).toBe(995);
    h.release();
    await bus.idle();
    expect(h.received).toEqual(overflow === 'drop_newest' ? [1, 2, 3, 4, 5] : [1, 997, 998, 999, 1000]);
  });

  it('a queue that fills up past its first slots, wrapped around, still delivers in order and up to its capacity', async () => {
    // The ring starts with fewer slots than the capacity and grows as events queue up: here it
    // must grow while its events wrap around its end (handler held at events 1 and 11).
    const bus = setup();
    const gates = new Map([1, 11].map((n) => [n, deferred()]));
    const received: number[] = [];
    bus.subscribe('system.error', async (e) => {
      const n = Number(e.data.message);
      received.push(n);
      await gates.get(n)?.promise;
    }, { name: 'growing', capacity: 40, overflow: 'drop_newest' });
    const depth = () => bus.stats().handlers[0]!.queue_depth;
    for (let n = 1; n <= 13; n++) await bus.publish('system.error', numbered(n));
    await waitFor(() => received.length === 1, { what: 'handler busy with event 1' });
    gates.get(1)!.resolve();
    await waitFor(() => received.length === 11, { what: 'handler busy with event 11' });
    // 12 and 13 queued; 14–51 fill the queue to its capacity of 40, 52–60 are dropped.
    for (let n = 14; n <= 60; n++) await bus.publish('system.error', numbered(n));
    expect(depth()).toBe(40);
    expect(bus.stats().events_dropped).toBe(9);
    gates.get(11)!.resolve();
    await bus.idle();
    expect(received).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
  });

  it('takes capacity and policy from the bus options unless the subscription sets them', async () => {
    const bus = setup({ queue_capacity: 3, overflow: 'drop_oldest' });
    bus.subscribe('*', () => undefined, { name: 'defaults' });
    bus.subscribe('*', () => undefined, { name: 'own', capacity: 9, overflow: 'block' });
    expect(bus.stats().handlers.map((h) => [h.id.split('#')[0], h.capacity, h.overflow])).toEqual([
      ['core:defaults', 3, 'drop_oldest'],
      ['core:own', 9, 'block'],
    ]);
    expect(setup().stats().handlers).toEqual([]);
    const plain = setup();
    plain.subscribe('*', () => undefined);
    expect(plain.stats().handlers[0]).toMatchObject({ capacity: 1024, overflow: 'block', pattern: '*', owner: 'core', state: 'active' });
  });
});
