import { ago, byId, h, render } from './dom';
import { badge, levelOfStatus } from './severity';
import type { StreamEntry } from './stream';

const POINTS = 60;

interface ServiceState {
  name: string;
  status: string;
  since?: string;
  lastChecked?: string;
  message?: string;
  failing: string[];
  checks: Record<string, { status?: string; message?: string; latency_ms?: number; kind?: string; target?: string; error_code?: string }>;
  latency: { at: string; ms: number }[];
}

/** What GET /health (health-probe) answers per service. */
export interface HealthView {
  services: Record<string, { status: string; since?: string; last_checked?: string; latency_ms?: number; message?: string; failing_checks?: string[]; checks?: ServiceState['checks'] }>;
}

/**
 * Every probed service: its status, the failing checks and why (from GET /health and the
 * service.status events), and a latency sparkline from service.status and system.health events.
 */
export class ServicesView {
  private readonly services = new Map<string, ServiceState>();
  private readonly body = byId('services-body');
  private loaded = false;

  private service(name: string): ServiceState {
    let s = this.services.get(name);
    if (!s) {
      s = { name, status: 'pending', failing: [], checks: {}, latency: [] };
      this.services.set(name, s);
    }
    return s;
  }

  /** The current view from the health probe (GET /health). */
  setHealth(view: HealthView): void {
    for (const [name, v] of Object.entries(view.services)) {
      const s = this.service(name);
      s.status = v.status;
      s.since = v.since;
      s.lastChecked = v.last_checked;
      s.message = v.message;
      s.failing = v.failing_checks ?? [];
      s.checks = v.checks ?? s.checks;
      // Polled every few seconds: a point per new check result between the events' snapshots.
      if (typeof v.latency_ms === 'number' && v.last_checked) push(s, v.last_checked, v.latency_ms);
    }
    this.loaded = true;
    this.draw();
  }

  add(entries: StreamEntry[]): void {
    let changed = false;
    for (const { event } of entries) {
      const data = event.data;
      const at = event.metadata?.timestamp ?? new Date().toISOString();
      if (event.type === 'service.status') {
        const s = this.service(String(data.service_name));
        const metrics = (data.metrics ?? {}) as { latency_ms?: number; last_error?: string; failing_checks?: string[] };
        s.status = String(data.status);
        s.since = at;
        s.lastChecked = at;
        s.message = metrics.last_error;
        s.failing = metrics.failing_checks ?? [];
        s.checks = (data.health_check_results ?? s.checks) as ServiceState['checks'];
        if (typeof metrics.latency_ms === 'number') push(s, at, metrics.latency_ms);
        changed = true;
      } else if (event.type === 'system.health') {
        for (const [name, v] of Object.entries((data.services ?? {}) as HealthView['services'])) {
          const s = this.service(name);
          if (s.status !== v.status) s.since = at;
          s.status = v.status;
          s.lastChecked = v.last_checked ?? at;
          if (v.message !== undefined || v.status === 'healthy') s.message = v.message;
          if (typeof v.latency_ms === 'number') push(s, v.last_checked ?? at, v.latency_ms);
        }
        changed = true;
      }
    }
    if (changed) {
      this.loaded = true;
      this.draw();
    }
  }

  unavailable(why: string): void {
    if (this.services.size === 0) render(this.body, h('p', { class: 'muted' }, why));
  }

  private draw(): void {
    if (!this.loaded) return;
    if (this.services.size === 0) return render(this.body, h('p', { class: 'muted' }, 'No service is probed (health-probe plugin).'));
    const order = { unhealthy: 0, degraded: 1, pending: 2, healthy: 3 } as Record<string, number>;
    const list = [...this.services.values()].sort((a, b) => (order[a.status] ?? 9) - (order[b.status] ?? 9) || a.name.localeCompare(b.name));
    render(
      this.body,
      h('ul', { class: 'cards' }, list.map((s) => this.card(s))),
    );
  }

  private card(s: ServiceState): HTMLLIElement {
    const failing = s.failing.length > 0 ? s.failing : Object.entries(s.checks).filter(([, c]) => c.status === 'fail').map(([n]) => n);
    const last = s.latency[s.latency.length - 1];
    return h(
      'li',
      { class: `card svc svc-${s.status}`, 'data-service': s.name },
      h('div', { class: 'card-head' }, h('strong', {}, s.name), badge(levelOfStatus(s.status), s.status)),
      s.since ? h('p', { class: 'muted small' }, `since ${ago(s.since)}`) : null,
      failing.length > 0
        ? h(
            'ul',
            { class: 'failing' },
            failing.map((name) => {
              const c = s.checks[name];
              return h('li', {}, h('span', { class: 'check' }, `${name} fails`), c?.message ? `: ${c.message}` : '', c?.error_code ? h('code', {}, ` ${c.error_code}`) : null);
            }),
          )
        : s.message && s.status !== 'healthy'
          ? h('p', { class: 'why' }, s.message)
          : null,
      h(
        'div',
        { class: 'latency' },
        sparkline(s.latency.map((p) => p.ms), `${s.name} latency, last ${s.latency.length} samples`),
        h('span', { class: 'small' }, last ? `${Math.round(last.ms)} ms` : 'no latency yet'),
      ),
    );
  }
}

function push(s: ServiceState, at: string, ms: number): void {
  // Each check result once, in time order (GET /health and the events may both report it).
  if (s.latency.length > 0 && (s.latency[s.latency.length - 1] as { at: string }).at >= at) return;
  s.latency.push({ at, ms });
  if (s.latency.length > POINTS) s.latency.splice(0, s.latency.length - POINTS);
}

/** A small inline SVG line of the values, labelled for screen readers with min/max. */
export function sparkline(values: number[], label: string): SVGSVGElement {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  const width = 120;
  const height = 28;
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  const min = Math.min(...values);
  const max = Math.max(...values);
  svg.setAttribute('aria-label', values.length === 0 ? `${label}: none` : `${label}: min ${Math.round(min)} ms, max ${Math.round(max)} ms`);
  if (values.length > 0) {
    const span = max - min || 1;
    const step = values.length > 1 ? width / (values.length - 1) : 0;
    const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - ((v - min) / span) * (height - 4)).toFixed(1)}`);
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', values.length === 1 ? `0,${height / 2} ${width},${height / 2}` : points.join(' '));
    line.setAttribute('fill', 'none');
    svg.append(line);
  }
  return svg;
}
