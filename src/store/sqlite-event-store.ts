import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
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
import { EventStore, MAX_READ_LIMIT, type ReadOptions, type ReadResult, type StoredEvent, type StoreListener } from './event-store';

/**
 * The store's options: those of the config's `store` section (types, meaning and defaults are
 * declared once, in its schema) except `enabled`, with `data_dir` resolved to `dir`.
 */
export type SqliteEventStoreOptions = Omit<z.output<typeof storeSectionSchema>, 'enabled' | 'data_dir'> & {
  /** Folder holding `events.db` (created when missing). */
  dir: string;
};

/** Defaults of every store option, as the config schema declares them. */
export const DEFAULT_STORE_OPTIONS: Omit<SqliteEventStoreOptions, 'dir'> = (({ enabled: _enabled, data_dir: _dataDir, ...options }) => options)(storeSectionSchema.parse({}));

/** File name of the database inside the data dir. */
export const STORE_FILE = 'events.db';

/** Pending events kept in memory while commits fail; beyond it the oldest are dropped (and the epoch changes). */
const MAX_PENDING = 100_000;

/** Statistics of the store, shown under `store` on /stats. */
export interface EventStoreStats {
  epoch: string;
  head: number;
  tail: number;
  retained_events: number;
  pending_events: number;
  events_appended: number;
  commits: number;
  commit_errors: number;
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
  ) {}
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

interface Row {
  seq: number;
  type: string;
  json: string;
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
  private commitTimer?: CancelTimer;
  private retentionTimer?: CancelTimer;
  private epochDirty = false;
  private counters = { events_appended: 0, commits: 0, commit_errors: 0, events_removed: 0, events_lost: 0 };
  private readonly statements = new Map<string, Database.Statement>();
  private closed = false;
  /** Failed commits (disk full, I/O errors) are retried with growing delays, not hammered. */
  private readonly commitRetry = new Backoff({ initialMs: 100, maxMs: 5_000, jitter: 0.2 });

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
      mkdirSync(this.options.dir, { recursive: true });
      db = new Database(this.file, { timeout: 0 });
      // Exclusive before WAL: a second agent on the same data dir fails here instead of writing interleaved offsets.
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, at INTEGER NOT NULL, json TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS events_at ON events(at);`);
      const meta = new Map((db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
      const previous = meta.get('epoch');
      const clean = meta.get('clean') === '1';
      this.currentEpoch = previous && clean ? previous : randomUUID();
      this.removedThrough = Number(meta.get('removed_through') ?? 0);
      const max = (db.prepare('SELECT MAX(seq) AS max FROM events').get() as { max: number | null }).max ?? 0;
      this.headOffset = Math.max(max, this.removedThrough);
      const set = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
      db.transaction(() => {
        set.run('epoch', this.currentEpoch);
        set.run('clean', '0');
        set.run('removed_through', String(this.removedThrough));
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
   * Appends one event: the next offset, its JSON (computed here, once), listeners called at once;
   * written to disk with the next group commit.
   */
  append(event: Event): StoredEvent {
    if (!this.db) throw new AgentError('STORE_CLOSED', `event store is not open; ${event.type} was not stored`);
    const entry = new LiveEntry(++this.headOffset, event.type, JSON.stringify(event), event, this.clock.now());
    this.pending.push(entry);
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
      const insert = this.statement('INSERT INTO events (seq, type, at, json) VALUES (?, ?, ?, ?)');
      const setMeta = this.statement('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
      db.transaction(() => {
        for (const e of batch) insert.run(e.offset, e.type, e.at, e.json);
        if (this.epochDirty) {
          setMeta.run('epoch', this.currentEpoch);
          setMeta.run('removed_through', String(this.removedThrough));
        }
      })();
      this.epochDirty = false;
      this.pending = this.pending.slice(batch.length);
      this.counters.commits++;
      this.commitRetry.reset();
    } catch (error) {
      this.counters.commit_errors++;
      this.logger?.error({ err: error, pending: this.pending.length }, `event store commit failed; will retry: ${errorMessage(error)}`);
      this.dropOverflow();
      if (!this.closed) this.commitTimer ??= this.clock.setTimeout(() => {
        this.commitTimer = undefined;
        this.flush();
      }, Math.max(this.options.commit_interval, this.commitRetry.next()));
    }
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
    const { sql, params } = filterSql(types);
    const rows = this.statement(`SELECT seq, type, json FROM events WHERE seq > ?${sql} ORDER BY seq LIMIT ?`).all(from, ...params, limit) as Row[];
    result.events = rows.map((r) => new DiskEntry(r.seq, r.type, r.json));
    for (const e of this.pending) {
      if (result.events.length >= limit) break;
      if (e.offset > from && matches(e.type)) result.events.push(e);
    }
    if (result.events.length >= limit) result.next_offset = (result.events.at(-1) as StoredEvent).offset + 1;
    return result;
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
    if (max_age > 0) {
      const old = (this.statement('SELECT MAX(seq) AS seq FROM events WHERE at < ?').get(this.clock.now() - max_age) as { seq: number | null }).seq;
      if (old !== null) through = Math.max(through, old);
    }
    // Never past what is committed: pending events (a failing disk) are not removed by retention.
    const committedHead = this.pending.length > 0 ? (this.pending[0] as LiveEntry).offset - 1 : this.headOffset;
    through = Math.min(through, committedHead);
    if (through <= this.removedThrough) return 0;
    let removed = 0;
    db.transaction(() => {
      removed = this.statement('DELETE FROM events WHERE seq <= ?').run(through).changes;
      this.statement("UPDATE meta SET value = ? WHERE key = 'removed_through'").run(String(through));
    })();
    this.removedThrough = through;
    this.counters.events_removed += removed;
    this.logger?.debug({ removed, tail: this.tail }, 'event store retention removed old events');
    return removed;
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
      listeners: this.listeners.size,
    };
  }

  /**
   * Subscribes the store to every event on `bus` as a core handler: a large queue that blocks the
   * publisher when full (the store is never silently behind) and is never quarantined.
   */
  attach(bus: EventBus, capacity = 65_536): Unsubscribe {
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

  /** Commits keep failing and memory must stay bounded: drop the oldest pending events, and say history was lost. */
  private dropOverflow(): void {
    const excess = this.pending.length - MAX_PENDING;
    if (excess <= 0) return;
    const dropped = this.pending.splice(0, excess);
    this.counters.events_lost += dropped.length;
    this.removedThrough = Math.max(this.removedThrough, (dropped.at(-1) as LiveEntry).offset);
    this.currentEpoch = randomUUID();
    this.epochDirty = true;
    this.logger?.error({ lost: dropped.length, epoch: this.currentEpoch }, 'event store lost events it could not commit: new epoch');
  }
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
