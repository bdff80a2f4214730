import type { CancelTimer, Clock } from '../core/clock';
import type { AcknowledgementView } from './alerting-api';
import type { Alert } from './alerts';
import type { Inhibition } from './inhibit';
import type { LabelSet } from './matchers';
import { NotificationLog, type Notification, type NotificationAlert, type NotificationLogEntry, type NotifyReason } from './notification';
import { groupLabels, type Route } from './route';
import type { RouteTimeIntervals, RouteTimeMute } from './time-intervals';

/**
 * Aggregation groups and their timers with Alertmanager's semantics (`dispatch/dispatch.go`,
 * `notify/notify.go`, `notify/dedup_stage.go`, `nflog/`). Every alert is put into one group per
 * route it ends at, keyed by the route and the alert's group labels. A new group flushes after
 * `group_wait` (at once when its first alert is older than that), then every `group_interval`.
 * A flush runs Alertmanager's stages in order: inhibited alerts out, the whole flush held while the
 * route is time-muted, silenced alerts out, then dedup against the notification log (`needsUpdate`),
 * then the notification, then the log entry. Resolved alerts go out with the next flush and then
 * leave the group; an empty group is dropped. Pure: time is the injected Clock, muting is injected
 * predicates, output is callbacks; no I/O.
 *
 * Two additions of the agent's own: acknowledgements (a reminder of a group whose firing alerts are
 * all acknowledged is skipped; {@link Dispatcher.acknowledged} tells the receivers that were
 * notified), and notices ({@link Dispatcher.notice}: one message per route, muted as a flush is, with
 * no group, no log entry and no reminder).
 */

/** Per-receiver settings the dispatcher needs. */
export interface ReceiverSettings {
  /** Whether resolved alerts are sent (Alertmanager's `send_resolved`); default true. */
  sendResolved?: boolean;
}

/** Why an alert (or a whole flush) was left out of a notification. */
export type MuteDecision =
  | { kind: 'silenced'; receiver: string; groupKey: string; fingerprint: string; labels: LabelSet; silenceIds: string[] }
  | { kind: 'inhibited'; receiver: string; groupKey: string; fingerprint: string; labels: LabelSet; inhibition: Inhibition }
  | { kind: 'time_muted'; receiver: string; groupKey: string; fingerprints: string[]; reason: 'active_time_intervals' | 'mute_time_intervals'; intervals: string[] };

/** How a {@link Dispatcher} is built. */
export interface DispatcherOptions {
  /** The routing tree's root. */
  route: Route;
  clock: Clock;
  /** Called with every notification to send, synchronously, in flush order. Throwing marks the flush failed (resolved alerts kept, nothing logged). */
  onNotify: (notification: Notification) => void;
  /** Called once when an alert becomes silenced or inhibited in a group, or a group's flush becomes time-muted. */
  onMuted?: (decision: MuteDecision) => void;
  /** Called when `onNotify` throws, with the error and the notification. */
  onError?: (error: unknown, notification: Notification) => void;
  /** Settings of a receiver by name; unknown or undefined: the defaults. */
  receiver?: (name: string) => ReceiverSettings | undefined;
  /** Ids of the active silences muting these labels (`Silences.mutes`); none when absent. */
  silencedBy?: (labels: LabelSet) => readonly string[];
  /** The inhibition muting these labels (`Inhibitor.inhibitedBy` over the current alerts); none when absent. */
  inhibitedBy?: (labels: LabelSet) => Inhibition | undefined;
  /** Whether a route is time-muted at an instant: pass `resolver.routeMute.bind(resolver)`; never when absent. */
  timeMuted?: (route: RouteTimeIntervals, at: Date) => RouteTimeMute;
  /** The notification log to dedup against (restore one to survive a restart); a new one when absent. */
  log?: NotificationLog;
  /** At most this many alerts per notification (the rest counted in `truncatedAlerts`); 0: no cap. */
  maxAlerts?: number;
  /**
   * The acknowledgement holding for a firing alert now (`Acknowledgements.active`); none when absent.
   * Listed firing alerts carry it, and a reminder whose firing alerts are all acknowledged is skipped.
   */
  acknowledged?: (alert: Alert) => AcknowledgementView | undefined;
}

/** One aggregation group as the API shows it. */
export interface GroupView {
  routePath: string;
  receiver: string;
  groupKey: string;
  groupLabels: Record<string, string>;
  alerts: Alert[];
}

interface Group {
  readonly route: Route;
  readonly key: string;
  readonly labels: Record<string, string>;
  readonly alerts: Map<string, Alert>;
  timer?: CancelTimer;
  /** Last mute reason per stage and fingerprint (`time` for the whole flush), so a decision is reported when it changes. */
  readonly muted: Map<string, string>;
}

type TimeMuted = Extract<RouteTimeMute, { muted: true }>;

/** Routes alerts into aggregation groups and flushes them; see the module comment. */
export class Dispatcher {
  /** The notification log; snapshot it to persist what was sent. */
  readonly log: NotificationLog;
  private readonly groups = new Map<string, Group>();
  private readonly routeKeys = new Map<Route, string>();

  constructor(private readonly options: DispatcherOptions) {
    this.log = options.log ?? new NotificationLog();
    indexRouteKeys(options.route, undefined, this.routeKeys);
  }

  /**
   * Puts an alert (firing or resolved) into the group of every route it ends at, replacing its
   * previous version there; a pending alert is not routed (Alertmanager never sees it).
   */
  put(alert: Alert): void {
    if (alert.state === 'pending') return;
    const now = this.options.clock.now();
    for (const route of this.options.route.match(alert.labels)) {
      const { key, labels } = this.groupOf(route, alert);
      const id = `${route.path}\u0000${key}`;
      let group = this.groups.get(id);
      if (!group) {
        group = { route, key, labels, alerts: new Map(), muted: new Map() };
        this.groups.set(id, group);
        // Alertmanager flushes at once an alert older than group_wait (e.g. after a restart).
        this.schedule(id, group, alert.startsAt + route.options.groupWaitMs < now ? 0 : route.options.groupWaitMs);
      }
      group.alerts.set(alert.fingerprint, alert);
    }
  }

  /**
   * Sends a one-shot notice (reason `notice`) to every route the alert's labels end at, at once: no
   * group_wait, no aggregation group, no log entry, never a reminder. Inhibition, time muting and
   * silences apply as in a flush, and each muted notice is reported through `onMuted` (a notice has
   * no state to report a change of). Two notices with the same labels are two notifications.
   */
  notice(alert: Alert): void {
    const o = this.options;
    const now = o.clock.now();
    const report = (_key: string, reason: string, decision: () => MuteDecision): boolean => {
      if (reason !== '') o.onMuted?.(decision());
      return reason !== '';
    };
    for (const route of o.route.match(alert.labels)) {
      const { key, labels } = this.groupOf(route, alert);
      if (this.unmuted(route, key, [alert], now, report).length === 0) continue;
      this.send(this.build(route, key, labels, [alert], 'notice', now));
    }
  }

  /**
   * Tells every receiver that was notified of this firing alert (its group's last log entry lists it
   * as firing) that an operator acknowledged it: a notification listing only that alert, with its
   * acknowledgement, reason `acknowledged`; not logged. Not muted: it only updates what the receiver
   * was already told.
   */
  acknowledged(alert: Alert): void {
    if (alert.state !== 'firing') return;
    const now = this.options.clock.now();
    for (const group of this.groups.values()) {
      if (!group.alerts.has(alert.fingerprint)) continue;
      const entry = this.log.query(group.route.options.receiver, group.key, now);
      if (!entry?.firing.includes(alert.fingerprint)) continue;
      this.send(this.build(group.route, group.key, group.labels, [alert], 'acknowledged', now));
    }
  }

  /** The current aggregation groups, for the API and the dry run. */
  list(): GroupView[] {
    return [...this.groups.values()].map((g) => ({ routePath: g.route.path, receiver: g.route.options.receiver, groupKey: g.key, groupLabels: { ...g.labels }, alerts: [...g.alerts.values()] }));
  }

  /** Cancels every group's timer; groups keep their alerts. */
  stop(): void {
    for (const group of this.groups.values()) {
      group.timer?.();
      group.timer = undefined;
    }
  }

  private schedule(id: string, group: Group, ms: number): void {
    group.timer = this.options.clock.setTimeout(() => this.flush(id, group), ms);
  }

  private flush(id: string, group: Group): void {
    const { route } = group;
    // As Alertmanager: the next tick is set before this flush runs.
    this.schedule(id, group, route.options.groupIntervalMs);
    const now = this.options.clock.now();
    const snapshot = [...group.alerts.values()];
    if (this.notify(group, snapshot, now)) {
      for (const alert of snapshot) if (alert.state === 'resolved' && group.alerts.get(alert.fingerprint) === alert) group.alerts.delete(alert.fingerprint);
      for (const key of group.muted.keys()) {
        const fp = key.slice(key.indexOf(':') + 1);
        if (key !== 'time' && !group.alerts.has(fp)) group.muted.delete(key);
      }
      if (group.alerts.size === 0) {
        group.timer?.();
        this.groups.delete(id);
      }
    }
  }

  /** The notification pipeline for one flush; false when sending failed. */
  private notify(group: Group, all: Alert[], now: number): boolean {
    const { receiver, repeatIntervalMs } = group.route.options;
    const o = this.options;
    const report = (key: string, reason: string, decision: () => MuteDecision): boolean => {
      if ((group.muted.get(key) ?? '') !== reason) {
        group.muted.set(key, reason);
        if (reason !== '') o.onMuted?.(decision());
      }
      return reason !== '';
    };
    const alerts = this.unmuted(group.route, group.key, all, now, report);
    if (alerts.length === 0) return true;

    const firing = alerts.filter((a) => a.state !== 'resolved');
    const resolved = alerts.filter((a) => a.state === 'resolved');
    const sendResolved = o.receiver?.(receiver)?.sendResolved ?? true;
    const entry = this.log.query(receiver, group.key, now);
    const reason = needsUpdate(entry, new Set(firing.map((a) => a.fingerprint)), new Set(resolved.map((a) => a.fingerprint)), sendResolved, repeatIntervalMs, now);
    if (reason === undefined) return true;
    if (reason === 'repeat_interval_elapsed' && o.acknowledged && firing.every((a) => o.acknowledged?.(a) !== undefined)) {
      // Not logged, so the first flush after the acknowledgement lapses (or the group changes)
      // reminds or notifies as Alertmanager would. But the entry must outlive the acknowledgement:
      // expired, it would make the next flush a first notification. Kept with its own timestamp,
      // it expires as if it had been written now (at most the log's retention after it was).
      const { expiresAt: _, ...kept } = entry as NotificationLogEntry;
      this.log.log(kept, repeatIntervalMs + (now - kept.timestamp) / 2);
      return true;
    }
    const record = (): void => this.log.log({ receiver, groupKey: group.key, timestamp: now, firing: firing.map((a) => a.fingerprint), resolved: resolved.map((a) => a.fingerprint) }, repeatIntervalMs);
    // Without send_resolved, an all-resolved group is recorded as notified without a message (notify/retry_stage.go).
    if (!sendResolved && firing.length === 0) {
      record();
      return true;
    }
    if (!this.send(this.build(group.route, group.key, group.labels, sendResolved ? alerts : firing, reason, now))) return false;
    record();
    return true;
  }

  /**
   * Alertmanager's muting stages in order: inhibited alerts out, everything held while the route is
   * time-muted, silenced alerts out. `report` is told every decision (reason '' when not muted) and
   * answers whether the alert (or, for key `time`, the whole lot) is muted.
   */
  private unmuted(route: Route, groupKey: string, all: Alert[], now: number, report: (key: string, reason: string, decision: () => MuteDecision) => boolean): Alert[] {
    const { receiver } = route.options;
    const o = this.options;
    const alerts = all.filter((a) => {
      const inhibition = o.inhibitedBy?.(a.labels);
      const reason = inhibition ? `inhibited:${inhibition.rule}:${inhibition.sourceId}` : '';
      return !report(`inhibited:${a.fingerprint}`, reason, () => ({ kind: 'inhibited', receiver, groupKey, fingerprint: a.fingerprint, labels: a.labels, inhibition: inhibition as Inhibition }));
    });
    if (alerts.length === 0) return [];
    const mute = o.timeMuted?.(route.options, new Date(now)) ?? { muted: false };
    const muteReason = mute.muted ? `${mute.reason}:${mute.by.join(',')}` : '';
    const fingerprints = alerts.map((a) => a.fingerprint);
    if (report('time', muteReason, () => ({ kind: 'time_muted', receiver, groupKey, fingerprints, reason: (mute as TimeMuted).reason, intervals: (mute as TimeMuted).by }))) return [];
    return alerts.filter((a) => {
      const ids = [...(o.silencedBy?.(a.labels) ?? [])];
      const reason = ids.length > 0 ? `silenced:${ids.join(',')}` : '';
      return !report(`silenced:${a.fingerprint}`, reason, () => ({ kind: 'silenced', receiver, groupKey, fingerprint: a.fingerprint, labels: a.labels, silenceIds: ids }));
    });
  }

  /** Hands a notification to `onNotify`; false (and `onError` told) when it throws. */
  private send(notification: Notification): boolean {
    try {
      this.options.onNotify(notification);
      return true;
    } catch (error) {
      this.options.onError?.(error, notification);
      return false;
    }
  }

  /** The group key and group labels of an alert on a route. */
  private groupOf(route: Route, alert: Alert): { key: string; labels: Record<string, string> } {
    const labels = groupLabels(alert.labels, route.options);
    return { key: `${this.routeKeys.get(route) as string}:${labelSetString(labels)}`, labels };
  }

  private build(route: Route, groupKey: string, labels: Record<string, string>, alerts: Alert[], reason: NotifyReason, now: number): Notification {
    const sorted = [...alerts].sort(alertOrder);
    const cap = this.options.maxAlerts ?? 0;
    const listed = cap > 0 ? sorted.slice(0, cap) : sorted;
    return {
      receiver: route.options.receiver,
      groupKey,
      groupLabels: { ...labels },
      commonLabels: common(listed.map((a) => a.labels)),
      commonAnnotations: common(listed.map((a) => a.annotations)),
      status: sorted.some((a) => a.state !== 'resolved') ? 'firing' : 'resolved',
      alerts: listed.map((a) => this.toNotificationAlert(a)),
      truncatedAlerts: sorted.length - listed.length,
      reminder: reason === 'repeat_interval_elapsed',
      reason,
      timestamp: new Date(now).toISOString(),
    };
  }

  private toNotificationAlert(alert: Alert): NotificationAlert {
    const resolved = alert.state === 'resolved';
    const acknowledgement = resolved ? undefined : this.options.acknowledged?.(alert);
    return {
      status: resolved ? 'resolved' : 'firing',
      labels: { ...alert.labels },
      annotations: { ...alert.annotations },
      startsAt: new Date(alert.startsAt).toISOString(),
      ...(resolved && { endsAt: new Date(alert.endsAt ?? alert.updatedAt).toISOString() }),
      fingerprint: alert.fingerprint,
      ...(alert.generatorURL !== undefined && { generatorURL: alert.generatorURL }),
      ...(acknowledgement !== undefined && { acknowledgement }),
    };
  }
}

/**
 * Alertmanager's `DedupStage.needsUpdate`: why this flush must notify given the last log entry of
 * the group, or undefined when it must not.
 */
export function needsUpdate(
  entry: Pick<NotificationLogEntry, 'firing' | 'resolved' | 'timestamp'> | undefined,
  firing: ReadonlySet<string>,
  resolved: ReadonlySet<string>,
  sendResolved: boolean,
  repeatIntervalMs: number,
  now: number,
): NotifyReason | undefined {
  if (entry === undefined) return firing.size > 0 ? 'first_notification' : undefined;
  if (!isSubset(firing, entry.firing)) return entry.firing.length === 0 ? 'first_notification' : 'new_alerts_in_group';
  // All resolved: notified whatever send_resolved says, so the log forgets the firing alerts.
  if (firing.size === 0) return entry.firing.length > 0 ? 'all_alerts_resolved' : undefined;
  if (sendResolved && !isSubset(resolved, entry.resolved)) return 'new_resolved_alerts';
  return entry.timestamp < now - repeatIntervalMs ? 'repeat_interval_elapsed' : undefined;
}

function isSubset(subset: ReadonlySet<string>, of: readonly string[]): boolean {
  const set = new Set(of);
  for (const item of subset) if (!set.has(item)) return false;
  return true;
}

/** Alertmanager's `Route.Key()` of every route: the parent's key, `/`, the route's matchers as `{a="b",c=~"d"}`. */
function indexRouteKeys(route: Route, parentKey: string | undefined, keys: Map<Route, string>): void {
  const key = `${parentKey === undefined ? '' : `${parentKey}/`}{${route.matchers.map(String).join(',')}}`;
  keys.set(route, key);
  for (const child of route.routes) indexRouteKeys(child, key, keys);
}

/** Prometheus' `LabelSet.String()`: `{a="x", b="y"}`, names in byte order, values quoted as Go's %q. */
export function labelSetString(labels: Readonly<Record<string, string>>): string {
  const names = Object.keys(labels).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return `{${names.map((n) => `${n}=${goQuote(labels[n])}`).join(', ')}}`;
}

const GO_ESCAPES: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '"': '\\"', '\\': '\\\\' };

/** Go's strconv.Quote for the characters label values hold (control characters as \xNN). */
function goQuote(value: string): string {
  // eslint-disable-next-line no-control-regex
  const body = value.replace(/[\x00-\x1f\x7f"\\]/g, (c) => GO_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `"${body}"`;
}

/** Alertmanager's `AlertSlice` order: by `job`, then `instance` (an alert with the label first), then `LabelSet.Before`. */
export function alertOrder(a: Pick<Alert, 'labels'>, b: Pick<Alert, 'labels'>): number {
  for (const name of ['job', 'instance']) {
    const x = a.labels[name];
    const y = b.labels[name];
    if (x === undefined && y === undefined) continue;
    if (x === undefined) return 1;
    if (y === undefined) return -1;
    if (x !== y) return x < y ? -1 : 1;
  }
  return labelSetBefore(a.labels, b.labels) ? -1 : labelSetBefore(b.labels, a.labels) ? 1 : 0;
}

/** Prometheus' `LabelSet.Before`: fewer labels first, then the first differing name or value in name order. */
function labelSetBefore(a: LabelSet, b: LabelSet): boolean {
  const an = Object.keys(a);
  const bn = Object.keys(b);
  if (an.length !== bn.length) return an.length < bn.length;
  for (const name of [...an, ...bn].sort()) {
    if (!Object.hasOwn(a, name)) return true;
    if (!Object.hasOwn(b, name)) return false;
    if (a[name] !== b[name]) return a[name] < b[name];
  }
  return false;
}

function common(sets: readonly Readonly<Record<string, string>>[]): Record<string, string> {
  if (sets.length === 0) return {};
  return Object.fromEntries(Object.entries(sets[0]).filter(([name, value]) => sets.every((s) => s[name] === value)));
}
