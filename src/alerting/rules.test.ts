import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, formatProblem, loadConfig } from '../config/loader';
import { agentConfigSchema } from '../config/schema';
import { busEvent as event } from '../../test/helpers/alert-events';
import { AlertRules, alertRulesShape, eventLabels, tagLabels } from './rules';

const rulesSchema = z.strictObject(alertRulesShape);
const rules = (config: unknown = {}): AlertRules => new AlertRules(rulesSchema.parse(config));

const error = (severity: string, extra: Record<string, unknown> = {}) => event('system.error', { severity, message: 'disk full', component: 'storage', ...extra });

describe('default rules (no rule written)', () => {
  const defaults = rules();

  test.each(['warning', 'error', 'critical'])('system.error with severity %s is an alert', (severity) => {
    expect(defaults.evaluate(error(severity))?.rule).toBe('default: system.error');
  });

  test('system.error with severity info is not', () => {
    expect(defaults.evaluate(error('info'))).toBeUndefined();
  });

  test('agent.error of any severity is an alert', () => {
    expect(defaults.evaluate(event('agent.error', { severity: 'info', message: 'm', component: 'bus' }))?.labels.alertname).toBe('AgentError');
  });

  test('service.status degraded and unhealthy are alerts (ServiceDegraded, ServiceDown); healthy is not', () => {
    const status = (s: string) => defaults.evaluate(event('service.status', { service_name: 'api', status: s }));
    expect(status('degraded')?.labels).toMatchObject({ alertname: 'ServiceDegraded', severity: 'warning', service: 'api' });
    expect(status('unhealthy')?.labels).toMatchObject({ alertname: 'ServiceDown', severity: 'critical', service: 'api' });
    expect(status('unhealthy')?.resolveTimeoutMs).toBe(0);
    expect(status('healthy')).toBeUndefined();
  });

  test('other events are not alerts', () => {
    expect(defaults.evaluate(event('config.changed', { config_path: 'a#b', old_value: 1, new_value: 2 }))).toBeUndefined();
  });

  test('default_rules: false turns them off', () => {
    expect(rules({ default_rules: false }).evaluate(error('critical'))).toBeUndefined();
  });
});

describe('labels and annotations from the event', () => {
  test('alertname is the error code; type, severity, component, source, error_code; empty ones are left out', () => {
    const outcome = rules().evaluate(event('system.error', { severity: 'critical', message: 'disk full', component: 'storage', error_code: 'DISK_FULL' }, { source: 'disk-watch' }));
    expect(outcome?.labels).toEqual({ alertname: 'DISK_FULL', type: 'system.error', severity: 'critical', component: 'storage', source: 'disk-watch', error_code: 'DISK_FULL' });
    expect(outcome?.annotations).toEqual({ summary: 'disk full', description: 'critical in storage (DISK_FULL): disk full' });
  });

  test('without an error code the alertname is the type in PascalCase', () => {
    expect(eventLabels(error('error')).alertname).toBe('SystemError');
  });

  test('tags: name=value and name:value become labels, other tags one comma-wrapped sorted `tags` label', () => {
    expect(tagLabels(['team=dba', 'region:eu-west', 'nightly', 'db', 'bad-name=x', 'db'])).toEqual({ team: 'dba', region: 'eu-west', tags: ',bad-name=x,db,nightly,' });
    expect(tagLabels([])).toEqual({});
  });

  test('precedence: constant labels < tags < the event\'s labels < the rule\'s labels', () => {
    const r = rules({
      labels: { env: 'prod', team: 'ops', component: 'constant' },
      rules: [{ event: 'system.error', labels: { severity: 'page' } }],
    });
    const outcome = r.evaluate(event('system.error', { severity: 'error', message: 'm', component: 'db' }, { tags: ['team=dba', 'component=tag'] }));
    expect(outcome?.labels).toMatchObject({ env: 'prod', team: 'dba', component: 'db', severity: 'page' });
  });

  test('service.status annotations name the service and its last error', () => {
    const outcome = rules().evaluate(event('service.status', { service_name: 'api', status: 'unhealthy', metrics: { last_error: 'connection refused' } }));
    expect(outcome?.annotations).toEqual({ summary: 'api is unhealthy', description: 'api is unhealthy: connection refused' });
  });

  test('config.changed annotations: key, old → new, who and why; a secret key shows no value', () => {
    const r = rules({ rules: [{ event: 'config.changed', notice: true }] });
    const plain = r.evaluate(event('config.changed', { config_path: 'agent.config.yaml#store.max_events', old_value: 10, new_value: 20, changed_by: 'alice', change_reason: 'more history' }));
    expect(plain?.annotations).toEqual({ summary: 'Configuration changed: agent.config.yaml#store.max_events', description: 'agent.config.yaml#store.max_events: 10 → 20\nchanged by alice\nreason: more history' });
    const secret = r.evaluate(event('config.changed', { config_path: 'agent.config.yaml#http.auth_token', old_value: 'hunter2-old', new_value: 'hunter2-new' }));
    expect(secret?.annotations.description).not.toContain('hunter2');
    expect(secret?.annotations.description).toMatch(/^agent\.config\.yaml#http\.auth_token: \*\*\*[0-9a-f]{8} → \*\*\*[0-9a-f]{8}$/);
  });
});

describe('configured rules', () => {
  test('come before the defaults; the first matching one decides; ignore stops there', () => {
    const r = rules({
      rules: [
        { name: 'quiet-cache', event: 'system.error', match: { component: 'cache' }, ignore: true },
        { name: 'db', event: 'system.*', match: { component: ['db', 'database'] }, alertname: 'DatabaseError', for: '2m', for_count: 3, resolve_timeout: '10m' },
      ],
    });
    expect(r.evaluate(error('critical', { component: 'cache' }))).toBeUndefined();
    const db = r.evaluate(error('warning', { component: 'database' }));
    expect(db).toMatchObject({ rule: 'db', forMs: 120_000, forCount: 3, resolveTimeoutMs: 600_000, notice: false });
    expect(db?.labels.alertname).toBe('DatabaseError');
    expect(r.evaluate(error('warning'))?.rule).toBe('default: system.error');
  });

  test('min_severity compares by order; events without a severity do not match it', () => {
    const r = rules({ default_rules: false, rules: [{ event: '*', min_severity: 'error' }] });
    expect(r.evaluate(error('warning'))).toBeUndefined();
    expect(r.evaluate(error('error'))).toBeDefined();
    expect(r.evaluate(event('service.status', { service_name: 'a', status: 'unhealthy' }))).toBeUndefined();
  });

  test('match on a nested field, compared as text', () => {
    const r = rules({ default_rules: false, rules: [{ event: 'backup.*', match: { 'stats.failed': '3' } }] });
    expect(r.evaluate(event('backup.finished', { stats: { failed: 3 } }))).toBeDefined();
    expect(r.evaluate(event('backup.finished', { stats: { failed: 2 } }))).toBeUndefined();
    expect(r.evaluate(event('backup.finished', {}))?.labels).toBeUndefined();
  });
});

describe('the alerting.rules config', () => {
  const parse = (alerting: unknown) => agentConfigSchema.safeParse({ alerting });
  const route = { route: { receiver: 'ops' }, receivers: [{ name: 'ops' }] };

  test('is part of the alerting: section, next to the Alertmanager keys and beside config_file', () => {
    expect(parse({ ...route, labels: { env: 'prod' }, rules: [{ event: 'config.changed', notice: true }] }).success).toBe(true);
    expect(parse({ config_file: './am.yml', rules: [{ event: 'system.error' }] }).success).toBe(true);
  });

  test.each([
    [{ event: 'system.error', severity: 'error' }, 'Unrecognized key'],
    [{ event: 'System.Error' }, 'use an event type'],
    [{ event: 'x', for: '5' }, 'not a valid duration'],
    [{ event: 'x', labels: { 'bad-name': 'x' } }, 'not a valid label name'],
    [{ event: 'x', notice: true, for: '1m' }, 'a notice has no lifecycle'],
    [{ event: 'x', for_count: 0 }, 'expected number to be >=1'],
  ])('refuses %j', (rule, message) => {
    const result = parse({ ...route, rules: [rule] });
    expect(result.success).toBe(false);
    expect(result.error?.message).toContain(message);
  });
});

describe('alerting.rules in agent.config.yaml (loadConfig)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'praxis-alert-rules-'));
    writeFileSync(path.join(dir, 'alertmanager.yml'), 'route:\n  receiver: ops\nreceivers:\n  - name: ops\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const load = (lines: string[]) => {
    const file = path.join(dir, 'agent.config.yaml');
    writeFileSync(file, `${lines.join('\n')}\n`);
    return loadConfig(file);
  };

  test('beside config_file: the rules are parsed (durations in ms) and the imported routing still loads', () => {
    const loaded = load(['alerting:', '  config_file: ./alertmanager.yml', '  labels: { env: prod }', '  rules:', '    - event: system.error', '      for: 1m30s']);
    expect(loaded.config.alerting?.rules).toEqual([expect.objectContaining({ event: 'system.error', for: 90_000, for_count: 1 })]);
    expect(loaded.config.alerting?.labels).toEqual({ env: 'prod' });
    expect(loaded.alerting?.route?.receiver).toBe('ops');
  });

  test('a bad rule is reported at its FILE:LINE:COL', () => {
    let problems: string[] = [];
    try {
      load(['alerting:', '  config_file: ./alertmanager.yml', '  rules:', '    - event: system.error', '      resolve_timeout: soon']);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems = error.problems.map((p) => formatProblem(p));
    }
    expect(problems).toEqual([expect.stringMatching(/agent\.config\.yaml:5:24 alerting\.rules\[0\]\.resolve_timeout: not a valid duration: "soon"/)]);
  });
});

describe('label names that are also JavaScript property names', () => {
  it('keeps a __proto__ tag as a label (its fingerprint counts it)', () => {
    const rules = new AlertRules();
    const outcome = rules.evaluate({ type: 'system.error', data: { severity: 'error', message: 'x', component: 'c' }, metadata: { event_id: 'e', timestamp: '2026-01-01T00:00:00.000Z', tags: ['__proto__=polluted'] } } as never);
    expect(Object.getOwnPropertyDescriptor(outcome?.labels, '__proto__')?.value).toBe('polluted');
    expect(Object.getPrototypeOf(outcome?.labels)).toBe(Object.prototype);
  });
});
