import { z } from 'zod';
import { FakeClock } from '../core/clock';
import { AgentError } from '../core/errors';
import { EventRegistry, type FieldIssue } from '../events/registry';
import type { Event, EventPattern, EventType } from '../events/types';
import { EventBus, ScopedBus, type BusOptions } from './event-bus';
import { deferred, settle, waitFor } from '../../test/helpers/async';
import { rejection } from '../../test/helpers/errors';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function setup(options: Partial<BusOptions> = {}) {
  const clock = new FakeClock();
  const registry = new EventRegistry();
  const bus = new EventBus(registry, clock, options);
  return { clock, registry, bus };
}

/** Subscribes a handler that records every event it receives. */
function collect(bus: EventBus, pattern: EventPattern): Event[] {
  const events: Event[] = [];
  bus.subscribe(pattern, (event) => {
    events.push(event as Event);
  });
  return events;
}

const sysError = (message: string) => ({ severity: 'error' as const, message, component: 'test' });

type AgentErrorEvent = Event<'agent.error'>;

describe('EventBus.publish', () => {
  it('stamps metadata: a UUID v4 id, the injected clock time as ISO UTC, empty tags', async () => {
    const { bus, clock } = setup();
    const received = collect(bus, 'system.error');

    const first = await bus.publish('system.error', sysError('one'));
    await clock.advance(1_500);
    const second = await bus.publish('system.error', sysError('two'));

    expect(first.metadata).toEqual({ event_id: expect.stringMatching(UUID_V4), timestamp: '2026-01-01T00:00:00.000Z', tags: [] });
    expect(second.metadata).toEqual({ event_id: expect.stringMatching(UUID_V4), timestamp: '2026-01-01T00:00:01.500Z', tags: [] });
    expect(first.metadata.event_id).not.toBe(second.metadata.event_id);
    expect(first).toEqual({ type: 'system.error', data: sysError('one'), metadata: first.metadata });

    await bus.idle();
    // Handlers receive the very event publish returned.
    expect(received).toHaveLength(2);
    expect(received[0]).toBe(first);
    expect(received[1]).toBe(second);
  });

  it('keeps given correlation_id, source and tags, collapsing duplicate tags', async () => {
    const { bus } = setup();
    const event = await bus.publish('system.error', sysError('x'), { correlation_id: 'req-42', source: 'probe', tags: ['db', 'prod', 'db', 'prod', 'eu'] });
    expect(event.metadata).toEqual({
      event_id: expect.stringMatching(UUID_V4),
      timestamp: '2026-01-01T00:00:00.000Z',
      correlation_id: 'req-42',
      source: 'probe',
      tags: ['db', 'prod', 'eu'],
    });
  });

  it('fills in what partial metadata leaves out, and keeps a given event_id and timestamp', async () => {
    const { bus } = setup();
    expect((await bus.publish('system.error', sysError('x'), { source: 's' })).metadata).toEqual({
      event_id: expect.stringMatching(UUID_V4),
      timestamp: '2026-01-01T00:00:00.000Z',
      source: 's',
      tags: [],
    });
    const id = '3b241101-e2bb-4255-8caf-4136c566a962';
    const event = await bus.publish('system.error', sysError('x'), { event_id: id, timestamp: '2025-12-31T23:59:59.999Z' });
    expect(event.metadata).toEqual({ event_id: id, timestamp: '2025-12-31T23:59:59.999Z', tags: [] });
  });

  it('delivers data with schema defaults applied', async () => {
    const { bus } = setup();
    const received = collect(bus, 'service.status');
    await bus.publish('service.status', { service_name: 'db', status: 'degraded' });
    await bus.idle();
    expect(received.map((e) => e.data)).toEqual([{ service_name: 'db', status: 'degraded', health_check_results: {}, metrics: {} }]);
  });

  it('counts published events overall and per type', async () => {
    const { bus } = setup();
    collect(bus, 'system.*');
    await bus.publish('system.error', sysError('a'));
    await bus.publish('system.error', sysError('b'));
    await bus.publish('config.changed', { config_path: 'a#b', old_value: 1, new_value: 2 });
    await bus.idle();
    const stats = bus.stats();
    expect(stats.events_published).toBe(3);
    expect(stats.events_processed).toBe(2);
    expect(stats.by_type).toEqual({
      'system.error': { published: 2, processed: 2, dropped: 0 },
      'config.changed': { published: 1, processed: 0, dropped: 0 },
    });
  });

  describe('rejection', () => {
    it('rejects invalid data with EVENT_INVALID naming the field, delivers it to nobody, counts and reports it', async () => {
      const { bus } = setup();
      const direct = collect(bus, 'system.error');
      const everything = collect(bus, '*');
      const reports = collect(bus, 'agent.error') as AgentErrorEvent[];

      const error = await rejection(bus.publish('system.error', { severity: 'fatal', message: 'x', component: 'c' } as never));
      expect(error.code).toBe('EVENT_INVALID');
      const issues = error.details?.issues as FieldIssue[];
      expect(issues.map((i) => i.path)).toEqual(['data.severity']);
      expect(error.message).toContain('data.severity');
      await bus.idle();

      expect(direct).toEqual([]);
      expect(everything.map((e) => e.type)).toEqual(['agent.error']);
      const stats = bus.stats();
      expect(stats.events_rejected).toBe(1);
      expect(stats.events_published).toBe(1); // the agent.error report, not the rejected event
      expect(stats.by_type['system.error']).toBeUndefined();

      expect(reports).toHaveLength(1);
      expect(reports[0].data).toMatchObject({
        severity: 'error',
        error_code: 'EVENT_INVALID',
        component: 'bus',
        diagnostic_data: { event_type: 'system.error' },
      });
      expect(reports[0].data.message).toContain('data.severity');
      expect(reports[0].metadata.source).toBe('bus');
    });

    it('names every bad field, including nested ones and unknown keys', async () => {
      const { bus } = setup();
      const error = await rejection(
        bus.publish('system.health', { status: 'healthy', services: { db: { status: 'gone' } }, extra: 1 } as never),
      );
      expect((error.details?.issues as FieldIssue[]).map((i) => i.path).sort()).toEqual(['data.extra', 'data.services.db.status']);
    });

    it.each([
      ['tags', { tags: 'db' }, 'metadata.tags'],
      ['an empty tag', { tags: ['ok', ''] }, 'metadata.tags[1]'],
      ['event_id', { event_id: 'not-a-uuid' }, 'metadata.event_id'],
      ['a UUID v1 event_id', { event_id: 'c232ab00-9414-11ec-b3c8-9f6bdeced846' }, 'metadata.event_id'],
      ['timestamp', { timestamp: 'yesterday' }, 'metadata.timestamp'],
      ['a non-UTC timestamp', { timestamp: '2026-01-01T02:00:00+02:00' }, 'metadata.timestamp'],
      ['an empty source', { source: '' }, 'metadata.source'],
      ['an unknown key', { priority: 'high' }, 'metadata.priority'],
    ])('rejects invalid metadata: %s', async (_what, metadata, path) => {
      const { bus } = setup();
      const received = collect(bus, 'system.error');
      const error = await rejection(bus.publish('system.error', sysError('x'), metadata as never));
      expect(error.code).toBe('EVENT_INVALID');
      expect((error.details?.issues as FieldIssue[]).map((i) => i.path)).toEqual([path]);
      await bus.idle();
      expect(received).toEqual([]);
      expect(bus.stats().events_rejected).toBe(1);
    });

    it('rejects an unknown type with EVENT_UNKNOWN_TYPE', async () => {
      const { bus } = setup();
      const reports = collect(bus, 'agent.error') as AgentErrorEvent[];
      const error = await rejection(bus.publish('backup.completed' as EventType, {} as never));
      expect(error.code).toBe('EVENT_UNKNOWN_TYPE');
      expect(error.details).toEqual({ type: 'backup.completed' });
      await bus.idle();
      expect(bus.stats().events_rejected).toBe(1);
      expect(reports.map((r) => r.data.error_code)).toEqual(['EVENT_UNKNOWN_TYPE']);
    });

    it('rejects an invalid agent.error without reporting it again', async () => {
      const { bus } = setup();
      const reports = collect(bus, 'agent.error');
      const error = await rejection(bus.publish('agent.error', { severity: 'error', message: '', component: 'x' }));
      expect(error.code).toBe('EVENT_INVALID');
      await bus.idle();
      expect(reports).toEqual([]);
      expect(bus.stats().events_rejected).toBe(1);
      expect(bus.stats().events_published).toBe(0);
    });
  });
});

describe('typed handlers', () => {
  it('types event data by the subscribed pattern', async () => {
    const { bus } = setup();
    const severities: ('critical' | 'error' | 'warning' | 'info')[] = [];
    const statuses: string[] = [];
    bus.subscribe('system.error', (e) => {
      severities.push(e.data.severity);
      // @ts-expect-error system.error data has no service_name
      void e.data.service_name;
    });
    bus.subscribe('system.*', (e) => {
      // The union of system.* events, narrowed by type.
      if (e.type === 'system.health') statuses.push(e.data.status);
      // @ts-expect-error config.changed is not a system.* event
      if (e.type === 'config.changed') void e;
    });
    bus.subscribe('service.status', (e) => {
      // Handlers see output types: defaulted fields are always present.
      const results: Record<string, unknown> = e.data.health_check_results;
      void results;
    });

    await bus.publish('system.error', { severity: 'warning', message: 'w', component: 'c' });
    await bus.publish('system.health', { status: 'degraded', services: {} });
    // @ts-expect-error 'fatal' is not a severity: the compiler rejects it before the bus does
    await rejection(bus.publish('system.error', { severity: 'fatal', message: 'x', component: 'c' }));
    // @ts-expect-error unknown event types do not compile
    await rejection(bus.publish('nope.nothing', {}));
    await bus.idle();

    expect(severities).toEqual(['warning']);
    expect(statuses).toEqual(['degraded']);
  });
});

describe('wildcard subscriptions', () => {
  async function publishSample(bus: EventBus): Promise<void> {
    await bus.publish('system.error', sysError('e'));
    await bus.publish('system.health', { status: 'healthy', services: {} });
    await bus.publish('config.changed', { config_path: 'a#b', old_value: null, new_value: 1 });
    await bus.publish('service.status', { service_name: 'db', status: 'healthy' });
    await bus.publish('agent.stopping', { reason: 'test' });
    await bus.idle();
  }

  it('system.* receives system events only; * receives everything; exact types receive their own', async () => {
    const { bus } = setup();
    const system = collect(bus, 'system.*');
    const all = collect(bus, '*');
    const config = collect(bus, 'config.changed');
    const agent = collect(bus, 'agent.*');
    await publishSample(bus);

    expect(system.map((e) => e.type)).toEqual(['system.error', 'system.health']);
    expect(all.map((e) => e.type)).toEqual(['system.error', 'system.health', 'config.changed', 'service.status', 'agent.stopping']);
    expect(config.map((e) => e.type)).toEqual(['config.changed']);
    expect(agent.map((e) => e.type)).toEqual(['agent.stopping']);
  });

  it('matches custom types at any depth below the prefix, and not look-alike prefixes', async () => {
    const { bus, registry } = setup();
    registry.register('system.disk.full', z.strictObject({ mount: z.string() }), 'disk');
    registry.register('systems.other', z.strictObject({}), 'other');
    registry.register('backup.completed', z.strictObject({ id: z.string() }), 'backup');
    const system = collect(bus, 'system.*');
    const disk = collect(bus, 'system.disk.*');
    const backup = collect(bus, 'backup.completed' as EventPattern);
    const all = collect(bus, '*');

    await bus.publish('system.disk.full' as EventType, { mount: '/' } as never);
    await bus.publish('systems.other' as EventType, {} as never);
    await bus.publish('backup.completed' as EventType, { id: 'b1' } as never);
    await bus.idle();

    expect(system.map((e) => e.type)).toEqual(['system.disk.full']);
    expect(disk.map((e) => e.type)).toEqual(['system.disk.full']);
    expect(backup.map((e) => e.data)).toEqual([{ id: 'b1' }]);
    expect(all.map((e) => e.type)).toEqual(['system.disk.full', 'systems.other', 'backup.completed']);
  });

  it('routes types registered after a wildcard subscription (and after earlier publishes)', async () => {
    const { bus, registry } = setup();
    const all = collect(bus, '*');
    await bus.publish('system.error', sysError('before'));
    registry.register('backup.completed', z.strictObject({}), 'backup');
    await bus.publish('backup.completed' as EventType, {} as never);
    const late = collect(bus, 'backup.*');
    await bus.publish('backup.completed' as EventType, {} as never);
    await bus.idle();
    expect(all.map((e) => e.type)).toEqual(['system.error', 'backup.completed', 'backup.completed']);
    expect(late).toHaveLength(1);
  });

  it.each([
    ['sys*', 'BUS_INVALID_PATTERN'],
    ['system.**', 'BUS_INVALID_PATTERN'],
    ['*.error', 'BUS_INVALID_PATTERN'],
    ['.*', 'BUS_INVALID_PATTERN'],
    ['**', 'BUS_INVALID_PATTERN'],
    ['System.*', 'BUS_INVALID_PATTERN'],
    ['system.*.x', 'BUS_INVALID_PATTERN'],
    ['system..*', 'BUS_INVALID_PATTERN'],
    ['system.nope', 'EVENT_UNKNOWN_TYPE'],
    ['backup.completed', 'EVENT_UNKNOWN_TYPE'],
    ['system', 'EVENT_UNKNOWN_TYPE'],
  ])('rejects the pattern %p with %s and subscribes nothing', (pattern, code) => {
    const { bus } = setup();
    expect(() => bus.subscribe(pattern as EventPattern, () => undefined)).toThrow(expect.objectContaining({ code }));
    expect(bus.stats().handlers).toEqual([]);
  });

  it('rejects a non-positive or fractional queue capacity', () => {
    const { bus } = setup();
    for (const capacity of [0, -1, 1.5]) {
      expect(() => bus.subscribe('*', () => undefined, { capacity })).toThrow(expect.objectContaining({ code: 'BUS_INVALID_OPTIONS' }));
    }
    expect(bus.stats().handlers).toEqual([]);
  });
});

describe('handler isolation', () => {
  it('a throwing and a rejecting handler affect neither other handlers nor the publisher', async () => {
    const { bus } = setup();
    const good: string[] = [];
    let syncCalls = 0;
    let asyncCalls = 0;
    bus.subscribe('system.error', () => {
      syncCalls++;
      throw new Error('sync boom');
    }, { name: 'thrower' });
    bus.subscribe('system.error', async () => {
      asyncCalls++;
      await Promise.resolve();
      throw new AgentError('CONFIG_INVALID_VALUE', 'async boom');
    }, { name: 'rejecter' });
    bus.subscribe('system.error', (e) => {
      good.push(e.data.message);
    }, { name: 'good' });
    const reports = collect(bus, 'agent.error') as AgentErrorEvent[];

    await expect(bus.publish('system.error', sysError('1'))).resolves.toMatchObject({ type: 'system.error' });
    await expect(bus.publish('system.error', sysError('2'))).resolves.toMatchObject({ type: 'system.error' });
    await expect(bus.publish('system.error', sysError('3'))).resolves.toMatchObject({ type: 'system.error' });
    await bus.idle();

    expect(good).toEqual(['1', '2', '3']);
    expect(syncCalls).toBe(3);
    expect(asyncCalls).toBe(3);
    const stats = bus.stats();
    expect(stats.handler_errors).toBe(6);
    expect(stats.quarantined_handlers).toBe(0);
    const byName = Object.fromEntries(stats.handlers.map((h) => [h.id.split('#')[0], h]));
    expect(byName['core:thrower']).toMatchObject({ state: 'active', errors: 3, processed: 0 });
    expect(byName['core:rejecter']).toMatchObject({ state: 'active', errors: 3, processed: 0 });
    expect(byName['core:good']).toMatchObject({ state: 'active', errors: 0, processed: 3 });

    expect(reports).toHaveLength(6);
    const thrower = reports.filter((r) => r.data.message === 'sync boom');
    const rejecter = reports.filter((r) => r.data.message === 'async boom');
    expect(thrower).toHaveLength(3);
    expect(rejecter).toHaveLength(3);
    for (const report of thrower) {
      expect(report.data).toMatchObject({ severity: 'error', error_code: 'HANDLER_FAILED', component: 'core' });
      expect(report.data.diagnostic_data).toMatchObject({ handler: byName['core:thrower'].id, event_type: 'system.error' });
      expect(report.data.stack_trace).toContain('sync boom');
    }
    // An AgentError keeps its own code.
    expect(rejecter.map((r) => r.data.error_code)).toEqual(['CONFIG_INVALID_VALUE', 'CONFIG_INVALID_VALUE', 'CONFIG_INVALID_VALUE']);
    // Each report names the event that failed.
    const failedIds = thrower.map((r) => (r.data.diagnostic_data as { event_id: string }).event_id);
    expect(new Set(failedIds).size).toBe(3);
  });

  it('reports a non-Error throw', async () => {
    const { bus } = setup();
    bus.subscribe('system.error', () => {
      throw 'plain string';
    });
    const reports = collect(bus, 'agent.error') as AgentErrorEvent[];
    await bus.publish('system.error', sysError('x'));
    await bus.idle();
    expect(reports.map((r) => [r.data.message, r.data.error_code, r.data.stack_trace])).toEqual([['plain string', 'HANDLER_FAILED', undefined]]);
  });

  it('quarantines a handler after errorThreshold errors: it receives nothing more, one HANDLER_QUARANTINED report', async () => {
    const { bus } = setup();
    let calls = 0;
    bus.subscribe('system.error', () => {
      calls++;
      throw new Error(`fail ${calls}`);
    }, { name: 'flaky', errorThreshold: 3 });
    const healthy = collect(bus, 'system.error');
    const reports = collect(bus, 'agent.error') as AgentErrorEvent[];

    for (let i = 0; i < 5; i++) await bus.publish('system.error', sysError(String(i)));
    await bus.idle();
    for (let i = 5; i < 8; i++) await bus.publish('system.error', sysError(String(i)));
    await bus.idle();

    expect(calls).toBe(3);
    expect(healthy).toHaveLength(8);
    const flaky = bus.stats().handlers.find((h) => h.id.startsWith('core:flaky#'));
    expect(flaky).toMatchObject({ state: 'quarantined', errors: 3, processed: 0 });
    const stats = bus.stats();
    expect(stats.quarantined_handlers).toBe(1);
    expect(stats.active_handlers).toBe(2);
    expect(stats.handler_errors).toBe(3);

    expect(reports.map((r) => r.data.error_code)).toEqual(['HANDLER_FAILED', 'HANDLER_FAILED', 'HANDLER_FAILED', 'HANDLER_QUARANTINED']);
    expect(reports[3].data).toMatchObject({ component: 'core', diagnostic_data: { handler: flaky?.id, errors: 3 } });
  });

  it('never quarantines with errorThreshold 0', async () => {
    const { bus } = setup();
    let calls = 0;
    bus.subscribe('system.error', () => {
      calls++;
      throw new Error('always');
    }, { errorThreshold: 0 });
    for (let i = 0; i < 12; i++) await bus.publish('system.error', sysError(String(i)));
    await bus.idle();
    expect(calls).toBe(12);
    expect(bus.stats().handlers[0].state).toBe('active');
  });

  it('a failing * handler is not fed its own failure reports forever', async () => {
    // Regression: each HANDLER_FAILED report is an agent.error, which a failing `*` handler
    // received and failed on again, synchronously, without end when errorThreshold is 0.
    const { bus } = setup();
    let calls = 0;
    bus.subscribe('*', () => {
      calls++;
      if (calls > 50) return; // stop the loop if the bug comes back, so the assertion can fail
      throw new Error('fails on everything');
    }, { errorThreshold: 0 });
    const reports = collect(bus, 'agent.error') as AgentErrorEvent[];

    await bus.publish('system.error', sysError('x'));
    await bus.idle();

    // The event, then the one report about it (which fails too, but is not reported again).
    expect(calls).toBe(2);
    expect(bus.stats().handler_errors).toBe(2);
    expect(reports.map((r) => [r.data.error_code, (r.data.diagnostic_data as { event_type: string }).event_type])).toEqual([['HANDLER_FAILED', 'system.error']]);
  });

  it('a handler may publish from inside its handler', async () => {
    const { bus } = setup();
    bus.subscribe('system.error', async (e) => {
      await bus.publish('service.status', { service_name: e.data.component, status: 'unhealthy' });
    });
    const statuses = collect(bus, 'service.status');
    await bus.publish('system.error', sysError('x'));
    await bus.idle();
    expect(statuses.map((e) => e.data)).toEqual([{ service_name: 'test', status: 'unhealthy', health_check_results: {}, metrics: {} }]);
  });
});

describe('unsubscribe', () => {
  it('stops delivery; calling it twice is harmless and leaves other subscriptions alone', async () => {
    const { bus } = setup();
    const kept = collect(bus, 'system.error');
    const received: string[] = [];
    const unsubscribe = bus.subscribe('system.error', (e) => {
      received.push(e.data.message);
    });
    expect(bus.stats().active_handlers).toBe(2);

    await bus.publish('system.error', sysError('before'));
    await bus.idle();
    unsubscribe();
    expect(bus.stats().active_handlers).toBe(1);
    await bus.publish('system.error', sysError('after'));
    await bus.idle();
    expect(() => unsubscribe()).not.toThrow();

    expect(received).toEqual(['before']);
    expect(kept.map((e) => (e as Event<'system.error'>).data.message)).toEqual(['before', 'after']);
    expect(bus.stats().active_handlers).toBe(1);
    expect(bus.stats().handlers).toHaveLength(1);
  });

  it('drops what was still queued for the handler', async () => {
    const { bus } = setup();
    const gate = deferred();
    const received: string[] = [];
    const unsubscribe = bus.subscribe('system.error', async (e) => {
      received.push(e.data.message);
      await gate.promise;
    });
    for (const m of ['1', '2', '3']) await bus.publish('system.error', sysError(m));
    await waitFor(() => received.length === 1, { what: 'first event delivered' });
    unsubscribe();
    gate.resolve();
    await bus.idle();
    await settle();
    expect(received).toEqual(['1']);
    expect(bus.stats().events_dropped).toBe(2);
  });

  it('can unsubscribe from inside the handler', async () => {
    const { bus } = setup();
    const received: string[] = [];
    const unsubscribe = bus.subscribe('system.error', (e) => {
      received.push(e.data.message);
      unsubscribe();
    });
    await bus.publish('system.error', sysError('1'));
    await bus.publish('system.error', sysError('2'));
    await bus.idle();
    expect(received).toEqual(['1']);
  });
});

describe('idle() and drain()', () => {
  it('idle() waits for a handler still running its last event', async () => {
    // Regression: idle() used to check only queue depth, so it resolved while the handler was
    // still working on the event it had already taken off its queue.
    const { bus } = setup();
    const gate = deferred();
    let started = false;
    let finished = false;
    bus.subscribe('system.error', async () => {
      started = true;
      await gate.promise;
      finished = true;
    });
    await bus.publish('system.error', sysError('x'));
    await waitFor(() => started, { what: 'handler started' });

    let idle = false;
    const waiting = bus.idle().then(() => {
      idle = true;
    });
    await settle();
    expect(idle).toBe(false);
    gate.resolve();
    await waiting;
    expect(finished).toBe(true);
  });

  it('idle() also waits for events that handlers publish meanwhile', async () => {
    const { bus } = setup();
    bus.subscribe('system.error', async (e) => {
      await Promise.resolve();
      await bus.publish('config.changed', { config_path: 'x#y', old_value: null, new_value: e.data.message });
    });
    const changes: unknown[] = [];
    bus.subscribe('config.changed', async (e) => {
      await new Promise((resolve) => setImmediate(resolve));
      changes.push(e.data.new_value);
    });
    await bus.publish('system.error', sysError('a'));
    await bus.publish('system.error', sysError('b'));
    await bus.idle();
    expect(changes).toEqual(['a', 'b']);
  });

  it('idle() resolves at once on an idle bus', async () => {
    const { bus } = setup();
    collect(bus, '*');
    await expect(bus.idle()).resolves.toBeUndefined();
  });

  it('drain() delivers everything queued, then publish rejects with BUS_CLOSED', async () => {
    const { bus } = setup();
    const gate = deferred();
    const received: string[] = [];
    bus.subscribe('system.error', async (e) => {
      await gate.promise;
      received.push(e.data.message);
    });
    for (const m of ['1', '2', '3', '4']) await bus.publish('system.error', sysError(m));

    let drained = false;
    const draining = bus.drain().then(() => {
      drained = true;
    });
    expect(bus.isClosed).toBe(true);
    // Closed for new events at once, even while draining.
    expect((await rejection(bus.publish('system.error', sysError('late')))).code).toBe('BUS_CLOSED');
    await settle();
    expect(drained).toBe(false);
    expect(received).toEqual([]);

    gate.resolve();
    await draining;
    expect(received).toEqual(['1', '2', '3', '4']);
    const error = await rejection(bus.publish('system.error', sysError('after')));
    expect(error.code).toBe('BUS_CLOSED');
    expect(error.details).toEqual({ type: 'system.error' });
    const stats = bus.stats();
    expect(stats.events_published).toBe(4);
    expect(stats.events_processed).toBe(4);
    expect(stats.events_rejected).toBe(0);
  });
});

describe('ScopedBus', () => {
  it('owns its subscriptions, defaults source to the owner, and close() removes what was left', async () => {
    const { bus } = setup();
    const scoped = new ScopedBus(bus, 'my-plugin');
    const all = collect(bus, '*');
    const received: string[] = [];
    scoped.subscribe('system.error', (e) => {
      received.push(e.data.message);
    });
    const unsubscribeHealth = scoped.subscribe('system.health', () => undefined, { name: 'health' });
    scoped.subscribe('config.*', () => undefined);
    expect(scoped.subscriptionCount).toBe(3);

    const mine = bus.stats().handlers.filter((h) => h.owner === 'my-plugin');
    expect(mine.map((h) => h.pattern)).toEqual(['system.error', 'system.health', 'config.*']);
    expect(mine.map((h) => h.id.split('#')[0])).toEqual(['my-plugin:system.error', 'my-plugin:health', 'my-plugin:config.*']);
    expect(bus.stats().active_handlers).toBe(4);

    const own = await scoped.publish('system.error', sysError('mine'));
    const explicit = await scoped.publish('system.error', sysError('theirs'), { source: 'someone-else', tags: ['t'] });
    const withMeta = await scoped.publish('system.error', sysError('tagged'), { correlation_id: 'c-1' });
    expect(own.metadata.source).toBe('my-plugin');
    expect(explicit.metadata).toMatchObject({ source: 'someone-else', tags: ['t'] });
    expect(withMeta.metadata).toMatchObject({ source: 'my-plugin', correlation_id: 'c-1' });
    await bus.idle();
    expect(received).toEqual(['mine', 'theirs', 'tagged']);

    unsubscribeHealth();
    expect(scoped.subscriptionCount).toBe(2);
    expect(scoped.close()).toBe(0); // nothing was queued: nothing discarded
    expect(scoped.subscriptionCount).toBe(0);
    expect(bus.stats().handlers.filter((h) => h.owner === 'my-plugin')).toEqual([]);
    expect(scoped.close()).toBe(0);

    await bus.publish('system.error', sysError('after close'));
    await bus.idle();
    expect(received).toEqual(['mine', 'theirs', 'tagged']);
    expect(all.map((e) => e.type)).toEqual(['system.error', 'system.error', 'system.error', 'system.error']);
  });

  it('close() leaves active_handlers at 0 when the plugin was the only subscriber', () => {
    const { bus } = setup();
    const scoped = new ScopedBus(bus, 'p');
    scoped.subscribe('*', () => undefined);
    scoped.subscribe('agent.*', () => undefined);
    expect(bus.stats().active_handlers).toBe(2);
    expect(scoped.close()).toBe(0);
    expect(bus.stats().active_handlers).toBe(0);
    expect(bus.stats().handlers).toEqual([]);
  });

  it('drain() stops new deliveries but hands over what is queued; close() then discards and counts the rest', async () => {
    const { bus } = setup();
    const scoped = new ScopedBus(bus, 'p');
    const seen: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    scoped.subscribe('system.error', async (e) => {
      seen.push(e.data.message);
      if (e.data.message === 'hold') await held;
    });
    for (const m of ['a', 'b', 'hold', 'c', 'd']) await bus.publish('system.error', sysError(m));
    let drained = false;
    const drain = scoped.drain().then(() => (drained = true));
    await bus.publish('system.error', sysError('after drain began'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual(['a', 'b', 'hold']);
    expect(drained).toBe(false);
    // The caller's time ran out: what is still queued is discarded and counted as dropped.
    expect(scoped.close()).toBe(2);
    expect(bus.stats().events_dropped).toBe(2);
    release();
    await drain;
    expect(seen).toEqual(['a', 'b', 'hold']);
  });

  it("reports its handlers' failures under the owner's name", async () => {
    const { bus } = setup();
    const scoped = new ScopedBus(bus, 'fragile');
    scoped.subscribe('system.error', () => {
      throw new Error('nope');
    });
    const reports = collect(bus, 'agent.error') as AgentErrorEvent[];
    await bus.publish('system.error', sysError('x'));
    await bus.idle();
    expect(reports.map((r) => [r.data.error_code, r.data.component])).toEqual([['HANDLER_FAILED', 'fragile']]);
  });

  it('applies its queue settings to every subscription', () => {
    const { bus } = setup();
    const scoped = new ScopedBus(bus, 'p', { capacity: 7, overflow: 'drop_oldest' });
    scoped.subscribe('*', () => undefined);
    expect(bus.stats().handlers[0]).toMatchObject({ owner: 'p', capacity: 7, overflow: 'drop_oldest' });
  });
});
