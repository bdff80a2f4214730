import { byId, h, render, timeOf } from './dom';
import type { StreamEntry } from './stream';

const SHOWN = 20;

/** The newest config.changed events as old → new (the agent redacted secret values before publishing). */
export class ConfigView {
  private changes: StreamEntry[] = [];

  add(entries: StreamEntry[]): void {
    const fresh = entries.filter((e) => e.event.type === 'config.changed');
    if (fresh.length === 0) return;
    this.changes = [...this.changes, ...fresh].sort((a, b) => a.offset - b.offset).slice(-SHOWN);
    this.draw();
  }

  private draw(): void {
    render(
      byId('config-body'),
      h(
        'ul',
        { class: 'diffs' },
        [...this.changes].reverse().map(({ event }) => {
          const d = event.data;
          return h(
            'li',
            { class: 'diff' },
            h('div', {}, h('code', { title: String(d.config_path) }, shortPath(String(d.config_path))), h('span', { class: 'muted small' }, ` ${timeOf(event.metadata?.timestamp)}${d.changed_by ? ` by ${String(d.changed_by)}` : ''}${d.change_reason ? ` (${String(d.change_reason)})` : ''}`)),
            h('div', { class: 'old' }, h('span', { class: 'sign', 'aria-label': 'old value' }, '−'), h('code', {}, show(d.old_value))),
            h('div', { class: 'new' }, h('span', { class: 'sign', 'aria-label': 'new value' }, '+'), h('code', {}, show(d.new_value))),
          );
        }),
      ),
    );
  }
}

/** `file#key` with the file's directories left out (the full path is the title). */
function shortPath(configPath: string): string {
  const hash = configPath.indexOf('#');
  const file = hash < 0 ? configPath : configPath.slice(0, hash);
  return `${file.slice(file.lastIndexOf('/') + 1)}${hash < 0 ? '' : configPath.slice(hash)}`;
}

function show(value: unknown): string {
  if (value === null || value === undefined) return '(none)';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 400 ? `${text.slice(0, 400)}…` : text;
}
