import type { CoreEventInputMap } from '../events/types';

/** One valid event of every built-in type, for plugin tests and the conformance suite. */
export const sampleEvents: { readonly [K in keyof CoreEventInputMap]: CoreEventInputMap[K] } = {
  'system.health': { status: 'healthy', services: { api: { status: 'healthy', latency_ms: 12 } } },
  'system.error': { severity: 'error', message: 'disk full', error_code: 'DISK_FULL', component: 'backup' },
  'system.shutdown': { reason: 'test' },
  'config.changed': { config_path: 'app.yaml#db.pool', old_value: 5, new_value: 10, changed_by: 'test' },
  'service.status': { service_name: 'api', status: 'degraded', metrics: { latency_ms: 900 } },
  'agent.starting': { agent_name: 'test', version: '0.0.0', pid: 1 },
  'agent.started': { agent_name: 'test', version: '0.0.0', plugins: [], startup_ms: 1 },
  'agent.stopping': { reason: 'test' },
  'agent.stopped': { reason: 'test', uptime_ms: 1, exit_code: 0 },
  'agent.error': { severity: 'warning', message: 'sample', component: 'test' },
};
