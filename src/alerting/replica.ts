import type { InjectionToken } from 'tsyringe';
import type { Acknowledgement } from './acks';
import type { Alert, AlertState } from './alerts';
import type { NotificationLogEntry } from './notification';
import type { Silence } from './silences';

/**
 * The seam through which alerting state leaves the agent and comes back from other agents, for a
 * plugin that replicates it (the nats plugin's aggregators, active/standby: issue 13). The core
 * knows no transport: it tells a registered {@link AlertingReplica} every change it makes, and
 * merges what the replica brings from elsewhere by fixed rules ({@link mergeWinner}). An agent with
 * no replica registered pays nothing: the engine's hooks are one `undefined` check.
 *
 * What is shared, and by whom (the plugin decides who writes, the core only reports and merges):
 * - `silence`, `ack`: made by operators on any agent; every agent writes its own and takes every other's.
 * - `nflog`, `alert`: the notification log and the alert table of the agent that alerts for the
 *   fleet (the aggregators' lease holder); the next one merges them before it starts alerting, so
 *   a firing alert is not notified again within its repeat_interval and an alert that fired on the
 *   previous one resolves (and its resolve is sent) when the events say so.
 */

/** What a change is about; a `forget` names one of these. */
export type AlertingStateKind = 'silence' | 'ack' | 'nflog' | 'alert';

/**
 * One change of the engine's state, or one item of another agent's. `key` identifies the item
 * within its kind: the silence id, the alert's fingerprint (alert and ack), for `nflog` the receiver
 * and the group key joined by a NUL. Values are plain JSON (what the engine keeps in SQLite: labels,
 * annotations, comments; no secret beyond what the alert's labels and annotations already show).
 */
export type AlertingStateChange =
  | { kind: 'silence'; key: string; value: Silence }
  | { kind: 'ack'; key: string; value: Acknowledgement }
  | { kind: 'nflog'; key: string; value: NotificationLogEntry }
  | { kind: 'alert'; key: string; value: Alert }
  /** The engine dropped the item (retention, gc, resolved alert forgotten); `at` is when (ms). */
  | { kind: 'forget'; item: AlertingStateKind; key: string; at: number };

/** An item as it came from another agent: not trusted, the engine validates `value`. */
export type RemoteAlertingItem = { kind: AlertingStateKind; key: string; value: unknown } | { kind: 'forget'; item: AlertingStateKind; key: string; at: number };

/** What {@link AlertingState.merge} did. */
export interface MergeReport {
  /** Items taken (newer than the local one, or new here). */
  applied: number;
  /** Items equal to the local one. */
  unchanged: number;
  /** The local items that are newer than the remote ones: write them back, so every agent converges. */
  localNewer: AlertingStateChange[];
  /** Items refused (not valid, key not matching the value): skipped, the rest merged. */
  invalid: { kind: string; key: string; error: string }[];
}

/**
 * What a replicating plugin registers: told of each change the engine makes, synchronously and
 * in order. It must return at once (queue, write later) and never throw: a throw is caught and
 * logged, and the engine goes on.
 */
export interface AlertingReplica {
  changed(change: AlertingStateChange): void;
}

/**
 * The running alerting engine's state, for a plugin that replicates it: inject it with
 * `@inject(ALERTING_STATE, { isOptional: true }) state?: AlertingState` (absent when the agent has
 * no `alerting:` section).
 */
export abstract class AlertingState {
  /** Registers the replica (one at a time: a second replaces the first); call the answer to unregister. */
  abstract attach(replica: AlertingReplica): () => void;
  /** Every item the engine holds now, of these kinds: what a replica compares with the remote copy when it (re)connects. */
  abstract snapshot(kinds: readonly AlertingStateKind[]): AlertingStateChange[];
  /**
   * Merges items of other agents, item by item, by {@link mergeWinner}: a newer one replaces the
   * local one (and is saved in the agent's store), an invalid one is skipped and listed. A remote
   * `forget` is only applied to alerts (an alert the fleet's alerting forgot); the other kinds are
   * dropped by each agent's own retention. Merged items are not told back to the replica.
   */
  abstract merge(items: readonly RemoteAlertingItem[]): MergeReport;
}

/** Token for optional injection of {@link AlertingState}. */
export const ALERTING_STATE: InjectionToken<AlertingState> = Symbol.for('praxis-agent:alerting-state');

const STATE_RANK: Record<AlertState, number> = { pending: 0, firing: 1, resolved: 2 };

/**
 * Which of two versions of one item wins: the later one by the item's own clock (a silence's
 * `updatedAt`, an ack's `at`, a log entry's `timestamp`, an alert's `updatedAt`, then its state in
 * lifecycle order, since a timer moves an alert to firing or resolved without touching
 * `updatedAt`); on a tie the larger canonical JSON, so every agent picks the same. Not the order of
 * arrival: a change made on an agent cut off from the others for an hour is written when it
 * reconnects, and must not undo what the others did meanwhile.
 */
export function mergeWinner(kind: AlertingStateKind, local: unknown, remote: unknown): 'local' | 'remote' | 'same' {
  if (local === undefined) return 'remote';
  const a = stamp(kind, local);
  const b = stamp(kind, remote);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return (b[i] as number) > (a[i] as number) ? 'remote' : 'local';
  const x = canonicalJson(local);
  const y = canonicalJson(remote);
  return x === y ? 'same' : y > x ? 'remote' : 'local';
}

function stamp(kind: AlertingStateKind, value: unknown): number[] {
  const v = value as Record<string, unknown>;
  switch (kind) {
    case 'silence':
      return [Date.parse(v.updatedAt as string)];
    case 'ack':
      return [v.at as number];
    case 'nflog':
      return [v.timestamp as number];
    case 'alert':
      return [v.updatedAt as number, STATE_RANK[v.state as AlertState] ?? -1];
  }
}

/** JSON with object keys sorted at every level: two agents serialise one value to the same text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}
