import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent } from '../src/agent/agent';
import { mountAlertRoutes } from '../src/alerting/alerts-routes';
import { mountAlertmanagerApi } from '../src/alerting/api-v2';
import { EventBus } from '../src/bus/event-bus';
import { loadConfig } from '../src/config/loader';
import { SystemClock } from '../src/core/clock';
import { silentLogger } from '../src/core/logger';
import { EventRegistry } from '../src/events/registry';
import { AdminServer } from '../src/http/admin-server';
import { BIN, REPO } from './helpers/cli';

/**
 * Alertmanager's API v2 and the agent's /alerts routes on a real agent (in-process, real engine,
 * real sockets), driven by the real amtool 0.25 (Debian's; CI installs it), by fetch in
 * Prometheus' form, and by the CLI as child processes. Everything that talks to the agent runs
 * asynchronously: the agent answers from this process's event loop.
 */

const TOKEN = 'api-test-token-0123456789';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion without blocking the event loop the agent answers on. */
function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: REPO, env: { ...process.env, ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let dir: string;
let agent: Agent;
let url: string;
let httpConfig: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'praxis-am-api-'));
  const file = path.join(dir, 'agent.config.yaml');
  writeFileSync(
    file,
    `agent:
  name: api-test
http:
  host: 127.0.0.1
  port: 0
  auth_token: ${TOKEN}
alerting:
  rules:
    - event: system.error
      match: { component: slow }
      for: 1h
  route:
    receiver: team
    group_by: [alertname]
    routes:
      - matchers: ['severity="page"']
        receiver: pager
        continue: true
  receivers:
    - name: team
    - name: pager
  inhibit_rules:
    - source_matchers: ['alertname="Outage"']
      target_matchers: ['alertname="Symptom"']
`,
  );
  httpConfig = path.join(dir, 'amtool-http.yml');
  writeFileSync(httpConfig, `authorization:\n  type: Bearer\n  credentials: ${TOKEN}\n`);
  agent = new Agent(loadConfig(file), { logger: silentLogger() });
  await agent.start();
  url = agent.adminUrl as string;
});

afterAll(async () => {
  await agent.stop();
  rmSync(dir, { recursive: true, force: true });
});

const auth = { authorization: `Bearer ${TOKEN}` };

function amtool(args: readonly string[], withToken = true): Promise<Run> {
  return run('amtool', [`--alertmanager.url=${url}`, '--no-version-check', ...(withToken ? [`--http.config.file=${httpConfig}`] : []), ...args]);
}

async function amtoolJson<T>(args: readonly string[]): Promise<T> {
  const result = await amtool(['-o', 'json', ...args]);
  expect(result).toMatchObject({ code: 0, stderr: '' });
  return JSON.parse(result.stdout) as T;
}

function praxis(args: readonly string[], env: NodeJS.ProcessEnv = { PRAXIS_TOKEN: TOKEN }): Promise<Run> {
  return run(process.execPath, [BIN, ...args, '--url', url], env);
}

/** A request with the bearer token. */
function api(pathname: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${url}${pathname}`, { ...init, headers: { ...auth, ...(init.headers as Record<string, string> | undefined) } });
}

async function post(pathname: string, body: unknown, headers: Record<string, string> = auth): Promise<Response> {
  return fetch(`${url}${pathname}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

interface AmAlert {
  labels: Record<string, string>;
  fingerprint: string;
  receivers: { name: string }[];
  status: { state: string; silencedBy: string[]; inhibitedBy: string[] };
}
interface AmSilence {
  id: string;
  status: { state: string };
  matchers: { name: string; value: string; isRegex: boolean; isEqual: boolean }[];
  createdBy: string;
  comment: string;
}

describe('amtool against the agent', () => {
  it('reads the routing tree from the running agent (config.original is Alertmanager YAML) and tests routes on it', async () => {
    const tree = await amtool(['config', 'routes']);
    expect(tree).toMatchObject({ code: 0, stderr: '' });
    expect(tree.stdout).toContain('team');
    expect(tree.stdout).toContain('pager');
    const routed = await amtool(['config', 'routes', 'test', 'severity=page']);
    expect(routed).toMatchObject({ code: 0, stdout: 'pager\n' });
  });

  test('alert add, then alert query shows it (simple and JSON output)', async () => {
    const added = await amtool(['alert', 'add', 'DiskFull', 'host=db1', 'severity=page', '--annotation=summary=disk is full']);
    expect(added).toMatchObject({ code: 0, stderr: '' });
    const simple = await amtool(['alert', 'query', 'alertname=DiskFull']);
    expect(simple.code).toBe(0);
    const lines = simple.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^Alertname\s+Starts At\s+Summary\s+State/);
    expect(lines.slice(1)).toEqual([expect.stringMatching(/^DiskFull\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\s+disk is full\s+active\s*$/)]);
    const [alert] = await amtoolJson<AmAlert[]>(['alert', 'query', 'alertname=DiskFull']);
    expect(alert).toMatchObject({ labels: { alertname: 'DiskFull', host: 'db1', severity: 'page' }, receivers: [{ name: 'pager' }], status: { state: 'active', silencedBy: [], inhibitedBy: [] } });
  });

  test('silence add returns an id; silence query lists it; the alert is then shown with --silenced only, suppressed', async () => {
    await amtool(['alert', 'add', 'Silenced', 'host=db2']);
    const added = await amtool(['silence', 'add', 'alertname=Silenced', '-d', '1h', '-c', 'maintenance', '-a', 'ann']);
    expect(added.code).toBe(0);
    const id = added.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    const query = await amtool(['silence', 'query']);
    expect(query.stdout).toMatch(new RegExp(`^${id}\\s+alertname="Silenced"\\s+.*\\s+ann\\s+maintenance`, 'm'));
    const [silence] = await amtoolJson<AmSilence[]>(['silence', 'query', 'alertname=Silenced']);
    expect(silence).toMatchObject({ id, status: { state: 'active' }, createdBy: 'ann', comment: 'maintenance', matchers: [{ name: 'alertname', value: 'Silenced', isRegex: false, isEqual: true }] });

    // amtool alert query (no flag) shows active alerts only: the silenced one is not among them.
    const active = await amtoolJson<AmAlert[]>(['alert', 'query']);
    expect(active.map((a) => a.labels.alertname)).not.toContain('Silenced');
    const silenced = await amtoolJson<AmAlert[]>(['alert', 'query', '--silenced']);
    expect(silenced.map((a) => [a.labels.alertname, a.status.state, a.status.silencedBy])).toEqual([['Silenced', 'suppressed', [id]]]);
    const simple = await amtool(['alert', 'query', '--silenced']);
    expect(simple.stdout).toMatch(/^Silenced\s+.*\s+suppressed\s*$/m);

    const expired = await amtool(['silence', 'expire', id]);
    expect(expired).toMatchObject({ code: 0, stderr: '' });
    expect((await amtool(['silence', 'query', '-q'])).stdout).not.toContain(id);
    expect((await amtool(['silence', 'query', '--expired', '-q'])).stdout.trim().split('\n')).toContain(id);
    const after = await amtoolJson<AmAlert[]>(['alert', 'query', 'alertname=Silenced']);
    expect(after.map((a) => a.status.state)).toEqual(['active']);
  });

  test('an inhibited alert: --inhibited shows it suppressed with the source fingerprint', async () => {
    await amtool(['alert', 'add', 'Outage', 'site=a']);
    await amtool(['alert', 'add', 'Symptom', 'site=a']);
    const [outage] = await amtoolJson<AmAlert[]>(['alert', 'query', 'alertname=Outage']);
    const inhibited = await amtoolJson<AmAlert[]>(['alert', 'query', '--inhibited', 'alertname=Symptom']);
    expect(inhibited.map((a) => a.status)).toEqual([{ state: 'suppressed', silencedBy: [], inhibitedBy: [outage.fingerprint] }]);
  });

  test('without the token amtool can neither add, silence, nor query (401)', async () => {
    for (const args of [['alert', 'add', 'NoToken'], ['silence', 'add', 'alertname=x', '-c', 'c'], ['alert', 'query'], ['silence', 'query']]) {
      const result = await amtool(args, false);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain('status 401');
    }
    expect(await amtoolJson<AmAlert[]>(['alert', 'query', 'alertname=NoToken'])).toEqual([]);
  });

  test('silence expire of an unknown id fails', async () => {
    const result = await amtool(['silence', 'expire', '00000000-0000-4000-8000-000000000000']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/404|not found/i);
  });
});

describe('POST /api/v2/alerts as Prometheus sends it', () => {
  test("a JSON array with nanosecond times and an offset; the alert is listed with Prometheus' times and generatorURL", async () => {
    const now = Date.now();
    const startsAt = new Date(now - 60_000).toISOString().replace('Z', '123456+00:00');
    const endsAt = new Date(now + 240_000).toISOString().replace('Z', '123456+00:00');
    const response = await post('/api/v2/alerts', [{ labels: { alertname: 'HighLatency', job: 'api', instance: 'a:9090' }, annotations: { summary: 'p99 > 1s' }, startsAt, endsAt, generatorURL: 'http://prometheus:9090/graph?g0.expr=x' }]);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
    const listed = (await (await api(`/api/v2/alerts?filter=${encodeURIComponent('alertname="HighLatency"')}`)).json()) as Record<string, unknown>[];
    expect(listed).toEqual([
      expect.objectContaining({
        labels: { alertname: 'HighLatency', job: 'api', instance: 'a:9090' },
        annotations: { summary: 'p99 > 1s' },
        generatorURL: 'http://prometheus:9090/graph?g0.expr=x',
        startsAt: new Date(Date.parse(startsAt)).toISOString(),
        endsAt: new Date(Date.parse(endsAt)).toISOString(),
        receivers: [{ name: 'team' }],
      }),
    ]);
    const groups = (await (await api(`/api/v2/alerts/groups?filter=${encodeURIComponent('alertname="HighLatency"')}`)).json()) as { labels: unknown; receiver: unknown; alerts: unknown[] }[];
    expect(groups).toEqual([{ labels: { alertname: 'HighLatency' }, receiver: { name: 'team' }, alerts: [expect.objectContaining({ fingerprint: (listed[0] as { fingerprint: string }).fingerprint })] }]);
  });

  test('invalid alerts: 400 with their problems as a JSON string; the valid ones are still taken', async () => {
    const response = await post('/api/v2/alerts', [{ labels: {} }, { labels: { alertname: 'Valid1' } }, { labels: { 'bad-name': 'x' } }]);
    expect(response.status).toBe(400);
    const message = (await response.json()) as string;
    expect(message).toContain('alert 0 {}: at least one label pair required');
    expect(message).toContain('alert 2 {"bad-name":"x"}: invalid label set: "bad-name" is not a valid label name');
    const listed = (await (await api(`/api/v2/alerts?filter=alertname%3DValid1`)).json()) as unknown[];
    expect(listed).toHaveLength(1);
  });

  test.each([
    ['not an array', { labels: { a: 'b' } }, /invalid alerts: \(body\): .*array/],
    ['a label value that is not a string', [{ labels: { a: 1 } }], /invalid alerts: 0\.labels\.a: /],
    ['a time that is not RFC 3339', [{ labels: { a: 'b' }, startsAt: 'yesterday' }], /invalid alerts: 0\.startsAt: /],
    ['invalid JSON', '[{', /request body is not valid JSON/],
  ])('%s: 400 naming the problem', async (_name, body, message) => {
    const response = await post('/api/v2/alerts', body);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatch(message);
  });

  test('without the bearer token: 401; another content type: 415', async () => {
    expect((await post('/api/v2/alerts', [{ labels: { a: 'b' } }], {})).status).toBe(401);
    const form = await fetch(`${url}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth }, body: 'a=b' });
    expect(form.status).toBe(415);
    expect(await form.json()).toMatch(/send application\/json/);
  });
});

describe('silences over HTTP', () => {
  const future = (ms: number) => new Date(Date.now() + ms).toISOString();
  const silenceBody = (extra: Record<string, unknown> = {}) => ({ matchers: [{ name: 'alertname', value: 'X', isRegex: false }], startsAt: future(0), endsAt: future(3_600_000), createdBy: 'me', comment: 'c', ...extra });

  test('create, get, update in place, expire; GET filters by exact matcher', async () => {
    const created = await post('/api/v2/silences', silenceBody());
    expect(created.status).toBe(200);
    const { silenceID } = (await created.json()) as { silenceID: string };
    const got = (await (await api(`/api/v2/silence/${silenceID}`)).json()) as AmSilence & { startsAt: string };
    expect(got).toMatchObject({ id: silenceID, status: { state: 'active' }, matchers: [{ name: 'alertname', value: 'X', isRegex: false, isEqual: true }] });
    const updated = await post('/api/v2/silences', silenceBody({ id: silenceID, startsAt: got.startsAt, comment: 'longer', endsAt: future(7_200_000) }));
    expect(await updated.json()).toEqual({ silenceID });
    const filtered = (await (await api(`/api/v2/silences?filter=${encodeURIComponent('alertname="X"')}`)).json()) as AmSilence[];
    expect(filtered.map((s) => [s.id, s.comment])).toContainEqual([silenceID, 'longer']);
    expect((await (await api(`/api/v2/silences?filter=${encodeURIComponent('alertname=~"X"')}`)).json()) as unknown[]).toEqual([]);
    const deleted = await api(`/api/v2/silence/${silenceID}`, { method: 'DELETE', headers: auth });
    expect(deleted.status).toBe(200);
    expect(((await (await api(`/api/v2/silence/${silenceID}`)).json()) as AmSilence).status.state).toBe('expired');
  });

  test.each([
    ['no matchers', { matchers: [] }, 400, /matchers: at least one matcher required/],
    ['a matcher without isRegex', { matchers: [{ name: 'a', value: 'b' }] }, 400, /matchers\.0\.isRegex/],
    ['end before start', { endsAt: future(-1000), startsAt: future(1000) }, 400, /start time must be before end time/],
    ['only matchers matching everything', { matchers: [{ name: 'a', value: '.*', isRegex: true }] }, 400, /at least one matcher must not match the empty string/],
    ['an unknown id', { id: '00000000-0000-4000-8000-000000000000' }, 404, /not found/],
  ])('%s: %s naming it', async (_name, extra, status, message) => {
    const response = await post('/api/v2/silences', silenceBody(extra));
    expect(response.status).toBe(status);
    expect(await response.json()).toMatch(message);
  });

  test('unknown silence id: 404 on GET and DELETE; an id that is not a UUID: 400; DELETE needs the token', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    const get = await api(`/api/v2/silence/${unknown}`);
    expect([get.status, await get.json()]).toEqual([404, `silence ${unknown} not found`]);
    const del = await api(`/api/v2/silence/${unknown}`, { method: 'DELETE', headers: auth });
    expect(del.status).toBe(404);
    const bad = await api(`/api/v2/silence/nope`);
    expect([bad.status, await bad.json()]).toEqual([400, 'silenceID in path must be of type uuid: "nope"']);
    expect((await fetch(`${url}/api/v2/silence/${unknown}`, { method: 'DELETE' })).status).toBe(401);
  });

  test('bad filter and bad booleans: 400 naming them', async () => {
    const filter = await api(`/api/v2/silences?filter=${encodeURIComponent('bad-name=x')}`);
    expect([filter.status, await filter.json()]).toEqual([400, expect.stringContaining('bad filter "bad-name=x"')]);
    const bool = await api(`/api/v2/alerts?active=maybe`);
    expect([bool.status, await bool.json()]).toEqual([400, 'active in query must be of type boolean: "maybe"']);
    const receiver = await api(`/api/v2/alerts/groups?receiver=(`);
    expect([receiver.status, await receiver.json()]).toEqual([400, expect.stringContaining('failed to parse receiver param')]);
  });
});

test('status and receivers', async () => {
  const status = (await (await api(`/api/v2/status`)).json()) as { cluster: unknown; versionInfo: { version: string }; config: { original: string }; uptime: string };
  expect(status.cluster).toEqual({ status: 'disabled', peers: [] });
  expect(status.versionInfo.version).toMatch(/^\d+\.\d+\.\d+/);
  expect(status.config.original).toContain('receiver: team');
  expect(Date.parse(status.uptime)).not.toBeNaN();
  expect(await (await api(`/api/v2/receivers`)).json()).toEqual([{ name: 'team' }, { name: 'pager' }]);
  // amtool reads the configuration through the status.
  const config = await amtool(['config', 'show']);
  expect(config.stdout).toContain('receiver: team');
});

describe("the agent's /alerts routes", () => {
  test('GET /alerts shows pending alerts too (not in API v2), with ?state=', async () => {
    await agent.bus.publish('system.error', { severity: 'error', message: 'slow disk', component: 'slow', error_code: 'SlowDisk' });
    await agent.bus.idle();
    const all = (await (await api(`/alerts?state=pending`)).json()) as { alerts: { alert: { state: string; labels: Record<string, string>; startsAt: string } }[] };
    expect(all.alerts.map((a) => [a.alert.labels.alertname, a.alert.state])).toEqual([['SlowDisk', 'pending']]);
    expect(Date.parse(all.alerts[0].alert.startsAt)).not.toBeNaN();
    const v2 = (await (await api(`/api/v2/alerts?filter=alertname%3DSlowDisk`)).json()) as unknown[];
    expect(v2).toEqual([]);
    // Reads need the token too: alerts are as sensitive as GET /events.
    expect((await fetch(`${url}/alerts`)).status).toBe(401);
    expect((await fetch(`${url}/api/v2/status`)).status).toBe(401);
    const bad = await api(`/alerts?state=active`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: expect.objectContaining({ code: 'ALERT_BAD_QUERY', message: expect.stringContaining('"active"') }) });
  });

  test('POST /alerts/{fp}/ack: 200 with the acknowledgement; 404 unknown; 400 not firing or a bad body; 401 without the token', async () => {
    await post('/api/v2/alerts', [{ labels: { alertname: 'AckMe' } }]);
    const [alert] = (await (await api(`/api/v2/alerts?filter=alertname%3DAckMe`)).json()) as AmAlert[];
    const acked = await post(`/alerts/${alert.fingerprint}/ack`, { by: 'ann', comment: 'on it', duration: '2h' });
    expect(acked.status).toBe(200);
    const view = (await acked.json()) as { alert: { fingerprint: string }; acknowledgement: { by: string; comment: string; expiresAt: string } };
    expect(view).toMatchObject({ alert: { fingerprint: alert.fingerprint }, acknowledgement: { by: 'ann', comment: 'on it' } });
    expect(Date.parse(view.acknowledgement.expiresAt) - Date.now()).toBeGreaterThan(7_100_000);
    const listed = (await (await api(`/alerts?state=firing`)).json()) as { alerts: { alert: { fingerprint: string }; acknowledgement?: { by: string } }[] };
    expect(listed.alerts.find((a) => a.alert.fingerprint === alert.fingerprint)?.acknowledgement?.by).toBe('ann');

    const unknown = await post('/alerts/0123456789abcdef/ack', { by: 'ann' });
    expect([unknown.status, ((await unknown.json()) as { error: { code: string } }).error.code]).toEqual([404, 'ALERT_NOT_FOUND']);
    const [pending] = ((await (await api(`/alerts?state=pending`)).json()) as { alerts: { alert: { fingerprint: string } }[] }).alerts;
    const notFiring = await post(`/alerts/${pending.alert.fingerprint}/ack`, { by: 'ann' });
    expect([notFiring.status, ((await notFiring.json()) as { error: { code: string } }).error.code]).toEqual([400, 'ALERT_INVALID']);
    const badBody = await post(`/alerts/${alert.fingerprint}/ack`, { comment: 'who?' });
    expect(badBody.status).toBe(400);
    expect(((await badBody.json()) as { error: { message: string } }).error.message).toContain('acknowledgement by:');
    expect((await post(`/alerts/${alert.fingerprint}/ack`, { by: 'ann' }, {})).status).toBe(401);
    expect((await post(`/alerts/${alert.fingerprint}/nack`, { by: 'ann' })).status).toBe(404);
  });
});

describe('the CLI against the running agent (child processes)', () => {
  test('alert list: a table, --json, --state; a bad state exits 1 naming it', async () => {
    await post('/api/v2/alerts', [{ labels: { alertname: 'CliAlert', host: 'h1' } }]);
    const table = await praxis(['alert', 'list', '--state', 'firing']);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^FINGERPRINT\s+STATE\s+STARTS AT\s+RECEIVERS\s+MUTED\s+LABELS$/);
    expect(table.stdout).toMatch(/^[0-9a-f]{16}\s+firing\s+\S+\s+team\s+-\s+\{alertname="CliAlert", host="h1"\}$/m);
    const json = JSON.parse((await praxis(['alert', 'list', '--json'])).stdout) as { alert: { labels: Record<string, string>; state: string } }[];
    expect(json.some((a) => a.alert.labels.alertname === 'CliAlert' && a.alert.state === 'firing')).toBe(true);
    expect(json.some((a) => a.alert.state === 'pending')).toBe(true);
    const bad = await praxis(['alert', 'list', '--state', 'bogus']);
    expect(bad).toMatchObject({ code: 1, stdout: '' });
    expect(bad.stderr).toContain('ALERT_BAD_QUERY: state: unknown alert state "bogus"');
  });

  test('alert ack: prints who and until when; an unknown fingerprint exits 1 with ALERT_NOT_FOUND; no token: 401', async () => {
    await post('/api/v2/alerts', [{ labels: { alertname: 'CliAck' } }]);
    const [alert] = (await (await api(`/api/v2/alerts?filter=alertname%3DCliAck`)).json()) as AmAlert[];
    const acked = await praxis(['alert', 'ack', alert.fingerprint, '--comment', 'looking', '--expires', '2h', '--author', 'bob']);
    expect(acked).toMatchObject({ code: 0, stderr: '' });
    expect(acked.stdout).toMatch(new RegExp(`^acknowledged ${alert.fingerprint} \\{alertname="CliAck"\\} by bob until \\d{4}-`));
    const unknown = await praxis(['alert', 'ack', '0123456789abcdef', '--author', 'bob']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('ALERT_NOT_FOUND');
    const noToken = await praxis(['alert', 'ack', alert.fingerprint, '--author', 'bob'], {});
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain('HTTP_UNAUTHORIZED');
    const badExpiry = await praxis(['alert', 'ack', alert.fingerprint, '--expires', 'soon']);
    expect(badExpiry.code).toBe(2);
    expect(badExpiry.stderr).toContain('--expires: not a positive duration: "soon"');
  });

  test('alert silence add / query / expire, as amtool does them', async () => {
    const added = await praxis(['alert', 'silence', 'add', 'CliSilenced', 'host=~"h.*"', '--duration', '2h', '--comment', 'deploy', '--author', 'ann']);
    expect(added).toMatchObject({ code: 0, stderr: '' });
    const id = added.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    // The same silence through amtool: same matchers, author, comment.
    const [seen] = await amtoolJson<AmSilence[]>(['silence', 'query', 'alertname=CliSilenced']);
    expect(seen).toMatchObject({ id, createdBy: 'ann', comment: 'deploy', matchers: [{ name: 'alertname', value: 'CliSilenced', isRegex: false, isEqual: true }, { name: 'host', value: 'h.*', isRegex: true, isEqual: true }] });

    const query = await praxis(['alert', 'silence', 'query', 'alertname=CliSilenced']);
    expect(query.code).toBe(0);
    expect(query.stdout).toMatch(new RegExp(`^${id}\\s+alertname="CliSilenced" host=~"h\\.\\*"\\s+active\\s+\\S+\\s+\\S+\\s+ann\\s+deploy$`, 'm'));
    const json = JSON.parse((await praxis(['alert', 'silence', 'query', '--json', 'alertname=CliSilenced'])).stdout) as AmSilence[];
    expect(json.map((s) => s.id)).toEqual([id]);

    const expired = await praxis(['alert', 'silence', 'expire', id, '00000000-0000-4000-8000-000000000000']);
    expect(expired.code).toBe(1);
    expect(expired.stdout).toBe(`expired ${id}\n`);
    expect(expired.stderr).toContain('HTTP 404: silence 00000000-0000-4000-8000-000000000000 not found');
    expect((await praxis(['alert', 'silence', 'query', '-q', 'alertname=CliSilenced'])).stdout).toBe('');
    expect((await praxis(['alert', 'silence', 'query', '--expired', '-q', 'alertname=CliSilenced'])).stdout.trim()).toBe(id);
  });

  test.each([
    [['alert', 'silence', 'add', 'a=b'], /--comment is required/],
    [['alert', 'silence', 'add', 'a=b', '-c', 'x', '-d', '0'], /--duration: not a positive duration: "0"/],
    [['alert', 'silence', 'add', 'a=b', 'msg="x'], /unescaped double quote/],
    [['alert', 'silence', 'query', 'a=b', 'bad-name=x'], /bad matcher format/],
  ])('%j exits 2: %s', async (args, message) => {
    const result = await praxis(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  test('an agent that is not there: exit 1 naming the URL', async () => {
    const result = await run(process.execPath, [BIN, 'alert', 'list', '--url', 'http://127.0.0.1:9']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cannot reach praxis-agent at http://127.0.0.1:9/alerts');
  });
});

describe('mounting on an admin server', () => {
  test('the routes answer once mounted, a body over the limit is a 413 JSON string, and unmounting removes every route', async () => {
    // The running agent's engine, mounted once more on an admin server of its own.
    const engine = agent.alerting as NonNullable<typeof agent.alerting>;
    const clock = new SystemClock();
    const bus = new EventBus(new EventRegistry(), clock);
    const server = new AdminServer({ host: '127.0.0.1', port: 0, body_limit: 1_000_000 }, { bus, logger: silentLogger(), plugins: () => [], ready: () => true, stats: () => ({}) });
    const base = await server.start();
    try {
      const unmountV2 = mountAlertmanagerApi(server, engine, { version: '9.9.9', bodyLimit: 64 });
      const unmountOwn = mountAlertRoutes(server, engine, { clock });
      expect(await (await fetch(`${base}/api/v2/receivers`)).json()).toEqual([{ name: 'team' }, { name: 'pager' }]);
      expect(((await (await fetch(`${base}/api/v2/status`)).json()) as { versionInfo: { version: string } }).versionInfo.version).toBe('9.9.9');
      const big = await fetch(`${base}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ labels: { alertname: 'x'.repeat(100) } }]) });
      expect([big.status, await big.json()]).toEqual([413, 'request body exceeds http.body_limit (64 bytes)']);
      expect((await fetch(`${base}/alerts`)).status).toBe(200);
      unmountV2();
      unmountOwn();
      for (const pathname of ['/api/v2/receivers', '/api/v2/alerts', '/api/v2/silences', '/api/v2/silence/00000000-0000-4000-8000-000000000000', '/alerts']) {
        expect([pathname, (await fetch(`${base}${pathname}`)).status]).toEqual([pathname, 404]);
      }
      // The CLI against an agent without the routes says what is probably missing.
      const list = await run(process.execPath, [BIN, 'alert', 'list', '--url', base]);
      expect(list.code).toBe(1);
      expect(list.stderr).toContain('HTTP_NOT_FOUND: no endpoint /alerts (the agent has no alerting: section in its config?)');
    } finally {
      await server.stop();
    }
  });
});
