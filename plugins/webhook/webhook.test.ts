import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import type { Notification } from 'praxis-agent';
import { createPluginHarness, FakeClock, runPluginConformance, selfSignedCert, waitFor, type PluginHarness } from 'praxis-agent/testing';
import { webhookConfigSchema } from './config';
import webhook, { type WebhookPlugin } from './index';

runPluginConformance(webhook, { config: { url: 'http://127.0.0.1:9/hook' } });

/** What the test server answers: a status (and headers), or nothing at all. */
type Answer = { status: number; headers?: Record<string, string> } | 'hang';

interface Recorded {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A real HTTP(S) server on 127.0.0.1 that records requests and answers as told. */
class Peer {
  readonly requests: Recorded[] = [];
  answer: Answer = { status: 200 };
  /** Connections of hung requests that were closed by the client. */
  closedHung = 0;
  private readonly server: http.Server;

  constructor(tls?: { key: Buffer; cert: Buffer }) {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        this.requests.push({ path: req.url ?? '', headers: req.headers, body });
        const answer = this.answer;
        if (answer === 'hang') {
          res.on('close', () => this.closedHung++);
          return;
        }
        res.writeHead(answer.status, answer.headers).end('{"ok":false,"detail":"from the test server"}');
      });
    };
    this.server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const notification: Notification = {
  receiver: 'db.oncall',
  groupKey: '{}/{team="db"}:{alertname="DiskFull"}',
  groupLabels: { alertname: 'DiskFull' },
  commonLabels: { alertname: 'DiskFull', team: 'db' },
  commonAnnotations: { runbook: 'https://runbooks/disk' },
  status: 'firing',
  alerts: [
    {
      status: 'firing',
      labels: { team: 'db', alertname: 'DiskFull', instance: 'db-1' },
      annotations: { summary: 'disk <95%> & rising', runbook: 'https://runbooks/disk' },
      startsAt: '2026-11-30T10:00:00.000Z',
      fingerprint: '1a2b3c4d5e6f7a8b',
      generatorURL: 'http://prometheus/graph?g0.expr=disk&g0.tab=1',
      acknowledgement: { by: 'alice', comment: 'on it', at: '2026-11-30T10:05:00.000Z', expiresAt: '2026-11-30T11:05:00.000Z' },
    },
    {
      status: 'resolved',
      labels: { alertname: 'DiskFull', instance: 'db-2', team: 'db', zone: 'a' },
      annotations: { runbook: 'https://runbooks/disk' },
      startsAt: '2026-11-30T09:00:00.250Z',
      endsAt: '2026-11-30T09:30:00.000Z',
      fingerprint: 'ffeeddccbbaa9988',
    },
  ],
  truncatedAlerts: 2,
  reminder: false,
  reason: 'new_alerts_in_group',
  timestamp: '2026-11-30T10:06:00.000Z',
  recentChanges: [{ at: '2026-11-30T09:55:00.000Z', config_path: 'db.max_connections', old_value: 100, new_value: 10, changed_by: 'deploy' }],
};

const SECRETS = ['s3cr3t-path-token', 's3cr3t-query', 's3cr3t-header', 's3cr3t-bearer', 's3cr3t-password'];

let dir: string;
let tls: { key: Buffer; cert: Buffer; certFile: string };
const harnesses: PluginHarness[] = [];
const peers: Peer[] = [];
let logs: string[] = [];

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'praxis-webhook-'));
  tls = selfSignedCert({ dir });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.stop();
  for (const p of peers.splice(0)) await p.stop();
  logs = [];
});

async function peer(withTls = false): Promise<Peer> {
  const p = await new Peer(withTls ? { key: tls.key, cert: tls.cert } : undefined).start();
  peers.push(p);
  return p;
}

async function sink(config: Record<string, unknown>, clock = new FakeClock(Date.now())): Promise<{ plugin: WebhookPlugin; h: PluginHarness; clock: FakeClock }> {
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => logs.push(chunk.toString('utf8')));
  const h = createPluginHarness(webhook, { config, clock, logger: pino({ level: 'trace' }, stream) });
  harnesses.push(h);
  await h.start();
  return { plugin: h.instance as unknown as WebhookPlugin, h, clock };
}

function file(name: string, content: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
}

/** A named pipe nobody writes to: reading it blocking would hang the start. */
function fifo(name: string): string {
  const p = path.join(dir, name);
  execFileSync('mkfifo', [p]);
  return p;
}

const send = (plugin: WebhookPlugin, n: Notification = notification, signal = new AbortController().signal) => plugin.send(n, signal);

describe('the message', () => {
  it("is Alertmanager's webhook JSON, with the agent's fields under keys Alertmanager does not use", async () => {
    const p = await peer();
    const { plugin } = await sink({ url: `http://127.0.0.1:${p.port}/hook`, external_url: 'http://agent:9780' });
    expect(await send(plugin)).toEqual({ outcome: 'delivered' });
    const [request] = p.requests;
    expect(request.path).toBe('/hook');
    expect(request.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request.body)).toEqual({
      receiver: 'db\\.oncall',
      status: 'firing',
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'DiskFull', instance: 'db-1', team: 'db' },
          annotations: { runbook: 'https://runbooks/disk', summary: 'disk <95%> & rising' },
          startsAt: '2026-11-30T10:00:00Z',
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'http://prometheus/graph?g0.expr=disk&g0.tab=1',
          fingerprint: '1a2b3c4d5e6f7a8b',
          acknowledgement: { by: 'alice', comment: 'on it', at: '2026-11-30T10:05:00.000Z', expiresAt: '2026-11-30T11:05:00.000Z' },
        },
        {
          status: 'resolved',
          labels: { alertname: 'DiskFull', instance: 'db-2', team: 'db', zone: 'a' },
          annotations: { runbook: 'https://runbooks/disk' },
          startsAt: '2026-11-30T09:00:00.25Z',
          endsAt: '2026-11-30T09:30:00Z',
          generatorURL: '',
          fingerprint: 'ffeeddccbbaa9988',
        },
      ],
      groupLabels: { alertname: 'DiskFull' },
      commonLabels: { alertname: 'DiskFull', team: 'db' },
      commonAnnotations: { runbook: 'https://runbooks/disk' },
      externalURL: 'http://agent:9780',
      version: '4',
      groupKey: '{}/{team="db"}:{alertname="DiskFull"}',
      truncatedAlerts: 2,
      recentChanges: [{ at: '2026-11-30T09:55:00.000Z', config_path: 'db.max_connections', old_value: 100, new_value: 10, changed_by: 'deploy' }],
    });
    // Go's json.Encoder: keys in Alertmanager's order, HTML characters escaped, a trailing newline.
    expect(Object.keys(JSON.parse(request.body) as object)).toEqual(['receiver', 'status', 'alerts', 'groupLabels', 'commonLabels', 'commonAnnotations', 'externalURL', 'version', 'groupKey', 'truncatedAlerts', 'recentChanges']);
    expect(request.body).toContain('"summary":"disk \\u003c95%\\u003e \\u0026 rising"');
    expect(request.body.endsWith('}\n')).toBe(true);
  });

  it("has exactly Alertmanager's fields with agent_fields: false", async () => {
    const p = await peer();
    const { plugin } = await sink({ url: `http://127.0.0.1:${p.port}/hook`, agent_fields: false });
    await send(plugin);
    const body = JSON.parse(p.requests[0].body) as { alerts: object[] };
    expect(Object.keys(body)).toEqual(['receiver', 'status', 'alerts', 'groupLabels', 'commonLabels', 'commonAnnotations', 'externalURL', 'version', 'groupKey', 'truncatedAlerts']);
    expect(Object.keys(body.alerts[0])).toEqual(['status', 'labels', 'annotations', 'startsAt', 'endsAt', 'generatorURL', 'fingerprint']);
  });

  it('holds at most max_alerts alerts, counts the rest, and has the status and common labels of the alerts it holds', async () => {
    const p = await peer();
    const { plugin } = await sink({ url: `http://127.0.0.1:${p.port}/hook`, max_alerts: 1 });
    await send(plugin, { ...notification, alerts: [notification.alerts[1], notification.alerts[0]] });
    const body = JSON.parse(p.requests[0].body) as { status: string; alerts: Array<{ fingerprint: string }>; truncatedAlerts: number; commonLabels: object };
    expect(body.alerts.map((a) => a.fingerprint)).toEqual(['ffeeddccbbaa9988']);
    expect(body.truncatedAlerts).toBe(3);
    expect(body.status).toBe('resolved');
    expect(body.commonLabels).toEqual({ alertname: 'DiskFull', instance: 'db-2', team: 'db', zone: 'a' });
  });
});

describe('answers', () => {
  it('retries a 500 with the pipeline’s backoff', async () => {
    const p = await peer();
    p.answer = { status: 500 };
    const { plugin } = await sink({ url: `http://127.0.0.1:${p.port}/hook` });
    expect(await send(plugin)).toEqual({ outcome: 'retry', afterMs: 0, reason: 'webhook answered HTTP 500' });
  });

  it('retries a 429 after its Retry-After', async () => {
    const p = await peer();
    p.answer = { status: 429, headers: { 'retry-after': '7' } };
    const { plugin } = await sink({ url: `http://127.0.0.1:${p.port}/hook` });
    expect(await send(plugin)).toEqual({ outcome: 'retry', afterMs: 7000, reason: 'webhook answered HTTP 429, Retry-After 7 s' });
  });

  it('reads a Retry-After date on the plugin’s clock', async () => {
    const p = await peer();
    const clock = new FakeClock(Date.UTC(2026, 10, 30, 12));
    p.answer = { status: 503, headers: { 'retry-after': new Date(clock.now() + 90_000).toUTCString() } };
    const { plugin } = await sink({ url: `http://127.0.0.1:${p.port}/hook` }, clock);
    expect(await send(plugin)).toMatchObject({ outcome: 'retry', afterMs: 90_000 });
  });

  it('gives up on a 400: the request itself is wrong', async () => {
    const p = await peer();
    p.answer = { status: 400 };
    const { plugin } = await sink({ url: `http://127.0.0.1:${p.port}/hook` });
    expect(await send(plugin)).toEqual({ outcome: 'permanent', reason: 'webhook answered HTTP 400' });
  });

  it('retries when nobody listens', async () => {
    const p = await peer();
    const port = p.port;
    await p.stop();
    peers.splice(peers.indexOf(p), 1);
    const { plugin } = await sink({ url: `http://127.0.0.1:${port}/hook` });
    expect(await send(plugin)).toEqual({ outcome: 'retry', afterMs: 0, reason: 'webhook request failed: ECONNREFUSED' });
  });

  it('lets the pipeline abort an attempt on a hung server through the signal', async () => {
    const p = await peer();
    p.answer = 'hang';
    const { plugin } = await sink({ url: `http://127.0.0.1:${p.port}/hook` });
    const controller = new AbortController();
    const result = send(plugin, notification, controller.signal);
    await waitFor(() => p.requests.length === 1, { what: 'the request at the server' });
    controller.abort();
    expect(await result).toEqual({ outcome: 'retry', afterMs: 0, reason: 'webhook request aborted (the attempt timed out or the agent is stopping)' });
    await waitFor(() => p.closedHung === 1, { what: 'the hung connection closed' });
  });

  it('does not start a request with an aborted signal', async () => {
    const p = await peer();
    const { plugin } = await sink({ url: `http://127.0.0.1:${p.port}/hook` });
    const controller = new AbortController();
    controller.abort();
    expect(await send(plugin, notification, controller.signal)).toMatchObject({ outcome: 'retry' });
    expect(p.requests).toEqual([]);
  });

  it('cuts a request off after its own timeout, on the plugin’s clock', async () => {
    const p = await peer();
    p.answer = 'hang';
    const { plugin, clock } = await sink({ url: `http://127.0.0.1:${p.port}/hook`, timeout: '3s' });
    const result = send(plugin);
    await waitFor(() => p.requests.length === 1, { what: 'the request at the server' });
    await clock.advance(2999);
    expect(p.closedHung).toBe(0);
    await clock.advance(1);
    expect(await result).toEqual({ outcome: 'retry', afterMs: 0, reason: 'webhook did not answer within 3000 ms' });
    await waitFor(() => p.closedHung === 1, { what: 'the hung connection closed' });
  });
});

describe('https', () => {
  it('trusts the certificate authority of ca_file', async () => {
    const p = await peer(true);
    const { plugin } = await sink({ url: `https://127.0.0.1:${p.port}/hook`, http_config: { tls_config: { ca_file: tls.certFile } } });
    expect(await send(plugin)).toEqual({ outcome: 'delivered' });
    expect(p.requests).toHaveLength(1);
  });

  it('refuses an untrusted certificate (retried: a certificate can be fixed), and insecure_skip_verify accepts it', async () => {
    const p = await peer(true);
    const strict = await sink({ url: `https://127.0.0.1:${p.port}/hook` });
    expect(await send(strict.plugin)).toEqual({ outcome: 'retry', afterMs: 0, reason: 'webhook request failed: DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(p.requests).toHaveLength(0);
    const lax = await sink({ url: `https://127.0.0.1:${p.port}/hook`, http_config: { tls_config: { insecure_skip_verify: true } } });
    expect(await send(lax.plugin)).toEqual({ outcome: 'delivered' });
  });

  it('checks the certificate against server_name when given', async () => {
    const p = await peer(true);
    const { plugin } = await sink({ url: `https://127.0.0.1:${p.port}/hook`, http_config: { tls_config: { ca_file: tls.certFile, server_name: 'other.example' } } });
    expect(await send(plugin)).toEqual({ outcome: 'retry', afterMs: 0, reason: 'webhook request failed: ERR_TLS_CERT_ALTNAME_INVALID' });
  });
});

describe('settings', () => {
  it('sends headers and the Authorization of credentials_file; reads url_file at start', async () => {
    const p = await peer();
    const url = file('url', `http://127.0.0.1:${p.port}/from-file\n`);
    const token = file('token', 'tok-123\n');
    const { plugin } = await sink({ url_file: url, headers: { 'X-Team': 'db' }, http_config: { authorization: { credentials_file: token } } });
    await send(plugin);
    expect(p.requests[0].path).toBe('/from-file');
    expect(p.requests[0].headers).toMatchObject({ 'x-team': 'db', authorization: 'Bearer tok-123' });
  });

  it('sends basic auth', async () => {
    const p = await peer();
    const { plugin } = await sink({ url: `http://127.0.0.1:${p.port}/hook`, http_config: { basic_auth: { username: 'am', password_file: file('pw', 'pw-1\n') } } });
    await send(plugin);
    expect(p.requests[0].headers.authorization).toBe(`Basic ${Buffer.from('am:pw-1').toString('base64')}`);
  });

  it('applies a receiver’s overrides, headers merged, and buckets each destination apart', async () => {
    const p = await peer();
    const { plugin } = await sink({
      url: `http://127.0.0.1:${p.port}/all`,
      headers: { 'X-A': '1' },
      receivers: { db: { url: `http://127.0.0.1:${p.port}/db`, max_alerts: 1, headers: { 'X-B': '2' } }, web: { max_alerts: 1 } },
    });
    await send(plugin, { ...notification, receiver: 'db' });
    await send(plugin, { ...notification, receiver: 'web' });
    await send(plugin, { ...notification, receiver: 'other' });
    expect(p.requests.map((r) => [r.path, (JSON.parse(r.body) as { alerts: unknown[] }).alerts.length, r.headers['x-a'], r.headers['x-b']])).toEqual([
      ['/db', 1, '1', '2'],
      ['/all', 1, '1', undefined],
      ['/all', 2, '1', undefined],
    ]);
    const keys = ['db', 'web', 'other'].map((receiver) => plugin.rateKey({ ...notification, receiver }));
    expect(keys[0]).not.toBe(keys[1]);
    expect(keys[1]).toBe(keys[2]);
    expect(keys.join(' ')).not.toContain(String(p.port));
  });

  it('answers permanent for a receiver without a url', async () => {
    const p = await peer();
    const { plugin } = await sink({ receivers: { db: { url: `http://127.0.0.1:${p.port}/db` } } });
    expect(await send(plugin, { ...notification, receiver: 'web' })).toEqual({ outcome: 'permanent', reason: 'webhook has no url for receiver "web" (set url, or receivers.web.url)' });
  });

  it.each([
    ['a missing url_file', () => ({ url_file: path.join(dir, 'nope') }), /url_file: cannot read .*nope \(no such file\)/, 'CONFIG_FILE_UNREADABLE'],
    ['an empty url_file', () => ({ url_file: file('empty', '\n') }), /url_file: cannot read .*empty \(empty: it holds no secret\)/, 'CONFIG_FILE_UNREADABLE'],
    ['a url_file that is a named pipe', () => ({ url_file: fifo('url-fifo') }), /url_file: cannot read .*url-fifo \(is a named pipe, not a regular file\)/, 'CONFIG_FILE_UNREADABLE'],
    ['a too large url_file', () => ({ url_file: file('big', 'x'.repeat(70_000)) }), /\(70000 bytes, 4464 over the limit of 65536\)/, 'CONFIG_FILE_UNREADABLE'],
    ['a missing ca_file', () => ({ url: 'https://127.0.0.1:9/x', http_config: { tls_config: { ca_file: path.join(dir, 'no-ca.pem') } } }), /http_config\.tls_config\.ca_file: cannot read .*no-ca\.pem \(no such file\)/, 'CONFIG_FILE_UNREADABLE'],
    ['a url_file without a URL', () => ({ url_file: file('bad-url', 'ftp://s3cr3t-path-token') }), /does not hold an http:\/\/ or https:\/\/ URL \(its content is not shown/, 'CONFIG_INVALID_VALUE'],
    ['a credentials_file of two words', () => ({ url: 'http://127.0.0.1:9/x', http_config: { authorization: { credentials_file: file('two-words', 's3cr3t one\n') } } }), /credentials_file: .*two-words must hold one value of visible ASCII/, 'CONFIG_INVALID_VALUE'],
  ])('fails to start on %s, never showing the content', async (_name, config, message, code) => {
    const h = createPluginHarness(webhook, { config: config() });
    harnesses.push(h);
    const error = await h.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String(error)).toMatch(message);
    expect((error as { cause?: { code?: string } }).cause?.code).toBe(code);
    expect(String(error)).not.toContain('s3cr3t');
  });
});

describe('secrets', () => {
  it('never appear in results or logs', async () => {
    const p = await peer();
    const url = `http://127.0.0.1:${p.port}/hook/s3cr3t-path-token?key=s3cr3t-query`;
    const config = { url, headers: { 'X-Token': 's3cr3t-header' }, http_config: { authorization: { credentials: 's3cr3t-bearer' } } };
    const { plugin } = await sink(config);
    const results = [];
    for (const answer of [{ status: 500 }, { status: 429, headers: { 'retry-after': '1' } }, { status: 401 }, { status: 200 }] as Answer[]) {
      p.answer = answer;
      results.push(await send(plugin));
    }
    const port = p.port;
    await p.stop();
    peers.splice(peers.indexOf(p), 1);
    results.push(await send(plugin));
    const basic = await sink({ url: `http://127.0.0.1:${port}/s3cr3t-path-token`, http_config: { basic_auth: { username: 'u', password: 's3cr3t-password' } } });
    results.push(await send(basic.plugin));
    expect(results.map((r) => r.outcome)).toEqual(['retry', 'retry', 'permanent', 'delivered', 'retry', 'retry']);
    expect(logs.length).toBeGreaterThan(0);
    const seen = JSON.stringify(results) + logs.join('');
    for (const secret of SECRETS) expect(seen).not.toContain(secret);
  });

  it('are not echoed by config errors', () => {
    const result = webhookConfigSchema.safeParse({ url: 'ftp://s3cr3t-path-token@host/' });
    expect(result.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['url', 'expected an http:// or https:// URL (the value is not shown: it may hold a secret)']]);
  });
});

describe('config', () => {
  const issues = (config: unknown): string[] => webhookConfigSchema.safeParse(config).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];

  it('needs a url', () => {
    expect(issues({})).toEqual(['url: missing: give url (e.g. url: ${WEBHOOK_URL}) or url_file, or one per entry of receivers']);
    expect(issues({ receivers: { db: { url: 'http://a/' } } })).toEqual([]);
    expect(issues({ receivers: { db: { url: 'http://a/' }, web: { max_alerts: 1 } } })).toHaveLength(1);
  });

  it('takes one of url and url_file, and refuses proxy_url clearly', () => {
    expect(issues({ url: 'http://a/', url_file: '/f' })).toEqual(['url_file: give at most one of url and url_file']);
    expect(issues({ url: 'http://a/', http_config: { proxy_url: 'http://proxy:3128' } })).toEqual([expect.stringMatching(/^http_config\.proxy_url: proxies are not supported yet/)]);
    expect(issues({ url: 'http://a/', http_config: { authorization: { type: 'Bearer' } } })).toEqual(['http_config.authorization: give exactly one of credentials and credentials_file']);
    expect(issues({ url: 'http://a/', http_config: { tls_config: { cert_file: '/c' } } })).toEqual(['http_config.tls_config.cert_file: cert_file and key_file go together']);
    expect(issues({ url: 'http://a/', headers: { 'X-A': 'one\r\ntwo' } })).toEqual([expect.stringMatching(/^headers\.X-A: .*line break/)]);
    expect(issues({ url: 'http://a/', colour: 'red' })).toEqual([expect.stringMatching(/colour/)]);
  });

  it('has defaults for everything but the URL (send_resolved is the plugin entry\'s delivery.send_resolved, applied by the pipeline)', () => {
    expect(webhookConfigSchema.parse({ url: 'http://a/' })).toMatchObject({ agent_fields: true, external_url: '', receivers: {} });
    expect(webhookConfigSchema.safeParse({ url: 'http://a/', send_resolved: false }).success).toBe(false);
  });
});

describe('the Alertmanager integration (webhook_configs)', () => {
  const am = webhook.sink?.alertmanager;
  const map = (entry: Record<string, unknown>, global: Record<string, unknown> = {}) => am?.toConfig(entry, { global, receiver: 'team' });

  it('is declared with the delivery defaults', () => {
    expect(webhook.sink?.delivery).toEqual({ timeout: 10_000, max_age: 3_600_000 });
    expect(am?.key).toBe('webhook_configs');
  });

  it('maps url, url_file, send_resolved, max_alerts and http_config into a config the sink accepts', () => {
    const result = map({
      url: 'https://hooks/x',
      send_resolved: false,
      max_alerts: 5,
      http_config: { tls_config: { ca_file: 'ca.pem', insecure_skip_verify: false }, bearer_token: 'tok', follow_redirects: false, enable_http2: true },
    });
    expect(result).toEqual({
      config: { url: 'https://hooks/x', send_resolved: false, max_alerts: 5, http_config: { tls_config: { ca_file: 'ca.pem', insecure_skip_verify: false }, authorization: { type: 'Bearer', credentials: 'tok' } } },
    });
    // send_resolved goes to the plugin entry's delivery settings (the loader takes it out); the rest is the sink's config.
    const { send_resolved: _sendResolved, ...sinkConfig } = (result as { config: Record<string, unknown> }).config;
    expect(webhookConfigSchema.safeParse(sinkConfig).success).toBe(true);
    const fromFile = map({ url_file: '/run/secrets/hook', http_config: { authorization: { type: 'Token', credentials_file: '/run/t' } } });
    expect(fromFile).toEqual({ config: { url_file: '/run/secrets/hook', http_config: { authorization: { type: 'Token', credentials_file: '/run/t' } } } });
    expect(webhookConfigSchema.safeParse((fromFile as { config: unknown }).config).success).toBe(true);
  });

  it('takes global.http_config when the entry has none, as Alertmanager does', () => {
    expect(map({ url: 'http://a/' }, { http_config: { basic_auth: { username: 'u', password: 'p' } } })).toEqual({ config: { url: 'http://a/', http_config: { basic_auth: { username: 'u', password: 'p' } } } });
    expect(map({ url: 'http://a/', http_config: {} }, { http_config: { bearer_token: 't' } })).toEqual({ config: { url: 'http://a/' } });
  });

  it('names each field it has no equivalent for', () => {
    const result = map({
      url: 'http://a/',
      message: 'x',
      http_config: { proxy_url: 'http://proxy:3128', oauth2: {}, follow_redirects: true, tls_config: { ca_file: 'ca', min_version: 'TLS13' } },
    });
    expect(result).toEqual({
      problems: [
        { path: ['message'], message: expect.stringMatching(/^webhook_configs field "message" has no equivalent in the webhook sink; supported: url, url_file/) },
        { path: ['http_config', 'proxy_url'], message: expect.stringMatching(/^http_config\.proxy_url is not supported yet/) },
        { path: ['http_config', 'oauth2'], message: expect.stringMatching(/^http_config\.oauth2 has no equivalent/) },
        { path: ['http_config', 'follow_redirects'], message: expect.stringMatching(/does not follow redirects/) },
        { path: ['http_config', 'tls_config', 'min_version'], message: expect.stringMatching(/^http_config\.tls_config\.min_version has no equivalent .*supported: ca_file/) },
      ],
    });
    expect(map({ url: 'http://a/' }, { http_config: { proxy_url: 'http://p/' } })).toEqual({
      problems: [{ path: ['http_config', 'proxy_url'], message: expect.stringMatching(/^http_config\.proxy_url \(from global\.http_config\) is not supported/) }],
    });
  });
});
