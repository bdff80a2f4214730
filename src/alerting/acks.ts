import { z } from 'zod';
import type { Clock } from '../core/clock';
import { AgentError } from '../core/errors';
import type { AcknowledgementView, AcknowledgementInput } from './alerting-api';
import type { Alert } from './alerts';

/**
 * Operators' acknowledgements of firing alerts (not an Alertmanager feature: Alertmanager only has
 * silences, which hide an alert; an acknowledgement keeps it visible and stops its reminders). An
 * acknowledgement belongs to one firing lifecycle of one alert (fingerprint and `startsAt`): once
 * the alert resolves it can never hold again, and when it fires again it is news again. Pure: time
 * is the injected Clock, no I/O; the engine persists {@link Acknowledgements.snapshot}.
 */

/** An acknowledgement as stored (times in ms since the epoch). */
export interface Acknowledgement {
  fingerprint: string;
  /** startsAt of the alert acknowledged: an alert that resolves and fires again is a new alert, not acknowledged */
  startsAt: number;
  by: string;
  comment: string;
  at: number;
  /** When it stops holding; absent: while the alert keeps firing. */
  expiresAt?: number;
}

/** The acknowledgements as plain JSON, for persistence; {@link Acknowledgements.restore} takes it back. */
export interface AcknowledgementsSnapshot {
  version: 1;
  acks: Acknowledgement[];
}

type AlertRef = Pick<Alert, 'fingerprint' | 'state' | 'startsAt'>;

const rfc3339 = z.iso.datetime({ offset: true });

/** The acknowledgements of the alerts now firing, one per fingerprint; see the module comment. */
export class Acknowledgements {
  private readonly acks = new Map<string, Acknowledgement>();

  constructor(private readonly clock: Clock) {}

  /**
   * Acknowledges a firing alert, replacing an earlier acknowledgement of it (new by, comment, expiry).
   * @throws AgentError ALERT_INVALID when the alert is not firing, `by` is empty, or expiresAt is unparsable or not in the future
   */
  acknowledge(alert: AlertRef, input: AcknowledgementInput): Acknowledgement {
    const now = this.clock.now();
    const refuse = (problem: string): never => {
      throw new AgentError('ALERT_INVALID', `cannot acknowledge alert ${alert.fingerprint}: ${problem}`, { fingerprint: alert.fingerprint });
    };
    if (alert.state !== 'firing') refuse(`it is ${alert.state}; only a firing alert can be acknowledged`);
    const by = typeof input?.by === 'string' ? input.by.trim() : '';
    if (by === '') refuse('"by" (who acknowledges) is required');
    if (input.comment !== undefined && typeof input.comment !== 'string') refuse('"comment" must be a string');
    let expiresAt: number | undefined;
    if (input.expiresAt !== undefined) {
      expiresAt = rfc3339.safeParse(input.expiresAt).success ? Date.parse(input.expiresAt) : NaN;
      if (Number.isNaN(expiresAt)) refuse(`"expiresAt" ${JSON.stringify(input.expiresAt)} is not an RFC 3339 time`);
      if ((expiresAt as number) <= now) refuse(`"expiresAt" ${input.expiresAt} is not in the future`);
    }
    const ack: Acknowledgement = { fingerprint: alert.fingerprint, startsAt: alert.startsAt, by, comment: input.comment ?? '', at: now, ...(expiresAt !== undefined && { expiresAt }) };
    // Delete first so list() stays in acknowledgement order.
    this.acks.delete(alert.fingerprint);
    this.acks.set(alert.fingerprint, ack);
    return { ...ack };
  }

  /** The ack holding for this alert now: same fingerprint and startsAt, alert still firing, not expired. */
  active(alert: AlertRef): Acknowledgement | undefined {
    const ack = this.acks.get(alert.fingerprint);
    if (ack === undefined || alert.state !== 'firing' || ack.startsAt !== alert.startsAt || this.expired(ack, this.clock.now())) return undefined;
    return { ...ack };
  }

  /** Drops acks that can never hold again: expired, or whose alert is gone / resolved / has a different startsAt (lookup by fingerprint). Returns the fingerprints dropped. */
  gc(lookup: (fingerprint: string) => Pick<Alert, 'state' | 'startsAt'> | undefined): string[] {
    const now = this.clock.now();
    const dropped: string[] = [];
    for (const ack of [...this.acks.values()]) {
      const alert = lookup(ack.fingerprint);
      if (this.expired(ack, now) || alert === undefined || alert.state !== 'firing' || alert.startsAt !== ack.startsAt) {
        this.acks.delete(ack.fingerprint);
        dropped.push(ack.fingerprint);
      }
    }
    return dropped;
  }

  /** The acknowledgement stored for this fingerprint (a copy), holding or not. */
  get(fingerprint: string): Acknowledgement | undefined {
    const ack = this.acks.get(fingerprint);
    return ack && { ...ack };
  }

  /** Every stored acknowledgement (copies), oldest first; some may no longer hold until {@link gc} runs. */
  list(): Acknowledgement[] {
    return [...this.acks.values()].map((ack) => ({ ...ack }));
  }

  /** The unexpired acknowledgements as plain JSON (copies), for persistence. */
  snapshot(): AcknowledgementsSnapshot {
    const now = this.clock.now();
    return { version: 1, acks: this.list().filter((ack) => !this.expired(ack, now)) };
  }

  /**
   * Replaces the acknowledgements with a snapshot.
   * @throws AgentError ALERT_INVALID on a snapshot it did not write
   */
  restore(snapshot: AcknowledgementsSnapshot): void {
    if (snapshot?.version !== 1 || !Array.isArray(snapshot.acks)) throw new AgentError('ALERT_INVALID', 'not an acknowledgements snapshot (expected { version: 1, acks: [...] })');
    for (const [i, a] of snapshot.acks.entries()) {
      if (!isAcknowledgement(a)) throw new AgentError('ALERT_INVALID', `acknowledgements snapshot entry ${i}: ${ACK_SHAPE}`);
    }
    this.acks.clear();
    for (const a of snapshot.acks) this.acks.set(a.fingerprint, plainAck(a));
  }

  /**
   * Puts one acknowledgement as another store holds it (replication), replacing the one of its
   * alert; which of two versions wins is the caller's decision.
   * @throws AgentError ALERT_INVALID when it is not an acknowledgement
   */
  put(ack: Acknowledgement): void {
    if (!isAcknowledgement(ack)) throw new AgentError('ALERT_INVALID', `not an acknowledgement: ${ACK_SHAPE}`);
    this.acks.delete(ack.fingerprint);
    this.acks.set(ack.fingerprint, plainAck(ack));
  }

  private expired(ack: Acknowledgement, now: number): boolean {
    return ack.expiresAt !== undefined && ack.expiresAt <= now;
  }
}

const ACK_SHAPE = 'expected fingerprint, startsAt, by (not empty), comment, at and an optional expiresAt';

export function isAcknowledgement(a: Acknowledgement | null | undefined): a is Acknowledgement {
  return (
    typeof a?.fingerprint === 'string' &&
    Number.isFinite(a.startsAt) &&
    typeof a.by === 'string' &&
    a.by !== '' &&
    typeof a.comment === 'string' &&
    Number.isFinite(a.at) &&
    (a.expiresAt === undefined || Number.isFinite(a.expiresAt))
  );
}

/** Only the fields of an acknowledgement, whatever else the input carried. */
export function plainAck(a: Acknowledgement): Acknowledgement {
  return { fingerprint: a.fingerprint, startsAt: a.startsAt, by: a.by, comment: a.comment, at: a.at, ...(a.expiresAt !== undefined && { expiresAt: a.expiresAt }) };
}

/** An acknowledgement as the APIs and notifications show it (times as RFC 3339). */
export function acknowledgementView(ack: Acknowledgement): AcknowledgementView {
  return { by: ack.by, comment: ack.comment, at: new Date(ack.at).toISOString(), ...(ack.expiresAt !== undefined && { expiresAt: new Date(ack.expiresAt).toISOString() }) };
}
