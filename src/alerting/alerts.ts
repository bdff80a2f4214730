import { z } from 'zod';
import type { CancelTimer, Clock } from '../core/clock';
import { AgentError } from '../core/errors';
import type { Event } from '../events/types';
import { fingerprint } from './fingerprint';
import { LABEL_NAME, type LabelSet } from './matchers';
import { DEFAULT_RESOLVE_TIMEOUT_MS, withoutEmptyValues, type AlertRules, type RuleOutcome } from './rules';

/**
 * The alert table: every alert the agent knows, keyed by fingerprint, and its lifecycle on an
 * injected Clock. Alerts from the agent's events (through {@link AlertRules}) go pending → firing
 * → resolved; alerts posted in Alertmanager's form (Prometheus, amtool) are firing until their
 * `endsAt`, merged on re-post as Alertmanager merges them. Pure apart from one timer: no I/O;
 * decisions are returned and passed to a listener, for the next stages (events, routing) to act on.
 */

/** Where an alert is in its lifecycle. */
export type AlertState = 'pending' | 'firing' | 'resolved';

/** One alert, as plain JSON (times in milliseconds since the epoch). */
export interface Alert {
  readonly fingerprint: string;
  readonly labels: LabelSet;
  readonly annotations: Readonly<Record<string, string>>;
  readonly state: AlertState;
  /** `event`: made by a rule from the agent's events; `external`: posted in Alertmanager's form. */
  readonly origin: 'event' | 'external';
  /** The rule that made it (event alerts). */
  readonly rule?: string;
  /** When this lifecycle began: the first occurrence (event alerts, as Prometheus' activeAt) or the posted startsAt. */
  readonly startsAt: number;
  /** When it resolves (active) or resolved (resolved); absent: no end known (resolved by an event only). */
  readonly endsAt?: number;
  /** `endsAt` came from a resolve timeout rather than from the source (Alertmanager's `Timeout`). */
  readonly timeout: boolean;
  readonly updatedAt: number;
  readonly generatorURL?: string;
  /** Occurrences in this lifecycle (events that matched, or posts). */
  readonly occurrences: number;
  /** Lifecycle settings of its rule (event alerts): fire after `forMs` and `forCount`, end `resolveTimeoutMs` after the last occurrence (0: never by time). */
  readonly forMs: number;
  readonly forCount: number;
  readonly resolveTimeoutMs: number;
}

/**
 * What happened to an alert: it became `pending`, `firing` or `resolved`; a pending alert ended
 * before it fired (`dropped`: nothing was ever sent for it); or a rule made a one-shot `notice`.
 */
export interface AlertDecision {
  readonly kind: 'pending' | 'firing' | 'resolved' | 'dropped' | 'notice';
  readonly alert: Alert;
}

/** Alertmanager's postable alert (API v2 `postableAlert`); times are RFC 3339 strings. */
export const postableAlertSchema = z
  .object({
    labels: z.record(z.string(), z.string()),
    annotations: z.record(z.string(), z.string()).optional(),
    startsAt: z.iso.datetime({ offset: true }).optional(),
    endsAt: z.iso.datetime({ offset: true }).optional(),
    generatorURL: z.string().optional(),
  })
  .describe("An alert in Alertmanager's API v2 form, as Prometheus and amtool post it.");

/** An alert as posted to `POST /api/v2/alerts`. */
export type PostableAlert = z.output<typeof postableAlertSchema>;

/** The table as plain JSON, for persistence; {@link AlertTable.restore} takes it back. */
export interface AlertTableSnapshot {
  readonly version: 1;
  readonly alerts: readonly Alert[];
}

/** How {@link AlertTable} is built. */
export interface AlertTableOptions {
  clock: Clock;
  rules: AlertRules;
  /** Called with every decision, in order, including those of timers. */
  onDecision?: (decision: AlertDecision) => void;
  /** End of a posted alert without `endsAt` (Alertmanager's `resolve_timeout`, default 5m). */
  resolveTimeoutMs?: number;
  /** How long a resolved alert stays in the table (Alertmanager garbage-collects every 30m); default 30m. */
  retainResolvedMs?: number;
}

// Go's zero time (0001-01-01T00:00:00Z), which go-swagger clients such as amtool send for "unset".
const GO_ZERO_TIME = Date.parse('0001-01-01T00:00:00Z');

/** The alerts known to the agent and their lifecycle; see the module comment. */
export class AlertTable {
  private readonly alerts = new Map<string, Alert>();
  private readonly clock: Clock;
  private readonly rules: AlertRules;
  private readonly onDecision?: (decision: AlertDecision) => void;
  private readonly resolveTimeoutMs: number;
  private readonly retainResolvedMs: number;
  private timer?: { at: number; cancel: CancelTimer };

  constructor(options: AlertTableOptions) {
    this.clock = options.clock;
    this.rules = options.rules;
    this.onDecision = options.onDecision;
    this.resolveTimeoutMs = options.resolveTimeoutMs ?? DEFAULT_RESOLVE_TIMEOUT_MS;
    this.retainResolvedMs = options.retainResolvedMs ?? 1_800_000;
  }

  /** The alert with this fingerprint, in any state. */
  get(fingerprint: string): Alert | undefined {
    return this.alerts.get(fingerprint);
  }

  /** Every alert in the table (pending, firing, and resolved ones not yet removed). */
  list(): Alert[] {
    return [...this.alerts.values()];
  }

  /**
   * Applies one event: a matching rule makes or repeats an alert (or a notice); a `service.status`
   * resolves that service's earlier status alerts that no longer hold (all of them when healthy),
   * those of the same agent: in fleet mode another sidecar may still see the service down.
   */
  ingest(event: Pick<Event, 'type' | 'data' | 'metadata'>): AlertDecision[] {
    const now = this.clock.now();
    const decisions: AlertDecision[] = [];
    const outcome = this.rules.evaluate(event);
    const ownFingerprint = outcome && !outcome.notice ? fingerprint(outcome.labels) : undefined;
    if (event.type === 'service.status') {
      const service = (event.data as { service_name?: unknown }).service_name;
      const agent = this.rules.agentOf(event);
      for (const alert of this.alerts.values()) {
        const isStatusAlert = alert.origin === 'event' && alert.labels.type === 'service.status' && alert.labels.service === service && alert.labels.agent === agent;
        if (isStatusAlert && alert.state !== 'resolved' && alert.fingerprint !== ownFingerprint) decisions.push(this.end(alert, now));
      }
    }
    if (outcome?.notice) decisions.push({ kind: 'notice', alert: notice(outcome, now) });
    else if (outcome) decisions.push(...this.occur(outcome, ownFingerprint as string, now));
    return this.emit(decisions);
  }

  /**
   * Puts alerts posted in Alertmanager's form into the table, as Alertmanager's API v2 does: a
   * missing `startsAt` is now (or `endsAt`), a missing `endsAt` is now + resolve timeout; an
   * `endsAt` in the past is a resolved alert; a re-post overlapping the stored alert merges with it
   * (earliest start, newest annotations, the latest explicit end). Empty label values are dropped.
   * Valid alerts are stored even when others are not; `errors` names each invalid one.
   */
  post(alerts: readonly PostableAlert[]): { decisions: AlertDecision[]; errors: AgentError[] } {
    const now = this.clock.now();
    const decisions: AlertDecision[] = [];
    const errors: AgentError[] = [];
    for (const [i, posted] of alerts.entries()) {
      const problem = postedProblem(posted);
      if (problem) {
        errors.push(new AgentError('ALERT_INVALID', `alert ${i} ${JSON.stringify(posted.labels)}: ${problem}`, { index: i }));
        continue;
      }
      decisions.push(...this.putExternal(posted, now));
    }
    return { decisions: this.emit(decisions), errors };
  }

  /** The table as plain JSON (a copy), for persistence. */
  snapshot(): AlertTableSnapshot {
    return { version: 1, alerts: this.list().map((alert) => structuredClone(alert)) };
  }

  /**
   * Replaces the table with a snapshot and catches up on the time that passed: alerts whose end
   * passed while the agent was down resolve now (returned as decisions), pending alerts whose
   * `for` elapsed fire.
   * @throws AgentError ALERT_INVALID when the snapshot is not one {@link snapshot} wrote.
   */
  restore(snapshot: AlertTableSnapshot): AlertDecision[] {
    if (snapshot?.version !== 1 || !Array.isArray(snapshot.alerts)) throw new AgentError('ALERT_INVALID', 'not an alert table snapshot (expected { version: 1, alerts: [...] })');
    for (const alert of snapshot.alerts) {
      if (typeof alert?.fingerprint !== 'string' || fingerprint(alert.labels) !== alert.fingerprint) {
        throw new AgentError('ALERT_INVALID', `snapshot alert ${JSON.stringify(alert?.labels)}: its fingerprint does not match its labels`);
      }
    }
    this.alerts.clear();
    for (const alert of snapshot.alerts) this.alerts.set(alert.fingerprint, structuredClone(alert));
    return this.emit(this.due(this.clock.now()));
  }

  /**
   * Puts alerts as another table holds them (replication: the previous fleet aggregator's), each
   * replacing the one with its fingerprint, then catches up on time as {@link restore} does; which
   * of two versions wins is the caller's decision. Returns the decisions due now.
   * @throws AgentError ALERT_INVALID naming the first alert that is not one; the table is then unchanged.
   */
  merge(alerts: readonly Alert[]): AlertDecision[] {
    for (const alert of alerts) {
      const problem = storedAlertProblem(alert);
      if (problem) throw new AgentError('ALERT_INVALID', `alert ${JSON.stringify((alert as Partial<Alert> | null)?.labels)}: ${problem}`);
    }
    for (const alert of alerts) this.alerts.set(alert.fingerprint, structuredClone(alert));
    return this.emit(this.due(this.clock.now()));
  }

  /** Forgets an alert without a decision (another table forgot it); true when it was here. */
  forget(fingerprint: string): boolean {
    const had = this.alerts.delete(fingerprint);
    if (had) this.schedule();
    return had;
  }

  /** Cancels the timer; the table keeps its alerts and can go on (the next change schedules again). */
  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** A matching event: a new alert, or one more occurrence of the active one. */
  private occur(outcome: RuleOutcome, fp: string, now: number): AlertDecision[] {
    const endsAt = outcome.resolveTimeoutMs > 0 ? now + outcome.resolveTimeoutMs : undefined;
    const settings = { annotations: outcome.annotations, rule: outcome.rule, forMs: outcome.forMs, forCount: outcome.forCount, resolveTimeoutMs: outcome.resolveTimeoutMs };
    const old = this.alerts.get(fp);
    const active = old !== undefined && old.state !== 'resolved';
    const alert: Alert = active
      ? { ...old, ...settings, endsAt, timeout: endsAt !== undefined, updatedAt: now, occurrences: old.occurrences + 1 }
      : { fingerprint: fp, labels: outcome.labels, state: 'pending', origin: 'event', startsAt: now, endsAt, timeout: endsAt !== undefined, updatedAt: now, occurrences: 1, ...settings };
    // Plain JSON: an alert with no end has no `endsAt` key (a snapshot round trip would drop it anyway).
    if (alert.endsAt === undefined) delete (alert as { endsAt?: number }).endsAt;
    if (alert.state === 'pending' && ready(alert, now)) return [this.set({ ...alert, state: 'firing' }, 'firing')];
    this.alerts.set(fp, alert);
    return active ? [] : [{ kind: 'pending', alert }];
  }

  private putExternal(posted: PostableAlert, now: number): AlertDecision[] {
    const labels = withoutEmptyValues(posted.labels);
    const fp = fingerprint(labels);
    const postedEnd = time(posted.endsAt);
    const startsAt = time(posted.startsAt) ?? postedEnd ?? now;
    let alert: Alert = {
      fingerprint: fp,
      labels,
      annotations: posted.annotations ?? {},
      state: 'firing',
      origin: 'external',
      startsAt,
      endsAt: postedEnd ?? now + this.resolveTimeoutMs,
      timeout: postedEnd === undefined,
      updatedAt: now,
      occurrences: 1,
      forMs: 0,
      forCount: 1,
      resolveTimeoutMs: this.resolveTimeoutMs,
      ...(posted.generatorURL !== undefined && { generatorURL: posted.generatorURL }),
    };
    const old = this.alerts.get(fp);
    if (old && overlaps(old, alert)) alert = merge(old, alert);
    const state: AlertState = (alert.endsAt ?? Infinity) > now ? 'firing' : 'resolved';
    alert = { ...alert, state };
    const wasFiring = old?.state === 'firing';
    if (state === 'firing' && !wasFiring) return [this.set(alert, 'firing')];
    if (state === 'resolved' && old !== undefined && old.state !== 'resolved') return [this.set(alert, old.state === 'pending' ? 'dropped' : 'resolved')];
    this.alerts.set(fp, alert);
    this.schedule();
    return [];
  }

  /** An active alert ends now: a firing one resolves, a pending one is dropped. */
  private end(alert: Alert, now: number): AlertDecision {
    return this.set({ ...alert, state: 'resolved', endsAt: Math.min(alert.endsAt ?? now, now), updatedAt: now }, alert.state === 'firing' ? 'resolved' : 'dropped');
  }

  private set(alert: Alert, kind: AlertDecision['kind']): AlertDecision {
    if (kind === 'dropped') this.alerts.delete(alert.fingerprint);
    else this.alerts.set(alert.fingerprint, alert);
    return { kind, alert };
  }

  /** The transitions due at `now`: ends reached, `for` elapsed, resolved alerts past retention. */
  private due(now: number): AlertDecision[] {
    const decisions: AlertDecision[] = [];
    for (const alert of [...this.alerts.values()]) {
      if (alert.state === 'resolved') {
        if ((alert.endsAt ?? alert.updatedAt) + this.retainResolvedMs <= now) this.alerts.delete(alert.fingerprint);
      } else if (alert.endsAt !== undefined && alert.endsAt <= now) {
        decisions.push(this.set({ ...alert, state: 'resolved' }, alert.state === 'firing' ? 'resolved' : 'dropped'));
      } else if (alert.state === 'pending' && ready(alert, now)) {
        decisions.push(this.set({ ...alert, state: 'firing' }, 'firing'));
      }
    }
    return decisions;
  }

  /** Hands decisions to the listener and sets the timer for the next transition. */
  private emit(decisions: AlertDecision[]): AlertDecision[] {
    this.schedule();
    for (const decision of decisions) this.onDecision?.(decision);
    return decisions;
  }

  // One timer for the whole table, at its earliest deadline: the table can hold thousands of alerts.
  private schedule(): void {
    let next = Infinity;
    for (const alert of this.alerts.values()) next = Math.min(next, deadline(alert, this.retainResolvedMs));
    if (this.timer?.at === next) return;
    this.stop();
    if (next === Infinity) return;
    const cancel = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.emit(this.due(this.clock.now()));
    }, next - this.clock.now());
    this.timer = { at: next, cancel };
  }
}

/** When something next happens to an alert (Infinity: only an event or a post can change it). */
function deadline(alert: Alert, retainResolvedMs: number): number {
  if (alert.state === 'resolved') return (alert.endsAt ?? alert.updatedAt) + retainResolvedMs;
  const end = alert.endsAt ?? Infinity;
  if (alert.state === 'pending' && alert.occurrences >= alert.forCount) return Math.min(end, alert.startsAt + alert.forMs);
  return end;
}

/** A pending alert fires once it has had `forCount` occurrences and `forMs` have passed since the first. */
function ready(alert: Alert, now: number): boolean {
  return alert.occurrences >= alert.forCount && now - alert.startsAt >= alert.forMs;
}

function notice(outcome: RuleOutcome, now: number): Alert {
  return {
    fingerprint: fingerprint(outcome.labels),
    labels: outcome.labels,
    annotations: outcome.annotations,
    state: 'firing',
    origin: 'event',
    rule: outcome.rule,
    startsAt: now,
    // A notice is over when it is sent: startsAt = endsAt, nothing to resolve later.
    endsAt: now,
    timeout: false,
    updatedAt: now,
    occurrences: 1,
    forMs: 0,
    forCount: 1,
    resolveTimeoutMs: 0,
  };
}

/** Alertmanager's overlap test (provider/mem): the new activity range starts or ends inside the stored one. */
function overlaps(old: Alert, next: Alert): boolean {
  const oldEnd = old.endsAt ?? Infinity;
  const nextEnd = next.endsAt ?? Infinity;
  return (nextEnd > old.startsAt && nextEnd < oldEnd) || (next.startsAt > old.startsAt && next.startsAt < oldEnd);
}

/** Alertmanager's `Alert.Merge`: the newer alert, with the earliest start and the latest explicit end. */
function merge(a: Alert, b: Alert): Alert {
  const [older, newer] = b.updatedAt < a.updatedAt ? [b, a] : [a, b];
  const result: Alert = { ...newer, occurrences: older.occurrences + newer.occurrences };
  const startsAt = Math.min(older.startsAt, newer.startsAt);
  const olderEnd = older.endsAt ?? Infinity;
  const newerEnd = newer.endsAt ?? Infinity;
  const newerResolved = newerEnd <= newer.updatedAt;
  const olderResolved = olderEnd <= newer.updatedAt;
  let { endsAt, timeout } = newer;
  if (newerResolved ? olderResolved && olderEnd > newerEnd : olderEnd > newerEnd && !older.timeout) ({ endsAt, timeout } = older);
  return { ...result, startsAt, endsAt, timeout };
}

const STATES: readonly AlertState[] = ['pending', 'firing', 'resolved'];

/** Why a stored alert (another table's) is not one this table could hold, or undefined. */
export function storedAlertProblem(alert: Alert): string | undefined {
  if (typeof alert !== 'object' || alert === null) return 'not an object';
  if (typeof alert.labels !== 'object' || alert.labels === null || Object.values(alert.labels).some((v) => typeof v !== 'string')) return 'labels must be an object of strings';
  if (typeof alert.fingerprint !== 'string' || fingerprint(alert.labels) !== alert.fingerprint) return 'its fingerprint does not match its labels';
  if (typeof alert.annotations !== 'object' || alert.annotations === null) return 'annotations must be an object';
  if (!STATES.includes(alert.state)) return `state ${JSON.stringify(alert.state)} is not pending, firing or resolved`;
  if (alert.origin !== 'event' && alert.origin !== 'external') return `origin ${JSON.stringify(alert.origin)} is not event or external`;
  for (const key of ['startsAt', 'updatedAt', 'occurrences', 'forMs', 'forCount', 'resolveTimeoutMs'] as const) {
    if (!Number.isFinite(alert[key])) return `${key} must be a number`;
  }
  if (alert.endsAt !== undefined && !Number.isFinite(alert.endsAt)) return 'endsAt must be a number when present';
  if (typeof alert.timeout !== 'boolean') return 'timeout must be a boolean';
  return undefined;
}

/** Why Alertmanager would refuse a posted alert (api/v2 and types.Alert.Validate), or undefined. */
function postedProblem(posted: PostableAlert): string | undefined {
  const labels = withoutEmptyValues(posted.labels);
  if (Object.keys(labels).length === 0) return 'at least one label pair required';
  const bad = Object.keys(labels).find((name) => !LABEL_NAME.test(name));
  if (bad !== undefined) return `invalid label set: "${bad}" is not a valid label name`;
  const badAnnotation = Object.keys(posted.annotations ?? {}).find((name) => !LABEL_NAME.test(name));
  if (badAnnotation !== undefined) return `invalid annotations: "${badAnnotation}" is not a valid label name`;
  const startsAt = time(posted.startsAt);
  const endsAt = time(posted.endsAt);
  if (startsAt !== undefined && endsAt !== undefined && endsAt < startsAt) return 'start time must be before end time';
  return undefined;
}

/** Milliseconds of an RFC 3339 time; undefined when absent or Go's zero time (unset). */
function time(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) || ms <= GO_ZERO_TIME ? undefined : ms;
}
