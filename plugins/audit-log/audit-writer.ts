import type { FileHandle } from 'node:fs/promises';
import { open, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Backoff, ensureDir, runOnce, type CancelTimer, type Clock } from 'praxis-agent';
import { checkHeldFile, type HeldFile } from './file-identity';
import { freeRotatedName, readTail, rotatedFiles } from './files';
import { FILE_BREAK_TYPE, GENESIS_HASH, parseRecord, prepareEntry, type AuditEntry, type FileBreakData, type FileBreakReason } from './record';
import { MAX_BATCH_LINES } from './seal-batch';
import { InlineSealer, type BatchSealer, type SealerStats } from './sealer';

export type FsyncPolicy = 'every' | 'interval' | 'none';

/**
 * Events queued, while the file is writable, before a publisher waits: two batches, so the next
 * batch is ready when one reaches the disk. A longer backlog writes no faster, but its entries
 * outlive young-generation collections and are copied and promoted: with 10 000 queued the agent
 * spent about 1.5 µs more CPU per audited event in GC (README "End to end (issue 12)"). It is also
 * less to lose in a crash.
 */
export const WRITABLE_BACKLOG = 2 * MAX_BATCH_LINES;

export interface AuditWriterOptions {
  /** The active file. */
  path: string;
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  /** Rotate before a line would take the file past this size; 0: never by size. */
  maxBytes: number;
  /** Rotate when the current period (aligned to the epoch, UTC) ends; 0: never by time. */
  rotateIntervalMs: number;
  /** Rotated files kept; older ones are deleted. 0: keep all. */
  retain: number;
  /** Events held in memory while the file cannot be written. */
  queueCapacity: number;
  /** Backoff between attempts while the file cannot be written (doubling, no jitter). */
  retryInitialMs: number;
  retryMaxMs: number;
  /** HMAC key; lines get an `hmac` field when set. */
  key?: Buffer;
  /** `source` of the records the writer adds itself (drop markers). */
  source: string;
  /** Where batches are sealed (hashed, assembled, encoded); default: inline. The writer closes it. */
  sealer?: BatchSealer;
}

/** What the writer tells its owner; the plugin turns these into `system.error` events. */
export interface AuditWriterHooks {
  /** A failure episode began (called once per episode, not per failed attempt). */
  failed(info: { error: unknown; queued: number; path: string }): void;
  /** The queue was full during an episode: this and further events are dropped (once per episode). */
  dropping(info: { queued: number; capacity: number }): void;
  /** Writes succeed again after an episode. */
  recovered(info: { down_ms: number; attempts: number; dropped: number; queued: number }): void;
  /** At start the file ended in a torn or unreadable line; it was rotated aside. */
  damaged(info: { file: string; rotated_to: string; reason: string }): void;
  /** stop() could not write everything. */
  lost(info: { count: number; error: unknown }): void;
  /**
   * The file the writer was appending to is no longer the file at its path (deleted, replaced,
   * truncated behind its back). What it had written there since `first_seq` may be lost; the next
   * line starts a new file with an `audit.file_break` record that says so.
   */
  fileBroken(info: FileBreakData): void;
}

type QueueItem =
  | { kind: 'event'; entry: AuditEntry }
  | { kind: 'gap'; count: number; first: string; last: string }
  | { kind: 'break'; at: string; data: FileBreakData };

/** Numbers for /stats and /metrics. */
export type AuditWriterStats = {
  file: string;
  lines_written: number;
  bytes_written: number;
  queued: number;
  queue_capacity: number;
  dropped: number;
  write_errors: number;
  rotations: number;
  /** Batches written: one write each (and, with `fsync: every`, one fsync); `lines_written / writes` is the mean batch. */
  writes: number;
  fsyncs: number;
  last_seq: number;
  failing: number;
  /** Times the active file vanished, was replaced or truncated behind the writer's back (records may be lost). */
  file_breaks: number;
  /** The latest of those, for /stats: what happened, when, and which sequence numbers it may have cost. */
  last_file_break?: { reason: FileBreakReason; detected_at: string; first_seq: number | null; last_seq: number; kept_as: string | null };
  /** The sealing worker, when `seal_in_worker` allows one. */
  sealer?: SealerStats;
};

/**
 * The one writer of an audit log: appends sealed lines in order (batched: one write and, with
 * `fsync: every`, one fsync per batch), rotates by size and time, keeps what it cannot write
 * queued (bounded) and retries with exponential backoff on the injected clock. Every file
 * operation runs in one serial task chain, so writes, fsyncs, rotations and close never overlap.
 */
export class AuditWriter {
  private readonly queue: QueueItem[] = [];
  private queuedEvents = 0;
  /**
   * Events of the batch being written and fsynced. They stay in the queue (a failed write leaves
   * them there for the retry) but no longer take room in it: publishers go on queueing the next
   * batch while this one is on its way to disk (group commit). Memory stays bounded by
   * `queueCapacity` plus one batch, and by `queueCapacity` again once a batch fails (see
   * {@link shedBeyondCapacity}).
   */
  private inFlightEvents = 0;
  private fd?: FileHandle;
  private recovered = false;
  private seq = 0;
  private lastHash = GENESIS_HASH;
  /** Bytes of complete lines in the active file. */
  private goodSize = 0;
  /** seq of the active file's first line (null: unknown or nothing written yet). */
  private fileFirstSeq: number | null = null;
  /** The file behind the open (or last opened) handle, to notice when the path no longer leads to it. */
  private held?: HeldFile;
  private lastBreak?: AuditWriterStats['last_file_break'];
  /** recorded_at (ms) of the active file's first line, for rotation by time. */
  private fileStartedAt?: number;
  private dirty = false;
  private tail: Promise<void> = Promise.resolve();
  private drainScheduled = false;
  private retryTimer?: CancelTimer;
  private fsyncTimer?: CancelTimer;
  private failing?: { since: number; attempts: number; dropped: number; dropNotified: boolean };
  private roomWaiters: (() => void)[] = [];
  private closed = false;
  private readonly counters = { lines_written: 0, bytes_written: 0, dropped: 0, write_errors: 0, rotations: 0, writes: 0, fsyncs: 0, file_breaks: 0 };
  private readonly backoff: Backoff;
  private readonly sealer: BatchSealer;

  constructor(
    private readonly options: AuditWriterOptions,
    private readonly clock: Clock,
    private readonly hooks: AuditWriterHooks,
  ) {
    this.backoff = new Backoff({ initialMs: options.retryInitialMs, maxMs: options.retryMaxMs });
    this.sealer = options.sealer ?? new InlineSealer(options.key);
  }

  /**
   * Opens the file (recovering seq and hash from what is on disk) and starts the fsync timer.
   * Resolves after the first attempt; a failure starts a failure episode instead of rejecting.
   */
  start(): Promise<void> {
    if (this.options.fsync === 'interval') this.scheduleFsync();
    return this.exclusive(async () => {
      try {
        await this.ensureOpen();
      } catch (error) {
        await this.onFailure(error);
      }
    });
  }

  /**
   * Queues one entry. Resolves at once while there is room; when the queue is full it waits for
   * room while the file is writable (back-pressure through the bus) and drops, counted, while it
   * is not (an unwritable disk must not stall the bus). While writable, the queue is full at
   * {@link WRITABLE_BACKLOG} events (or `queueCapacity`, if smaller); `queueCapacity` is what it
   * holds while the file cannot be written.
   */
  enqueue(entry: AuditEntry): void | Promise<void> {
    const room = this.failing ? this.options.queueCapacity : Math.min(this.options.queueCapacity, WRITABLE_BACKLOG);
    if (this.queuedEvents - this.inFlightEvents < room && !this.closed) {
      this.queue.push({ kind: 'event', entry });
      this.queuedEvents++;
      this.kick();
      return;
    }
    if (this.failing || this.closed) {
      this.drop();
      return;
    }
    return new Promise<void>((resolve) => this.roomWaiters.push(resolve)).then(() => this.enqueue(entry));
  }

  /** Resolves when everything queued is written, or the writer is failing (then it is still queued). */
  async flushed(): Promise<void> {
    for (;;) {
      const tail = this.tail;
      await tail;
      if (tail !== this.tail) continue;
      // Nothing more will happen without a retry or new events.
      if (this.queue.length === 0 || this.failing || this.retryTimer || this.closed || !this.drainScheduled) return;
    }
  }

  get isFailing(): boolean {
    return this.failing !== undefined;
  }

  stats(): AuditWriterStats {
    const sealer = this.sealer.stats?.();
    return {
      file: this.options.path,
      ...this.counters,
      queued: this.queuedEvents,
      queue_capacity: this.options.queueCapacity,
      last_seq: this.seq,
      failing: this.failing ? 1 : 0,
      ...(this.lastBreak ? { last_file_break: this.lastBreak } : {}),
      ...(sealer ? { sealer } : {}),
    };
  }

  /** Writes what is queued (one attempt even while failing), fsyncs and closes. Idempotent: later calls return the first call's promise. */
  readonly close: () => Promise<void> = runOnce(() => this.closeNow());

  private async closeNow(): Promise<void> {
    this.closed = true;
    this.retryTimer?.();
    this.retryTimer = undefined;
    this.fsyncTimer?.();
    this.fsyncTimer = undefined;
    for (const wake of this.roomWaiters.splice(0)) wake();
    await this.exclusive(async () => {
      // Also with nothing queued: a file removed since the last batch is noticed now, not left for
      // the next start to take for the end of the log.
      await this.checkFileIdentity().catch(() => undefined);
      if (this.queue.length > 0) {
        try {
          while (this.queue.length > 0) await this.writeNext();
        } catch (error) {
          this.counters.write_errors++;
          await this.discardTornBytes();
          this.hooks.lost({ count: this.queuedEvents, error });
          this.queue.splice(0);
          this.queuedEvents = 0;
        }
      }
      if (this.fd) {
        try {
          if (this.dirty && this.options.fsync !== 'none') await this.sync();
        } catch {
          // closing anyway; the data is in the page cache
        }
        await this.fd.close().catch(() => undefined);
        this.fd = undefined;
      }
      await this.sealer.close();
    });
  }

  private drop(): void {
    this.counters.dropped++;
    const now = this.clock.isoNow();
    const last = this.queue[this.queue.length - 1];
    // One marker per run of drops, kept in the queue beyond its capacity, so the log itself says
    // where and how many records are missing.
    if (last?.kind === 'gap') {
      last.count++;
      last.last = now;
    } else {
      this.queue.push({ kind: 'gap', count: 1, first: now, last: now });
    }
    if (this.failing) {
      this.failing.dropped++;
      if (!this.failing.dropNotified) {
        this.failing.dropNotified = true;
        this.hooks.dropping({ queued: this.queuedEvents, capacity: this.options.queueCapacity });
      }
    }
  }

  private exclusive(task: () => Promise<void>): Promise<void> {
    const run = this.tail.then(task);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private kick(): void {
    if (this.drainScheduled || this.retryTimer || this.closed || this.queue.length === 0) return;
    this.drainScheduled = true;
    void this.exclusive(async () => {
      this.drainScheduled = false;
      await this.drain();
    });
  }

  private async drain(): Promise<void> {
    // A drain chained while an earlier one was failing: the retry timer that failure set owns the
    // next attempt (one retry at a time, on the backoff schedule).
    if (this.retryTimer) return;
    while (this.queue.length > 0 && !this.closed) {
      try {
        await this.writeNext();
      } catch (error) {
        await this.onFailure(error);
        return;
      }
      this.endFailureEpisode();
    }
  }

  /** After a successful attempt: a failure episode, if one was running, is over. */
  private endFailureEpisode(): void {
    if (!this.failing) return;
    const { since, attempts, dropped } = this.failing;
    this.failing = undefined;
    this.hooks.recovered({ down_ms: this.clock.now() - since, attempts, dropped, queued: this.queuedEvents });
  }

  private async onFailure(error: unknown): Promise<void> {
    await this.discardTornBytes();
    await this.fd?.close().catch(() => undefined);
    this.fd = undefined;
    // Counted together with scheduling the retry (no await in between), so whoever sees the count sees the timer.
    this.counters.write_errors++;
    const shed = this.shedBeyondCapacity();
    if (!this.failing) {
      this.failing = { since: this.clock.now(), attempts: 1, dropped: 0, dropNotified: false };
      this.backoff.reset();
      this.hooks.failed({ error, queued: this.queuedEvents, path: this.options.path });
      // A publisher waiting for room must not wait on a disk that may never come back.
      for (const wake of this.roomWaiters.splice(0)) wake();
    } else {
      this.failing.attempts++;
    }
    for (let i = 0; i < shed; i++) this.drop();
    if (this.closed) return;
    this.retryTimer?.();
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      if (this.queue.length === 0 && !this.fd) {
        // Nothing to write (the failure was opening the file): try opening again.
        void this.exclusive(async () => {
          try {
            await this.ensureOpen();
            this.endFailureEpisode();
            this.kick();
          } catch (e) {
            await this.onFailure(e);
          }
        });
        return;
      }
      this.kick();
    }, this.backoff.next());
  }

  /**
   * After a failed batch: events queued while it was on its way to disk took the room it would
   * have freed. That room is not coming, so the newest events beyond `queueCapacity` are taken out
   * again and dropped (counted, and marked in the log like any drop while failing): memory stays
   * bounded by `queueCapacity` for the whole failure episode. Returns how many.
   */
  private shedBeyondCapacity(): number {
    let excess = this.queuedEvents - this.options.queueCapacity;
    let shed = 0;
    for (let i = this.queue.length - 1; i >= 0 && excess > 0; i--) {
      if (this.queue[i]?.kind !== 'event') continue;
      this.queue.splice(i, 1);
      this.queuedEvents--;
      excess--;
      shed++;
    }
    return shed;
  }

  /** Cuts bytes a failed write left after the last complete line, so the file never holds half a line of ours. */
  private async discardTornBytes(): Promise<void> {
    if (!this.fd) return;
    try {
      const { size } = await this.fd.stat();
      if (size > this.goodSize) await this.fd.truncate(this.goodSize);
    } catch {
      // retried on the next open
    }
  }

  private async ensureOpen(): Promise<void> {
    if (this.fd) return;
    const file = this.options.path;
    ensureDir(path.dirname(file));
    if (!this.recovered) {
      await this.recover();
      this.recovered = true;
    }
    const fd = await open(file, 'a');
    let foreign = false;
    try {
      const info = await fd.stat();
      if (info.isFile()) {
        const ours = this.held !== undefined && this.held.dev === info.dev && this.held.ino === info.ino;
        // Bytes past the last complete line are cut only from our own file (a failed write's torn
        // bytes); a file that appeared at the path in the meantime is someone else's: kept, not cut.
        if (info.size > this.goodSize && !ours) foreign = true;
        else if (info.size > this.goodSize) await fd.truncate(this.goodSize);
        else if (info.size < this.goodSize) this.goodSize = info.size; // changed between the identity check and this open: carry on, verify will show it
        if (info.size === 0) this.fileStartedAt = undefined;
      }
      if (!foreign) this.held = { dev: info.dev, ino: info.ino };
    } catch (error) {
      await fd.close().catch(() => undefined);
      throw error;
    }
    if (foreign) {
      await fd.close();
      await this.keepAside();
      return this.ensureOpen();
    }
    this.fd = fd;
    if (this.goodSize === 0) await syncDir(path.dirname(file));
  }

  /** One batch: first makes sure the path still leads to the file written so far, then opens and writes. */
  private async writeNext(): Promise<void> {
    await this.checkFileIdentity();
    await this.ensureOpen();
    await this.writeBatch();
  }

  /**
   * Before each batch: is the file at the path still the one this writer appended to (same
   * device and inode, not shorter than what was written)? If not, appending on would write into
   * an unlinked or foreign file and nobody would see it. Instead the writer lets go of it, keeps
   * whatever is at the path now among the rotated files (evidence, never rewritten), and queues an
   * `audit.file_break` record that will start the new file and carry the chain across the break.
   */
  private async checkFileIdentity(): Promise<void> {
    if (!this.held) return;
    const reason = await checkHeldFile(this.options.path, this.held, this.goodSize);
    if (reason === undefined) return;
    await this.fd?.close().catch(() => undefined);
    this.fd = undefined;
    if (this.goodSize === 0) {
      this.held = undefined; // nothing of ours was in it: nothing lost, just open what is there now
      return;
    }
    // Throws when it cannot be renamed: `held` stays, so the next attempt checks again.
    const keptAs = reason === 'vanished' ? null : await this.keepAside();
    this.held = undefined;
    const data: FileBreakData = {
      reason,
      file: this.options.path,
      first_seq: this.fileFirstSeq,
      last_seq: this.seq,
      last_hash: this.lastHash,
      kept_as: keptAs,
    };
    this.goodSize = 0;
    this.fileStartedAt = undefined;
    this.fileFirstSeq = null;
    this.counters.file_breaks++;
    const at = this.clock.isoNow();
    this.lastBreak = { reason, detected_at: at, first_seq: data.first_seq, last_seq: data.last_seq, kept_as: keptAs };
    this.queue.unshift({ kind: 'break', at, data });
    this.hooks.fileBroken(data);
  }

  /** Renames what now sits at the path aside as a rotated file; null when it is not a regular file (or gone again). */
  private async keepAside(): Promise<string | null> {
    try {
      if (!(await stat(this.options.path)).isFile()) return null;
      return await this.rotateAside(this.options.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  /** Learns seq and last hash from the files on disk; rotates a file with a torn or unreadable end aside. */
  private async recover(): Promise<void> {
    const file = this.options.path;
    let active = false;
    try {
      active = (await stat(file)).isFile();
    } catch {
      active = false;
    }
    if (active) {
      const tail = await readTail(file);
      if (tail.size > 0) {
        const last = tail.lastLine !== undefined ? parseRecord(tail.lastLine) : undefined;
        const torn = tail.size > tail.completeSize;
        if (!torn && last && 'record' in last) {
          this.seq = last.record.seq;
          this.lastHash = last.record.hash;
          this.goodSize = tail.size;
          this.fileFirstSeq = tail.firstSeq ?? null;
          const first = tail.firstLine !== undefined ? parseRecord(tail.firstLine) : undefined;
          this.fileStartedAt = (first && 'record' in first && Date.parse(first.record.recorded_at)) || this.clock.now();
          return;
        }
        // Never rewrite what is on disk: the damaged file is kept, as evidence, among the rotated ones.
        const rotatedTo = await this.rotateAside(file);
        const reason = torn
          ? `it ended in a torn line (${tail.size - tail.completeSize} bytes without a newline: the writer was killed mid-write)`
          : 'its last line is not a readable audit record';
        this.hooks.damaged({ file, rotated_to: rotatedTo, reason });
      }
    }
    // Continue from the newest rotated file that has a complete line.
    for (const older of (await rotatedFiles(file)).reverse()) {
      const tail = await readTail(older);
      if (tail.lastLine === undefined) continue; // empty, or only a torn line
      const last = parseRecord(tail.lastLine);
      if ('record' in last) {
        this.seq = last.record.seq;
        this.lastHash = last.record.hash;
      }
      // An unreadable last line: a new chain begins (seq 1); `audit verify` shows the break.
      return;
    }
  }

  private async rotateAside(file: string): Promise<string> {
    const target = await freeRotatedName(file, this.clock.now());
    await rename(file, target);
    this.counters.rotations++;
    this.goodSize = 0;
    this.fileStartedAt = undefined;
    this.fileFirstSeq = null;
    this.held = undefined;
    await syncDir(path.dirname(file));
    await this.applyRetention();
    return target;
  }

  private async rotate(): Promise<void> {
    if (this.fd) {
      if (this.dirty && this.options.fsync !== 'none') await this.sync();
      await this.fd.close();
      this.fd = undefined;
    }
    await this.rotateAside(this.options.path);
  }

  private async applyRetention(): Promise<void> {
    if (this.options.retain === 0) return;
    const rotated = await rotatedFiles(this.options.path);
    for (const old of rotated.slice(0, Math.max(0, rotated.length - this.options.retain))) {
      await unlink(old).catch(() => undefined);
    }
  }

  private periodOf(ms: number): number {
    return Math.floor(ms / this.options.rotateIntervalMs);
  }

  /** Writes the next batch of queued lines; commits seq, hash and queue only once they are written. */
  private async writeBatch(): Promise<void> {
    const now = this.clock.now();
    const { maxBytes, rotateIntervalMs } = this.options;
    if (this.goodSize > 0 && rotateIntervalMs > 0 && this.fileStartedAt !== undefined && this.periodOf(now) !== this.periodOf(this.fileStartedAt)) {
      await this.rotate();
      await this.ensureOpen();
    }
    const items = this.queue.slice(0, MAX_BATCH_LINES);
    const entries = items.map((item) => prepareEntry(item.kind === 'event' ? item.entry : item.kind === 'gap' ? gapEntry(item, this.options.source) : breakEntry(item, this.options.source)));
    const sealed = await this.sealer.seal(entries, { seq: this.seq, prev: this.lastHash, recordedAt: new Date(now).toISOString(), size: this.goodSize, maxBytes });
    if (sealed.rotate) {
      await this.rotate();
      await this.ensureOpen();
      return; // reseal from the new file's start on the next round
    }
    let events = 0;
    for (let i = 0; i < sealed.lines; i++) if (items[i]?.kind === 'event') events++;
    const buffer = sealed.bytes;
    const fd = this.fd as FileHandle;
    this.inFlightEvents = events;
    for (const wake of this.roomWaiters.splice(0)) wake();
    try {
      for (let offset = 0; offset < buffer.length; ) {
        const { bytesWritten } = await fd.write(buffer, offset, buffer.length - offset);
        offset += bytesWritten;
      }
      this.dirty = true;
      if (this.options.fsync === 'every') await this.sync();
    } finally {
      this.inFlightEvents = 0;
    }
    if (this.goodSize === 0) {
      this.fileStartedAt = now;
      this.fileFirstSeq = this.seq + 1;
    }
    this.seq = sealed.seq;
    this.lastHash = sealed.prev;
    this.goodSize = sealed.size;
    this.queue.splice(0, sealed.lines);
    this.queuedEvents -= events;
    this.counters.writes++;
    this.counters.lines_written += sealed.lines;
    this.counters.bytes_written += buffer.length;
    for (const wake of this.roomWaiters.splice(0)) wake();
  }

  private async sync(): Promise<void> {
    await this.fd?.datasync();
    this.dirty = false;
    this.counters.fsyncs++;
  }

  private scheduleFsync(): void {
    this.fsyncTimer = this.clock.setTimeout(() => {
      void this.exclusive(async () => {
        if (this.dirty && this.fd) await this.sync().catch(() => undefined);
      });
      if (!this.closed) this.scheduleFsync();
    }, this.options.fsyncIntervalMs);
  }
}

/** The record that marks events dropped while the log could not be written. */
function gapEntry(gap: { count: number; first: string; last: string }, source: string): AuditEntry {
  return {
    timestamp: gap.last,
    type: 'audit.dropped',
    event_id: null,
    correlation_id: null,
    source,
    tags: [],
    data: { count: gap.count, first_dropped_at: gap.first, last_dropped_at: gap.last },
  };
}

/** The record that starts the file after a break: what happened to the previous file and where the chain stood. */
function breakEntry(item: { at: string; data: FileBreakData }, source: string): AuditEntry {
  return { timestamp: item.at, type: FILE_BREAK_TYPE, event_id: null, correlation_id: null, source, tags: [], data: { ...item.data } };
}

/** Persists a directory entry (a created or renamed file); best effort, not every platform allows it. */
async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // not supported here
  }
}
