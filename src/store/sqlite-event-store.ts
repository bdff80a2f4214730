import { randomUUID } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { z } from 'zod';
import type { Unsubscribe } from '../bus/bus';
import type { EventBus } from '../bus/event-bus';
import { eventTypeMatcher } from '../bus/pattern';
import { storeSectionSchema } from '../config/schema';
import type { CancelTimer, Clock } from '../core/clock';
import { Backoff } from '../core/backoff';
import { AgentError, errorMessage } from '../core/errors';
import type { Logger } from '../core/logger';
import type { Event } from '../events/types';
import { EventStore, MAX_READ_LIMIT, STORE_SOURCE, type ReadOptions, type ReadResult, type StoredEvent, type StoreListener } from './event-store';
import { ensureDir } from '../core/ensure-dir';

/**
 * The store's options: those of the config's `store` section (types, meaning and defaults are
 * declared once, in its schema) except `enabled`, with `data_dir` resolved to `dir`.
 */
export type SqliteEventStoreOptions = Omit<z.output<typeof storeSectionSchema>, 'enabled' | 'data_dir'> & {
  /** Folder holding `events.db` (created when missing). */
  dir: string;
};

/** Defaults of every store option, as the config schema declares them. */
export const DEFAULT_STORE_OPTIONS: Omit<SqliteEventStoreOptions, 'dir'> = (({ enabled: _enabled, data_dir: _dataDir, ...options }) => options)(storeSectionSchema.parse({}, { jitless: true })); // parsed once: no JIT (src/config/loader.ts)

/** File name of the database inside the data dir. */
export const STORE_FILE = 'events.db';

/** Page size of a new database, in bytes. */
export const PAGE_SIZE = 16_384;
/** WAL size at which a commit also checkpoints. */
const CHECKPOINT_BYTES = 4 * 1024 * 1024;

/** Pending events kept in memory while commits fail; beyond it the oldest are dropped (and the epoch changes). */
const MAX_PENDING = 100_000;

/**
 * Events per row of `event_batches`: a commit writes its events as rows of up to this many (or
 * {@link ROW_MAX_CHARS}), each holding their JSON texts joined by '\n'. SQLite's work is per row
 * (B-tree insert, record encoding: about 15k instructions a row in callgrind), so one row per event
 * was most of the store's cost per event (README "End to end").
 */
export const ROW_MAX_EVENTS = 256;
/**
 * JSON characters per row, at most (a single larger event gets a row of its own): a read of one
 * event decodes at most one row, so a page of `limit` events never decodes megabytes it skips.
 */
export const ROW_MAX_CHARS = 256 * 1024;
/** Most rows whose types one read step fetches (their JSON is fetched per row, only when needed). */
const MAX_ROWS_PER_READ_STEP = 32;

/**
 * The on-disk format, in meta `format`: 2 = record batches (`event_batches`, `event_ids`). Format 1
 * (no `format` key) held one row per event in a table `events`; it is renamed {@link LEGACY_TABLE}
 * at open, read below the first batch, and drained by retention. A build that finds a higher
 * format refuses to open the database.
 */
export const STORE_FORMAT = 2;
/** The events table of format 1, renamed so that an older build cannot open this database. */
const LEGACY_TABLE = 'events_v1';
/**
 * Where format 1 kept its events, a view that an older build cannot use: it tries to add a column
 * to it ("Cannot add a column to a view") and refuses to open instead of reusing offsets.
 */
const OLD_BUILD_GUARD = "CREATE VIEW IF NOT EXISTS events AS SELECT 'written by a newer praxis-agent (store format 2)' AS refused WHERE 0";

/** Statistics of the store, shown under `store` on /stats. */
export interface EventStoreStats {
  epoch: string;
  head: number;
  tail: number;
  retained_events: number;
  pending_events: number;
  events_appended: number;
  commits: number;
  /** Failed commit attempts, all episodes together. */
  commit_errors: number;
  /** True while commits fail (STORE_COMMIT_FAILED); /readyz answers 503 meanwhile. */
  commit_failing: boolean;
  /** When the current failure episode began (ISO 8601), null while commits succeed. */
  commit_failing_since: string | null;
  /** Failed attempts in the current episode (0 while commits succeed). */
  commit_failing_attempts: number;
  /** The most recent commit error, kept after recovery: what failed and when. */
  last_commit_error: { message: string; at: string } | null;
  events_removed: number;
  events_lost: number;
  listeners: number;
}

/** An event appended in this process: the event object is at hand, `json` was computed once. */
class LiveEntry implements StoredEvent {
  constructor(
    readonly offset: number,
    readonly type: string,
    readonly json: string,
    readonly event: Event,
    readonly at: number,
    /** The event id when a client chose it (ingest): only these are indexed for deduplication. */
    readonly clientEventId: string | null,
  ) {}
}

/** The lines of a text joined by '\n', cut out one at a time in ascending order (no split of the whole). */
class LineCursor {
  private index = 0;
  private start = 0;
  constructor(private readonly text: string) {}

  /** Line `i`, at or after the line asked for before. */
  line(i: number): string {
    for (; this.index < i; this.index++) this.start = this.text.indexOf('\n', this.start) + 1;
    const end = this.text.indexOf('\n', this.start);
    return end === -1 ? this.text.slice(this.start) : this.text.slice(this.start, end);
  }
}

/** An event read back from disk: parsed only if someone asks for the object. */
class DiskEntry implements StoredEvent {
  private parsed?: Event;
  constructor(
    readonly offset: number,
    readonly type: string,
    readonly json: string,
  ) {}

  get event(): Event {
    return (this.parsed ??= JSON.parse(this.json) as Event);
  }
}

interface CommitWaiter {
  resolve: () => void;
  reject: (error: AgentError) => void;
}

interface Row {
  seq: number;
  type: string;
  json: string;
}

/** A row of `event_batches` as a read step sees it: offsets and types, the JSON fetched only if needed. */
interface BatchHead {
  first_seq: number;
  last_seq: number;
  types: string;
}

/**
 * The event store on SQLite (better-sqlite3, WAL, synchronous=FULL, exclusive lock: one agent per
 * data dir). Appends are synchronous and in memory; a timer commits them in one transaction per
 * `commit_interval` (group commit). A `clean` marker in the database tells the next start whether
 * the previous one shut down cleanly; if not, the epoch changes.
 */
export class SqliteEventStore extends EventStore {
  readonly options: SqliteEventStoreOptions;
  private db?: Database.Database;
  private currentEpoch = '';
  private headOffset = 0;
  /** Highest offset removed by retention (or lost); the tail is the one after it. */
  private removedThrough = 0;
  private pending: LiveEntry[] = [];
  private readonly listeners = new Set<StoreListener>();
  private readonly commitListeners = new Set<(committed: number) => void>();
  private commitTimer?: CancelTimer;
  private retentionTimer?: CancelTimer;
  private epochDirty = false;
  private counters = { events_appended: 0, commits: 0, commit_errors: 0, events_removed: 0, events_lost: 0 };
  private readonly statements = new Map<string, Database.Statement>();
  private closed = false;
  /** Failed commits (disk full, I/O errors) are retried with growing delays, not hammered. */
  private readonly commitRetry = new Backoff({ initialMs: 100, maxMs: 5_000, jitter: 0.2 });
  /** The current commit failure episode: reported once when it begins and once when it ends. */
  private failing?: { since: number; attempts: number; lossReported: boolean };
  private lastCommitError: EventStoreStats['last_commit_error'] = null;
  /**
   * `at` of the newest appended event. Append times never decrease (a wall clock stepping back
   * keeps the newest time seen), so retention by age finds its boundary by bisection over offsets
   * and the table needs no index on `at` (which cost about a sixth of SQLite's work per event).
   */
  private lastAt = 0;
  /**
   * Newest offset in the format-1 table ({@link LEGACY_TABLE}), 0 when there is none: offsets up
   * to it are read there, those above from `event_batches`.
   */
  private legacyThrough = 0;
  /** The format-1 table has the client event id column (added by the build before this one). */
  private legacyHasIds = false;
  /** Client-chosen ids announced by ingest whose events are not appended yet. */
  private readonly announcedIds = new Set<string>();
  /** Client-chosen ids of the pending (not yet committed) events: a retry is checked against them without scanning `pending`, which grows while commits fail. */
  private readonly pendingClientIds = new Set<string>();
  /** Where the store reports its own problems as `system.error`; set by {@link attach}. */
  private bus?: EventBus;
  /** Events whose commit someone awaits ({@link whenCommitted}) that are not appended yet. */
  private readonly awaited = new Map<Event, CommitWaiter>();
  /** Appended events whose commit someone awaits, in offset order. */
  private commitWaiters: (CommitWaiter & { offset: number })[] = [];

  constructor(
    options: Partial<SqliteEventStoreOptions> & { dir: string },
    private readonly clock: Clock,
    private readonly logger?: Logger,
  ) {
    super();
    this.options = { ...DEFAULT_STORE_OPTIONS, ...options };
  }

  /** Path of the database file. */
  get file(): string {
    return path.join(this.options.dir, STORE_FILE);
  }

  get epoch(): string {
    return this.currentEpoch;
  }

  get head(): number {
    return this.headOffset;
  }

  get tail(): number {
    return this.removedThrough + 1;
  }

  get committed(): number {
    return this.pending.length > 0 ? (this.pending[0] as LiveEntry).offset - 1 : this.headOffset;
  }

  onCommit(listener: (committed: number) => void): Unsubscribe {
    this.commitListeners.add(listener);
    return () => void this.commitListeners.delete(listener);
  }

  get isOpen(): boolean {
    return this.db !== undefined;
  }

  /**
   * Opens (or creates) the database, decides the epoch and marks the store as in use.
   * @throws AgentError STORE_OPEN_FAILED
   */
  open(): void {
    if (this.db) return;
    let db: Database.Database | undefined;
    try {
      ensureDir(this.options.dir);
      db = new Database(this.file, { timeout: 0 });
      // Exclusive before WAL: a second agent on the same data dir fails here instead of writing interleaved offsets.
      db.pragma('locking_mode = EXCLUSIVE');
      // Only a new, empty database takes it (one written before keeps its pages): a commit writes
      // its WAL frames one page at a time, so 16 KiB pages are a quarter of the write calls of the
      // default 4 KiB (store path, per event: 0.74 → 0.46 µs system CPU, README "End to end").
      db.pragma(`page_size = ${PAGE_SIZE}`);
      db.pragma('journal_mode = WAL');
      // Checkpoint at the same WAL size whatever the page size (SQLite's default: 1000 pages of
      // 4 KiB): a checkpoint copies the WAL into the database on this thread, so its pause stays
      // what it was.
      db.pragma(`wal_autocheckpoint = ${Math.max(1, Math.round(CHECKPOINT_BYTES / (db.pragma('page_size', { simple: true }) as number)))}`);
      db.pragma('synchronous = FULL');
      db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
      const meta = new Map((db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
      const format = Number(meta.get('format') ?? 1);
      if (!(format <= STORE_FORMAT)) throw new Error(`it was written by a newer agent (store format ${meta.get('format') ?? '?'}, this agent reads up to ${STORE_FORMAT})`);
      db.transaction(() => createTables(db as Database.Database))();
      this.openLegacy(db);
      const previous = meta.get('epoch');
      const clean = meta.get('clean') === '1';
      this.currentEpoch = previous && clean ? previous : randomUUID();
      this.removedThrough = Number(meta.get('removed_through') ?? 0);
      const newest = (db.prepare('SELECT last_seq AS seq, last_at AS at FROM event_batches ORDER BY first_seq DESC LIMIT 1').get() ??
        (this.legacyThrough > 0 ? db.prepare(`SELECT seq, at FROM ${LEGACY_TABLE} ORDER BY seq DESC LIMIT 1`).get() : undefined)) as { seq: number; at: number } | undefined;
      this.headOffset = Math.max(newest?.seq ?? 0, this.removedThrough);
      this.lastAt = newest?.at ?? 0;
      const set = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
      db.transaction(() => {
        set.run('epoch', this.currentEpoch);
        set.run('clean', '0');
        set.run('removed_through', String(this.removedThrough));
        set.run('format', String(STORE_FORMAT));
      })();
      if (previous && !clean) {
        this.logger?.warn({ previous_epoch: previous, epoch: this.currentEpoch, head: this.headOffset }, 'event store was not closed cleanly: new epoch, clients resuming from the old one get recovered: false');
      }
    } catch (error) {
      db?.close();
      const busy = /locked|busy/i.test(errorMessage(error));
      throw new AgentError(
        'STORE_OPEN_FAILED',
        `cannot open the event store ${this.file}: ${busy ? 'it is in use by another agent' : errorMessage(error)}`,
        { file: this.file },
        { cause: error },
      );
    }
    this.db = db;
    this.closed = false;
    this.scheduleRetention();
  }

  /**
   * A database of format 1 keeps its rows where they are (no migration at open: that would rewrite
   * the whole history in one transaction and double the file): its table is renamed, read for the
   * offsets it holds, and dropped once retention has emptied it.
   */
  private openLegacy(db: Database.Database): void {
    const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('events', ?)").all(LEGACY_TABLE) as { name: string }[]).map((t) => t.name));
    db.transaction(() => {
      if (tables.has('events')) db.exec(`ALTER TABLE events RENAME TO ${LEGACY_TABLE}`);
      db.exec(OLD_BUILD_GUARD);
    })();
    this.legacyThrough = 0;
    this.legacyHasIds = false;
    if (!tables.has('events') && !tables.has(LEGACY_TABLE)) return;
    const newest = db.prepare(`SELECT seq FROM ${LEGACY_TABLE} ORDER BY seq DESC LIMIT 1`).get() as { seq: number } | undefined;
    if (newest === undefined) {
      db.exec(`DROP TABLE ${LEGACY_TABLE}`);
      return;
    }
    this.legacyThrough = newest.seq;
    this.legacyHasIds = (db.prepare(`PRAGMA table_info(${LEGACY_TABLE})`).all() as { name: string }[]).some((c) => c.name === 'client_event_id');
  }

  /**
   * The open database, for a core component that keeps its own tables beside the events (the
   * alerting engine's state, {@link ../alerting/state-store}): one file to back up, one exclusive
   * lock, one WAL with synchronous=FULL. The store owns the handle: it opens and closes it, and the
   * component must never close it nor change its pragmas; a handle is valid until {@link close}
   * (after a new {@link open}, ask again). better-sqlite3 is synchronous, so the component's
   * transactions never interleave with the store's group commits. The store touches only its own
   * tables (`meta`, `event_batches`, `event_ids`, and a database's format-1 `events_v1` and `events` view): retention deletes their rows (and drops `events_v1` once empty), nothing vacuums.
   * @throws AgentError STORE_CLOSED when the store is not open.
   */
  database(): Database.Database {
    return this.requireOpen();
  }

  /**
   * Appends one event: the next offset, its JSON (computed here, once), listeners called at once;
   * written to disk with the next group commit.
   */
  append(event: Event): StoredEvent {
    if (!this.db) throw new AgentError('STORE_CLOSED', `event store is not open; ${event.type} was not stored`);
    const clientEventId = this.announcedIds.size > 0 && this.announcedIds.delete(event.metadata.event_id) ? event.metadata.event_id : null;
    this.lastAt = Math.max(this.lastAt, this.clock.now());
    const entry = new LiveEntry(++this.headOffset, event.type, JSON.stringify(event), event, this.lastAt, clientEventId);
    this.pending.push(entry);
    if (clientEventId !== null) this.pendingClientIds.add(clientEventId);
    if (this.awaited.size > 0) this.takeWaiter(event, entry.offset);
    this.counters.events_appended++;
    for (const listener of this.listeners) {
      try {
        listener(entry);
      } catch (error) {
        this.logger?.error({ err: error }, 'event store listener failed');
      }
    }
    // While a failed commit waits for its backoff, new events only queue: flushing per event would
    // re-run the failing transaction over everything pending each time.
    if (this.commitRetry.attempts > 0) return entry;
    if (this.options.commit_interval === 0 || this.pending.length >= this.options.max_batch) this.flush();
    else this.commitTimer ??= this.clock.setTimeout(() => {
      this.commitTimer = undefined;
      this.flush();
    }, this.options.commit_interval);
    return entry;
  }

  /** Writes every pending event in one transaction. On failure they stay pending and the next commit retries. */
  flush(): void {
    this.commitTimer?.();
    this.commitTimer = undefined;
    const db = this.db;
    if (!db || this.pending.length === 0) return;
    const batch = this.pending;
    try {
      const setMeta = this.statement('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
      db.transaction(() => {
        this.insert(batch);
        if (this.epochDirty) {
          setMeta.run('epoch', this.currentEpoch);
          setMeta.run('removed_through', String(this.removedThrough));
        }
      })();
      this.epochDirty = false;
      this.pending = this.pending.slice(batch.length);
      this.forgetPendingIds(batch);
      this.counters.commits++;
      this.commitRetry.reset();
      this.settleWaiters((batch.at(-1) as LiveEntry).offset, undefined);
      this.endFailureEpisode();
      this.notifyCommit();
    } catch (error) {
      this.counters.commit_errors++;
      this.onCommitFailure(error);
      this.dropOverflow();
      if (!this.closed) this.commitTimer ??= this.clock.setTimeout(() => {
        this.commitTimer = undefined;
        this.flush();
      }, Math.max(this.options.commit_interval, this.commitRetry.next()));
    }
  }

  private notifyCommit(): void {
    if (this.commitListeners.size === 0) return;
    const committed = this.committed;
    for (const listener of this.commitListeners) {
      try {
        listener(committed);
      } catch (error) {
        this.logger?.error({ err: error }, 'event store commit listener failed');
      }
    }
  }

  /**
   * Writes the entries (consecutive offsets) as rows of up to ROW_MAX_EVENTS events and
   * ROW_MAX_CHARS of JSON, and their client-chosen ids.
   */
  private insert(batch: readonly LiveEntry[]): void {
    const row = this.statement('INSERT INTO event_batches (first_seq, last_seq, first_at, last_at, types, json) VALUES (?, ?, ?, ?, ?, ?)');
    let i = 0;
    while (i < batch.length) {
      const start = i;
      const first = batch[i] as LiveEntry;
      let last = first;
      let types = first.type;
      let json = first.json;
      for (i++; i < batch.length && i - start < ROW_MAX_EVENTS; i++) {
        const e = batch[i] as LiveEntry;
        if (json.length + 1 + e.json.length > ROW_MAX_CHARS) break;
        types += '\n' + e.type;
        json += '\n' + e.json;
        last = e;
      }
      row.run(first.offset, last.offset, first.at, last.at, types, json);
      for (let j = start; j < i; j++) if ((batch[j] as LiveEntry).clientEventId !== null) this.insertId(batch[j] as LiveEntry);
    }
  }

  private insertId(e: LiveEntry): void {
    this.statement('INSERT INTO event_ids (seq, id) VALUES (?, ?)').run(e.offset, e.clientEventId);
  }

  /**
   * Ingest is about to publish an event whose id the client chose: when it is appended, its id is
   * indexed so {@link hasEventId} finds it for the store's retention. Only these ids are indexed:
   * an index over every event's random id would cost a B-tree insert per event (measured: about a
   * third of append throughput).
   */
  announceEventId(eventId: string): void {
    this.announcedIds.add(eventId);
  }

  /** The announced event was refused after all: it will never be appended. */
  withdrawEventId(eventId: string): void {
    this.announcedIds.delete(eventId);
  }

  /**
   * True when an event ingested with this client-chosen `metadata.event_id` is still in the store
   * (committed or pending): ingest answers a retry of it as a duplicate. False when closed.
   */
  hasEventId(eventId: string): boolean {
    if (!this.db) return false;
    if (this.statement('SELECT 1 FROM event_ids WHERE id = ? LIMIT 1').get(eventId) !== undefined) return true;
    if (this.legacyHasIds && this.statement(`SELECT 1 FROM ${LEGACY_TABLE} WHERE client_event_id = ? LIMIT 1`).get(eventId) !== undefined) return true;
    return this.pendingClientIds.has(eventId);
  }

  /**
   * Resolves once `event` (an event object about to be published on the bus the store is attached
   * to) is appended and committed to disk; rejects with STORE_CLOSED when the store closes first,
   * or STORE_COMMIT_FAILED when it was dropped while commits failed. Register before publishing.
   * Fleet mode acknowledges a message to JetStream only then, so a crash before the commit gets the
   * message redelivered instead of losing it.
   */
  whenCommitted(event: Event): Promise<void> {
    if (!this.db) return Promise.reject(new AgentError('STORE_CLOSED', `event store is not open; ${event.type} will not be stored`));
    return new Promise<void>((resolve, reject) => this.awaited.set(event, { resolve, reject }));
  }

  private takeWaiter(event: Event, offset: number): void {
    const waiter = this.awaited.get(event);
    if (!waiter) return;
    this.awaited.delete(event);
    this.commitWaiters.push({ ...waiter, offset });
  }

  /** Settles the waiters of events up to `through`: committed (no error) or lost (`error`). */
  private settleWaiters(through: number, error: AgentError | undefined): void {
    if (this.commitWaiters.length === 0) return;
    let n = 0;
    while (n < this.commitWaiters.length && (this.commitWaiters[n] as { offset: number }).offset <= through) n++;
    const done = this.commitWaiters.slice(0, n);
    this.commitWaiters = this.commitWaiters.slice(n);
    for (const w of done) {
      if (error) w.reject(error);
      else w.resolve();
    }
  }

  private forgetPendingIds(entries: readonly LiveEntry[]): void {
    if (this.pendingClientIds.size === 0) return;
    for (const e of entries) if (e.clientEventId !== null) this.pendingClientIds.delete(e.clientEventId);
  }

  covers(after: number, epoch: string = this.currentEpoch): boolean {
    return epoch === this.currentEpoch && Number.isInteger(after) && after >= this.removedThrough && after <= this.headOffset;
  }

  read(after: number, options: ReadOptions = {}): ReadResult {
    this.requireOpen();
    const limit = Math.min(Math.max(1, Math.floor(options.limit ?? MAX_READ_LIMIT)), MAX_READ_LIMIT);
    const recovered = this.covers(after);
    const result: ReadResult = { epoch: this.currentEpoch, recovered, events: [], next_offset: this.headOffset + 1, head: this.headOffset };
    const types = options.types ?? ['*'];
    if (types.length === 0) return result;
    const from = Math.max(this.removedThrough, Math.min(Math.max(0, Math.floor(after)), this.headOffset));
    const matches = eventTypeMatcher(types);
    if (from < this.legacyThrough) {
      const { sql, params } = filterSql(types);
      const rows = this.statement(`SELECT seq, type, json FROM ${LEGACY_TABLE} WHERE seq > ?${sql} ORDER BY seq LIMIT ?`).all(from, ...params, limit) as Row[];
      result.events = rows.map((r) => new DiskEntry(r.seq, r.type, r.json));
    }
    if (result.events.length < limit) this.readBatches(from, types.includes('*') ? undefined : matches, limit, result.events);
    for (const e of this.pending) {
      if (result.events.length >= limit) break;
      if (e.offset > from && matches(e.type)) result.events.push(e);
    }
    if (result.events.length >= limit) result.next_offset = (result.events.at(-1) as StoredEvent).offset + 1;
    return result;
  }

  /**
   * Appends to `out` the committed events after `from` (matching `matches`, every type when
   * undefined) from `event_batches` until `out` holds `limit`. Rows are stepped through by their
   * types, a few at first (as many as `limit` needs when every type matches), more per step after;
   * a row's JSON is fetched only when it holds an event to return, and only those events' lines
   * are cut out of it.
   */
  private readBatches(from: number, matches: ((type: string) => boolean) | undefined, limit: number, out: StoredEvent[]): void {
    const containing = this.statement('SELECT first_seq FROM event_batches WHERE first_seq <= ? ORDER BY first_seq DESC LIMIT 1').get(from + 1) as { first_seq: number } | undefined;
    const step = this.statement('SELECT first_seq, last_seq, types FROM event_batches WHERE first_seq >= ? ORDER BY first_seq LIMIT ?');
    const jsonOf = this.statement('SELECT json FROM event_batches WHERE first_seq = ?').pluck();
    let next = containing?.first_seq ?? from + 1;
    let rowsPerStep = matches === undefined ? Math.min(MAX_ROWS_PER_READ_STEP, Math.ceil((limit - out.length) / ROW_MAX_EVENTS) + 1) : 2;
    for (;;) {
      const rows = step.all(next, rowsPerStep) as BatchHead[];
      for (const row of rows) {
        if (row.last_seq <= from) continue;
        const types = new LineCursor(row.types);
        let texts: LineCursor | undefined;
        for (let i = Math.max(0, from + 1 - row.first_seq), count = row.last_seq - row.first_seq + 1; i < count; i++) {
          const type = types.line(i);
          if (matches !== undefined && !matches(type)) continue;
          texts ??= new LineCursor(jsonOf.get(row.first_seq) as string);
          out.push(new DiskEntry(row.first_seq + i, type, texts.line(i)));
          if (out.length >= limit) return;
        }
      }
      if (rows.length < rowsPerStep) return;
      next = (rows.at(-1) as BatchHead).last_seq + 1;
      rowsPerStep = Math.min(MAX_ROWS_PER_READ_STEP, rowsPerStep * 2);
    }
  }

  subscribe(listener: StoreListener): Unsubscribe {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /**
   * Removes events older than `max_age` and beyond `max_events` (committing pending ones first).
   * Returns how many were removed. Runs every `retention_interval` while open.
   */
  applyRetention(): number {
    const db = this.requireOpen();
    this.flush();
    let through = this.removedThrough;
    const { max_age, max_events } = this.options;
    if (max_events > 0) through = Math.max(through, this.headOffset - max_events);
    // Never past what is committed: pending events (a failing disk) are not removed by retention.
    const committedHead = this.pending.length > 0 ? (this.pending[0] as LiveEntry).offset - 1 : this.headOffset;
    if (max_age > 0) {
      const old = this.newestBefore(this.clock.now() - max_age, committedHead);
      if (old !== undefined) through = Math.max(through, old);
    }
    through = Math.min(through, committedHead);
    if (through <= this.removedThrough) return 0;
    // Offsets above the tail are committed events without gaps (a loss moves the tail past it).
    const removed = through - this.removedThrough;
    const dropLegacy = this.legacyThrough > 0 && through >= this.legacyThrough;
    db.transaction(() => {
      // Whole rows only: a row straddling `through` stays, reads skip its events up to the tail.
      this.statement('DELETE FROM event_batches WHERE first_seq <= ? AND last_seq <= ?').run(through, through);
      this.statement('DELETE FROM event_ids WHERE seq <= ?').run(through);
      if (dropLegacy) db.exec(`DROP TABLE ${LEGACY_TABLE}`);
      else if (this.legacyThrough > 0) this.statement(`DELETE FROM ${LEGACY_TABLE} WHERE seq <= ?`).run(through);
      this.statement("UPDATE meta SET value = ? WHERE key = 'removed_through'").run(String(through));
    })();
    this.removedThrough = through;
    if (dropLegacy) {
      this.legacyThrough = 0;
      this.legacyHasIds = false;
      this.statements.clear(); // those of the dropped table would fail
    }
    this.counters.events_removed += removed;
    this.logger?.debug({ removed, tail: this.tail }, 'event store retention removed old events');
    return removed;
  }

  /**
   * The offset of the newest committed event appended before `cutoff`, at the granularity of rows
   * (a row counts as old once its newest event is; append times never decrease, see `lastAt`).
   */
  private newestBefore(cutoff: number, committedHead: number): number | undefined {
    const oldest = this.statement('SELECT first_seq FROM event_batches ORDER BY first_seq LIMIT 1').get() as { first_seq: number } | undefined;
    // From the oldest row: one straddling the tail starts below it.
    const firstFrom = this.statement('SELECT first_seq, last_seq, last_at FROM event_batches WHERE first_seq >= ? ORDER BY first_seq LIMIT 1');
    const found = newestRowBefore(firstFrom, oldest?.first_seq ?? committedHead + 1, committedHead, cutoff);
    if (found !== undefined || this.legacyThrough === 0) return found;
    // The format-1 table holds only older events: one row per event, read as a row of one.
    const legacyFrom = this.statement(`SELECT seq AS first_seq, seq AS last_seq, at AS last_at FROM ${LEGACY_TABLE} WHERE seq >= ? ORDER BY seq LIMIT 1`);
    return newestRowBefore(legacyFrom, this.removedThrough + 1, this.legacyThrough, cutoff);
  }

  /** Commits what is pending, marks the shutdown as clean and closes the database. Idempotent. */
  close(): void {
    const db = this.db;
    if (!db) return;
    this.closed = true;
    this.retentionTimer?.();
    this.retentionTimer = undefined;
    this.flush();
    try {
      if (this.pending.length === 0) this.statement("UPDATE meta SET value = '1' WHERE key = 'clean'").run();
    } finally {
      this.statements.clear();
      this.db = undefined;
      this.commitTimer?.();
      this.commitTimer = undefined;
      db.close();
      const closed = new AgentError('STORE_CLOSED', 'event store closed before the event was committed');
      this.settleWaiters(Infinity, closed);
      for (const w of this.awaited.values()) w.reject(closed);
      this.awaited.clear();
    }
  }

  stats(): EventStoreStats {
    return {
      epoch: this.currentEpoch,
      head: this.headOffset,
      tail: this.tail,
      retained_events: this.headOffset - this.removedThrough,
      pending_events: this.pending.length,
      ...this.counters,
      commit_failing: this.failing !== undefined,
      commit_failing_since: this.failing ? new Date(this.failing.since).toISOString() : null,
      commit_failing_attempts: this.failing?.attempts ?? 0,
      last_commit_error: this.lastCommitError,
      listeners: this.listeners.size,
    };
  }

  /** Why the store keeps the agent from being ready (commits failing), or undefined when it does not. */
  readinessProblem(): string | undefined {
    if (!this.failing || !this.lastCommitError) return undefined;
    return `STORE_COMMIT_FAILED: event store commits failing since ${new Date(this.failing.since).toISOString()} (${this.failing.attempts} attempt(s), ${this.pending.length} event(s) pending): ${this.lastCommitError.message}`;
  }

  /**
   * Subscribes the store to every event on `bus` as a core handler: a large queue that blocks the
   * publisher when full (the store is never silently behind) and is never quarantined.
   */
  attach(bus: EventBus, capacity = 65_536): Unsubscribe {
    this.bus = bus;
    return bus.subscribe('*', (event) => {
      if (this.db) this.append(event);
    }, { name: 'event-store', capacity, overflow: 'block', errorThreshold: 0 });
  }

  private requireOpen(): Database.Database {
    if (!this.db) throw new AgentError('STORE_CLOSED', 'event store is not open');
    return this.db;
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      if (this.statements.size > 200) this.statements.clear();
      statement = this.requireOpen().prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private scheduleRetention(): void {
    this.retentionTimer = this.clock.setTimeout(() => {
      try {
        this.applyRetention();
      } catch (error) {
        this.logger?.error({ err: error }, `event store retention failed: ${errorMessage(error)}`);
      }
      if (this.db) this.scheduleRetention();
    }, Math.max(this.options.retention_interval, 1000));
  }

  /** One failed attempt: the first of an episode is logged and published, the retries only counted. */
  private onCommitFailure(error: unknown): void {
    const message = errorMessage(error);
    this.lastCommitError = { message, at: this.clock.isoNow() };
    if (this.failing) {
      this.failing.attempts++;
      this.logger?.debug({ err: error, attempts: this.failing.attempts, pending: this.pending.length }, `event store commit failed again: ${message}`);
      return;
    }
    this.failing = { since: this.clock.now(), attempts: 1, lossReported: false };
    const diagnostics = { file: this.file, pending: this.pending.length, sqlite_code: (error as { code?: unknown }).code ?? null };
    const text = `event store cannot commit to ${this.file} (${message}); ${this.pending.length} event(s) kept pending in memory, retrying with backoff`;
    this.logger?.error({ error_code: 'STORE_COMMIT_FAILED', err: error, ...diagnostics }, text);
    this.report('error', text, diagnostics);
  }

  /** After a successful commit: a failure episode, if one was running, is over. */
  private endFailureEpisode(): void {
    if (!this.failing) return;
    const { since, attempts } = this.failing;
    this.failing = undefined;
    const diagnostics = { file: this.file, recovered: true, down_ms: this.clock.now() - since, attempts, events_lost: this.counters.events_lost };
    const text = `event store commits again after ${diagnostics.down_ms} ms and ${attempts} failed attempt(s)`;
    this.logger?.info({ error_code: 'STORE_COMMIT_FAILED', ...diagnostics }, text);
    this.report('info', text, diagnostics);
  }

  private report(severity: 'critical' | 'error' | 'info', message: string, diagnostic_data: Record<string, unknown>): void {
    this.bus
      ?.publish('system.error', { severity, message, error_code: 'STORE_COMMIT_FAILED', component: STORE_SOURCE, diagnostic_data }, { source: STORE_SOURCE })
      .catch((error: unknown) => this.logger?.warn({ err: error }, `could not publish the event store's system.error: ${errorMessage(error)}`));
  }

  /** Commits keep failing and memory must stay bounded: drop the oldest pending events, and say history was lost. */
  private dropOverflow(): void {
    const excess = this.pending.length - MAX_PENDING;
    if (excess <= 0) return;
    const dropped = this.pending.splice(0, excess);
    this.forgetPendingIds(dropped);
    this.settleWaiters((dropped.at(-1) as LiveEntry).offset, new AgentError('STORE_COMMIT_FAILED', 'the event was dropped from the store while commits failed'));
    this.counters.events_lost += dropped.length;
    this.removedThrough = Math.max(this.removedThrough, (dropped.at(-1) as LiveEntry).offset);
    this.currentEpoch = randomUUID();
    this.epochDirty = true;
    this.logger?.error({ lost: dropped.length, epoch: this.currentEpoch }, 'event store lost events it could not commit: new epoch');
    if (this.failing && !this.failing.lossReported) {
      // Once per episode, like the failure itself: every further retry may drop more, and says so in the log.
      this.failing.lossReported = true;
      const text = `event store dropped the ${dropped.length} oldest of the events it could not commit (more than ${MAX_PENDING} pending): the stored history has a gap, clients resuming get recovered: false`;
      this.report('critical', text, { file: this.file, lost: dropped.length, epoch: this.currentEpoch, tail: this.tail });
    }
  }
}

/**
 * The last offset of the newest row, among those starting in [lo, hi], whose newest event was
 * appended before `cutoff`: bisection, one primary-key lookup (`firstFrom`: the first row starting
 * at or after an offset) per step. Append times never decrease, so old rows come first.
 */
function newestRowBefore(firstFrom: Database.Statement, lo: number, hi: number, cutoff: number): number | undefined {
  let found: number | undefined;
  while (lo <= hi) {
    const mid = Math.floor((lo + hi) / 2);
    const row = firstFrom.get(mid) as { first_seq: number; last_seq: number; last_at: number } | undefined;
    if (row !== undefined && row.first_seq <= hi && row.last_at < cutoff) {
      found = row.last_seq;
      lo = row.last_seq + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/**
 * The tables of format 2: events as record batches (the model: Kafka's log segments, record batches
 * with a base offset), and the offsets of events whose ids the client chose (idempotent ingest).
 * Columns of `event_batches` in the order reads need them: the JSON last, so stepping over rows by
 * their types does not read it.
 */
function createTables(db: Database.Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS event_batches (first_seq INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL, first_at INTEGER NOT NULL, last_at INTEGER NOT NULL, types TEXT NOT NULL, json TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS event_ids (seq INTEGER PRIMARY KEY, id TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS event_ids_id ON event_ids(id);`);
}

/** SQL for a type filter: exact types with IN, `prefix.*` with GLOB (type names hold no GLOB metacharacters). */
function filterSql(types: readonly string[]): { sql: string; params: string[] } {
  if (types.includes('*')) return { sql: '', params: [] };
  const exact = types.filter((t) => !t.endsWith('.*'));
  const prefixes = types.filter((t) => t.endsWith('.*'));
  const parts: string[] = [];
  if (exact.length > 0) parts.push(`type IN (${exact.map(() => '?').join(', ')})`);
  for (const _ of prefixes) parts.push('type GLOB ?');
  return { sql: ` AND (${parts.join(' OR ')})`, params: [...exact, ...prefixes] };
}
