/**
 * Durable store: appending events with group commit, and replaying them.
 *   - append: `SqliteEventStore.append` with its defaults (WAL, synchronous=FULL, a commit per
 *     `max_batch` = 1000 events or per `commit_interval` = 100 ms, the documented durability
 *     window), JSON.stringify included, against raw better-sqlite3 (WAL, synchronous=NORMAL,
 *     one transaction per 1000 inserts, JSON.stringify included);
 *   - replay: reading every event back in pages (`read(after, { limit: 1000 })`) and parsing each
 *     (`entry.event`), against one raw `SELECT json ... ORDER BY seq` + JSON.parse per row.
 * Each round writes into fresh databases in a temp dir (os.tmpdir()).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SystemClock } from '../../src/core/clock';
import type { Event } from '../../src/events/types';
import { SqliteEventStore } from '../../src/store/sqlite-event-store';
import type { Measurement, Scenario, ScenarioContext, ScenarioResult } from '../harness';

const BATCH = 1000;

function makeEvents(n: number): Event[] {
  const events: Event[] = [];
  const ts = new Date().toISOString();
  for (let i = 0; i < n; i++) {
    events.push({
      type: 'service.status',
      data: { service_name: `svc-${i % 50}`, status: i % 7 ? 'healthy' : 'degraded', health_check_results: { http: { ok: i % 7 !== 0, status: 200 } }, metrics: { latency_ms: i % 300, consecutive_failures: 0 } },
      metadata: { event_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, timestamp: ts, source: 'health-probe', tags: ['bench'] },
    } as Event);
  }
  return events;
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

/** Raw better-sqlite3 baseline: returns [append events/s, replay seconds]. */
function rawRound(dir: string, events: Event[]): [number, number] {
  const db = new Database(path.join(dir, 'raw.db'));
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('CREATE TABLE events (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, at INTEGER NOT NULL, json TEXT NOT NULL)');
    const insert = db.prepare('INSERT INTO events (seq, type, at, json) VALUES (?, ?, ?, ?)');
    const write = db.transaction((from: number, to: number) => {
      const now = Date.now();
      for (let i = from; i < to; i++) insert.run(i + 1, events[i]!.type, now, JSON.stringify(events[i]));
    });
    let start = process.hrtime.bigint();
    for (let from = 0; from < events.length; from += BATCH) write(from, Math.min(events.length, from + BATCH));
    const rate = events.length / seconds(start);

    start = process.hrtime.bigint();
    let n = 0;
    for (const row of db.prepare('SELECT json FROM events ORDER BY seq').iterate() as Iterable<{ json: string }>) {
      if ((JSON.parse(row.json) as Event).type) n++;
    }
    const replay = seconds(start);
    if (n !== events.length) throw new Error(`raw replay read ${n} of ${events.length} events`);
    return [rate, replay];
  } finally {
    db.close();
  }
}

/** The agent's store: returns [append events/s, replay seconds]. */
function storeRound(dir: string, events: Event[]): [number, number] {
  const store = new SqliteEventStore({ dir: path.join(dir, 'store') }, new SystemClock());
  store.open();
  try {
    let start = process.hrtime.bigint();
    for (const event of events) store.append(event);
    store.flush();
    const rate = events.length / seconds(start);
    if (store.stats().pending_events !== 0) throw new Error('store left events pending');

    // Replay from a reopened store, so every event comes from disk and is parsed, as after a restart.
    store.close();
    store.open();
    start = process.hrtime.bigint();
    let n = 0;
    let after = 0;
    for (;;) {
      const page = store.read(after, { limit: 1000 });
      for (const entry of page.events) if (entry.event.type) n++;
      if (page.events.length === 0 || page.next_offset > page.head) break;
      after = page.next_offset - 1;
    }
    const replay = seconds(start);
    if (n !== events.length) throw new Error(`store replay read ${n} of ${events.length} events`);
    return [rate, replay];
  } finally {
    store.close();
  }
}

export const storeScenario: Scenario = {
  name: 'store',
  description: 'durable store: append with group commit, replay',
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const n = ctx.quick ? 20_000 : 100_000;
    const events = makeEvents(n);
    const append: Measurement[] = ['baseline: raw better-sqlite3', 'agent store'].map((variant) => ({ variant, metric: 'append', unit: 'events/s', higherIsBetter: true, samples: [] }));
    const replay: Measurement[] = ['baseline: raw better-sqlite3', 'agent store'].map((variant) => ({ variant, metric: `replay ${n / 1000}k`, unit: 's', higherIsBetter: false, samples: [] }));
    for (let round = 0; round < ctx.rounds; round++) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'praxis-bench-store-'));
      try {
        const raw = rawRound(dir, events);
        const agent = storeRound(dir, events);
        append[0]!.samples.push(raw[0]);
        append[1]!.samples.push(agent[0]);
        replay[0]!.samples.push(raw[1]);
        replay[1]!.samples.push(agent[1]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
      ctx.log(`store round ${round + 1}/${ctx.rounds}`);
    }
    return {
      scenario: 'store',
      description: this.description,
      rounds: ctx.rounds,
      measurements: [...append, ...replay],
      targets: [
        { kind: 'ratio_at_least', variant: 'agent store', baseline: 'baseline: raw better-sqlite3', metric: 'append', value: 0.5 },
        { kind: 'ratio_at_most', variant: 'agent store', baseline: 'baseline: raw better-sqlite3', metric: `replay ${n / 1000}k`, value: 2 },
      ],
      notes: [
        `${n} service.status events per round; agent store at its defaults (synchronous=FULL, commit per 1000 events or 100 ms), baseline synchronous=NORMAL`,
        `temp dir on ${os.tmpdir()}`,
      ],
    };
  },
};
