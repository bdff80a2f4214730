import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { AgentClient, AgentControl, type Event, type ReloadResult } from 'praxis-agent';
import { createPluginHarness, FakeClock, runPluginConformance, selfSignedCert, waitFor, type PluginHarness, type TestCertificate } from 'praxis-agent/testing';
import { checkBody, findProcesses, isAlive, safeUrl, valueAt } from './checks';
import { healthProbeConfigSchema } from './config';
import type { HealthProbePlugin } from './health-probe.plugin';
import healthProbe from './index';
import { cronSchedule, intervalSchedule } from './schedule';
import { refusedPort, tcpServer, TestServer } from './test-peers';

runPluginConformance(healthProbe);
runPluginConformance(healthProbe, {
  config: { services: { api: { checks: { live: { kind: 'tcp', port: 1 } } } }, snapshot_interval: '10s' },
});

const noFlap = { enabled: false };
const harnesses: PluginHarness[] = [];
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.stop();
  for (const c of cleanups.splice(0).reverse()) await c();
});

function probe(config: unknown, options: { clock?: FakeClock; http?: boolean; token?: string; logger?: pino.Logger } = {}): { h: PluginHarness; p: HealthProbePlugin; clock: FakeClock } {
  const clock = options.clock ?? new FakeClock(Date.now());
  const http = options.http ? { http: options.token ? { auth_token: options.token } : {} } : {};
  const h = createPluginHarness(healthProbe, { config, clock, ...http, ...(options.logger ? { logger: options.logger } : {}) });
  harnesses.push(h);
  return { h, p: h.instance as unknown as HealthProbePlugin, clock };
}

async function server(tls?: TestCertificate): Promise<TestServer> {
  const s = await new TestServer(tls ? { key: tls.key, cert: tls.cert } : undefined).start();
  cleanups.push(() => s.stop());
  return s;
}

const statuses = (h: PluginHarness, service?: string): string[] =>
  h.eventsOf('service.status').filter((e) => !service || e.data.service_name === service).map((e) => e.data.status);
const lastStatus = (h: PluginHarness, service?: string): Event<'service.status'> => {
  const all = h.eventsOf('service.status').filter((e) => !service || e.data.service_name === service);
  return all[all.length - 1];
};
const errors = (h: PluginHarness): Event<'system.error'>[] => h.eventsOf('system.error');

async function settle(h: PluginHarness, p: HealthProbePlugin): Promise<void> {
  await p.settled();
  await h.bus.idle();
}

async function runOnce(h: PluginHarness, p: HealthProbePlugin, service?: string): Promise<void> {
  await p.runOnce(service);
  await h.bus.idle();
}

describe('health-probe config', () => {
  const parse = (services: unknown, extra: Record<string, unknown> = {}) => healthProbeConfigSchema.safeParse({ services, ...extra });
  const problems = (result: ReturnType<typeof parse>) => (result.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);

  it('accepts {} and fills defaults', () => {
    const config = healthProbeConfigSchema.parse({});
    expect(config).toMatchObject({ services: {}, snapshot_interval: 60_000, severity: 'error', flapping: { enabled: true, max_transitions: 5 } });
  });

  it('fills check and service defaults, and parses durations including days', () => {
    const config = healthProbeConfigSchema.parse({ services: { api: { checks: { web: { kind: 'http', url: 'https://example.test/healthz', cert_expiry_warning: '14d', timeout: '2s' } } } } });
    expect(config.services.api).toMatchObject({ failure_threshold: 3, success_threshold: 2, depends_on: [] });
    expect(config.services.api.checks.web).toMatchObject({ method: 'GET', expect_status: ['2xx'], tls_verify: true, cert_expiry_warning: 14 * 86_400_000, timeout: 2000 });
  });

  it('rejects an http check without url, naming the key', () => {
    const result = parse({ api: { checks: { web: { kind: 'http' } } } });
    expect(problems(result)).toEqual(['services.api.checks.web.url: Invalid input: expected string, received undefined']);
    expect(result.error?.issues[0].code).toBe('invalid_type'); // the config loader reports it as CONFIG_MISSING_KEY
  });

  it('lists cross-field problems together with the others, so validate shows everything at once', () => {
    const list = problems(parse({ api: { depends_on: ['db'], checks: { web: { kind: 'http' }, e: { kind: 'exec', command: 'a && b' } } } }));
    expect(list).toEqual(
      expect.arrayContaining([
        'services.api.checks.web.url: Invalid input: expected string, received undefined',
        'services.api.depends_on.0: unknown service "db" (declared: api)',
        'services.api.checks.e.command: a command string needs shell: true; without a shell give a list: ["program", "arg"]',
      ]),
    );
    expect(healthProbeConfigSchema.safeParse({ services: 'api' }).success).toBe(false); // no crash on a wrong shape
    expect(healthProbeConfigSchema.safeParse({ services: { api: { checks: [1], depends_on: 'db' } } }).success).toBe(false);
  });

  it.each([
    [{ api: { checks: { web: { kind: 'ftp' } } } }, 'services.api.checks.web.kind', /Expected 'http' \| 'tcp'/],
    [{ api: { checks: { web: { kind: 'http', url: 'ftp://x' } } } }, 'services.api.checks.web.url', /http:\/\/ or https:\/\//],
    [{ api: { checks: { t: { kind: 'tcp', port: 70000 } } } }, 'services.api.checks.t.port', /<=65535/],
    [{ api: { checks: { e: { kind: 'exec', command: 'pg_isready && true' } } } }, 'services.api.checks.e.command', /needs shell: true/],
    [{ api: { checks: { e: { kind: 'exec', command: ['true'], interval: '5s', schedule: '* * * * *' } } } }, 'services.api.checks.e.schedule', /either interval or schedule/],
    [{ api: { checks: { e: { kind: 'exec', command: ['true'], schedule: 'every minute' } } } }, 'services.api.checks.e.schedule', /not a valid cron expression/],
    [{ api: { checks: { e: { kind: 'exec', command: ['true'], interval: '10 seconds' } } } }, 'services.api.checks.e.interval', /expected a duration/],
    [{ api: { checks: { p: { kind: 'process' } } } }, 'services.api.checks.p', /exactly one of pid_file or process_name/],
    [{ api: { checks: { h: { kind: 'heartbeat' } } } }, 'services.api.checks.h.window', /missing: expected a duration/],
    [{ api: { checks: { w: { kind: 'http', url: 'http://x', body_matches: '(' } } } }, 'services.api.checks.w.body_matches', /not a valid regular expression/],
    [{ api: { checks: {} } }, 'services.api.checks', /at least one check/],
    [{ api: { depends_on: ['db'], checks: { t: { kind: 'tcp', port: 1 } } } }, 'services.api.depends_on.0', /unknown service "db"/],
    [{ api: { depends_on: ['api'], checks: { t: { kind: 'tcp', port: 1 } } } }, 'services.api.depends_on.0', /cannot depend on itself/],
    [
      { a: { depends_on: ['b'], checks: { t: { kind: 'tcp', port: 1 } } }, b: { depends_on: ['a'], checks: { t: { kind: 'tcp', port: 1 } } } },
      'services.a.depends_on',
      /cycle: a -> b -> a/,
    ],
    [
      { a: { checks: { nightly: { kind: 'heartbeat', window: '1h' } } }, b: { checks: { nightly: { kind: 'heartbeat', window: '1h' } } } },
      'services.b.checks.nightly',
      /also declared by service "a"/,
    ],
    [{ api: { checks: { t: { kind: 'tcp', port: 1, colour: 'red' } } } }, 'services.api.checks.t', /Unrecognized key: "colour"/],
  ])('rejects bad config %#', (services, where, message) => {
    const list = problems(parse(services));
    expect(list.length).toBeGreaterThan(0);
    expect(list.find((p) => p.startsWith(`${where}: `))).toMatch(message);
  });
});

describe('schedules', () => {
  it('computes interval and cron (with seconds) due times', () => {
    expect(intervalSchedule(10_000).next(1_000)).toBe(11_000);
    const at = Date.UTC(2026, 0, 1, 0, 0, 2);
    expect(cronSchedule('*/5 * * * * *', 'UTC').next(at)).toBe(Date.UTC(2026, 0, 1, 0, 0, 5));
    expect(cronSchedule('0 3 * * *', 'UTC').next(at)).toBe(Date.UTC(2026, 0, 1, 3, 0, 0));
  });

  it('runs interval checks right away and then every interval, on the injected clock', async () => {
    const tcp = await tcpServer();
    cleanups.push(tcp.close);
    const { h, p, clock } = probe({ flapping: noFlap, services: { db: { checks: { port: { kind: 'tcp', port: tcp.port, interval: '10s' } } } } });
    await h.start();
    await clock.advance(0);
    await waitFor(() => (p.stats().checks_run as number) === 1, { what: 'first run' });
    await clock.advance(9_999);
    await new Promise((r) => setTimeout(r, 20));
    expect(p.stats().checks_run).toBe(1);
    await clock.advance(1);
    await waitFor(() => (p.stats().checks_run as number) === 2, { what: 'second run' });
    await h.bus.idle();
    expect(statuses(h)).toEqual(['healthy']);
  });

  it('runs cron-scheduled checks at their cron times only', async () => {
    const tcp = await tcpServer();
    cleanups.push(tcp.close);
    const clock = new FakeClock(Date.UTC(2026, 5, 1, 12, 0, 1));
    const { h, p } = probe({ flapping: noFlap, services: { db: { checks: { port: { kind: 'tcp', port: tcp.port, schedule: '*/30 * * * * *' } } } } }, { clock });
    await h.start();
    await clock.advance(28_000); // 12:00:29
    await new Promise((r) => setTimeout(r, 20));
    expect(p.stats().checks_run).toBe(0);
    await clock.advance(1_000); // 12:00:30
    await waitFor(() => (p.stats().checks_run as number) === 1, { what: 'cron run at :30' });
    await clock.advance(30_000); // 12:01:00
    await waitFor(() => (p.stats().checks_run as number) === 2, { what: 'cron run at :00' });
  });

  it('never overlaps a check with itself and cuts a slow one at its timeout', async () => {
    const s = await server();
    s.mode = 'hang';
    const { h, p, clock } = probe({ flapping: noFlap, services: { api: { failure_threshold: 1, checks: { web: { kind: 'http', url: s.url, interval: '1s', timeout: '5s' } } } } });
    await h.start();
    await clock.advance(0);
    await waitFor(() => s.held.length === 1, { what: 'request held by the server' });
    await clock.advance(1_000);
    await clock.advance(1_000);
    expect(p.stats().overlaps_skipped).toBe(2);
    expect(s.held).toHaveLength(1);
    await clock.advance(3_000); // 5 s after the start: timeout
    await waitFor(() => (p.stats().checks_run as number) === 1, { what: 'timed-out run recorded' });
    await waitFor(() => s.held[0]?.aborted === true, { what: 'the request was cut off' });
    await h.bus.idle();
    expect(lastStatus(h).data).toMatchObject({ status: 'unhealthy', metrics: { error_code: 'HEALTH_TIMEOUT', last_error: 'no answer within 5000 ms' } });
    expect(errors(h).map((e) => e.data.error_code)).toEqual(['HEALTH_TIMEOUT']);
  });
});

describe('http checks', () => {
  it('applies failure and success thresholds, raises one system.error, and keeps headers out of events and logs', async () => {
    const s = await server();
    const chunks: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (c: Buffer) => chunks.push(c.toString()));
    const logger = pino({ level: 'trace' }, stream);
    const { h, p } = probe(
      {
        flapping: noFlap,
        severity: 'critical',
        services: { api: { checks: { web: { kind: 'http', url: `${s.url}/healthz?api_key=k3y-in-url`, headers: { Authorization: 'Bearer s3cr3t-token' } } } } },
      },
      { logger },
    );
    await h.start();
    await runOnce(h, p);
    expect(statuses(h)).toEqual(['healthy']);
    expect(s.requests[0].authorization).toBe('Bearer s3cr3t-token');

    s.mode = 'fail';
    await runOnce(h, p);
    await runOnce(h, p);
    expect(statuses(h)).toEqual(['healthy']); // two failures: below failure_threshold 3
    await runOnce(h, p);
    expect(statuses(h)).toEqual(['healthy', 'unhealthy']);
    const unhealthy = lastStatus(h).data;
    expect(unhealthy.metrics).toMatchObject({ consecutive_failures: 3, error_code: 'HEALTH_HTTP_STATUS', last_error: 'HTTP 500, expected 2xx', previous_status: 'healthy' });
    expect(unhealthy.health_check_results.web).toMatchObject({ kind: 'http', status: 'fail', http_status: 500, state: 'down' });
    expect(errors(h)).toHaveLength(1);
    expect(errors(h)[0].data).toMatchObject({ severity: 'critical', component: 'api', error_code: 'HEALTH_HTTP_STATUS' });

    await runOnce(h, p);
    expect(errors(h)).toHaveLength(1); // still unhealthy: no second alarm

    s.mode = 'ok';
    await runOnce(h, p);
    expect(statuses(h)).toEqual(['healthy', 'unhealthy']); // one success: below success_threshold 2
    await runOnce(h, p);
    expect(statuses(h)).toEqual(['healthy', 'unhealthy', 'healthy']);

    await h.stop();
    const published = JSON.stringify(h.events);
    const logged = chunks.join('');
    for (const text of [published, logged]) {
      expect(text).not.toContain('s3cr3t-token');
      expect(text).not.toContain('k3y-in-url');
    }
    expect(published).toContain('api_key=***');
    expect(logged).toContain('service api is unhealthy');
  });

  it('marks a passing but slow check degraded (latency from the injected clock)', async () => {
    const s = await server();
    const { h, p, clock } = probe({ flapping: noFlap, services: { api: { checks: { web: { kind: 'http', url: s.url, degraded_after_ms: 100, timeout: '2s' } } } } });
    await h.start();
    await runOnce(h, p);
    expect(statuses(h)).toEqual(['healthy']);
    s.mode = 'hang';
    const run = runOnce(h, p);
    await waitFor(() => s.held.length === 1, { what: 'request held' });
    await clock.advance(300);
    s.release();
    await run;
    expect(statuses(h)).toEqual(['healthy', 'degraded']);
    expect(lastStatus(h).data.metrics).toMatchObject({ latency_ms: 300 });
    expect(lastStatus(h).data.health_check_results.web).toMatchObject({ status: 'degraded', latency_ms: 300 });
    expect(errors(h)).toEqual([]);
    s.mode = 'ok';
    await runOnce(h, p);
    expect(statuses(h)).toEqual(['healthy', 'degraded', 'healthy']);
  });

  it('checks the status set, body text, regex and JSON paths', async () => {
    const s = await server();
    const check = (extra: Record<string, unknown>) => ({ kind: 'http', url: s.url, ...extra });
    const { h, p } = probe({
      flapping: noFlap,
      services: {
        created: { failure_threshold: 1, checks: { web: check({ expect_status: [201] }) } },
        text: { failure_threshold: 1, checks: { web: check({ body_contains: '"status":"ok"' }) } },
        regex: { failure_threshold: 1, checks: { web: check({ body_matches: 'status"\\s*:\\s*"(ok|fine)' }) } },
        json: { failure_threshold: 1, checks: { web: check({ json: { status: 'ok', 'checks.0.up': true } }) } },
        json_bad: { failure_threshold: 1, checks: { web: check({ json: { 'checks.0.up': false } }) } },
      },
    });
    await h.start();
    await runOnce(h, p);
    const by = (name: string) => lastStatus(h, name).data;
    expect(by('created')).toMatchObject({ status: 'unhealthy', metrics: { error_code: 'HEALTH_HTTP_STATUS', last_error: 'HTTP 200, expected 201' } });
    expect(by('text').status).toBe('healthy');
    expect(by('regex').status).toBe('healthy');
    expect(by('json').status).toBe('healthy');
    expect(by('json_bad')).toMatchObject({ status: 'unhealthy', metrics: { error_code: 'HEALTH_HTTP_BODY', last_error: 'JSON checks.0.up is true, expected false' } });

    s.body = 'not json';
    await runOnce(h, p, 'json');
    expect(by('json').metrics).toMatchObject({ last_error: 'response body is not JSON' });
  });

  it('sends the configured method, body and headers', async () => {
    const s = await server();
    const { h, p } = probe({
      flapping: noFlap,
      services: {
        api: { checks: { web: { kind: 'http', method: 'POST', url: `${s.url}/probe?x=1`, body: '{"ping":true}', headers: { 'Content-Type': 'application/json', 'X-Probe': 'praxis' } } } },
        head: { checks: { web: { kind: 'http', method: 'HEAD', url: `${s.url}/head` } } },
      },
    });
    await h.start();
    await runOnce(h, p);
    await waitFor(() => s.received.find((r) => r.url === '/probe?x=1')?.body === '{"ping":true}', { what: 'the request body' });
    expect(s.received.map((r) => [r.method, r.url]).sort()).toEqual([
      ['HEAD', '/head'],
      ['POST', '/probe?x=1'],
    ]);
    const posted = s.requests[s.received.findIndex((r) => r.method === 'POST')];
    expect(posted).toMatchObject({ 'content-type': 'application/json', 'x-probe': 'praxis' });
    expect(lastStatus(h, 'api').data.health_check_results.web).toMatchObject({ target: `POST ${s.url}/probe?x=1`, status: 'pass' });
    expect(lastStatus(h, 'head').data.status).toBe('healthy');
  });

  it('reports a refused connection', async () => {
    const port = await refusedPort();
    const { h, p } = probe({ flapping: noFlap, services: { api: { failure_threshold: 1, checks: { web: { kind: 'http', url: `http://127.0.0.1:${port}/` } } } } });
    await h.start();
    await runOnce(h, p);
    expect(lastStatus(h).data).toMatchObject({ status: 'unhealthy', metrics: { error_code: 'HEALTH_CONNECT_REFUSED' } });
    expect(errors(h)[0].data).toMatchObject({ error_code: 'HEALTH_CONNECT_REFUSED', component: 'api', severity: 'error' });
  });

  it('body helpers: dotted paths and conditions', () => {
    expect(valueAt({ a: { b: [{ c: 1 }] } }, 'a.b.0.c')).toBe(1);
    expect(valueAt({ a: 1 }, 'a.b')).toBeUndefined();
    expect(checkBody({ body_contains: 'x' }, 'abc')).toBe('response body does not contain "x"');
    expect(checkBody({ body_matches: '^a' }, 'abc')).toBeUndefined();
    expect(checkBody({ json: { 'a.b': { c: [1] } } }, '{"a":{"b":{"c":[1]}}}')).toBeUndefined();
    expect(safeUrl('https://user:pw@h.test/x?token=abc&page=2')).toMatch(/^https:\/\/\*\*\*[0-9a-f]{8}@h\.test\/x\?token=\*\*\*[0-9a-f]{8}&page=2$/);
  });
});

describe('https checks', () => {
  let soon: TestCertificate;
  let later: TestCertificate;
  beforeAll(() => {
    soon = selfSignedCert({ days: 3 });
    later = selfSignedCert({ days: 365 });
  });

  it('degrades a service whose certificate expires within cert_expiry_warning, with days left in metrics', async () => {
    const s = await server(soon);
    const { h, p } = probe({ flapping: noFlap, services: { api: { checks: { web: { kind: 'http', url: s.url, ca_file: soon.certFile, cert_expiry_warning: '14d' } } } } });
    await h.start();
    await runOnce(h, p);
    const event = lastStatus(h).data;
    expect(event.status).toBe('degraded');
    expect(event.metrics.cert_days_left).toBeGreaterThan(2);
    expect(event.metrics.cert_days_left).toBeLessThanOrEqual(3);
    expect(event.metrics).toMatchObject({ error_code: 'HEALTH_CERT_EXPIRING' });
    expect(errors(h).map((e) => [e.data.severity, e.data.error_code])).toEqual([['warning', 'HEALTH_CERT_EXPIRING']]);
    await runOnce(h, p);
    expect(errors(h)).toHaveLength(1); // warned once until renewed
  });

  it('is healthy with a long-lived certificate trusted through ca_file, and shows its days left', async () => {
    const s = await server(later);
    const { h, p } = probe({ flapping: noFlap, services: { api: { checks: { web: { kind: 'http', url: s.url, ca_file: later.certFile } } } } });
    await h.start();
    await runOnce(h, p);
    expect(lastStatus(h).data.status).toBe('healthy');
    expect(lastStatus(h).data.metrics.cert_days_left).toBeGreaterThan(300);
  });

  it('fails an untrusted certificate unless tls_verify is off', async () => {
    const s = await server(later);
    const { h, p } = probe({
      flapping: noFlap,
      services: {
        strict: { failure_threshold: 1, checks: { web: { kind: 'http', url: s.url } } },
        lax: { failure_threshold: 1, checks: { web: { kind: 'http', url: s.url, tls_verify: false } } },
      },
    });
    await h.start();
    await runOnce(h, p);
    expect(lastStatus(h, 'strict').data).toMatchObject({ status: 'unhealthy', metrics: { error_code: 'HEALTH_TLS' } });
    expect(lastStatus(h, 'lax').data.status).toBe('healthy');
  });

  it('fails an expired certificate (clock past its end)', async () => {
    const s = await server(soon);
    const clock = new FakeClock(Date.now() + 10 * 86_400_000);
    const { h, p } = probe({ flapping: noFlap, services: { api: { failure_threshold: 1, checks: { web: { kind: 'http', url: s.url, tls_verify: false } } } } }, { clock });
    await h.start();
    await runOnce(h, p);
    expect(lastStatus(h).data).toMatchObject({ status: 'unhealthy', metrics: { error_code: 'HEALTH_CERT_EXPIRED' } });
    expect(lastStatus(h).data.metrics.cert_days_left).toBeLessThan(0);
  });
});

describe('tcp, exec, process and dns checks', () => {
  it('tcp: healthy while the port accepts, unhealthy once it refuses', async () => {
    const tcp = await tcpServer();
    const { h, p } = probe({ flapping: noFlap, services: { db: { failure_threshold: 1, checks: { port: { kind: 'tcp', port: tcp.port } } } } });
    await h.start();
    await runOnce(h, p);
    await tcp.close();
    await runOnce(h, p);
    expect(statuses(h)).toEqual(['healthy', 'unhealthy']);
    expect(lastStatus(h).data.metrics).toMatchObject({ error_code: 'HEALTH_CONNECT_REFUSED', last_error: `127.0.0.1:${tcp.port}: connection refused` });
  });

  it('exec: exit 0 passes, another exit code fails with its output, no shell unless asked', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'health-probe-exec-'));
    const { h, p } = probe({
      flapping: noFlap,
      services: {
        ok: { checks: { run: { kind: 'exec', command: [process.execPath, '-e', 'process.exit(0)'] } } },
        bad: { failure_threshold: 1, checks: { run: { kind: 'exec', command: [process.execPath, '-e', 'console.error("db is down"); process.exit(3)'] } } },
        // Without a shell "$HOME" and ">" are plain arguments: the file is never written.
        literal: { checks: { run: { kind: 'exec', command: ['echo', '$HOME', '>', path.join(dir, 'x')] } } },
        shell: { checks: { run: { kind: 'exec', shell: true, command: `echo hi > ${path.join(dir, 'y')}` } } },
        missing: { failure_threshold: 1, checks: { run: { kind: 'exec', command: ['/nonexistent/program'] } } },
      },
    });
    await h.start();
    await runOnce(h, p);
    expect(lastStatus(h, 'ok').data.status).toBe('healthy');
    expect(lastStatus(h, 'bad').data).toMatchObject({ status: 'unhealthy', metrics: { error_code: 'HEALTH_EXEC_FAILED' } });
    expect(lastStatus(h, 'bad').data.metrics.last_error).toMatch(/exited 3: db is down/);
    expect(lastStatus(h, 'literal').data.status).toBe('healthy');
    expect(existsSync(path.join(dir, 'x'))).toBe(false);
    expect(readFileSync(path.join(dir, 'y'), 'utf8')).toBe('hi\n');
    expect(lastStatus(h, 'missing').data).toMatchObject({ status: 'unhealthy', metrics: { error_code: 'HEALTH_EXEC_FAILED' } });
    expect(JSON.stringify(h.eventsOf('service.status'))).not.toContain('db is down"); process.exit'); // arguments stay out of targets
  });

  it('exec: a command that overruns its timeout is killed with everything it started', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'health-probe-exec-'));
    const pidFile = path.join(dir, 'pid');
    const { h, p, clock } = probe({
      flapping: noFlap,
      services: { job: { failure_threshold: 1, checks: { run: { kind: 'exec', shell: true, timeout: '1s', command: `sleep 30 & echo $! > ${pidFile}; wait` } } } },
    });
    await h.start();
    const run = runOnce(h, p);
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', { what: 'sleep started' });
    const sleeper = Number(readFileSync(pidFile, 'utf8').trim());
    expect(isAlive(sleeper)).toBe(true);
    await clock.advance(1_000);
    await run;
    expect(lastStatus(h).data).toMatchObject({ status: 'unhealthy', metrics: { error_code: 'HEALTH_TIMEOUT' } });
    await waitFor(() => !isAlive(sleeper), { what: 'the grandchild was killed' });
  });

  describe('process', () => {
    let child: ChildProcess | undefined;
    afterEach(() => {
      child?.kill('SIGKILL');
      child = undefined;
    });

    it('is healthy while the process named by a pid file or by name lives, unhealthy after it ends', async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'health-probe-proc-'));
      const name = `hp-${process.pid % 100000}`;
      const program = path.join(dir, name);
      copyFileSync('/bin/sleep', program);
      child = spawn(program, ['60'], { stdio: 'ignore' });
      const pidFile = path.join(dir, 'app.pid');
      writeFileSync(pidFile, `${child.pid}\n`);
      await waitFor(() => findProcesses(name).length === 1, { what: 'process visible in /proc' });
      const { h, p } = probe({
        flapping: noFlap,
        services: {
          by_pid: { failure_threshold: 1, checks: { alive: { kind: 'process', pid_file: pidFile } } },
          by_name: { failure_threshold: 1, checks: { alive: { kind: 'process', process_name: name } } },
          no_file: { failure_threshold: 1, checks: { alive: { kind: 'process', pid_file: path.join(dir, 'missing.pid') } } },
        },
      });
      await h.start();
      await runOnce(h, p);
      expect(lastStatus(h, 'by_pid').data.status).toBe('healthy');
      expect(lastStatus(h, 'by_name').data.status).toBe('healthy');
      expect(lastStatus(h, 'no_file').data).toMatchObject({ status: 'unhealthy', metrics: { error_code: 'HEALTH_PROCESS' } });
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      await runOnce(h, p);
      expect(lastStatus(h, 'by_pid').data).toMatchObject({ status: 'unhealthy', metrics: { error_code: 'HEALTH_PROCESS' } });
      expect(lastStatus(h, 'by_name').data.metrics.last_error).toBe(`no process named ${name} is running`);
    });
  });

  it('dns: localhost resolves; an unexpected address fails', async () => {
    const { h, p } = probe({
      flapping: noFlap,
      services: {
        local: { checks: { name: { kind: 'dns', hostname: 'localhost', family: 4, expect_address: ['127.0.0.1'] } } },
        wrong: { failure_threshold: 1, checks: { name: { kind: 'dns', hostname: 'localhost', family: 4, expect_address: ['10.9.9.9'] } } },
      },
    });
    await h.start();
    await runOnce(h, p);
    expect(lastStatus(h, 'local').data).toMatchObject({ status: 'healthy', health_check_results: { name: { addresses: ['127.0.0.1'] } } });
    expect(lastStatus(h, 'wrong').data).toMatchObject({ status: 'unhealthy', metrics: { error_code: 'HEALTH_DNS', last_error: 'localhost resolves to 127.0.0.1, expected 10.9.9.9' } });
  });

  it('dns: a name that does not resolve fails with HEALTH_DNS and the resolver\'s code', async () => {
    // `.invalid` never resolves (RFC 2606) and the resolver answers that locally, without a network.
    // With the fake clock standing still the check's timeout cannot fire: a lookup that hung would fail this test, not pass it.
    const { h, p } = probe({ flapping: noFlap, services: { gone: { failure_threshold: 1, checks: { name: { kind: 'dns', hostname: 'no-such-host.invalid', timeout: '2s' } } } } });
    await h.start();
    await runOnce(h, p);
    expect(lastStatus(h, 'gone').data).toMatchObject({ status: 'unhealthy', metrics: { error_code: 'HEALTH_DNS', last_error: expect.stringMatching(/^no-such-host\.invalid does not resolve \((ENOTFOUND|EAI_AGAIN|ENODATA)\)$/) } });
    expect(errors(h).map((e) => [e.data.component, e.data.error_code])).toEqual([['gone', 'HEALTH_DNS']]);
  });
});

describe('heartbeat checks', () => {
  const config = {
    flapping: noFlap,
    services: { backup: { failure_threshold: 1, success_threshold: 1, checks: { nightly: { kind: 'heartbeat', window: '60s', interval: '10s' } } } },
  };

  it('takes reports via POST /heartbeat/<check>, the service.heartbeat event and AgentClient, and fails when they stop', async () => {
    const { h, p, clock } = probe(config, { http: true });
    await h.start();
    const post = (check: string, body?: string) => fetch(`${h.url}/heartbeat/${check}`, { method: 'POST', ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}) });

    const res = await post('nightly', '{"message":"3 GB backed up"}');
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ accepted: true, check: 'nightly', service: 'backup' });
    await settle(h, p);
    expect(h.eventsOf('service.heartbeat').map((e) => [e.data, e.metadata.source])).toEqual([[{ check: 'nightly', message: '3 GB backed up' }, 'http']]);
    expect(statuses(h)).toEqual(['healthy']);

    await clock.advance(60_000); // evaluated every 10 s; the last report is exactly one window old: still fine
    await settle(h, p);
    expect(statuses(h)).toEqual(['healthy']);
    await clock.advance(10_000);
    await settle(h, p);
    expect(statuses(h)).toEqual(['healthy', 'unhealthy']);
    expect(errors(h).map((e) => [e.data.error_code, e.data.component])).toEqual([['HEALTH_HEARTBEAT_MISSED', 'backup']]);
    expect(lastStatus(h).data.health_check_results.nightly).toMatchObject({ last_message: '3 GB backed up' });

    await h.bus.publish('service.heartbeat', { check: 'nightly' });
    await settle(h, p);
    expect(statuses(h)).toEqual(['healthy', 'unhealthy', 'healthy']);

    await clock.advance(80_000);
    await settle(h, p);
    expect(statuses(h)).toEqual(['healthy', 'unhealthy', 'healthy', 'unhealthy']);
    const client = new AgentClient({ url: h.url as string });
    await client.emit('service.heartbeat', { check: 'nightly', message: 'from the client' });
    await waitFor(() => statuses(h).length === 5, { what: 'heartbeat from the client handled' });
    expect(statuses(h)).toEqual(['healthy', 'unhealthy', 'healthy', 'unhealthy', 'healthy']);
    expect(p.stats()).toMatchObject({ heartbeats_received: 3 });
  });

  it('fails when the first report never arrives, and answers unknown checks and bad bodies clearly', async () => {
    const { h, p, clock } = probe(config, { http: true });
    await h.start();
    const unknown = await fetch(`${h.url}/heartbeat/weekly`, { method: 'POST' });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: { code: 'HTTP_NOT_FOUND', message: 'no heartbeat check named "weekly"', known_checks: ['nightly'] } });
    const bad = await fetch(`${h.url}/heartbeat/nightly`, { method: 'POST', body: 'not json' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('HTTP_BAD_REQUEST');

    await h.bus.publish('service.heartbeat', { check: 'weekly' });
    await settle(h, p);
    expect(p.stats()).toMatchObject({ heartbeats_unknown: 1, heartbeats_received: 0 });

    await clock.advance(60_000);
    await settle(h, p);
    expect(statuses(h)).toEqual(['healthy']); // within the grace window after start
    await clock.advance(10_000);
    await settle(h, p);
    expect(statuses(h)).toEqual(['healthy', 'unhealthy']);
    expect(lastStatus(h).data.metrics.last_error).toMatch(/no report since the agent started/);
  });

  it('still starts without the admin server (reports then come as events only)', async () => {
    const { h, p } = probe(config);
    await h.start();
    await h.bus.publish('service.heartbeat', { check: 'nightly' });
    await settle(h, p);
    expect(p.stats()).toMatchObject({ heartbeats_received: 1 });
  });
});

describe('status machine', () => {
  it('a service with several checks is degraded while some fail and unhealthy when all do', async () => {
    const s = await server();
    const tcp = await tcpServer();
    const { h, p } = probe({
      flapping: noFlap,
      services: { api: { failure_threshold: 1, success_threshold: 1, checks: { web: { kind: 'http', url: s.url }, port: { kind: 'tcp', port: tcp.port } } } },
    });
    await h.start();
    await runOnce(h, p);
    s.mode = 'fail';
    await runOnce(h, p);
    await tcp.close();
    await runOnce(h, p);
    expect(statuses(h)).toEqual(['healthy', 'degraded', 'unhealthy']);
    expect(lastStatus(h).data.metrics).toMatchObject({ checks_total: 2, checks_failing: 2 });
    expect(errors(h)).toHaveLength(1);
  });

  it('detects flapping: one service.status with flapping: true, then holds transitions until stable', async () => {
    const s = await server();
    const { h, p, clock } = probe({
      flapping: { max_transitions: 2, window: '10m', stable_for: '1m' },
      services: { api: { failure_threshold: 1, success_threshold: 1, checks: { web: { kind: 'http', url: s.url, interval: '1h' } } } },
    });
    await h.start();
    const toggle = async (mode: 'ok' | 'fail') => {
      s.mode = mode;
      await runOnce(h, p);
      await clock.advance(1_000);
    };
    await toggle('ok');
    await toggle('fail'); // transition 1
    await toggle('ok'); // 2
    expect(statuses(h)).toEqual(['healthy', 'unhealthy', 'healthy']);
    await toggle('fail'); // 3 > 2: flapping
    const flapping = lastStatus(h);
    expect(flapping.data).toMatchObject({ status: 'unhealthy', metrics: { flapping: true } });
    expect(flapping.metadata.tags).toContain('flapping');
    await toggle('ok');
    await toggle('fail');
    await toggle('ok');
    expect(statuses(h)).toHaveLength(4); // held
    expect(errors(h)).toHaveLength(1); // the first unhealthy only; none while flapping
    expect(p.stats().services).toMatchObject({ api: { flapping: 1, transitions_suppressed: 3 } });

    await clock.advance(60_000);
    await runOnce(h, p); // healthy for a minute now: released
    // previous_status is the status last published (unhealthy, with flapping: true), not the last one held back.
    expect(lastStatus(h).data).toMatchObject({ status: 'healthy', metrics: { flapping: false, previous_status: 'unhealthy' } });
    expect(lastStatus(h).metadata.tags).not.toContain('flapping');
    expect(statuses(h)).toHaveLength(5);
  });

  it('depends_on: dependants report the unhealthy dependency as the cause and raise no alarm of their own', async () => {
    const db = await tcpServer();
    const s = await server();
    const { h, p } = probe({
      flapping: noFlap,
      services: {
        db: { failure_threshold: 1, success_threshold: 1, checks: { port: { kind: 'tcp', port: db.port } } },
        api: { failure_threshold: 1, success_threshold: 1, depends_on: ['db'], checks: { web: { kind: 'http', url: s.url } } },
      },
    });
    await h.start();
    await runOnce(h, p);
    await db.close();
    s.mode = 'fail';
    await runOnce(h, p, 'db');
    await runOnce(h, p, 'api');
    expect(lastStatus(h, 'db').data.status).toBe('unhealthy');
    expect(lastStatus(h, 'api').data).toMatchObject({ status: 'unhealthy', metrics: { cause: 'dependency db unhealthy', blocked_by: 'db' } });
    expect(errors(h).map((e) => e.data.component)).toEqual(['db']);

    await p.publishSnapshot();
    await h.bus.idle();
    expect(h.eventsOf('system.health').at(-1)?.data).toMatchObject({ status: 'unhealthy', services: { api: { status: 'unhealthy', message: 'dependency db unhealthy; web: HTTP 500, expected 2xx' } } });

  });

  it('depends_on: when the dependency recovers and the dependant is still unhealthy, the dependant raises its alarm', async () => {
    const db = await server();
    const s = await server();
    const { h, p } = probe({
      flapping: noFlap,
      services: {
        db: { failure_threshold: 1, success_threshold: 1, checks: { web: { kind: 'http', url: db.url } } },
        api: { failure_threshold: 1, success_threshold: 1, depends_on: ['db'], checks: { web: { kind: 'http', url: s.url } } },
      },
    });
    await h.start();
    db.mode = 'fail';
    s.mode = 'fail';
    await runOnce(h, p, 'db');
    await runOnce(h, p, 'api');
    expect(errors(h).map((e) => e.data.component)).toEqual(['db']);
    db.mode = 'ok';
    await runOnce(h, p, 'db');
    expect(lastStatus(h, 'db').data.status).toBe('healthy');
    expect(errors(h).map((e) => e.data.component)).toEqual(['db', 'api']);
    expect(errors(h)[1].data).toMatchObject({ error_code: 'HEALTH_HTTP_STATUS' });
  });

  it('publishes system.health snapshots on snapshot_interval and exposes stats', async () => {
    const s = await server();
    const { h, p, clock } = probe({ snapshot_interval: '30s', flapping: noFlap, services: { api: { checks: { web: { kind: 'http', url: s.url, interval: '1h' } } } } });
    await h.start();
    await p.publishSnapshot();
    expect(h.eventsOf('system.health')).toEqual([]); // nothing checked yet: no snapshot claiming "healthy"
    await clock.advance(0);
    await waitFor(() => (p.stats().checks_run as number) === 1, { what: 'first run' });
    await clock.advance(30_000);
    await settle(h, p);
    const snapshots = h.eventsOf('system.health');
    expect(snapshots).toHaveLength(1);
    expect(snapshots[0].data).toMatchObject({ status: 'healthy', services: { api: { status: 'healthy', latency_ms: 0 } }, checked_at: new Date(clock.now()).toISOString() });
    expect(p.stats()).toMatchObject({ checks_run: 1, check_failures: 0, snapshots_published: 1, services: { api: { status: 'healthy', status_code: 0, checks_run: 1, failures: 0 } } });
  });
});

describe('a service status is published only once it is known', () => {
  it('waits for every check: one passing and others pending is not "healthy"; a refusing port counts at once', async () => {
    const ok = await server();
    const slow = await server();
    slow.mode = 'hang';
    const port = await refusedPort();
    // Default thresholds (failure_threshold 3) and flapping detection on.
    const { h, p, clock } = probe({
      services: {
        api: {
          checks: {
            web: { kind: 'http', url: ok.url },
            slow: { kind: 'http', url: slow.url, timeout: '5s' },
            port: { kind: 'tcp', port },
          },
        },
      },
    });
    await h.start();
    await clock.advance(0);
    await waitFor(() => (p.stats().checks_run as number) === 2 && slow.held.length === 1, { what: 'web and port answered, slow held' });
    await h.bus.idle();
    expect(statuses(h)).toEqual([]); // slow has no result yet: nothing is known about api
    expect(p.view().services.api).toMatchObject({ status: 'pending', checks: { slow: { status: 'pending' }, port: { status: 'fail', state: 'down' } } });
    await clock.advance(5_000); // slow times out
    await settle(h, p);
    expect(statuses(h)).toEqual(['degraded']); // one status, from all three results; never "healthy" first
    expect(lastStatus(h).data.metrics).toMatchObject({ checks_total: 3, checks_failing: 2, failing_checks: ['slow', 'port'] });
    expect(lastStatus(h).data.metrics).not.toHaveProperty('previous_status');
  });

  it('a single refusing port is unhealthy (and alarmed) after its first run, with the default failure_threshold', async () => {
    const port = await refusedPort();
    const { h, p, clock } = probe({ services: { db: { checks: { port: { kind: 'tcp', port } } } } });
    await h.start();
    await clock.advance(0);
    await waitFor(() => (p.stats().checks_run as number) === 1, { what: 'first run' });
    await settle(h, p);
    expect(statuses(h)).toEqual(['unhealthy']);
    expect(errors(h).map((e) => e.data.error_code)).toEqual(['HEALTH_CONNECT_REFUSED']);
    // After that first result the thresholds apply: one success does not make it healthy.
    const tcp = await tcpServer();
    cleanups.push(tcp.close);
    await p.runOnce();
    await h.bus.idle();
    expect(statuses(h)).toEqual(['unhealthy']);
  });

  it('does not wait for a check past its first interval: the others decide until it answers', async () => {
    const ok = await server();
    const slow = await server();
    slow.mode = 'hang';
    const { h, p, clock } = probe({
      flapping: noFlap,
      services: { api: { checks: { web: { kind: 'http', url: ok.url, interval: '10s' }, slow: { kind: 'http', url: slow.url, interval: '10s', timeout: '60s' } } } },
    });
    await h.start();
    await clock.advance(0);
    await waitFor(() => (p.stats().checks_run as number) === 1 && slow.held.length === 1, { what: 'web answered, slow held' });
    await clock.advance(9_999);
    await h.bus.idle();
    expect(statuses(h)).toEqual([]); // (settle() would wait for slow, which is still running)
    await clock.advance(1);
    await waitFor(() => statuses(h).length === 1, { what: 'status after the first interval' });
    expect(statuses(h)).toEqual(['healthy']);
    expect(lastStatus(h).data.health_check_results.slow).toMatchObject({ status: 'pending' });
  });
  it('a dependant waits for its dependency at start, so an outage of the dependency is not alarmed as the dependant\'s own', async () => {
    const db = await server();
    db.mode = 'hang';
    const api = await server();
    api.mode = 'fail';
    const { h, p, clock } = probe({
      flapping: noFlap,
      services: {
        db: { checks: { web: { kind: 'http', url: db.url, timeout: '5s' } } },
        api: { depends_on: ['db'], checks: { web: { kind: 'http', url: api.url } } },
      },
    });
    await h.start();
    await clock.advance(0);
    await waitFor(() => (p.stats().checks_run as number) === 1 && db.held.length === 1, { what: 'api answered, db held' });
    await h.bus.idle();
    expect(statuses(h)).toEqual([]);
    await clock.advance(5_000); // db times out
    await settle(h, p);
    expect(lastStatus(h, 'db').data.status).toBe('unhealthy');
    expect(lastStatus(h, 'api').data).toMatchObject({ status: 'unhealthy', metrics: { blocked_by: 'db' } });
    expect(errors(h).map((e) => e.data.component)).toEqual(['db']);
  });
});

describe('every failing check is named', () => {
  it('in system.health (its message: the schema has one text field per service), service.status and system.error', async () => {
    const a = await server();
    const b = await server();
    const c = await server();
    const { h, p } = probe({
      flapping: noFlap,
      services: { api: { failure_threshold: 1, checks: { a: { kind: 'http', url: a.url }, b: { kind: 'http', url: b.url }, c: { kind: 'http', url: c.url } } } },
    });
    await h.start();
    await runOnce(h, p);
    a.mode = 'fail';
    b.failStatus = 503;
    b.mode = 'fail';
    await runOnce(h, p);
    expect(statuses(h)).toEqual(['healthy', 'degraded']);
    await p.publishSnapshot();
    await h.bus.idle();
    const message = h.eventsOf('system.health').at(-1)?.data.services.api.message ?? '';
    expect(message.split('; ').sort()).toEqual(['a: HTTP 500, expected 2xx', 'b: HTTP 503, expected 2xx']);
    expect(p.view().services.api.failing_checks.sort()).toEqual(['a', 'b']);
    expect(p.stats().services).toMatchObject({ api: { checks_failing: 2 } });

    c.mode = 'fail';
    await runOnce(h, p);
    expect(errors(h)).toHaveLength(1);
    expect(errors(h)[0].data.message).toMatch(/^service api is unhealthy: /);
    for (const name of ['a', 'b', 'c']) expect(errors(h)[0].data.message).toContain(`${name}: HTTP`);
    expect(Object.keys(errors(h)[0].data.diagnostic_data?.failing_checks as object).sort()).toEqual(['a', 'b', 'c']);
  });
});

describe('GET /health', () => {
  it('shows the current status of every service and check, without replaying events', async () => {
    const s = await server();
    const port = await refusedPort();
    const { h, p } = probe(
      {
        flapping: noFlap,
        services: {
          api: { checks: { web: { kind: 'http', url: `http://user:pw@127.0.0.1:${new URL(s.url).port}/healthz` }, port: { kind: 'tcp', port } } },
          later: { checks: { nightly: { kind: 'tcp', port, schedule: '0 3 * * *' } } },
        },
      },
      { http: true },
    );
    await h.start();
    await runOnce(h, p, 'api');
    const res = await fetch(`${h.url}/health`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as ReturnType<HealthProbePlugin['view']>;
    expect(body).toMatchObject({
      status: 'degraded',
      services: {
        api: {
          status: 'degraded',
          failing_checks: ['port'],
          message: `port: 127.0.0.1:${port}: connection refused`,
          checks: {
            web: { kind: 'http', status: 'pass', state: 'up', http_status: 200 },
            port: { kind: 'tcp', status: 'fail', state: 'down', error_code: 'HEALTH_CONNECT_REFUSED', consecutive_failures: 1 },
          },
        },
        later: { status: 'pending', checks: { nightly: { status: 'pending', state: 'unknown' } } },
      },
    });
    expect(JSON.stringify(body)).not.toContain('pw@');
  });

  it('needs the bearer token when one is set', async () => {
    const { h } = probe({ services: { api: { checks: { port: { kind: 'tcp', port: 1, schedule: '0 3 * * *' } } } } }, { http: true, token: 't0ken-for-health' });
    await h.start();
    expect((await fetch(`${h.url}/health`)).status).toBe(401);
    const res = await fetch(`${h.url}/health`, { headers: { authorization: 'Bearer t0ken-for-health' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'pending', services: { api: { status: 'pending' } } });
  });
});

describe('restart (a reload that changed the config)', () => {
  const current = (h: PluginHarness): HealthProbePlugin => h.instance as unknown as HealthProbePlugin;

  it('starts a check whose config changed afresh (counters from zero)', async () => {
    const ok = await server();
    const config = (timeout: string) => ({ flapping: noFlap, services: { api: { checks: { web: { kind: 'http', url: ok.url, timeout } } } } });
    const { h, p } = probe(config('5s'));
    await h.start();
    await runOnce(h, p);
    await runOnce(h, p);
    await h.restart(config('5s'));
    expect(current(h)).not.toBe(p);
    expect(current(h).stats().services).toMatchObject({ api: { checks_run: 2, status: 'healthy' } });
    await h.restart(config('6s'));
    expect(current(h).stats().services).toMatchObject({ api: { checks_run: 0, status: 'healthy' } }); // the service keeps its published status
    await runOnce(h, current(h));
    expect(statuses(h)).toEqual(['healthy']); // announced once, before the restarts: still healthy, nothing more to announce
  });

  it('a heartbeat keeps its window across a restart: the grace period after start is not granted again', async () => {
    const config = { flapping: noFlap, services: { backup: { failure_threshold: 1, checks: { nightly: { kind: 'heartbeat', window: '60s', interval: '10s' } } } } };
    const { h, p, clock } = probe(config);
    await h.start();
    await clock.advance(50_000);
    await settle(h, p);
    await h.restart(config);
    await clock.advance(20_000); // 70 s after the first start, 20 s after the restart
    await settle(h, current(h));
    expect(statuses(h)).toEqual(['healthy', 'unhealthy']); // healthy in the grace window, unhealthy once it is over
    expect(lastStatus(h).data.metrics.last_error).toBe('no report since the agent started 70 s ago (window 60000 ms)');
  });

  it('keeps nothing for a fresh instance: a new harness on the same clock starts afresh', async () => {
    const ok = await server();
    const config = { flapping: noFlap, services: { api: { checks: { web: { kind: 'http', url: ok.url } } } } };
    const clock = new FakeClock(Date.now());
    const first = probe(config, { clock });
    await first.h.start();
    await runOnce(first.h, first.p);
    await first.h.stop();
    const second = probe(config, { clock });
    await second.h.start();
    expect(second.p.stats().services).toMatchObject({ api: { checks_run: 0, status: 'pending' } });
  });
});

describe('paths are relative to the agent config file', () => {
  class ConfigIn extends AgentControl {
    constructor(private readonly file: string) {
      super();
    }
    get configFile(): string {
      return this.file;
    }
    reload(reason: string): Promise<ReloadResult> {
      return Promise.resolve({ status: 'unavailable', reason } as unknown as ReloadResult);
    }
  }

  it('pid_file, ca_file and exec cwd (default: the config file folder)', async () => {
    const cert = selfSignedCert({ days: 365 });
    const s = await server(cert);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'health-probe-paths-'));
    copyFileSync(cert.certFile, path.join(dir, 'ca.pem'));
    writeFileSync(path.join(dir, 'app.pid'), `${process.pid}\n`);
    writeFileSync(path.join(dir, 'marker'), '');
    mkdirSync(path.join(dir, 'sub'));
    const config = {
      flapping: noFlap,
      services: {
        tls: { failure_threshold: 1, checks: { web: { kind: 'http', url: s.url, ca_file: 'ca.pem' } } },
        pid: { failure_threshold: 1, checks: { alive: { kind: 'process', pid_file: 'app.pid' } } },
        here: { failure_threshold: 1, checks: { run: { kind: 'exec', command: ['test', '-e', 'marker'] } } },
        there: { failure_threshold: 1, checks: { run: { kind: 'exec', command: ['test', '-e', 'marker'], cwd: 'sub' } } },
      },
    };
    const clock = new FakeClock(Date.now());
    const h = createPluginHarness(healthProbe, { config, clock, agentControl: new ConfigIn(path.join(dir, 'agent.config.yaml')) });
    harnesses.push(h);
    const p = h.instance as unknown as HealthProbePlugin;
    await h.start();
    await runOnce(h, p);
    expect(lastStatus(h, 'tls').data.status).toBe('healthy');
    expect(lastStatus(h, 'pid').data.status).toBe('healthy');
    expect(lastStatus(h, 'pid').data.health_check_results.alive).toMatchObject({ target: `pid file ${path.join(dir, 'app.pid')}` });
    expect(lastStatus(h, 'here').data.status).toBe('healthy');
    expect(lastStatus(h, 'there').data.status).toBe('unhealthy'); // sub/marker does not exist
  });
});

describe('http response bodies', () => {
  it('stops reading at 1 MiB and closes the connection (an endless body does not hold the check)', async () => {
    const s = await server();
    s.mode = 'endless';
    s.body = 'READY';
    const { h, p } = probe({ flapping: noFlap, services: { api: { checks: { web: { kind: 'http', url: s.url, body_contains: 'READY' } } } } });
    await h.start();
    // The fake clock never reaches the timeout: only reading less ends this run.
    await runOnce(h, p);
    expect(lastStatus(h).data).toMatchObject({ status: 'healthy', health_check_results: { web: { body_truncated_at: 1_048_576 } } });
    await waitFor(() => s.endless.closedByClient, { what: 'the probe closed the connection' });
  });
});

describe('heartbeat request bodies', () => {
  it('are checked against the service.heartbeat schema, naming the field', async () => {
    const { h } = probe({ flapping: noFlap, services: { backup: { checks: { nightly: { kind: 'heartbeat', window: '1h' } } } } }, { http: true });
    await h.start();
    const post = (body: string) => fetch(`${h.url}/heartbeat/nightly`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    const wrongType = await post('{"message": 5}');
    expect(wrongType.status).toBe(400);
    expect(((await wrongType.json()) as { error: { message: string } }).error.message).toMatch(/message: .*expected string/);
    const unknownKey = await post('{"mesage": "typo"}');
    expect(unknownKey.status).toBe(400);
    expect(((await unknownKey.json()) as { error: { message: string } }).error.message).toMatch(/mesage/);
    const notObject = await post('[1]');
    expect(notObject.status).toBe(400);
    expect(h.eventsOf('service.heartbeat')).toEqual([]);
    expect((await post('{"message": "fine"}')).status).toBe(202);
  });
});
