import { z } from 'zod';
import { Clock, FakeClock } from '../core/clock';
import { EventRegistry } from '../events/registry';
import type { Event, EventType } from '../events/types';
import { EventBus } from './event-bus';
import { deferred, settle, waitFor } from '../../test/helpers/async';
import { thrown } from '../../test/helpers/errors';

/** The shortcuts the bus takes for speed (issue 6) must not change what it accepts or delivers. */

const TYPE = 'bench.sample' as EventType;

function setup() {
  let parses = 0;
  const schema = z.strictObject({ seq: z.number().int() }).superRefine(() => {
    parses++;
  });
  const registry = new EventRegistry();
  registry.register(TYPE, schema, 'test');
  const bus = new EventBus(registry, new FakeClock());
  return { bus, parses: () => parses };
}

const stored = (seq: number): Event =>
  ({
    type: TYPE,
    data: { seq },
    metadata: { event_id: '0b6f4c1e-8d0a-4c57-9a35-2f1d1c3b8e11', timestamp: '2026-01-01T00:00:00.000Z', source: 'store', tags: ['replayed'] },
  }) as unknown as Event;

describe('EventBus.publishValidated', () => {
  it('delivers the given event object, in order with publish, without running the schema again', async () => {
    const { bus, parses } = setup();
    const received: Event[] = [];
    bus.subscribe(TYPE as 'system.error', (event) => void received.push(event as Event));

    const replayed = stored(1);
    expect(bus.publishValidated(replayed)).toBeUndefined();
    const published = await bus.publish(TYPE, { seq: 2 } as never);
    bus.publishValidated(stored(3));
    await bus.idle();

    expect(parses()).toBe(1);
    expect(received[0]).toBe(replayed);
    expect(received[1]).toBe(published);
    expect(received.map((e) => (e.data as unknown as { seq: number }).seq)).toEqual([1, 2, 3]);
    expect(bus.stats()).toMatchObject({ events_published: 3, events_processed: 3, by_type: { [TYPE]: { published: 3, processed: 3 } } });
  });

  it('throws EVENT_UNKNOWN_TYPE for a type the registry does not know and delivers nothing', async () => {
    const { bus } = setup();
    const received: Event[] = [];
    bus.subscribe('*', (event) => void received.push(event as Event));

    const error = thrown(() => bus.publishValidated({ ...stored(1), type: 'nobody.knows' } as unknown as Event));

    expect(error.code).toBe('EVENT_UNKNOWN_TYPE');
    await settle();
    expect(received).toEqual([]);
    expect(bus.stats().events_published).toBe(0);
  });

  it('throws BUS_CLOSED once the bus drains', async () => {
    const { bus } = setup();
    await bus.drain();
    expect(thrown(() => bus.publishValidated(stored(1))).code).toBe('BUS_CLOSED');
  });

  it('returns a promise when a block queue is full, resolved once the handler makes room', async () => {
    const { bus } = setup();
    const gate = deferred();
    const seen: number[] = [];
    bus.subscribe(TYPE as 'system.error', async (event) => {
      seen.push((event.data as unknown as { seq: number }).seq);
      await gate.promise;
    }, { capacity: 1, overflow: 'block' });

    expect(bus.publishValidated(stored(1))).toBeUndefined();
    await waitFor(() => seen.length === 1, { what: 'handler got event 1' });
    expect(bus.publishValidated(stored(2))).toBeUndefined();
    const wait = bus.publishValidated(stored(3));
    expect(wait).toBeInstanceOf(Promise);
    let released = false;
    void wait?.then(() => (released = true));
    await settle();
    expect(released).toBe(false);

    gate.resolve();
    await waitFor(() => released, { what: 'blocked publisher released' });
    await bus.idle();
    expect(seen).toEqual([1, 2, 3]);
  });
});

describe('metadata checked without zod', () => {
  it('accepts source, correlation_id and tags as the schema does, deduplicating tags and copying them', async () => {
    const { bus } = setup();
    const tags = ['a', 'b', 'a'];
    const event = await bus.publish(TYPE, { seq: 1 } as never, { source: 'svc', correlation_id: 'c-1', tags });
    tags.push('late');

    expect(event.metadata).toEqual({ event_id: expect.any(String), timestamp: '2026-01-01T00:00:00.000Z', source: 'svc', correlation_id: 'c-1', tags: ['a', 'b'] });
  });

  it('leaves what it does not recognise to the schema: explicit undefined, null-prototype objects', async () => {
    const { bus } = setup();
    const withUndefined = await bus.publish(TYPE, { seq: 1 } as never, { source: undefined, tags: ['x'] });
    expect(withUndefined.metadata).toEqual({ event_id: expect.any(String), timestamp: expect.any(String), tags: ['x'] });
    expect('source' in withUndefined.metadata).toBe(false);

    const bare = Object.assign(Object.create(null) as object, { source: 'svc' });
    expect((await bus.publish(TYPE, { seq: 1 } as never, bare)).metadata.source).toBe('svc');
  });

  it.each([
    ['a non-string source', { source: 42 }, 'metadata.source'],
    ['an empty correlation_id', { correlation_id: '' }, 'metadata.correlation_id'],
    ['a non-string tag', { tags: ['ok', 7] }, 'metadata.tags[1]'],
    ['an unknown key beside a valid source', { source: 'svc', priority: 'high' }, 'metadata.priority'],
  ])('still rejects %s with the schema\'s field path', async (_what, metadata, path) => {
    const { bus } = setup();
    await expect(bus.publish(TYPE, { seq: 1 } as never, metadata as never)).rejects.toMatchObject({
      code: 'EVENT_INVALID',
      details: { issues: [expect.objectContaining({ path })] },
    });
  });
});

describe('Clock.isoNow', () => {
  class SetClock extends Clock {
    ms = 0;
    now(): number {
      return this.ms;
    }
    setTimeout(): () => void {
      return () => undefined;
    }
  }

  it('formats the current millisecond, reusing the string only while the millisecond is the same', () => {
    const clock = new SetClock();
    clock.ms = Date.UTC(2026, 0, 1, 12, 0, 0, 5);
    const first = clock.isoNow();
    expect(first).toBe('2026-01-01T12:00:00.005Z');
    expect(clock.isoNow()).toBe(first);
    clock.ms += 1;
    expect(clock.isoNow()).toBe('2026-01-01T12:00:00.006Z');
    clock.ms -= 3_600_000;
    expect(clock.isoNow()).toBe('2026-01-01T11:00:00.006Z');
  });

  it('still throws for a time that is not a date', () => {
    const clock = new SetClock();
    clock.ms = NaN;
    expect(() => clock.isoNow()).toThrow(RangeError);
  });
});
