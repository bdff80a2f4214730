import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Agent } from '../src/agent/agent';
import { loadConfig } from '../src/config/loader';
import { silentLogger } from '../src/core/logger';
import { startAlertmanager, type RunningAlertmanager } from './helpers/alertmanager';

/**
 * The agent's API v2 against the real Alertmanager 0.25 (Debian's prometheus-alertmanager, which CI
 * installs) on the same alertmanager.yml: the same alerts and silence posted to both, then the same
 * queries must give the same answers (all but `updatedAt` and silence ids, which differ by nature).
 */

const CONFIG = `route:
  receiver: team
  group_by: [alertname]
  routes:
    - matchers: ['severity="page"']
      receiver: pager
      continue: true
    - matchers: ['host=~"db.*"']
      receiver: dba
receivers:
  - name: team
  - name: pager
  - name: dba
inhibit_rules:
  - source_matchers: ['alertname="Outage"']
    target_matchers: ['alertname="Symptom"']
    equal: [site]
`;

let dir: string;
let agent: Agent;
let alertmanager: RunningAlertmanager;
let ours: string;
let theirs: string;
/** Silence ids of each side, to compare `silencedBy` as the same name. */
const silenceNames = new Map<string, string>();

const SILENCE_DROP = ['updatedAt', 'startsAt'];
const now = Date.now();
const startsAt = new Date(now - 60_000).toISOString();
const endsAt = new Date(now + 3_600_000).toISOString();
const ALERTS = [
  { alertname: 'DiskFull', host: 'db1', severity: 'page' },
  { alertname: 'DiskFull', host: 'web1' },
  { alertname: 'Outage', site: 'a' },
  { alertname: 'Symptom', site: 'a' },
  { alertname: 'Symptom', site: 'b' },
  { alertname: 'Latency', job: 'api', instance: 'b:1' },
  { alertname: 'Latency', job: 'api', instance: 'a:1' },
  { alertname: 'Latency', instance: 'c:1' },
].map((labels) => ({ labels, annotations: { summary: `${labels.alertname} summary` }, startsAt, endsAt, generatorURL: 'http://prometheus/graph' }));

async function post(base: string, pathname: string, body: unknown): Promise<Response> {
  return fetch(`${base}${pathname}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function get(base: string, pathname: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${base}${pathname}`);
  return { status: response.status, body: await response.json() };
}

/**
 * An answer without what differs by nature: `updatedAt`, silence ids (named by the silence they
 * are), and for silences `startsAt` (a start in the past becomes the moment each side stored it).
 */
function normalize(value: unknown, drop: readonly string[] = ['updatedAt']): unknown {
  if (Array.isArray(value)) return value.map((v) => normalize(v, drop));
  if (typeof value === 'string') return silenceNames.get(value) ?? value;
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !drop.includes(key))
      .map(([key, v]) => [key, normalize(v, drop)]),
  );
}

/** Polls both until they agree (Alertmanager's dispatcher and inhibitor take alerts asynchronously); returns both answers. */
async function both(pathname: string, drop?: readonly string[]): Promise<[unknown, unknown]> {
  let a: { status: number; body: unknown } = { status: 0, body: undefined };
  let b: { status: number; body: unknown } = { status: 0, body: undefined };
  for (let attempt = 0; attempt < 60; attempt += 1) {
    [a, b] = await Promise.all([get(ours, pathname), get(theirs, pathname)]);
    // Key order differs between the two (Go sorts keys): compare structurally.
    if (isDeepStrictEqual(normalize(a, drop), normalize(b, drop))) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return [normalize(a, drop), normalize(b, drop)];
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'praxis-am-compare-'));
  const amFile = path.join(dir, 'alertmanager.yml');
  writeFileSync(amFile, CONFIG);
  const agentFile = path.join(dir, 'agent.config.yaml');
  writeFileSync(agentFile, `http:\n  host: 127.0.0.1\n  port: 0\nalerting:\n  config_file: ./alertmanager.yml\n`);
  alertmanager = await startAlertmanager(amFile, path.join(dir, 'am-data'));
  theirs = alertmanager.url;
  agent = new Agent(loadConfig(agentFile), { logger: silentLogger() });
  await agent.start();
  ours = agent.adminUrl as string;

  for (const base of [ours, theirs]) {
    const response = await post(base, '/api/v2/alerts', ALERTS);
    expect(response.status).toBe(200);
    const silence = await post(base, '/api/v2/silences', { matchers: [{ name: 'alertname', value: 'DiskFull', isRegex: false }, { name: 'host', value: 'web.*', isRegex: true }], startsAt, endsAt, createdBy: 'ann', comment: 'maintenance' });
    const { silenceID } = (await silence.json()) as { silenceID: string };
    silenceNames.set(silenceID, 'SILENCE-1');
  }
});

afterAll(async () => {
  await agent?.stop();
  await alertmanager?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('GET /api/v2/alerts: the same answer as Alertmanager 0.25', () => {
  // How many alerts each query lists: DiskFull{host=web1} is silenced, Symptom{site=a} inhibited.
  test.each([
    ['', 8],
    ['?silenced=false', 7],
    ['?inhibited=false', 7],
    ['?active=false', 2],
    // amtool alert query --silenced
    ['?active=false&silenced=true&inhibited=false&unprocessed=false', 1],
    // amtool alert query (no flag)
    ['?active=true&silenced=false&inhibited=false&unprocessed=false', 6],
    [`?filter=${encodeURIComponent('alertname="DiskFull"')}`, 2],
    [`?filter=${encodeURIComponent('host=~"db.*"')}&filter=${encodeURIComponent('severity!="x"')}`, 1],
    [`?filter=${encodeURIComponent('site=""')}`, 5],
    ['?receiver=dba', 1],
    [`?receiver=${encodeURIComponent('pager|dba')}`, 1],
    ['?receiver=te', 0],
  ])('%s (%d alerts)', async (query, count) => {
    const [agentAnswer, alertmanagerAnswer] = await both(`/api/v2/alerts${query}`);
    expect(agentAnswer).toEqual(alertmanagerAnswer);
    expect(agentAnswer).toMatchObject({ status: 200, body: { length: count } });
  });
});

describe('GET /api/v2/alerts/groups: the same groups, alerts and receivers', () => {
  test.each(['', '?receiver=team', '?silenced=false&inhibited=false', `?filter=${encodeURIComponent('alertname=~"Disk.*|Latency"')}`])('%s', async (query) => {
    const [agentAnswer, alertmanagerAnswer] = await both(`/api/v2/alerts/groups${query}`);
    expect(agentAnswer).toEqual(alertmanagerAnswer);
    expect((agentAnswer as { body: unknown[] }).body.length).toBeGreaterThan(0);
  });
});

describe('silences, status codes and receivers', () => {
  test('GET /api/v2/silences (with and without filter) and GET /api/v2/silence/{id}', async () => {
    for (const query of ['', `?filter=${encodeURIComponent('alertname="DiskFull"')}`, `?filter=${encodeURIComponent('host=~"web.*"')}`, `?filter=${encodeURIComponent('host="web.*"')}`]) {
      const [agentAnswer, alertmanagerAnswer] = await both(`/api/v2/silences${query}`, SILENCE_DROP);
      expect(agentAnswer).toEqual(alertmanagerAnswer);
    }
    const ids = [...silenceNames.keys()];
    const [a, b] = await Promise.all([get(ours, `/api/v2/silence/${ids[0]}`), get(theirs, `/api/v2/silence/${ids[1]}`)]);
    expect(normalize(a, SILENCE_DROP)).toEqual(normalize(b, SILENCE_DROP));
  });

  test.each([
    ['an alert without labels (the valid one is still taken)', '/api/v2/alerts', [{ labels: {} }, { labels: { alertname: 'AlsoValid' }, startsAt, endsAt }]],
    ['a silence ending before it starts', '/api/v2/silences', { matchers: [{ name: 'a', value: 'b', isRegex: false }], startsAt: endsAt, endsAt: startsAt, createdBy: 'x', comment: 'y' }],
    ['a silence matching everything', '/api/v2/silences', { matchers: [{ name: 'a', value: '.*', isRegex: true }], startsAt, endsAt, createdBy: 'x', comment: 'y' }],
    ['an update of an unknown silence', '/api/v2/silences', { id: '00000000-0000-4000-8000-000000000000', matchers: [{ name: 'a', value: 'b', isRegex: false }], startsAt, endsAt, createdBy: 'x', comment: 'y' }],
  ])('%s: the same status', async (_name, pathname, body) => {
    const [a, b] = await Promise.all([post(ours, pathname, body), post(theirs, pathname, body)]);
    expect(a.status).toBe(b.status);
    expect(typeof (await a.json())).toBe('string');
  });

  test('the alert posted beside an invalid one is listed by both', async () => {
    const [agentAnswer, alertmanagerAnswer] = await both(`/api/v2/alerts?filter=alertname%3DAlsoValid`);
    expect(agentAnswer).toEqual(alertmanagerAnswer);
    expect((agentAnswer as { body: unknown[] }).body).toHaveLength(1);
  });

  test('unknown silence and bad parameters: the same status codes', async () => {
    for (const pathname of ['/api/v2/silence/00000000-0000-4000-8000-000000000000', `/api/v2/alerts?filter=${encodeURIComponent('bad-name=x')}`, '/api/v2/alerts?receiver=(']) {
      const [a, b] = await Promise.all([get(ours, pathname).then((r) => r.status), fetch(`${theirs}${pathname}`).then((r) => r.status)]);
      expect([pathname, a]).toEqual([pathname, b]);
    }
  });

  test('receivers and the cluster status', async () => {
    const [receivers] = await both('/api/v2/receivers');
    expect((receivers as { body: unknown }).body).toEqual([{ name: 'team' }, { name: 'pager' }, { name: 'dba' }]);
    const [a, b] = await Promise.all([get(ours, '/api/v2/status'), get(theirs, '/api/v2/status')]);
    expect((a.body as { cluster: unknown }).cluster).toEqual({ status: 'disabled', peers: [] });
    expect(Object.keys(a.body as object).sort()).toEqual(Object.keys(b.body as object).sort());
    expect(Object.keys((a.body as { versionInfo: object }).versionInfo).sort()).toEqual(Object.keys((b.body as { versionInfo: object }).versionInfo).sort());
  });
});
