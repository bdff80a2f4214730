import type { StoredEvent } from 'praxis-agent';
import type { Connection } from './connection';
import { eventFrame, textFrame } from './protocol';

/**
 * Most bytes of event frames per socket write (one frame may be larger), and at most a sixteenth of
 * max_buffered_bytes: a connection gets one write per visit, so clients are served in turn rather
 * than one of them taking a turn's budget.
 */
export const MAX_WRITE_BYTES = 64 * 1024;
/**
 * CPU a fan-out turn may take (the whole process's, user + system: socket writes are mostly the
 * kernel's work, loopback delivery to the reader included), as a ratio of the CPU the rest of the
 * process took since the previous turn: with 1/3, the turns get at most a quarter of a busy
 * process and ingest three quarters. Not more: part of the fan-out's cost lands outside its turns
 * (write completions on the next tick, a partial write finished by libuv when the socket drains,
 * GC of frames), and it counts as the rest's. Measured with 2,000 clients (bench fanout-ingest, see
 * the README of the plugin).
 */
export const TURN_SHARE = 1 / 3;
/**
 * A turn may always take this long (ms): after an idle loop the rest took nothing, and the fan-out
 * then has the process to itself; shorter turns spent more on the loop's own round than on writes.
 */
export const MIN_TURN_MS = 0.5;
/** A turn never takes longer than this (ms): what one turn can add to a POST's latency. */
export const MAX_TURN_MS = 4;
/**
 * Events queued for the fan-out at most: past it, the connections still owed the oldest quarter
 * are cut off as if they had lagged past max_lag (memory is the bound then, not time).
 */
export const MAX_PENDING_EVENTS = 50_000;
/** While sockets hold unsent bytes and no event is newer, they are looked at again this often (ms), and checked against max_lag every quarter of it. */
const STUCK_POLL_MS = 10;
/** Bytes of an event's frame besides its JSON: the envelope and the largest header. */
const FRAME_OVERHEAD = '{"type":"eventStream","payload":,"id":""}'.length + 16 + 10;

/** Writes `data` (`count` event frames) to the client; false when it was cut off instead. */
export type WriteEvents = (conn: Connection, data: Buffer, count: number) => boolean;
/** Why the fan-out cut a client: it owed it more than max_buffered_bytes, or events waiting longer than max_lag. */
export type CutReason = { kind: 'bytes'; unsent: number } | { kind: 'lag'; lagMs: number };
/** Cuts off a client that the fan-out cannot serve in time or within its byte cap (1013). */
export type CutOff = (conn: Connection, why: CutReason) => void;

export interface FanOutOptions {
  /** Per-connection cap on bytes not yet sent (socket's unsent plus queued here). */
  maxBufferedBytes: number;
  /** Milliseconds the oldest undelivered event of a connection may wait before it is cut off. */
  maxLagMs: number;
  /** Milliseconds, monotonic and finer than 1 ms (a turn takes a fraction of one): not the plugin's Clock, whose time is whole ms. */
  now?: () => number;
  /** CPU milliseconds of the process so far (user + system). */
  cpu?: () => number;
}

/**
 * One queued event: its frame is built once, on first use. The parsed event is not kept: events
 * held here for lagging clients outlive the young generation, and their object trees made the
 * old generation's collections the largest cost of a loaded agent after the writes.
 */
interface Queued {
  offset: number;
  type: string;
  json: string;
  /** When it was queued (`now`). */
  at: number;
  /** Estimated frame bytes of every queued event up to and including this one (for the byte cap without framing). */
  end: number;
  frame?: Buffer;
}

/** A write shared by the connections with the same filter at the same cursor. */
interface Chunk {
  data: Buffer;
  count: number;
  /** Offset of the last event the chunk covers (whether or not it matched). */
  last: number;
  /** When its first event was queued. */
  at: number;
}

const processCpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/**
 * The live fan-out. Publishing an event only queues it ({@link add}); the sockets are written on
 * later event-loop turns. Each connection has a cursor into the queue; a turn visits the
 * connections in turn, each getting at most one write (the events after its cursor that its filter
 * takes, per {@link MAX_WRITE_BYTES}), shared by every connection with the same filter and cursor.
 * A socket whose kernel buffer has not taken the previous write gets nothing more (libuv would
 * only queue it): it waits in the queue, where its lag is measured.
 *
 * What bounds the work: a turn's CPU is at most {@link TURN_SHARE} of what the rest of the process
 * took since the previous one, so ingest keeps most of the process when the fan-out cannot keep
 * up. Then the clients fall behind, and one whose oldest undelivered event (queued here, or unsent
 * in its socket) has waited longer than `maxLagMs`, or that is owed more than `maxBufferedBytes`,
 * is cut off (1013): it reconnects and resumes from the event store. A client always gets its
 * events in offset order; {@link catchUp} brings one up to date at once when it must be (before
 * its messages are answered, before it is closed).
 */
export class FanOut {
  private readonly writeBytes: number;
  private readonly now: () => number;
  private readonly cpu: () => number;
  private queue: Queued[] = [];
  /** Index of the first event still queued (the ones before it were delivered to every live connection). */
  private first = 0;
  private bytes = 0;
  /** The connections of the current pass, visited from `next`. */
  private ring: Connection[] = [];
  private next = 0;
  /** Whether the current pass wrote anything (then another pass may have more to write). */
  private passWrote = false;
  private chunks = new Map<string, Chunk>();
  /** Connections whose socket held unsent event bytes after their last write (their lag ages even with nothing newer queued). */
  private readonly stuck = new Set<Connection>();
  /** The chunk used last, and its key: connections in a row mostly share it (same filter, same cursor). */
  private lastChunk?: { cursor: number; filter: string; chunk: Chunk };
  private scheduled?: NodeJS.Immediate;
  private poll?: NodeJS.Timeout;
  /** Process CPU when the previous turn started and how long it took, if it left work behind. */
  private lastTurn?: { cpu: number; ms: number };
  private lastCheck = -Infinity;
  /** Turns that wrote events (stats). */
  turns = 0;
  /** Milliseconds spent in turns since creation (stats: against the process's CPU time, the fan-out's share). */
  busyMs = 0;
  /** The longest lag (ms) of a connection that was not cut (stats: how near max_lag the clients come). */
  maxLagSeen = 0;

  constructor(
    private readonly connections: () => Iterable<Connection>,
    private readonly write: WriteEvents,
    private readonly cutOff: CutOff,
    private readonly options: FanOutOptions,
  ) {
    this.now = options.now ?? (() => performance.now());
    this.cpu = options.cpu ?? processCpuMs;
    this.writeBytes = Math.max(1, Math.min(MAX_WRITE_BYTES, Math.floor(options.maxBufferedBytes / 16)));
  }

  /** Events queued and not yet delivered to every live connection. */
  get pending(): number {
    return this.queue.length - this.first;
  }

  /** Queues an event (in offset order) for the live connections. */
  add(entry: StoredEvent): void {
    this.bytes += entry.json.length + FRAME_OVERHEAD;
    this.queue.push({ offset: entry.offset, type: entry.type, json: entry.json, at: this.now(), end: this.bytes });
    // A chunk that ended at the newest event could take this one too.
    if (this.chunks.size > 0) this.chunks.clear();
    this.lastChunk = undefined;
    if (this.pending >= MAX_PENDING_EVENTS) this.expire(this.queue[this.first + (MAX_PENDING_EVENTS >> 2)]!.offset, this.now());
    this.schedule();
  }

  /** Writes everything queued to `conn` now (what it has not had yet), so nothing later can overtake it. */
  catchUp(conn: Connection): void {
    while (this.serve(conn)) {
      // each call writes one chunk
    }
  }

  /** Writes everything queued to every connection now (stop). */
  finish(): void {
    for (const conn of [...this.connections()]) this.catchUp(conn);
    this.trim();
  }

  private schedule(): void {
    this.scheduled ??= setImmediate(() => this.step());
  }

  private step(): void {
    this.scheduled = undefined;
    if (this.poll) clearTimeout(this.poll);
    this.poll = undefined;
    // The process's CPU is read once a turn (a system call and an object): what the rest took since
    // the previous turn is the CPU since its start less its length. Within the turn the budget is
    // kept on the monotonic clock: the main thread's CPU in the turn is at most its wall time.
    const cpu = this.cpu();
    const others = this.lastTurn ? cpu - this.lastTurn.cpu - this.lastTurn.ms : Infinity;
    const budget = Math.min(MAX_TURN_MS, Math.max(MIN_TURN_MS, others * TURN_SHARE));
    const now = this.now();
    const until = now + budget;
    this.check(now);
    let wrote = false;
    let passed = false;
    for (;;) {
      if (this.next >= this.ring.length) {
        // Another pass only if the last one wrote: one that did not found every socket full or caught up.
        if (passed && !this.passWrote) break;
        this.ring = [...this.connections()];
        this.next = 0;
        this.passWrote = false;
        passed = true;
        this.trim();
        if (this.pending === 0 || this.ring.length === 0) break;
      }
      if (this.visit(this.ring[this.next++] as Connection)) {
        wrote = this.passWrote = true;
        if (this.now() >= until) break;
      }
    }
    const ms = this.now() - now;
    if (wrote) {
      this.turns++;
      this.busyMs += ms;
    }
    const more = this.pending > 0;
    this.lastTurn = more && wrote ? { cpu, ms } : undefined;
    if (more && wrote) return this.schedule();
    // Only sockets still full are left: look again later (a newer event schedules a turn at once).
    if (more || this.stuck.size > 0) this.poll = setTimeout(() => this.step(), more ? STUCK_POLL_MS : this.options.maxLagMs / 4).unref();
  }

  /** One connection's turn: true when it got a write (nothing when caught up, or while its socket still holds the last write). */
  private visit(conn: Connection): boolean {
    if (conn.state !== 'connected' || conn.mode !== 'live' || conn.socket.writableLength > 0) return false;
    this.unstick(conn);
    return this.serve(conn);
  }

  /** Writes `conn` its next chunk (from its cursor); false when it had none or was cut off. */
  private serve(conn: Connection): boolean {
    if (conn.state !== 'connected' || conn.mode !== 'live' || this.lastOffset <= conn.cursor) return false;
    const chunk = this.chunkFor(conn);
    conn.cursor = chunk.last;
    if (chunk.count === 0) return false;
    if (!this.write(conn, chunk.data, chunk.count)) return false;
    if (conn.socket.writableLength > 0 && conn.unsentSince === undefined) {
      conn.unsentSince = chunk.at;
      this.stuck.add(conn);
    }
    return true;
  }

  private unstick(conn: Connection): void {
    conn.unsentSince = undefined;
    this.stuck.delete(conn);
  }

  private get lastOffset(): number {
    const last = this.queue[this.queue.length - 1];
    return last ? last.offset : -Infinity;
  }

  /** Index in the queue of the first event after `offset`. */
  private indexAfter(offset: number): number {
    let lo = this.first;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.queue[mid] as Queued).offset <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The events after `conn`'s cursor that its filter takes, up to writeBytes. */
  private chunkFor(conn: Connection): Chunk {
    const last = this.lastChunk;
    if (last && last.cursor === conn.cursor && last.filter === conn.filterKey) return last.chunk;
    const chunk = this.chunkAt(conn);
    this.lastChunk = { cursor: conn.cursor, filter: conn.filterKey, chunk };
    return chunk;
  }

  private chunkAt(conn: Connection): Chunk {
    const key = `${conn.cursor}\n${conn.filterKey}`;
    let chunk = this.chunks.get(key);
    if (chunk) return chunk;
    const frames: Buffer[] = [];
    let size = 0;
    let i = this.indexAfter(conn.cursor);
    const at = (this.queue[i] as Queued).at;
    let upTo = conn.cursor;
    for (; i < this.queue.length; i++) {
      const q = this.queue[i] as Queued;
      if (conn.matches(q.type)) {
        const frame = (q.frame ??= textFrame(eventFrame(q)));
        if (frames.length > 0 && size + frame.length > this.writeBytes) break;
        frames.push(frame);
        size += frame.length;
      }
      upTo = q.offset;
    }
    chunk = { data: frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames, size), count: frames.length, last: upTo, at };
    this.chunks.set(key, chunk);
    return chunk;
  }

  /**
   * Cuts the connections that lag past max_lag or are owed past max_buffered_bytes. Cheap (a
   * comparison per connection), and run only when something could be due: the oldest event queued
   * is older than the bound, or a while has passed (a socket's unsent bytes age too).
   */
  private check(now: number): void {
    const { maxLagMs, maxBufferedBytes } = this.options;
    const oldest = this.queue[this.first];
    const queued = oldest ? this.bytes - oldest.end : 0;
    if (!(oldest && now - oldest.at > maxLagMs) && queued < maxBufferedBytes / 2 && now - this.lastCheck < maxLagMs / 4) return;
    this.lastCheck = now;
    const owedByFilter = new Map<string, number>();
    for (const conn of this.stuck) if (conn.state !== 'connected' || conn.socket.writableLength === 0) this.unstick(conn);
    for (const conn of this.connections()) {
      if (conn.state !== 'connected' || conn.mode !== 'live') continue;
      const i = this.firstOwed(conn);
      const waiting = this.queue[i];
      let lag = conn.unsentSince === undefined ? 0 : now - conn.unsentSince;
      if (waiting) lag = Math.max(lag, now - waiting.at);
      if (lag > maxLagMs) {
        this.cutOff(conn, { kind: 'lag', lagMs: Math.round(lag) });
        continue;
      }
      if (lag > this.maxLagSeen) this.maxLagSeen = lag;
      // The byte cap is for a client that takes nothing more: one whose socket still takes bytes is
      // reading, and a burst queued for it (larger than the cap) is its lag's business.
      if (!waiting || conn.socket.writableLength === 0) continue;
      // Every event from the first owed on, whatever the filter: an upper bound, exact only when needed.
      const upper = this.bytes - waiting.end + waiting.json.length + FRAME_OVERHEAD;
      const unsent = conn.ws.bufferedAmount;
      if (unsent + upper <= maxBufferedBytes) continue;
      const owed = this.owed(conn, i, owedByFilter);
      if (unsent + owed > maxBufferedBytes) this.cutOff(conn, { kind: 'bytes', unsent: unsent + owed });
    }
  }

  /**
   * Index of the first queued event after `conn`'s cursor that its filter takes; when there is
   * none, the cursor moves past them all (nothing is owed) and the queue's length is returned.
   */
  private firstOwed(conn: Connection): number {
    for (let j = this.indexAfter(conn.cursor); j < this.queue.length; j++) if (conn.matches((this.queue[j] as Queued).type)) return j;
    conn.cursor = Math.max(conn.cursor, this.lastOffset);
    return this.queue.length;
  }

  /** Bytes of the queued frames from index `i` that `conn`'s filter takes (estimated, shared per filter and position). */
  private owed(conn: Connection, i: number, cache: Map<string, number>): number {
    const key = `${i}\n${conn.filterKey}`;
    let bytes = cache.get(key);
    if (bytes === undefined) {
      bytes = 0;
      for (let j = i; j < this.queue.length; j++) {
        const q = this.queue[j] as Queued;
        if (conn.matches(q.type)) bytes += q.json.length + FRAME_OVERHEAD;
      }
      cache.set(key, bytes);
    }
    return bytes;
  }

  /** Cuts the connections still owed an event at or before `offset` (memory bound), then drops those events. */
  private expire(offset: number, now: number): void {
    for (const conn of this.connections()) {
      if (conn.state !== 'connected' || conn.mode !== 'live' || conn.cursor >= offset) continue;
      const owed = this.queue[this.firstOwed(conn)];
      if (owed && owed.offset <= offset) this.cutOff(conn, { kind: 'lag', lagMs: Math.round(now - owed.at) });
      else conn.cursor = Math.max(conn.cursor, offset);
    }
    this.trim();
  }

  /** Drops the events every live connection has had. */
  private trim(): void {
    let min = this.lastOffset;
    for (const conn of this.connections()) {
      if (conn.state === 'connected' && conn.mode === 'live' && conn.cursor < min) min = conn.cursor;
    }
    this.first = this.indexAfter(min);
    if (this.first === this.queue.length) {
      this.queue = [];
      this.first = 0;
      this.chunks.clear();
      this.lastChunk = undefined;
    } else if (this.first > 1024 && this.first * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.first);
      this.first = 0;
      this.chunks.clear();
      this.lastChunk = undefined;
    }
  }
}
