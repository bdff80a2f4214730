import type { z } from 'zod';
import type { overflowPolicySchema } from '../config/schema';
import type { EventMetadataInput } from '../events/metadata';
import type { Event, EventFor, EventInputMap, EventPattern, EventType } from '../events/types';

/** What happens when a handler's queue is full: wait for room, drop the new event, or drop the oldest queued one (values declared once, by `overflowPolicySchema`). */
export type OverflowPolicy = z.output<typeof overflowPolicySchema>;

/** Per-subscription settings; the plugin's `queue:` entry in the YAML overrides them. */
export interface SubscribeOptions {
  /** Name shown in stats, metrics and error reports; defaults to the pattern. */
  name?: string;
  /** Queue capacity of this handler (default: `bus.queue_capacity`). */
  capacity?: number;
  /** Policy when the queue is full (default: `bus.overflow`). */
  overflow?: OverflowPolicy;
  /** Errors after which the handler is quarantined (default: `bus.error_threshold`; 0 = never). */
  errorThreshold?: number;
}

/** A typed handler: subscribed to `system.error` it receives `Event<'system.error'>`. */
export type EventHandler<P extends string> = (event: EventFor<P>) => void | Promise<void>;

/** Cancels a subscription; calling it again is a no-op. */
export type Unsubscribe = () => void;

/**
 * The event bus as plugins see it (injected by type: `constructor(bus: Bus)`).
 *
 * Contract:
 * - `publish` validates `data` against the type's schema and stamps metadata; an invalid event
 *   rejects with EVENT_INVALID naming each bad field and is delivered to nobody.
 * - Each handler receives its events in publish order, one at a time; different handlers run
 *   concurrently. A handler that throws or rejects affects nobody else.
 * - Every handler has a bounded queue; `publish` resolves once the event is queued for every
 *   matching handler (it waits only when a `block` handler is full), not when it is handled.
 * - Delivered events are shared between handlers: treat them as read-only.
 */
export abstract class Bus {
  constructor() {
    // tsyringe constructs an unregistered abstract class silently; fail at resolution instead of at first use.
    if (new.target === Bus) throw new TypeError('Bus is abstract: the agent registers the bus in each plugin container');
  }

  abstract publish<T extends EventType>(type: T, data: EventInputMap[T], metadata?: EventMetadataInput): Promise<Event<T>>;
  abstract subscribe<P extends EventPattern>(pattern: P, handler: EventHandler<P>, options?: SubscribeOptions): Unsubscribe;
}
