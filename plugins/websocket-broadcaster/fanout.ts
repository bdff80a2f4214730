import type { StoredEvent } from 'praxis-agent';
import type { Connection } from './connection';
import { eventFrame, textFrame } from './protocol';

/**
 * Most bytes of event frames per socket write (one frame may be larger), and at most a sixteenth of
 * max_buffered_bytes: the slow-consumer cap is checked before each write against what the kernel
 * has not taken yet, so a burst larger than the cap still reaches a client that reads, as it did
 * when every event was its own write.
 */
export const MAX_WRITE_BYTES = 64 * 1024;
/** Connections written per event-loop turn at most: between turns, ingest and other sockets are served. */
export const CONNECTIONS_PER_TURN = 256;
/** Bytes written per event-loop turn at most (a turn always serves at least one connection). */
export const BYTES_PER_TURN = 16 * 1024 * 1024;
/**
 * Events waiting for the fan-out at most. Past it the fan-out is behind by more than it can catch
 * up on, and the publisher finishes it before going on: the only point where publishing waits.
 */
export const MAX_PENDING_EVENTS = 10_000;

/** What one connection takes of a burst, cut into writes of at most `writeBytes`. */
export interface BurstBytes {
  writes: Buffer[];
  /** Events in each write. */
  counts: number[];
  bytes: number;
}

/** Writes `data` (`count` event frames) to the client; false when it was cut off instead. */
export type WriteEvents = (conn: Connection, data: Buffer, count: number) => boolean;

/** The events of one burst, each framed once, and the bytes per filter (shared by the connections that have it). */
class Burst {
  readonly events: StoredEvent[] = [];
  private readonly frames: (Buffer | undefined)[] = [];
  private readonly byFilter = new Map<string, BurstBytes>();

  constructor(private readonly writeBytes: number) {}

  get first(): number {
    return (this.events[0] as StoredEvent).offset;
  }

  get last(): number {
    return (this.events[this.events.length - 1] as StoredEvent).offset;
  }

  /** The events after `conn`'s cursor that its filter takes; undefined when none is after the cursor. */
  bytesFor(conn: Connection): BurstBytes | undefined {
    if (this.events.length === 0 || this.last <= conn.cursor) return undefined;
    if (conn.cursor >= this.first) return this.cut(conn, this.events.findIndex((e) => e.offset > conn.cursor));
    let bytes = this.byFilter.get(conn.filterKey);
    if (!bytes) {
      bytes = this.cut(conn, 0);
      this.byFilter.set(conn.filterKey, bytes);
    }
    return bytes;
  }

  private cut(conn: Connection, from: number): BurstBytes {
    const result: BurstBytes = { writes: [], counts: [], bytes: 0 };
    let chunk: Buffer[] = [];
    let size = 0;
    const flush = (): void => {
      if (chunk.length === 0) return;
      result.writes.push(chunk.length === 1 ? (chunk[0] as Buffer) : Buffer.concat(chunk, size));
      result.counts.push(chunk.length);
      result.bytes += size;
      chunk = [];
      size = 0;
    };
    for (let i = from; i < this.events.length; i++) {
      const entry = this.events[i] as StoredEvent;
      if (!conn.matches(entry.type)) continue;
      const frame = (this.frames[i] ??= textFrame(eventFrame(entry)));
      if (size + frame.length > this.writeBytes) flush();
      chunk.push(frame);
      size += frame.length;
    }
    flush();
    return result;
  }
}

/** A burst being written, connection by connection, over as many turns as the budget needs. */
interface Round {
  burst: Burst;
  connections: Connection[];
  next: number;
}

/**
 * The live fan-out. Publishing an event only queues it ({@link add}); the sockets are written on
 * later event-loop turns, a burst (every event queued since the last one) at a time: each event
 * framed once, each client one write per burst (per {@link MAX_WRITE_BYTES}, or a sixteenth of
 * max_buffered_bytes), at most
 * {@link CONNECTIONS_PER_TURN} clients or {@link BYTES_PER_TURN} per turn, so a large fan-out never
 * holds the event loop (and ingest) for long. A client always gets its events in offset order: a
 * burst is written to every connection before the next one starts, and {@link catchUp} brings one
 * connection up to date at once when it must be (before its messages are answered, before it is closed).
 */
export class FanOut {
  private readonly writeBytes: number;
  private pending: Burst;
  private round?: Round;
  private scheduled?: NodeJS.Immediate;
  /** Bursts started since creation (stats). */
  bursts = 0;

  constructor(
    private readonly connections: () => Iterable<Connection>,
    private readonly write: WriteEvents,
    maxBufferedBytes: number,
  ) {
    this.writeBytes = Math.max(1, Math.min(MAX_WRITE_BYTES, Math.floor(maxBufferedBytes / 16)));
    this.pending = new Burst(this.writeBytes);
  }

  /** Queues an event (in offset order) for the live connections. */
  add(entry: StoredEvent): void {
    this.pending.events.push(entry);
    if (this.pending.events.length >= MAX_PENDING_EVENTS) return this.finish();
    this.scheduled ??= setImmediate(() => this.step(CONNECTIONS_PER_TURN, BYTES_PER_TURN));
  }

  /** Writes everything queued to `conn` now (what it has not had yet), so nothing later can overtake it. */
  catchUp(conn: Connection): void {
    if (this.round) this.send(conn, this.round.burst);
    this.send(conn, this.pending);
  }

  /** Writes everything queued to every connection now (stop, or the fan-out too far behind). */
  finish(): void {
    this.step(Infinity, Infinity);
  }

  private step(connections: number, bytes: number): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    let served = 0;
    let written = 0;
    while (served < connections && written < bytes) {
      if (!this.round) {
        if (this.pending.events.length === 0) break;
        this.round = { burst: this.pending, connections: [...this.connections()], next: 0 };
        this.pending = new Burst(this.writeBytes);
        this.bursts++;
      }
      const round = this.round;
      if (round.next >= round.connections.length) {
        this.round = undefined;
        continue;
      }
      const conn = round.connections[round.next++] as Connection;
      written += this.send(conn, round.burst);
      served++;
    }
    if (this.round || this.pending.events.length > 0) this.scheduled ??= setImmediate(() => this.step(connections, bytes));
  }

  /** Writes what `conn` takes of `burst`; returns the bytes written. */
  private send(conn: Connection, burst: Burst): number {
    if (conn.state !== 'connected' || conn.mode !== 'live') return 0;
    const bytes = burst.bytesFor(conn);
    if (!bytes) return 0;
    conn.cursor = burst.last;
    for (let i = 0; i < bytes.writes.length; i++) {
      if (!this.write(conn, bytes.writes[i] as Buffer, bytes.counts[i] as number)) break;
    }
    return bytes.bytes;
  }
}
