import { z } from 'zod';
import { EventBus } from '../src/bus/event-bus';
import { FakeClock } from '../src/core/clock';
import { MAX_EVENT_DEPTH, MAX_EVENT_MEMBERS } from '../src/events/data-limits';
import { EventRegistry } from '../src/events/registry';
import type { Event } from '../src/events/types';
import { nestedDiagnostics, wideDiagnostics } from './helpers/event-shapes';
import { rejection } from './helpers/errors';

function errorEvent(diagnostic_data: Record<string, unknown>): { severity: 'error'; message: string; component: string; diagnostic_data: Record<string, unknown> } {
  return { severity: 'error', message: 'limits', component: 'test', diagnostic_data };
}

describe('event data limits on the bus (every producer: plugins, the core, ingest)', () => {
  let bus: EventBus;
  let received: Event[];
  beforeEach(() => {
    bus = new EventBus(new EventRegistry(), new FakeClock());
    received = [];
    bus.subscribe('system.error', (event) => {
      received.push(event as Event);
    });
  });

  it('delivers data exactly MAX_EVENT_DEPTH deep, refuses one level more with EVENT_TOO_DEEP naming the path', async () => {
    await bus.publish('system.error', errorEvent(nestedDiagnostics(MAX_EVENT_DEPTH)));
    const error = await rejection(bus.publish('system.error', errorEvent(nestedDiagnostics(MAX_EVENT_DEPTH + 1))));
    expect(error.code).toBe('EVENT_TOO_DEEP');
    const [issue] = error.details?.issues as { path: string; message: string }[];
    expect(issue?.path).toBe(`data.diagnostic_data.nest${'[0]'.repeat(MAX_EVENT_DEPTH - 2)}`);
    expect(issue?.message).toContain(`deeper than ${MAX_EVENT_DEPTH} levels`);
    await bus.idle();
    expect(received).toHaveLength(1);
    expect(JSON.stringify(received[0]?.data)).toBe(JSON.stringify(errorEvent(nestedDiagnostics(MAX_EVENT_DEPTH))));
  });

  it('refuses the 5000-deep body of the report (it used to overflow the stack in the store)', async () => {
    const error = await rejection(bus.publish('system.error', errorEvent(nestedDiagnostics(5000))));
    expect(error.code).toBe('EVENT_TOO_DEEP');
  });

  it('delivers exactly MAX_EVENT_MEMBERS keys and elements, refuses one more with EVENT_TOO_LARGE', async () => {
    await bus.publish('system.error', errorEvent(wideDiagnostics(MAX_EVENT_MEMBERS)));
    const error = await rejection(bus.publish('system.error', errorEvent(wideDiagnostics(MAX_EVENT_MEMBERS + 1))));
    expect(error.code).toBe('EVENT_TOO_LARGE');
    expect(error.message).toContain(`more than ${MAX_EVENT_MEMBERS} keys and array elements`);
    await bus.idle();
    expect(received).toHaveLength(1);
  });

  it('refuses a plugin value that contains itself instead of letting the store fail to serialise it', async () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = { back: cyclic };
    const error = await rejection(bus.publish('system.error', errorEvent(cyclic)));
    expect(error.code).toBe('EVENT_TOO_DEEP');
    expect(error.details?.issues).toEqual([{ path: 'data.diagnostic_data.self.back', message: 'circular reference: the value contains itself' }]);
  });

  it('counts a shared (non-circular) object each time it appears, like JSON does', async () => {
    const shared = { x: 1 };
    await bus.publish('system.error', errorEvent({ a: shared, b: shared }));
    await bus.idle();
    expect(received).toHaveLength(1);
  });

  describe('a __proto__ key is data', () => {
    const hostile = '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"prototype":1}';

    it('is delivered as an own key of diagnostic_data, with nothing assigned to a prototype', async () => {
      const event = await bus.publish('system.error', errorEvent(JSON.parse(hostile) as Record<string, unknown>));
      await bus.idle();
      const data = received[0]?.data as { diagnostic_data: Record<string, unknown> };
      expect(received[0]).toBe(event);
      expect(Object.keys(data.diagnostic_data)).toEqual(['__proto__', 'constructor', 'prototype']);
      expect(Object.getPrototypeOf(data.diagnostic_data)).toBe(Object.prototype);
      expect(data.diagnostic_data.polluted).toBeUndefined();
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(JSON.stringify(data.diagnostic_data)).toBe(hostile);
    });

    it('is kept in service.status metrics and health_check_results too', async () => {
      const values = JSON.parse('{"__proto__":{"latency_ms":1}}') as Record<string, unknown>;
      const event = await bus.publish('service.status', { service_name: 'db', status: 'healthy', metrics: values, health_check_results: values });
      expect(JSON.stringify(event.data.metrics)).toBe('{"__proto__":{"latency_ms":1}}');
      expect(JSON.stringify(event.data.health_check_results)).toBe('{"__proto__":{"latency_ms":1}}');
    });

    it('is refused with EVENT_INVALID naming the key where the schema would strip it (system.health services, plugin schemas)', async () => {
      const services = JSON.parse('{"__proto__":{"status":"healthy"}}') as Record<string, never>;
      const error = await rejection(bus.publish('system.health', { status: 'healthy', services }));
      expect(error.code).toBe('EVENT_INVALID');
      expect(error.details?.issues).toEqual([{ path: 'data.services.__proto__', message: expect.stringContaining('"__proto__"') as unknown }]);

      bus.registry.register('backup.completed', z.object({ info: z.object({ id: z.string() }) }), 'backup');
      const nested = JSON.parse('{"info":{"id":"b1","__proto__":{"id":"x"}}}') as never;
      const stripped = await rejection(bus.publish('backup.completed' as never, nested));
      expect(stripped.details?.issues).toEqual([{ path: 'data.info.__proto__', message: expect.stringContaining('rename the key') as unknown }]);
    });
  });
});
