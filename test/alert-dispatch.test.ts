import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { AlertTable } from '../src/alerting/alerts';
import { alertmanagerConfigSchema } from '../src/alerting/config';
import { Dispatcher } from '../src/alerting/dispatcher';
import type { Notification } from '../src/alerting/notification';
import { AlertRules } from '../src/alerting/rules';
import { Route } from '../src/alerting/route';
import { FakeClock } from '../src/core/clock';
import { waitFor } from './helpers/async';
import { startAlertmanager, type RunningAlertmanager } from './helpers/alertmanager';

/**
 * The dispatcher's notifications against a running Alertmanager 0.25 (`prometheus-alertmanager`,
 * installed by .ci/run) on the same routing tree: the same alerts must give the same groups, with
 * the same group keys (route keys with escaped matcher values, Go-quoted group labels), group
 * labels, common labels and alerts, as Alertmanager's webhook receives them.
 */

const LABEL_SETS: Record<string, string>[] = [
  { alertname: 'Slow', team: 'db', severity: 'critical', service: 'pg "main" \\ 1', env: 'prod' },
  { alertname: 'Slow', team: 'db', severity: 'critical', service: 'pg "main" \\ 1', env: 'dev' },
  { alertname: 'Slow', team: 'db', severity: 'crit-2', service: 'mysql', env: 'prod' },
  { alertname: 'Down', team: 'web', instance: 'w1', job: 'nginx', env: 'prod' },
  { alertname: 'Down', team: 'web', instance: 'w0', job: 'nginx', env: 'prod' },
  { alertname: 'Disk', host: 'a\nb', severity: 'warning' },
  { alertname: 'Disk', host: 'c', severity: 'warning' },
];

/** What both sides must agree on, per notification. */
function comparable(n: Pick<Notification, 'receiver' | 'groupKey' | 'groupLabels' | 'commonLabels' | 'status'> & { alerts: { status: string; labels: Record<string, string>; fingerprint: string }[] }) {
  return { receiver: n.receiver, groupKey: n.groupKey, groupLabels: n.groupLabels, commonLabels: n.commonLabels, status: n.status, alerts: n.alerts.map((a) => [a.status, a.fingerprint, a.labels]) };
}

let dir: string;
let alertmanager: RunningAlertmanager;
let hook: http.Server;
const received: Notification[] = [];

function routeConfig(hookUrl: string) {
  return {
    route: {
      receiver: 'hook',
      group_by: ['alertname'],
      group_wait: '100ms',
      group_interval: '1h',
      routes: [
        { matchers: ['team="db"', 'severity=~"crit.*"'], group_by: ['alertname', 'service'], continue: true },
        { match_re: { team: 'db|web' }, group_by: ['...'], routes: [{ matchers: ['env!="dev"'], group_by: ['alertname', 'team'] }] },
      ],
    },
    receivers: [{ name: 'hook', webhook_configs: [{ url: hookUrl, send_resolved: true }] }],
  };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'praxis-am-dispatch-'));
  hook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      received.push(JSON.parse(body) as Notification);
      res.end();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  const { port } = hook.address() as AddressInfo;
  const config = path.join(dir, 'alertmanager.yml');
  // YAML is a superset of JSON: Alertmanager reads this file as written.
  writeFileSync(config, JSON.stringify(routeConfig(`http://127.0.0.1:${port}/`)));
  alertmanager = await startAlertmanager(config, path.join(dir, 'data'));
});

afterAll(async () => {
  await alertmanager.stop();
  await new Promise((resolve) => hook.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

test('the same alerts make the same notifications as Alertmanager: groups, group keys, labels, alert order', async () => {
  // The agent: the alert table takes the alerts as Alertmanager's API does, the dispatcher groups them.
  const clock = new FakeClock();
  const ours: Notification[] = [];
  const parsed = alertmanagerConfigSchema.parse(routeConfig('http://unused/'));
  const dispatcher = new Dispatcher({ route: new Route(parsed.route as NonNullable<typeof parsed.route>), clock, onNotify: (n) => ours.push(n) });
  const table = new AlertTable({ clock, rules: new AlertRules(), onDecision: (d) => dispatcher.put(d.alert) });
  expect(table.post(LABEL_SETS.map((labels) => ({ labels }))).errors).toEqual([]);
  await clock.advance(100);
  expect(ours.length).toBeGreaterThan(3);

  const response = await fetch(`${alertmanager.url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(LABEL_SETS.map((labels) => ({ labels }))) });
  expect(response.status).toBe(200);
  await waitFor(() => received.length >= ours.length, { what: `${ours.length} webhook notifications from Alertmanager`, timeoutMs: 20_000 });

  const byKey = (list: ReturnType<typeof comparable>[]) => [...list].sort((a, b) => (a.groupKey < b.groupKey ? -1 : 1));
  expect(byKey(ours.map(comparable))).toEqual(byKey(received.map(comparable)));
});
