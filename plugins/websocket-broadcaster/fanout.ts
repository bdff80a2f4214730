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
/**
 * Connections written per event-loop turn at most: between turns, ingest and other sockets are
 * served, and events published meanwhile make the next burst bigger (fewer writes per event).
 * Measured with 2,000 clients: 64 posted single events twice as fast as 256; 32 was no better.
 */
export const CONNECTIONS_PER_TURN = 64;
/** Bytes written per event-loop turn at most (a turn always serves at least one connection). */
export const BYTES_PER_TURN = 16 * 1024 * 1024;
/**
 * Events waiting for the fan-out at most, a last resort: a backlog of more than half of
 * max_buffered_bytes first cuts off the clients it would take past their cap (see
 * {@link FanOut.add}), so this is reached only when clients with narrow filters keep up with a
 * flood of events they do not take. Then the publisher finishes the fan-out before going on.
 */
export const MAX_PENDING_EVENTS = 50_000;
/** Bytes of an event's frame besides its JSON: the envelope and the largest header. */
const FRAME_OVERHEAD = '{"type":"eventStream","payload":,"id":""}'.length + 16 + 10;

/** What one connection takes of a burst, cut into writes of at most `writeBytes`. */
export interface BurstBytes {
  writes: Buffer[];
  /** Events in each write. */
  counts: number[];
  bytes: number;
}

/** Writes `data` (`count` event frames) to the client; false when it was cut off instead. */
export type WriteEvents = (conn: Connection, data: Buffer, count: number) => boolean;
/** Cuts off a client that the fan-out's backlog (`owed` bytes) would take past max_buffered_bytes. */
export type CutOff = (conn: Connection, owed: number) => void;

/** The events of one burst, each framed once, and the bytes per filter (shared by the connections that have it). */
class Burst {
  readonly events: StoredEvent[] = [];
  /** Bytes of the events (estimated as {@link Burst.owed} does), whatever the filters. */
  bytes = 0;
  /** Set when its round starts: no event is added any more, so the bytes per filter can be kept. */
  closed = false;
  private readonly frames: (Buffer | undefined)[] = [];
  private readonly byFilter = new Map<string, BurstBytes>();

  constructor(private readonly writeBytes: number) {}

  get first(): number {
    return (this.events[0] as StoredEvent).offset;
  }

  get last(): number {
    return (this.events[this.events.length - 1] as StoredEvent).offset;
  }

  /** Bytes of the frames after `conn`'s cursor that its filter takes (an estimate within a few bytes per event, nothing framed). */
  owed(conn: Connection, byFilter: Map<string, number>): number {
    if (this.events.length === 0 || this.last <= conn.cursor) return 0;
    const shared = conn.cursor < this.first;
    let bytes = shared ? byFilter.get(conn.filterKey) : undefined;
    if (bytes === undefined) {
      bytes = 0;
      for (const e of this.events) if (e.offset > conn.cursor && conn.matches(e.type)) bytes += e.json.length + FRAME_OVERHEAD;
      if (shared) byFilter.set(conn.filterKey, bytes);
    }
    return bytes;
  }

  /** The events after `conn`'s cursor that its filter takes; undefined when none is after the cursor. */
  bytesFor(conn: Connection): BurstBytes | undefined {
    if (this.events.length === 0 || this.last <= conn.cursor) return undefined;
    if (conn.cursor >= this.first) return this.cut(conn, this.events.findIndex((e) => e.offset > conn.cursor));
    if (!this.closed) return this.cut(conn, 0);
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
  /** Bytes of the events waiting (pending and the round's), whatever the filters; when it reaches `checkAt`, {@link shed} runs. */
  private backlog = 0;
  private checkAt: number;
  /** Bursts started since creation (stats). */
  bursts = 0;
  /** Milliseconds spent in turns since creation (stats: the fan-out's share of the event loop). */
  busyMs = 0;

  constructor(
    private readonly connections: () => Iterable<Connection>,
    private readonly write: WriteEvents,
    private readonly cutOff: CutOff,
    private readonly maxBufferedBytes: number,
    /** Milliseconds, monotonic and finer than 1 ms (a turn takes a fraction of one): not the plugin's Clock, whose time is whole ms. */
    private readonly now: () => number = () => performance.now(),
  ) {
    this.checkAt = maxBufferedBytes / 2;
    this.writeBytes = Math.max(1, Math.min(MAX_WRITE_BYTES, Math.floor(maxBufferedBytes / 16)));
    this.pending = new Burst(this.writeBytes);
  }

  /** Queues an event (in offset order) for the live connections. */
  add(entry: StoredEvent): void {
    this.pending.events.push(entry);
    this.pending.bytes += entry.json.length + FRAME_OVERHEAD;
    this.backlog += entry.json.length + FRAME_OVERHEAD;
    // Only while a burst is still being written: what one turn publishes goes out on the next,
    // into the kernel's socket buffers as before (a client is then cut by its socket's unsent bytes).
    if (this.round && this.backlog >= this.checkAt) this.shed();
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

  /**
   * The fan-out is behind (a burst is still being written and the backlog passed another half of
   * max_buffered_bytes): the clients it
   * owes more than they may have unsent (their socket's unsent bytes plus the events waiting here
   * for them) are cut off as slow consumers, as the socket's own cap would cut them later. The
   * publisher never waits for them: the fan-out is the slow part, and the clients resume.
   */
  private shed(): void {
    const inRound = new Set(this.round ? this.round.connections.slice(this.round.next) : []);
    const roundOwed = new Map<string, number>();
    const pendingOwed = new Map<string, number>();
    for (const conn of this.connections()) {
      if (conn.state !== 'connected' || conn.mode !== 'live') continue;
      let owed = this.pending.owed(conn, pendingOwed);
      if (this.round && inRound.has(conn)) owed += this.round.burst.owed(conn, roundOwed);
      if (conn.ws.bufferedAmount + owed > this.maxBufferedBytes) this.cutOff(conn, owed);
    }
    this.checkAt = this.backlog + this.maxBufferedBytes / 2;
  }

  private step(connections: number, bytes: number): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const bounded = connections !== Infinity;
    const start = bounded ? this.now() : 0;
    let served = 0;
    let written = 0;
    while (served < connections && written < bytes) {
      if (!this.round) {
        if (this.pending.events.length === 0) break;
        this.pending.closed = true;
        this.round = { burst: this.pending, connections: [...this.connections()], next: 0 };
        this.pending = new Burst(this.writeBytes);
        this.bursts++;
      }
      const round = this.round;
      if (round.next >= round.connections.length) {
        this.round = undefined;
        this.backlog = this.pending.events.length === 0 ? 0 : this.backlog - round.burst.bytes;
        this.checkAt = this.backlog + this.maxBufferedBytes / 2;
        continue;
      }
      const conn = round.connections[round.next++] as Connection;
      written += this.send(conn, round.burst);
      served++;
    }
    if (bounded) this.busyMs += this.now() - start;
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
