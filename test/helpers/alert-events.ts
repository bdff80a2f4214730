import type { Event } from '../../src/events/types';

/** An event as the bus delivers it, of any type (only what alert rules read: type, data, metadata). */
export function busEvent(type: string, data: Record<string, unknown>, metadata: { source?: string; tags?: string[] } = {}): Pick<Event, 'type' | 'data' | 'metadata'> {
  return { type, data, metadata: { event_id: '00000000-0000-4000-8000-000000000000', timestamp: '2026-01-01T00:00:00.000Z', tags: [], ...metadata } } as never;
}
