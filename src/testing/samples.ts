import type { CoreEventInputMap } from '../events/types';

// The alert samples follow one alert (SAMPLE_FINGERPRINT is Alertmanager's fingerprint of SAMPLE_LABELS).
const SAMPLE_LABELS = { alertname: 'DiskFull', severity: 'critical', service: 'db' };
const SAMPLE_FINGERPRINT = '0a74ac22130028d9';
const SAMPLE_GROUP_KEY = '{}:{alertname="DiskFull"}';
const SAMPLE_NOTIFICATION_ID = '5b0c6f1e-2d4a-4c8b-9e3f-7a1d2c3b4e5f';
const SAMPLE_SILENCE_ID = '8e2f1a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b';
const SAMPLE_SILENCE = {
  id: SAMPLE_SILENCE_ID,
  matchers: [{ name: 'service', value: 'db', isRegex: false, isEqual: true }],
  starts_at: '2026-01-01T00:00:00.000Z',
  ends_at: '2026-01-01T02:00:00.000Z',
  created_by: 'ops',
  comment: 'maintenance',
};

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
  'alert.pending': { fingerprint: SAMPLE_FINGERPRINT, alertname: 'DiskFull', labels: SAMPLE_LABELS, annotations: { summary: 'disk full' }, starts_at: '2026-01-01T00:00:00.000Z', rule: 'disk', occurrences: 1 },
  'alert.firing': { fingerprint: SAMPLE_FINGERPRINT, alertname: 'DiskFull', labels: SAMPLE_LABELS, annotations: { summary: 'disk full' }, starts_at: '2026-01-01T00:00:00.000Z', origin: 'event', rule: 'disk', occurrences: 3 },
  'alert.resolved': { fingerprint: SAMPLE_FINGERPRINT, alertname: 'DiskFull', labels: SAMPLE_LABELS, starts_at: '2026-01-01T00:00:00.000Z', ends_at: '2026-01-01T00:05:00.000Z', origin: 'event', resolved_by: 'resolve_timeout' },
  'alert.notified': {
    notification_id: SAMPLE_NOTIFICATION_ID,
    receiver: 'ops',
    sinks: ['mailer'],
    group: SAMPLE_GROUP_KEY,
    group_labels: { alertname: 'DiskFull' },
    status: 'firing',
    reason: 'first_notification',
    reminder: false,
    fingerprints: [SAMPLE_FINGERPRINT],
    alerts: 1,
    truncated_alerts: 0,
  },
  'alert.delivery': { notification_id: SAMPLE_NOTIFICATION_ID, delivery_id: 1, receiver: 'ops', sink: 'mailer', group: SAMPLE_GROUP_KEY, attempt: 1, outcome: 'retry', reason: 'SMTP 451 try again later', retry_in_ms: 1000 },
  'alert.silenced': { fingerprint: SAMPLE_FINGERPRINT, alertname: 'DiskFull', labels: SAMPLE_LABELS, receiver: 'ops', group: SAMPLE_GROUP_KEY, silence_ids: [SAMPLE_SILENCE_ID] },
  'alert.inhibited': { fingerprint: SAMPLE_FINGERPRINT, alertname: 'DiskFull', labels: SAMPLE_LABELS, receiver: 'ops', group: SAMPLE_GROUP_KEY, inhibit_rule: 0, source_fingerprint: '1e17344f76a8957c' /* {alertname="HostDown", severity="critical"} */ },
  'alert.muted': { receiver: 'ops', group: SAMPLE_GROUP_KEY, fingerprints: [SAMPLE_FINGERPRINT], reason: 'mute_time_intervals', intervals: ['out-of-hours'] },
  'alert.acknowledged': { fingerprint: SAMPLE_FINGERPRINT, alertname: 'DiskFull', labels: SAMPLE_LABELS, by: 'ops', comment: 'on it', expires_at: '2026-01-01T02:00:00.000Z' },
  'silence.created': { ...SAMPLE_SILENCE, replaced: '0f6b5c4e-9a51-4b8e-9f57-3c2d1e0a9b87' },
  'silence.updated': SAMPLE_SILENCE,
  'silence.expired': { ...SAMPLE_SILENCE, ends_at: '2026-01-01T00:30:00.000Z' },
};
