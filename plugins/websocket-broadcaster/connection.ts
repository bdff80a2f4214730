import { eventTypeMatcher } from 'praxis-agent';
import type { WebSocket } from 'ws';

export type ConnectionState = 'connecting' | 'connected' | 'disconnecting' | 'disconnected' | 'error';

/** Live connections get each event as it is appended; replaying ones catch up from the store first. */
export type DeliveryMode = 'live' | 'replaying';

/** Offsets sent live before a resume are remembered (at most this many) so the replay skips them. */
const MAX_TRACKED = 10_000;

/** One client: its socket, state, filter, position in the stream and counters. */
export class Connection {
  state: ConnectionState = 'connecting';
  mode: DeliveryMode = 'live';
  /** Every event up to this offset has been dealt with (sent when it matched). */
  cursor = 0;
  errors = 0;
  messagesSent = 0;
  messagesReceived = 0;
  /** Clock time of the last pong or client message. */
  lastSeen: number;
  /** Whether a resume was already served; only the first one can skip what was sent before it. */
  resumed = false;
  /** Offsets sent live before the first resume. */
  readonly sentLive = new Set<number>();
  private filter = new Set<string>();
  private readonly cache = new Map<string, boolean>();
  private matcher?: (type: string) => boolean;

  constructor(
    readonly id: string,
    readonly ws: WebSocket,
    now: number,
    readonly remote: string,
  ) {
    this.lastSeen = now;
  }

  get patterns(): string[] {
    return [...this.filter].sort();
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

  subscribe(patterns: readonly string[]): void {
    for (const p of patterns) this.filter.add(p);
    this.filterChanged();
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
  }

  /** No resume can need the record of live sends any more. */
  stopTrackingLive(): void {
    this.resumed = true;
    this.sentLive.clear();
  }

  noteSentLive(offset: number): void {
    if (!this.resumed && this.sentLive.size < MAX_TRACKED) this.sentLive.add(offset);
  }
}
