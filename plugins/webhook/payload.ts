import { templateData, type Notification, type NotificationAlert } from 'praxis-agent';

/**
 * Alertmanager's webhook message (`notify/webhook/webhook.go`, `Message`: the template data, then
 * `version` "4", `groupKey`, `truncatedAlerts`), byte for byte as Alertmanager 0.25 encodes it with
 * Go's `json.Encoder`: fields in struct order, map keys sorted, `<` `>` `&` escaped as `\u003c`
 * `\u003e` `\u0026`, a trailing newline, times as Go marshals them. The data is {@link templateData}'s, so the receiver name is
 * regexp-quoted and a firing alert's `endsAt` is Go's zero time, as Alertmanager sends them.
 *
 * The agent's own fields go under keys Alertmanager does not use, and only when they have a value:
 * `recentChanges` (top level, the probable-cause config changes) and `acknowledgement` (per alert).
 * JSON consumers ignore keys they do not know (Go's encoding/json, JavaScript, Python, and every
 * Alertmanager version added keys this way); `agent_fields: false` leaves them out for strict ones.
 */
export function webhookPayload(notification: Notification, options: { maxAlerts: number; externalURL: string; agentFields: boolean }): string {
  const { kept, truncated } = truncate(notification, options.maxAlerts);
  const data = templateData(kept, options.externalURL);
  const message = {
    receiver: data.Receiver,
    status: data.Status,
    alerts: data.Alerts.map((a, i) => ({
      status: a.Status,
      labels: sorted(a.Labels),
      annotations: sorted(a.Annotations),
      startsAt: goTime(a.StartsAt),
      endsAt: goTime(a.EndsAt),
      generatorURL: a.GeneratorURL,
      fingerprint: a.Fingerprint,
      ...(options.agentFields && kept.alerts[i].acknowledgement && { acknowledgement: kept.alerts[i].acknowledgement }),
    })),
    groupLabels: sorted(data.GroupLabels),
    commonLabels: sorted(data.CommonLabels),
    commonAnnotations: sorted(data.CommonAnnotations),
    externalURL: data.ExternalURL,
    version: '4',
    groupKey: data.GroupKey,
    truncatedAlerts: truncated,
    ...(options.agentFields && (notification.recentChanges?.length ?? 0) > 0 && { recentChanges: notification.recentChanges }),
  };
  return `${goJson(message)}\n`;
}

/**
 * Alertmanager's `truncateAlerts`: the first `max` alerts (0: all). As in Alertmanager, the status
 * and the common labels and annotations are those of the alerts sent.
 */
function truncate(notification: Notification, max: number): { kept: Notification; truncated: number } {
  if (max <= 0 || notification.alerts.length <= max) return { kept: notification, truncated: notification.truncatedAlerts };
  const alerts = notification.alerts.slice(0, max);
  return {
    kept: {
      ...notification,
      alerts,
      status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
      commonLabels: common(alerts, (a) => a.labels),
      commonAnnotations: common(alerts, (a) => a.annotations),
    },
    truncated: notification.truncatedAlerts + notification.alerts.length - max,
  };
}

function common(alerts: NotificationAlert[], of: (a: NotificationAlert) => Record<string, string>): Record<string, string> {
  const result: Record<string, string> = { ...of(alerts[0]) };
  for (const alert of alerts.slice(1)) {
    for (const [k, v] of Object.entries(result)) if (of(alert)[k] !== v) delete result[k];
  }
  return result;
}

/** A copy with the keys in Go's map order (sorted by bytes); label names are never integer-like, so JS keeps this order. */
function sorted(map: Record<string, string>): Record<string, string> {
  const keys = Object.keys(map).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return Object.fromEntries(keys.map((k) => [k, map[k]]));
}

/** JSON as Go's json.Encoder writes it (HTML-safe): these characters only occur inside strings, so replacing them in the text is exact. */
function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** An RFC 3339 time as Go's time.Time marshals it (RFC 3339 with nanoseconds, trailing zeros of the fraction dropped): `.000Z` → `Z`, `.250Z` → `.25Z`. */
function goTime(rfc3339: string): string {
  return rfc3339.replace(/\.(\d*?)0+(?=[Zz+-])/, (_, digits: string) => (digits === '' ? '' : `.${digits}`));
}
