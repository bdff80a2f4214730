import { createHash } from 'node:crypto';
import { compileTemplate, redactSecrets, redactText, templateData, type Notification, type NotificationAlert, type NotificationTemplate, type TemplateData } from 'praxis-agent';
import { SEVERITIES, type Severity, type SeverityConfig } from './config';
import type { EventKind } from './events-api';

/**
 * What one notification becomes in the Events API v2: pure, no I/O. A firing group is a `trigger`
 * (a reminder too: PagerDuty adds it to the open incident with the same dedup_key, or opens a new
 * one if the incident was resolved by hand meanwhile), an all-resolved group a `resolve`, an
 * operator's acknowledgement an `acknowledge`. With `dedup_key: fingerprint` each alert is its own
 * incident and its own event.
 */

/** The settings of one destination: the sink's config with the receiver's overrides applied; texts are template sources. */
export interface Destination {
  routingKey: string;
  severity: SeverityConfig;
  dedupKey: 'group' | 'fingerprint';
  summary?: string;
  source?: string;
  component?: string;
  group?: string;
  class?: string;
  client: string;
  clientUrl?: string;
  details?: Record<string, string>;
  links?: Array<{ href: string; text?: string }>;
  images?: Array<{ src: string; href?: string; alt?: string }>;
}

export interface PlannedEvent {
  kind: EventKind;
  /** For operators: the action and dedup key, never the routing key. */
  label: string;
  data: Record<string, unknown>;
}

/** PagerDuty's limits: summary length (characters) and event size (bytes). */
export const MAX_SUMMARY = 1024;
export const MAX_EVENT_BYTES = 512_000;

export function planEvents(n: Notification, d: Destination, options: { changeEvents: boolean; hostname: string }): PlannedEvent[] {
  if (options.changeEvents && isConfigChangeNotice(n)) return [changeEvent(n, d, options.hostname)];
  if (d.dedupKey === 'group') {
    const action = n.reason === 'acknowledged' ? 'acknowledge' : n.status === 'resolved' ? 'resolve' : 'trigger';
    const data = templateData(n);
    return [incidentEvent(action, groupDedupKey(n.groupKey), d, data, () => groupPayload(n, d, data, options.hostname))];
  }
  return n.alerts.map((alert) => {
    const action = n.reason === 'acknowledged' ? 'acknowledge' : alert.status === 'resolved' ? 'resolve' : 'trigger';
    // Templates see this alert alone, as if it were its own group.
    const data = templateData({ ...n, status: alert.status, alerts: [alert], commonLabels: alert.labels, commonAnnotations: alert.annotations, truncatedAlerts: 0 });
    return incidentEvent(action, alert.fingerprint, d, data, () => alertPayload(n, alert, d, data, options.hostname));
  });
}

/**
 * Alertmanager's dedup key for a group (the SHA-256 of its group key): the key stays within
 * PagerDuty's 255 characters however long the labels are, and an incident Alertmanager opened is
 * resolved by the agent after a migration (same routes, same group labels).
 */
export function groupDedupKey(groupKey: string): string {
  return createHash('sha256').update(groupKey).digest('hex');
}

/** A notice (rule with `notice: true`) made of config.changed events only. */
function isConfigChangeNotice(n: Notification): boolean {
  return n.reason === 'notice' && n.alerts.length > 0 && n.alerts.every((a) => a.labels.type === 'config.changed');
}

type Payload = Record<string, unknown>;

function incidentEvent(action: 'trigger' | 'acknowledge' | 'resolve', dedupKey: string, d: Destination, data: TemplateData, payload: () => Payload): PlannedEvent {
  const event: Record<string, unknown> = { routing_key: d.routingKey, event_action: action, dedup_key: dedupKey };
  // As Alertmanager: acknowledge and resolve name the incident only; PagerDuty ignores a payload there.
  if (action === 'trigger') {
    event.payload = payload();
    const client = render(d.client, data);
    if (client !== undefined) event.client = client;
    if (d.clientUrl) event.client_url = d.clientUrl;
    if (d.links?.length) event.links = d.links;
    if (d.images?.length) event.images = d.images;
  }
  return { kind: 'event', label: `${action} ${dedupKey}`, data: withinSizeLimit(event) };
}

function groupPayload(n: Notification, d: Destination, data: TemplateData, hostname: string): Payload {
  const firing = n.alerts.filter((a) => a.status === 'firing');
  const common = n.commonLabels;
  return {
    summary: summaryOf(render(d.summary, data) ?? groupSummary(n, firing.length)),
    source: render(d.source, data) ?? common.instance ?? hostname,
    severity: severityOf(firing.length > 0 ? firing : n.alerts, d.severity, data),
    timestamp: n.timestamp,
    ...optional('component', render(d.component, data) ?? common.component),
    ...optional('group', render(d.group, data) ?? common.service),
    ...optional('class', render(d.class, data) ?? common.type),
    custom_details: redactSecrets({
      receiver: n.receiver,
      status: n.status,
      reason: n.reason,
      ...(n.reminder && { reminder: true }),
      group_labels: n.groupLabels,
      firing: firing.length,
      resolved: n.alerts.length - firing.length,
      ...(n.truncatedAlerts > 0 && { truncated_alerts: n.truncatedAlerts }),
      alerts: n.alerts.map(alertDetails),
      ...recentChanges(n),
      ...renderDetails(d.details, data),
    }),
  };
}

function alertPayload(n: Notification, alert: NotificationAlert, d: Destination, data: TemplateData, hostname: string): Payload {
  return {
    summary: summaryOf(render(d.summary, data) ?? alertSummary(alert)),
    source: render(d.source, data) ?? alert.labels.instance ?? hostname,
    severity: severityOf([alert], d.severity, data),
    timestamp: alert.startsAt,
    ...optional('component', render(d.component, data) ?? alert.labels.component),
    ...optional('group', render(d.group, data) ?? alert.labels.service),
    ...optional('class', render(d.class, data) ?? alert.labels.type),
    custom_details: redactSecrets({ receiver: n.receiver, reason: n.reason, ...(n.reminder && { reminder: true }), group_labels: n.groupLabels, ...alertDetails(alert), ...recentChanges(n), ...renderDetails(d.details, data) }),
  };
}

function changeEvent(n: Notification, d: Destination, hostname: string): PlannedEvent {
  const summaries = [...new Set(n.alerts.map((a) => a.annotations.summary).filter((s): s is string => Boolean(s)))];
  const template = templateData(n);
  const data = {
    routing_key: d.routingKey,
    payload: {
      summary: summaryOf(render(d.summary, template) ?? (summaries.length > 0 ? summaries.join('; ') : 'Configuration changed')),
      source: render(d.source, template) ?? n.commonLabels.instance ?? hostname,
      timestamp: n.timestamp,
      custom_details: redactSecrets({ receiver: n.receiver, changes: n.alerts.map(alertDetails), ...recentChanges(n), ...renderDetails(d.details, template) }),
    },
    links: [...(d.links ?? []), ...(d.clientUrl ? [{ href: d.clientUrl, text: render(d.client, template) ?? 'praxis-agent' }] : [])],
  };
  return { kind: 'change', label: 'change event', data: withinSizeLimit(data) };
}

/** Alertmanager's subject: `[FIRING:2] <group label values> (<other common label values>)`, then the common summary. */
function groupSummary(n: Notification, firing: number): string {
  const status = n.status === 'firing' ? `FIRING:${firing}` : 'RESOLVED';
  const groupValues = Object.values(n.groupLabels);
  const others = Object.entries(n.commonLabels).filter(([k]) => !(k in n.groupLabels)).map(([, v]) => v);
  const more = n.truncatedAlerts > 0 ? ` (+${n.truncatedAlerts} more)` : '';
  const head = [`[${status}]${more}`, groupValues.join(' '), others.length > 0 ? `(${others.join(' ')})` : ''].filter(Boolean).join(' ');
  const summary = n.commonAnnotations.summary;
  return summary ? `${head}: ${summary}` : head;
}

function alertSummary(alert: NotificationAlert): string {
  const { alertname, ...rest } = alert.labels;
  const values = Object.values(rest);
  const head = [`[${alert.status.toUpperCase()}]`, alertname ?? 'alert', values.length > 0 ? `(${values.join(' ')})` : ''].filter(Boolean).join(' ');
  return alert.annotations.summary ? `${head}: ${alert.annotations.summary}` : head;
}

/** At most {@link MAX_SUMMARY} characters (code points, as PagerDuty counts), ending in "…" when cut; credentials in URLs redacted. */
export function summaryOf(text: string): string {
  const chars = Array.from(redactText(text));
  return chars.length <= MAX_SUMMARY ? chars.join('') : `${chars.slice(0, MAX_SUMMARY - 1).join('')}…`;
}

/**
 * The severity: fixed; or the template's output; or the highest among `alerts`, each read from its
 * label; a value goes through the config's map, then must be a PagerDuty severity, else the default.
 */
export function severityOf(alerts: readonly NotificationAlert[], config: SeverityConfig, data: TemplateData): Severity {
  if (typeof config === 'string') return config;
  const mapped = (value: string | undefined): Severity =>
    (value === undefined ? undefined : (config.map[value] ?? (SEVERITIES.includes(value as Severity) ? (value as Severity) : undefined))) ?? config.default;
  if (config.template !== undefined) return mapped(render(config.template, data)?.trim());
  const label = config.label ?? 'severity';
  let best: Severity | undefined;
  for (const alert of alerts) {
    const severity = mapped(alert.labels[label]);
    if (best === undefined || SEVERITIES.indexOf(severity) < SEVERITIES.indexOf(best)) best = severity;
  }
  return best ?? config.default;
}

const compiled = new Map<string, NotificationTemplate>();

/** A configured text rendered for this notification; undefined when none is configured or it renders empty (the default applies). */
function render(source: string | undefined, data: TemplateData): string | undefined {
  if (source === undefined) return undefined;
  let template = compiled.get(source);
  if (!template) {
    // The config schema compiled it already (templateSchema), so this cannot throw.
    template = compileTemplate(source);
    compiled.set(source, template);
  }
  const text = template.render(data);
  return text.trim() === '' ? undefined : text;
}

function renderDetails(details: Record<string, string> | undefined, data: TemplateData): Record<string, string> {
  return Object.fromEntries(Object.entries(details ?? {}).map(([k, source]) => [k, render(source, data) ?? '']));
}

function alertDetails(alert: NotificationAlert): Record<string, unknown> {
  return {
    status: alert.status,
    labels: alert.labels,
    annotations: alert.annotations,
    starts_at: alert.startsAt,
    ...(alert.endsAt !== undefined && { ends_at: alert.endsAt }),
    fingerprint: alert.fingerprint,
    ...(alert.generatorURL !== undefined && { generator_url: alert.generatorURL }),
    ...(alert.acknowledgement && { acknowledgement: alert.acknowledgement }),
  };
}

/** The probable causes: config changes of the engine's recent-changes window. */
function recentChanges(n: Notification): { recent_changes?: unknown[] } {
  const changes = n.recentChanges ?? [];
  return changes.length > 0 ? { recent_changes: changes } : {};
}

function optional(key: string, value: string | undefined): Record<string, string> {
  return value === undefined ? {} : { [key]: value };
}

/**
 * PagerDuty refuses events over 512 KB: as Alertmanager does, the custom details give way (a
 * note says so) rather than the incident.
 */
function withinSizeLimit<T extends Record<string, unknown>>(data: T): T {
  if (Buffer.byteLength(JSON.stringify(data)) <= MAX_EVENT_BYTES) return data;
  const payload = data.payload as Record<string, unknown> | undefined;
  if (!payload) return data;
  return { ...data, payload: { ...payload, custom_details: { error: `custom details removed: the event exceeded PagerDuty's limit of ${MAX_EVENT_BYTES} bytes` } } };
}
