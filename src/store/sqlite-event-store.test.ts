import { copyFileSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { EventBus } from '../bus/event-bus';
import { FakeClock } from '../core/clock';
import { EventRegistry } from '../events/registry';
import type { Event } from '../events/types';
import { sampleEvents } from '../testing/samples';
import { EventStore } from './event-store';
import { PAGE_SIZE, ROW_MAX_CHARS, ROW_MAX_EVENTS, SqliteEventStore, STORE_FILE } from './sqlite-event-store';

const dirs: string[] = [];
const open: SqliteEventStore[] = [];

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'praxis-store-'));
  dirs.push(dir);
  return dir;
}

function storeIn(dir: string, clock = new FakeClock(), options: Partial<SqliteEventStore['options']> = {}): SqliteEventStore {
  const store = new SqliteEventStore({ dir, ...options }, clock);
  store.open();
  open.push(store);
  return store;
}

let n = 0;
function event(type: 'system.error' | 'config.changed' | 'service.status' = 'system.error'): Event {
  return { type, data: sampleEvents[type], metadata: { event_id: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`, timestamp: '2026-01-01T00:00:00.000Z', tags: [] } } as Event;
}

/** What a crash leaves on disk: the database and its WAL as they are now, without the clean close. */
function crashSnapshot(from: string): string {
  const to = tempDir();
  for (const suffix of ['', '-wal']) {
    if (existsSync(path.join(from, STORE_FILE + suffix))) copyFileSync(path.join(from, STORE_FILE + suffix), path.join(to, STORE_FILE + suffix));
  }
  return to;
}

/**
 * A database as the build before record batches (store format 1) wrote it: one row per event in
 * `events`, client-chosen ids in a column of it. Events 1..count, every third with a client id.
 */
function formatOneDatabase(dir: string, count: number, options: { pageSize?: number; at?: (seq: number) => number } = {}): { json: string[]; types: string[]; ids: string[] } {
  const db = new Database(path.join(dir, STORE_FILE));
  db.pragma(`page_size = ${options.pageSize ?? 4096}`);
  db.pragma('journal_mode = WAL');
  db.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE events (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, at INTEGER NOT NULL, json TEXT NOT NULL, client_event_id TEXT);
    CREATE INDEX events_client_event_id ON events(client_event_id) WHERE client_event_id IS NOT NULL;`);
  const out = { json: [] as string[], types: [] as string[], ids: [] as string[] };
  const insert = db.prepare('INSERT INTO events (seq, type, at, json, client_event_id) VALUES (?, ?, ?, ?, ?)');
  db.transaction(() => {
    for (let seq = 1; seq <= count; seq++) {
      const e = event(seq % 2 === 0 ? 'config.changed' : 'system.error');
      const id = seq % 3 === 0 ? e.metadata.event_id : null;
      if (id !== null) out.ids.push(id);
      out.json.push(JSON.stringify(e));
      out.types.push(e.type);
      insert.run(seq, e.type, options.at?.(seq) ?? 0, JSON.stringify(e), id);
    }
    const meta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    meta.run('epoch', '11111111-1111-4111-8111-111111111111');
    meta.run('clean', '1');
    meta.run('removed_through', '0');
  })();
  expect(db.pragma('page_size', { simple: true })).toBe(options.pageSize ?? 4096);
  db.close();
  return out;
}

/** What the build before record batches did first on opening a database (its schema statements). */
function openAsFormatOne(file: string): void {
  const db = new Database(file);
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, at INTEGER NOT NULL, json TEXT NOT NULL, client_event_id TEXT);
      DROP INDEX IF EXISTS events_at;`);
    const columns = db.prepare('PRAGMA table_info(events)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'client_event_id')) db.exec('ALTER TABLE events ADD COLUMN client_event_id TEXT');
    db.exec('CREATE INDEX IF NOT EXISTS events_client_event_id ON events(client_event_id) WHERE client_event_id IS NOT NULL');
    db.prepare('SELECT seq, at FROM events ORDER BY seq DESC LIMIT 1').get();
  } finally {
    db.close();
  }
}

/** The rows of `event_batches`: [first offset, last offset] of each. */
function batchRows(store: SqliteEventStore): [number, number][] {
  return (store.database().prepare('SELECT first_seq, last_seq FROM event_batches ORDER BY first_seq').all() as { first_seq: number; last_seq: number }[]).map((r) => [r.first_seq, r.last_seq]);
}

afterEach(() => {
  for (const store of open.splice(0)) store.close();
});

describe('SqliteEventStore', () => {
  it('gives monotonically increasing offsets and reads back by type pattern, with limits', () => {
    const store = storeIn(tempDir());
    const types = ['system.error', 'config.changed', 'service.status', 'system.error'] as const;
    const offsets = types.map((t) => store.append(event(t)).offset);
    expect(offsets).toEqual([1, 2, 3, 4]);
    expect(store.head).toBe(4);
    store.flush();
    store.append(event('config.changed')); // 5, still pending: reads see it too

    expect(store.read(0).events.map((e) => e.offset)).toEqual([1, 2, 3, 4, 5]);
    expect(store.read(2).events.map((e) => e.offset)).toEqual([3, 4, 5]);
    expect(store.read(0, { types: ['system.*'] }).events.map((e) => e.offset)).toEqual([1, 4]);
    expect(store.read(0, { types: ['config.changed', 'service.status'] }).events.map((e) => e.offset)).toEqual([2, 3, 5]);
    expect(store.read(0, { types: [] }).events).toEqual([]);
    const page = store.read(0, { limit: 2 });
    expect(page.events.map((e) => e.offset)).toEqual([1, 2]);
    expect(page.next_offset).toBe(3);
    expect(store.read(3, { types: ['system.*'] })).toMatchObject({ next_offset: 6, head: 5, recovered: true });
    // Events read from disk carry the same JSON text that was stored, and parse back to the event.
    const first = store.read(0, { limit: 1 }).events[0];
    expect(JSON.parse(first.json)).toEqual(first.event);
    expect(first.event.type).toBe('system.error');
  });

  it('serialises each event once and hands listeners the same text, in offset order', () => {
    const store = storeIn(tempDir());
    const seen: string[] = [];
    const unsubscribe = store.subscribe((e) => seen.push(`${e.offset}:${e.type}`));
    store.subscribe(() => {
      throw new Error('a broken listener');
    });
    const appended = store.append(event());
    store.append(event('config.changed'));
    unsubscribe();
    store.append(event());
    expect(seen).toEqual(['1:system.error', '2:config.changed']);
    expect(appended.json).toBe(JSON.stringify(appended.event));
  });

  it('group-commits: a burst is one transaction after commit_interval, or earlier at max_batch', async () => {
    const clock = new FakeClock();
    const dir = tempDir();
    const store = storeIn(dir, clock, { commit_interval: 100, max_batch: 50 });
    for (let i = 0; i < 30; i++) store.append(event());
    expect(store.stats()).toMatchObject({ commits: 0, pending_events: 30 });
    // A crash now loses the burst: it is within the durability window.
    const before = storeIn(crashSnapshot(dir));
    expect(before.head).toBe(0);
    await clock.advance(100);
    expect(store.stats()).toMatchObject({ commits: 1, pending_events: 0 });
    const after = storeIn(crashSnapshot(dir));
    expect(after.head).toBe(30);
    for (let i = 0; i < 50; i++) store.append(event());
    expect(store.stats()).toMatchObject({ commits: 2, pending_events: 0 });
  });

  it('says what a crash keeps: committed is the newest offset on disk, onCommit tells when it grows; a crash reuses the offsets above it', async () => {
    const clock = new FakeClock();
    const dir = tempDir();
    const store = storeIn(dir, clock, { commit_interval: 100 });
    const seen: number[] = [];
    const unsubscribe = store.onCommit((committed) => seen.push(committed));
    for (let i = 0; i < 3; i++) store.append(event());
    expect([store.head, store.committed]).toEqual([3, 0]);
    await clock.advance(100);
    expect([store.head, store.committed, ...seen]).toEqual([3, 3, 3]);
    store.append(event());
    expect(store.committed).toBe(3);
    // Offset 4 was not committed: after a crash it goes to another event.
    const crashed = storeIn(crashSnapshot(dir));
    expect(crashed.committed).toBe(3);
    expect(crashed.append(event()).offset).toBe(4);
    unsubscribe();
    await clock.advance(100);
    expect(store.committed).toBe(4);
    expect(seen).toEqual([3]);
  });

  it('keeps the database in WAL mode, in the configured data dir (created when missing)', () => {
    const dir = path.join(tempDir(), 'nested', 'data');
    const store = storeIn(dir);
    expect(store.file).toBe(path.join(dir, STORE_FILE));
    expect(existsSync(store.file)).toBe(true);
    const db = (store as unknown as { db: { pragma(sql: string, options: { simple: true }): unknown } }).db;
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(db.pragma('page_size', { simple: true })).toBe(PAGE_SIZE);
    // Checkpoints at 4 MiB of WAL, as SQLite's default did with 4 KiB pages.
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(256);
  });

  it('keeps the page size of a database written before (4 KiB pages): its events, appends and a reopen all work', () => {
    const dir = tempDir();
    formatOneDatabase(dir, 1);
    const store = storeIn(dir);
    const db = store.database();
    expect(db.pragma('page_size', { simple: true })).toBe(4096);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1024);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    for (let i = 0; i < 500; i++) store.append(event());
    store.flush();
    store.close();
    const reopened = storeIn(dir);
    expect(reopened.database().pragma('page_size', { simple: true })).toBe(4096);
    expect(reopened.head).toBe(501);
    expect(reopened.read(0, { limit: 1000 }).events.map((e) => e.offset)).toEqual(Array.from({ length: 501 }, (_, i) => i + 1));
  });

  it('commits every event on its own with commit_interval 0', () => {
    const store = storeIn(tempDir(), new FakeClock(), { commit_interval: 0 });
    store.append(event());
    store.append(event());
    expect(store.stats()).toMatchObject({ commits: 2, pending_events: 0 });
  });

  it('keeps the epoch across a clean restart and changes it for a new database or after a crash', () => {
    const dir = tempDir();
    const first = storeIn(dir);
    const other = storeIn(tempDir());
    expect(first.epoch).toMatch(/^[0-9a-f-]{36}$/);
    expect(other.epoch).not.toBe(first.epoch);
    first.append(event());
    first.append(event());
    const epoch = first.epoch;
    first.close();

    const again = storeIn(dir);
    expect(again.epoch).toBe(epoch);
    expect(again.head).toBe(2);
    expect(again.covers(2, epoch)).toBe(true);
    expect(again.append(event()).offset).toBe(3);
    again.flush();

    const crashed = storeIn(crashSnapshot(dir));
    expect(crashed.epoch).not.toBe(epoch);
    expect(crashed.head).toBe(3);
    expect(crashed.covers(3, epoch)).toBe(false);
    expect(crashed.read(0).events).toHaveLength(3);
  });

  it('removes events beyond max_events and older than max_age; resumes from before the tail are not recovered', async () => {
    const clock = new FakeClock();
    const dir = tempDir();
    const store = storeIn(dir, clock, { max_events: 5, max_age: 60_000, retention_interval: 10_000 });
    for (let i = 0; i < 8; i++) store.append(event());
    expect(store.covers(0)).toBe(true);
    expect(store.applyRetention()).toBe(3);
    expect(store.tail).toBe(4);
    expect(store.covers(2)).toBe(false);
    expect(store.covers(3)).toBe(true);
    const result = store.read(1);
    expect(result.recovered).toBe(false);
    expect(result.events.map((e) => e.offset)).toEqual([4, 5, 6, 7, 8]);

    await clock.advance(30_000);
    store.append(event()); // 9, young
    await clock.advance(40_000); // events 1..8 are now 70 s old; retention ran on its own timer
    expect(store.tail).toBe(9);
    expect(store.read(0).events.map((e) => e.offset)).toEqual([9]);
    expect(store.stats()).toMatchObject({ events_removed: 8, retained_events: 1 });

    // The tail survives a restart, even when retention emptied the table.
    await clock.advance(60_000);
    expect(store.tail).toBe(10);
    store.close();
    const reopened = storeIn(dir, clock, { max_events: 5 });
    expect(reopened).toMatchObject({ head: 9, tail: 10 });
    expect(reopened.covers(8)).toBe(false);
    expect(reopened.covers(9)).toBe(true);
    expect(reopened.append(event()).offset).toBe(10);
  });

  it('commits batches of any size in order, and removes by age even after the wall clock stepped back', async () => {
    /** A wall clock that can be set back, as NTP may do. */
    class SteppingClock extends FakeClock {
      offset = 0;
      override now(): number {
        return super.now() + this.offset;
      }
    }
    const clock = new SteppingClock();
    const dir = tempDir();
    const store = storeIn(dir, clock, { max_age: 60_000, retention_interval: 3_600_000, max_batch: 1_000_000 });
    const appended: string[] = [];
    // Batches around the rows one INSERT statement takes: 1, 63, 64, 65, 130 events per commit.
    for (const size of [1, 63, 64, 65, 130]) {
      for (let i = 0; i < size; i++) appended.push(store.append(event(i % 2 === 0 ? 'system.error' : 'service.status')).json);
      store.flush();
      await clock.advance(10_000);
    }
    // Batches at 0 s, 10 s, ... 40 s; now 50 s. The clock steps back an hour for the next events, then is put right.
    clock.offset = -3_600_000;
    for (let i = 0; i < 10; i++) appended.push(store.append(event()).json);
    store.flush();
    clock.offset = 0;
    await clock.advance(25_000); // 75 s
    // Older than 60 s: the batches of 0 s and 10 s (1 + 63 events). The events appended while the clock was
    // behind keep the newest time seen before (40 s): not taken for an hour older, so not removed early.
    expect(store.applyRetention()).toBe(64);
    expect(store.tail).toBe(65);

    store.close();
    const reopened = storeIn(dir, clock, { max_age: 60_000, retention_interval: 3_600_000 });
    expect(reopened.read(0).events.map((e) => e.json)).toEqual(appended.slice(64));
    await clock.advance(20_000); // 95 s: the batches of 20 s and 30 s
    expect(reopened.applyRetention()).toBe(64 + 65);
    await clock.advance(10_000); // 105 s: the batch of 40 s and the events appended while the clock was behind
    expect(reopened.applyRetention()).toBe(130 + 10);
    expect(reopened.read(0).events).toHaveLength(0);
  });

  it('does not retry a failing commit per appended event: new events wait for the backoff, which grows', async () => {
    const clock = new FakeClock();
    const store = storeIn(tempDir(), clock, { commit_interval: 0 });
    const db = (store as unknown as { db: { exec(sql: string): void } }).db;
    db.exec("CREATE TRIGGER fail BEFORE INSERT ON event_batches BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END");
    store.append(event());
    expect(store.stats().commit_errors).toBe(1);
    for (let i = 0; i < 50; i++) store.append(event());
    expect(store.stats()).toMatchObject({ commit_errors: 1, pending_events: 51 });
    await clock.advance(100);
    expect(store.stats().commit_errors).toBe(2);
    await clock.advance(100);
    expect(store.stats().commit_errors).toBe(2); // the second delay is longer than the first
    db.exec('DROP TRIGGER fail');
    await clock.advance(200);
    expect(store.stats()).toMatchObject({ commits: 1, pending_events: 0 });
    store.append(event());
    expect(store.stats()).toMatchObject({ commits: 2, pending_events: 0 });
  });

  it('keeps events pending and retries when a commit fails; past the memory bound it drops the oldest and changes the epoch', async () => {
    const clock = new FakeClock();
    const store = storeIn(tempDir(), clock, { commit_interval: 100, max_batch: 200_000 });
    // A real SQLite failure on every insert, as a full disk would cause.
    const db = (store as unknown as { db: { exec(sql: string): void } }).db;
    db.exec("CREATE TRIGGER fail BEFORE INSERT ON event_batches BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END");
    store.append(event());
    store.append(event());
    await clock.advance(100);
    expect(store.stats()).toMatchObject({ commits: 0, commit_errors: 1, pending_events: 2 });
    expect(store.read(0).events.map((e) => e.offset)).toEqual([1, 2]);
    db.exec('DROP TRIGGER fail');
    await clock.advance(100);
    expect(store.stats()).toMatchObject({ commits: 1, pending_events: 0 });

    db.exec("CREATE TRIGGER fail BEFORE INSERT ON event_batches BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END");
    const epoch = store.epoch;
    for (let i = 0; i < 100_005; i++) store.append(event());
    await clock.advance(100);
    expect(store.stats()).toMatchObject({ events_lost: 5, pending_events: 100_000 });
    expect(store.epoch).not.toBe(epoch);
    expect(store.covers(2)).toBe(false);
    expect(store.tail).toBe(8);
    db.exec('DROP TRIGGER fail');
    store.close();
    const reopened = storeIn(store.options.dir);
    expect(reopened).toMatchObject({ epoch: store.epoch, head: 100_007, tail: 8 });
  });

  it('says once per failure episode, as a critical system.error, that it dropped events it could not commit', async () => {
    const clock = new FakeClock();
    const bus = new EventBus(new EventRegistry(), clock);
    const store = storeIn(tempDir(), clock, { commit_interval: 100, max_batch: 200_000 });
    store.attach(bus);
    const reports: Event<'system.error'>[] = [];
    bus.subscribe('system.error', (e) => {
      reports.push(e);
    });
    const db = (store as unknown as { db: { exec(sql: string): void } }).db;
    db.exec("CREATE TRIGGER fail BEFORE INSERT ON event_batches BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END");
    for (let i = 0; i < 100_005; i++) store.append(event());
    await clock.advance(100);
    for (let i = 0; i < 10; i++) store.append(event());
    await clock.advance(10_000);
    await bus.idle();
    expect(store.stats().events_lost).toBeGreaterThan(5);
    expect(reports.map((r) => [r.data.severity, r.data.error_code])).toEqual([
      ['error', 'STORE_COMMIT_FAILED'],
      ['critical', 'STORE_COMMIT_FAILED'],
    ]);
    expect(reports[1]?.data.message).toMatch(/dropped the 5 oldest .* history has a gap/);
    db.exec('DROP TRIGGER fail');
  });

  it('refuses a second store on the same data dir', () => {
    const dir = tempDir();
    storeIn(dir);
    const second = new SqliteEventStore({ dir }, new FakeClock());
    expect(() => second.open()).toThrow(expect.objectContaining({ code: 'STORE_OPEN_FAILED', message: expect.stringContaining('in use by another agent') }));
  });

  it('finds the events whose client-chosen ids ingest announced, pending, committed and after reopening, until retention removes them', () => {
    const dir = tempDir();
    const store = storeIn(dir, new FakeClock(), { max_events: 2 });
    const announced = event();
    const other = event();
    store.announceEventId(announced.metadata.event_id);
    store.append(announced);
    store.append(other);
    expect(store.hasEventId(announced.metadata.event_id)).toBe(true); // pending
    expect(store.hasEventId(other.metadata.event_id)).toBe(false); // not announced: not indexed
    store.flush();
    expect(store.hasEventId(announced.metadata.event_id)).toBe(true);
    store.close();
    const reopened = storeIn(dir, new FakeClock(), { max_events: 2 });
    expect(reopened.hasEventId(announced.metadata.event_id)).toBe(true);
    reopened.append(event());
    reopened.flush();
    reopened.applyRetention();
    expect(reopened.hasEventId(announced.metadata.event_id)).toBe(false);
  });

  it('opens a database written before client event ids (format 1 without the column): its events, and new ids', () => {
    const dir = tempDir();
    const legacy = new Database(path.join(dir, STORE_FILE));
    legacy.exec('CREATE TABLE events (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, at INTEGER NOT NULL, json TEXT NOT NULL)');
    legacy.prepare('INSERT INTO events (seq, type, at, json) VALUES (1, ?, 0, ?)').run('system.error', JSON.stringify(event()));
    legacy.close();
    const store = storeIn(dir);
    expect(store.read(0).events.map((e) => e.offset)).toEqual([1]);
    expect(store.hasEventId('00000000-0000-4000-8000-000000000000')).toBe(false);
    const announced = event();
    store.announceEventId(announced.metadata.event_id);
    store.append(announced);
    store.flush();
    expect(store.hasEventId(announced.metadata.event_id)).toBe(true);
  });

  it('fails to open with STORE_OPEN_FAILED when the data dir cannot be created', () => {
    const file = path.join(tempDir(), 'not-a-dir');
    copyFileSync(__filename, file);
    const store = new SqliteEventStore({ dir: path.join(file, 'sub') }, new FakeClock());
    expect(() => store.open()).toThrow(expect.objectContaining({ code: 'STORE_OPEN_FAILED' }));
    expect(() => store.append(event())).toThrow(expect.objectContaining({ code: 'STORE_CLOSED' }));
  });

  it('fails to open with STORE_OPEN_FAILED, at once, when the data dir is under /proc (mkdir -p loops forever there)', () => {
    const store = new SqliteEventStore({ dir: '/proc/praxis-store-test/data' }, new FakeClock());
    expect(() => store.open()).toThrow(expect.objectContaining({ code: 'STORE_OPEN_FAILED' }));
  });

  it('stores every event published on the bus, in publish order', async () => {
    const clock = new FakeClock();
    const bus = new EventBus(new EventRegistry(), clock);
    const store = storeIn(tempDir(), clock);
    store.attach(bus);
    await bus.publish('system.error', sampleEvents['system.error']);
    await bus.publish('config.changed', sampleEvents['config.changed']);
    await bus.idle();
    expect(store.read(0).events.map((e) => `${e.offset}:${e.type}`)).toEqual(['1:system.error', '2:config.changed']);
  });

  it('cannot be resolved as the abstract EventStore', () => {
    expect(() => new (EventStore as unknown as new () => EventStore)()).toThrow(/abstract/);
  });
});

describe('SqliteEventStore.whenCommitted', () => {
  it('resolves once the event is committed, and rejects with STORE_CLOSED for one the store never got', async () => {
    const clock = new FakeClock();
    const store = storeIn(tempDir(), clock, { commit_interval: 100 });
    const bus = new EventBus(new EventRegistry(), clock);
    store.attach(bus);
    const e = event();
    let committed = false;
    const waiting = store.whenCommitted(e).then(() => (committed = true));
    bus.publishValidated(e);
    await bus.idle();
    expect(store.stats().pending_events).toBe(1);
    await Promise.resolve();
    expect(committed).toBe(false);
    await clock.advance(100);
    await waiting;
    expect(committed).toBe(true);

    const never = event();
    const closing = store.whenCommitted(never);
    store.close();
    await expect(closing).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    await expect(store.whenCommitted(event())).rejects.toMatchObject({ code: 'STORE_CLOSED' });
  });
});

describe('SqliteEventStore record batches', () => {
  const types = ['system.error', 'config.changed', 'service.status'] as const;

  /** What `read` must answer, computed from the appended events (offset, type, JSON) alone. */
  function expected(all: { offset: number; type: string; json: string }[], after: number, patterns: string[] | undefined, limit: number): { offset: number; json: string }[] {
    const match = (t: string) => patterns === undefined || patterns.some((p) => p === '*' || p === t || (p.endsWith('.*') && t.startsWith(p.slice(0, -1))));
    return all.filter((e) => e.offset > after && match(e.type)).slice(0, limit).map((e) => ({ offset: e.offset, json: e.json }));
  }

  it('commits rows of up to ROW_MAX_EVENTS events and ROW_MAX_CHARS of JSON, a larger event in a row of its own', () => {
    const store = storeIn(tempDir(), new FakeClock(), { max_batch: 1_000_000 });
    for (let i = 0; i < 600; i++) store.append(event());
    store.flush();
    expect(batchRows(store)).toEqual([
      [1, ROW_MAX_EVENTS],
      [ROW_MAX_EVENTS + 1, 2 * ROW_MAX_EVENTS],
      [2 * ROW_MAX_EVENTS + 1, 600],
    ]);
    const big = (size: number): Event => ({ ...event(), data: { ...sampleEvents['system.error'], message: 'x'.repeat(size) } }) as Event;
    store.append(big(ROW_MAX_CHARS / 2 - 1000)); // 601
    store.append(big(ROW_MAX_CHARS / 2 - 1000)); // 602: both fit one row
    store.append(big(ROW_MAX_CHARS / 2 - 1000)); // 603: a new row
    store.append(big(ROW_MAX_CHARS + 10)); // 604: larger than a row, alone
    store.append(event()); // 605
    store.flush();
    expect(batchRows(store).slice(3)).toEqual([
      [601, 602],
      [603, 603],
      [604, 604],
      [605, 605],
    ]);
    expect(store.read(600, { limit: 10 }).events.map((e) => (e.event as Event<'system.error'>).data.message.length)).toEqual([
      ROW_MAX_CHARS / 2 - 1000,
      ROW_MAX_CHARS / 2 - 1000,
      ROW_MAX_CHARS / 2 - 1000,
      ROW_MAX_CHARS + 10,
      sampleEvents['system.error'].message.length,
    ]);
  });

  it('reads across row boundaries and inside rows, by type pattern and with limits, as one event per row would', () => {
    const dir = tempDir();
    const store = storeIn(dir, new FakeClock(), { max_batch: 1_000_000 });
    const all: { offset: number; type: string; json: string }[] = [];
    const append = (count: number, type?: (typeof types)[number]) => {
      for (let i = 0; i < count; i++) {
        const e = store.append(event(type ?? types[(all.length * 7) % 3]));
        all.push({ offset: e.offset, type: e.type, json: e.json });
      }
    };
    append(300); // rows 1..256, 257..300
    store.flush();
    append(5, 'service.status'); // a row of one type
    store.flush();
    append(1); // a row of one event
    store.flush();
    append(600, 'system.error'); // rows without a config.changed in them
    store.flush();
    append(40); // pending: after every committed row
    expect(batchRows(store)).toHaveLength(7);

    const patterns = [undefined, ['*'], ['config.changed'], ['system.*'], ['service.status', 'config.changed']];
    for (const after of [0, 1, 100, 255, 256, 257, 299, 300, 304, 305, 306, 600, 906, 930, 946]) {
      for (const p of patterns) {
        for (const limit of [1, 3, 250, 1000]) {
          const page = store.read(after, { types: p, limit });
          const want = expected(all, after, p, limit);
          expect({ after, p, limit, got: page.events.map((e) => ({ offset: e.offset, json: e.json })) }).toEqual({ after, p, limit, got: want });
          expect(page.events.every((e) => e.type === (e.event as Event).type)).toBe(true);
          expect(page.next_offset).toBe(want.length >= limit ? (want.at(-1) as { offset: number }).offset + 1 : 947);
          expect(page).toMatchObject({ head: 946, recovered: true });
        }
      }
    }
    // The same from disk alone, after a restart (the close committed the pending events).
    store.close();
    const reopened = storeIn(dir);
    for (const after of [0, 255, 256, 300, 305, 600, 930]) {
      for (const p of patterns) {
        expect(reopened.read(after, { types: p, limit: 300 }).events.map((e) => ({ offset: e.offset, json: e.json }))).toEqual(expected(all, after, p, 300));
      }
    }
  });

  it('removes whole rows: retention cutting inside a row keeps it, and reads skip its events below the tail', () => {
    const clock = new FakeClock();
    const dir = tempDir();
    const store = storeIn(dir, clock, { max_events: 400, max_batch: 1_000_000 });
    const json: string[] = [];
    for (let i = 0; i < 600; i++) json.push(store.append(event(i % 2 ? 'system.error' : 'config.changed')).json);
    store.flush();
    expect(batchRows(store)).toEqual([
      [1, 256],
      [257, 512],
      [513, 600],
    ]);
    expect(store.applyRetention()).toBe(200);
    expect(store.tail).toBe(201);
    expect(batchRows(store)).toEqual([
      [1, 256],
      [257, 512],
      [513, 600],
    ]);
    expect(store.stats()).toMatchObject({ events_removed: 200, retained_events: 400 });
    const page = store.read(0, { limit: 10 });
    expect(page.recovered).toBe(false);
    expect(page.events.map((e) => e.offset)).toEqual([201, 202, 203, 204, 205, 206, 207, 208, 209, 210]);
    expect(page.events.map((e) => e.json)).toEqual(json.slice(200, 210));
    expect(store.read(150, { types: ['system.error'], limit: 2 }).events.map((e) => e.offset)).toEqual([202, 204]);
    expect(store.read(0).events).toHaveLength(400);

    for (let i = 0; i < 100; i++) json.push(store.append(event()).json);
    store.flush(); // 601..700
    expect(store.applyRetention()).toBe(100);
    expect(batchRows(store)).toEqual([
      [257, 512],
      [513, 600],
      [601, 700],
    ]);
    store.close();
    const reopened = storeIn(dir, clock, { max_events: 400 });
    expect(reopened).toMatchObject({ head: 700, tail: 301 });
    expect(reopened.read(0).events.map((e) => e.json)).toEqual(json.slice(300));
  });

  it('forgets client-chosen ids with their events, also inside a row retention cut', () => {
    const dir = tempDir();
    const store = storeIn(dir, new FakeClock(), { max_events: 100, max_batch: 1_000_000 });
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) {
      const e = event();
      store.announceEventId(e.metadata.event_id);
      ids.push(e.metadata.event_id);
      store.append(e);
    }
    store.flush();
    expect(batchRows(store)).toEqual([[1, 200]]);
    store.applyRetention();
    expect(store.tail).toBe(101);
    const found = () => ids.map((id) => store.hasEventId(id));
    expect(found()).toEqual(ids.map((_, i) => i >= 100));
    store.close();
    const reopened = storeIn(dir, new FakeClock(), { max_events: 100 });
    expect(ids.map((id) => reopened.hasEventId(id))).toEqual(ids.map((_, i) => i >= 100));
  });

  it('removes by age at the granularity of rows: a row goes once its newest event is older than max_age', async () => {
    const clock = new FakeClock();
    const store = storeIn(tempDir(), clock, { max_age: 60_000, retention_interval: 3_600_000, max_batch: 1_000_000, commit_interval: 3_600_000 });
    for (let i = 0; i < 10; i++) store.append(event()); // at 0 s
    await clock.advance(20_000);
    for (let i = 0; i < 10; i++) store.append(event()); // at 20 s, the same row as the ten before
    store.flush();
    await clock.advance(10_000);
    for (let i = 0; i < 5; i++) store.append(event()); // at 30 s
    store.flush();
    expect(batchRows(store)).toEqual([
      [1, 20],
      [21, 25],
    ]);
    await clock.advance(40_000); // 70 s: events 1..10 are older than 60 s, but their row's newest is 50 s old
    expect(store.applyRetention()).toBe(0);
    await clock.advance(15_000); // 85 s
    expect(store.applyRetention()).toBe(20);
    expect(store.tail).toBe(21);
    await clock.advance(10_000); // 95 s
    expect(store.applyRetention()).toBe(5);
    expect(batchRows(store)).toEqual([]);
  });

  it('keeps committed batches readable after a crash between commits; the pending ones are lost', () => {
    const dir = tempDir();
    const store = storeIn(dir, new FakeClock(), { commit_interval: 100, max_batch: 1_000_000 });
    const json: string[] = [];
    for (let i = 0; i < 600; i++) json.push(store.append(event(types[i % 3])).json);
    store.flush();
    for (let i = 0; i < 100; i++) json.push(store.append(event(types[i % 3])).json);
    store.flush();
    for (let i = 0; i < 50; i++) store.append(event()); // pending when the process dies
    const crashed = storeIn(crashSnapshot(dir));
    expect(crashed.epoch).not.toBe(store.epoch);
    expect(crashed).toMatchObject({ head: 700, committed: 700 });
    const read: string[] = [];
    for (let after = 0; after < crashed.head; ) {
      const page = crashed.read(after, { limit: 333 });
      read.push(...page.events.map((e) => e.json));
      after = page.next_offset - 1;
    }
    expect(read).toEqual(json);
    expect(crashed.read(0, { types: ['config.changed'] }).events.map((e) => e.json)).toEqual(json.filter((_, i) => i % 3 === 1));
    expect(crashed.append(event()).offset).toBe(701);
  });

  it('opens a database of format 1 with events in it: reads across the old and new rows, finds its ids, drains it by retention', () => {
    for (const pageSize of [4096, 16_384]) {
      const clock = new FakeClock();
      const dir = tempDir();
      const old = formatOneDatabase(dir, 300, { pageSize, at: () => clock.now() });
      const store = storeIn(dir, clock, { max_batch: 1_000_000 });
      expect(store).toMatchObject({ head: 300, tail: 1, epoch: '11111111-1111-4111-8111-111111111111' });
      expect(store.database().pragma('page_size', { simple: true })).toBe(pageSize);
      const all = old.json.map((json, i) => ({ offset: i + 1, type: old.types[i] as string, json }));
      for (let i = 0; i < 300; i++) {
        const e = store.append(event(types[i % 3]));
        all.push({ offset: e.offset, type: e.type, json: e.json });
      }
      store.flush();
      expect(batchRows(store)).toEqual([
        [301, 556],
        [557, 600],
      ]);
      for (const after of [0, 290, 299, 300, 301]) {
        for (const p of [undefined, ['config.changed'], ['service.*', 'system.error']]) {
          expect(store.read(after, { types: p, limit: 20 }).events.map((e) => ({ offset: e.offset, json: e.json }))).toEqual(expected(all, after, p, 20));
        }
      }
      expect(old.ids.every((id) => store.hasEventId(id))).toBe(true);
      // A build before record batches refuses the database instead of reusing its offsets.
      store.close();
      expect(() => openAsFormatOne(path.join(dir, STORE_FILE))).toThrow(/view/);

      const reopened = storeIn(dir, clock, { max_events: 400, max_batch: 1_000_000 });
      expect(reopened.head).toBe(600);
      expect(reopened.applyRetention()).toBe(200);
      expect(reopened.read(0, { limit: 3 }).events.map((e) => e.json)).toEqual(all.slice(200, 203).map((e) => e.json));
      expect(old.ids.map((id) => reopened.hasEventId(id))).toEqual(old.ids.map((id) => old.ids.indexOf(id) * 3 + 3 > 200));
      for (let i = 0; i < 100; i++) reopened.append(event());
      expect(reopened.applyRetention()).toBe(100); // the last rows of format 1 go, and their table with them
      const tables = () => (reopened.database().prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
      expect(tables()).toEqual(['event_batches', 'event_ids', 'meta']);
      expect(old.ids.some((id) => reopened.hasEventId(id))).toBe(false);
      expect(reopened.read(0, { limit: 1 }).events.map((e) => e.json)).toEqual([all[300]?.json]);
      reopened.close();
      expect(storeIn(dir, clock)).toMatchObject({ head: 700, tail: 301 });
    }
  });

  it('removes by age in a database of format 1 too, before and across its first batch', async () => {
    const clock = new FakeClock(1_000_000);
    const dir = tempDir();
    formatOneDatabase(dir, 100, { at: (seq) => 1_000_000 + seq * 100 }); // 1.0001 .. 1.01 × 10^6
    const store = storeIn(dir, clock, { max_age: 60_000, retention_interval: 3_600_000 });
    expect(store.applyRetention()).toBe(0);
    await clock.advance(10_000);
    store.append(event()); // 101, at 1,010,000
    store.flush();
    await clock.advance(60_000 - 10_000 + 5_050); // now 1,065,050: events 1..50 (at up to 1,005,000) are older than 60 s
    expect(store.applyRetention()).toBe(50);
    expect(store.tail).toBe(51);
    await clock.advance(20_000); // the rest of format 1, and the first batch (at 1,010,000)
    expect(store.applyRetention()).toBe(51);
    expect(store.read(0).events).toEqual([]);
  });

  it('refuses to open a database written by a newer format', () => {
    const dir = tempDir();
    storeIn(dir).close();
    const db = new Database(path.join(dir, STORE_FILE));
    db.prepare("UPDATE meta SET value = '3' WHERE key = 'format'").run();
    db.close();
    const store = new SqliteEventStore({ dir }, new FakeClock());
    expect(() => store.open()).toThrow(expect.objectContaining({ code: 'STORE_OPEN_FAILED', message: expect.stringContaining('newer agent (store format 3') }));
  });
});
