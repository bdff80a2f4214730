import { byId, h, timeOf } from './dom';
import { asLevel, badge, LEVEL_RANK, type Level } from './severity';
import type { StreamEntry } from './stream';

const KEEP = 2000;
const SHOWN = 300;

type Row = { kind: 'event'; entry: StreamEntry; level: Level } | { kind: 'gap'; reason: string; at: string };

/** How bad an event is: its severity field, or what its status means. */
export function levelOf(entry: StreamEntry): Level {
  const { type, data } = entry.event;
  const severity = asLevel(data.severity) ?? asLevel((data.labels as Record<string, unknown> | undefined)?.severity);
  if (severity) return severity;
  if (type === 'service.status' || type === 'system.health') return data.status === 'unhealthy' ? 'error' : data.status === 'degraded' ? 'warning' : 'info';
  if (type === 'alert.firing') return 'warning';
  return 'info';
}

/** One line saying what the event is about. */
export function summaryOf(entry: StreamEntry): string {
  const { type, data } = entry.event;
  const labels = data.labels as Record<string, string> | undefined;
  if (typeof data.message === 'string') return `${data.component ? `${String(data.component)}: ` : ''}${data.message}`;
  if (type === 'service.status') return `${String(data.service_name)} is ${String(data.status)}${(data.metrics as { last_error?: string } | undefined)?.last_error ? `: ${(data.metrics as { last_error: string }).last_error}` : ''}`;
  if (type === 'system.health') return `overall ${String(data.status)}, ${Object.keys((data.services as object) ?? {}).length} services`;
  if (type === 'config.changed') return `${String(data.config_path)} changed`;
  const alertname = typeof data.alertname === 'string' ? data.alertname : labels?.alertname;
  switch (type) {
    case 'agent.starting':
      return `starting ${String(data.agent_name)} ${String(data.version)} (pid ${String(data.pid)})`;
    case 'agent.started':
      return `started with ${(data.plugins as unknown[] | undefined)?.length ?? 0} plugins${data.admin_url ? ` on ${String(data.admin_url)}` : ''}`;
    case 'agent.stopping':
    case 'system.shutdown':
      return `stopping: ${String(data.reason)}${data.signal ? ` (${String(data.signal)})` : ''}`;
    case 'agent.stopped':
      return `stopped: ${String(data.reason)}, exit code ${String(data.exit_code)}`;
    case 'alert.notified':
      return `${String(data.status)} notification to ${String(data.receiver)}: ${String(data.alerts)} alert(s)${data.reminder ? ' (reminder)' : ''}`;
    case 'alert.delivery':
      return `${String(data.receiver)} / ${String(data.sink)}: ${String(data.outcome)}${data.reason ? `: ${String(data.reason)}` : ''} (attempt ${String(data.attempt)})`;
    case 'alert.acknowledged':
      return `${String(alertname)} acknowledged by ${String(data.by)}${data.comment ? `: ${String(data.comment)}` : ''}`;
    case 'alert.silenced':
    case 'alert.inhibited':
    case 'alert.muted':
      return `${String(alertname)} ${type.slice(6)}`;
    case 'silence.created':
    case 'silence.updated':
    case 'silence.expired':
      return `silence ${type.slice(8)}: ${((data.matchers as { name: string; value: string }[] | undefined) ?? []).map((m) => `${m.name}=${m.value}`).join(', ')}${data.created_by ? ` by ${String(data.created_by)}` : ''}`;
  }
  if (labels?.alertname) return `${labels.alertname} ${Object.entries(labels).filter(([k]) => k !== 'alertname').map(([k, v]) => `${k}=${v}`).join(' ')}`;
  const text = JSON.stringify(data);
  return text.length > 160 ? `${text.slice(0, 160)}…` : text;
}

/** The live event list: filters by type, severity and source, pause, and each event's JSON on click. */
export class EventsView {
  private rows: Row[] = [];
  private paused = false;
  private heldBack = 0;
  private readonly types = new Set<string>();
  private readonly sources = new Set<string>();
  private scheduled = false;
  /** Rows appended since the list was last drawn, and whether one went anywhere but the end. */
  private fresh: Row[] = [];
  private redraw = false;
  /** The offset of the event that has the list's tab stop. */
  private current?: number;
  private readonly list = byId<HTMLOListElement>('event-list');
  private readonly typeSelect = byId<HTMLSelectElement>('filter-type');
  private readonly severitySelect = byId<HTMLSelectElement>('filter-severity');
  private readonly sourceSelect = byId<HTMLSelectElement>('filter-source');
  private readonly pauseButton = byId<HTMLButtonElement>('pause');
  private readonly count = byId('event-count');

  constructor() {
    for (const select of [this.typeSelect, this.severitySelect, this.sourceSelect]) select.addEventListener('change', () => this.draw());
    this.pauseButton.addEventListener('click', () => this.setPaused(!this.paused));
    // One tab stop for the whole list (roving tabindex): arrow keys move between events.
    this.list.addEventListener('keydown', (e) => this.onKey(e));
    this.list.addEventListener('focusin', (e) => {
      const offset = (e.target as HTMLElement).dataset?.offset;
      if (offset !== undefined) this.current = Number(offset);
    });
    this.list.addEventListener('click', (e) => {
      const button = (e.target as HTMLElement).closest<HTMLButtonElement>('button[data-offset]');
      if (button) this.show(Number(button.dataset.offset));
    });
  }

  add(entries: StreamEntry[]): void {
    for (const entry of entries) {
      // Live events sent before a resume's replay arrive ahead of it: keep the list in stream order.
      let at = this.rows.length;
      while (at > 0) {
        const before = this.rows[at - 1] as Row;
        if (before.kind === 'event' && before.entry.offset < entry.offset) break;
        if (before.kind === 'gap') break;
        at--;
      }
      const row: Row = { kind: 'event', entry, level: levelOf(entry) };
      this.rows.splice(at, 0, row);
      if (at === this.rows.length - 1) this.fresh.push(row);
      else this.redraw = true;
      if (this.paused) this.heldBack++;
      addOption(this.typeSelect, this.types, entry.event.type);
      const source = entry.event.metadata?.source;
      if (source) addOption(this.sourceSelect, this.sources, source);
    }
    if (this.rows.length > KEEP) this.rows.splice(0, this.rows.length - KEEP);
    this.schedule();
  }

  gap(reason: string): void {
    const row: Row = { kind: 'gap', reason, at: new Date().toISOString() };
    this.rows.push(row);
    this.fresh.push(row);
    this.schedule();
  }

  private setPaused(paused: boolean): void {
    this.paused = paused;
    this.pauseButton.textContent = paused ? 'Resume' : 'Pause';
    this.pauseButton.setAttribute('aria-pressed', String(paused));
    if (!paused) this.heldBack = 0;
    this.draw();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      if (this.paused) this.count.textContent = `paused, ${this.heldBack} new`;
      else if (this.redraw) this.draw();
      else this.prepend();
    });
  }

  /** New events at the top, the oldest shown ones dropped: a frame builds only the new rows. */
  private prepend(): void {
    const fresh = this.fresh.filter((row) => this.matches(row));
    this.fresh = [];
    if (fresh.length >= SHOWN) return this.draw();
    const focused = document.activeElement;
    this.list.prepend(...fresh.reverse().map((row) => this.item(row)));
    while (this.list.childElementCount > SHOWN) this.list.lastElementChild?.remove();
    if (!this.list.querySelector('button[tabindex="0"]')) this.list.querySelector('button[data-offset]')?.setAttribute('tabindex', '0');
    if (focused instanceof HTMLElement && focused !== document.activeElement) focused.focus();
    this.showCount(this.list.querySelectorAll('li.ev').length);
  }

  private showCount(shown: number): void {
    let total = 0;
    for (const row of this.rows) if (row.kind === 'event') total++;
    this.count.textContent = this.paused ? `paused, ${this.heldBack} new` : `${shown} shown of ${total}`;
  }

  private matches(row: Row): boolean {
    if (row.kind === 'gap') return true;
    const type = this.typeSelect.value;
    const minimum = asLevel(this.severitySelect.value);
    const source = this.sourceSelect.value;
    if (type && row.entry.event.type !== type) return false;
    if (minimum && LEVEL_RANK[row.level] < LEVEL_RANK[minimum]) return false;
    if (source && row.entry.event.metadata?.source !== source) return false;
    return true;
  }

  private draw(): void {
    this.fresh = [];
    this.redraw = false;
    const visible: Row[] = [];
    // Up to the newest event seen before pausing: a paused list does not move.
    const end = Math.max(0, this.rows.length - (this.paused ? this.heldBack : 0));
    for (let i = end - 1; i >= 0 && visible.length < SHOWN; i--) if (this.matches(this.rows[i] as Row)) visible.push(this.rows[i] as Row);
    const focused = (document.activeElement as HTMLElement | null)?.dataset?.offset;
    this.list.replaceChildren(...visible.map((row) => this.item(row)));
    const stop = this.list.querySelector<HTMLElement>(`[data-offset="${this.current}"]`) ?? this.list.querySelector<HTMLElement>('button[data-offset]');
    stop?.setAttribute('tabindex', '0');
    if (focused) this.list.querySelector<HTMLElement>(`[data-offset="${focused}"]`)?.focus();
    this.showCount(visible.filter((r) => r.kind === 'event').length);
  }

  private item(row: Row): HTMLLIElement {
    if (row.kind === 'gap') {
      return h('li', { class: 'gap', role: 'note' }, h('span', { 'aria-hidden': 'true' }, '⚠ '), `Gap at ${timeOf(row.at)}: events may be missing here (${row.reason}); state reloaded.`);
    }
    const { entry } = row;
    const { event } = entry;
    return h(
      'li',
      { class: `ev lv-row-${row.level}`, 'data-type': event.type },
      h(
        'button',
        { type: 'button', class: 'ev-row', 'data-offset': entry.offset, tabindex: -1, 'aria-haspopup': 'dialog', title: 'Show the full event' },
        h('time', { datetime: event.metadata?.timestamp ?? '' }, timeOf(event.metadata?.timestamp)),
        badge(row.level),
        h('span', { class: 'ev-type' }, event.type),
        h('span', { class: 'ev-source' }, event.metadata?.source ?? ''),
        h('span', { class: 'ev-summary' }, summaryOf(entry)),
      ),
    );
  }

  private onKey(e: KeyboardEvent): void {
    const buttons = [...this.list.querySelectorAll<HTMLButtonElement>('button[data-offset]')];
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    const target = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: buttons.length - 1, PageDown: at + 10, PageUp: at - 10 }[e.key];
    if (target === undefined || at < 0) return;
    e.preventDefault();
    const next = buttons[Math.max(0, Math.min(buttons.length - 1, target))];
    if (!next) return;
    buttons[at]?.setAttribute('tabindex', '-1');
    next.setAttribute('tabindex', '0');
    next.focus();
  }

  private show(offset: number): void {
    const row = this.rows.find((r) => r.kind === 'event' && r.entry.offset === offset);
    if (!row || row.kind !== 'event') return;
    byId('event-dialog-h').textContent = `${row.entry.event.type} · offset ${offset}`;
    byId('event-json').textContent = JSON.stringify(row.entry.event, null, 2);
    byId<HTMLDialogElement>('event-dialog').showModal();
  }
}

function addOption(select: HTMLSelectElement, known: Set<string>, value: string): void {
  if (known.has(value)) return;
  known.add(value);
  const options = [...select.options].slice(1);
  const before = options.find((o) => o.value > value) ?? null;
  select.insertBefore(h('option', { value }, value), before);
}
