import { createHash } from 'node:crypto';
import { Kvm, type KV, type KvWatchEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  AgentError,
  Backoff,
  canonicalJson,
  errorMessage,
  type AlertingReplica,
  type AlertingState,
  type AlertingStateChange,
  type AlertingStateKind,
  type CancelTimer,
  type MergeReport,
  type RemoteAlertingItem,
} from 'praxis-agent';
import type { RoleContext } from './role';

/** Made by operators on any aggregator: every aggregator writes its own and merges the others'. */
const SHARED: readonly AlertingStateKind[] = ['silence', 'ack'];
/** The fleet's alerting: written by the lease holder only, merged by the next one before it consumes. */
const HOLDER: readonly AlertingStateKind[] = ['nflog', 'alert'];
const KINDS: readonly AlertingStateKind[] = [...SHARED, ...HOLDER];

/** A KV key token: what the server takes in a key without escaping. */
const SAFE_TOKEN = /^[A-Za-z0-9_=-]+$/;

/** How long a new holder waits for the bucket's content before it consumes anyway (and says so). */
const CATCH_UP_MS = 5_000;

/** The bucket's key of an item: `<kind>.<id>`; an id that is not a safe token (an nflog key always) is hashed. */
export function bucketKey(kind: AlertingStateKind, key: string): string {
  return `${kind}.${kind !== 'nflog' && SAFE_TOKEN.test(key) ? key : createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
}

/** The engine's key of a value as another aggregator wrote it (the value says what it is). */
function keyOfValue(kind: AlertingStateKind, value: Record<string, unknown>): string {
  switch (kind) {
    case 'silence':
      return String(value.id);
    case 'ack':
    case 'alert':
      return String(value.fingerprint);
    case 'nflog':
      return `${String(value.receiver)}\u0000${String(value.groupKey)}`;
  }
}

/** The bucket as the replica needs it: values kept for ever (silences outlive any outage), last value only. */
export const ALERT_STATE_BUCKET = { history: 1, ttl: 0 } as const;

export interface AlertStateReplicaOptions {
  ctx: RoleContext;
  state: AlertingState;
  /** `<stream>_<durable>`: the bucket is `<scope>_alerting`. */
  scope: string;
  /** Whether this aggregator holds the lease now: only the holder writes nflog and alerts. */
  isHolder(): boolean;
}

type Write = { text: string } | { delete: true };

/**
 * The alerting state of the fleet's aggregators in one JetStream KV bucket (issue 13): silences
 * and acks of every aggregator, the notification log and alerts of the lease holder. Attached to
 * the core's engine through the SDK's {@link AlertingState}: local changes are queued here and
 * written in the background (coalesced by key, retried with backoff while the bucket cannot be
 * written: the engine never waits for NATS); a watcher on the bucket merges what the others write.
 * Without NATS an aggregator keeps its local state and writes what changed once connected again.
 */
export class AlertStateReplica implements AlertingReplica {
  readonly bucket: string;
  private kv?: KV;
  private watcher?: { stop(): void };
  private session = 0;
  private detach?: () => void;
  /** Writes waiting, by bucket key (a later change of the same item replaces the earlier). */
  private readonly queue = new Map<string, Write>();
  /** What the bucket holds, as canonical JSON by key: what is written already need not be again. */
  private readonly known = new Map<string, string>();
  /** nflog and alert items written by the holder, kept until this aggregator takes over. */
  private readonly heldBack = new Map<string, RemoteAlertingItem>();
  /** Highest revision the watcher delivered, and those waiting for it to reach one. */
  private revision = 0;
  private waiters: { revision: number; resolve: () => void }[] = [];
  /** The watcher has replayed the bucket: writes may go (they would not undo newer remote ones). */
  private ready = false;
  private readyWaiters: (() => void)[] = [];
  private flushing = false;
  private retryTimer?: CancelTimer;
  private readonly backoff = new Backoff({ initialMs: 500, maxMs: 30_000, jitter: 0.2 });
  /** A write or the bucket failed and nothing succeeded since (one system.error per episode). */
  private failing: string | null = null;
  private readonly counters = { written: 0, merged: 0, invalid: 0, write_errors: 0 };

  constructor(private readonly o: AlertStateReplicaOptions) {
    this.bucket = `${o.scope}_alerting`;
  }

  /** Starts telling: local changes are queued from now on (written once connected). */
  start(): void {
    this.detach = this.o.state.attach(this);
  }

  changed(change: AlertingStateChange): void {
    const kind = change.kind === 'forget' ? change.item : change.kind;
    if (HOLDER.includes(kind) && !this.o.isHolder()) return;
    // An ack is dropped with its alert, which only the holder has: a standby's drop says nothing.
    if (change.kind === 'forget' && kind === 'ack' && !this.o.isHolder()) return;
    const key = bucketKey(kind, change.key);
    if (change.kind === 'forget') {
      if (this.known.has(key) || this.queue.has(key)) this.enqueue(key, { delete: true });
      return;
    }
    const text = canonicalJson(change.value);
    if (this.known.get(key) === text && !this.queue.has(key)) return;
    this.enqueue(key, { text });
  }

  /** A (new) connection: open and check the bucket, watch it, then write what differs. */
  connected(nc: NatsConnection): void {
    this.closeSession();
    const session = ++this.session;
    void this.open(nc, session);
  }

  disconnected(): void {
    this.closeSession();
  }

  /** Before this aggregator consumes as the new holder: the previous holder's nflog and alerts are merged. */
  async takeOver(): Promise<void> {
    if (!(await this.whenReady()) || !(await this.caughtUp())) {
      this.o.ctx.logger.warn({ bucket: this.bucket }, `alert state: the bucket ${this.bucket} was not read within ${CATCH_UP_MS} ms; consuming with what was read (alerts still firing may be notified again)`);
    }
    const items = [...this.heldBack.values()];
    this.heldBack.clear();
    if (items.length > 0) this.handle(this.o.state.merge(items), 'takeover');
    // This holder's own nflog and alerts the bucket does not have (it held the lease before, or never wrote them).
    this.writeDifferences(HOLDER);
    this.o.ctx.logger.info({ bucket: this.bucket, items: items.length }, `alert state: merged ${items.length} item(s) of the previous holder before consuming`);
  }

  async stop(): Promise<void> {
    this.detach?.();
    // What is queued gets one chance while the connection is still up; the rest is written by nobody (the
    // local store keeps it, and this aggregator writes it at its next start).
    if (this.kv && this.ready && this.queue.size > 0) await this.flush();
    this.closeSession();
    this.session++;
  }

  stats(): Record<string, unknown> {
    return {
      alert_state_bucket: this.bucket,
      alert_state_ready: this.ready,
      alert_state_queued: this.queue.size,
      alert_state_written: this.counters.written,
      alert_state_merged: this.counters.merged,
      alert_state_invalid: this.counters.invalid,
      alert_state_write_errors: this.counters.write_errors,
      alert_state_error: this.failing,
    };
  }

  private closeSession(): void {
    this.session++;
    this.watcher?.stop();
    this.watcher = undefined;
    this.kv = undefined;
    this.ready = false;
    this.retryTimer?.();
    this.retryTimer = undefined;
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  private async open(nc: NatsConnection, session: number): Promise<void> {
    let kv: KV;
    try {
      kv = await new Kvm(nc).create(this.bucket, ALERT_STATE_BUCKET);
      const status = await kv.status();
      const diffs = [
        status.history !== ALERT_STATE_BUCKET.history && `history ${status.history} (wanted ${ALERT_STATE_BUCKET.history})`,
        status.ttl !== ALERT_STATE_BUCKET.ttl && `max_age ${status.ttl} ms (wanted none: a silence must outlive any outage)`,
      ].filter((d): d is string => typeof d === 'string');
      if (diffs.length > 0) {
        throw new AgentError(
          'NATS_ALERT_STATE_MISMATCH',
          `KV bucket ${this.bucket} exists with other settings than the alert state needs: ${diffs.join('; ')}; the agent does not change it: delete it while no aggregator runs (nats kv del ${this.bucket}) and it is created again`,
          { bucket: this.bucket, differences: diffs },
        );
      }
      if (session !== this.session) return;
      this.kv = kv;
      this.revision = 0;
      const watch = await kv.watch();
      if (session !== this.session) {
        watch.stop();
        return;
      }
      this.watcher = watch;
      void (async () => {
        for await (const entry of watch) if (session === this.session) this.onEntry(entry);
      })().catch(() => undefined);
    } catch (error) {
      if (session !== this.session) return;
      this.fail(error, () => this.open(nc, session), session);
      return;
    }
    if (!(await this.caughtUp()) || session !== this.session) return;
    this.ready = true;
    for (const resolve of this.readyWaiters.splice(0)) resolve();
    this.recovered();
    this.writeDifferences(this.o.isHolder() ? KINDS : SHARED);
    void this.flush();
  }

  /** Resolves true once the bucket is open and read on this connection; false after CATCH_UP_MS. */
  private whenReady(): Promise<boolean> {
    if (this.ready) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = this.o.ctx.clock.setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== waiter);
        resolve(false);
      }, CATCH_UP_MS);
      const waiter = (): void => {
        timer();
        resolve(true);
      };
      this.readyWaiters.push(waiter);
    });
  }

  /** Resolves true once the watcher has delivered everything the bucket held when asked; false on timeout or a lost session. */
  private async caughtUp(): Promise<boolean> {
    const kv = this.kv;
    if (!kv) return false;
    const session = this.session;
    let last: number;
    try {
      last = (await kv.status()).streamInfo.state.last_seq;
    } catch {
      return false;
    }
    if (session !== this.session) return false;
    if (this.revision >= last) return true;
    return new Promise<boolean>((resolve) => {
      const timer = this.o.ctx.clock.setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, CATCH_UP_MS);
      const waiter = {
        revision: last,
        resolve: () => {
          timer();
          resolve(session === this.session);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Queues writes of the local items of these kinds that the bucket does not hold as they are here. */
  private writeDifferences(kinds: readonly AlertingStateKind[]): void {
    for (const change of this.o.state.snapshot(kinds)) {
      if (change.kind === 'forget') continue;
      const key = bucketKey(change.kind, change.key);
      const text = canonicalJson(change.value);
      if (this.known.get(key) !== text) this.queue.set(key, { text });
    }
  }

  private onEntry(entry: KvWatchEntry): void {
    this.revision = Math.max(this.revision, entry.revision);
    try {
      this.take(entry);
    } finally {
      const due = this.waiters.filter((w) => w.revision <= this.revision);
      this.waiters = this.waiters.filter((w) => w.revision > this.revision);
      for (const w of due) w.resolve();
    }
  }

  private take(entry: KvWatchEntry): void {
    const dot = entry.key.indexOf('.');
    const kind = entry.key.slice(0, dot) as AlertingStateKind;
    if (dot < 0 || !KINDS.includes(kind)) return this.invalid(entry, 'not a key of the alert state (<silence|ack|nflog|alert>.<id>)');
    if (entry.operation !== 'PUT') {
      this.known.delete(entry.key);
      this.heldBack.delete(entry.key);
      // Only a forgotten alert matters to the others; every aggregator drops the rest by its own retention.
      if (kind === 'alert' && !this.o.isHolder()) this.heldBack.set(entry.key, { kind: 'forget', item: 'alert', key: entry.key.slice(dot + 1), at: entry.created.getTime() });
      return;
    }
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(entry.string()) as Record<string, unknown>;
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
    } catch (error) {
      return this.invalid(entry, `its value is not JSON (${errorMessage(error)})`);
    }
    const key = keyOfValue(kind, value);
    if (bucketKey(kind, key) !== entry.key) return this.invalid(entry, `its value is for key ${bucketKey(kind, key)}, not ${entry.key}`);
    this.known.set(entry.key, canonicalJson(value));
    const item: RemoteAlertingItem = { kind, key, value };
    // The holder writes nflog and alerts; a standby keeps the latest for when it takes over. Acks
    // too: a standby drops them at its maintenance, not having their alerts; they hold again then.
    if (kind !== 'silence' && !this.o.isHolder()) this.heldBack.set(entry.key, item);
    if (HOLDER.includes(kind)) return;
    this.handle(this.o.state.merge([item]), `revision ${entry.revision}`);
  }

  private handle(report: MergeReport, where: string): void {
    this.counters.merged += report.applied;
    for (const bad of report.invalid) {
      this.counters.invalid++;
      this.report('warning', 'NATS_ALERT_STATE_INVALID', `alert state: ${bad.kind} ${JSON.stringify(bad.key)} in KV bucket ${this.bucket} (${where}) skipped: ${bad.error}`, { bucket: this.bucket, kind: bad.kind, key: bad.key });
    }
    // Ours is newer (made while this aggregator was cut off, say): written back, so the others converge on it.
    for (const change of report.localNewer) if (change.kind !== 'forget') this.enqueue(bucketKey(change.kind, change.key), { text: canonicalJson(change.value) });
  }

  private invalid(entry: KvWatchEntry, why: string): void {
    this.counters.invalid++;
    this.report('warning', 'NATS_ALERT_STATE_INVALID', `alert state: key ${JSON.stringify(entry.key)} (revision ${entry.revision}) in KV bucket ${this.bucket} skipped: ${why}`, { bucket: this.bucket, key: entry.key, revision: entry.revision });
  }

  private enqueue(key: string, write: Write): void {
    this.queue.set(key, write);
    void this.flush();
  }

  /** Writes the queue one key at a time; a failure keeps it queued and retries after a backoff. */
  private async flush(): Promise<void> {
    if (this.flushing || this.retryTimer) return;
    this.flushing = true;
    try {
      while (this.kv && this.ready && this.queue.size > 0) {
        const kv = this.kv;
        const session = this.session;
        const [key, write] = this.queue.entries().next().value as [string, Write];
        try {
          if ('text' in write) await kv.put(key, write.text);
          else await kv.delete(key);
        } catch (error) {
          if (session === this.session) this.fail(error, () => this.flush(), session);
          return;
        }
        if ('text' in write) this.known.set(key, write.text);
        else this.known.delete(key);
        // A change made while this one was written stays queued.
        if (this.queue.get(key) === write) this.queue.delete(key);
        this.counters.written++;
        this.recovered();
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Reports the first failure of an episode; retries `again` after a backoff while the session lasts. */
  private fail(error: unknown, again: () => Promise<void>, session: number): void {
    const mismatch = error instanceof AgentError && error.code === 'NATS_ALERT_STATE_MISMATCH';
    if (!mismatch) this.counters.write_errors++;
    const message = errorMessage(error);
    const delay = this.backoff.next();
    if (this.failing === null) {
      const code = mismatch ? 'NATS_ALERT_STATE_MISMATCH' : 'NATS_ALERT_STATE_FAILED';
      const text = mismatch ? message : `alert state: KV bucket ${this.bucket} cannot be written or read (${message}); silences, acks and the notification log stay local and are written once it can, retrying with backoff`;
      this.report('error', code, text, { bucket: this.bucket, queued: this.queue.size });
    } else {
      this.o.ctx.logger.debug({ err: message, delay_ms: delay }, 'alert state: failed again');
    }
    this.failing = message;
    this.retryTimer?.();
    this.retryTimer = this.o.ctx.clock.setTimeout(() => {
      this.retryTimer = undefined;
      if (session === this.session) void again();
    }, delay);
  }

  private recovered(): void {
    this.backoff.reset();
    if (this.failing === null) return;
    this.failing = null;
    this.report('info', 'NATS_ALERT_STATE_FAILED', `alert state: KV bucket ${this.bucket} written again`, { bucket: this.bucket, recovered: true });
  }

  private report(severity: 'error' | 'warning' | 'info', code: 'NATS_ALERT_STATE_FAILED' | 'NATS_ALERT_STATE_MISMATCH' | 'NATS_ALERT_STATE_INVALID', message: string, diagnostic: Record<string, unknown>): void {
    this.o.ctx.report(severity, code, message, diagnostic);
  }
}
