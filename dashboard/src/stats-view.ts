import { byId, h, render } from './dom';

type Stats = {
  agent?: { name?: string; version?: string; uptime_ms?: number };
  bus?: Record<string, unknown>;
  store?: Record<string, unknown>;
  components?: Record<string, Record<string, unknown>>;
};

const BUS_KEYS = ['events_published', 'events_processed', 'events_rejected', 'events_dropped', 'handler_errors', 'active_handlers', 'quarantined_handlers', 'queued'];
const WS_KEYS = ['active_connections', 'total_connections', 'broadcast_count', 'messages_sent', 'messages_received', 'errors', 'bursts'];

/** GET /stats: the bus counters and each WebSocket broadcaster's. */
export function drawStats(stats: Stats): void {
  const agent = stats.agent;
  if (agent?.name) byId('agent-name').textContent = `${agent.name === 'praxis-agent' ? '' : `${agent.name} · `}${agent.version ?? ''}`;
  const broadcasters = Object.entries(stats.components ?? {}).filter(([, c]) => typeof c.active_connections === 'number');
  render(
    byId('stats-body'),
    table('Bus', BUS_KEYS, stats.bus ?? {}),
    broadcasters.map(([name, c]) => table(`Broadcaster ${name}`, WS_KEYS, c)),
    agent?.uptime_ms !== undefined ? h('p', { class: 'muted small' }, `Up ${Math.round(agent.uptime_ms / 1000)} s`) : null,
  );
}

function table(title: string, keys: string[], values: Record<string, unknown>): HTMLTableElement {
  return h(
    'table',
    { class: 'table kv' },
    h('caption', {}, title),
    h('tbody', {}, keys.filter((k) => values[k] !== undefined).map((k) => h('tr', {}, h('th', { scope: 'row' }, k.replace(/_/g, ' ')), h('td', {}, String(values[k]))))),
  );
}
