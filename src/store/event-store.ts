import type { InjectionToken } from 'tsyringe';
import type { Unsubscribe } from '../bus/bus';
import type { Event } from '../events/types';

/**
 * One event in the stream: its offset, the event, and its JSON text. `json` is produced once when
 * the event is appended and shared by every reader (HTTP answers, WebSocket frames): never
 * serialise `event` again.
 */
export interface StoredEvent {
  /** Position in the stream: 1, 2, 3, ... without gaps, never reused within one epoch. */
  readonly offset: number;
  readonly type: string;
  /** `JSON.stringify(event)`, computed once. */
  readonly json: string;
  /** The event itself (parsed lazily from `json` for events read back from disk). */
  readonly event: Event;
}

/** Which events `EventStore.read` returns: which types, how many. */
export interface ReadOptions {
  /** Event type patterns (exact type, `prefix.*`, `*`); default: every type. An empty list matches nothing. */
  types?: readonly string[];
  /** Most events to return (default and maximum: 1000). */
  limit?: number;
}

/** One page of stored events and where the next read continues. */
export interface ReadResult {
  /** The epoch the offsets belong to. */
  epoch: string;
  /**
   * True when the history still holds every event after `after` (nothing in between was removed by
   * retention or lost with an older epoch). When false, `events` starts at the oldest retained one.
   */
  recovered: boolean;
  /** Matching events with offset > `after`, in offset order. */
  events: StoredEvent[];
  /** Pass `next_offset - 1` as `after` to continue; every offset below `next_offset` has been scanned. */
  next_offset: number;
  /** Offset of the newest event (0 when the stream is empty). */
  head: number;
}

/** Called with each appended event, in offset order, synchronously with the append. */
export type StoreListener = (entry: StoredEvent) => void;

/**
 * The durable event stream as plugins see it (inject `EventStore` by type, or
 * `@inject(EVENT_STORE, { isOptional: true })` when the plugin also works without a store).
 *
 * Contract:
 * - Every event published on the bus is appended in publish order and gets the next offset.
 * - `epoch` names the offset sequence. It changes when history may have been lost: a new database,
 *   or an agent that did not shut down cleanly (offsets already shown to clients may not have been
 *   written). A client resuming from another epoch, or from an offset older than `tail - 1`
 *   (removed by retention), cannot be served a complete replay: `read` says `recovered: false`.
 * - Appended events are visible to `read` and `subscribe` at once, before they are committed to
 *   disk; a crash loses at most the durability window (`store.commit_interval`), and the epoch
 *   changes on the next start.
 */
export abstract class EventStore {
  constructor() {
    // tsyringe constructs an unregistered abstract class silently; fail at resolution instead of at first use.
    if (new.target === EventStore) throw new TypeError('EventStore is abstract: enable the `store` section of agent.config.yaml');
  }

  /** Random id of the current offset sequence. */
  abstract get epoch(): string;
  /** Offset of the newest event; 0 when nothing was ever appended. */
  abstract get head(): number;
  /** Offset of the oldest retained event (`head + 1` when none is retained). */
  abstract get tail(): number;
  /** True when every event after `after` in epoch `epoch` (default: the current one) is still retained. */
  abstract covers(after: number, epoch?: string): boolean;
  /** Events after offset `after`, filtered and limited. Synchronous: nothing can be appended meanwhile. */
  abstract read(after: number, options?: ReadOptions): ReadResult;
  /** Calls `listener` for every event appended from now on, in offset order. */
  abstract subscribe(listener: StoreListener): Unsubscribe;
  /**
   * Offset of the newest event committed to disk (`head` minus what waits for the next group
   * commit). An event above it may be lost by a crash, and its offset then goes to another event
   * in the next epoch; one at or below it keeps its offset for as long as it is retained. A reader
   * that must neither skip nor repeat an event across a crash (fleet forwarding) reads up to here.
   */
  abstract get committed(): number;
  /** Calls `listener` with {@link committed} after every commit that made events durable. */
  abstract onCommit(listener: (committed: number) => void): Unsubscribe;
}

/** Token for optional injection: `@inject(EVENT_STORE, { isOptional: true }) store?: EventStore`. */
export const EVENT_STORE: InjectionToken<EventStore> = Symbol.for('praxis-agent:event-store');

/** `component` and `metadata.source` of the store's own `system.error` events. */
export const STORE_SOURCE = 'store';

/** Most events one {@link EventStore.read} returns. */
export const MAX_READ_LIMIT = 1000;
