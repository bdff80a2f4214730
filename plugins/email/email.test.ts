import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import type { Notification, NotificationAlert, Notifier, SinkResult } from 'praxis-agent';
import { createPluginHarness, runPluginConformance, selfSignedCert, type PluginHarness } from 'praxis-agent/testing';
import { emailConfigSchema } from './config';
import email from './index';
import { renderHtml, renderSubject, renderText } from './render';
import { startSilentPeer, startSmtpPeer, type SmtpPeer } from './test-smtp';

runPluginConformance(email, { config: { smarthost: '127.0.0.1:2525', from: 'agent@example.com', to: ['ops@example.com'] } });

const PASSWORD = 'hunter2-Sw0rdfish!';

function alert(labels: Record<string, string>, over: Partial<NotificationAlert> = {}): NotificationAlert {
  return { status: 'firing', labels, annotations: {}, startsAt: '2026-11-30T12:00:00.000Z', fingerprint: '0123456789abcdef', ...over };
}

function notification(over: Partial<Notification> = {}): Notification {
  return {
    receiver: 'ops',
    groupKey: '{}:{alertname="DISK_FULL", service="db"}',
    groupLabels: { alertname: 'DISK_FULL', service: 'db' },
    commonLabels: { alertname: 'DISK_FULL', service: 'db' },
    commonAnnotations: {},
    status: 'firing',
    alerts: [alert({ alertname: 'DISK_FULL', service: 'db', instance: 'db-1' })],
    truncatedAlerts: 0,
    reminder: false,
    reason: 'first_notification',
    timestamp: '2026-11-30T12:00:30.000Z',
    ...over,
  };
}

function capture(): { logger: pino.Logger; text: () => string } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  return { logger: pino({ level: 'trace' }, stream), text: () => chunks.join('') };
}

const open: Array<{ close(): Promise<void> }> = [];
const harnesses: PluginHarness[] = [];

afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.stop();
  for (const p of open.splice(0)) await p.close();
});

async function peer(options: Parameters<typeof startSmtpPeer>[0] = {}): Promise<SmtpPeer> {
  const p = await startSmtpPeer(options);
  open.push(p);
  return p;
}

async function sink(config: Record<string, unknown>, logger?: pino.Logger): Promise<{ h: PluginHarness; send: (n: Notification, signal?: AbortSignal) => Promise<SinkResult> }> {
  const h = createPluginHarness(email, { config: { from: 'praxis <agent@example.com>', to: ['ops@example.com'], require_tls: false, ...config }, ...(logger && { logger }) });
  harnesses.push(h);
  await h.start();
  const notifier = h.instance as unknown as Notifier;
  return { h, send: (n, signal = new AbortController().signal) => notifier.send(n, signal) };
}

describe('email sink: content', () => {
  it('sends one mail per notification listing its alerts, with subject, text and escaped HTML bodies, headers and probable causes', async () => {
    const smtp = await peer();
    const { send } = await sink({ smarthost: `127.0.0.1:${smtp.port}`, headers: { 'X-Team': 'storage' } });
    const n = notification({
      alerts: [
        alert({ alertname: 'DISK_FULL', service: 'db', instance: 'db-1', note: '<script>alert(1)</script>' }, { annotations: { summary: 'disk 97% full', description: 'df says / is at 97%', runbook: 'https://wiki/disk' }, generatorURL: 'https://prom.example/graph?g0.expr=x' }),
        alert({ alertname: 'DISK_FULL', service: 'db', instance: 'db-2' }, { annotations: { summary: 'disk 95% full' }, fingerprint: '1111111111111111' }),
        alert({ alertname: 'DISK_FULL', service: 'db', instance: 'db-3' }, { status: 'resolved', endsAt: '2026-11-30T12:00:20.000Z', fingerprint: '2222222222222222' }),
      ],
      recentChanges: [
        { at: '2026-11-30T11:59:00.000Z', config_path: 'agent.config.yaml#http.port', old_value: 9780, new_value: 9790, changed_by: 'alice', change_reason: 'move the port' },
        { at: '2026-11-30T11:59:30.000Z', config_path: 'app.yaml#db.password', old_value: 'old-secret-1', new_value: 'new-secret-2' },
        { at: '2026-11-30T11:59:40.000Z', config_path: 'app.yaml#db', old_value: { host: 'a', api_token: 'tok-123456' }, new_value: { host: 'b' } },
      ],
    });
    expect(await send(n)).toEqual({ outcome: 'delivered' });
    expect(smtp.mails).toHaveLength(1);
    const mail = smtp.mails[0];
    expect(mail.envelopeFrom).toBe('agent@example.com');
    expect(mail.envelopeTo).toEqual(['ops@example.com']);
    expect(mail.subject).toBe('[FIRING:2] DISK_FULL (service=db)');
    expect(mail.headers['x-team']).toBe('storage');

    expect(mail.text).toContain('FIRING: DISK_FULL (service=db) (2 firing, 1 resolved)');
    expect(mail.text).toContain('Firing (2):\n- DISK_FULL on db-1\n  Summary: disk 97% full\n  Description: df says / is at 97%');
    expect(mail.text).toContain('  Labels: alertname=DISK_FULL, instance=db-1, note=<script>alert(1)</script>, service=db');
    expect(mail.text).toContain('  runbook: https://wiki/disk');
    expect(mail.text).toContain('  Started 2026-11-30T12:00:00.000Z');
    expect(mail.text).toContain('  Source: https://prom.example/graph?g0.expr=x');
    expect(mail.text).toContain('Resolved (1):\n- DISK_FULL on db-3');
    expect(mail.text).toContain('  Started 2026-11-30T12:00:00.000Z, ended 2026-11-30T12:00:20.000Z');
    expect(mail.text).toContain('Probable causes (recent configuration changes):\n- 2026-11-30T11:59:00.000Z agent.config.yaml#http.port: 9780 -> 9790 (by alice) - move the port');
    expect(mail.text).toMatch(/app\.yaml#db\.password: \*\*\*[0-9a-f]{8} -> \*\*\*[0-9a-f]{8}/);

    expect(mail.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).toContain('<a href="https://prom.example/graph?g0.expr=x">Source</a>');
    expect(mail.html).toContain('<code>agent.config.yaml#http.port</code>: <code>9780</code> &rarr; <code>9790</code> (by alice)');
    for (const secret of ['old-secret-1', 'new-secret-2', 'tok-123456']) expect(mail.raw).not.toContain(secret);
  });

  it('sends one mail per group, to the receiver\'s own recipients, sender and headers when it has overrides', async () => {
    const smtp = await peer();
    const { send } = await sink({
      smarthost: `127.0.0.1:${smtp.port}`,
      headers: { 'X-Team': 'all', 'X-Env': 'prod' },
      receivers: { 'db-team': { to: ['dba@example.com', 'Oncall <oncall@example.com>'], from: 'db-alerts@example.com', headers: { 'X-Team': 'db' } } },
    });
    expect(await send(notification())).toEqual({ outcome: 'delivered' });
    expect(await send(notification({ receiver: 'db-team', groupKey: '{}:{alertname="SLOW"}', groupLabels: { alertname: 'SLOW' }, alerts: [alert({ alertname: 'SLOW' })] }))).toEqual({ outcome: 'delivered' });
    expect(smtp.mails).toHaveLength(2);
    expect(smtp.mails[0]).toMatchObject({ envelopeTo: ['ops@example.com'], subject: '[FIRING:1] DISK_FULL (service=db)', headers: { 'x-team': 'all', 'x-env': 'prod' } });
    expect(smtp.mails[1]).toMatchObject({ envelopeFrom: 'db-alerts@example.com', envelopeTo: ['dba@example.com', 'oncall@example.com'], subject: '[FIRING:1] SLOW', headers: { 'x-team': 'db', 'x-env': 'prod' } });
  });

  it('renders the subject, text and HTML templates (per receiver over the top level), escaping data in HTML; html: "" sends plain text only', async () => {
    const smtp = await peer();
    const { send } = await sink({
      smarthost: `127.0.0.1:${smtp.port}`,
      subject: '{{ .Status | toUpper }}: {{ len .Alerts }} x {{ .CommonLabels.alertname }}\nsecond line',
      text: '{{ range .Alerts }}* {{ .Labels.instance }}: {{ .Annotations.summary }}\n{{ end }}',
      html: '<ul>{{ range .Alerts }}<li>{{ .Labels.note }}</li>{{ end }}</ul>',
      receivers: { 'db-team': { to: ['dba@example.com'], html: '', subject: 'DB: {{ .GroupLabels.alertname }}' } },
    });
    const alerts = [
      alert({ alertname: 'DISK_FULL', instance: 'db-1', note: '<script>alert(1)</script>' }, { annotations: { summary: 'see https://u:pw-in-url@wiki/x' } }),
      alert({ alertname: 'DISK_FULL', instance: 'db-2', note: 'a & b' }, { fingerprint: '1111111111111111' }),
    ];
    expect(await send(notification({ alerts }))).toEqual({ outcome: 'delivered' });
    expect(await send(notification({ receiver: 'db-team', alerts }))).toEqual({ outcome: 'delivered' });
    const [ops, db] = smtp.mails;
    expect(ops.subject).toBe('FIRING: 2 x DISK_FULL second line');
    expect(ops.text).toMatch(/^\* db-1: see https:\/\/\*\*\*[0-9a-f]{8}@wiki\/x\n\* db-2: \n$/);
    expect(ops.html).toBe('<ul><li>&lt;script&gt;alert(1)&lt;/script&gt;</li><li>a &amp; b</li></ul>');
    expect(db.subject).toBe('DB: DISK_FULL');
    expect(db.text).toContain('* db-1: ');
    expect(db.html).toBe('');
    expect(db.headers['content-type']).toMatch(/^text\/plain/);
  });

  it('says in the body why it was sent (reminder, acknowledgement), who acknowledged, how many were left out, and never links a non-http URL', () => {
    const n = notification({
      reminder: true,
      reason: 'acknowledged',
      truncatedAlerts: 7,
      alerts: [alert({ alertname: 'DISK_FULL', instance: 'db-1' }, { generatorURL: 'javascript:alert(1)', acknowledgement: { by: 'alice', comment: 'on it <b>', at: '2026-11-30T12:05:00.000Z' } })],
    });
    const text = renderText(n);
    expect(text).toContain('Reminder: nothing changed since the last notification of this group');
    expect(text).toContain('Acknowledged: an operator acknowledged alerts of this group');
    expect(text).toContain('  Acknowledged by alice at 2026-11-30T12:05:00.000Z: on it <b>');
    expect(text).toContain('... and 7 more alerts not listed.');
    const html = renderHtml(n);
    expect(html).toContain('Acknowledged by alice at 2026-11-30T12:05:00.000Z: on it &lt;b&gt;');
    expect(html).toContain('<p style="margin: 4px 0;">Source: javascript:alert(1)</p>');
    expect(html).not.toContain('href="javascript');
    expect(html).toContain('... and 7 more alerts not listed.');
  });

  it('marks resolved, reminder, acknowledged and truncated notifications in the subject, and keeps label values on one line', () => {
    const resolved = notification({ status: 'resolved', alerts: [alert({ alertname: 'DISK_FULL' }, { status: 'resolved', endsAt: '2026-11-30T12:01:00.000Z' })] });
    expect(renderSubject(resolved)).toBe('[RESOLVED:1] DISK_FULL (service=db)');
    expect(renderSubject(notification({ reminder: true, reason: 'repeat_interval_elapsed' }))).toBe('[REMINDER] [FIRING:1] DISK_FULL (service=db)');
    expect(renderSubject(notification({ reason: 'acknowledged' }))).toBe('[ACK] [FIRING:1] DISK_FULL (service=db)');
    expect(renderSubject(notification({ truncatedAlerts: 40 }))).toBe('[FIRING:1+] DISK_FULL (service=db)');
    expect(renderSubject(notification({ groupLabels: { alertname: 'X\r\nBcc: evil@example.com' } }))).toBe('[FIRING:1] X Bcc: evil@example.com');
  });
});

describe('email sink: authentication', () => {
  it.each(['PLAIN', 'LOGIN'])('logs in with AUTH %s and the right password', async (method) => {
    const smtp = await peer({ auth: { username: 'agent', password: PASSWORD, methods: [method] } });
    const { send } = await sink({ smarthost: `127.0.0.1:${smtp.port}`, auth: { username: 'agent', password: PASSWORD } });
    expect(await send(notification())).toEqual({ outcome: 'delivered' });
    expect(smtp.auths).toEqual([{ method, username: 'agent', ok: true }]);
    expect(smtp.mails).toHaveLength(1);
  });

  it('reads the password from password_file, and refuses to start when the file is missing', async () => {
    const smtp = await peer({ auth: { username: 'agent', password: PASSWORD } });
    const dir = mkdtempSync(path.join(tmpdir(), 'email-secret-'));
    writeFileSync(path.join(dir, 'smtp'), `${PASSWORD}\n`);
    const { send } = await sink({ smarthost: `127.0.0.1:${smtp.port}`, auth: { username: 'agent', password_file: path.join(dir, 'smtp') } });
    expect(await send(notification())).toEqual({ outcome: 'delivered' });
    expect(smtp.auths).toEqual([{ method: 'PLAIN', username: 'agent', ok: true }]);

    // Read before each send: a file gone after start makes that attempt a retry naming it.
    rmSync(path.join(dir, 'smtp'));
    expect(await send(notification())).toEqual({ outcome: 'retry', afterMs: 0, reason: expect.stringMatching(/auth\.password_file: cannot read .*smtp \(no such file\)/) });

    const config = { smarthost: `127.0.0.1:${smtp.port}`, from: 'a@example.com', to: ['b@example.com'] };
    const missing = createPluginHarness(email, { config: { ...config, auth: { username: 'agent', password_file: path.join(dir, 'missing') } } });
    await expect(missing.start()).rejects.toMatchObject({ message: expect.stringMatching(/auth\.password_file: cannot read .*missing \(no such file\)/), cause: { code: 'CONFIG_FILE_UNREADABLE' } });
    writeFileSync(path.join(dir, 'empty'), '\n');
    const empty = createPluginHarness(email, { config: { ...config, auth: { username: 'agent', password_file: path.join(dir, 'empty') } } });
    await expect(empty.start()).rejects.toMatchObject({ message: expect.stringMatching(/auth\.password_file: cannot read .*empty \(empty: it holds no secret\)/), cause: { code: 'CONFIG_FILE_UNREADABLE' } });
  });

  it('refuses at once to start when password_file or tls.ca_file is a named pipe (a blocking read would wait for a writer forever)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'email-fifo-'));
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const config = { smarthost: '127.0.0.1:25', from: 'a@example.com', to: ['b@example.com'] };
    // Before, the start waited on the pipe until jest's timeout failed the test; now it is refused.
    const password = createPluginHarness(email, { config: { ...config, auth: { username: 'agent', password_file: fifo } } });
    await expect(password.start()).rejects.toMatchObject({ message: expect.stringContaining(`auth.password_file: cannot read ${fifo} (is a named pipe, not a regular file)`), cause: { code: 'CONFIG_FILE_UNREADABLE' } });
    const ca = createPluginHarness(email, { config: { ...config, tls: { ca_file: fifo } } });
    await expect(ca.start()).rejects.toMatchObject({ message: expect.stringContaining(`tls.ca_file: cannot read ${fifo} (is a named pipe, not a regular file)`), cause: { code: 'CONFIG_FILE_UNREADABLE' } });
  });

  it.each(['PLAIN', 'LOGIN'])('answers permanent on a wrong password (535, AUTH %s), and the password is in no reason, log line or event', async (method) => {
    const smtp = await peer({ auth: { username: 'agent', password: 'the-right-one', methods: [method], echo: true } });
    const { logger, text } = capture();
    const { h, send } = await sink({ smarthost: `127.0.0.1:${smtp.port}`, auth: { username: 'agent', password: PASSWORD } }, logger);
    // nodemailer's own logger (console, bunyan style) stays off: nothing of the SMTP dialogue is printed.
    const consoleSpies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((level) => jest.spyOn(console, level).mockImplementation(() => undefined));
    const result = await send(notification());
    for (const spy of consoleSpies) {
      expect(spy).not.toHaveBeenCalled();
      spy.mockRestore();
    }
    // The server quotes the password it got; the reason masks it.
    expect(result).toEqual({ outcome: 'permanent', reason: `SMTP server answered 535 to AUTH ${method}: 535 Authentication credentials invalid for agent:***` });
    expect(smtp.auths).toEqual([{ method, username: 'agent', ok: false }]);
    expect(smtp.mails).toHaveLength(0);
    const everything = JSON.stringify(result) + text() + JSON.stringify(h.events) + JSON.stringify(h.instance.stats?.());
    for (const form of [PASSWORD, Buffer.from(PASSWORD).toString('base64'), Buffer.from(`\u0000agent\u0000${PASSWORD}`).toString('base64')]) expect(everything).not.toContain(form);
    expect(text()).toContain('email sink ready');
  });
});

describe('email sink: TLS', () => {
  const tls = selfSignedCert();

  it('upgrades with STARTTLS and trusts a self-signed certificate through tls.ca_file', async () => {
    const smtp = await peer({ tls, auth: { username: 'agent', password: PASSWORD } });
    const { send } = await sink({ smarthost: `127.0.0.1:${smtp.port}`, require_tls: true, tls: { ca_file: tls.certFile }, auth: { username: 'agent', password: PASSWORD } });
    expect(await send(notification())).toEqual({ outcome: 'delivered' });
    expect(smtp.mails).toHaveLength(1);
  });

  it('speaks implicit TLS (secure) from the first byte', async () => {
    const smtp = await peer({ tls, implicitTls: true, auth: { username: 'agent', password: PASSWORD } });
    const { send } = await sink({ host: '127.0.0.1', port: smtp.port, secure: true, tls: { ca_file: tls.certFile }, auth: { username: 'agent', password: PASSWORD } });
    expect(await send(notification())).toEqual({ outcome: 'delivered' });
    expect(smtp.mails).toHaveLength(1);
    // The same server without secure: the client waits for a plain-text greeting that never comes.
    const { send: plain } = await sink({ host: '127.0.0.1', port: smtp.port, greeting_timeout: 300, socket_timeout: 300 });
    expect(await plain(notification())).toMatchObject({ outcome: 'retry' });
  });

  it('does not send when the certificate is not trusted (retry: it may be renewed), nor when require_tls meets a server refusing STARTTLS (permanent)', async () => {
    const smtp = await peer({ tls });
    const { send } = await sink({ smarthost: `127.0.0.1:${smtp.port}`, require_tls: true });
    const untrusted = await send(notification());
    expect(untrusted).toMatchObject({ outcome: 'retry', reason: expect.stringMatching(/ETLS|certificate/i) });

    const plain = await peer();
    const { send: sendPlain } = await sink({ host: '127.0.0.1', port: plain.port, require_tls: true });
    expect(await sendPlain(notification())).toEqual({ outcome: 'permanent', reason: 'SMTP server answered 500 to STARTTLS: 500 Error: command not recognized' });
    expect(smtp.mails).toHaveLength(0);
    expect(plain.mails).toHaveLength(0);
  });

  it('refuses to start when tls.ca_file cannot be read', async () => {
    const h = createPluginHarness(email, { config: { smarthost: '127.0.0.1:25', from: 'a@example.com', to: ['b@example.com'], tls: { ca_file: path.join(tls.dir, 'nope.pem') } } });
    await expect(h.start()).rejects.toMatchObject({ message: expect.stringMatching(/tls\.ca_file: cannot read .*nope\.pem \(no such file\)/), cause: { code: 'CONFIG_FILE_UNREADABLE' } });
  });
});

describe('email sink: failures', () => {
  it('retries a 451 (temporary) and is delivered on the next attempt', async () => {
    const smtp = await peer({ dataReplies: [451] });
    const { h, send } = await sink({ smarthost: `127.0.0.1:${smtp.port}` });
    expect(await send(notification())).toEqual({ outcome: 'retry', afterMs: 0, reason: 'SMTP server answered 451 to DATA: 451 Greylisted, try again later' });
    expect(smtp.mails).toHaveLength(0);
    expect(await send(notification())).toEqual({ outcome: 'delivered' });
    expect(smtp.mails).toHaveLength(1);
    expect(h.instance.stats?.()).toEqual({ sent: 1, retry: 1, permanent: 0 });
  });

  it('answers permanent on a 554 and on a 550 recipient', async () => {
    const smtp = await peer({ dataReplies: [554], rejectRcpt: ['nobody@example.com'] });
    const { send } = await sink({ smarthost: `127.0.0.1:${smtp.port}` });
    expect(await send(notification())).toEqual({ outcome: 'permanent', reason: 'SMTP server answered 554 to DATA: 554 Message rejected as spam' });
    const { send: sendNobody } = await sink({ smarthost: `127.0.0.1:${smtp.port}`, to: ['nobody@example.com'] });
    expect(await sendNobody(notification())).toEqual({ outcome: 'permanent', reason: 'SMTP server answered 550 to RCPT TO: 550 <nobody@example.com>: Recipient address rejected: User unknown' });
    expect(smtp.mails).toHaveLength(0);
  });

  it('retries when nothing listens (connection refused)', async () => {
    const silent = await startSilentPeer();
    const port = silent.port;
    await silent.close();
    const { send } = await sink({ smarthost: `127.0.0.1:${port}` });
    expect(await send(notification())).toMatchObject({ outcome: 'retry', reason: expect.stringMatching(/ECONNECTION.*ECONNREFUSED|ECONNREFUSED/) });
  });

  it('retries when the server never greets, after greeting_timeout', async () => {
    const silent = await startSilentPeer();
    open.push(silent);
    const { send } = await sink({ smarthost: `127.0.0.1:${silent.port}`, greeting_timeout: 200 });
    expect(await send(notification())).toMatchObject({ outcome: 'retry', reason: expect.stringMatching(/ETIMEDOUT.*[Gg]reeting/) });
    expect(silent.connections()).toBe(1);
  });

  it('ends the attempt and closes its connection when the signal is aborted', async () => {
    const silent = await startSilentPeer();
    open.push(silent);
    const { send } = await sink({ smarthost: `127.0.0.1:${silent.port}`, greeting_timeout: 60_000, socket_timeout: 60_000 });
    const controller = new AbortController();
    const pending = send(notification(), controller.signal);
    while (silent.connections() === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort(new Error('attempt timed out'));
    expect(await pending).toEqual({ outcome: 'retry', afterMs: 0, reason: 'SMTP attempt aborted (timed out or the agent is stopping)' });
    while (silent.open() > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(silent.open()).toBe(0);
  });

  it('answers permanent without connecting when its receiver has no recipients', async () => {
    const { send } = await sink({ smarthost: '127.0.0.1:1', to: [], receivers: { 'db-team': { to: ['dba@example.com'] } } });
    expect(await send(notification({ receiver: 'ops' }))).toEqual({ outcome: 'permanent', reason: 'no recipients for receiver "ops": set to, or receivers.ops.to' });
  });
});

describe('email sink: config', () => {
  const issues = (config: unknown): string[] => emailConfigSchema.safeParse(config).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];

  it('names what is missing in an empty config', () => {
    expect(issues({})).toEqual(['from: missing: the sender address, e.g. "Alerts <alerts@example.com>"', 'smarthost: missing: set smarthost ("host:port") or host (and port)', 'to: missing: at least one recipient (to, or receivers.<name>.to)']);
  });

  it('refuses contradictions and header injection', () => {
    const base = { from: 'a@example.com', to: ['b@example.com'] };
    expect(issues({ ...base, smarthost: 'mx:25', host: 'mx' })).toEqual(['host: set smarthost or host, not both']);
    expect(issues({ ...base, smarthost: 'mx:25', port: 25 })).toEqual(['port: smarthost already names the port; drop port']);
    expect(issues({ ...base, smarthost: 'mx' })).toEqual(['smarthost: expected "host:port", e.g. "smtp.example.com:587"']);
    expect(issues({ ...base, smarthost: 'mx:25', auth: { username: 'u' } })).toEqual(['auth: set exactly one of password ("${SMTP_PASSWORD}", "${file:/path}") and password_file']);
    expect(issues({ ...base, smarthost: 'mx:25', headers: { 'X-A': 'one\r\nBcc: evil@example.com' } })).toEqual(['headers.X-A: a header value must be one line']);
    expect(issues({ ...base, smarthost: 'mx:25', headers: { To: 'x@example.com' } })).toEqual(['headers.To: set to (the envelope follows it), not the header']);
    expect(issues({ ...base, smarthost: 'mx:25', headers: { Subject: 'x' } })).toEqual(['headers.Subject: set subject (a template, or fixed text), not the header']);
    expect(issues({ ...base, smarthost: 'mx:25', text: '', html: '' })).toEqual(['html: text and html cannot both be "": a mail needs a body']);
    expect(issues({ ...base, smarthost: 'mx:25', receivers: { ops: { subject: '{{ .Nope }}' } } })).toEqual([expect.stringMatching(/^receivers\.ops\.subject: template 1:\d+: /)]);
    expect(issues({ from: 'a@example.com', smarthost: 'mx:25', receivers: { ops: { from: 'c@example.com' } } })).toEqual(['receivers.ops.to: missing: this receiver has no recipients since to is empty']);
  });

  it('declares its delivery defaults and the Alertmanager integration', () => {
    expect(email.sink?.delivery).toEqual({ timeout: 30_000, max_age: 3_600_000 });
    expect(email.sink?.alertmanager?.key).toBe('email_configs');
  });
});

describe('email sink: Alertmanager email_configs', () => {
  const toConfig = (entry: Record<string, unknown>, global: Record<string, unknown> = {}) => email.sink?.alertmanager?.toConfig(entry, { global, receiver: 'ops' });
  const problems = (entry: Record<string, unknown>, global: Record<string, unknown> = {}): string[] => {
    const r = toConfig(entry, global);
    return r && 'problems' in r ? r.problems.map((p) => `${p.path.join('.')}: ${p.message}`) : [];
  };

  it('maps every supported field onto a config the sink accepts', () => {
    const result = toConfig({
      send_resolved: true,
      to: 'ops@example.com, dba@example.com',
      from: 'am@example.com',
      smarthost: 'smtp.example.com:587',
      auth_username: 'am',
      auth_password: PASSWORD,
      auth_identity: 'am',
      require_tls: false,
      headers: { Subject: '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}', 'X-Team': 'db' },
      html: '<b>{{ len .Alerts }}</b>',
      text: '{{ range .Alerts }}{{ .Annotations.summary }}{{ end }}',
      tls_config: { ca_file: '/etc/ssl/ca.pem', insecure_skip_verify: false, server_name: 'smtp.example.com' },
    });
    expect(result).toEqual({
      config: {
        smarthost: 'smtp.example.com:587',
        from: 'am@example.com',
        to: ['ops@example.com', 'dba@example.com'],
        send_resolved: true,
        require_tls: false,
        auth: { username: 'am', password: PASSWORD },
        tls: { ca_file: '/etc/ssl/ca.pem', reject_unauthorized: true, server_name: 'smtp.example.com' },
        subject: '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}',
        headers: { 'X-Team': 'db' },
        html: '<b>{{ len .Alerts }}</b>',
        text: '{{ range .Alerts }}{{ .Annotations.summary }}{{ end }}',
      },
    });
    // send_resolved is the entry's delivery.send_resolved (the core's): the rest is the sink's config.
    const { send_resolved: _sendResolved, ...config } = (result as { config: Record<string, unknown> }).config;
    expect(emailConfigSchema.safeParse(config).error?.issues ?? []).toEqual([]);
  });

  it('applies the global smtp_* defaults and Alertmanager\'s own (send_resolved false, require_tls true)', () => {
    const global = { smtp_from: 'g@example.com', smtp_smarthost: 'mail:465', smtp_auth_username: 'g', smtp_auth_password_file: '/run/secrets/smtp', smtp_require_tls: false };
    expect(toConfig({ to: 'ops@example.com' }, global)).toEqual({
      config: { smarthost: 'mail:465', from: 'g@example.com', to: ['ops@example.com'], send_resolved: false, require_tls: false, auth: { username: 'g', password_file: '/run/secrets/smtp' } },
    });
    expect(toConfig({ to: 'a@example.com' }, { smtp_from: 'g@example.com', smtp_smarthost: 'mail:25', smtp_auth_username: 'g', smtp_auth_password: 'pw' })).toEqual({
      config: { smarthost: 'mail:25', from: 'g@example.com', to: ['a@example.com'], send_resolved: false, require_tls: true, auth: { username: 'g', password: 'pw' } },
    });
    // The entry's own secret replaces the global pair; its fields win over global ones.
    expect(toConfig({ to: 'a@example.com', from: 'e@example.com', smarthost: 'e:25', auth_password_file: '/own' }, { smtp_from: 'g@example.com', smtp_smarthost: 'g:25', smtp_auth_username: 'g', smtp_auth_password: 'pw' })).toMatchObject({
      config: { smarthost: 'e:25', from: 'e@example.com', auth: { username: 'g', password_file: '/own' } },
    });
  });

  it('names every field without an equivalent, and what to use instead', () => {
    const base = { to: 'a@example.com', from: 'f@example.com', smarthost: 'm:25' };
    expect(problems({ ...base, hello: 'me' })).toEqual(['hello: hello has no equivalent: the agent does not set the EHLO name; remove hello']);
    expect(problems({ ...base, auth_username: 'u', auth_secret: 's' })).toEqual(expect.arrayContaining([expect.stringMatching(/^auth_secret: .*CRAM-MD5.*use auth_password/)]));
    expect(problems({ ...base, auth_secret_file: '/s' })).toEqual([expect.stringMatching(/^auth_secret_file: .*CRAM-MD5/)]);
    expect(problems({ ...base, threading: { enabled: true } })).toEqual([expect.stringMatching(/^threading: .*not supported/)]);
    expect(problems({ ...base, bogus: 1 })).toEqual(['bogus: bogus is not an email_configs field the agent knows; remove it (see plugins/email/README.md, "Alertmanager mapping")']);
    expect(problems({ ...base, auth_username: 'u', auth_password: 'p', auth_identity: 'admin' })).toEqual([expect.stringMatching(/^auth_identity: .*not supported/)]);
    expect(problems({ ...base, tls_config: { cert_file: '/c.pem', key_file: '/k.pem' } })).toEqual([expect.stringMatching(/^tls_config\.cert_file: .*client certificates/), expect.stringMatching(/^tls_config\.key_file: /)]);
    expect(problems({ ...base, headers: { Subject: '{{ template "mine" . }}' } })).toEqual([expect.stringMatching(/^headers\.Subject: template 1:\d+: /)]);
    expect(problems({ ...base, headers: { 'X-Who': '{{ .Receiver }}' } })).toEqual(['headers.X-Who: a Go template, but only the Subject header is rendered: write a fixed value']);
    expect(problems({ ...base, headers: { To: 'x@example.com' } })).toEqual(['headers.To: set to instead of the header']);
    expect(problems({ ...base, html: '{{ .Nope }}' })).toEqual([expect.stringMatching(/^html: template 1:\d+: /)]);
    expect(problems({ ...base, text: '{{ range .Alerts }}' })).toEqual([expect.stringMatching(/^text: template \d+:\d+: /)]);
    expect(problems({})).toEqual([
      'smarthost: missing: set smarthost ("host:port") here or global.smtp_smarthost',
      'from: missing: set from here or global.smtp_from',
      'to: missing: the recipient address(es), comma-separated',
    ]);
    expect(problems({ ...base, auth_username: 'u', auth_password: 'p', auth_password_file: '/f' })).toEqual(['auth_password: set auth_password or auth_password_file, not both']);
    expect(problems({ ...base, auth_username: 'u' })).toEqual(['auth_username: auth_username needs auth_password or auth_password_file (here or in global)']);
    expect(problems({ ...base, auth_password: 'p' })).toEqual(['auth_username: missing: auth_password is set but auth_username is not (here or in global)']);
    expect(problems({ ...base, require_tls: 'yes' })).toEqual(['require_tls: expected true or false']);
    expect(problems(base, { smtp_hello: 'me.example.com' })).toEqual([': global.smtp_hello has no equivalent: the agent does not set the EHLO name; remove global.smtp_hello']);
    // A problem never quotes the password.
    expect(JSON.stringify(problems({ ...base, auth_password: PASSWORD }))).not.toContain(PASSWORD);
  });

  it('takes Alertmanager\'s default templates as the sink\'s own rendering', () => {
    const result = toConfig({ to: 'a@example.com', from: 'f@example.com', smarthost: 'm:25', html: '{{ template "email.default.html" . }}', text: '', headers: { Subject: '{{ template "email.default.subject" . }}' } });
    expect(result).toEqual({ config: { smarthost: 'm:25', from: 'f@example.com', to: ['a@example.com'], send_resolved: false, require_tls: true, headers: {} } });
  });

  it('maps force_implicit_tls to secure and insecure_skip_verify to reject_unauthorized', () => {
    expect(toConfig({ to: 'a@example.com', from: 'f@example.com', smarthost: 'm:2465', force_implicit_tls: true, tls_config: { insecure_skip_verify: true } })).toMatchObject({ config: { secure: true, tls: { reject_unauthorized: false } } });
  });
});
