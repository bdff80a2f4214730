import { AgentError } from '../core/errors';
import type { AcknowledgementView } from './alerting-api';

/**
 * What the alerting engine hands to sinks, what sinks answer, and the notification log that keeps
 * the engine from notifying a group twice (Alertmanager's `nflog`). Pure data and an in-memory
 * log with JSON snapshot/restore; the dispatcher ({@link ./dispatcher}) fills both.
 */

/** One alert as a notification lists it (Alertmanager's webhook payload, times as RFC 3339). */
export interface NotificationAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** When the alert started (RFC 3339). */
  startsAt: string;
  /** When it resolved (RFC 3339); absent on a firing alert, as Alertmanager zeroes it when it flushes. */
  endsAt?: string;
  /** Alertmanager's fingerprint of `labels` (16 hex digits). */
  fingerprint: string;
  generatorURL?: string;
  /** The operator's acknowledgement holding for this firing alert (the agent's own: not in Alertmanager's payload). */
  acknowledgement?: AcknowledgementView;
}

/**
 * Why a group is notified: Alertmanager's `NotifyReason` (notify/notify.go), as snake_case, and
 * three of the agent's own that Alertmanager does not have: `notice`, a one-shot message with no
 * lifecycle (nothing to resolve or remind of); `acknowledged`, telling a receiver that an alert
 * it was notified of has been acknowledged by an operator (PagerDuty: an `acknowledge` event; sinks
 * without such a notion may ignore it); and `test`, an operator's test of a receiver
 * (`praxis-agent alert test`): render it like any firing notification, it says it is a test.
 */
export type NotifyReason = 'first_notification' | 'new_alerts_in_group' | 'new_resolved_alerts' | 'all_alerts_resolved' | 'repeat_interval_elapsed' | 'notice' | 'acknowledged' | 'test';

/**
 * The payload of the notifier contract: one message for one aggregation group and one receiver.
 * Sinks render and deliver it; they do not filter, group or dedup (the engine did).
 */
export interface Notification {
  /** The receiver's name (the `receiver` of the route the group belongs to). */
  receiver: string;
  /** Alertmanager's group key: the route's key (`{}/{team="db"}`), `:`, the group labels (`{alertname="X"}`). */
  groupKey: string;
  /** The labels the group is grouped by (the route's `group_by` labels the alerts have). */
  groupLabels: Record<string, string>;
  /** Labels every listed alert has with the same value. */
  commonLabels: Record<string, string>;
  /** Annotations every listed alert has with the same value. */
  commonAnnotations: Record<string, string>;
  /** `firing` when any listed alert fires, else `resolved`. */
  status: 'firing' | 'resolved';
  /** The alerts, firing and resolved, in Alertmanager's order (`job`, `instance`, then labels); at most the cap when one is set. */
  alerts: NotificationAlert[];
  /** How many alerts were left out of `alerts` by the cap (0 when none). */
  truncatedAlerts: number;
  /** True when nothing changed since the last notification of this group: a `repeat_interval` reminder. */
  reminder: boolean;
  reason: NotifyReason;
  /** When the group was flushed (RFC 3339). */
  timestamp: string;
  /**
   * Probable causes: the `config.changed` events of the last `alerting.recent_changes_window`,
   * oldest first, values redacted as published. Set by the engine; empty when none.
   */
  recentChanges?: ConfigChange[];
}

/** One configuration change a notification lists as a probable cause (a `config.changed` event's data). */
export interface ConfigChange {
  /** When it changed (RFC 3339). */
  at: string;
  config_path: string;
  old_value: unknown;
  new_value: unknown;
  changed_by?: string;
  change_reason?: string;
}

/**
 * What a sink's `send(notification, signal)` answers: the SDK's notifier contract-to-be. `delivered`:
 * done; `permanent`: it can never succeed (bad address, 4xx), do not retry; `retry`: try again after
 * `afterMs` (429 Retry-After, 5xx, SMTP 4xx). `reason` is shown to operators; never put secrets in it.
 */
export type SinkResult = { outcome: 'delivered' } | { outcome: 'permanent'; reason: string } | { outcome: 'retry'; afterMs: number; reason: string };

/** What was last sent for one group to one receiver (Alertmanager's `nflogpb.Entry`). */
export interface NotificationLogEntry {
  receiver: string;
  groupKey: string;
  /** When the notification was recorded (ms since the epoch). */
  timestamp: number;
  /** Fingerprints of the alerts that were firing in it. */
  firing: string[];
  /** Fingerprints of the alerts that were resolved in it. */
  resolved: string[];
  /** When the entry is forgotten (ms): `timestamp` + 2 × repeat_interval, at most the log's retention. */
  expiresAt: number;
}

/** The notification log as plain JSON, for persistence; {@link NotificationLog.restore} takes it back. */
export interface NotificationLogSnapshot {
  version: 1;
  entries: NotificationLogEntry[];
}

/** Alertmanager's default `--data.retention`: how long an entry is kept at most. */
export const DEFAULT_NFLOG_RETENTION_MS = 120 * 3_600_000;

/**
 * What was sent to whom and when, one entry per (receiver, group key), as Alertmanager's nflog keeps
 * it. An expired entry counts as absent (Alertmanager garbage-collects it), so the next notification
 * of that group is a first one again.
 */
export class NotificationLog {
  private readonly entries = new Map<string, NotificationLogEntry>();

  constructor(private readonly retentionMs = DEFAULT_NFLOG_RETENTION_MS) {}

  /** The live entry for this receiver and group at `now`, or undefined. */
  query(receiver: string, groupKey: string, now: number): NotificationLogEntry | undefined {
    const entry = this.entries.get(key(receiver, groupKey));
    return entry && entry.expiresAt > now ? entry : undefined;
  }

  /** Records a notification; a newer entry for the same receiver and group replaces the older. */
  log(entry: Omit<NotificationLogEntry, 'expiresAt'>, repeatIntervalMs: number): void {
    const expiry = repeatIntervalMs > 0 ? Math.min(2 * repeatIntervalMs, this.retentionMs) : this.retentionMs;
    const k = key(entry.receiver, entry.groupKey);
    const previous = this.entries.get(k);
    if (previous && previous.timestamp > entry.timestamp) return;
    this.entries.set(k, { ...entry, firing: [...entry.firing], resolved: [...entry.resolved], expiresAt: entry.timestamp + expiry });
  }

  /** The live entries at `now`, as plain JSON (copies), for persistence. */
  snapshot(now: number): NotificationLogSnapshot {
    return { version: 1, entries: [...this.entries.values()].filter((e) => e.expiresAt > now).map((e) => structuredClone(e)) };
  }

  /**
   * Replaces the log with a snapshot.
   * @throws AgentError ALERT_INVALID when the snapshot is not one {@link snapshot} wrote.
   */
  restore(snapshot: NotificationLogSnapshot): void {
    if (snapshot?.version !== 1 || !Array.isArray(snapshot.entries)) throw new AgentError('ALERT_INVALID', 'not a notification log snapshot (expected { version: 1, entries: [...] })');
    for (const [i, e] of snapshot.entries.entries()) {
      if (!isLogEntry(e)) throw new AgentError('ALERT_INVALID', `notification log snapshot entry ${i}: ${ENTRY_SHAPE}`);
    }
    this.entries.clear();
    for (const e of snapshot.entries) this.entries.set(key(e.receiver, e.groupKey), structuredClone(e));
  }

  /**
   * Puts one entry as another log holds it (replication), with its own expiry, replacing the entry
   * of its receiver and group; which of two versions wins is the caller's decision.
   * @throws AgentError ALERT_INVALID when it is not a log entry
   */
  put(entry: NotificationLogEntry): void {
    if (!isLogEntry(entry)) throw new AgentError('ALERT_INVALID', `not a notification log entry: ${ENTRY_SHAPE}`);
    const { receiver, groupKey, timestamp, firing, resolved, expiresAt } = entry;
    this.entries.set(key(receiver, groupKey), { receiver, groupKey, timestamp, firing: [...firing], resolved: [...resolved], expiresAt });
  }

  /** The entry for this receiver and group, expired or not. */
  get(receiver: string, groupKey: string): NotificationLogEntry | undefined {
    const entry = this.entries.get(key(receiver, groupKey));
    return entry && structuredClone(entry);
  }
}

const ENTRY_SHAPE = 'expected receiver, groupKey, timestamp, expiresAt, firing[] and resolved[]';

export function isLogEntry(e: NotificationLogEntry | null | undefined): e is NotificationLogEntry {
  return (
    typeof e?.receiver === 'string' &&
    typeof e.groupKey === 'string' &&
    Number.isFinite(e.timestamp) &&
    Number.isFinite(e.expiresAt) &&
    Array.isArray(e.firing) &&
    Array.isArray(e.resolved) &&
    [...e.firing, ...e.resolved].every((fp) => typeof fp === 'string')
  );
}

// Alertmanager's stateKey is `groupKey:receiver`; a NUL cannot occur in a receiver name or label value
// written in YAML, so it separates the two without ambiguity.
function key(receiver: string, groupKey: string): string {
  return `${receiver}\u0000${groupKey}`;
}
