import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FakeClock } from '../core/clock';
import { AgentError } from '../core/errors';
import type { Event } from '../events/types';
import { SqliteEventStore } from '../store/sqlite-event-store';
import { sampleEvents } from '../testing/samples';
import type { Alert } from './alerts';
import { fingerprint } from './fingerprint';
import type { NotificationLogEntry } from './notification';
import type { Silence } from './silences';
import { ALERTING_STATE_SCHEMA_VERSION, AlertingStateStore } from './state-store';

const dirs: string[] = [];
const stores: SqliteEventStore[] = [];

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'praxis-alerting-state-'));
  dirs.push(dir);
  return dir;
}

function openStore(dir: string, options: Partial<SqliteEventStore['options']> = {}, clock = new FakeClock(Date.parse('2026-11-30T12:00:00Z'))): SqliteEventStore {
  const store = new SqliteEventStore({ dir, ...options }, clock);
  store.open();
  stores.push(store);
  return store;
}

afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function alert(name: string, overrides: Partial<Alert> = {}): Alert {
  const labels = { alertname: name, severity: 'critical' };
  return {
    fingerprint: fingerprint(labels),
    labels,
    annotations: { summary: `${name} is down` },
    state: 'firing',
    origin: 'event',
    rule: 'system-errors',
    startsAt: 1_000,
    endsAt: 301_000,
    timeout: true,
    updatedAt: 1_000,
    occurrences: 1,
    forMs: 0,
    forCount: 1,
    resolveTimeoutMs: 300_000,
    ...overrides,
  };
}

function entry(receiver: string, groupKey: string, timestamp = 5_000): NotificationLogEntry {
  return { receiver, groupKey, timestamp, firing: [alert('A').fingerprint], resolved: [], expiresAt: timestamp + 7_200_000 };
}

function silence(id: string, comment = 'maintenance'): Silence {
  return {
    id,
    matchers: [{ name: 'alertname', value: 'A|B', isRegex: true, isEqual: true }],
    startsAt: '2026-11-30T12:00:00.000Z',
    endsAt: '2026-11-30T14:00:00.000Z',
    updatedAt: '2026-11-30T12:00:00.000Z',
    createdBy: 'ops',
    comment,
  };
}

function ack(fp: string, by = 'alice') {
  return { fingerprint: fp, startsAt: 1_000, by, comment: 'looking', at: 2_000, expiresAt: 3_600_000 };
}

let n = 0;
function event(): Event {
  return { type: 'system.error', data: sampleEvents['system.error'], metadata: { event_id: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`, timestamp: '2026-11-30T12:00:00.000Z', tags: [] } } as Event;
}

/** The child of the SIGKILL test: loads this folder's TypeScript with the compiler, saves what it is given, prints `saved`, waits. */
const CHILD = `
const fs = require('node:fs');
const ts = require('typescript');
require.extensions['.ts'] = (module, file) => module._compile(ts.transpileModule(fs.readFileSync(file, 'utf8'), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, experimentalDecorators: true } }).outputText, file);
const { SqliteEventStore } = require('../store/sqlite-event-store');
const { SystemClock } = require('../core/clock');
const { AlertingStateStore } = require('./state-store');
const [dir, json] = process.argv.slice(1);
const { alert, entry } = JSON.parse(json);
const store = new SqliteEventStore({ dir, commit_interval: 60000 }, new SystemClock());
store.open();
const state = new AlertingStateStore(store.database());
state.saveAlerts([alert], []);
state.saveNotificationLog([entry], []);
process.stdout.write('saved\\n');
setInterval(() => {}, 1000);
`;

function thrown(fn: () => unknown): AgentError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AgentError);
    return error as AgentError;
  }
  throw new Error('expected an AgentError, nothing was thrown');
}

describe('AlertingStateStore', () => {
  it('keeps every kind across a close and reopen of the event store', () => {
    const dir = tempDir();
    const first = openStore(dir);
    const state = new AlertingStateStore(first.database());
    const a = alert('A');
    const b = alert('B', { state: 'pending', origin: 'external', rule: undefined, generatorURL: 'http://prom/graph' });
    delete (b as { rule?: string }).rule;
    state.saveAlerts([a, b], []);
    state.saveNotificationLog([entry('ops', '{}:{alertname="A"}'), entry('ops', '{}/{team="db"}:{alertname="B"}'), entry('db', '{}:{alertname="A"}')], []);
    state.saveSilence(silence('11111111-1111-4111-8111-111111111111'));
    state.saveAck(ack(a.fingerprint));
    first.close();

    const loaded = new AlertingStateStore(openStore(dir).database()).load();
    expect(loaded.skipped).toEqual([]);
    expect(loaded.alerts).toEqual([a, b].sort((x, y) => x.fingerprint.localeCompare(y.fingerprint)));
    expect(loaded.nflog).toEqual([entry('db', '{}:{alertname="A"}'), entry('ops', '{}/{team="db"}:{alertname="B"}'), entry('ops', '{}:{alertname="A"}')]);
    expect(loaded.silences).toEqual([silence('11111111-1111-4111-8111-111111111111')]);
    expect(loaded.acks).toEqual([ack(a.fingerprint)]);
  });

  it('keeps what was saved when the process is killed with SIGKILL right after the save returned', async () => {
    const dir = tempDir();
    // A separate process runs this source (transpiled as it loads), saves, says so, and waits to be killed.
    const child = spawn(process.execPath, ['-e', CHILD, dir, JSON.stringify({ alert: alert('A'), entry: entry('ops', 'g') })], { cwd: __dirname, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('saved') && resolve());
      child.on('exit', () => reject(new Error(`the child exited before saving: ${stderr}`)));
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const loaded = new AlertingStateStore(openStore(dir).database()).load();
    expect(loaded).toEqual({ alerts: [alert('A')], nflog: [entry('ops', 'g')], silences: [], acks: [], skipped: [] });
  }, 30_000);

  it('replaces on upsert and removes on delete, each kind by its key', () => {
    const dir = tempDir();
    const state = new AlertingStateStore(openStore(dir).database());
    const a = alert('A');
    const b = alert('B');
    state.saveAlerts([a, b], []);
    state.saveAlerts([{ ...a, state: 'resolved', endsAt: 9_000, occurrences: 3 }], [b.fingerprint, 'no-such-fingerprint']);
    state.saveNotificationLog([entry('ops', 'g1'), entry('ops', 'g2'), entry('db', 'g1')], []);
    state.saveNotificationLog([entry('ops', 'g1', 8_000)], [{ receiver: 'db', groupKey: 'g1' }]);
    state.saveSilence(silence('s1'));
    state.saveSilence(silence('s2'));
    state.saveSilence(silence('s1', 'extended'));
    state.deleteSilence('s2');
    state.deleteSilence('never-stored');
    state.saveAck(ack(a.fingerprint));
    state.saveAck(ack(b.fingerprint));
    state.saveAck(ack(a.fingerprint, 'bob'));
    state.deleteAck(b.fingerprint);

    const loaded = state.load();
    expect(loaded.alerts).toEqual([{ ...a, state: 'resolved', endsAt: 9_000, occurrences: 3 }]);
    expect(loaded.nflog).toEqual([entry('ops', 'g1', 8_000), entry('ops', 'g2')]);
    expect(loaded.silences).toEqual([silence('s1', 'extended')]);
    expect(loaded.acks).toEqual([ack(a.fingerprint, 'bob')]);
  });

  it('skips and reports rows it cannot use, and loads the others', () => {
    const dir = tempDir();
    const store = openStore(dir);
    const state = new AlertingStateStore(store.database());
    const [a, b, c] = [alert('A'), alert('B'), alert('C')];
    state.saveAlerts([a, b, c], []);
    state.saveNotificationLog([entry('ops', 'g1'), entry('ops', 'g2')], []);
    state.saveSilence(silence('s1'));
    state.saveSilence(silence('s2'));
    state.saveAck(ack(a.fingerprint));
    state.saveAck(ack(b.fingerprint));
    // Damage as a torn write, a bug or a hand edit would leave it.
    const db = store.database();
    db.prepare('UPDATE alerting_alerts SET value = ? WHERE fingerprint = ?').run('{"fingerprint": "', b.fingerprint);
    db.prepare('UPDATE alerting_alerts SET value = ? WHERE fingerprint = ?').run(JSON.stringify({ ...c, labels: { alertname: 'other' } }), c.fingerprint);
    db.prepare('UPDATE alerting_nflog SET value = ? WHERE group_key = ?').run(JSON.stringify({ ...entry('ops', 'g2'), firing: 'not a list' }), 'g2');
    db.prepare('UPDATE alerting_silences SET value = ? WHERE id = ?').run(JSON.stringify({ ...silence('s2'), matchers: [] }), 's2');
    db.prepare('UPDATE alerting_acks SET value = ? WHERE fingerprint = ?').run('null', b.fingerprint);
    store.close();

    const loaded = new AlertingStateStore(openStore(dir).database()).load();
    expect(loaded.alerts).toEqual([a]);
    expect(loaded.nflog).toEqual([entry('ops', 'g1')]);
    expect(loaded.silences).toEqual([silence('s1')]);
    expect(loaded.acks).toEqual([ack(a.fingerprint)]);
    expect(loaded.skipped).toEqual(
      expect.arrayContaining([
        { kind: 'alerts', key: b.fingerprint, error: expect.stringMatching(/JSON/) },
        { kind: 'alerts', key: c.fingerprint, error: expect.stringMatching(/fingerprint/) },
        { kind: 'nflog', key: 'ops g2', error: expect.stringMatching(/firing/) },
        { kind: 'silences', key: 's2', error: expect.stringMatching(/at least one matcher/) },
        { kind: 'acks', key: b.fingerprint, error: 'not a JSON object' },
      ]),
    );
    expect(loaded.skipped).toHaveLength(5);
  });

  it('skips a row whose value names another key than the row', () => {
    const store = openStore(tempDir());
    const state = new AlertingStateStore(store.database());
    state.saveSilence(silence('s1'));
    store.database().prepare('UPDATE alerting_silences SET value = ?').run(JSON.stringify(silence('s9')));
    expect(state.load()).toMatchObject({ silences: [], skipped: [{ kind: 'silences', key: 's1', error: expect.stringMatching(/"s9" is not the row's key/) }] });
  });

  it('lets the event store append, read and apply retention with its tables present, and retention leaves them alone', () => {
    const dir = tempDir();
    const store = openStore(dir, { commit_interval: 0, max_events: 3 });
    const state = new AlertingStateStore(store.database());
    for (let i = 0; i < 5; i++) {
      store.append(event());
      state.saveAlerts([alert(`A${i}`)], []);
      state.saveNotificationLog([entry('ops', `g${i}`)], []);
    }
    state.saveSilence(silence('s1'));
    state.saveAck(ack(alert('A0').fingerprint));
    expect(store.read(0).events.map((e) => e.offset)).toEqual([1, 2, 3, 4, 5]);

    expect(store.applyRetention()).toBe(2);
    expect(store.read(0).events.map((e) => e.offset)).toEqual([3, 4, 5]);
    const loaded = state.load();
    expect([loaded.alerts.length, loaded.nflog.length, loaded.silences.length, loaded.acks.length]).toEqual([5, 5, 1, 1]);
    expect(store.stats()).toMatchObject({ commit_failing: false, pending_events: 0 });
    store.close();

    // The store opens the database with the alerting tables in it, and goes on from where it was.
    const again = openStore(dir, { commit_interval: 0 });
    expect(again.append(event()).offset).toBe(6);
    expect(again.read(0).events.map((e) => e.offset)).toEqual([3, 4, 5, 6]);
    expect(new AlertingStateStore(again.database()).load().alerts).toHaveLength(5);
  });

  it('loads nothing from a database an earlier agent wrote (no alerting tables), and keeps its events', () => {
    const dir = tempDir();
    const old = openStore(dir, { commit_interval: 0 });
    old.append(event());
    old.append(event());
    const tables = () => (old.database().prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
    expect(tables()).toEqual(['event_batches', 'event_ids', 'meta']);
    old.close();

    const store = openStore(dir, { commit_interval: 0 });
    const state = new AlertingStateStore(store.database());
    expect(state.load()).toEqual({ alerts: [], nflog: [], silences: [], acks: [], skipped: [] });
    expect(store.read(0).events.map((e) => e.offset)).toEqual([1, 2]);
    expect(store.append(event()).offset).toBe(3);
  });

  it('opens again on its own tables (same version) and refuses tables a newer agent wrote', () => {
    const store = openStore(tempDir());
    new AlertingStateStore(store.database()).saveAlerts([alert('A')], []);
    expect(new AlertingStateStore(store.database()).load().alerts).toEqual([alert('A')]);

    store.database().prepare("UPDATE alerting_meta SET value = ? WHERE key = 'schema_version'").run(String(ALERTING_STATE_SCHEMA_VERSION + 1));
    const error = thrown(() => new AlertingStateStore(store.database()));
    expect(error.code).toBe('ALERTING_STATE_WRITE_FAILED');
    expect(error.message).toMatch(new RegExp(`newer agent \\(schema version ${ALERTING_STATE_SCHEMA_VERSION + 1}, this agent knows up to ${ALERTING_STATE_SCHEMA_VERSION}\\)`));
  });

  it('throws ALERTING_STATE_WRITE_FAILED on a full disk, writes nothing of the failed transaction, and writes again once there is space', () => {
    const dir = tempDir();
    const store = openStore(dir, { commit_interval: 0 });
    const state = new AlertingStateStore(store.database());
    const a = alert('A');
    state.saveAlerts([a], []);
    const db = store.database();
    // SQLite's own page limit: SQLITE_FULL through the same path as a disk without space.
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);

    const big = alert('B', { annotations: { description: 'x'.repeat(200_000) } });
    const error = thrown(() => state.saveAlerts([{ ...a, state: 'resolved' }, big], []));
    expect(error.code).toBe('ALERTING_STATE_WRITE_FAILED');
    expect(error.message).toMatch(/^cannot save 2 alert\(s\) and delete 0 in the agent's database .*events\.db: database or disk is full$/);
    expect(error.details).toMatchObject({ sqlite_code: 'SQLITE_FULL' });
    const nflog = thrown(() => state.saveNotificationLog([{ ...entry('ops', 'g'), firing: Array.from({ length: 20_000 }, (_, i) => `fp${i}`) }], []));
    expect(nflog).toMatchObject({ code: 'ALERTING_STATE_WRITE_FAILED', details: { sqlite_code: 'SQLITE_FULL' } });
    expect(thrown(() => state.saveSilence({ ...silence('s1'), comment: 'y'.repeat(200_000) })).code).toBe('ALERTING_STATE_WRITE_FAILED');
    expect(thrown(() => state.saveAck({ ...ack(a.fingerprint), comment: 'z'.repeat(200_000) })).code).toBe('ALERTING_STATE_WRITE_FAILED');
    // All or nothing: the first upsert of the failed transaction is not there either.
    expect(state.load()).toEqual({ alerts: [a], nflog: [], silences: [], acks: [], skipped: [] });

    db.pragma('max_page_count = 1073741823');
    state.saveAlerts([{ ...a, state: 'resolved' }, big], []);
    state.saveNotificationLog([entry('ops', 'g')], []);
    expect(state.load()).toMatchObject({ alerts: [big, { ...a, state: 'resolved' }].sort((x, y) => x.fingerprint.localeCompare(y.fingerprint)), nflog: [entry('ops', 'g')] });
    // The event store's own commits are unaffected.
    store.append(event());
    expect(store.stats()).toMatchObject({ commit_failing: false, pending_events: 0, commit_errors: 0 });
    store.close();
    expect(new AlertingStateStore(openStore(dir).database()).load().alerts).toHaveLength(2);
  });

  it('fails with a code once the event store has closed the database', () => {
    const store = openStore(tempDir());
    const state = new AlertingStateStore(store.database());
    store.close();
    expect(thrown(() => store.database()).code).toBe('STORE_CLOSED');
    expect(thrown(() => state.load()).code).toBe('STORE_CLOSED');
    const error = thrown(() => state.saveAlerts([alert('A')], []));
    expect(error.code).toBe('ALERTING_STATE_WRITE_FAILED');
    expect(error.message).toMatch(/not open/);
    expect(thrown(() => state.deleteAck('x')).code).toBe('ALERTING_STATE_WRITE_FAILED');
  });
});
