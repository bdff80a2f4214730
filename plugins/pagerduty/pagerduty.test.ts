import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import type { Notification, NotificationAlert, Notifier, SinkResult } from 'praxis-agent';
import { createPluginHarness, runPluginConformance, type PluginHarness } from 'praxis-agent/testing';
import pagerduty from './index';

const KEY = 'R0UT1NGKEYSECRET0123456789abcdef';
const OTHER_KEY = 'OTHERTEAMKEY0000000000000000beef';

runPluginConformance(pagerduty, { config: { routing_key: KEY } });

// --- a test CA and a server certificate it signed, made with the openssl CLI ---------------------

let dir: string;
let caFile: string;
let serverKey: Buffer;
let serverCert: Buffer;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pagerduty-test-'));
  const file = (name: string): string => path.join(dir, name);
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '1', '-subj', '/CN=praxis test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(file('ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('server.pem'), '-days', '1', '-extfile', file('ext'));
  caFile = file('ca.pem');
  serverKey = readFileSync(file('server.key'));
  serverCert = readFileSync(file('server.pem'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

// --- a PagerDuty stand-in: records every request, answers as told ---------------------------------

interface Recorded {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  raw: string;
}

type Answer = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

const ACCEPTED: Answer = { status: 202, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'success', message: 'Event processed', dedup_key: 'x' }) };

interface Peer {
  server: string;
  requests: Recorded[];
  /** Answers for the next requests, in order; then 202. */
  answers: Answer[];
  /** Called with each request once it is read. */
  onRequest?: (r: Recorded) => void;
  close(): Promise<void>;
}

async function startPeer(): Promise<Peer> {
  const hanging: ServerResponse[] = [];
  const peer: Peer = {
    server: '',
    requests: [],
    answers: [],
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = https.createServer({ key: serverKey, cert: serverCert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString();
      const recorded: Recorded = { path: req.url ?? '', headers: req.headers, body: JSON.parse(raw) as Record<string, unknown>, raw };
      peer.requests.push(recorded);
      const answer = peer.answers.shift() ?? ACCEPTED;
      peer.onRequest?.(recorded);
      if (answer === 'hang') return void hanging.push(res);
      res.writeHead(answer.status, answer.headers ?? {});
      res.end(answer.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  peer.server = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return peer;
}

// --- notifications ---------------------------------------------------------------------------------

function alert(labels: Record<string, string>, status: 'firing' | 'resolved' = 'firing', annotations: Record<string, string> = {}): NotificationAlert {
  const fingerprint = createHash('sha256').update(JSON.stringify(labels)).digest('hex').slice(0, 16);
  return { status, labels, annotations, startsAt: '2026-11-30T12:00:00.000Z', ...(status === 'resolved' && { endsAt: '2026-11-30T12:05:00.000Z' }), fingerprint };
}

function notification(overrides: Partial<Notification> = {}): Notification {
  const alerts = overrides.alerts ?? [
    alert({ alertname: 'DiskFull', service: 'db', instance: 'db-1', severity: 'warning' }, 'firing', { summary: 'disk full' }),
    alert({ alertname: 'DiskFull', service: 'db', instance: 'db-2', severity: 'critical' }, 'firing', { summary: 'disk full' }),
  ];
  return {
    receiver: 'ops',
    groupKey: '{}/{service="db"}:{alertname="DiskFull"}',
    groupLabels: { alertname: 'DiskFull' },
    commonLabels: { alertname: 'DiskFull', service: 'db' },
    commonAnnotations: { summary: 'disk full' },
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    alerts,
    truncatedAlerts: 0,
    reminder: false,
    reason: 'first_notification',
    timestamp: '2026-11-30T12:00:30.000Z',
    ...overrides,
  };
}

const groupDedupKey = (groupKey: string): string => createHash('sha256').update(groupKey).digest('hex');

// --- the sink under test -----------------------------------------------------------------------------

interface Sink {
  harness: PluginHarness;
  send(n: Notification, signal?: AbortSignal): Promise<SinkResult>;
  rateKey(n: Notification): string;
  logs(): string;
}

const harnesses: PluginHarness[] = [];
let peer: Peer;

beforeEach(async () => {
  peer = await startPeer();
});

afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.stop();
  await peer.close();
});

async function sink(config: Record<string, unknown> = {}): Promise<Sink> {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString()));
  const harness = createPluginHarness(pagerduty, { logger: pino({ level: 'debug' }, stream), config: { routing_key: KEY, server: peer.server, tls: { ca_file: caFile }, ...config } });
  harnesses.push(harness);
  await harness.start();
  const notifier = harness.instance as unknown as Notifier;
  return {
    harness,
    send: (n, signal = new AbortController().signal) => notifier.send(n, signal),
    rateKey: (n) => notifier.rateKey?.(n) ?? '',
    logs: () => chunks.join(''),
  };
}

/** The routing key appears in no reason and no log line. */
function expectNoKey(s: Sink, result: SinkResult): void {
  expect(JSON.stringify(result)).not.toContain(KEY);
  expect(s.logs()).not.toContain(KEY);
}

describe('pagerduty: events', () => {
  it('triggers one incident per group: routing key, dedup key, highest severity, summary, details with alerts and recent changes', async () => {
    const s = await sink({ client_url: 'https://agent.example/alerts' });
    const n = notification({
      truncatedAlerts: 3,
      recentChanges: [{ at: '2026-11-30T11:59:00.000Z', config_path: 'app.yaml#db.pool', old_value: 10, new_value: 1, changed_by: 'deploy' }],
    });
    expect(await s.send(n)).toEqual({ outcome: 'delivered' });
    expect(peer.requests).toHaveLength(1);
    const [req] = peer.requests;
    expect(req.path).toBe('/v2/enqueue');
    expect(req.headers['user-agent']).toMatch(/^pdjs\//);
    expect(req.body).toMatchObject({
      routing_key: KEY,
      event_action: 'trigger',
      dedup_key: groupDedupKey(n.groupKey),
      client: 'praxis-agent',
      client_url: 'https://agent.example/alerts',
      payload: {
        summary: '[FIRING:2] (+3 more) DiskFull (db): disk full',
        source: os.hostname(),
        severity: 'critical',
        timestamp: '2026-11-30T12:00:30.000Z',
        group: 'db',
        custom_details: {
          receiver: 'ops',
          status: 'firing',
          firing: 2,
          resolved: 0,
          truncated_alerts: 3,
          alerts: [
            { status: 'firing', labels: { instance: 'db-1', severity: 'warning' }, annotations: { summary: 'disk full' }, starts_at: '2026-11-30T12:00:00.000Z', fingerprint: n.alerts[0].fingerprint },
            { status: 'firing', labels: { instance: 'db-2', severity: 'critical' } },
          ],
          recent_changes: [{ config_path: 'app.yaml#db.pool', old_value: 10, new_value: 1, changed_by: 'deploy' }],
        },
      },
    });
  });

  it('cuts the summary at 1024 characters with "…" and redacts credentials in it', async () => {
    const s = await sink();
    const long = `see https://admin:hunter2@db.internal/ ${'x'.repeat(3000)}`;
    await s.send(notification({ commonAnnotations: { summary: long } }));
    const summary = (peer.requests[0].body.payload as { summary: string }).summary;
    expect(Array.from(summary)).toHaveLength(1024);
    expect(summary.endsWith('x…')).toBe(true);
    expect(summary).not.toContain('hunter2');
  });

  it('resolves and acknowledges the same incident, and a reminder triggers it again', async () => {
    const s = await sink();
    const firing = notification();
    const key = groupDedupKey(firing.groupKey);
    await s.send(firing);
    await s.send(notification({ reminder: true, reason: 'repeat_interval_elapsed' }));
    await s.send(notification({ reason: 'acknowledged', alerts: [firing.alerts[0]] }));
    const resolved = notification({ reason: 'all_alerts_resolved', alerts: firing.alerts.map((a) => ({ ...a, status: 'resolved' as const, endsAt: '2026-11-30T12:10:00.000Z' })) });
    expect(resolved.status).toBe('resolved');
    expect(await s.send(resolved)).toEqual({ outcome: 'delivered' });
    expect(peer.requests.map((r) => [r.body.event_action, r.body.dedup_key])).toEqual([
      ['trigger', key],
      ['trigger', key],
      ['acknowledge', key],
      ['resolve', key],
    ]);
    expect(peer.requests[1].body.payload).toMatchObject({ custom_details: { reminder: true } });
    // As Alertmanager: acknowledge and resolve name the incident, without a payload.
    expect(peer.requests[2].body).toEqual({ routing_key: KEY, event_action: 'acknowledge', dedup_key: key });
    expect(peer.requests[3].body).toEqual({ routing_key: KEY, event_action: 'resolve', dedup_key: key });
  });

  it('renders templated fields with the group, or with the alert alone in fingerprint mode', async () => {
    const templated = {
      summary: '{{ .CommonLabels.alertname }} on {{ len .Alerts }} host(s): {{ range .Alerts }}{{ .Labels.instance }} {{ end }}',
      source: '{{ .CommonLabels.service }}-cluster',
      severity: { template: '{{ if gt (len .Alerts) 1 }}P1{{ else }}{{ .CommonLabels.severity }}{{ end }}', map: { P1: 'critical' } },
      details: { hosts: '{{ len .Alerts }}', runbook: 'https://wiki.example/{{ .CommonLabels.alertname }}' },
      client: 'agent {{ .Receiver }}',
    };
    const s = await sink(templated);
    await s.send(notification());
    const perAlert = await sink({ ...templated, dedup_key: 'fingerprint' });
    await perAlert.send(notification());
    const [group, first, second] = peer.requests.map((r) => r.body as { client: string; payload: { summary: string; source: string; severity: string; custom_details: Record<string, unknown> } });
    expect(group.payload).toMatchObject({ summary: 'DiskFull on 2 host(s): db-1 db-2 ', source: 'db-cluster', severity: 'critical', custom_details: { hosts: '2', runbook: 'https://wiki.example/DiskFull' } });
    expect(group.client).toBe('agent ops');
    expect(first.payload).toMatchObject({ summary: 'DiskFull on 1 host(s): db-1 ', source: 'db-cluster', severity: 'warning', custom_details: { hosts: '1' } });
    expect(second.payload).toMatchObject({ summary: 'DiskFull on 1 host(s): db-2 ', severity: 'critical' });
  });

  it('refuses a template outside the supported subset when the config is validated, at its line:column', () => {
    const result = pagerduty.configSchema.safeParse({ routing_key: KEY, summary: 'ok\n{{ with .Alerts }}x{{ end }}' });
    expect(result.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([expect.stringMatching(/^summary: template 2:4: /)]);
  });

  it('with dedup_key: fingerprint sends one event per alert, each with its own severity and dedup key', async () => {
    const s = await sink({ dedup_key: 'fingerprint' });
    const n = notification({
      alerts: [alert({ alertname: 'DiskFull', instance: 'db-1', severity: 'info', component: 'disk' }, 'firing', { summary: 'almost full' }), alert({ alertname: 'DiskFull', instance: 'db-2', severity: 'critical' }, 'resolved')],
    });
    expect(await s.send(n)).toEqual({ outcome: 'delivered' });
    expect(peer.requests.map((r) => r.body)).toEqual([
      expect.objectContaining({
        event_action: 'trigger',
        dedup_key: n.alerts[0].fingerprint,
        payload: expect.objectContaining({ summary: '[FIRING] DiskFull (db-1 info disk): almost full', source: 'db-1', severity: 'info', component: 'disk', timestamp: '2026-11-30T12:00:00.000Z' }),
      }),
      { routing_key: KEY, event_action: 'resolve', dedup_key: n.alerts[1].fingerprint },
    ]);
  });

  it('maps severities through the label, the map and the default; a fixed severity; receiver overrides', async () => {
    const s = await sink({
      severity: { label: 'priority', map: { P1: 'critical', P3: 'warning' }, default: 'info' },
      receivers: { dba: { routing_key: OTHER_KEY, severity: 'error', source: 'db-cluster' } },
    });
    const withPriority = (...priorities: Array<string | undefined>): Notification =>
      notification({ alerts: priorities.map((p, i) => alert({ alertname: 'X', i: String(i), ...(p !== undefined && { priority: p }) })) });
    await s.send(withPriority('P3', undefined));
    await s.send(withPriority('P3', 'P1'));
    await s.send(withPriority('bogus'));
    await s.send(withPriority('warning'));
    await s.send({ ...withPriority('P1'), receiver: 'dba' });
    const sent = peer.requests.map((r) => [r.body.routing_key, (r.body.payload as { severity: string }).severity]);
    expect(sent).toEqual([
      [KEY, 'warning'],
      [KEY, 'critical'],
      [KEY, 'info'],
      [KEY, 'warning'],
      [OTHER_KEY, 'error'],
    ]);
    expect((peer.requests[4].body.payload as { source: string }).source).toBe('db-cluster');
    // One rate-limit bucket per routing key, named by a hash of it.
    const ops = s.rateKey(notification());
    const dba = s.rateKey({ ...notification(), receiver: 'dba' });
    expect(ops).not.toBe(dba);
    expect(s.rateKey({ ...notification(), receiver: 'unknown-team' })).toBe(ops);
    expect(`${ops}${dba}`).not.toContain(KEY.slice(0, 8));
  });

  it('sends config.changed notices as change events with change_events: true, as triggers without', async () => {
    const notice = notification({
      reason: 'notice',
      groupLabels: { alertname: 'ConfigChanged' },
      commonLabels: { alertname: 'ConfigChanged', type: 'config.changed' },
      commonAnnotations: { summary: 'Configuration changed: app.yaml#db.pool' },
      alerts: [alert({ alertname: 'ConfigChanged', type: 'config.changed' }, 'firing', { summary: 'Configuration changed: app.yaml#db.pool', description: 'app.yaml#db.pool: 10 → 1' })],
    });
    const s = await sink({ change_events: true });
    expect(await s.send(notice)).toEqual({ outcome: 'delivered' });
    const plain = await sink({ change_events: false });
    expect(await plain.send(notice)).toEqual({ outcome: 'delivered' });
    expect(peer.requests.map((r) => r.path)).toEqual(['/v2/change/enqueue', '/v2/enqueue']);
    expect(peer.requests[0].body).toEqual({
      routing_key: KEY,
      payload: {
        summary: 'Configuration changed: app.yaml#db.pool',
        source: os.hostname(),
        timestamp: notice.timestamp,
        custom_details: { receiver: 'ops', changes: [expect.objectContaining({ annotations: { summary: 'Configuration changed: app.yaml#db.pool', description: 'app.yaml#db.pool: 10 → 1' } })] },
      },
      links: [],
    });
    expect(peer.requests[1].body).toMatchObject({ event_action: 'trigger', payload: { class: 'config.changed' } });
  });

  it('drops custom details rather than the incident when the event would exceed 512 KB', async () => {
    const s = await sink();
    await s.send(notification({ commonAnnotations: {}, alerts: [alert({ alertname: 'Big' }, 'firing', { description: 'y'.repeat(600_000) })] }));
    expect(peer.requests[0].body.payload).toMatchObject({ severity: 'error', custom_details: { error: expect.stringMatching(/512000 bytes/) } });
    expect(peer.requests[0].raw.length).toBeLessThan(10_000);
  });
});

describe('pagerduty: answers and failures', () => {
  it('retries a 500, also when its body is not JSON (the library then throws without the status)', async () => {
    const s = await sink();
    peer.answers.push({ status: 500, body: '{"status":"error"}', headers: { 'content-type': 'application/json' } }, { status: 502, body: '<html>bad gateway</html>' });
    const first = await s.send(notification());
    const second = await s.send(notification());
    expect(first).toEqual({ outcome: 'retry', afterMs: 0, reason: 'PagerDuty events API answered HTTP 500' });
    expect(second).toEqual({ outcome: 'retry', afterMs: 0, reason: 'PagerDuty events API answered HTTP 502' });
    expect(peer.requests).toHaveLength(2);
    expectNoKey(s, first);
  });

  it('a 429 is retried after its Retry-After, and the library does not ask again by itself', async () => {
    const s = await sink();
    peer.answers.push({ status: 429, headers: { 'retry-after': '7', 'content-type': 'application/json' }, body: '{"status":"throttled"}' });
    const result = await s.send(notification());
    expect(result).toEqual({ outcome: 'retry', afterMs: 7000, reason: 'PagerDuty events API answered HTTP 429, Retry-After 7 s' });
    // pdjs would have sent 3 more at once (retryTimeout 0) before answering; give a late one the chance to show.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(peer.requests).toHaveLength(1);
    expectNoKey(s, result);
  });

  it('a 400 is permanent and says what PagerDuty objected to, without the routing key it echoes', async () => {
    const s = await sink();
    peer.answers.push({ status: 400, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: 'invalid event', message: 'Event object is invalid', errors: [`'routing_key' ${KEY} is invalid`] }) });
    const result = await s.send(notification());
    expect(result).toEqual({ outcome: 'permanent', reason: "PagerDuty events API answered HTTP 400: Event object is invalid; 'routing_key' *** is invalid" });
    expectNoKey(s, result);
  });

  it('a hung request ends when the attempt signal is aborted', async () => {
    const s = await sink();
    peer.answers.push('hang');
    const attempt = new AbortController();
    peer.onRequest = () => attempt.abort();
    const result = await s.send(notification(), attempt.signal);
    expect(result).toMatchObject({ outcome: 'retry', reason: expect.stringMatching(/cancelled/) });
    expect(peer.requests).toHaveLength(1);
    expectNoKey(s, result);
  });

  it('an attempt already cancelled sends nothing', async () => {
    const s = await sink();
    const attempt = new AbortController();
    attempt.abort();
    expect(await s.send(notification(), attempt.signal)).toMatchObject({ outcome: 'retry' });
    expect(peer.requests).toHaveLength(0);
  });

  it('retries when nobody listens or the certificate is not trusted, naming the cause', async () => {
    const refused = await sink({ server: '127.0.0.1:1' });
    const result = await refused.send(notification());
    expect(result).toMatchObject({ outcome: 'retry', reason: expect.stringMatching(/^PagerDuty events API: .*ECONNREFUSED/) });
    expectNoKey(refused, result);

    const untrusted = await sink({ tls: {} });
    const tls = await untrusted.send(notification());
    expect(tls).toMatchObject({ outcome: 'retry', reason: expect.stringMatching(/certificate/) });
    expect(peer.requests).toHaveLength(0);
    expectNoKey(untrusted, tls);
  });

  it('in fingerprint mode stops at the first failed event and names it', async () => {
    const s = await sink({ dedup_key: 'fingerprint' });
    peer.answers.push(ACCEPTED, { status: 503 });
    const n = notification();
    const result = await s.send(n);
    expect(result).toEqual({ outcome: 'retry', afterMs: 0, reason: `PagerDuty events API answered HTTP 503 (event 2 of 2: trigger ${n.alerts[1].fingerprint})` });
    expect(s.harness.instance.stats?.()).toEqual({ events: 2, delivered: 1, failed: 1 });
  });
});

describe('pagerduty: config', () => {
  it('reads routing_key_file at start (trimmed), per receiver too', async () => {
    const keyFile = path.join(dir, 'pd-key');
    const dbaKeyFile = path.join(dir, 'pd-dba-key');
    writeFileSync(keyFile, `${OTHER_KEY}\n`);
    writeFileSync(dbaKeyFile, `  ${KEY}\n`);
    const s = await sink({ routing_key: undefined, routing_key_file: keyFile, receivers: { dba: { routing_key_file: dbaKeyFile } } });
    await s.send(notification());
    await s.send({ ...notification(), receiver: 'dba' });
    expect(peer.requests.map((r) => r.body.routing_key)).toEqual([OTHER_KEY, KEY]);
  });

  it('fails to start naming a missing, empty or blank key file or a missing CA file, never the content', async () => {
    const missing = path.join(dir, 'nope');
    const refused = async (config: Record<string, unknown>, message: string, code: string): Promise<void> => {
      const h = createPluginHarness(pagerduty, { config });
      await expect(h.start()).rejects.toMatchObject({ message: expect.stringContaining(message), cause: { code } });
    };
    await refused({ routing_key_file: missing }, `routing_key_file: cannot read ${missing} (no such file)`, 'CONFIG_FILE_UNREADABLE');
    await refused({ routing_key: KEY, tls: { ca_file: missing } }, `tls.ca_file: cannot read ${missing} (no such file)`, 'CONFIG_FILE_UNREADABLE');
    const empty = path.join(dir, 'pd-empty');
    writeFileSync(empty, '\n');
    await refused({ routing_key: KEY, receivers: { dba: { routing_key_file: empty } } }, `receivers.dba.routing_key_file: cannot read ${empty} (empty: it holds no secret)`, 'CONFIG_FILE_UNREADABLE');
    const blank = path.join(dir, 'pd-blank');
    writeFileSync(blank, '   \n');
    await refused({ routing_key_file: blank }, `routing_key_file: ${blank} holds only blanks, no routing key`, 'CONFIG_INVALID_VALUE');
    const big = path.join(dir, 'pd-big');
    writeFileSync(big, `${KEY}${'x'.repeat(70_000)}`);
    const h = createPluginHarness(pagerduty, { config: { routing_key_file: big } });
    const error = await h.start().then(() => undefined, (e: unknown) => e as Error);
    expect(error?.message).toMatch(/routing_key_file: cannot read .*pd-big \(\d+ bytes, \d+ over the limit of 65536\)/);
    expect(error?.message).not.toContain(KEY);
  });

  it('refuses at once to start when routing_key_file or tls.ca_file is a named pipe (a blocking read would wait for a writer forever)', async () => {
    const fifo = path.join(dir, 'pd-fifo');
    execFileSync('mkfifo', [fifo]);
    // Before, the start waited on the pipe until jest's timeout failed the test; now it is refused.
    const key = createPluginHarness(pagerduty, { config: { routing_key_file: fifo } });
    await expect(key.start()).rejects.toMatchObject({ message: expect.stringContaining(`routing_key_file: cannot read ${fifo} (is a named pipe, not a regular file)`), cause: { code: 'CONFIG_FILE_UNREADABLE' } });
    const ca = createPluginHarness(pagerduty, { config: { routing_key: KEY, tls: { ca_file: fifo } } });
    await expect(ca.start()).rejects.toMatchObject({ message: expect.stringContaining(`tls.ca_file: cannot read ${fifo} (is a named pipe, not a regular file)`), cause: { code: 'CONFIG_FILE_UNREADABLE' } });
  });

  it('rejects configs without a key, with both key and file, or with a URL as server', () => {
    const issues = (config: unknown): string[] => pagerduty.configSchema.safeParse(config).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    expect(issues({})).toEqual([expect.stringMatching(/^routing_key: a PagerDuty sink needs routing_key or routing_key_file/)]);
    expect(issues({ receivers: { ops: { routing_key: KEY } } })).toEqual([]);
    expect(issues({ routing_key: KEY, routing_key_file: '/k' })).toEqual(['routing_key_file: routing_key and routing_key_file are mutually exclusive']);
    expect(issues({ routing_key: KEY, server: 'https://events.pagerduty.com/v2/enqueue' })).toEqual([expect.stringMatching(/^server: expected a host or host:port/)]);
    expect(issues({ routing_key: KEY, server: 'events.eu.pagerduty.com:443', severity: 'critical' })).toEqual([]);
    expect(issues({ routing_key: KEY, severity: 'page' })).not.toEqual([]);
  });

  it('answers permanent for a receiver without a routing key', async () => {
    const s = await sink({ routing_key: undefined, receivers: { dba: { routing_key: KEY } } });
    expect(await s.send(notification())).toEqual({ outcome: 'permanent', reason: 'no routing_key for receiver "ops" (set routing_key, or receivers.ops.routing_key)' });
    expect(peer.requests).toHaveLength(0);
  });

  it('declares its delivery defaults: 120 events per minute per routing key', () => {
    expect(pagerduty.sink?.delivery).toEqual({ rate_limit: { rate: 120, per: 60_000, burst: 10 }, timeout: 10_000, max_age: 3_600_000 });
    expect(pagerduty.sink?.alertmanager?.key).toBe('pagerduty_configs');
  });
});

describe('pagerduty: Alertmanager pagerduty_configs', () => {
  const toConfig = pagerduty.sink!.alertmanager!.toConfig;
  const receiver = 'ops';

  it('maps the supported fields onto a config the plugin accepts', () => {
    const result = toConfig(
      {
        routing_key: KEY,
        url: 'https://events.eu.pagerduty.com/v2/enqueue',
        severity: '{{ .CommonLabels.priority }}',
        client: 'Alertmanager',
        client_url: 'https://am.example/',
        description: '{{ .CommonLabels.alertname }}: {{ .CommonAnnotations.summary }}',
        details: { firing: '{{ .Alerts.Firing | toJson }}', runbook: 'https://wiki.example/db', hosts: '{{ range .Alerts }}{{ .Labels.instance }} {{ end }}' },
        class: 'disk',
        component: 'postgres',
        group: 'db',
        source: 'db-cluster',
        links: [{ href: 'https://grafana.example/d/db', text: 'Dashboard' }],
        send_resolved: false,
        http_config: { tls_config: { ca_file: '/etc/ssl/pd-relay.pem' } },
      },
      { global: {}, receiver },
    );
    expect(result).toEqual({
      config: {
        routing_key: KEY,
        server: 'events.eu.pagerduty.com',
        severity: { label: 'priority' },
        client: 'Alertmanager',
        client_url: 'https://am.example/',
        summary: '{{ .CommonLabels.alertname }}: {{ .CommonAnnotations.summary }}',
        details: { runbook: 'https://wiki.example/db', hosts: '{{ range .Alerts }}{{ .Labels.instance }} {{ end }}' },
        class: 'disk',
        component: 'postgres',
        group: 'db',
        source: 'db-cluster',
        links: [{ href: 'https://grafana.example/d/db', text: 'Dashboard' }],
        send_resolved: false,
        tls: { ca_file: '/etc/ssl/pd-relay.pem' },
      },
    });
    // send_resolved is the plugin entry's delivery setting: the loader takes it out before the sink's schema sees the config.
    const { send_resolved: _, ...config } = (result as { config: Record<string, unknown> }).config;
    expect(pagerduty.configSchema.safeParse(config).error?.issues ?? []).toEqual([]);
  });

  it('takes global.pagerduty_url, the key file, a literal severity and Alertmanager\'s default templates', () => {
    expect(
      toConfig(
        { routing_key_file: '/run/secrets/pd', severity: 'warning', description: '{{ template "pagerduty.default.description" . }}', client: '{{ template "pagerduty.default.client" . }}' },
        { global: { pagerduty_url: 'https://relay.internal:8443/' }, receiver },
      ),
    ).toEqual({ config: { routing_key_file: '/run/secrets/pd', severity: 'warning', server: 'relay.internal:8443' } });
    expect(toConfig({ routing_key: KEY }, { global: { pagerduty_url: 'https://events.pagerduty.com/v2/enqueue' }, receiver })).toEqual({ config: { routing_key: KEY } });
    expect(toConfig({ routing_key: KEY, severity: '{{ if eq .Status "firing" }}critical{{ else }}info{{ end }}' }, { global: {}, receiver })).toEqual({
      config: { routing_key: KEY, severity: { template: '{{ if eq .Status "firing" }}critical{{ else }}info{{ end }}' } },
    });
  });

  it('names every field it cannot map', () => {
    const result = toConfig(
      {
        service_key: 'v1key',
        url: 'http://events.pagerduty.com/v2/enqueue',
        severity: 'page',
        client_url: '{{ .ExternalURL }}/alerts',
        timeout: '10s',
        http_config: { proxy_url: 'http://proxy:3128', tls_config: { ca_file: '/ca.pem', cert_file: '/c.pem' } },
      },
      { global: {}, receiver },
    );
    expect('problems' in result && result.problems.map((p) => `${p.path.join('.')}: ${p.message}`)).toEqual([
      expect.stringMatching(/^service_key: service_key is PagerDuty's Events API v1, which this sink does not support: use routing_key/),
      'url: url: the PagerDuty client speaks https only, got http://',
      'severity: severity: expected critical, error, warning, info or a template rendering one of them, got "page"',
      expect.stringMatching(/^client_url: client_url: a template is not supported here/),
      expect.stringMatching(/^timeout: pagerduty_configs field "timeout" has no equivalent in the pagerduty sink/),
      'http_config.proxy_url: http_config.proxy_url has no equivalent in the pagerduty sink (only tls_config.ca_file and tls_config.insecure_skip_verify)',
      'http_config.tls_config.cert_file: http_config.tls_config.cert_file has no equivalent in the pagerduty sink (only ca_file and insecure_skip_verify)',
    ]);
    // A template outside the supported subset passes the mapping and is refused by the sink's schema, at its line:column.
    const custom = toConfig({ routing_key: KEY, description: '{{ template "my.description" . }}', details: { all: '{{ .Alerts.Firing | toJson }}x' } }, { global: {}, receiver });
    const issues = pagerduty.configSchema.safeParse((custom as { config: unknown }).config).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues).toEqual([expect.stringMatching(/^summary: template 1:4: /), expect.stringMatching(/^details\.all: template 1:\d+: /)]);
    const wrongPath = toConfig({ routing_key: KEY, url: 'https://events.pagerduty.com/generic/2010-04-15/create_event.json' }, { global: {}, receiver });
    expect(wrongPath).toEqual({ problems: [{ path: ['url'], message: expect.stringMatching(/only the Events API v2 endpoint/) }] });
  });
});
