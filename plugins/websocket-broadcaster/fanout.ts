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
 * A fan-out turn may take at most this ratio of the time the rest of the event loop took since the
 * previous turn, also when the fan-out keeps up: its turns get at most a seventh of a busy loop.
 * A turn's length counts the write completions that follow it (the sockets' callbacks on the next
 * tick): counted as the rest's, they grew the fan-out's budget with its own work, and with a third
 * of the process's CPU as the bound the fan-out took two thirds of a loaded agent (bench
 * fanout-ingest). What stays outside (the kernel finishing partial writes when sockets drain, the
 * collection of what the fan-out allocated, the close handshakes of the clients it cuts) is why
 * the share is this low: in loaded runs 1/4 gave 0.33x of the agent's rate with no client, 1/6
 * 0.4-0.5x; quiet runs of 1/6 later gave 0.25-0.44x, so the bench's spread is as large as that gap.
 */
export const TURN_SHARE = 1 / 6;
/**
 * A turn may always take this long (ms): after an idle loop the rest took nothing, and the fan-out
 * then has the process to itself; shorter turns spent more on the loop's own round than on writes.
 */
export const MIN_TURN_MS = 0.5;
/** A turn never takes longer than this (ms): what one turn can add to a POST's latency. */
export const MAX_TURN_MS = 4;
/**
 * Events queued for the fan-out at most (about 10 MB of frames of 300 bytes with what holds them):
 * past it, the connections still owed the oldest quarter are cut off as if they had lagged past
 * max_lag (memory is the bound then, not time). A 10,000-event POST fits twice. At saturation
 * it decides when the clients that cannot keep up are cut: with 50,000 the agent took 0.4x of its
 * rate with no client (bench fanout-ingest, the collector's work growing with what the queue
 * holds), with 20,000 0.58x.
 */
export const MAX_PENDING_EVENTS = 25_000;
/** While sockets hold unsent bytes and no event is newer, they are looked at again this often (ms), and checked against max_lag every quarter of it. */
const STUCK_POLL_MS = 10;
/** The fan-out's checks of lag and bytes run at most this often (ms): they visit every connection. */
const CHECK_MS = 10;

/** Writes `data` (`count` event frames) to the client; false when it was cut off instead. */
export type WriteEvents = (conn: Connection, data: Buffer, count: number) => boolean;
/** Why the fan-out cut a client: it owed it more than max_buffered_bytes, or events waiting longer than max_lag. */
export type CutReason = { kind: 'bytes'; unsent: number } | { kind: 'lag'; lagMs: number };
/** Cuts off a client that the fan-out cannot serve in time or within its byte cap (1013). */
export type CutOff = (conn: Connection, why: CutReason) => void;

export interface FanOutOptions {
  /** Per-connection cap on bytes not yet sent (socket's unsent plus queued here), for a client that stopped reading. */
  maxBufferedBytes: number;
  /** Milliseconds the oldest undelivered event of a connection may wait before it is cut off. */
  maxLagMs: number;
  /** Milliseconds, monotonic and finer than 1 ms (a turn takes a fraction of one): not the plugin's Clock, whose time is whole ms. */
  now?: () => number;
}

/**
 * One queued event, as its ready frame. Not its JSON text nor the parsed event: events held here
 * for lagging clients outlive the young generation, and the collector's work grows with what they
 * hold on its heap (a frame is a few bytes there, its bytes outside).
 */
interface Queued {
  offset: number;
  type: string;
  frame: Buffer;
  /** When it was queued (`now`). */
  at: number;
  /** Frame bytes of every queued event up to and including this one (for the byte cap). */
  end: number;
}

/** A write shared by the connections with the same filter at the same cursor. */
interface Chunk {
  data: Buffer;
  count: number;
  /** It reached writeBytes: events queued later cannot change it. */
  full: boolean;
  /** Offset of the last event the chunk covers (whether or not it matched). */
  last: number;
  /** When its first event was queued. */
  at: number;
}

/**
 * The live fan-out. Publishing an event only queues it ({@link add}); the sockets are written on
 * later event-loop turns. Each connection has a cursor into the queue; a turn visits the
 * connections in turn, each getting at most one write (the events after its cursor that its filter
 * takes, per {@link MAX_WRITE_BYTES}), shared by every connection with the same filter and cursor.
 * A socket whose kernel buffer has not taken the previous write gets nothing more (libuv would
 * only queue it): it waits in the queue, where its lag is measured.
 *
 * What bounds the work: a turn takes at most {@link TURN_SHARE} of the time the rest of the loop
 * took since the previous one, so ingest keeps most of the process when the fan-out cannot keep
 * up. Then the clients fall behind, and one whose oldest undelivered event (queued here, or unsent
 * in its socket) has waited longer than `maxLagMs`, or whose socket has not taken its last write
 * for an eighth of that while it is owed more than `maxBufferedBytes`, or that is owed one of the
 * oldest events past {@link MAX_PENDING_EVENTS}, is cut off (1013): it reconnects and resumes
 * from the event store. A client always gets its
 * events in offset order; {@link catchUp} brings one up to date at once when it must be (before
 * its messages are answered, before it is closed).
 */
export class FanOut {
  private readonly writeBytes: number;
  private readonly now: () => number;
  private queue: Queued[] = [];
  /** Index of the first event still queued (the ones before it were delivered to every live connection). */
  private first = 0;
  private bytes = 0;
  /** The connections of the current pass, visited from `next`. */
  private ring: Connection[] = [];
  private next = 0;
  /** Whether the current pass wrote anything (then another pass may have more to write). */
  private passWrote = false;
  /**
   * Chunks by cursor and filter: full ones until the next pass (events queued later cannot change
   * them), the others until the next event is queued. Built again for each turn, the 64 KiB chunks
   * of lagging clients were most of a loaded agent's garbage.
   */
  private chunks = new Map<string, Chunk>();
  private openChunks = new Map<string, Chunk>();
  /** Connections whose socket held unsent event bytes after their last write (their lag ages even with nothing newer queued). */
  private readonly stuck = new Set<Connection>();
  /** The chunk used last, and its key: connections in a row mostly share it (same filter, same cursor). */
  private lastChunk?: { cursor: number; filter: string; chunk: Chunk };
  private scheduled?: NodeJS.Immediate;
  private poll?: NodeJS.Timeout;
  /**
   * When the previous turn that wrote ended, its write completions included. Whether or not it left
   * work behind: a fan-out that keeps up with ingest still gets only its share of the time between.
   */
  private lastTurnEnd?: number;
  /**
   * A turn's length with its write completions over the length of its writes (a moving average):
   * the writes stop at the budget divided by it, so that the turn with its completions keeps to it.
   */
  private completionFactor = 1;
  private lastCheck = -Infinity;
  /** Turns that wrote events (stats). */
  turns = 0;
  /** Milliseconds spent in turns since creation (stats: against the process's CPU time, the fan-out's share). */
  busyMs = 0;
  /** The longest lag (ms) of a connection that was not cut (stats: how near max_lag the clients come). */
  maxLagSeen = 0;

  constructor(
    private readonly connections: () => ReadonlySet<Connection>,
    private readonly write: WriteEvents,
    private readonly cutOff: CutOff,
    private readonly options: FanOutOptions,
  ) {
    this.now = options.now ?? (() => performance.now());
    this.writeBytes = Math.max(1, Math.min(MAX_WRITE_BYTES, Math.floor(options.maxBufferedBytes / 16)));
  }

  /** Events queued and not yet delivered to every live connection. */
  get pending(): number {
    return this.queue.length - this.first;
  }

  /** Queues an event (in offset order) for the live connections. */
  add(entry: StoredEvent): void {
    // Nobody to queue for: a connection made later starts after this event (its cursor is the head).
    if (this.connections().size === 0) return;
    const frame = textFrame(eventFrame(entry));
    this.bytes += frame.length;
    this.queue.push({ offset: entry.offset, type: entry.type, frame, at: this.now(), end: this.bytes });
    // A chunk that ended at the newest event could take this one too.
    if (this.openChunks.size > 0) this.openChunks.clear();
    if (this.lastChunk && !this.lastChunk.chunk.full) this.lastChunk = undefined;
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
    // Wall time, not the process's CPU: that counted the collector's threads and the kernel's
    // loopback work (much of it the fan-out's own) as the rest's, and cost a system call a turn.
    const now = this.now();
    const others = this.lastTurnEnd === undefined ? Infinity : now - this.lastTurnEnd;
    const until = now + Math.min(MAX_TURN_MS, Math.max(MIN_TURN_MS, others * TURN_SHARE)) / this.completionFactor;
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
    const more = this.pending > 0;
    if (wrote) {
      this.turns++;
      const writesEnd = this.now();
      // After the sockets' write callbacks, queued on this tick by the writes of the turn.
      process.nextTick(() => {
        const end = this.now();
        this.busyMs += end - now;
        if (writesEnd - now > 0.1) this.completionFactor = Math.min(8, Math.max(1, 0.8 * this.completionFactor + (0.2 * (end - now)) / (writesEnd - now)));
        this.lastTurnEnd = end;
      });
    }
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
    if (conn.socket.writableLength > 0) {
      conn.stalledAt = this.now();
      conn.unsentSince ??= chunk.at;
      this.stuck.add(conn);
    }
    return true;
  }

  private unstick(conn: Connection): void {
    conn.unsentSince = undefined;
    conn.stalledAt = undefined;
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
    let chunk = this.chunks.get(key) ?? this.openChunks.get(key);
    if (chunk) return chunk;
    const frames: Buffer[] = [];
    let size = 0;
    let i = this.indexAfter(conn.cursor);
    const at = (this.queue[i] as Queued).at;
    let upTo = conn.cursor;
    let full = false;
    for (; i < this.queue.length; i++) {
      const q = this.queue[i] as Queued;
      if (conn.matches(q.type)) {
        const frame = q.frame;
        full = frames.length > 0 && size + frame.length > this.writeBytes;
        if (full) break;
        frames.push(frame);
        size += frame.length;
      }
      upTo = q.offset;
    }
    chunk = { data: frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames, size), count: frames.length, last: upTo, at, full };
    (full ? this.chunks : this.openChunks).set(key, chunk);
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
    if (now - this.lastCheck < CHECK_MS) return;
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
      // The byte cap is for a client that stopped reading: its socket has not taken its last write
      // for an eighth of max_lag. One that reads is left to max_lag, and a burst queued for it
      // larger than the cap is not its doing (two 10,000-event POSTs are 5.4 MB).
      const stalled = conn.stalledAt !== undefined && conn.socket.writableLength > 0 && now - conn.stalledAt >= maxLagMs / 8;
      if (!waiting || !stalled) continue;
      // Every event from the first owed on, whatever the filter: an upper bound, exact only when needed.
      const upper = this.bytes - waiting.end + waiting.frame.length;
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

  /** Bytes of the queued frames from index `i` that `conn`'s filter takes (shared per filter and position). */
  private owed(conn: Connection, i: number, cache: Map<string, number>): number {
    const key = `${i}\n${conn.filterKey}`;
    let bytes = cache.get(key);
    if (bytes === undefined) {
      bytes = 0;
      for (let j = i; j < this.queue.length; j++) {
        const q = this.queue[j] as Queued;
        if (conn.matches(q.type)) bytes += q.frame.length;
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
    this.chunks.clear();
    let min = this.lastOffset;
    for (const conn of this.connections()) {
      if (conn.state === 'connected' && conn.mode === 'live' && conn.cursor < min) min = conn.cursor;
    }
    this.first = this.indexAfter(min);
    if (this.first === this.queue.length) {
      this.queue = [];
      this.first = 0;
      this.openChunks.clear();
      this.lastChunk = undefined;
    } else if (this.first > 1024 && this.first * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.first);
      this.first = 0;
      this.openChunks.clear();
      this.lastChunk = undefined;
    }
  }
}
