import { eventAnnotations, eventLabels } from '../alerting/rules';
import type { Event } from '../events/types';

/** One event of the stream as `tail` receives it, from the WebSocket or from `GET /events`. */
export interface TailEvent {
  offset: number;
  event: { type: string; data: unknown; metadata: Record<string, unknown> };
}

const SUMMARY_MAX = 160;

/** SGR colours by severity; the severity is printed as text as well, so colour is never the only signal. */
const COLOURS: Readonly<Record<string, string>> = { critical: '\x1b[1;31m', error: '\x1b[31m', warning: '\x1b[33m', info: '\x1b[2m' };
const RESET = '\x1b[0m';

/**
 * Whether `tail` colours its lines: only on a terminal, and never when NO_COLOR is set to anything
 * but the empty string (https://no-color.org).
 */
export function useColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}

/**
 * The severity shown for an event: its own (`data.severity`), a service status's (as alerting
 * labels it: unhealthy is critical), an alert's `severity` label, else `info`.
 */
export function severityOf(event: TailEvent['event']): string {
  const labels = eventLabels(event as Pick<Event, 'type' | 'data' | 'metadata'>);
  const alertLabels = (event.data as { labels?: Record<string, unknown> } | null)?.labels;
  const alertSeverity = typeof alertLabels?.severity === 'string' ? alertLabels.severity : undefined;
  return labels.severity ?? alertSeverity ?? 'info';
}

/** `TIME  SEVERITY  TYPE  SOURCE  summary`: one line per event, for people. */
export function humanLine(entry: TailEvent, colour: boolean): string {
  const { event } = entry;
  const severity = severityOf(event);
  const time = typeof event.metadata.timestamp === 'string' ? event.metadata.timestamp : '-';
  const source = typeof event.metadata.source === 'string' ? printable(event.metadata.source) : '-';
  const label = severity.toUpperCase().padEnd(8);
  const shown = colour && COLOURS[severity] ? `${COLOURS[severity]}${label}${RESET}` : label;
  return `${time} ${shown} ${event.type.padEnd(16)} ${source.padEnd(12)} ${oneLine(summaryOf(event))}`;
}

/** `{"offset": N, "event": {...}}`: the same shape as the entries of `GET /events`, one per line. */
export function jsonLine(entry: TailEvent): string {
  return JSON.stringify({ offset: entry.offset, event: entry.event });
}

/** The line that says events may be missing (only when the agent said `recovered: false`). */
export function gapLine(after: number | undefined, reason: string, json: boolean): string {
  if (json) return JSON.stringify({ gap: { after_offset: after ?? null, reason } });
  return `--- gap: events ${after === undefined ? '' : `after offset ${after} `}may be missing (${reason}) ---`;
}

/** The alert summary where the event has one (a message, a service's status, a changed key); else its data, compacted. */
function summaryOf(event: TailEvent['event']): string {
  const { summary } = eventAnnotations(event as Pick<Event, 'type' | 'data'>);
  if (summary !== event.type) return summary;
  return JSON.stringify(event.data) ?? '';
}

function oneLine(text: string): string {
  const flat = printable(text.replace(/\s+/g, ' ').trim());
  return flat.length > SUMMARY_MAX ? `${flat.slice(0, SUMMARY_MAX - 1)}…` : flat;
}

/** Control characters from an event (an ingested message may hold escape sequences) must not drive the terminal. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '\ufffd');
}
