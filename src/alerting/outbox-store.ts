import type Database from 'better-sqlite3';
import { AgentError, errorMessage } from '../core/errors';
import type { Notification } from './notification';

/**
 * Where the delivery pipeline keeps each (notification, sink) delivery: written before the first
 * attempt, updated with every outcome, kept after it ends (delivered: for a day, dead-lettered:
 * for a week) so operators can see each one's fate. Two backends: the agent's SQLite database
 * (beside the events and the engine's state) and memory (store disabled: lost on restart).
 */

export type DeliveryState = 'pending' | 'delivered' | 'dead';

/** One delivery of one notification to one sink. */
export interface OutboxRow {
  /** Increasing: the order deliveries were decided in. */
  id: number;
  /** The notification's id (its `alert.notified` event names it). */
  notificationId: string;
  receiver: string;
  sink: string;
  notification: Notification;
  state: DeliveryState;
  /** Attempts made so far. */
  attempts: number;
  /** When it was decided (ms); `max_age` counts from here (a retry from the API starts it again). */
  createdAt: number;
  /** Not before this (ms): the next attempt of a pending delivery. */
  nextAt: number;
  updatedAt: number;
  /** Why the last attempt failed, or why it was dead-lettered (`rejected: ...` / `expired: ...`). */
  lastReason?: string;
}

export type NewOutboxRow = Pick<OutboxRow, 'notificationId' | 'receiver' | 'sink' | 'notification' | 'createdAt'>;
export type OutboxUpdate = Partial<Pick<OutboxRow, 'state' | 'attempts' | 'nextAt' | 'lastReason' | 'createdAt'>> & { updatedAt: number };

/** The outbox's storage; every method is synchronous and durable when it returns (SQLite). */
export interface OutboxStore {
  /** Adds deliveries in one transaction, in order; answers them with their ids. */
  insert(rows: readonly NewOutboxRow[]): OutboxRow[];
  update(id: number, update: OutboxUpdate): void;
  get(id: number): OutboxRow | undefined;
  /** Deliveries in a state, oldest first (at most `limit`). */
  list(state: DeliveryState, limit?: number): OutboxRow[];
  /** Deletes ended deliveries last updated before these times; answers how many. */
  prune(before: { delivered: number; dead: number }): number;
}

/** The outbox in memory: what a delivery pipeline without the store uses (lost on restart). */
export class MemoryOutboxStore implements OutboxStore {
  private readonly rows = new Map<number, OutboxRow>();
  private nextId = 1;

  insert(rows: readonly NewOutboxRow[]): OutboxRow[] {
    return rows.map((row) => {
      const stored: OutboxRow = { ...row, id: this.nextId++, state: 'pending', attempts: 0, nextAt: row.createdAt, updatedAt: row.createdAt };
      this.rows.set(stored.id, stored);
      return { ...stored };
    });
  }

  update(id: number, update: OutboxUpdate): void {
    const row = this.rows.get(id);
    if (row) this.rows.set(id, { ...row, ...update });
  }

  get(id: number): OutboxRow | undefined {
    const row = this.rows.get(id);
    return row && { ...row };
  }

  list(state: DeliveryState, limit = Infinity): OutboxRow[] {
    return [...this.rows.values()].filter((r) => r.state === state).slice(0, limit).map((r) => ({ ...r }));
  }

  prune(before: { delivered: number; dead: number }): number {
    let count = 0;
    for (const row of [...this.rows.values()]) {
      if (row.state !== 'pending' && row.updatedAt < before[row.state]) {
        this.rows.delete(row.id);
        count++;
      }
    }
    return count;
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS alerting_outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  notification_id TEXT NOT NULL,
  receiver TEXT NOT NULL,
  sink TEXT NOT NULL,
  notification TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  next_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  last_reason TEXT
);
CREATE INDEX IF NOT EXISTS alerting_outbox_state ON alerting_outbox (state, id);
`;

interface Row {
  id: number;
  notification_id: string;
  receiver: string;
  sink: string;
  notification: string;
  state: DeliveryState;
  attempts: number;
  created_at: number;
  next_at: number;
  updated_at: number;
  last_reason: string | null;
}

/** The outbox in the agent's SQLite database (table `alerting_outbox`). */
export class SqliteOutboxStore implements OutboxStore {
  private readonly statements: {
    insert: Database.Statement;
    get: Database.Statement;
    list: Database.Statement;
    prune: Database.Statement;
  };

  /** @throws AgentError ALERTING_STATE_WRITE_FAILED when the table cannot be created. */
  constructor(private readonly db: Database.Database) {
    this.write('create the outbox table', () => db.exec(SCHEMA));
    this.statements = {
      insert: db.prepare(
        'INSERT INTO alerting_outbox (notification_id, receiver, sink, notification, state, attempts, created_at, next_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)',
      ),
      get: db.prepare('SELECT * FROM alerting_outbox WHERE id = ?'),
      list: db.prepare('SELECT * FROM alerting_outbox WHERE state = ? ORDER BY id LIMIT ?'),
      prune: db.prepare("DELETE FROM alerting_outbox WHERE (state = 'delivered' AND updated_at < ?) OR (state = 'dead' AND updated_at < ?)"),
    };
  }

  insert(rows: readonly NewOutboxRow[]): OutboxRow[] {
    return this.write('record deliveries in the outbox', () =>
      this.db.transaction(() =>
        rows.map((row) => {
          const result = this.statements.insert.run(row.notificationId, row.receiver, row.sink, JSON.stringify(row.notification), 'pending', row.createdAt, row.createdAt, row.createdAt);
          return { ...row, id: Number(result.lastInsertRowid), state: 'pending' as const, attempts: 0, nextAt: row.createdAt, updatedAt: row.createdAt };
        }),
      )(),
    );
  }

  update(id: number, update: OutboxUpdate): void {
    const columns: Record<string, unknown> = {
      state: update.state,
      attempts: update.attempts,
      next_at: update.nextAt,
      last_reason: update.lastReason,
      created_at: update.createdAt,
      updated_at: update.updatedAt,
    };
    const set = Object.entries(columns).filter(([, value]) => value !== undefined);
    this.write('record a delivery outcome in the outbox', () => {
      this.db.prepare(`UPDATE alerting_outbox SET ${set.map(([column]) => `${column} = ?`).join(', ')} WHERE id = ?`).run(...set.map(([, value]) => value), id);
    });
  }

  get(id: number): OutboxRow | undefined {
    const row = this.statements.get.get(id) as Row | undefined;
    return row && fromRow(row);
  }

  list(state: DeliveryState, limit = 1_000_000): OutboxRow[] {
    return (this.statements.list.all(state, limit) as Row[]).map(fromRow);
  }

  prune(before: { delivered: number; dead: number }): number {
    return this.write('prune the outbox', () => this.statements.prune.run(before.delivered, before.dead).changes);
  }

  private write<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw new AgentError('ALERTING_STATE_WRITE_FAILED', `could not ${what}: ${errorMessage(error)}`, { operation: what }, { cause: error });
    }
  }
}

function fromRow(row: Row): OutboxRow {
  return {
    id: row.id,
    notificationId: row.notification_id,
    receiver: row.receiver,
    sink: row.sink,
    notification: JSON.parse(row.notification) as Notification,
    state: row.state,
    attempts: row.attempts,
    createdAt: row.created_at,
    nextAt: row.next_at,
    updatedAt: row.updated_at,
    ...(row.last_reason !== null && { lastReason: row.last_reason }),
  };
}
