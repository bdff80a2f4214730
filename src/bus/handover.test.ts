import { FakeClock } from '../core/clock';
import { EventRegistry } from '../events/registry';
import { EventBus, ScopedBus } from './event-bus';
import { deferred, settle, waitFor } from '../../test/helpers/async';

const numbered = (n: number) => ({ severity: 'info' as const, message: String(n), component: 'test' });

/** The hot-reload primitive: a plugin's paused subscriptions handed to its successor's ScopedBus. */
describe('ScopedBus.suspend / hand-over', () => {
  it('pauses delivery, keeps queueing (a blocked publisher included), and hands everything over in order', async () => {
    const bus = new EventBus(new EventRegistry(), new FakeClock(), { queue_capacity: 2, overflow: 'block' });
    const old = new ScopedBus(bus, 'p');
    const gate = deferred();
    const first: number[] = [];
    old.subscribe('system.error', async (e) => {
      first.push(Number(e.data.message));
      if (first.length === 1) await gate.promise;
    }, { name: 'onError' });
    await bus.publish('system.error', numbered(1));
    await waitFor(() => first.length === 1, { what: 'old instance busy with event 1' });

    const suspended = old.suspend();
    expect(suspended).toHaveLength(1);
    expect(old.subscriptionCount).toBe(0);
    await bus.publish('system.error', numbered(2));
    await bus.publish('system.error', numbered(3));
    let fourthQueued = false;
    const fourth = bus.publish('system.error', numbered(4)).then(() => (fourthQueued = true)); // full: blocks
    gate.resolve();
    await Promise.all(suspended.map((s) => s.queue.whenIdle()));
    await settle();
    expect(first).toEqual([1]); // paused: the old instance gets nothing more
    expect(fourthQueued).toBe(false);
    await bus.idle(); // a paused queue does not hold up idle()

    const next = new ScopedBus(bus, 'p', {}, suspended);
    const second: number[] = [];
    next.subscribe('system.error', (e) => void second.push(Number(e.data.message)), { name: 'onError' });
    await fourth;
    await bus.publish('system.error', numbered(5));
    await bus.idle();
    expect(second).toEqual([2, 3, 4, 5]);
    expect(next.dropUnclaimed()).toBe(0);
    const stats = bus.stats();
    expect(stats.events_dropped).toBe(0);
    expect(stats.handlers.map((h) => h.state)).toEqual(['active']);
  });

  it('closes subscriptions the successor does not make again, counting their events as dropped', async () => {
    const bus = new EventBus(new EventRegistry(), new FakeClock());
    const old = new ScopedBus(bus, 'p');
    const unsubscribe = old.subscribe('system.error', () => undefined, { name: 'a' });
    old.subscribe('config.changed', () => undefined, { name: 'b' });
    const suspended = old.suspend();
    unsubscribe(); // the old instance's own unsubscribe no longer touches the handed-over queue
    expect(suspended.map((s) => s.queue.state)).toEqual(['active', 'active']);
    await bus.publish('system.error', numbered(1));
    await bus.publish('system.error', numbered(2));

    const next = new ScopedBus(bus, 'p', {}, suspended);
    const got: string[] = [];
    next.subscribe('config.changed', (e) => void got.push(e.data.config_path), { name: 'b' });
    next.subscribe('system.error', () => undefined, { name: 'renamed' }); // a different name: a new subscription
    expect(next.dropUnclaimed()).toBe(2);
    await bus.idle();
    expect(bus.stats().events_dropped).toBe(2);
    expect(bus.stats().handlers.filter((h) => h.state === 'active')).toHaveLength(2);
    await bus.publish('config.changed', { config_path: 'a.yaml#x', old_value: 1, new_value: 2 });
    await bus.idle();
    expect(got).toEqual(['a.yaml#x']);
    next.close();
    expect(bus.stats().active_handlers).toBe(0);
  });
});
