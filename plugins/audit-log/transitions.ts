import type { Event } from 'praxis-agent';

/** Services remembered at most; beyond it the least recently reported is forgotten (and its next status recorded). */
const MAX_SERVICES = 10_000;

/**
 * Decides which `service.status` events are transitions worth an audit line. health-probe publishes
 * only on transitions, but other publishers (the ingest API, third-party plugins) may repeat a
 * status on every check. A status is a transition when it differs from the last one seen for the
 * same service from the same source, when it is the first seen for that service since the plugin
 * started, or when it announces a flapping change (`metrics.flapping` set).
 */
export class StatusTransitions {
  private readonly last = new Map<string, unknown>();

  accept(event: Event): boolean {
    const data = (event.data ?? {}) as { service_name?: unknown; status?: unknown; metrics?: { flapping?: unknown } };
    const key = JSON.stringify([event.metadata.source ?? null, data.service_name ?? null]);
    const seen = this.last.has(key);
    const previous = this.last.get(key);
    this.last.delete(key); // re-inserted: the map stays in least-recently-reported order
    this.last.set(key, data.status);
    if (this.last.size > MAX_SERVICES) this.last.delete(this.last.keys().next().value as string);
    return !seen || previous !== data.status || typeof data.metrics?.flapping === 'boolean';
  }
}
