import type Database from 'better-sqlite3';
import { type Clock, SystemClock } from '../core/clock';
import { AgentError, errorMessage } from '../core/errors';
import type { Alert } from './alerts';
import { fingerprint } from './fingerprint';
import { NotificationLog, type NotificationLogEntry } from './notification';
import { Silences, type Silence } from './silences';

/**
 * The alerting engine's state in the agent's SQLite database, beside the event store's tables (one
 * file to back up, one exclusive lock): alerts, the notification log, silences and acks, so that
 * after a restart — also after SIGKILL — a firing alert is not notified again before its
 * repeat_interval, alerts that ended meanwhile resolve, and silences and acks still hold.
 *
 * One table per kind, one row per item, keyed as the engine keys it, the value as JSON text: the
 * engine writes only what changed (a row, not a snapshot of everything), and a value's shape can
 * grow without a migration. Every save is one transaction, durable when it returns (WAL with
 * synchronous=FULL, set by the store). The database belongs to the event store, which opens and
 * closes it: a state store is built on the handle of one open, and is unusable once the event store
 * closes (its writes then fail with ALERTING_STATE_WRITE_FAILED).
 */

/** An ack as stored: opaque JSON keyed by its alert's fingerprint (the acks module owns its shape). */
export type StoredAck = { fingerprint: string } & Record<string, unknown>;

/** The alerting engine's tables in the agent's SQLite database. */
export interface AlertingStateRows {
  alerts: Alert[];
  nflog: NotificationLogEntry[];
  silences: Silence[];
  acks: StoredAck[];
}

/** A stored row that {@link AlertingStateStore.load} left out: which table, its key, and why. */
export interface SkippedRow {
  kind: 'alerts' | 'nflog' | 'silences' | 'acks';
  /** The row's key: fingerprint, silence id, or for nflog the receiver and group key separated by a space. */
  key: string;
  error: string;
}

/** Version of the tables' layout; a later layout migrates from the stored one in {@link AlertingStateStore}'s constructor. */
export const ALERTING_STATE_SCHEMA_VERSION = 1;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS alerting_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS alerting_alerts (fingerprint TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS alerting_nflog (receiver TEXT NOT NULL, group_key TEXT NOT NULL, value TEXT NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (receiver, group_key));
  CREATE TABLE IF NOT EXISTS alerting_silences (id TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS alerting_acks (fingerprint TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);`;

// Only for their validation: a stored row is checked as the engine's restore will check it, so one
// bad row is left out here instead of making the whole restore throw.
const VALIDATION_CLOCK = new SystemClock();

/** The alerting engine's tables; see the module comment. */
export class AlertingStateStore {
  private readonly statements: {
    upsertAlert: Database.Statement;
    deleteAlert: Database.Statement;
    upsertNflog: Database.Statement;
    deleteNflog: Database.Statement;
    upsertSilence: Database.Statement;
    deleteSilence: Database.Statement;
    upsertAck: Database.Statement;
    deleteAck: Database.Statement;
  };

  /**
   * Creates (or migrates) its tables in `db`, an open handle of the event store
   * ({@link SqliteEventStore.database}).
   * @throws AgentError ALERTING_STATE_WRITE_FAILED when the tables cannot be created (disk full, I/O
   * error, read-only) or were written by a newer agent (a layout this one does not know).
   */
  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock = new SystemClock(),
  ) {
    this.write('create the alerting tables', () => {
      db.exec(SCHEMA);
      const stored = db.prepare("SELECT value FROM alerting_meta WHERE key = 'schema_version'").get() as { value: string } | undefined;
      const version = stored === undefined ? undefined : Number(stored.value);
      if (version !== undefined && !(version <= ALERTING_STATE_SCHEMA_VERSION)) {
        throw new Error(`its tables were written by a newer agent (schema version ${stored?.value}, this agent knows up to ${ALERTING_STATE_SCHEMA_VERSION}); upgrade the agent or move the data dir aside`);
      }
      // Migrations from older versions go here, in the same transaction as the version bump.
      if (version !== ALERTING_STATE_SCHEMA_VERSION) {
        db.prepare("INSERT INTO alerting_meta (key, value) VALUES ('schema_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(String(ALERTING_STATE_SCHEMA_VERSION));
      }
    });
    const upsert = (table: string, keys: string) =>
      db.prepare(`INSERT INTO ${table} (${keys}, value, updated_at) VALUES (${keys.replace(/\w+/g, '?')}, ?, ?) ON CONFLICT(${keys}) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`);
    this.statements = {
      upsertAlert: upsert('alerting_alerts', 'fingerprint'),
      deleteAlert: db.prepare('DELETE FROM alerting_alerts WHERE fingerprint = ?'),
      upsertNflog: upsert('alerting_nflog', 'receiver, group_key'),
      deleteNflog: db.prepare('DELETE FROM alerting_nflog WHERE receiver = ? AND group_key = ?'),
      upsertSilence: upsert('alerting_silences', 'id'),
      deleteSilence: db.prepare('DELETE FROM alerting_silences WHERE id = ?'),
      upsertAck: upsert('alerting_acks', 'fingerprint'),
      deleteAck: db.prepare('DELETE FROM alerting_acks WHERE fingerprint = ?'),
    };
  }

  /**
   * Everything stored. A row whose JSON does not parse, whose key does not match its value, or that
   * the engine's restore would refuse (an alert whose fingerprint is not its labels', an invalid
   * silence or log entry) is left out and listed in `skipped`; the others load.
   * @throws AgentError STORE_CLOSED when the event store closed the database.
   */
  load(): AlertingStateRows & { skipped: SkippedRow[] } {
    if (!this.db.open) throw new AgentError('STORE_CLOSED', 'event store is not open: the alerting state cannot be loaded');
    const skipped: SkippedRow[] = [];
    const rows = <T>(kind: SkippedRow['kind'], sql: string, check: (value: T, key: string) => void): T[] => {
      const loaded: T[] = [];
      for (const row of this.db.prepare(sql).iterate() as IterableIterator<{ key: string; value: string }>) {
        try {
          const value = JSON.parse(row.value) as T;
          if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
          check(value, row.key);
          loaded.push(value);
        } catch (error) {
          skipped.push({ kind, key: row.key, error: errorMessage(error) });
        }
      }
      return loaded;
    };
    const sameKey = (actual: unknown, key: string, field: string) => {
      if (actual !== key) throw new Error(`its ${field} ${JSON.stringify(actual)} is not the row's key`);
    };
    return {
      alerts: rows<Alert>('alerts', 'SELECT fingerprint AS key, value FROM alerting_alerts ORDER BY fingerprint', (alert, key) => {
        sameKey(alert.fingerprint, key, 'fingerprint');
        if (typeof alert.labels !== 'object' || alert.labels === null || fingerprint(alert.labels) !== alert.fingerprint) throw new Error('its fingerprint does not match its labels');
      }),
      // The key column is receiver NUL group_key only for the report; NUL cannot occur in either.
      nflog: rows<NotificationLogEntry>('nflog', "SELECT receiver || char(0) || group_key AS key, value FROM alerting_nflog ORDER BY receiver, group_key", (entry, key) => {
        sameKey(`${entry.receiver}\u0000${entry.groupKey}`, key, 'receiver and groupKey');
        new NotificationLog().restore({ version: 1, entries: [entry] });
      }),
      silences: rows<Silence>('silences', 'SELECT id AS key, value FROM alerting_silences ORDER BY id', (silence, key) => {
        sameKey(silence.id, key, 'id');
        new Silences(VALIDATION_CLOCK).restore({ version: 1, silences: [silence] });
      }),
      acks: rows<StoredAck>('acks', 'SELECT fingerprint AS key, value FROM alerting_acks ORDER BY fingerprint', (ack, key) => sameKey(ack.fingerprint, key, 'fingerprint')),
      skipped: skipped.map((s) => (s.kind === 'nflog' ? { ...s, key: s.key.replace('\u0000', ' ') } : s)),
    };
  }

  /**
   * Upserts and deletes alerts in one transaction.
   * @throws AgentError ALERTING_STATE_WRITE_FAILED (nothing of it was written).
   */
  saveAlerts(upserts: readonly Alert[], deletes: readonly string[]): void {
    const { upsertAlert, deleteAlert } = this.statements;
    this.write(`save ${upserts.length} alert(s) and delete ${deletes.length}`, () => {
      const now = this.clock.now();
      for (const alert of upserts) upsertAlert.run(alert.fingerprint, JSON.stringify(alert), now);
      for (const fp of deletes) deleteAlert.run(fp);
    });
  }

  /**
   * Upserts and deletes notification log entries in one transaction, durable when it returns: the
   * engine calls it after deciding to notify and before sending, so a crash in between cannot
   * notify twice (at worst a notification is lost, as in Alertmanager).
   * @throws AgentError ALERTING_STATE_WRITE_FAILED (nothing of it was written).
   */
  saveNotificationLog(upserts: readonly NotificationLogEntry[], deletes: ReadonlyArray<{ receiver: string; groupKey: string }>): void {
    const { upsertNflog, deleteNflog } = this.statements;
    this.write(`save ${upserts.length} notification log entr(ies) and delete ${deletes.length}`, () => {
      const now = this.clock.now();
      for (const entry of upserts) upsertNflog.run(entry.receiver, entry.groupKey, JSON.stringify(entry), now);
      for (const d of deletes) deleteNflog.run(d.receiver, d.groupKey);
    });
  }

  /** @throws AgentError ALERTING_STATE_WRITE_FAILED */
  saveSilence(silence: Silence): void {
    this.write(`save silence ${silence.id}`, () => this.statements.upsertSilence.run(silence.id, JSON.stringify(silence), this.clock.now()));
  }

  /** @throws AgentError ALERTING_STATE_WRITE_FAILED */
  deleteSilence(id: string): void {
    this.write(`delete silence ${id}`, () => this.statements.deleteSilence.run(id));
  }

  /** Stores the ack as the acks module gives it (any JSON object keyed by its alert's fingerprint). @throws AgentError ALERTING_STATE_WRITE_FAILED */
  saveAck<T extends { fingerprint: string }>(ack: T): void {
    this.write(`save the ack of ${ack.fingerprint}`, () => this.statements.upsertAck.run(ack.fingerprint, JSON.stringify(ack), this.clock.now()));
  }

  /** @throws AgentError ALERTING_STATE_WRITE_FAILED */
  deleteAck(fingerprint: string): void {
    this.write(`delete the ack of ${fingerprint}`, () => this.statements.deleteAck.run(fingerprint));
  }

  /** Runs `fn` in one transaction (rolled back if it throws); any failure is ALERTING_STATE_WRITE_FAILED. */
  private write(what: string, fn: () => void): void {
    try {
      this.db.transaction(fn)();
    } catch (error) {
      const sqliteCode = (error as { code?: unknown }).code;
      throw new AgentError(
        'ALERTING_STATE_WRITE_FAILED',
        `cannot ${what} in the agent's database ${this.db.name}: ${errorMessage(error)}`,
        { file: this.db.name, sqlite_code: typeof sqliteCode === 'string' ? sqliteCode : null },
        { cause: error },
      );
    }
  }
}
