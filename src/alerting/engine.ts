import { randomUUID } from 'node:crypto';
import type { Bus, Unsubscribe } from '../bus/bus';
import type { CancelTimer, Clock } from '../core/clock';
import { AgentError, errorMessage } from '../core/errors';
import type { Logger } from '../core/logger';
import { redactText } from '../core/redact';
import type { Event, EventInputMap, EventType } from '../events/types';
import { Acknowledgements, acknowledgementView, isAcknowledgement, plainAck, type Acknowledgement } from './acks';
import type { AcknowledgementInput, AlertingApi, AlertView, GroupAlertsView, SilenceView, TestDeliveryResult } from './alerting-api';
import { fingerprint } from './fingerprint';
import { AlertTable, storedAlertProblem, type Alert, type AlertDecision, type PostableAlert } from './alerts';
import type { AlertingSection, AlertmanagerConfig } from './config';
import { DEAD_LETTER_CODES, Delivery, type AttemptReport, type SinkCounters, type SinkSettings } from './delivery';
import { MemoryOutboxStore, type OutboxRow, type OutboxStore } from './outbox-store';
import { Dispatcher, type MuteDecision } from './dispatcher';
import { Inhibitor, type InhibitAlert } from './inhibit';
import { isLogEntry, NotificationLog, type ConfigChange, type Notification, type NotificationLogEntry } from './notification';
import type { Notifier } from './notifier';
import { Route } from './route';
import { AlertRules, DEFAULT_RULES } from './rules';
import { AlertingState, mergeWinner, type AlertingReplica, type AlertingStateChange, type AlertingStateKind, type MergeReport, type RemoteAlertingItem } from './replica';
import { Silences, silenceState, storedSilence, type PostableSilence, type SetResult, type Silence, type SilenceQuery } from './silences';
import type { AlertingStateStore } from './state-store';
import { TimeIntervalResolver } from './time-intervals';

/**
 * The alerting engine: the agent's events become alerts (the rules and the alert table), alerts are
 * routed, grouped, inhibited, silenced and deduplicated (the dispatcher, Alertmanager's semantics),
 * and each notification goes to the sinks of its receiver (delivery). Every decision is published
 * as an event; the state (alerts, notification log, silences, acknowledgements) is kept in the
 * agent's SQLite store when it has one, so a restart neither repeats nor forgets a notification.
 *
 * It never awaits its own publications while handling an event: it is itself a subscriber, and a
 * full queue under `overflow: block` would otherwise wait on itself.
 */

/** Events the engine publishes about itself: never made into alerts, or it would alert on its own decisions. */
const OWN_EVENT = /^(alert|silence)\./;

/** How often acknowledgements and expired silences are swept (Alertmanager's maintenance interval is 15 min). */
const MAINTENANCE_INTERVAL_MS = 15 * 60_000;

/** How often at most a replica is told of new occurrences of an alert whose state did not change. */
const REPLICATE_OCCURRENCES_MS = 1_000;

export interface AlertingEngineOptions {
  /** The validated `alerting:` section (rules, labels, recent_changes_window). */
  section: AlertingSection;
  /** The Alertmanager configuration in effect (inline or from config_file). */
  config: AlertmanagerConfig;
  /** That configuration as YAML in Alertmanager's own format, secrets masked (`GET /api/v2/status`). */
  configText: string;
  bus: Bus;
  clock: Clock;
  logger: Logger;
  /** The sink plugin instance of that name, when it is running and implements the notifier contract. */
  notifier: (sink: string) => Notifier | undefined;
  /** A sink's delivery settings (its plugin's defaults, then its entry's `delivery:`). */
  sinkSettings: (sink: string) => SinkSettings;
  /** How often changed alerts are written to `state` (the store's commit_interval). */
  persistIntervalMs?: number;
  /** Agent name: source of the engine's events. */
  source: string;
  /** This agent's fleet id (`fleetAgentId`): the `agent` label of alerts made from its own events; default `source`. */
  agentId?: string;
}

/** See the module comment. */
export class AlertingEngine implements AlertingApi {
  readonly config: AlertmanagerConfig;
  readonly configText: string;
  startedAt = 0;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly route: Route;
  private readonly table: AlertTable;
  private readonly silencesStore: Silences;
  private readonly acks: Acknowledgements;
  private readonly inhibitor: Inhibitor;
  private readonly dispatcher: Dispatcher;
  private delivery!: Delivery;
  private readonly sinksOf: ReadonlyMap<string, readonly string[]>;
  private readonly recentChanges: ConfigChange[] = [];
  private readonly recentChangesWindowMs: number;
  private unsubscribe: Unsubscribe[] = [];
  /** Where the state is kept (the agent's SQLite store); in memory only when absent. */
  private state?: AlertingStateStore;
  private persistTimer?: CancelTimer;
  private maintenanceTimer?: CancelTimer;
  /** Fingerprints written to the state store, and when each was last updated there. */
  private readonly persisted = new Map<string, number>();
  /** Notification log entries written to the state store, by receiver and group, with their expiry. */
  private readonly persistedLog = new Map<string, { receiver: string; groupKey: string; expiresAt: number }>();
  private inhibitSources?: InhibitAlert[];
  /** Test notifications waiting for their deliveries to end, by delivery id. */
  private readonly testWaiters = new Map<number, (report: AttemptReport) => void>();
  /** A state or outbox write failed and none succeeded since (reported once per episode). */
  private writeFailing = false;
  private readonly counts = { notifications: 0, notices: 0, muted: 0, state_write_failures: 0 };
  private readonly notificationsByReceiver = new Map<string, number>();
  /** The plugin replicating the state to other agents, when one is attached (see ./replica). */
  private replica?: AlertingReplica;
  /** Alerts the replica was told of: the state told, its updatedAt, and when it was told. */
  private readonly replicated = new Map<string, Replicated>();
  private persistScheduled = false;

  constructor(private readonly options: AlertingEngineOptions) {
    const { section, config, clock } = options;
    this.config = config;
    this.configText = options.configText;
    this.clock = clock;
    this.logger = options.logger;
    this.recentChangesWindowMs = section.recent_changes_window;
    this.route = new Route(config.route ?? { receiver: '', continue: false });
    this.sinksOf = new Map(config.receivers.map((r) => [r.name, r.sinks]));
    const resolveTimeoutMs = config.global?.resolve_timeout;
    this.table = new AlertTable({
      clock,
      rules: new AlertRules(section, options.agentId ?? options.source),
      onDecision: (decision) => this.decided(decision),
      ...(resolveTimeoutMs !== undefined && { resolveTimeoutMs }),
    });
    this.silencesStore = new Silences(clock);
    this.acks = new Acknowledgements(clock);
    this.inhibitor = new Inhibitor(config.inhibit_rules);
    const intervals = new TimeIntervalResolver([...config.time_intervals, ...config.mute_time_intervals]);
    const log = new PersistedNotificationLog((entry) => this.saveLogEntry(entry));
    this.dispatcher = new Dispatcher({
      route: this.route,
      clock,
      log,
      onNotify: (notification) => this.notify(notification),
      onMuted: (decision) => this.muted(decision),
      onError: (error, notification) => this.logger.error({ err: error, receiver: notification.receiver, group: notification.groupKey }, `alerting: could not hand a notification to delivery: ${errorMessage(error)}`),
      silencedBy: (labels) => this.silencesStore.mutes(labels),
      inhibitedBy: (labels) => this.inhibitor.inhibitedBy(labels, this.sources()),
      timeMuted: intervals.routeMute.bind(intervals),
      acknowledged: (alert) => {
        const ack = this.acks.active(alert);
        return ack && acknowledgementView(ack);
      },
    });
  }

  /**
   * Restores the persisted state (alerts that ended meanwhile resolve now, groups are rebuilt and
   * flushed as Alertmanager does after a restart) and subscribes to the events the rules take.
   */
  start(persistence?: { state: AlertingStateStore; outbox: OutboxStore }): void {
    this.state = persistence?.state;
    this.delivery = new Delivery({
      clock: this.clock,
      store: persistence?.outbox ?? new MemoryOutboxStore(),
      notifier: this.options.notifier,
      settings: this.options.sinkSettings,
      onAttempt: (report) => this.attempted(report),
      onStoreError: (error) => this.reportWriteFailure(error),
    });
    this.startedAt = this.clock.now();
    this.restore();
    const patterns = new Set<string>(['config.changed', 'service.status']);
    for (const rule of [...this.options.section.rules, ...(this.options.section.default_rules ? DEFAULT_RULES : [])]) patterns.add(rule.event);
    const subscription = { name: 'alerting', errorThreshold: 0 } as const;
    for (const pattern of patterns) {
      this.unsubscribe.push(this.options.bus.subscribe(pattern as EventType, (event) => this.handle(event as Event), subscription));
    }
    this.schedulePersist();
    this.scheduleMaintenance();
  }

  /** Starts sending: what was pending in the outbox first, in order. Call once the sink plugins run. */
  startDelivery(): void {
    this.delivery.start();
  }

  /** Unsubscribes, stops every timer, writes what changed; answers how many deliveries are still pending. */
  stop(): number {
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    this.table.stop();
    this.dispatcher.stop();
    this.persistTimer?.();
    this.persistScheduled = false;
    this.maintenanceTimer?.();
    this.persistAlerts();
    const pending = this.delivery?.stop() ?? 0;
    if (pending > 0) {
      const where = this.state ? 'they stay in the outbox and are resumed at the next start' : 'the store is disabled, so they are lost';
      this.logger.warn({ deliveries: pending }, `alerting: ${pending} deliveries were still pending when the agent stopped; ${where}`);
    }
    return pending;
  }

  // ---- AlertingApi ------------------------------------------------------------------------------

  alerts(): AlertView[] {
    return this.table.list().map((alert) => this.view(alert));
  }

  postAlerts(alerts: readonly PostableAlert[]): { errors: AgentError[] } {
    return { errors: this.table.post(alerts).errors };
  }

  groups(): GroupAlertsView[] {
    return this.dispatcher.list().map((group) => ({ ...group, alerts: group.alerts.map((alert) => this.view(alert)) }));
  }

  silences(query?: SilenceQuery): SilenceView[] {
    const now = this.clock.now();
    return this.silencesStore.query(query).map((s) => ({ ...s, state: silenceState(s, now) }));
  }

  silence(id: string): SilenceView | undefined {
    return this.silences({ ids: [id] })[0];
  }

  setSilence(input: PostableSilence): SetResult {
    const result = this.silencesStore.set(input);
    const silence = this.silencesStore.get(result.id) as Silence;
    this.saveSilence(silence, true);
    if (result.replaced) {
      const replaced = this.silencesStore.get(result.replaced);
      if (replaced) this.saveSilence(replaced, true);
    }
    this.publish(result.created ? 'silence.created' : 'silence.updated', { ...silenceData(silence), ...(result.created && result.replaced ? { replaced: result.replaced } : {}) });
    return result;
  }

  expireSilence(id: string): void {
    this.silencesStore.expire(id);
    const silence = this.silencesStore.get(id) as Silence;
    this.saveSilence(silence, true);
    this.publish('silence.expired', silenceData(silence));
  }

  acknowledge(fingerprint: string, input: AcknowledgementInput): AlertView {
    const alert = this.table.get(fingerprint);
    if (!alert) throw new AgentError('ALERT_NOT_FOUND', `no alert with fingerprint ${fingerprint}`, { fingerprint });
    const ack = this.acks.acknowledge(alert, input);
    this.write(() => this.state?.saveAck(ack));
    if (this.replica) this.tell({ kind: 'ack', key: ack.fingerprint, value: ack });
    this.publish('alert.acknowledged', {
      fingerprint,
      alertname: alert.labels.alertname ?? '',
      labels: { ...alert.labels },
      by: ack.by,
      comment: ack.comment,
      ...(ack.expiresAt !== undefined && { expires_at: new Date(ack.expiresAt).toISOString() }),
    });
    this.dispatcher.acknowledged(alert);
    return this.view(alert);
  }

  receivers(): string[] {
    return this.config.receivers.map((r) => r.name);
  }

  async sendTest(receiver: string, waitMs: number): Promise<TestDeliveryResult[]> {
    if (!this.sinksOf.has(receiver)) {
      throw new AgentError('RECEIVER_NOT_FOUND', `no receiver "${receiver}" (receivers: ${this.receivers().join(', ') || 'none'})`, { receiver });
    }
    const now = new Date(this.clock.now()).toISOString();
    const labels = { alertname: 'PraxisAgentTest', severity: 'info', receiver };
    const annotations = { summary: `Test notification from ${this.options.source} for receiver ${receiver}`, description: 'Sent by praxis-agent alert test: nothing is wrong. If you read this, the receiver delivers.' };
    const notification: Notification = {
      receiver,
      groupKey: `{}/test:{receiver=${JSON.stringify(receiver)}}`,
      groupLabels: { alertname: labels.alertname },
      commonLabels: labels,
      commonAnnotations: annotations,
      status: 'firing',
      alerts: [{ status: 'firing', labels, annotations, startsAt: now, fingerprint: fingerprint(labels) }],
      truncatedAlerts: 0,
      reminder: false,
      reason: 'test',
      timestamp: now,
    };
    const rows = this.notify(notification);
    const ended = rows.map(
      (row) =>
        new Promise<TestDeliveryResult>((resolve) => {
          const timer = this.clock.setTimeout(() => {
            this.testWaiters.delete(row.id);
            const current = this.delivery.list('pending').find((r) => r.id === row.id);
            resolve({ sink: row.sink, delivery_id: row.id, outcome: 'pending', attempts: current?.attempts ?? 0, ...(current?.lastReason !== undefined && { reason: current.lastReason }) });
          }, waitMs);
          this.testWaiters.set(row.id, (report) => {
            timer();
            resolve({ sink: row.sink, delivery_id: row.id, outcome: report.outcome as TestDeliveryResult['outcome'], attempts: report.attempt, ...(report.reason !== undefined && { reason: redactText(report.reason) }) });
          });
        }),
    );
    return Promise.all(ended);
  }

  deliveries(state: OutboxRow['state'], limit?: number): OutboxRow[] {
    return this.delivery.list(state, limit);
  }

  retryDelivery(id: number): OutboxRow {
    return this.delivery.retry(id);
  }

  /** For /stats and /metrics: alerts by state, notifications by receiver, deliveries by sink, silences by state. */
  stats(): Record<string, unknown> {
    const alerts = { pending: 0, firing: 0, resolved: 0 };
    for (const alert of this.table.list()) alerts[alert.state]++;
    const silences = this.silencesStore.count();
    const deliveries = this.delivery?.stats() ?? {};
    const total = (key: keyof SinkCounters): number => Object.values(deliveries).reduce((sum, c) => sum + c[key], 0);
    return {
      alerts_pending: alerts.pending,
      alerts_firing: alerts.firing,
      alerts_resolved: alerts.resolved,
      silences_active: silences.active,
      silences_pending: silences.pending,
      silences_expired: silences.expired,
      acknowledgements: this.acks.list().length,
      groups: this.dispatcher.list().length,
      notifications: this.counts.notifications,
      notices: this.counts.notices,
      muted: this.counts.muted,
      deliveries_pending: total('pending'),
      deliveries_attempts: total('attempts'),
      deliveries_delivered: total('delivered'),
      deliveries_retried: total('retried'),
      deliveries_dead_lettered: total('dead_lettered'),
      state_write_failures: this.counts.state_write_failures,
      notifications_by_receiver: Object.fromEntries(this.notificationsByReceiver),
      deliveries_by_sink: deliveries,
    };
  }

  // ---- events in --------------------------------------------------------------------------------

  private handle(event: Event): void {
    if (OWN_EVENT.test(event.type)) return;
    if (event.type === 'config.changed') this.rememberChange(event as Event<'config.changed'>);
    this.table.ingest(event);
  }

  private rememberChange(event: Event<'config.changed'>): void {
    const { config_path, old_value, new_value, changed_by, change_reason } = event.data;
    this.recentChanges.push({ at: event.metadata.timestamp, config_path, old_value, new_value, ...(changed_by !== undefined && { changed_by }), ...(change_reason !== undefined && { change_reason }) });
    this.pruneChanges();
  }

  private pruneChanges(): void {
    const since = this.clock.now() - this.recentChangesWindowMs;
    while (this.recentChanges.length > 0 && Date.parse(this.recentChanges[0].at) < since) this.recentChanges.shift();
  }

  // ---- decisions --------------------------------------------------------------------------------

  private decided({ kind, alert }: AlertDecision): void {
    this.inhibitSources = undefined;
    const base = { fingerprint: alert.fingerprint, alertname: alert.labels.alertname ?? '', labels: { ...alert.labels } };
    const startsAt = new Date(alert.startsAt).toISOString();
    switch (kind) {
      case 'pending':
        this.publish('alert.pending', { ...base, annotations: { ...alert.annotations }, starts_at: startsAt, ...(alert.rule !== undefined && { rule: alert.rule }), occurrences: alert.occurrences });
        break;
      case 'firing':
        this.publish('alert.firing', { ...base, annotations: { ...alert.annotations }, starts_at: startsAt, origin: alert.origin, ...(alert.rule !== undefined && { rule: alert.rule }), occurrences: alert.occurrences });
        this.dispatcher.put(alert);
        break;
      case 'resolved':
        this.publish('alert.resolved', {
          ...base,
          starts_at: startsAt,
          ends_at: new Date(alert.endsAt ?? alert.updatedAt).toISOString(),
          origin: alert.origin,
          resolved_by: alert.origin === 'external' ? (alert.timeout ? 'resolve_timeout' : 'ends_at') : alert.timeout && (alert.endsAt ?? 0) <= alert.updatedAt ? 'resolve_timeout' : 'recovery',
        });
        this.dispatcher.put(alert);
        break;
      case 'notice':
        this.counts.notices++;
        this.dispatcher.notice(alert);
        break;
      case 'dropped':
        break;
    }
  }

  private notify(notification: Notification): OutboxRow[] {
    this.pruneChanges();
    const sinks = this.sinksOf.get(notification.receiver) ?? [];
    const full: Notification = { ...notification, recentChanges: this.recentChanges.map((c) => ({ ...c })) };
    const id = randomUUID();
    this.counts.notifications++;
    this.notificationsByReceiver.set(notification.receiver, (this.notificationsByReceiver.get(notification.receiver) ?? 0) + 1);
    this.publish('alert.notified', {
      notification_id: id,
      receiver: notification.receiver,
      sinks: [...sinks],
      group: notification.groupKey,
      group_labels: { ...notification.groupLabels },
      status: notification.status,
      reason: notification.reason,
      reminder: notification.reminder,
      fingerprints: notification.alerts.map((a) => a.fingerprint),
      alerts: notification.alerts.length + notification.truncatedAlerts,
      truncated_alerts: notification.truncatedAlerts,
    });
    return this.delivery.enqueue(id, full, sinks);
  }

  private muted(decision: MuteDecision): void {
    this.counts.muted++;
    if (decision.kind === 'time_muted') {
      this.publish('alert.muted', { receiver: decision.receiver, group: decision.groupKey, fingerprints: decision.fingerprints, reason: decision.reason, intervals: decision.intervals });
      return;
    }
    const base = { fingerprint: decision.fingerprint, alertname: decision.labels.alertname ?? '', labels: { ...decision.labels }, receiver: decision.receiver, group: decision.groupKey };
    if (decision.kind === 'silenced') this.publish('alert.silenced', { ...base, silence_ids: decision.silenceIds });
    else this.publish('alert.inhibited', { ...base, inhibit_rule: decision.inhibition.rule, source_fingerprint: decision.inhibition.sourceId });
  }

  private attempted(report: AttemptReport): void {
    const { delivery } = report;
    if (report.outcome !== 'retry') {
      this.testWaiters.get(delivery.id)?.(report);
      this.testWaiters.delete(delivery.id);
    }
    const reason = report.reason === undefined ? undefined : redactText(report.reason);
    this.publish('alert.delivery', {
      notification_id: delivery.notificationId,
      delivery_id: delivery.id,
      receiver: delivery.receiver,
      sink: delivery.sink,
      group: delivery.notification.groupKey,
      attempt: report.attempt,
      outcome: report.outcome,
      ...(reason !== undefined && { reason }),
      ...(report.retryInMs !== undefined && { retry_in_ms: report.retryInMs }),
    });
    if (report.outcome !== 'permanent' && report.outcome !== 'expired') return;
    const why = report.outcome === 'permanent' ? 'was rejected' : `was still failing after ${report.attempt} attempts when it expired`;
    // Tagged with the sink, so that the alert it becomes never goes to that sink (see Delivery).
    this.publish(
      'system.error',
      {
        severity: 'error',
        message: `notification to receiver ${delivery.receiver} through sink ${delivery.sink} ${why}: ${reason ?? 'no reason given'} (delivery ${delivery.id}; praxis-agent alert retry ${delivery.id})`,
        error_code: report.outcome === 'permanent' ? DEAD_LETTER_CODES.rejected : DEAD_LETTER_CODES.expired,
        component: 'alerting',
        diagnostic_data: { receiver: delivery.receiver, sink: delivery.sink, group: delivery.notification.groupKey, notification_id: delivery.notificationId, delivery_id: delivery.id, attempts: report.attempt },
      },
      [`sink=${delivery.sink}`, `receiver=${delivery.receiver}`],
    );
  }

  // ---- views ------------------------------------------------------------------------------------

  private view(alert: Alert): AlertView {
    const inhibition = alert.state === 'firing' ? this.inhibitor.inhibitedBy(alert.labels, this.sources()) : undefined;
    const ack = this.acks.active(alert);
    return {
      alert,
      receivers: [...new Set(this.route.match(alert.labels).map((r) => r.options.receiver))],
      silencedBy: alert.state === 'firing' ? this.silencesStore.mutes(alert.labels) : [],
      inhibitedBy: inhibition ? [inhibition.sourceId] : [],
      ...(ack && { acknowledgement: acknowledgementView(ack) }),
    };
  }

  /** The alerts that can inhibit others (cached until the next decision). */
  private sources(): InhibitAlert[] {
    this.inhibitSources ??= this.table.list().filter((a) => a.state === 'firing').map((a) => ({ id: a.fingerprint, labels: a.labels, resolved: false }));
    return this.inhibitSources;
  }

  // ---- replication (./replica) --------------------------------------------------------------------

  /** The seam a replicating plugin injects (ALERTING_STATE), bound to this engine. */
  replication(): AlertingState {
    return new EngineAlertingState(this);
  }

  /** See {@link AlertingState.attach}. */
  attachReplica(replica: AlertingReplica): () => void {
    this.replica = replica;
    // What the table holds now is in the snapshot the replica compares on connecting: only later changes are told.
    this.replicated.clear();
    const now = this.clock.now();
    for (const a of this.table.list()) this.replicated.set(a.fingerprint, { state: a.state, updatedAt: a.updatedAt, at: now });
    if (!this.persistScheduled && this.startedAt > 0) this.schedulePersist();
    return () => {
      if (this.replica === replica) this.replica = undefined;
    };
  }

  /** See {@link AlertingState.snapshot}. */
  replicaSnapshot(kinds: readonly AlertingStateKind[]): AlertingStateChange[] {
    const out: AlertingStateChange[] = [];
    const now = this.clock.now();
    if (kinds.includes('silence')) for (const s of this.silencesStore.query()) out.push({ kind: 'silence', key: s.id, value: s });
    if (kinds.includes('ack')) for (const a of this.acks.list()) out.push({ kind: 'ack', key: a.fingerprint, value: a });
    if (kinds.includes('nflog')) for (const e of this.dispatcher.log.snapshot(now).entries) out.push({ kind: 'nflog', key: logKey(e), value: e });
    if (kinds.includes('alert')) for (const a of this.table.list()) out.push({ kind: 'alert', key: a.fingerprint, value: structuredClone(a) });
    return out;
  }

  /** See {@link AlertingState.merge}. */
  mergeRemote(items: readonly RemoteAlertingItem[]): MergeReport {
    const report: MergeReport = { applied: 0, unchanged: 0, localNewer: [], invalid: [] };
    const alerts = new Map<string, Alert>();
    const forgotten = new Set<string>();
    for (const item of items) {
      try {
        if (item.kind === 'forget') {
          const local = item.item === 'alert' ? this.table.get(item.key) : undefined;
          if (local && local.updatedAt <= item.at) forgotten.add(item.key);
          continue;
        }
        const value = checkRemote(item.kind, item.key, item.value);
        const local = this.localItem(item.kind, item.key);
        const winner = mergeWinner(item.kind, local, value);
        if (winner === 'same') report.unchanged++;
        else if (winner === 'local') report.localNewer.push({ kind: item.kind, key: item.key, value: local } as AlertingStateChange);
        else {
          report.applied++;
          this.applyRemote({ kind: item.kind, key: item.key, value } as AlertingStateChange, alerts);
          forgotten.delete(item.key);
        }
      } catch (error) {
        report.invalid.push({ kind: item.kind === 'forget' ? `forget ${item.item}` : item.kind, key: item.key, error: errorMessage(error) });
      }
    }
    for (const fp of forgotten) {
      this.table.forget(fp);
      this.replicated.delete(fp);
    }
    if (alerts.size > 0 || forgotten.size > 0) this.inhibitSources = undefined;
    if (alerts.size > 0) {
      // As after a restore: decisions due now are made (and published); the other merged alerts go
      // into their groups, whose flush is deduplicated against the (merged) notification log.
      const changed = new Set(this.table.merge([...alerts.values()]).map((d) => d.alert.fingerprint));
      for (const fp of alerts.keys()) {
        const alert = this.table.get(fp);
        if (!alert) continue;
        this.replicated.set(fp, { state: alert.state, updatedAt: alert.updatedAt, at: this.clock.now() });
        if (!changed.has(fp)) this.dispatcher.put(alert);
      }
    }
    return report;
  }

  private localItem(kind: AlertingStateKind, key: string): unknown {
    switch (kind) {
      case 'silence':
        return this.silencesStore.get(key);
      case 'ack':
        return this.acks.get(key);
      case 'nflog': {
        const [receiver, groupKey] = splitLogKey(key);
        return this.dispatcher.log.get(receiver, groupKey);
      }
      case 'alert':
        return this.table.get(key);
    }
  }

  /** Takes a remote item that won (saved in the store as a local change is); alerts are collected and merged together. */
  private applyRemote(change: AlertingStateChange, alerts: Map<string, Alert>): void {
    switch (change.kind) {
      case 'silence':
        this.silencesStore.put(change.value);
        this.saveSilence(change.value);
        break;
      case 'ack':
        this.acks.put(change.value);
        this.write(() => this.state?.saveAck(change.value));
        break;
      case 'nflog':
        this.dispatcher.log.put(change.value);
        if (this.write(() => this.state?.saveNotificationLog([change.value], []))) this.rememberLogEntry(change.value);
        break;
      case 'alert':
        alerts.set(change.key, change.value);
        break;
      case 'forget':
        break;
    }
  }

  /** Tells the replica of a local change; a replica that throws is logged, never fails the engine. */
  private tell(change: AlertingStateChange): void {
    try {
      this.replica?.changed(change);
    } catch (error) {
      this.logger.error({ err: error, kind: change.kind, key: change.key }, `alerting: the state replica failed on a change: ${errorMessage(error)}`);
    }
  }

  /**
   * Tells the replica of the alerts changed (or forgotten) since the last call: a new state at
   * once, a new occurrence of an alert in the same state at most every REPLICATE_OCCURRENCES_MS
   * (an alert hit by a thousand events a second is one write a second, not a thousand; what the
   * next holder misses is an occurrence count and an end moved by less than that).
   */
  private replicateAlerts(): void {
    const seen = new Set<string>();
    const now = this.clock.now();
    for (const alert of this.table.list()) {
      seen.add(alert.fingerprint);
      const told = this.replicated.get(alert.fingerprint);
      if (told && told.state === alert.state && (told.updatedAt === alert.updatedAt || now - told.at < REPLICATE_OCCURRENCES_MS)) continue;
      this.replicated.set(alert.fingerprint, { state: alert.state, updatedAt: alert.updatedAt, at: now });
      this.tell({ kind: 'alert', key: alert.fingerprint, value: structuredClone(alert) });
    }
    for (const fp of [...this.replicated.keys()]) {
      if (seen.has(fp)) continue;
      this.replicated.delete(fp);
      this.tell({ kind: 'forget', item: 'alert', key: fp, at: now });
    }
  }

  // ---- persistence ------------------------------------------------------------------------------

  private restore(): void {
    const state = this.state;
    if (!state) {
      this.logger.warn('alerting: the event store is disabled (store.enabled: false), so alerts, silences and the notification log are kept in memory only and are lost on restart');
      return;
    }
    const rows = state.load();
    for (const skipped of rows.skipped) {
      this.logger.error({ kind: skipped.kind, key: skipped.key }, `alerting: a stored ${skipped.kind} row could not be read and was skipped: ${skipped.error}`);
    }
    this.silencesStore.restore({ version: 1, silences: rows.silences });
    this.acks.restore({ version: 1, acks: rows.acks as never });
    this.dispatcher.log.restore({ version: 1, entries: rows.nflog });
    for (const entry of rows.nflog) this.rememberLogEntry(entry);
    for (const alert of rows.alerts) this.persisted.set(alert.fingerprint, alert.updatedAt);
    // Decisions for alerts that ended while the agent was down are made (and published) here;
    // every other firing or resolved alert goes back into its groups, whose first flush is
    // immediate and deduplicated against the restored notification log.
    const changed = new Set(this.table.restore({ version: 1, alerts: rows.alerts }).map((d) => d.alert.fingerprint));
    for (const alert of this.table.list()) if (!changed.has(alert.fingerprint)) this.dispatcher.put(alert);
    this.logger.info({ alerts: rows.alerts.length, silences: rows.silences.length, notification_log: rows.nflog.length }, 'alerting: state restored');
  }

  private schedulePersist(): void {
    if (!this.state && !this.replica) return;
    this.persistScheduled = true;
    this.persistTimer = this.clock.setTimeout(() => {
      this.persistAlerts();
      this.schedulePersist();
    }, this.options.persistIntervalMs ?? 100);
  }

  /** Writes the alerts changed since the last write, and deletes those the table forgot, in one transaction. */
  private persistAlerts(): void {
    if (this.replica) this.replicateAlerts();
    const state = this.state;
    if (!state) return;
    const current = new Map(this.table.list().map((a) => [a.fingerprint, a]));
    const upserts = [...current.values()].filter((a) => this.persisted.get(a.fingerprint) !== a.updatedAt || a.state !== 'firing');
    const deletes = [...this.persisted.keys()].filter((fp) => !current.has(fp));
    if (upserts.length === 0 && deletes.length === 0) return;
    if (this.write(() => state.saveAlerts(upserts, deletes))) {
      for (const fp of deletes) this.persisted.delete(fp);
      for (const a of upserts) this.persisted.set(a.fingerprint, a.updatedAt);
    }
  }

  private saveLogEntry(entry: NotificationLogEntry): void {
    if (this.write(() => this.state?.saveNotificationLog([entry], []))) this.rememberLogEntry(entry);
    if (this.replica) this.tell({ kind: 'nflog', key: logKey(entry), value: entry });
  }

  private rememberLogEntry({ receiver, groupKey, expiresAt }: NotificationLogEntry): void {
    if (this.state) this.persistedLog.set(logKey({ receiver, groupKey }), { receiver, groupKey, expiresAt });
  }

  /** Saves a silence in the store; `replicate`: a change made here, which the replica is told of. */
  private saveSilence(silence: Silence, replicate = false): void {
    this.write(() => this.state?.saveSilence(silence));
    if (replicate && this.replica) this.tell({ kind: 'silence', key: silence.id, value: silence });
  }

  /** Runs a state write; a failure is reported (never thrown into the pipeline) and counted. */
  private write(fn: () => void): boolean {
    try {
      fn();
      this.writeFailing = false;
      return true;
    } catch (error) {
      this.reportWriteFailure(error);
      return false;
    }
  }

  /** Counts a failed state or outbox write; reports it once per episode (until a write succeeds again). */
  private reportWriteFailure(error: unknown): void {
    this.counts.state_write_failures++;
    if (this.writeFailing) return;
    this.writeFailing = true;
    this.logger.error({ err: error }, `alerting: could not save its state: ${errorMessage(error)}`);
    this.publish('system.error', {
      severity: 'error',
      message: `alerting could not save its state: ${errorMessage(error)}; until it can, a restart may repeat or forget notifications`,
      error_code: 'ALERTING_STATE_WRITE_FAILED',
      component: 'alerting',
    });
  }

  private scheduleMaintenance(): void {
    this.maintenanceTimer = this.clock.setTimeout(() => {
      this.maintain();
      this.scheduleMaintenance();
    }, MAINTENANCE_INTERVAL_MS);
  }

  /** Drops silences past retention, expired notification log entries and acknowledgements that can no longer hold, in memory and in the store. */
  private maintain(): void {
    const now = this.clock.now();
    const expired = [...this.persistedLog].filter(([, e]) => e.expiresAt <= now);
    if (expired.length > 0 && this.write(() => this.state?.saveNotificationLog([], expired.map(([, e]) => e)))) {
      for (const [key] of expired) this.persistedLog.delete(key);
    }
    const before = new Set(this.silencesStore.query().map((s) => s.id));
    this.silencesStore.gc();
    const after = new Set(this.silencesStore.query().map((s) => s.id));
    const gone: [AlertingStateKind, string][] = expired.map(([key]) => ['nflog', key]);
    for (const id of before) {
      if (after.has(id)) continue;
      this.write(() => this.state?.deleteSilence(id));
      gone.push(['silence', id]);
    }
    for (const fp of this.acks.gc((fp) => this.table.get(fp))) {
      this.write(() => this.state?.deleteAck(fp));
      gone.push(['ack', fp]);
    }
    if (this.replica) for (const [item, key] of gone) this.tell({ kind: 'forget', item, key, at: now });
  }

  private publish<T extends EventType>(type: T, data: EventInputMap[T], tags?: string[]): void {
    this.options.bus.publish(type, data, { source: this.options.source, ...(tags && { tags }) }).catch((error: unknown) => {
      this.logger.error({ err: error, event: type }, `alerting: could not publish ${type}: ${errorMessage(error)}`);
    });
  }
}

/** The notification log, written through to the state store whenever the dispatcher records a notification. */
class PersistedNotificationLog extends NotificationLog {
  constructor(private readonly onLog: (entry: NotificationLogEntry) => void) {
    super();
  }

  override log(entry: Omit<NotificationLogEntry, 'expiresAt'>, repeatIntervalMs: number): void {
    super.log(entry, repeatIntervalMs);
    const stored = this.query(entry.receiver, entry.groupKey, entry.timestamp);
    if (stored) this.onLog(stored);
  }
}

function silenceData(silence: Silence): EventInputMap['silence.created'] {
  return {
    id: silence.id,
    matchers: silence.matchers.map((m) => ({ ...m })),
    starts_at: silence.startsAt,
    ends_at: silence.endsAt,
    created_by: silence.createdBy,
    comment: silence.comment,
  };
}


/** The engine behind the SDK's {@link AlertingState}. */
class EngineAlertingState extends AlertingState {
  constructor(private readonly engine: AlertingEngine) {
    super();
  }

  attach(replica: AlertingReplica): () => void {
    return this.engine.attachReplica(replica);
  }

  snapshot(kinds: readonly AlertingStateKind[]): AlertingStateChange[] {
    return this.engine.replicaSnapshot(kinds);
  }

  merge(items: readonly RemoteAlertingItem[]): MergeReport {
    return this.engine.mergeRemote(items);
  }
}

/** What the replica was told of an alert (a timer changes its state without touching updatedAt), and when. */
interface Replicated {
  state: Alert['state'];
  updatedAt: number;
  at: number;
}

/** A notification log entry's key in replication: receiver NUL group key (NUL occurs in neither). */
function logKey(entry: Pick<NotificationLogEntry, 'receiver' | 'groupKey'>): string {
  return `${entry.receiver}\u0000${entry.groupKey}`;
}

function splitLogKey(key: string): [string, string] {
  const at = key.indexOf('\u0000');
  return at < 0 ? [key, ''] : [key.slice(0, at), key.slice(at + 1)];
}

/**
 * A remote item's value, checked as the engine's restore checks stored rows, and its key against
 * it. @throws Error naming what is wrong.
 */
function checkRemote(kind: AlertingStateKind, key: string, value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
  const sameKey = (actual: string, field: string): void => {
    if (actual !== key) throw new Error(`its ${field} ${JSON.stringify(actual)} is not its key ${JSON.stringify(key)}`);
  };
  switch (kind) {
    case 'silence': {
      const silence = storedSilence(value as Silence);
      sameKey(silence.id, 'id');
      return silence;
    }
    case 'ack': {
      const ack = value as Acknowledgement;
      if (!isAcknowledgement(ack)) throw new Error('not an acknowledgement (fingerprint, startsAt, by, comment, at, expiresAt?)');
      sameKey(ack.fingerprint, 'fingerprint');
      return plainAck(ack);
    }
    case 'nflog': {
      const entry = value as NotificationLogEntry;
      if (!isLogEntry(entry)) throw new Error('not a notification log entry (receiver, groupKey, timestamp, expiresAt, firing[], resolved[])');
      sameKey(logKey(entry), 'receiver and groupKey');
      return { receiver: entry.receiver, groupKey: entry.groupKey, timestamp: entry.timestamp, firing: [...entry.firing], resolved: [...entry.resolved], expiresAt: entry.expiresAt };
    }
    case 'alert': {
      const problem = storedAlertProblem(value as Alert);
      if (problem) throw new Error(problem);
      sameKey((value as Alert).fingerprint, 'fingerprint');
      return value;
    }
  }
}
