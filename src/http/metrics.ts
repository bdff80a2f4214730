import type { BusStats } from '../bus/event-bus';

/** What the metrics read at scrape time; nothing is recorded on the publish path. */
export interface MetricsSources {
  busStats(): BusStats;
  plugins(): ReadonlyArray<{ name: string; state: string }>;
  ready(): boolean;
  /** Each plugin's own stats (`Plugin.stats()`), by plugin name. */
  componentStats?(): Record<string, Record<string, unknown>>;
}

export interface RequestCount {
  method: string;
  route: string;
  status: number;
  count: number;
}

/** Renders the exposition text from one bus snapshot. */
export type Scrape = () => Promise<{ text: string; contentType: string }>;

export interface AdminMetrics {
  /** Counts one answered HTTP request; `route` is the registered path (bounded label set). */
  countRequest(method: string, route: string, status: number): void;
  /** The exposition text and its content type: reads the bus once and renders every metric from that snapshot. */
  scrape(): ReturnType<Scrape>;
}

/**
 * The admin server's metrics. prom-client (about 28 ms and several MiB at start-up) is loaded on
 * the first scrape, not when the agent starts: an agent nobody scrapes never pays for it. Request
 * counts are kept here until then and copied into the counter at every scrape.
 */
export function createAdminMetrics(sources: MetricsSources): AdminMetrics {
  const requests = new Map<string, RequestCount>();
  let scrape: Scrape | undefined;
  return {
    countRequest(method, route, status) {
      const key = `${method} ${route} ${status}`;
      const entry = requests.get(key);
      if (entry) entry.count++;
      else requests.set(key, { method, route, status, count: 1 });
    },
    scrape() {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      scrape ??= (require('./prometheus') as typeof import('./prometheus')).buildPrometheusScrape(sources, () => requests.values());
      return scrape();
    },
  };
}
