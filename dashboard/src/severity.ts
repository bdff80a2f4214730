/** Severity is shown as an icon and a word, never by colour alone. */
export type Level = 'critical' | 'error' | 'warning' | 'info' | 'ok';

export const LEVEL_RANK: Record<Level, number> = { ok: 0, info: 1, warning: 2, error: 3, critical: 4 };
// Glyphs common fonts have (emoji fonts are often missing on servers and phones alike).
const ICON: Record<Level, string> = { critical: '‼', error: '✖', warning: '▲', info: 'ℹ', ok: '✔' };

export function badge(level: Level, text: string = level): HTMLSpanElement {
  const span = document.createElement('span');
  span.className = `badge lv-${level}`;
  const icon = document.createElement('span');
  icon.setAttribute('aria-hidden', 'true');
  icon.textContent = ICON[level];
  span.append(icon, ` ${text}`);
  return span;
}

export function levelOfStatus(status: string): Level {
  if (status === 'unhealthy' || status === 'firing' || status === 'dead') return 'error';
  if (status === 'degraded' || status === 'pending' || status === 'retrying') return 'warning';
  if (status === 'healthy' || status === 'resolved' || status === 'delivered') return 'ok';
  return 'info';
}

export function asLevel(value: unknown): Level | undefined {
  return value === 'critical' || value === 'error' || value === 'warning' || value === 'info' ? value : undefined;
}
