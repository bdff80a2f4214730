import type { z } from 'zod';
import type { coreEventSchemas } from './catalogue';
import type { EventMetadata } from './metadata';

type CoreSchemas = typeof coreEventSchemas;

/** Data of each built-in event type, as handlers receive it (after defaults are applied). */
export type CoreEventMap = { [K in keyof CoreSchemas]: z.output<CoreSchemas[K]> };
/** Data of each built-in event type, as publishers may write it (defaults may be omitted). */
export type CoreEventInputMap = { [K in keyof CoreSchemas]: z.input<CoreSchemas[K]> };

/**
 * Event type → data type. Plugins that register their own event types extend it by module
 * augmentation, which gives their events the same typing as the built-in ones:
 *
 * ```ts
 * declare module 'praxis-agent' {
 *   interface EventMap { 'backup.completed': z.output<typeof backupCompleted> }
 *   interface EventInputMap { 'backup.completed': z.input<typeof backupCompleted> }
 * }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface EventMap extends CoreEventMap {}
/** Event type → data type as publishers write it (defaults may be omitted); augmented like {@link EventMap}. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface EventInputMap extends CoreEventInputMap {}

/** Every known event type name: the built-in ones and those plugins add by augmentation. */
export type EventType = keyof EventMap & string;

/** One event as the bus delivers it: `{ type, data, metadata }`. */
export interface Event<T extends EventType = EventType> {
  readonly type: T;
  readonly data: EventMap[T];
  readonly metadata: EventMetadata;
}

/** The discriminated union of events whose type is in `T`. */
export type EventOf<T extends EventType> = T extends EventType ? Event<T> : never;

/** What a handler may subscribe to: an exact type, `prefix.*`, or `*`. */
export type EventPattern = EventType | `${string}.*` | '*';

/** The event types a pattern matches, computed by the compiler. */
export type TypesMatching<P extends string> = P extends '*'
  ? EventType
  : P extends `${infer Prefix}.*`
    ? Extract<EventType, `${Prefix}.${string}`>
    : Extract<EventType, P>;

/** The event a handler subscribed with pattern `P` receives. */
export type EventFor<P extends string> = EventOf<TypesMatching<P>>;
