import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseMatcher } from '../src/alerting/matchers';
import { main } from '../src/cli/main';
import { startAlertmanager, type RunningAlertmanager } from './helpers/alertmanager';
import { REPO, runCli } from './helpers/cli';

/**
 * `praxis-agent alert route` against the real Alertmanager 0.25 on the SAME alertmanager.yml:
 * receivers against `amtool config routes test`, group labels (the inherited group_by) against a
 * running `prometheus-alertmanager`'s GET /api/v2/alerts/groups. Both are part of the test
 * environment (.ci/run installs Debian's prometheus-alertmanager).
 */

const FIXTURE = path.resolve(__dirname, 'fixtures/alerting/routing.alertmanager.yml');
/** Which Alertmanager answers (test names carry it: the reference is 0.25, Debian bookworm's). */
const AMTOOL_VERSION = /version (\S+)/.exec(execFileSync('amtool', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }))?.[1] ?? 'unknown';

/** Label sets, each as amtool's arguments (one `name=value` per argument). */
const CASES: string[][] = [
  [],
  ['alertname=Disk'],
  ['service=db', 'severity=critical', 'region=x'],
  ['service=database', 'severity=warning', 'region=x'],
  ['service=db', 'severity=warning', 'env=dev', 'region=x'],
  ['service=db', 'team=dba', 'region=x'],
  ['service=db', 'region=x'],
  ['service=DB', 'severity=critical', 'region=x'],
  ['host=WEB-1'],
  ['host=web-1', 'region=x'],
  ['host=web-1', 'severity=page', 'region=x'],
  ['host=xweb-1', 'region=x'],
  ['region=eu', 'zone=eu-west'],
  ['zone=eu-west'],
  ['zone=us-east'],
  ['region='],
  ['team=frontend', 'severity=warning', 'region=x'],
  ['team=frontend', 'severity=warningly', 'region=x'],
  ['team=frontend', 'severity=critical', 'region=x'],
  ['msg="say \\"hi\\", then go"', 'path=C:\\temp', 'region=x'],
  ['msg="say \\"hi\\", then go"', 'path="C:\\\\temp"', 'region=x'],
  ['code=500', 'region=x'],
  ['code=5000', 'region=x'],
  ['code=x500', 'region=x'],
  ['path=axyz', 'region=x'],
  ['path=xyzb', 'region=x'],
  ['path=xyz', 'region=x'],
  ['legacy_path=axyz', 'region=x'],
  ['legacy_path=a', 'region=x'],
  ['char=😀', 'region=x'],
  ['char=ab', 'region=x'],
  ['word=abc_1', 'region=x'],
  ['word=é', 'region=x'],
  ['name=ÉMILE', 'region=x'],
  ['owner=ops team', 'region=x'],
  ['owner = "ops team"', 'region=x'],
  ['owner="ops team "', 'region=x'],
  ['service=db', 'severity=warning', 'severity=critical', 'region=x'],
  ['service=db', 'severity=critical', 'host=Web-2', 'team=frontend'],
];

let dir: string;
let agentConfig: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'praxis-alert-route-'));
  agentConfig = path.join(dir, 'agent.config.yaml');
  writeFileSync(agentConfig, `alerting:\n  config_file: ${JSON.stringify(FIXTURE)}\n`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI in-process; resolves its exit code and output. */
async function praxis(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['node', 'praxis-agent', ...args], { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out: out.trim(), err };
}

function amtool(labels: string[], file = FIXTURE): string {
  return execFileSync('amtool', ['config', 'routes', 'test', `--config.file=${file}`, ...labels], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
}

describe(`alert route vs amtool config routes test (amtool ${AMTOOL_VERSION})`, () => {
  test.each(CASES.map((labels) => [labels.join(' ') || '(no labels)', labels]))('%s', async (_name, labels) => {
    const expected = amtool(labels);
    const plain = await praxis(['alert', 'route', '--config', agentConfig, ...labels]);
    expect(plain).toMatchObject({ code: 0, out: expected });
    const json = await praxis(['alert', 'route', '--config', agentConfig, '--json', ...labels]);
    expect((JSON.parse(json.out) as { receivers: string[] }).receivers.join(',')).toBe(expected);
  });

  test.each([
    ['severity!=critical', /name=value/],
    ['msg=say "hi"', /unescaped double quote/],
    ['bad-name=x', /bad matcher format/],
    ['=x', /bad matcher format/],
    ['severity', /bad matcher format/],
  ])('amtool and alert route both refuse the label %s (exit 2)', async (arg, message) => {
    expect(() => amtool([arg])).toThrow();
    const result = await praxis(['alert', 'route', '--config', agentConfig, arg]);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(message);
  });
});

describe('the shipped example (config/alerting.yaml importing config/alertmanager.yml), as a process', () => {
  const example = path.join(REPO, 'config/alertmanager.yml');
  test.each([
    ['service=db', 'severity=critical'],
    ['service=database', 'severity=warning'],
    ['type=system.error', 'severity=ERROR', 'component=store'],
    ['type=system.error', 'severity=critical'],
    ['severity=critical'],
    ['alertname=Other'],
  ].map((labels) => [labels.join(' '), labels]))('%s', (_name, labels) => {
    const result = runCli(['alert', 'route', '--config', 'config/alerting.yaml', ...labels]);
    expect(result).toMatchObject({ status: 0, stdout: `${amtool(labels, example)}\n` });
  });

  test('an invalid config exits 2 with FILE:LINE:COL, and an alertmanager.yml given as --config says what --config takes', () => {
    const bad = path.join(dir, 'bad-agent.yaml');
    writeFileSync(bad, 'alerting:\n  route:\n    receiver: nobody\n');
    const invalid = runCli(['alert', 'route', '--config', bad, 'a=b']);
    expect(invalid.status).toBe(2);
    expect(invalid.stderr).toContain(`${bad}:3:15 alerting.route.receiver: undefined receiver "nobody" used in route (CONFIG_INVALID_VALUE)`);
    const direct = runCli(['alert', 'route', '--config', example, 'a=b']);
    expect(direct.status).toBe(2);
    expect(direct.stderr).toContain('looks like an alertmanager.yml: --config takes the agent config, whose alerting.config_file names that file');
  });

  test('a config without an alerting section exits 2 and says what to add', () => {
    const result = runCli(['alert', 'route', '--config', 'config/event-logger.yaml', 'a=b']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('has no alerting section');
  });
});

interface Decision {
  receivers: string[];
  routes: { receiver: string; group_by: string[]; group_wait: string; group_interval: string; repeat_interval: string; continue: boolean; mute_time_intervals: string[]; active_time_intervals: string[] }[];
}

async function decide(labels: string[]): Promise<Decision> {
  const result = await praxis(['alert', 'route', '--config', agentConfig, '--json', ...labels]);
  expect(result.code).toBe(0);
  return JSON.parse(result.out) as Decision;
}

describe('alert route --json: inherited settings', () => {
  test('a child without receiver or group_by inherits them, sets its own repeat_interval, keeps the parent group_wait', async () => {
    const { routes } = await decide(['service=db', 'team=dba', 'region=x']);
    expect(routes).toEqual([{ receiver: 'db', group_by: ['...'], group_wait: '10s', group_interval: '5m', repeat_interval: '1h', continue: false, mute_time_intervals: [], active_time_intervals: [] }]);
  });

  test('defaults at the root; group_by: [] keeps the parent grouping; continue is reported per route', async () => {
    const { routes } = await decide(['team=frontend', 'severity=warning', 'region=x']);
    expect(routes).toEqual([{ receiver: 'legacy', group_by: ['alertname'], group_wait: '30s', group_interval: '10m', repeat_interval: '4h', continue: false, mute_time_intervals: [], active_time_intervals: [] }]);
    const db = await decide(['service=db', 'severity=critical', 'region=x']);
    expect(db.routes.map((r) => [r.receiver, r.continue])).toEqual([
      ['db-pager', true],
      ['db-ticket', false],
    ]);
  });

  test('mute_time_intervals belong to the route that names them: its children do not inherit them (as in Alertmanager)', async () => {
    const web = await decide(['host=WEB-1']);
    expect(web.routes.map((r) => [r.receiver, r.mute_time_intervals, r.group_by])).toEqual([
      ['web', ['weekends'], ['alertname']],
      ['not-eu', [], ['zone']],
    ]);
    const pager = await decide(['host=web-1', 'severity=page', 'region=x']);
    expect(pager.routes.map((r) => [r.receiver, r.mute_time_intervals])).toEqual([['web-pager', []]]);
  });
});

describe('group labels vs a running Alertmanager (GET /api/v2/alerts/groups)', () => {
  let alertmanager: RunningAlertmanager;
  let url: string;

  beforeAll(async () => {
    alertmanager = await startAlertmanager(FIXTURE, path.join(dir, 'am-data'));
    url = alertmanager.url;
  });
  afterAll(() => alertmanager.stop());

  test('every label set lands in the same (receiver, group labels) groups', async () => {
    // Alertmanager refuses empty label values; a `case` label keeps each alert apart, and an
    // alertname (unless the case sets one) makes the root's group_by: [alertname] visible.
    const alerts = CASES.map((args, i) => {
      const labels: Record<string, string> = { case: String(i), alertname: `Case${i}` };
      for (const arg of args) {
        const m = parseMatcher(arg);
        if (m.value !== '') labels[m.name] = m.value;
      }
      return labels;
    });
    const response = await fetch(`${url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alerts.map((labels) => ({ labels }))) });
    expect(response.status).toBe(200);

    const expected = new Set<string>();
    for (const labels of alerts) {
      const args = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
      const { routes } = await decide(args);
      for (const route of routes) {
        const byAll = route.group_by.includes('...');
        const group = Object.fromEntries(Object.entries(labels).filter(([k]) => byAll || route.group_by.includes(k)));
        expected.add(groupKey(route.receiver, group, labels.case));
      }
    }

    // The dispatcher takes the alerts asynchronously: wait until it has grouped them all.
    let actual = new Set<string>();
    for (let attempt = 0; attempt < 200 && actual.size < expected.size; attempt += 1) {
      const groups = (await (await fetch(`${url}/api/v2/alerts/groups`)).json()) as { labels: Record<string, string>; receiver: { name: string }; alerts: { labels: Record<string, string> }[] }[];
      actual = new Set(groups.flatMap((g) => g.alerts.map((a) => groupKey(g.receiver.name, g.labels, a.labels.case))));
      if (actual.size < expected.size) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect([...actual].sort()).toEqual([...expected].sort());
  });
});

function groupKey(receiver: string, group: Record<string, string>, alertCase: string): string {
  const labels = Object.entries(group)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',');
  return `case ${alertCase}: ${receiver} {${labels}}`;
}
