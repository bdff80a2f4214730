import { eventTypeMatcher } from 'praxis-agent';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/** A connection is created once its WebSocket is open: there is no `connecting` state to hold. */
export type ConnectionState = 'connected' | 'disconnecting' | 'disconnected' | 'error';

/** Live connections get each event as it is appended; replaying ones catch up from the store first. */
export type DeliveryMode = 'live' | 'replaying';

/**
 * Filter changes remembered before the first resume (at most this many), so the replay can tell
 * which events were already sent live. Beyond it, a later resume may send some events again.
 */
const MAX_FILTER_CHANGES = 16;

/** From offset `after + 1` on (until the next segment), live events were sent when `matches`. */
interface LiveSegment {
  after: number;
  matches: (type: string) => boolean;
}

/** One client: its socket, state, filter, position in the stream and counters. */
export class Connection {
  state: ConnectionState = 'connected';
  mode: DeliveryMode = 'live';
  /** Every event up to this offset has been dealt with (sent when it matched). */
  cursor = 0;
  /** While its socket holds unsent event bytes: when the oldest of those events was queued (the fan-out's clock), for max_lag. */
  unsentSince?: number;
  /** When the last write left bytes unsent in its socket (the fan-out's clock): it has not read since, for the byte cap. */
  stalledAt?: number;
  errors = 0;
  /** Number of the current replay; a newer resume makes an older replay's pending page stop. */
  replayRun = 0;
  messagesSent = 0;
  messagesReceived = 0;
  /** Clock time of the last pong or client message. */
  lastSeen: number;
  /**
   * What was sent live before the first resume, as the filters in force and the offsets they
   * applied from: memory per filter change, not per event (a connection that never resumes holds
   * one segment). Empty once a resume was served or tracking gave up.
   */
  private live: LiveSegment[] = [];
  /** Nothing after this offset was sent live (set when the first resume starts). */
  private liveThrough?: number;
  private filter = new Set<string>();
  /** True while the filter is the plugin's default_event_types: the first subscribe replaces it. */
  private onDefaults = false;
  private readonly cache = new Map<string, boolean>();
  private matcher?: (type: string) => boolean;
  private key?: string;

  constructor(
    readonly id: string,
    readonly ws: WebSocket,
    now: number,
    readonly remote: string,
    /** The socket under `ws` (the upgrade's): live event frames are written to it directly, a burst at a time. */
    readonly socket: Duplex,
  ) {
    this.lastSeen = now;
  }

  get patterns(): string[] {
    return [...this.filter].sort();
  }

  /** Equal for connections whose filters are equal: they share the bytes of a burst. */
  get filterKey(): string {
    return (this.key ??= this.patterns.join('\n'));
  }

  /** True when the filter takes `type`; an empty filter takes nothing. */
  matches(type: string): boolean {
    let hit = this.cache.get(type);
    if (hit === undefined) {
      this.matcher ??= eventTypeMatcher(this.filter);
      hit = this.matcher(type);
      if (this.cache.size > 1000) this.cache.clear();
      this.cache.set(type, hit);
    }
    return hit;
  }

  /** Starts the connection on the plugin's default filter, in force until the first {@link subscribe}. */
  useDefaults(patterns: readonly string[]): void {
    this.filter = new Set(patterns);
    this.onDefaults = true;
    this.filterChanged();
  }

  /**
   * Adds the patterns to the filter; the first call replaces the default filter instead (a client
   * that subscribes says what it wants). Returns the default patterns it replaced, if it did.
   */
  subscribe(patterns: readonly string[]): string[] | undefined {
    let replaced: string[] | undefined;
    if (this.onDefaults) {
      replaced = this.patterns;
      this.filter.clear();
      this.onDefaults = false;
    }
    for (const p of patterns) this.filter.add(p);
    this.filterChanged();
    return replaced;
  }

  /** Removes the patterns; `*` removes everything, `prefix.*` also removes the patterns under it. */
  unsubscribe(patterns: readonly string[]): void {
    for (const p of patterns) {
      if (p === '*') this.filter.clear();
      this.filter.delete(p);
      if (p.endsWith('.*')) for (const q of [...this.filter]) if (q.startsWith(p.slice(0, -1))) this.filter.delete(q);
    }
    this.filterChanged();
  }

  private filterChanged(): void {
    this.cache.clear();
    this.matcher = undefined;
    this.key = undefined;
    if (this.live.length === 0 || this.liveThrough !== undefined) return;
    if (this.live.length >= MAX_FILTER_CHANGES) return this.stopTrackingLive();
    this.live.push({ after: this.cursor, matches: eventTypeMatcher(new Set(this.filter)) });
  }

  /** Starts remembering what is sent live, from the current cursor and filter. */
  trackLive(): void {
    this.live = [{ after: this.cursor, matches: eventTypeMatcher(new Set(this.filter)) }];
    this.liveThrough = undefined;
  }

  /** Called when a replay starts: every live send happened at or before the current cursor. */
  endLive(): void {
    this.liveThrough ??= this.cursor;
  }

  /** No resume can need the record of live sends any more. */
  stopTrackingLive(): void {
    this.live = [];
    this.liveThrough = undefined;
  }

  /** Filter segments remembered (for tests and stats: bounded by the filter changes, not events). */
  get liveSegments(): number {
    return this.live.length;
  }

  /** True when the event at `offset` was already sent live on this connection (before its resume). */
  wasSentLive(offset: number, type: string): boolean {
    if (this.live.length === 0 || offset > (this.liveThrough ?? this.cursor)) return false;
    for (let i = this.live.length - 1; i >= 0; i--) {
      const segment = this.live[i] as LiveSegment;
      if (offset > segment.after) return segment.matches(type);
    }
    return false;
  }
}
