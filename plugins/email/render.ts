import { isSecretKey, redactSecrets, redactText, redactValue, templateData, type ConfigChange, type Notification, type NotificationAlert, type NotificationTemplate, type TemplateData } from 'praxis-agent';

/**
 * The default rendering of a notification as one e-mail: a subject a mail client's list makes
 * sense of, a plain-text body and the same content as HTML. Everything that comes from alerts
 * (labels, annotations, URLs) or config changes is untrusted text: escaped in HTML, stripped of
 * line breaks in the subject, and passed through redaction (credentials in URLs, values of
 * secret-looking keys) although the engine redacted config changes already.
 */

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

/** Longer subjects are cut: some servers reject long header lines and no list shows them. */
const SUBJECT_MAX = 200;

/** A receiver's own templates (Go template subset, the shared module's); each absent one is the default rendering. */
export interface MailTemplates {
  subject?: NotificationTemplate;
  text?: NotificationTemplate;
  html?: NotificationTemplate;
}

/**
 * The mail for a notification: the default rendering, or the templates given. Template data is
 * Alertmanager's, with annotations and generator URLs redacted like the default rendering's; for
 * the HTML template every string of it is HTML-escaped first (Alertmanager renders `html` with Go's
 * html/template, which escapes what the data puts in; the shared module is text/template). A text
 * or HTML template that renders nothing but white space leaves that part out (`html: ""` sends
 * plain text only).
 */
export function renderMail(n: Notification, templates: MailTemplates = {}): RenderedMail {
  const data = templates.subject || templates.text || templates.html ? redactedData(n) : undefined;
  return {
    subject: templates.subject && data ? oneLine(templates.subject.render(data).trim(), SUBJECT_MAX) : renderSubject(n),
    text: templates.text && data ? templates.text.render(data) : renderText(n),
    html: templates.html && data ? templates.html.render(escapedData(data)) : renderHtml(n),
  };
}

function redactedData(n: Notification): TemplateData {
  const data = templateData(n);
  for (const a of data.Alerts) {
    for (const k of Object.keys(a.Annotations)) a.Annotations[k] = shown(k, a.Annotations[k]);
    a.GeneratorURL = redactText(a.GeneratorURL);
  }
  for (const k of Object.keys(data.CommonAnnotations)) data.CommonAnnotations[k] = shown(k, data.CommonAnnotations[k]);
  return data;
}

function escapedData<T>(value: T): T {
  if (typeof value === 'string') return esc(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => escapedData(v)) as T;
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapedData(v)])) as T;
  return value;
}

/**
 * `[FIRING:3] DISK_FULL (service=db)`, `[RESOLVED:3] ...`; a `+` after the count when the engine
 * left alerts out; prefixed `[REMINDER]` for a repeat_interval reminder and `[ACK]` for an
 * acknowledgement notice.
 */
export function renderSubject(n: Notification): string {
  const counted = n.alerts.filter((a) => a.status === n.status).length;
  const parts: string[] = [];
  if (n.reason === 'acknowledged') parts.push('[ACK]');
  if (n.reminder) parts.push('[REMINDER]');
  parts.push(`[${n.status.toUpperCase()}:${counted}${n.truncatedAlerts > 0 ? '+' : ''}]`);
  const title = groupTitle(n);
  if (title) parts.push(title);
  return oneLine(parts.join(' '), SUBJECT_MAX);
}

/** `DISK_FULL (service=db)`: the group's alertname, then its other group labels. */
function groupTitle(n: Notification): string {
  const name = n.groupLabels.alertname ?? n.commonLabels.alertname;
  const others = Object.keys(n.groupLabels)
    .filter((k) => k !== 'alertname')
    .sort()
    .map((k) => `${k}=${n.groupLabels[k]}`);
  return [name, others.length > 0 ? `(${others.join(', ')})` : undefined].filter((p) => p !== undefined && p !== '').join(' ');
}

function headline(n: Notification): string {
  const firing = n.alerts.filter((a) => a.status === 'firing').length;
  const resolved = n.alerts.length - firing;
  const counts = [firing > 0 && `${firing} firing`, resolved > 0 && `${resolved} resolved`, n.truncatedAlerts > 0 && `${n.truncatedAlerts} more not listed`].filter(Boolean).join(', ');
  const title = groupTitle(n);
  return `${n.status.toUpperCase()}${title ? `: ${title}` : ''}${counts ? ` (${counts})` : ''}`;
}

/** Notes above the alerts: why this mail (reminder, acknowledgement). */
function notes(n: Notification): string[] {
  const out: string[] = [];
  if (n.reminder) out.push('Reminder: nothing changed since the last notification of this group; it is still firing.');
  if (n.reason === 'acknowledged') out.push('Acknowledged: an operator acknowledged alerts of this group (see each alert).');
  if (n.reason === 'notice') out.push('Notice: a one-off message, nothing will resolve it.');
  return out;
}

interface AlertView {
  title: string;
  summary?: string;
  description?: string;
  labels: Array<[string, string]>;
  annotations: Array<[string, string]>;
  times: string;
  acknowledged?: string;
  url?: string;
}

function alertView(a: NotificationAlert): AlertView {
  const labels = Object.keys(a.labels).sort().map((k): [string, string] => [k, a.labels[k]]);
  const annotations = Object.keys(a.annotations)
    .filter((k) => k !== 'summary' && k !== 'description')
    .sort()
    .map((k): [string, string] => [k, shown(k, a.annotations[k])]);
  const where = a.labels.instance ?? a.labels.service ?? a.labels.job;
  const ack = a.acknowledgement;
  return {
    title: `${a.labels.alertname ?? '(no alertname)'}${where ? ` on ${where}` : ''}`,
    ...(a.annotations.summary !== undefined && { summary: shown('summary', a.annotations.summary) }),
    ...(a.annotations.description !== undefined && { description: shown('description', a.annotations.description) }),
    labels,
    annotations,
    times: `started ${a.startsAt}${a.endsAt ? `, ended ${a.endsAt}` : ''}`,
    ...(ack && { acknowledged: `by ${ack.by} at ${ack.at}${ack.comment ? `: ${ack.comment}` : ''}${ack.expiresAt ? ` (until ${ack.expiresAt})` : ''}` }),
    ...(a.generatorURL && { url: redactText(a.generatorURL) }),
  };
}

/** An annotation or label as shown: redacted when its key looks secret, credentials in URLs masked. */
function shown(key: string, value: string): string {
  return isSecretKey(key) ? redactValue(value) : redactText(value);
}

function changeView(c: ConfigChange): { at: string; path: string; from: string; to: string; who?: string; why?: string } {
  // The engine redacted by key inside the values; a secret-looking path is redacted whole here
  // (`db.password: a → b` has no key inside the values to go by).
  const lastKey = c.config_path.split(/[.#/[\]]/).filter(Boolean).pop() ?? '';
  const value = (v: unknown): string => (isSecretKey(lastKey) && v !== undefined && v !== null ? redactValue(v) : format(redactSecrets(v)));
  return {
    at: c.at,
    path: redactText(c.config_path),
    from: value(c.old_value),
    to: value(c.new_value),
    ...(c.changed_by !== undefined && { who: redactText(c.changed_by) }),
    ...(c.change_reason !== undefined && { why: redactText(c.change_reason) }),
  };
}

function format(v: unknown): string {
  if (v === undefined) return '(absent)';
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  return text.length > 300 ? `${text.slice(0, 299)}…` : text;
}

function sections(n: Notification): Array<{ heading: string; alerts: AlertView[] }> {
  const firing = n.alerts.filter((a) => a.status === 'firing').map(alertView);
  const resolved = n.alerts.filter((a) => a.status === 'resolved').map(alertView);
  return [
    { heading: `Firing (${firing.length})`, alerts: firing },
    { heading: `Resolved (${resolved.length})`, alerts: resolved },
  ].filter((s) => s.alerts.length > 0);
}

function footer(n: Notification): string {
  return `Receiver ${n.receiver}, group ${n.groupKey}, sent by praxis-agent at ${n.timestamp}.`;
}

export function renderText(n: Notification): string {
  const lines: string[] = [headline(n), ...notes(n), ''];
  for (const s of sections(n)) {
    lines.push(`${s.heading}:`);
    for (const a of s.alerts) {
      lines.push(`- ${a.title}`);
      if (a.summary !== undefined) lines.push(`  Summary: ${a.summary}`);
      if (a.description !== undefined) lines.push(`  Description: ${indent(a.description)}`);
      lines.push(`  Labels: ${a.labels.map(([k, v]) => `${k}=${v}`).join(', ')}`);
      for (const [k, v] of a.annotations) lines.push(`  ${k}: ${indent(v)}`);
      lines.push(`  ${capitalise(a.times)}`);
      if (a.acknowledged) lines.push(`  Acknowledged ${a.acknowledged}`);
      if (a.url) lines.push(`  Source: ${a.url}`);
    }
    lines.push('');
  }
  if (n.truncatedAlerts > 0) lines.push(`... and ${n.truncatedAlerts} more alert${n.truncatedAlerts === 1 ? '' : 's'} not listed.`, '');
  const changes = (n.recentChanges ?? []).map(changeView);
  if (changes.length > 0) {
    lines.push('Probable causes (recent configuration changes):');
    for (const c of changes) lines.push(`- ${c.at} ${c.path}: ${c.from} -> ${c.to}${c.who ? ` (by ${c.who})` : ''}${c.why ? ` - ${c.why}` : ''}`);
    lines.push('');
  }
  lines.push('--', footer(n), '');
  return lines.join('\n');
}

export function renderHtml(n: Notification): string {
  const colour = n.status === 'firing' ? '#c0392b' : '#27ae60';
  const out: string[] = [
    '<!DOCTYPE html>',
    '<html><head><meta charset="utf-8"><title>' + esc(renderSubject(n)) + '</title></head>',
    '<body style="font-family: sans-serif; font-size: 14px; color: #222;">',
    `<h2 style="color: ${colour}; margin: 0 0 8px;">${esc(headline(n))}</h2>`,
    ...notes(n).map((t) => `<p style="background: #fff6d5; padding: 6px;">${esc(t)}</p>`),
  ];
  for (const s of sections(n)) {
    out.push(`<h3>${esc(s.heading)}</h3>`);
    for (const a of s.alerts) {
      out.push('<div style="border-left: 4px solid ' + colour + '; padding: 4px 10px; margin: 0 0 12px;">');
      out.push(`<p style="margin: 0;"><strong>${esc(a.title)}</strong></p>`);
      if (a.summary !== undefined) out.push(`<p style="margin: 4px 0;">${esc(a.summary)}</p>`);
      if (a.description !== undefined) out.push(`<p style="margin: 4px 0; white-space: pre-wrap;">${esc(a.description)}</p>`);
      out.push('<table style="border-collapse: collapse; font-size: 13px;">');
      for (const [k, v] of a.labels) out.push(`<tr><td style="color: #666; padding-right: 8px;">${esc(k)}</td><td>${esc(v)}</td></tr>`);
      for (const [k, v] of a.annotations) out.push(`<tr><td style="color: #666; padding-right: 8px;">${esc(k)}</td><td style="white-space: pre-wrap;">${esc(v)}</td></tr>`);
      out.push('</table>');
      out.push(`<p style="margin: 4px 0; color: #666;">${esc(capitalise(a.times))}</p>`);
      if (a.acknowledged) out.push(`<p style="margin: 4px 0;">Acknowledged ${esc(a.acknowledged)}</p>`);
      // Only http(s) becomes a link: a javascript: or data: URL from an alert must not be clickable.
      if (a.url) out.push(/^https?:\/\//i.test(a.url) ? `<p style="margin: 4px 0;"><a href="${esc(a.url)}">Source</a></p>` : `<p style="margin: 4px 0;">Source: ${esc(a.url)}</p>`);
      out.push('</div>');
    }
  }
  if (n.truncatedAlerts > 0) out.push(`<p>... and ${n.truncatedAlerts} more alert${n.truncatedAlerts === 1 ? '' : 's'} not listed.</p>`);
  const changes = (n.recentChanges ?? []).map(changeView);
  if (changes.length > 0) {
    out.push('<h3>Probable causes (recent configuration changes)</h3>', '<ul>');
    for (const c of changes) {
      out.push(`<li>${esc(c.at)} <code>${esc(c.path)}</code>: <code>${esc(c.from)}</code> &rarr; <code>${esc(c.to)}</code>${c.who ? ` (by ${esc(c.who)})` : ''}${c.why ? ` &ndash; ${esc(c.why)}` : ''}</li>`);
    }
    out.push('</ul>');
  }
  out.push(`<hr><p style="color: #888; font-size: 12px;">${esc(footer(n))}</p>`, '</body></html>', '');
  return out.join('\n');
}

/** HTML-escapes text for element content and double-quoted attributes. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** Control characters (CR, LF, tabs, NUL) become spaces: a label value must not start a new header. */
function oneLine(text: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function indent(text: string): string {
  return text.replace(/\n/g, '\n    ');
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
