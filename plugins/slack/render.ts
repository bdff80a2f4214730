import type { ConfigChange, Notification, NotificationAlert } from 'praxis-agent';

/**
 * A notification as one Slack Block Kit message: a header (status, severity, count, group) and a
 * context line at the top level, then an attachment in the severity colour holding the probable
 * causes and one section per alert. Colour is never the only signal: the header and every alert
 * carry an emoji and the severity in words. Everything untrusted (labels, annotations, changed
 * values) is escaped, so a label cannot mention @channel or forge a link, and every text stays
 * within Slack's limits, cut with "and N more" rather than rejected by Slack.
 */

/** Slack's limits (api.slack.com/reference/block-kit): blocks per message and characters per text. */
export const SLACK_LIMITS = { blocks: 50, sectionText: 3000, headerText: 150, contextText: 2000, fallbackText: 3000 } as const;

/**
 * Characters of alert sections per message. 50 full sections would be 150,000 characters, which
 * Slack truncates or refuses (`msg_too_long`); past this the rest are counted in "and N more".
 */
export const ALERT_TEXT_BUDGET = 30_000;

export interface TextObject {
  type: 'plain_text' | 'mrkdwn';
  text: string;
  emoji?: boolean;
}
export type Block = { type: 'header'; text: TextObject } | { type: 'section'; text: TextObject } | { type: 'context'; elements: TextObject[] };

/** The payload @slack/webhook posts (channel, username and icons are added by the sink). */
export interface SlackMessage {
  text: string;
  blocks: Block[];
  attachments: Array<{ color: string; fallback: string; blocks: Block[] }>;
}

export interface RenderOptions {
  /** A fixed attachment colour instead of the severity's. */
  color?: string;
  /** Header text instead of the default (the status emoji still leads it). */
  title?: string;
  /** Operator-written mrkdwn body instead of the alert sections (sent as is, not escaped). */
  text?: string;
}

type Level = 'critical' | 'error' | 'warning' | 'info' | 'none';

const LEVELS: Record<Level, { rank: number; emoji: string; color: string }> = {
  critical: { rank: 4, emoji: ':red_circle:', color: '#D40E0D' },
  error: { rank: 3, emoji: ':large_orange_circle:', color: '#E8912D' },
  warning: { rank: 2, emoji: ':large_yellow_circle:', color: '#ECB22E' },
  info: { rank: 1, emoji: ':large_blue_circle:', color: '#439FE0' },
  none: { rank: 0, emoji: ':white_circle:', color: '#A0A0A0' },
};
const RESOLVED = { emoji: ':white_check_mark:', color: '#2EB67D' };
const ACKNOWLEDGED = { emoji: ':eyes:', color: '#6B46C1' };

/** Common spellings of severities mapped onto the agent's four (system.error's). */
const SEVERITY_ALIASES: Record<string, Level> = {
  critical: 'critical', crit: 'critical', page: 'critical', fatal: 'critical', emergency: 'critical', alert: 'critical', p1: 'critical',
  error: 'error', err: 'error', high: 'error', major: 'error', p2: 'error',
  warning: 'warning', warn: 'warning', medium: 'warning', minor: 'warning', p3: 'warning',
  info: 'info', informational: 'info', notice: 'info', low: 'info', debug: 'info', p4: 'info', p5: 'info',
};

function levelOf(alert: NotificationAlert): Level {
  const severity = alert.labels.severity;
  return severity === undefined ? 'none' : (SEVERITY_ALIASES[severity.trim().toLowerCase()] ?? 'none');
}

/** The severity in words: the agent's level, or the label as written when it is none of them. */
function severityWord(alert: NotificationAlert): string {
  const level = levelOf(alert);
  if (level !== 'none') return level.toUpperCase();
  return alert.labels.severity === undefined ? '' : clipPlain(alert.labels.severity.toUpperCase(), 20);
}

/** Slack's mrkdwn control characters: `<` starts links and mentions (`<!channel>`), `&` entities. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escaped text cut to `max` characters with "…", never inside an entity (`&am`). */
function clipEscaped(escaped: string, max: number): string {
  if (escaped.length <= max) return escaped;
  if (max <= 1) return '…'.slice(0, Math.max(0, max));
  return `${escaped.slice(0, max - 1).replace(/&[a-z]*$/, '')}…`;
}

/** Untrusted text, escaped and cut. */
function mrkdwn(raw: string, max: number): string {
  return clipEscaped(escapeMrkdwn(raw), max);
}

function clipPlain(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** A value inside `code`: a backtick would end the span early. */
function code(raw: string, max: number): string {
  return `\`${mrkdwn(raw.replace(/`/g, "'"), max)}\``;
}

/** `<!date^...>`: each reader sees the time in their own zone; the ISO text is the fallback. */
function slackDate(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return mrkdwn(iso, 40);
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time_secs}|${new Date(ms).toISOString()}>`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** http(s) URLs only (a `javascript:` generator URL is no link), made safe inside `<url|text>`. */
function linkTarget(url: string | undefined): string | undefined {
  if (url === undefined || url.length > 1000 || !/^https?:\/\//i.test(url)) return undefined;
  return url.replace(/&/g, '&amp;').replace(/</g, '%3C').replace(/>/g, '%3E').replace(/\|/g, '%7C').replace(/\s/g, '%20');
}

function worstLevel(alerts: NotificationAlert[]): Level {
  const firing = alerts.filter((a) => a.status === 'firing');
  const pool = firing.length > 0 ? firing : alerts;
  return pool.reduce<Level>((worst, a) => (LEVELS[levelOf(a)].rank > LEVELS[worst].rank ? levelOf(a) : worst), 'none');
}

/** What kind of message this is, in words and emoji, and its colour. */
export function statusOf(n: Notification): { word: string; emoji: string; color: string; level: Level } {
  const level = worstLevel(n.alerts);
  if (n.reason === 'acknowledged') return { word: 'ACKNOWLEDGED', ...ACKNOWLEDGED, level };
  if (n.status === 'resolved') return { word: 'RESOLVED', ...RESOLVED, level };
  const word = n.reason === 'notice' ? 'NOTICE' : n.reminder ? 'REMINDER: FIRING' : 'FIRING';
  return { word, emoji: LEVELS[level].emoji, color: LEVELS[level].color, level };
}

/** The default title: `FIRING · CRITICAL · 3 alerts (2 firing, 1 resolved) · alertname=X`. */
export function defaultTitle(n: Notification): string {
  const status = statusOf(n);
  const total = n.alerts.length + n.truncatedAlerts;
  const firing = n.alerts.filter((a) => a.status === 'firing').length;
  const resolved = n.alerts.length - firing;
  const mixed = firing > 0 && resolved > 0 ? ` (${firing} firing, ${resolved} resolved)` : '';
  const group = Object.entries(n.groupLabels).map(([k, v]) => `${k}=${v}`).join(' ');
  const parts = [status.word, ...(status.level !== 'none' && n.status === 'firing' ? [status.level.toUpperCase()] : []), `${plural(total, 'alert')}${mixed}`, ...(group ? [group] : [])];
  return parts.join(' · ');
}

function alertSection(alert: NotificationAlert): string {
  const level = levelOf(alert);
  const emoji = alert.status === 'resolved' ? RESOLVED.emoji : LEVELS[level].emoji;
  const name = mrkdwn(alert.labels.alertname ?? '(no alertname)', 150);
  const target = linkTarget(alert.generatorURL);
  const severity = severityWord(alert);
  const head = `${emoji} *${target ? `<${target}|${name}>` : name}*${severity ? ` · ${severity}` : ''} · ${alert.status}`;
  const times = [`Started ${slackDate(alert.startsAt)}`, ...(alert.endsAt ? [`ended ${slackDate(alert.endsAt)}`] : [])].join(' · ');
  const ack = alert.acknowledgement ? `:eyes: acknowledged by ${mrkdwn(alert.acknowledgement.by, 100)}${alert.acknowledgement.comment ? `: ${mrkdwn(alert.acknowledgement.comment, 200)}` : ''}` : '';
  // Fixed lines first; what is left of the section's 3000 characters goes to the free texts in turn.
  let budget = SLACK_LIMITS.sectionText - head.length - times.length - ack.length - 6;
  const take = (raw: string | undefined, cap: number): string => {
    if (raw === undefined || raw === '' || budget < 20) return '';
    const text = mrkdwn(raw, Math.min(cap, budget));
    budget -= text.length + 1;
    return text;
  };
  const summary = take(alert.annotations.summary ?? alert.annotations.message, 1500);
  const description = alert.annotations.description !== undefined && alert.annotations.description !== alert.annotations.summary ? take(alert.annotations.description, 1000) : '';
  const others = Object.entries(alert.labels).filter(([k]) => k !== 'alertname' && k !== 'severity');
  const labels = spans(others, Math.min(600, Math.max(0, budget)), 'label');
  return [head, summary, description, labels, times, ack].filter(Boolean).join('\n');
}

/** Labels as `k=v` spans, as many as fit in `max` characters, then "+N more labels". */
function spans(entries: Array<[string, string]>, max: number, word: string): string {
  const out: string[] = [];
  let length = 0;
  for (const [i, [k, v]] of entries.entries()) {
    const span = code(`${k}=${v}`, 200);
    const rest = entries.length - i - 1;
    const reserve = rest > 0 ? 20 : 0;
    if (length + span.length + 1 + reserve > max) {
      if (max >= 20) out.push(`+${plural(entries.length - i, `more ${word}`)}`);
      break;
    }
    out.push(span);
    length += span.length + 1;
  }
  return out.join(' ');
}

function changesSection(changes: ConfigChange[]): string {
  const head = `:wrench: *Probable cause: ${plural(changes.length, 'config change')} shortly before*`;
  const lines = [head];
  let length = head.length;
  for (const [i, c] of changes.entries()) {
    const by = [c.changed_by && `by ${mrkdwn(c.changed_by, 80)}`, c.change_reason && mrkdwn(c.change_reason, 160)].filter(Boolean).join(': ');
    const line = `• ${slackDate(c.at)} ${code(c.config_path, 200)}: ${code(valueText(c.old_value), 80)} → ${code(valueText(c.new_value), 80)}${by ? ` (${by})` : ''}`;
    const rest = changes.length - i - 1;
    if (length + line.length + 1 + (rest > 0 ? 40 : 0) > SLACK_LIMITS.sectionText) {
      lines.push(`_and ${plural(changes.length - i, 'more change')}_`);
      break;
    }
    lines.push(line);
    length += line.length + 1;
  }
  return lines.join('\n');
}

function valueText(value: unknown): string {
  if (value === undefined) return '(none)';
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Operator text split into section-sized pieces, at line ends where it can be. */
function chunks(text: string, max: number): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > max) {
    const cut = rest.lastIndexOf('\n', max);
    const at = cut > max / 2 ? cut : max;
    out.push(rest.slice(0, at));
    rest = rest.slice(at).replace(/^\n/, '');
  }
  if (rest !== '') out.push(rest);
  return out;
}

function section(text: string): Block {
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

function context(text: string): Block {
  return { type: 'context', elements: [{ type: 'mrkdwn', text }] };
}

export function renderMessage(n: Notification, options: RenderOptions = {}): SlackMessage {
  const status = statusOf(n);
  const title = options.title ?? defaultTitle(n);
  const header: Block = { type: 'header', text: { type: 'plain_text', text: clipPlain(`${status.emoji} ${title}`, SLACK_LIMITS.headerText), emoji: true } };
  const group = spans(Object.entries(n.groupLabels), 1500, 'group label');
  const about = `Receiver *${mrkdwn(n.receiver, 100)}* · ${group ? `group ${group} · ` : ''}${slackDate(n.timestamp)}`;
  const top: Block[] = [header, context(about)];

  const body: Block[] = [];
  if ((n.recentChanges?.length ?? 0) > 0) body.push(section(changesSection(n.recentChanges ?? [])));
  let room = SLACK_LIMITS.blocks - top.length - body.length;
  if (options.text !== undefined) {
    const pieces = chunks(options.text, SLACK_LIMITS.sectionText);
    const shown = pieces.length > room ? pieces.slice(0, room - 1) : pieces;
    body.push(...shown.map(section));
    if (shown.length < pieces.length) body.push(context('_text cut: too long for one Slack message_'));
  } else {
    // One block is kept for "and N more" whenever something may be left out.
    const mayCut = n.truncatedAlerts > 0 || n.alerts.length > room;
    if (mayCut) room -= 1;
    let used = 0;
    let shown = 0;
    for (const alert of n.alerts) {
      if (shown === room) break;
      const text = alertSection(alert);
      if (used + text.length > ALERT_TEXT_BUDGET) break;
      body.push(section(text));
      used += text.length;
      shown += 1;
    }
    // Left out by the block or text budget here, or by the engine's cap before.
    const more = n.alerts.length - shown + n.truncatedAlerts;
    if (more > 0) body.push(context(`_and ${plural(more, 'more alert')} not shown_`));
  }
  const fallback = mrkdwn(title, SLACK_LIMITS.fallbackText);
  return { text: fallback, blocks: top, attachments: [{ color: options.color ?? status.color, fallback, blocks: body }] };
}
