import { AgentError } from '../core/errors';
import { fingerprint } from '../alerting/fingerprint';
import { sampleEvents } from '../testing/samples';
import { coreEventSchemas } from './catalogue';
import { EventRegistry, type FieldIssue } from './registry';

const registry = new EventRegistry();

/** The field issues `parseData` reports for invalid data (fails the test when the data is valid). */
function issuesFor(type: string, data: unknown): FieldIssue[] {
  try {
    registry.parseData(type, data);
  } catch (error) {
    expect(error).toBeInstanceOf(AgentError);
    expect((error as AgentError).code).toBe('EVENT_INVALID');
    return (error as AgentError).details?.issues as FieldIssue[];
  }
  throw new Error(`expected ${type} data to be rejected: ${JSON.stringify(data)}`);
}

function pathsFor(type: string, data: unknown): string[] {
  return issuesFor(type, data).map((i) => i.path);
}

describe('event catalogue', () => {
  it('defines exactly the core event types', () => {
    expect(Object.keys(coreEventSchemas).sort()).toEqual([
      'agent.error',
      'agent.started',
      'agent.starting',
      'agent.stopped',
      'agent.stopping',
      'alert.acknowledged',
      'alert.delivery',
      'alert.firing',
      'alert.inhibited',
      'alert.muted',
      'alert.notified',
      'alert.pending',
      'alert.resolved',
      'alert.silenced',
      'config.changed',
      'service.status',
      'silence.created',
      'silence.expired',
      'silence.updated',
      'system.error',
      'system.health',
      'system.shutdown',
    ]);
    expect(registry.types()).toEqual(Object.keys(coreEventSchemas).sort());
    expect(registry.ownerOf('system.error')).toBe('core');
  });

  describe('system.error', () => {
    const valid = {
      severity: 'critical',
      message: 'disk full',
      error_code: 'DISK_FULL',
      component: 'storage',
      diagnostic_data: { free_bytes: 0, mount: '/var' },
      stack_trace: 'Error: disk full\n    at write',
    };

    it('accepts every spec field and returns them unchanged', () => {
      expect(registry.parseData('system.error', valid)).toEqual(valid);
    });

    it.each(['critical', 'error', 'warning', 'info'])('accepts severity %s', (severity) => {
      expect(registry.parseData('system.error', { severity, message: 'm', component: 'c' })).toEqual({ severity, message: 'm', component: 'c' });
    });

    it.each(['fatal', 'ERROR', '', 3, null])('rejects severity %p at data.severity', (severity) => {
      expect(pathsFor('system.error', { ...valid, severity })).toEqual(['data.severity']);
    });

    it('requires severity, message and component', () => {
      expect(pathsFor('system.error', {}).sort()).toEqual(['data.component', 'data.message', 'data.severity']);
    });

    it('rejects an empty message and a non-object diagnostic_data', () => {
      expect(pathsFor('system.error', { ...valid, message: '' })).toEqual(['data.message']);
      expect(pathsFor('system.error', { ...valid, diagnostic_data: 'oops' })).toEqual(['data.diagnostic_data']);
    });

    it('rejects unknown fields, naming them', () => {
      expect(pathsFor('system.error', { ...valid, sevrity: 'info' })).toEqual(['data.sevrity']);
      // Several unknown keys are reported as one issue at the object.
      const issues = issuesFor('system.error', { ...valid, a: 1, b: 2 });
      expect(issues).toHaveLength(1);
      expect(issues[0].path).toBe('data');
      expect(issues[0].message).toMatch(/"a".*"b"/);
    });

    it('rejects data that is not an object', () => {
      expect(pathsFor('system.error', 'boom')).toEqual(['data']);
      expect(pathsFor('system.error', undefined)).toEqual(['data']);
    });
  });

  describe('config.changed', () => {
    it('accepts the spec fields with any old/new values', () => {
      const data = { config_path: 'agent.yaml#bus.queue_capacity', old_value: 1024, new_value: { nested: [1, 2] }, changed_by: 'ops', change_reason: 'load test' };
      expect(registry.parseData('config.changed', data)).toEqual(data);
      expect(registry.parseData('config.changed', { config_path: 'a#b', old_value: null, new_value: 'x' })).toEqual({ config_path: 'a#b', old_value: null, new_value: 'x' });
    });

    it('rejects a missing or empty config_path, wrong-typed optional fields and unknown fields', () => {
      expect(pathsFor('config.changed', { old_value: 1, new_value: 2 })).toEqual(['data.config_path']);
      expect(pathsFor('config.changed', { config_path: '', old_value: 1, new_value: 2 })).toEqual(['data.config_path']);
      // old_value/new_value may be null but must be present.
      expect(pathsFor('config.changed', { config_path: 'a#b' }).sort()).toEqual(['data.new_value', 'data.old_value']);
      expect(pathsFor('config.changed', { config_path: 'a#b', old_value: 1, new_value: 2, changed_by: 42 })).toEqual(['data.changed_by']);
      expect(pathsFor('config.changed', { config_path: 'a#b', old_value: 1, new_value: 2, path: 'x' })).toEqual(['data.path']);
    });
  });

  describe('service.status', () => {
    it.each(['healthy', 'degraded', 'unhealthy'])('accepts status %s and defaults health_check_results/metrics to {}', (status) => {
      expect(registry.parseData('service.status', { service_name: 'db', status })).toEqual({
        service_name: 'db',
        status,
        health_check_results: {},
        metrics: {},
      });
    });

    it('keeps given health_check_results and metrics', () => {
      const data = { service_name: 'db', status: 'degraded', health_check_results: { ping: 'ok', query: 'slow' }, metrics: { latency_ms: 950 } };
      expect(registry.parseData('service.status', data)).toEqual(data);
    });

    it('rejects unknown statuses, missing service_name, non-object metrics and unknown fields', () => {
      expect(pathsFor('service.status', { service_name: 'db', status: 'down' })).toEqual(['data.status']);
      expect(pathsFor('service.status', { status: 'healthy' })).toEqual(['data.service_name']);
      expect(pathsFor('service.status', { service_name: 'db', status: 'healthy', metrics: [1] })).toEqual(['data.metrics']);
      expect(pathsFor('service.status', { service_name: 'db', status: 'healthy', uptime: 1 })).toEqual(['data.uptime']);
    });
  });

  describe('system.health', () => {
    const valid = {
      status: 'degraded',
      services: {
        db: { status: 'healthy', last_checked: '2026-01-01T00:00:00.000Z', latency_ms: 12 },
        cache: { status: 'degraded', message: 'slow' },
      },
      checked_at: '2026-01-01T00:00:01Z',
    };

    it('accepts a snapshot', () => {
      expect(registry.parseData('system.health', valid)).toEqual(valid);
      expect(registry.parseData('system.health', { status: 'healthy', services: {} })).toEqual({ status: 'healthy', services: {} });
    });

    it('names the nested field that is wrong', () => {
      expect(pathsFor('system.health', { ...valid, services: { db: { status: 'dead' } } })).toEqual(['data.services.db.status']);
      expect(pathsFor('system.health', { ...valid, services: { db: { status: 'healthy', latency_ms: -1 } } })).toEqual(['data.services.db.latency_ms']);
      expect(pathsFor('system.health', { ...valid, services: { db: { status: 'healthy', extra: true } } })).toEqual(['data.services.db.extra']);
      expect(pathsFor('system.health', { ...valid, checked_at: 'yesterday' })).toEqual(['data.checked_at']);
      expect(pathsFor('system.health', { status: 'healthy' })).toEqual(['data.services']);
    });
  });

  describe('system.shutdown', () => {
    it('accepts a reason with optional signal and grace period, rejects a negative grace period', () => {
      expect(registry.parseData('system.shutdown', { reason: 'SIGTERM', signal: 'SIGTERM', grace_period_ms: 5000 })).toEqual({ reason: 'SIGTERM', signal: 'SIGTERM', grace_period_ms: 5000 });
      expect(pathsFor('system.shutdown', { reason: 'x', grace_period_ms: -1 })).toEqual(['data.grace_period_ms']);
      expect(pathsFor('system.shutdown', { reason: '' })).toEqual(['data.reason']);
    });
  });

  describe('agent.*', () => {
    it('agent.starting needs name, version and an integer pid', () => {
      const data = { agent_name: 'praxis', version: '0.1.0', pid: 4242, config_path: '/etc/praxis.yaml' };
      expect(registry.parseData('agent.starting', data)).toEqual(data);
      expect(pathsFor('agent.starting', { ...data, pid: 1.5 })).toEqual(['data.pid']);
      expect(pathsFor('agent.starting', { agent_name: 'praxis', pid: 1 })).toEqual(['data.version']);
    });

    it('agent.started lists plugins and a non-negative startup time', () => {
      const data = { agent_name: 'praxis', version: '0.1.0', plugins: ['event-logger', 'http-sink'], admin_url: 'http://127.0.0.1:9464', startup_ms: 31 };
      expect(registry.parseData('agent.started', data)).toEqual(data);
      expect(pathsFor('agent.started', { ...data, plugins: ['ok', 7] })).toEqual(['data.plugins[1]']);
      expect(pathsFor('agent.started', { ...data, startup_ms: -1 })).toEqual(['data.startup_ms']);
    });

    it('agent.stopping needs a reason', () => {
      expect(registry.parseData('agent.stopping', { reason: 'signal', signal: 'SIGINT' })).toEqual({ reason: 'signal', signal: 'SIGINT' });
      expect(pathsFor('agent.stopping', { signal: 'SIGINT' })).toEqual(['data.reason']);
    });

    it('agent.stopped defaults failed_plugins to []', () => {
      expect(registry.parseData('agent.stopped', { reason: 'signal', uptime_ms: 10, exit_code: 0 })).toEqual({ reason: 'signal', uptime_ms: 10, exit_code: 0, failed_plugins: [] });
      expect(registry.parseData('agent.stopped', { reason: 'signal', uptime_ms: 10, exit_code: 3, failed_plugins: ['slow'] })).toEqual({ reason: 'signal', uptime_ms: 10, exit_code: 3, failed_plugins: ['slow'] });
      expect(pathsFor('agent.stopped', { reason: 'signal', uptime_ms: 10, exit_code: 0.5 })).toEqual(['data.exit_code']);
    });

    it('agent.error has the system.error fields', () => {
      const data = { severity: 'warning', message: 'handler failed', error_code: 'HANDLER_FAILED', component: 'event-logger', diagnostic_data: { handler: 'x' } };
      expect(registry.parseData('agent.error', data)).toEqual(data);
      expect(pathsFor('agent.error', { ...data, severity: 'fatal' })).toEqual(['data.severity']);
      expect(pathsFor('agent.error', { ...data, extra: 1 })).toEqual(['data.extra']);
    });
  });

  describe('alerting decisions (alert.*, silence.*)', () => {
    const ALERTING_TYPES = Object.keys(coreEventSchemas).filter((t) => t.startsWith('alert.') || t.startsWith('silence.')) as (keyof typeof sampleEvents)[];
    /** The sample of `type` with `changes` applied; a value of `undefined` removes the key. */
    const sample = (type: keyof typeof sampleEvents, changes: Record<string, unknown> = {}): Record<string, unknown> => {
      const data: Record<string, unknown> = { ...(sampleEvents[type] as Record<string, unknown>), ...changes };
      for (const [key, value] of Object.entries(changes)) if (value === undefined) delete data[key];
      return data;
    };

    it('has twelve types; the samples follow one real alert', () => {
      expect(ALERTING_TYPES).toHaveLength(12);
      const firing = sampleEvents['alert.firing'];
      expect(fingerprint(firing.labels)).toBe(firing.fingerprint);
      expect(firing.alertname).toBe(firing.labels.alertname);
    });

    it.each(ALERTING_TYPES)('%s accepts its sample unchanged and refuses an unknown key', (type) => {
      expect(registry.parseData(type, sampleEvents[type])).toEqual(sampleEvents[type]);
      expect(pathsFor(type, sample(type, { extra: 1 }))).toEqual(['data.extra']);
    });

    it.each(ALERTING_TYPES.filter((t) => 'fingerprint' in sampleEvents[t]))(
      '%s refuses a fingerprint that is not 16 lowercase hex digits, naming the rule',
      (type) => {
        for (const fingerprint of ['0A74AC22130028D9', '0a74ac22130028d', '0a74ac22130028d9a', 'zz74ac22130028d9', 42]) {
          expect(pathsFor(type, sample(type, { fingerprint }))).toEqual(['data.fingerprint']);
        }
        expect(issuesFor(type, sample(type, { fingerprint: 'abc' }))[0].message).toBe('expected a fingerprint: 16 lowercase hex digits');
        expect(pathsFor(type, sample(type, { fingerprint: undefined }))).toEqual(['data.fingerprint']);
      },
    );

    it('labels and annotations are name → string; a __proto__ label is kept as data', () => {
      expect(pathsFor('alert.firing', sample('alert.firing', { labels: { alertname: 'DiskFull', count: 3 } }))).toEqual(['data.labels.count']);
      expect(issuesFor('alert.firing', sample('alert.firing', { labels: { count: 3 } }))[0].message).toBe('Invalid input: expected string, received number');
      expect(pathsFor('alert.firing', sample('alert.firing', { annotations: ['summary'] }))).toEqual(['data.annotations']);
      expect(pathsFor('alert.silenced', sample('alert.silenced', { labels: null }))).toEqual(['data.labels']);
      expect(pathsFor('alert.notified', sample('alert.notified', { group_labels: { alertname: true } }))).toEqual(['data.group_labels.alertname']);
      const labels = JSON.parse('{"__proto__": "x", "alertname": "A"}') as Record<string, string>;
      const parsed = registry.parseData('alert.firing', sample('alert.firing', { labels })) as { labels: Record<string, string> };
      expect(Object.hasOwn(parsed.labels, '__proto__')).toBe(true);
      expect(Object.getPrototypeOf(parsed.labels)).toBe(Object.prototype);
      expect(Object.keys(parsed.labels)).toEqual(['__proto__', 'alertname']);
      // A copy: what a subscriber does to the event's labels does not reach the publisher's alert.
      expect(parsed.labels).not.toBe(labels);
      parsed.labels.alertname = 'Changed';
      expect(labels.alertname).toBe('A');
    });

    it('times are RFC 3339, with Z or an offset', () => {
      expect(registry.parseData('alert.resolved', sample('alert.resolved', { ends_at: '2026-01-01T02:05:00+02:00' }))).toMatchObject({ ends_at: '2026-01-01T02:05:00+02:00' });
      expect(pathsFor('alert.resolved', sample('alert.resolved', { ends_at: '2026-01-01 00:05' }))).toEqual(['data.ends_at']);
      expect(pathsFor('alert.pending', sample('alert.pending', { starts_at: 1767225600000 }))).toEqual(['data.starts_at']);
      expect(pathsFor('alert.acknowledged', sample('alert.acknowledged', { expires_at: 'in 2h' }))).toEqual(['data.expires_at']);
      expect(pathsFor('silence.updated', sample('silence.updated', { starts_at: undefined }))).toEqual(['data.starts_at']);
    });

    it('alert.pending and alert.firing: occurrences is an integer ≥ 1, rule is optional, firing needs its origin', () => {
      expect(registry.parseData('alert.pending', sample('alert.pending', { rule: undefined }))).not.toHaveProperty('rule');
      expect(pathsFor('alert.pending', sample('alert.pending', { occurrences: 0 }))).toEqual(['data.occurrences']);
      expect(pathsFor('alert.firing', sample('alert.firing', { occurrences: 1.5 }))).toEqual(['data.occurrences']);
      expect(pathsFor('alert.firing', sample('alert.firing', { rule: '' }))).toEqual(['data.rule']);
      expect(pathsFor('alert.firing', sample('alert.firing', { origin: undefined }))).toEqual(['data.origin']);
      expect(pathsFor('alert.firing', sample('alert.firing', { origin: 'prometheus' }))).toEqual(['data.origin']);
      expect(registry.parseData('alert.firing', sample('alert.firing', { origin: 'external', rule: undefined, alertname: '' }))).toMatchObject({ origin: 'external', alertname: '' });
      // A pending alert has no origin (only rules make pending alerts).
      expect(pathsFor('alert.pending', sample('alert.pending', { origin: 'event' }))).toEqual(['data.origin']);
    });

    it.each(['recovery', 'resolve_timeout', 'ends_at'])('alert.resolved accepts resolved_by %s', (resolved_by) => {
      expect(registry.parseData('alert.resolved', sample('alert.resolved', { resolved_by }))).toMatchObject({ resolved_by });
    });

    it('alert.resolved refuses an unknown resolved_by, annotations and a missing ends_at', () => {
      expect(pathsFor('alert.resolved', sample('alert.resolved', { resolved_by: 'timeout' }))).toEqual(['data.resolved_by']);
      expect(pathsFor('alert.resolved', sample('alert.resolved', { annotations: {} }))).toEqual(['data.annotations']);
      expect(pathsFor('alert.resolved', sample('alert.resolved', { ends_at: undefined }))).toEqual(['data.ends_at']);
    });

    it.each(['first_notification', 'new_alerts_in_group', 'new_resolved_alerts', 'all_alerts_resolved', 'repeat_interval_elapsed', 'notice', 'acknowledged'])(
      'alert.notified accepts reason %s',
      (reason) => {
        expect(registry.parseData('alert.notified', sample('alert.notified', { reason }))).toMatchObject({ reason });
      },
    );

    it('alert.notified refuses a bad reason, status, id, fingerprint list or counts', () => {
      expect(pathsFor('alert.notified', sample('alert.notified', { reason: 'repeat' }))).toEqual(['data.reason']);
      expect(pathsFor('alert.notified', sample('alert.notified', { status: 'pending' }))).toEqual(['data.status']);
      expect(pathsFor('alert.notified', sample('alert.notified', { notification_id: 'n-1' }))).toEqual(['data.notification_id']);
      expect(pathsFor('alert.notified', sample('alert.notified', { fingerprints: ['0a74ac22130028d9', 'nope'] }))).toEqual(['data.fingerprints[1]']);
      expect(pathsFor('alert.notified', sample('alert.notified', { sinks: [''] }))).toEqual(['data.sinks[0]']);
      expect(pathsFor('alert.notified', sample('alert.notified', { reminder: 'no' }))).toEqual(['data.reminder']);
      expect(pathsFor('alert.notified', sample('alert.notified', { alerts: -1 }))).toEqual(['data.alerts']);
      expect(pathsFor('alert.notified', sample('alert.notified', { group: undefined }))).toEqual(['data.group']);
      // alerts counts the truncated ones too.
      expect(registry.parseData('alert.notified', sample('alert.notified', { alerts: 300, truncated_alerts: 100 }))).toMatchObject({ alerts: 300, truncated_alerts: 100 });
      expect(issuesFor('alert.notified', sample('alert.notified', { alerts: 2, truncated_alerts: 3 }))).toEqual([
        { path: 'data.truncated_alerts', message: 'cannot exceed alerts (which counts the truncated ones)' },
      ]);
    });

    it.each(['delivered', 'retry', 'permanent', 'expired'])('alert.delivery accepts outcome %s', (outcome) => {
      const data = sample('alert.delivery', { outcome, reason: undefined, retry_in_ms: undefined });
      expect(registry.parseData('alert.delivery', data)).toEqual(data);
    });

    it('alert.delivery refuses an unknown outcome, attempt 0 and a negative retry_in_ms', () => {
      expect(pathsFor('alert.delivery', sample('alert.delivery', { outcome: 'failed' }))).toEqual(['data.outcome']);
      expect(pathsFor('alert.delivery', sample('alert.delivery', { attempt: 0 }))).toEqual(['data.attempt']);
      expect(pathsFor('alert.delivery', sample('alert.delivery', { retry_in_ms: -5 }))).toEqual(['data.retry_in_ms']);
      expect(pathsFor('alert.delivery', sample('alert.delivery', { sink: undefined }))).toEqual(['data.sink']);
    });

    it('alert.silenced needs at least one silence id; alert.inhibited an index and a source fingerprint', () => {
      expect(pathsFor('alert.silenced', sample('alert.silenced', { silence_ids: [] }))).toEqual(['data.silence_ids']);
      expect(pathsFor('alert.silenced', sample('alert.silenced', { receiver: '' }))).toEqual(['data.receiver']);
      expect(pathsFor('alert.inhibited', sample('alert.inhibited', { inhibit_rule: -1 }))).toEqual(['data.inhibit_rule']);
      expect(pathsFor('alert.inhibited', sample('alert.inhibited', { inhibit_rule: '0' }))).toEqual(['data.inhibit_rule']);
      expect(pathsFor('alert.inhibited', sample('alert.inhibited', { source_fingerprint: 'HostDown' }))).toEqual(['data.source_fingerprint']);
    });

    it('alert.muted names the kind of interval and the intervals', () => {
      expect(registry.parseData('alert.muted', sample('alert.muted', { reason: 'active_time_intervals', intervals: ['business-hours'] }))).toMatchObject({ reason: 'active_time_intervals' });
      expect(pathsFor('alert.muted', sample('alert.muted', { reason: 'silenced' }))).toEqual(['data.reason']);
      expect(pathsFor('alert.muted', sample('alert.muted', { intervals: undefined }))).toEqual(['data.intervals']);
      expect(pathsFor('alert.muted', sample('alert.muted', { fingerprints: ['x'] }))).toEqual(['data.fingerprints[0]']);
    });

    it('alert.acknowledged: expires_at is optional, who is required', () => {
      expect(registry.parseData('alert.acknowledged', sample('alert.acknowledged', { expires_at: undefined }))).not.toHaveProperty('expires_at');
      expect(pathsFor('alert.acknowledged', sample('alert.acknowledged', { by: undefined }))).toEqual(['data.by']);
    });

    it("silence.*: matchers in Alertmanager API v2's camelCase shape, at least one", () => {
      const matcher = { name: 'service', value: 'db', isRegex: false, isEqual: true };
      expect(pathsFor('silence.created', sample('silence.created', { matchers: [] }))).toEqual(['data.matchers']);
      expect(pathsFor('silence.updated', sample('silence.updated', { matchers: [{ ...matcher, isEqual: undefined }] }))).toEqual(['data.matchers[0].isEqual']);
      expect(pathsFor('silence.updated', sample('silence.updated', { matchers: [{ ...matcher, is_regex: false }] }))).toEqual(['data.matchers[0].is_regex']);
      expect(pathsFor('silence.expired', sample('silence.expired', { matchers: [{ ...matcher, isRegex: 'yes' }] }))).toEqual(['data.matchers[0].isRegex']);
      expect(pathsFor('silence.expired', sample('silence.expired', { id: '' }))).toEqual(['data.id']);
      // Only a created silence can have replaced another.
      expect(registry.parseData('silence.created', sample('silence.created', { replaced: undefined }))).not.toHaveProperty('replaced');
      expect(pathsFor('silence.updated', sample('silence.updated', { replaced: 'x' }))).toEqual(['data.replaced']);
      expect(pathsFor('silence.created', sample('silence.created', { created_by: undefined, comment: undefined })).sort()).toEqual(['data.comment', 'data.created_by']);
    });

    it('the JSON Schema tells consumers the label map and fingerprint shapes', () => {
      const schema = registry.jsonSchemaOf('alert.firing') as {
        properties: { data: { properties: Record<string, { type?: string; pattern?: string; additionalProperties?: unknown; format?: string; description?: string }>; required: string[] } };
      };
      const { properties, required } = schema.properties.data;
      expect(properties.labels).toMatchObject({ type: 'object', additionalProperties: { type: 'string' } });
      expect(properties.labels.description).toMatch(/identity/);
      expect(properties.fingerprint.pattern).toBe('^[0-9a-f]{16}$');
      expect(properties.starts_at.format).toBe('date-time');
      expect(required.sort()).toEqual(['alertname', 'annotations', 'fingerprint', 'labels', 'occurrences', 'origin', 'starts_at']);
    });
  });

  describe('jsonSchemaOf', () => {
    it("describes a whole system.error event: the spec's data fields and metadata", () => {
      const schema = registry.jsonSchemaOf('system.error') as {
        $schema: string;
        type: string;
        required: string[];
        properties: {
          type: { const: string };
          data: { properties: Record<string, { enum?: string[]; type?: string }>; required: string[]; additionalProperties: boolean };
          metadata: { properties: Record<string, { type?: string; format?: string }>; required: string[]; additionalProperties: boolean };
        };
      };
      expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(schema.required.sort()).toEqual(['data', 'metadata', 'type']);
      expect(schema.properties.type.const).toBe('system.error');

      const data = schema.properties.data;
      expect(Object.keys(data.properties).sort()).toEqual(['component', 'diagnostic_data', 'error_code', 'message', 'severity', 'stack_trace']);
      expect(data.properties.severity.enum).toEqual(['critical', 'error', 'warning', 'info']);
      expect(data.required.sort()).toEqual(['component', 'message', 'severity']);
      expect(data.additionalProperties).toBe(false);

      const metadata = schema.properties.metadata;
      expect(Object.keys(metadata.properties).sort()).toEqual(['correlation_id', 'event_id', 'source', 'tags', 'timestamp']);
      expect(metadata.properties.event_id.format).toBe('uuid');
      expect(metadata.properties.timestamp.format).toBe('date-time');
      expect(metadata.properties.tags.type).toBe('array');
      expect(metadata.required.sort()).toEqual(['event_id', 'tags', 'timestamp']);
      expect(metadata.additionalProperties).toBe(false);
    });

    it('describes input shapes: defaulted service.status fields are optional', () => {
      const schema = registry.jsonSchemaOf('service.status') as { properties: { data: { required: string[]; properties: Record<string, unknown> } } };
      expect(schema.properties.data.required.sort()).toEqual(['service_name', 'status']);
      expect(Object.keys(schema.properties.data.properties).sort()).toEqual(['health_check_results', 'metrics', 'service_name', 'status']);
    });

    it('covers every type and rejects unknown ones', () => {
      expect(Object.keys(registry.jsonSchemas())).toEqual(registry.types());
      expect(() => registry.jsonSchemaOf('nope.nothing')).toThrow(expect.objectContaining({ code: 'EVENT_UNKNOWN_TYPE' }));
    });
  });
});
