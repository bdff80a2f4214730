import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { BusStats } from '../bus/event-bus';
import type { MetricsSources, RequestCount, Scrape } from './metrics';

export const METRICS_PREFIX = 'praxis_';

/**
 * A private registry (never prom-client's global one, so several agents or tests in one process do
 * not collide) with the default process metrics and the bus and plugin metrics. Counters mirror
 * the bus's own monotonic counters: each scrape resets them and copies the current totals in,
 * which keeps the `counter` TYPE while the bus remains the single place that counts.
 */
export function buildPrometheusScrape(sources: MetricsSources, requestCounts: () => Iterable<RequestCount>): Scrape {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: METRICS_PREFIX });
  // One bus snapshot per scrape, shared by every collect callback, so the numbers agree.
  let snapshot: BusStats | undefined;
  const stats = (): BusStats => (snapshot ??= sources.busStats());

  byType(registry, 'praxis_events_published_total', 'Events accepted by the bus, by type.', stats, 'published');
  byType(registry, 'praxis_events_processed_total', 'Events handled successfully, counted per handler delivery, by type.', stats, 'processed');
  byType(registry, 'praxis_events_dropped_total', 'Events dropped by a full or closed handler queue, counted per handler, by type.', stats, 'dropped');

  new Counter({
    name: 'praxis_events_rejected_total',
    help: 'Events that failed validation and were delivered to nobody.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats().events_rejected);
    },
  });
  perHandler(registry, 'praxis_handler_errors_total', 'Errors thrown by each handler.', stats, 'counter', (h) => h.errors);
  perHandler(registry, 'praxis_handler_queue_depth', 'Events waiting in each handler queue (including blocked publishers).', stats, 'gauge', (h) => h.queue_depth);
  new Gauge({
    name: 'praxis_handlers_active',
    help: 'Handlers currently receiving events.',
    registers: [registry],
    collect() {
      this.set(stats().active_handlers);
    },
  });
  new Gauge({
    name: 'praxis_handlers_quarantined',
    help: 'Handlers quarantined after too many errors.',
    registers: [registry],
    collect() {
      this.set(stats().quarantined_handlers);
    },
  });
  new Gauge({
    name: 'praxis_plugin_up',
    help: 'One series per plugin labelled with its current state; 1 when running, else 0.',
    labelNames: ['plugin', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of sources.plugins()) this.set({ plugin: p.name, state: p.state }, p.state === 'running' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'praxis_agent_ready',
    help: '1 once every plugin has started, else 0.',
    registers: [registry],
    collect() {
      this.set(sources.ready() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'praxis_component_stat',
    help: "Every numeric value of each plugin's own stats (Plugin.stats()); nested keys joined with dots.",
    labelNames: ['component', 'key'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [component, values] of Object.entries(sources.componentStats?.() ?? {})) {
        for (const [key, value] of numericLeaves(values)) this.set({ component, key }, value);
      }
    },
  });
  new Counter({
    name: 'praxis_http_requests_total',
    help: 'Admin HTTP requests answered, by method, route and status.',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { method, route, status, count } of requestCounts()) this.inc({ method, route, status: String(status) }, count);
    },
  });

  return async () => {
    snapshot = sources.busStats();
    try {
      return { text: await registry.metrics(), contentType: registry.contentType };
    } finally {
      snapshot = undefined;
    }
  };
}

function byType(registry: Registry, name: string, help: string, stats: () => BusStats, key: 'published' | 'processed' | 'dropped'): void {
  new Counter({
    name,
    help,
    labelNames: ['type'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [type, counters] of Object.entries(stats().by_type)) this.inc({ type }, counters[key]);
    },
  });
}

type HandlerStats = BusStats['handlers'][number];

function perHandler(
  registry: Registry,
  name: string,
  help: string,
  stats: () => BusStats,
  kind: 'counter' | 'gauge',
  value: (h: HandlerStats) => number,
): void {
  // Reset first: handlers that unsubscribed must disappear rather than report a stale value.
  const fill = (set: (labels: { handler: string; plugin: string }, v: number) => void): void => {
    for (const h of stats().handlers) set({ handler: h.id, plugin: h.owner }, value(h));
  };
  const config = { name, help, labelNames: ['handler', 'plugin'] as const, registers: [registry] };
  if (kind === 'counter') {
    new Counter({
      ...config,
      collect() {
        this.reset();
        fill((labels, v) => this.inc(labels, v));
      },
    });
  } else {
    new Gauge({
      ...config,
      collect() {
        this.reset();
        fill((labels, v) => this.set(labels, v));
      },
    });
  }
}

/** `{a: 1, b: {c: 2}, d: 'x'}` → `[['a', 1], ['b.c', 2]]`. */
function* numericLeaves(value: Record<string, unknown>, prefix = ''): Generator<[string, number]> {
  for (const [key, v] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (typeof v === 'number' && Number.isFinite(v)) yield [path, v];
    else if (typeof v === 'boolean') yield [path, v ? 1 : 0];
    else if (v !== null && typeof v === 'object' && !Array.isArray(v)) yield* numericLeaves(v as Record<string, unknown>, path);
  }
}
