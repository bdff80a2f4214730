import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { errorMessage, type CancelTimer, type Clock, type Logger } from 'praxis-agent';

const LEADER_KEY = 'leader';
const WATERMARK_KEY = 'watermark';

/** What the holder keeps in the state bucket: every message up to `seq` was processed (committed). */
interface WatermarkValue {
  seq: number;
  holder: string;
}

export interface LeaseOptions {
  /** `<stream>_<durable>`: the buckets are `<scope>_lease` (TTL) and `<scope>_state` (no TTL). */
  scope: string;
  holderId: string;
  ttlMs: number;
  clock: Clock;
  logger: Logger;
  /** This aggregator holds the lease: start consuming; skip redeliveries up to `watermark`. */
  acquired(watermark: number): void;
  /** The lease is lost (or could not be refreshed in time): stop consuming at once. */
  lost(reason: string): void;
}

/**
 * A leader lease in JetStream KV. The lease key lives in a bucket whose max_age is the TTL: the
 * server removes it when its holder stops refreshing, and `create` (which fails while the key
 * exists) lets exactly one standby take it. The holder refreshes with compare-and-set at a quarter
 * of the TTL and steps down by itself at three quarters of it since its last successful refresh
 * was sent, so it has stopped before the server lets anyone else in. The watermark is in a second
 * bucket without TTL (it must outlive a dead holder), written with compare-and-set too, so a
 * deposed holder cannot move it.
 */
export class FleetLease {
  private lease?: KV;
  private state?: KV;
  private leaseRevision = 0;
  private watermarkRevision = 0;
  private watermark = 0;
  private leader = false;
  private holder: string | null = null;
  private timer?: CancelTimer;
  private deadline?: CancelTimer;
  private session = 0;
  private lastError: string | null = null;

  constructor(private readonly o: LeaseOptions) {}

  /** A (new) connection: open the buckets and try to take the lease; retries as long as the session lasts. */
  start(nc: NatsConnection): void {
    this.stepDown('new connection');
    const session = ++this.session;
    void this.open(nc, session);
  }

  /** Stops refreshing (the key expires after the TTL) and never acquires again. */
  async stop(): Promise<void> {
    this.session++;
    this.timer?.();
    this.deadline?.();
    const wasLeader = this.leader;
    this.leader = false;
    // Releasing at once lets a standby take over without waiting for the TTL.
    if (wasLeader) await this.lease?.delete(LEADER_KEY, { previousSeq: this.leaseRevision }).catch(() => undefined);
  }

  get isLeader(): boolean {
    return this.leader;
  }

  stats(): Record<string, unknown> {
    return { lease_role: this.leader ? 'leader' : 'standby', lease_leader: this.leader ? 1 : 0, lease_holder: this.holder, lease_id: this.o.holderId, watermark: this.watermark, lease_error: this.lastError };
  }

  /**
   * Records that every message up to `seq` is processed. Resolves true once written; false when this
   * aggregator is not the holder any more (the caller acknowledges anyway: an ack only helps).
   */
  async advance(seq: number): Promise<boolean> {
    if (!this.leader || !this.state || seq <= this.watermark) return this.leader;
    const value = JSON.stringify({ seq, holder: this.o.holderId } satisfies WatermarkValue);
    try {
      this.watermarkRevision = this.watermarkRevision === 0 ? await this.state.create(WATERMARK_KEY, value) : await this.state.update(WATERMARK_KEY, value, this.watermarkRevision);
      this.watermark = seq;
      return true;
    } catch (error) {
      // Someone else wrote it: another aggregator holds the lease now.
      this.lastError = `watermark not written: ${errorMessage(error)}`;
      this.stepDown(this.lastError);
      return false;
    }
  }

  private async open(nc: NatsConnection, session: number): Promise<void> {
    try {
      const kvm = new Kvm(nc);
      this.lease = await kvm.create(`${this.o.scope}_lease`, { ttl: this.o.ttlMs, history: 1 });
      this.state = await kvm.create(`${this.o.scope}_state`, { history: 1 });
    } catch (error) {
      this.lastError = `lease buckets: ${errorMessage(error)}`;
      this.o.logger.warn({ err: errorMessage(error) }, `aggregator lease: cannot open the KV buckets (${errorMessage(error)}); retrying`);
      this.later(session, () => void this.open(nc, session));
      return;
    }
    await this.tryAcquire(session);
  }

  private async tryAcquire(session: number): Promise<void> {
    if (session !== this.session || !this.lease || !this.state) return;
    try {
      const sentAt = this.o.clock.now();
      this.leaseRevision = await this.take(this.lease);
      if (session !== this.session) return;
      const entry = await this.state.get(WATERMARK_KEY);
      this.watermarkRevision = entry?.revision ?? 0;
      this.watermark = entry ? (JSON.parse(entry.string()) as WatermarkValue).seq : 0;
      this.leader = true;
      this.holder = this.o.holderId;
      this.lastError = null;
      this.armDeadline(session, sentAt);
      this.o.logger.info({ holder: this.o.holderId, watermark: this.watermark }, `aggregator lease taken: this aggregator consumes (watermark ${this.watermark})`);
      this.later(session, () => void this.refresh(session));
      this.o.acquired(this.watermark);
    } catch (error) {
      // Held by another aggregator (or not reachable): stand by and try again.
      const entry = await this.lease.get(LEADER_KEY).catch((e: unknown) => {
        this.lastError = `lease not readable: ${errorMessage(e)}`;
        return null;
      });
      this.holder = entry && entry.operation === 'PUT' ? entry.string() : null;
      if (!this.holder) this.lastError = `lease not taken: ${errorMessage(error)}`;
      this.later(session, () => void this.tryAcquire(session));
    }
  }

  /** Creates the key; or, when it still names this aggregator (a lost connection), takes it back by compare-and-set. */
  private async take(lease: KV): Promise<number> {
    try {
      return await lease.create(LEADER_KEY, this.o.holderId);
    } catch (error) {
      const entry = await lease.get(LEADER_KEY);
      if (entry?.operation === 'PUT' && entry.string() === this.o.holderId) return lease.update(LEADER_KEY, this.o.holderId, entry.revision);
      throw error;
    }
  }

  private async refresh(session: number): Promise<void> {
    if (session !== this.session || !this.leader || !this.lease) return;
    const sentAt = this.o.clock.now();
    try {
      this.leaseRevision = await this.lease.update(LEADER_KEY, this.o.holderId, this.leaseRevision, this.o.ttlMs / 4);
      if (session !== this.session || !this.leader) return;
      this.armDeadline(session, sentAt);
      this.later(session, () => void this.refresh(session));
    } catch (error) {
      this.lastError = `lease not refreshed: ${errorMessage(error)}`;
      this.stepDown(this.lastError);
    }
  }

  /** The server keeps the key for the TTL from the refresh it received; stop well before, measured from when it was sent. */
  private armDeadline(session: number, sentAt: number): void {
    this.deadline?.();
    const left = sentAt + (this.o.ttlMs * 3) / 4 - this.o.clock.now();
    this.deadline = this.o.clock.setTimeout(() => {
      if (session !== this.session || !this.leader) return;
      this.lastError = 'lease not refreshed in time';
      this.stepDown(this.lastError);
    }, Math.max(0, left));
  }

  /** Stops consuming and stands by: tries to take the lease again (it can once the key expired). */
  private stepDown(reason: string): void {
    this.deadline?.();
    if (!this.leader) return;
    this.leader = false;
    this.holder = null;
    this.o.logger.warn({ holder: this.o.holderId, reason }, `aggregator lease lost (${reason}): stopped consuming, standing by`);
    this.o.lost(reason);
    const session = this.session;
    this.later(session, () => void this.tryAcquire(session));
  }

  private later(session: number, fn: () => void): void {
    this.timer?.();
    this.timer = this.o.clock.setTimeout(() => {
      if (session === this.session) fn();
    }, this.o.ttlMs / 4);
  }
}
