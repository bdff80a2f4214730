import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AlertTable } from '../src/alerting/alerts';
import { fingerprint } from '../src/alerting/fingerprint';
import { AlertRules } from '../src/alerting/rules';
import { FakeClock } from '../src/core/clock';
import { startAlertmanager, type RunningAlertmanager } from './helpers/alertmanager';

/**
 * The agent's alert fingerprints against a running Alertmanager 0.25 (`prometheus-alertmanager`,
 * installed by .ci/run): the same label sets posted to both must show the same `fingerprint` in
 * GET /api/v2/alerts, so amtool and dashboards can address the agent's alerts by it.
 */

const LABEL_SETS: Record<string, string>[] = [
  { alertname: 'a' },
  { alertname: 'HighLatency', service: 'db', severity: 'critical', env: 'prod' },
  // Sorted by name in byte order: upper case before underscore before lower case.
  { alertname: 'Order', B: '1', _x: '2', a: '3', a_b: '4', ab: '5', Z9: '6' },
  // Unicode values: hashed as UTF-8 bytes (2-, 3- and 4-byte sequences, and ÿ, which is not the 0xff separator).
  { alertname: 'Диск заполнен', summary_text: '日本語 💾', y: 'ÿÿ' },
  // The separator keeps name and value apart: these two must differ, in both.
  { alertname: 'sep', ab: 'c' },
  { alertname: 'sep', a: 'bc' },
  // An empty value is no label at all (Alertmanager drops it on POST): same fingerprint as without it.
  { alertname: 'empty', region: '', zone: 'eu' },
  { alertname: 'long', description_label: 'x'.repeat(2000) },
];

let dir: string;
let alertmanager: RunningAlertmanager;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'praxis-am-fp-'));
  const config = path.join(dir, 'alertmanager.yml');
  writeFileSync(config, 'route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n');
  alertmanager = await startAlertmanager(config, path.join(dir, 'data'));
  url = alertmanager.url;
});

afterAll(async () => {
  await alertmanager.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the same label sets get the same fingerprints as in Alertmanager (GET /api/v2/alerts)', async () => {
  const response = await fetch(`${url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(LABEL_SETS.map((labels) => ({ labels }))) });
  expect(response.status).toBe(200);
  const listed = (await (await fetch(`${url}/api/v2/alerts`)).json()) as { labels: Record<string, string>; fingerprint: string }[];
  expect(listed).toHaveLength(LABEL_SETS.length);

  // Alertmanager's answer, keyed by the alertname (+ the `ab`/`a` label for the two separator cases).
  const key = (labels: Record<string, string>): string => `${labels.alertname}/${labels.ab ?? labels.a ?? ''}`;
  const theirs = new Map(listed.map((alert) => [key(alert.labels), alert.fingerprint]));

  // The agent's, computed directly and through the alert table's POST path (which drops empty values).
  const table = new AlertTable({ clock: new FakeClock(), rules: new AlertRules() });
  const posted = table.post(LABEL_SETS.map((labels) => ({ labels })));
  expect(posted.errors).toEqual([]);
  const ours = new Map(table.list().map((alert) => [key(alert.labels as Record<string, string>), alert.fingerprint]));

  expect(ours).toEqual(theirs);
  for (const labels of LABEL_SETS) {
    const nonEmpty = Object.fromEntries(Object.entries(labels).filter(([, v]) => v !== ''));
    expect(fingerprint(nonEmpty)).toBe(theirs.get(key(labels)));
  }
  expect(new Set(theirs.values()).size).toBe(LABEL_SETS.length);
});
