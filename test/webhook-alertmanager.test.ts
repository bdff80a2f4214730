import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Notification } from '../src/alerting/notification';
import { createPluginHarness, type PluginHarness } from '../src/testing';
import webhook, { type WebhookPlugin } from '../plugins/webhook';
import { waitFor } from './helpers/async';
import { startAlertmanager, type RunningAlertmanager } from './helpers/alertmanager';

/**
 * The webhook sink's body against the real thing: a running Alertmanager 0.25 (installed by
 * .ci/run) posts its webhook for a group, the sink posts the same group (the notification built
 * from what Alertmanager sent), and the two bodies must be the same bytes — field order, map key
 * order, Go's HTML-safe escaping, the regexp-quoted receiver, the zero `endsAt` of a firing
 * alert, `max_alerts` truncation with its recomputed common labels, the trailing newline.
 */

interface AmMessage {
  receiver: string;
  status: 'firing' | 'resolved';
  alerts: Array<{ status: 'firing' | 'resolved'; labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string; generatorURL: string; fingerprint: string }>;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  version: string;
  groupKey: string;
  truncatedAlerts: number;
}

let dir: string;
let alertmanager: RunningAlertmanager;
let hook: http.Server;
let hookUrl: string;
const received: Array<{ path: string; body: string }> = [];
const harnesses: PluginHarness[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'praxis-am-webhook-'));
  hook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body });
      res.end();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}`;
  const config = {
    route: { receiver: 'team.hook', group_by: ['alertname'], group_wait: '100ms', group_interval: '1h', routes: [{ matchers: ['alertname="Capped"'], receiver: 'capped' }] },
    receivers: [
      { name: 'team.hook', webhook_configs: [{ url: `${hookUrl}/am/full`, send_resolved: true }] },
      { name: 'capped', webhook_configs: [{ url: `${hookUrl}/am/capped`, send_resolved: true, max_alerts: 1 }] },
    ],
  };
  const file = path.join(dir, 'alertmanager.yml');
  writeFileSync(file, JSON.stringify(config));
  alertmanager = await startAlertmanager(file, path.join(dir, 'data'));
});

afterAll(async () => {
  for (const h of harnesses) await h.stop();
  await alertmanager.stop();
  await new Promise((resolve) => hook.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

/** The notification the engine would hand the sink for the group Alertmanager notified (all of its alerts). */
function notificationOf(message: AmMessage, receiver: string, alerts = message.alerts): Notification {
  // Times as the engine writes them (Date#toISOString: always milliseconds), not as Go does.
  const engineTime = (t: string): string => new Date(t).toISOString();
  return {
    receiver,
    groupKey: message.groupKey,
    groupLabels: message.groupLabels,
    commonLabels: message.commonLabels,
    commonAnnotations: message.commonAnnotations,
    status: message.status,
    alerts: alerts.map((a) => ({
      status: a.status,
      labels: a.labels,
      annotations: a.annotations,
      startsAt: engineTime(a.startsAt),
      ...(a.status === 'resolved' && { endsAt: engineTime(a.endsAt) }),
      fingerprint: a.fingerprint,
      ...(a.generatorURL !== '' && { generatorURL: a.generatorURL }),
    })),
    truncatedAlerts: 0,
    reminder: false,
    reason: 'first_notification',
    timestamp: new Date().toISOString(),
  };
}

async function sink(config: Record<string, unknown>): Promise<WebhookPlugin> {
  const h = createPluginHarness(webhook, { config });
  harnesses.push(h);
  await h.start();
  return h.instance as unknown as WebhookPlugin;
}

test('the sink posts the same bytes as Alertmanager 0.25 for the same group', async () => {
  const now = Date.now();
  const iso = (offset: number): string => new Date(now + offset).toISOString();
  const alerts: Array<{ labels: Record<string, string>; annotations: Record<string, string>; generatorURL?: string; startsAt: string; endsAt?: string }> = [
    // Keys out of order, an annotation with characters Go escapes, a generator URL with a query.
    { labels: { alertname: 'Disk', zone: 'b', instance: 'db-1', severity: 'critical' }, annotations: { summary: 'disk <95%> & "rising"', runbook: 'https://r/disk' }, generatorURL: 'http://prom/graph?g0.expr=a&g0.tab=1', startsAt: iso(-60_000) },
    { labels: { alertname: 'Disk', zone: 'a', instance: 'db-2', severity: 'warning' }, annotations: { runbook: 'https://r/disk' }, startsAt: iso(-120_000), endsAt: iso(-1_000) },
    { labels: { alertname: 'Capped', instance: 'a', team: 'x' }, annotations: {}, startsAt: iso(-30_000) },
    { labels: { alertname: 'Capped', instance: 'b' }, annotations: {}, startsAt: iso(-30_000) },
  ];
  const response = await fetch(`${alertmanager.url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alerts) });
  expect(response.status).toBe(200);
  await waitFor(() => received.length >= 2, { what: 'two webhooks from Alertmanager', timeoutMs: 20_000 });
  const full = received.find((r) => r.path === '/am/full') as { body: string };
  const capped = received.find((r) => r.path === '/am/capped') as { body: string };
  const fullMessage = JSON.parse(full.body) as AmMessage;
  const cappedMessage = JSON.parse(capped.body) as AmMessage;
  // What the comparison covers: a firing and a resolved alert, a quoted receiver, a truncation.
  expect(fullMessage.alerts.map((a) => a.status).sort()).toEqual(['firing', 'resolved']);
  expect(fullMessage.receiver).toBe('team\\.hook');
  expect(full.body).toContain('\\u003c95%\\u003e \\u0026');
  expect([cappedMessage.alerts.length, cappedMessage.truncatedAlerts]).toEqual([1, 1]);

  const plugin = await sink({ url: `${hookUrl}/agent/full`, external_url: fullMessage.externalURL, receivers: { capped: { url: `${hookUrl}/agent/capped`, max_alerts: 1 } } });
  expect(await plugin.send(notificationOf(fullMessage, 'team.hook'), new AbortController().signal)).toEqual({ outcome: 'delivered' });

  // The engine hands over the whole group; the sink truncates as Alertmanager does. Alertmanager
  // sent the first alert of the group, so the other one is rebuilt from the alerts posted.
  const kept = cappedMessage.alerts[0];
  const other = alerts.find((a) => a.labels.alertname === 'Capped' && a.labels.instance !== kept.labels.instance) as (typeof alerts)[number];
  const whole: AmMessage['alerts'] = [kept, { status: 'firing' as const, labels: other.labels, annotations: {}, startsAt: other.startsAt, endsAt: '', generatorURL: '', fingerprint: '0000000000000000' }];
  const group = { ...notificationOf(cappedMessage, 'capped', whole), commonLabels: { alertname: 'Capped' } };
  expect(await plugin.send(group, new AbortController().signal)).toEqual({ outcome: 'delivered' });

  const ours = (p: string): string => (received.find((r) => r.path === p) as { body: string }).body;
  expect(ours('/agent/full')).toBe(full.body);
  expect(ours('/agent/capped')).toBe(capped.body);
});
