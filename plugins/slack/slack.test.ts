import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { FakeClock, type Notification, type NotificationAlert, type Notifier, type SinkResult } from 'praxis-agent';
import { createPluginHarness, runPluginConformance, selfSignedCert } from 'praxis-agent/testing';
import slack from './index';
import { FakeSlack } from './test-peer';

/** The secret part of every test webhook: it must never show up in a reason or a log line. */
const TOKEN = 'XXsecretTOKEN1234567890';
const hookPath = (team = 'T0001'): string => `/services/${team}/B0001/${TOKEN}`;

runPluginConformance(slack, { config: { webhook_url: `http://127.0.0.1:9${hookPath()}` } });

function alert(over: Partial<NotificationAlert> & { labels?: Record<string, string> } = {}): NotificationAlert {
  return {
    status: 'firing',
    labels: { alertname: 'DiskFull', severity: 'critical', instance: 'db-1' },
    annotations: { summary: 'disk / is 97% full' },
    startsAt: '2026-11-30T12:00:00.000Z',
    fingerprint: '0123456789abcdef',
    generatorURL: 'http://127.0.0.1:9780/alerts?fp=0123456789abcdef',
    ...over,
  };
}

function notification(over: Partial<Notification> = {}): Notification {
  return {
    receiver: 'ops',
    groupKey: '{}:{alertname="DiskFull"}',
    groupLabels: { alertname: 'DiskFull' },
    commonLabels: { alertname: 'DiskFull', severity: 'critical' },
    commonAnnotations: {},
    status: 'firing',
    alerts: [alert()],
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

type Block = { type: string; text?: { type: string; text: string }; elements?: Array<{ text: string }> };
interface Payload {
  text: string;
  channel?: string;
  username?: string;
  icon_emoji?: string;
  blocks: Block[];
  attachments: Array<{ color: string; fallback: string; blocks: Block[] }>;
}

const texts = (blocks: Block[]): string[] => blocks.flatMap((b) => [...(b.text ? [b.text.text] : []), ...(b.elements ?? []).map((e) => e.text)]);

describe('slack sink', () => {
  const peer = new FakeSlack();
  let base: string;
  let started: Array<{ stop: () => Promise<unknown> }> = [];
  const logs = capture();

  beforeAll(async () => {
    base = await peer.listen();
  });
  afterEach(async () => {
    for (const h of started) await h.stop();
    started = [];
    peer.requests.length = 0;
    peer.answer = (_req, res) => void res.writeHead(200).end('ok');
  });
  afterAll(async () => {
    await peer.close();
    // Whatever happened in this file, the secret went nowhere near the log.
    expect(logs.text()).not.toContain(TOKEN);
  });

  async function sink(config: Record<string, unknown> = {}, clock?: FakeClock): Promise<Notifier & { stop(): void }> {
    const h = createPluginHarness(slack, { name: 'chat', logger: logs.logger, config: { webhook_url: `${base}${hookPath()}`, ...config }, ...(clock && { clock }) });
    await h.start();
    started.push(h);
    return h.instance as unknown as Notifier & { stop(): void };
  }

  const send = (s: Notifier, n: Notification = notification(), signal = new AbortController().signal): Promise<SinkResult> => s.send(n, signal);

  it('posts one Block Kit message per notification: header with status, severity, count and group; severity colour and emoji; a section per alert', async () => {
    const s = await sink({ channel: '#alerts', username: 'praxis', icon_emoji: ':rotating_light:' });
    const n = notification({ alerts: [alert(), alert({ status: 'resolved', endsAt: '2026-11-30T12:05:00.000Z', labels: { alertname: 'DiskFull', severity: 'critical', instance: 'db-2' }, fingerprint: 'fedcba9876543210' })] });
    expect(await send(s, n)).toEqual({ outcome: 'delivered' });
    expect(peer.requests).toHaveLength(1);
    const req = peer.requests[0];
    expect(req).toMatchObject({ method: 'POST', path: hookPath() });
    expect(req.headers['content-type']).toBe('application/json');
    const p = peer.payload() as unknown as Payload;
    expect(p).toMatchObject({ channel: '#alerts', username: 'praxis', icon_emoji: ':rotating_light:' });
    expect(p.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', emoji: true, text: ':red_circle: FIRING · CRITICAL · 2 alerts (1 firing, 1 resolved) · alertname=DiskFull' } });
    expect(p.blocks[1].type).toBe('context');
    expect(texts([p.blocks[1]])[0]).toMatch(/^Receiver \*ops\* · group `alertname=DiskFull` · <!date\^\d+\^/);
    expect(p.text).toBe('FIRING · CRITICAL · 2 alerts (1 firing, 1 resolved) · alertname=DiskFull');
    expect(p.attachments).toHaveLength(1);
    expect(p.attachments[0].color).toBe('#D40E0D');
    const sections = p.attachments[0].blocks;
    expect(sections.map((b) => b.type)).toEqual(['section', 'section']);
    expect(sections[0].text?.text).toBe(
      ':red_circle: *<http://127.0.0.1:9780/alerts?fp=0123456789abcdef|DiskFull>* · CRITICAL · firing\ndisk / is 97% full\n`instance=db-1`\nStarted <!date^1796040000^{date_short_pretty} {time_secs}|2026-11-30T12:00:00.000Z>',
    );
    expect(sections[1].text?.text).toMatch(/^:white_check_mark: \*<[^>]+>\* · CRITICAL · resolved\n[^]*`instance=db-2`\nStarted <!date[^>]+> · ended <!date\^1796040300\^/);
  });

  it('says RESOLVED in green, REMINDER, ACKNOWLEDGED and NOTICE in words, not only in colour', async () => {
    const s = await sink();
    await send(s, notification({ status: 'resolved', reason: 'all_alerts_resolved', alerts: [alert({ status: 'resolved', endsAt: '2026-11-30T12:05:00.000Z' })] }));
    await send(s, notification({ reminder: true, reason: 'repeat_interval_elapsed' }));
    await send(s, notification({ reason: 'acknowledged', alerts: [alert({ acknowledgement: { by: 'ana', comment: 'on it <!here>', at: '2026-11-30T12:01:00.000Z' } })] }));
    await send(s, notification({ reason: 'notice', alerts: [alert({ labels: { alertname: 'ConfigDrift', severity: 'warning' } })] }));
    await send(s, notification({ alerts: [alert({ labels: { alertname: 'Odd', severity: 'sev-x' } })] }));
    const [resolved, reminder, ack, notice, unknown] = peer.requests.map((_, i) => peer.payload(i) as unknown as Payload);
    expect(resolved.blocks[0].text?.text).toMatch(/^:white_check_mark: RESOLVED · 1 alert · alertname=DiskFull$/);
    expect(resolved.attachments[0].color).toBe('#2EB67D');
    expect(reminder.blocks[0].text?.text).toMatch(/^:red_circle: REMINDER: FIRING · CRITICAL · 1 alert/);
    expect(ack.blocks[0].text?.text).toMatch(/^:eyes: ACKNOWLEDGED · CRITICAL · 1 alert/);
    expect(ack.attachments[0].blocks[0].text?.text).toContain(':eyes: acknowledged by ana: on it &lt;!here&gt;');
    expect(notice.blocks[0].text?.text).toMatch(/^:large_yellow_circle: NOTICE · WARNING · 1 alert/);
    expect(notice.attachments[0].color).toBe('#ECB22E');
    expect(unknown.attachments[0].blocks[0].text?.text).toMatch(/^:white_circle: \*<[^>]+>\* · SEV-X · firing/);
  });

  it('stays within Slack limits: 60 alerts and a 5000-character annotation give at most 50 blocks, 3000 characters per section and "and N more"', async () => {
    const s = await sink();
    const alerts = Array.from({ length: 60 }, (_, i) =>
      alert({ labels: { alertname: 'DiskFull', severity: 'critical', instance: `db-${i}` }, fingerprint: i.toString(16).padStart(16, '0'), annotations: { summary: i === 0 ? 'x'.repeat(5000) : `disk ${i} full`, description: i === 0 ? '&'.repeat(5000) : 'more' } }),
    );
    const changes = Array.from({ length: 40 }, (_, i) => ({ at: '2026-11-30T11:59:00.000Z', config_path: `app.yaml#pool.size${i}`, old_value: 'v'.repeat(500), new_value: { nested: i }, changed_by: 'ops', change_reason: 'tuning' }));
    expect(await send(s, notification({ alerts, truncatedAlerts: 5, recentChanges: changes, groupLabels: Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`label${i}`, 'v'.repeat(100)])) }))).toEqual({ outcome: 'delivered' });
    const p = peer.payload() as unknown as Payload;
    const all = [...p.blocks, ...p.attachments[0].blocks];
    expect(all.length).toBeLessThanOrEqual(50);
    expect(all.length).toBe(50);
    for (const b of all) {
      if (b.type === 'section') expect(b.text?.text.length).toBeLessThanOrEqual(3000);
      if (b.type === 'header') expect(b.text?.text.length).toBeLessThanOrEqual(150);
      if (b.type === 'context') for (const e of b.elements ?? []) expect(e.text.length).toBeLessThanOrEqual(3000);
    }
    const sections = p.attachments[0].blocks.filter((b) => b.type === 'section');
    // The changes section, then one per alert shown: 50 - header - context - changes - "and N more".
    expect(sections).toHaveLength(1 + 46);
    expect(sections[0].text?.text).toMatch(/^:wrench: \*Probable cause: 40 config changes shortly before\*\n• <!date/);
    expect(sections[0].text?.text).toMatch(/_and \d+ more changes_$/);
    expect(sections[1].text?.text).toContain('x'.repeat(1000));
    expect(sections[1].text?.text).toContain('…');
    expect(sections[1].text?.text).not.toMatch(/&a?m?p?…/); // never cut inside an entity
    const last = p.attachments[0].blocks[p.attachments[0].blocks.length - 1];
    expect(last.type).toBe('context');
    expect(texts([last])[0]).toBe(`_and ${60 - 46 + 5} more alerts not shown_`);
    expect(texts([p.blocks[1]])[0]).toMatch(/\+\d+ more group labels/);
  });

  it('says "and N more" for alerts the engine left out even when every listed one fits', async () => {
    const s = await sink();
    await send(s, notification({ truncatedAlerts: 3 }));
    const p = peer.payload() as unknown as Payload;
    expect(p.blocks[0].text?.text).toContain('4 alerts');
    expect(texts(p.attachments[0].blocks)).toEqual([expect.stringContaining('DiskFull'), '_and 3 more alerts not shown_']);
  });

  it('escapes Slack mrkdwn control characters in untrusted labels, annotations and changes; a non-http generator URL is no link', async () => {
    const s = await sink();
    const evil = '<!channel> & <https://evil.example|click here>';
    await send(
      s,
      notification({
        groupLabels: { alertname: evil },
        alerts: [alert({ labels: { alertname: evil, team: evil }, annotations: { summary: evil }, generatorURL: 'javascript:alert(1)' })],
        recentChanges: [{ at: '2026-11-30T11:59:00.000Z', config_path: 'a.yaml#x', old_value: '<@U123>', new_value: 'b`c', changed_by: '<!everyone>' }],
      }),
    );
    const p = peer.payload() as unknown as Payload;
    // Only the header is plain_text, which Slack shows as typed (no mentions, no links there).
    expect(p.blocks[0].text?.type).toBe('plain_text');
    const mrkdwn = JSON.stringify({ ...p, blocks: p.blocks.slice(1) });
    expect(mrkdwn).toContain('&lt;!channel&gt;');
    expect(mrkdwn).not.toMatch(/<!channel>|<!everyone>|<@U123>|<https:\/\/evil/);
    const alertText = p.attachments[0].blocks[1].text?.text ?? '';
    expect(alertText).toContain('*&lt;!channel&gt; &amp; &lt;https://evil.example|click here&gt;*');
    expect(alertText).toContain('`team=&lt;!channel&gt; &amp; &lt;https://evil.example|click here&gt;`');
    expect(alertText).not.toContain('javascript:');
    expect(p.attachments[0].blocks[0].text?.text).toContain('`&lt;@U123&gt;` → `b\'c` (by &lt;!everyone&gt;)');
    expect(p.text).toContain('&lt;!channel&gt;');
  });

  it('applies per-receiver overrides (channel, webhook, title, text, colour) by notification.receiver', async () => {
    const s = await sink({ channel: '#alerts', receivers: { db: { channel: '#db', webhook_url: `${base}${hookPath('T0002')}`, title: 'Database trouble', color: 'warning' }, quiet: { text: 'See the *runbook*: <https://wiki/db|db>' } } });
    await send(s, notification({ receiver: 'db' }));
    await send(s, notification({ receiver: 'quiet' }));
    await send(s, notification({ receiver: 'other' }));
    const [db, quiet, other] = peer.requests;
    expect(db.path).toBe(hookPath('T0002'));
    expect(quiet.path).toBe(hookPath());
    expect(other.path).toBe(hookPath());
    const dbPayload = peer.payload(0) as unknown as Payload;
    expect(dbPayload).toMatchObject({ channel: '#db', text: 'Database trouble', attachments: [{ color: 'warning' }] });
    expect(dbPayload.blocks[0].text?.text).toBe(':red_circle: Database trouble');
    const quietPayload = peer.payload(1) as unknown as Payload;
    expect(quietPayload.channel).toBe('#alerts');
    expect(texts(quietPayload.attachments[0].blocks)).toEqual(['See the *runbook*: <https://wiki/db|db>']);
  });

  it('renders title, text and color templates per notification; values in text are escaped, the template\'s own markup is kept', async () => {
    const s = await sink({
      title: '[{{ .Status | toUpper }}:{{ len .Alerts.Firing }}] {{ .CommonLabels.alertname }}',
      text: '{{ range .Alerts }}• <{{ .GeneratorURL }}|{{ .Labels.alertname }}>: {{ .Annotations.summary }}\n{{ end }}',
      color: '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}',
      receivers: { odd: { color: '{{ .CommonLabels.alertname }}', title: '{{ .CommonLabels.missing }}' } },
    });
    await send(s, notification({ alerts: [alert({ annotations: { summary: 'a <!channel> & b' }, generatorURL: 'http://h/x?a=1&b=2' })] }));
    await send(s, notification({ status: 'resolved', alerts: [alert({ status: 'resolved', endsAt: '2026-11-30T12:05:00.000Z' })] }));
    await send(s, notification({ receiver: 'odd' }));
    const [firing, resolved, odd] = peer.requests.map((_, i) => peer.payload(i) as unknown as Payload);
    expect(firing.blocks[0].text?.text).toBe(':red_circle: [FIRING:1] DiskFull');
    expect(firing.text).toBe('[FIRING:1] DiskFull');
    expect(firing.attachments[0].color).toBe('danger');
    expect(texts(firing.attachments[0].blocks)).toEqual(['• <http://h/x?a=1&amp;b=2|DiskFull>: a &lt;!channel&gt; &amp; b']);
    expect(resolved.blocks[0].text?.text).toBe(':white_check_mark: [RESOLVED:0] DiskFull');
    expect(resolved.attachments[0].color).toBe('good');
    // A colour template rendering no colour, an empty title: the defaults.
    expect(odd.attachments[0].color).toBe('#D40E0D');
    expect(odd.blocks[0].text?.text).toBe(':red_circle: FIRING · CRITICAL · 1 alert · alertname=DiskFull');
  });

  it('answers retry on 500, once: the library does not retry by itself', async () => {
    const s = await sink();
    peer.answer = (_req, res) => void res.writeHead(500).end('internal_error');
    expect(await send(s)).toEqual({ outcome: 'retry', afterMs: 0, reason: 'Slack webhook answered HTTP 500: internal_error' });
    expect(peer.requests).toHaveLength(1);
  });

  it('answers retry after Retry-After on 429, in seconds or as an HTTP date on the sink clock', async () => {
    const clock = new FakeClock(Date.parse('2026-11-30T12:00:00Z'));
    const s = await sink({}, clock);
    peer.answer = (_req, res) => void res.writeHead(429, { 'retry-after': '2' }).end('rate_limited');
    expect(await send(s)).toEqual({ outcome: 'retry', afterMs: 2000, reason: 'Slack webhook answered HTTP 429, Retry-After 2 s: rate_limited' });
    peer.answer = (_req, res) => void res.writeHead(429, { 'retry-after': 'Mon, 30 Nov 2026 12:00:07 GMT' }).end();
    expect(await send(s)).toEqual({ outcome: 'retry', afterMs: 7000, reason: 'Slack webhook answered HTTP 429, Retry-After 7 s' });
    expect(peer.requests).toHaveLength(2);
  });

  it.each([
    [400, 'invalid_payload'],
    [403, 'invalid_token'],
    [404, 'no_service'],
  ])('answers permanent on %i with what Slack said', async (status, body) => {
    const s = await sink();
    peer.answer = (_req, res) => void res.writeHead(status).end(body);
    expect(await send(s)).toEqual({ outcome: 'permanent', reason: `Slack webhook answered HTTP ${status}: ${body}` });
  });

  it('reads at most 64 KiB of an answer and quotes one short line of it', async () => {
    const s = await sink();
    peer.answer = (_req, res) => void res.writeHead(503).end(`overloaded ${'y'.repeat(200_000)}`);
    const result = await send(s);
    expect(result).toMatchObject({ outcome: 'retry', reason: expect.stringMatching(/^Slack webhook answered HTTP 503: overloaded y+$/) });
    expect((result as { reason: string }).reason.length).toBeLessThanOrEqual('Slack webhook answered HTTP 503: '.length + 200);
    peer.answer = (_req, res) => void res.writeHead(200).end('z'.repeat(200_000));
    expect(await send(s)).toEqual({ outcome: 'delivered' });
  });

  it('answers retry when the connection drops in the middle of the answer', async () => {
    const s = await sink();
    peer.answer = (_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('o');
      setTimeout(() => res.socket?.destroy(), 20);
    };
    expect(await send(s)).toMatchObject({ outcome: 'retry', afterMs: 0, reason: expect.stringMatching(/^Slack webhook request failed/) });
  });

  it('answers permanent on a redirect, and does not follow it', async () => {
    const s = await sink();
    peer.answer = (_req, res) => void res.writeHead(302, { location: `${base}/elsewhere` }).end();
    expect(await send(s)).toMatchObject({ outcome: 'permanent', reason: 'Slack webhook answered HTTP 302' });
    expect(peer.requests).toHaveLength(1);
  });

  it('aborts a hung request when the attempt signal is aborted, and answers retry', async () => {
    const s = await sink();
    peer.answer = () => undefined; // never answers
    const controller = new AbortController();
    const arrived = peer.nextRequest();
    const result = send(s, notification(), controller.signal);
    await arrived;
    controller.abort();
    expect(await result).toEqual({ outcome: 'retry', afterMs: 0, reason: 'Slack webhook request aborted (the attempt timed out, or the agent is stopping)' });
    const already = new AbortController();
    already.abort();
    expect(await send(s, notification(), already.signal)).toMatchObject({ outcome: 'retry' });
    expect(peer.requests).toHaveLength(1);
  });

  it('cuts a hung request at its own timeout, and stop() aborts requests in flight', async () => {
    const s = await sink({ timeout: 200 });
    peer.answer = () => undefined;
    expect(await send(s)).toEqual({ outcome: 'retry', afterMs: 0, reason: 'Slack webhook did not answer within 200 ms' });
    const long = await sink({ timeout: 60_000 });
    const arrived = peer.nextRequest();
    const result = send(long);
    await arrived;
    long.stop();
    expect(await result).toMatchObject({ outcome: 'retry', reason: expect.stringContaining('aborted') });
  });

  it('answers retry when nobody listens, naming the cause but not the URL', async () => {
    const closed = new FakeSlack();
    const url = await closed.listen();
    await closed.close();
    const s = await sink({ webhook_url: `${url}${hookPath()}` });
    const result = await send(s);
    expect(result).toMatchObject({ outcome: 'retry', afterMs: 0, reason: expect.stringMatching(/^Slack webhook request failed \(ECONNREFUSED\): /) });
    expect(JSON.stringify(result)).not.toContain(TOKEN);
  });

  it('never puts the webhook URL in a reason or log line, even when the answer quotes it', async () => {
    const s = await sink();
    peer.answer = (req, res) => void res.writeHead(400).end(`no such hook: ${base}${req.url} (path ${req.url}, host 127.0.0.1${req.url})`);
    const result = await send(s);
    expect(result.outcome).toBe('permanent');
    const reason = (result as { reason: string }).reason;
    expect(reason).not.toContain(TOKEN);
    expect(reason).toBe('Slack webhook answered HTTP 400: no such hook: (the webhook URL) (path (the webhook URL), host 127.0.0.1(the webhook URL))');
    expect(logs.text()).toContain('"reason":"Slack webhook answered HTTP 400: no such hook');
    // The log names the webhook by the id its rate key uses.
    expect(logs.text()).toContain(`"target":"${s.rateKey?.(notification()).replace('webhook:', '')}"`);
    expect(logs.text()).not.toContain(TOKEN);
  });

  it('delivers over https trusting tls.ca_file, and retries (no delivery) without it', async () => {
    const cert = selfSignedCert();
    const secure = new FakeSlack();
    const url = await secure.listen({ key: cert.key, cert: cert.cert });
    try {
      const trusted = await sink({ webhook_url: `${url}${hookPath()}`, tls: { ca_file: cert.certFile } });
      expect(await send(trusted)).toEqual({ outcome: 'delivered' });
      secure.answer = (_req, res) => void res.writeHead(429, { 'retry-after': '3' }).end();
      expect(await send(trusted)).toMatchObject({ outcome: 'retry', afterMs: 3000 });
      const untrusted = await sink({ webhook_url: `${url}${hookPath()}` });
      expect(await send(untrusted)).toMatchObject({ outcome: 'retry', reason: expect.stringMatching(/self.signed certificate/) });
      expect(secure.requests).toHaveLength(2);
    } finally {
      await secure.close();
    }
  });

  it('reads webhook_url_file at start (relative paths from the config file) and refuses what is not a small file holding a URL', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'slack-hook-'));
    const file = path.join(dir, 'hook');
    writeFileSync(file, `${base}${hookPath('T0003')}\n`);
    const s = await sink({ webhook_url: undefined, webhook_url_file: file });
    expect(await send(s)).toEqual({ outcome: 'delivered' });
    expect(peer.requests[0].path).toBe(hookPath('T0003'));

    const refused = async (content: string | undefined | 'fifo', message: RegExp, code: string): Promise<void> => {
      const target = path.join(dir, `case-${Math.random().toString(16).slice(2)}`);
      if (content === undefined) mkdirSync(target);
      else if (content === 'fifo') execFileSync('mkfifo', [target]);
      else writeFileSync(target, content);
      const h = createPluginHarness(slack, { config: { webhook_url_file: target } });
      const error = await h.start().then(() => undefined, (e: unknown) => e as Error & { cause?: { code?: string } });
      await h.stop();
      expect(error?.message).toMatch(message);
      expect(error?.message).toContain(target);
      expect(error?.cause?.code).toBe(code);
      if (content) expect(error?.message).not.toContain(content.trim());
    };
    await refused(undefined, /webhook_url_file: cannot read .* \(is a directory, not a regular file\)/, 'CONFIG_FILE_UNREADABLE');
    // A named pipe nobody writes to: a blocking read would hang the start; it is refused at once.
    await refused('fifo', /webhook_url_file: cannot read .* \(is a named pipe, not a regular file\)/, 'CONFIG_FILE_UNREADABLE');
    await refused('not a url at all but a secret-ish thing', /does not hold one http:\/\/ or https:\/\/ URL/, 'CONFIG_INVALID_VALUE');
    await refused('', /\(empty: it holds no secret\)/, 'CONFIG_FILE_UNREADABLE');
    await refused(`${base}${hookPath()}`.repeat(2000), /bytes, \d+ over the limit of 65536\)/, 'CONFIG_FILE_UNREADABLE');
    const missing = createPluginHarness(slack, { config: { webhook_url_file: path.join(dir, 'nope') } });
    await expect(missing.start()).rejects.toThrow(/webhook_url_file: cannot read .*nope \(no such file\)/);
  });

  it('rate-limits per webhook: the same URL gives the same key, another URL another, and the key is not the URL', async () => {
    const s = await sink({ receivers: { db: { webhook_url: `${base}${hookPath('T0002')}` } } });
    const same = await sink();
    const ops = s.rateKey?.(notification({ receiver: 'ops' }));
    expect(ops).toMatch(/^webhook:[0-9a-f]{12}$/);
    expect(s.rateKey?.(notification({ receiver: 'other', groupKey: 'x' }))).toBe(ops);
    expect(same.rateKey?.(notification())).toBe(ops);
    expect(s.rateKey?.(notification({ receiver: 'db' }))).not.toBe(ops);
    expect(slack.sink?.delivery).toEqual({ rate_limit: { rate: 1, per: 1000, burst: 1 }, timeout: 10_000, max_age: 3_600_000 });
  });
});

describe('slack config', () => {
  const parse = (config: unknown): string[] => (slack.configSchema.safeParse(config).error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);

  it('needs a webhook, one way, and never quotes a bad URL (it is the secret)', () => {
    expect(parse({})).toEqual(['webhook_url: missing: set webhook_url (e.g. ${SLACK_WEBHOOK_URL}) or webhook_url_file']);
    expect(parse({ webhook_url: 'http://127.0.0.1/x', webhook_url_file: '/run/hook' })).toEqual(['webhook_url_file: use either webhook_url or webhook_url_file, not both']);
    const bad = parse({ webhook_url: 'hooks.slack.com/services/T/B/sekrit' });
    expect(bad).toEqual(['webhook_url: expected an http:// or https:// URL (the value is not shown: it is a secret)']);
    expect(bad.join()).not.toContain('sekrit');
  });

  it('compiles title, text and color templates at validation, refusing constructs outside the subset at line:column; bad colours and tls without https', () => {
    expect(parse({ webhook_url: 'http://h/x', title: '{{ .Status | toUpper }} {{ len .Alerts }}', text: '{{ range .Alerts }}{{ .Labels.alertname }}{{ end }}', color: '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}' })).toEqual([]);
    expect(parse({ webhook_url: 'http://h/x', title: 'ok\n{{ printf "%s" .Status }}' })).toEqual([expect.stringMatching(/^title: template 2:4: /)]);
    expect(parse({ webhook_url: 'http://h/x', text: '' })).toEqual(['text: must not be empty']);
    expect(parse({ webhook_url: 'http://h/x', receivers: { db: { color: 'red' } } })).toEqual(['receivers.db.color: expected good, warning, danger, a colour like #36a64f, or a Go template rendering one']);
    expect(parse({ webhook_url: 'http://h/x', tls: { ca_file: 'ca.pem' } })).toEqual(['tls: tls only applies to https:// webhook URLs']);
    expect(parse({ webhook_url: 'https://h/x', tls: { ca_file: 'ca.pem' }, timeout: '5s' })).toEqual([]);
  });
});

describe('slack as the Alertmanager slack_configs integration', () => {
  const am = slack.sink?.alertmanager;
  const toConfig = (entry: Record<string, unknown>, global: Record<string, unknown> = {}): ReturnType<NonNullable<typeof am>['toConfig']> | undefined => am?.toConfig(entry, { global, receiver: 'team-x' });

  it('maps api_url, channel, username, title, text, color, icons, send_resolved, timeout and tls_config.ca_file onto a valid config', () => {
    expect(am?.key).toBe('slack_configs');
    const out = toConfig({
      api_url: 'https://hooks.slack.com/services/T/B/x',
      channel: '#alerts',
      username: 'am',
      title: 'Alert',
      text: 'See the dashboard',
      color: 'danger',
      icon_emoji: ':fire:',
      icon_url: 'https://example.com/i.png',
      send_resolved: false,
      timeout: '5s',
      link_names: false,
      http_config: { tls_config: { ca_file: '/etc/ca.pem', insecure_skip_verify: false }, follow_redirects: true },
    });
    expect(out).toEqual({ config: { webhook_url: 'https://hooks.slack.com/services/T/B/x', channel: '#alerts', username: 'am', title: 'Alert', text: 'See the dashboard', color: 'danger', icon_emoji: ':fire:', icon_url: 'https://example.com/i.png', send_resolved: false, timeout: '5s', tls: { ca_file: '/etc/ca.pem' } } });
    // send_resolved is the pipeline's (the plugin entry's delivery:), taken out before the plugin's schema sees the rest.
    const { send_resolved: _sendResolved, ...pluginConfig } = (out as { config: Record<string, unknown> }).config;
    expect(slack.configSchema.safeParse(pluginConfig).error?.issues ?? []).toEqual([]);
    expect(slack.configSchema.safeParse({ ...pluginConfig, send_resolved: true }).success).toBe(false);
    expect(toConfig({ api_url_file: '/run/slack', timeout: '0s' })).toEqual({ config: { webhook_url_file: '/run/slack' } });
  });

  it('passes templates through to be compiled by the schema, and leaves Alertmanager\'s written-out defaults for the sink\'s own', () => {
    const defaults = Object.fromEntries(['title', 'text', 'color', 'username', 'icon_emoji', 'icon_url', 'title_link', 'pretext', 'fallback', 'callback_id', 'footer'].map((k) => [k, `{{ template "slack.default.${k.replace('_', '')}" . }}`]));
    expect(toConfig({ api_url: 'https://h/x', ...defaults })).toEqual({ config: { webhook_url: 'https://h/x' } });
    const templated = toConfig({ api_url: 'https://h/x', title: '{{ .CommonLabels.alertname }}', text: '{{ range .Alerts }}{{ .Annotations.summary }}{{ end }}', color: '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}' });
    expect(slack.configSchema.safeParse((templated as { config: unknown }).config).success).toBe(true);
    const unsupported = toConfig({ api_url: 'https://h/x', text: '{{ template "my.text" . }}' });
    expect(slack.configSchema.safeParse((unsupported as { config: unknown }).config).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([expect.stringMatching(/^text: template 1:4: /)]);
    expect(toConfig({ api_url: 'https://h/x', channel: '{{ .CommonLabels.team }}' })).toEqual({ problems: [{ path: ['channel'], message: 'channel: a template is not supported here; write the value itself' }] });
  });

  it('takes global slack_api_url / slack_api_url_file and the global http_config when the entry has none', () => {
    expect(toConfig({ channel: '#a' }, { slack_api_url: 'https://hooks.slack.com/services/G/B/x' })).toEqual({ config: { channel: '#a', webhook_url: 'https://hooks.slack.com/services/G/B/x' } });
    expect(toConfig({}, { slack_api_url_file: '/run/g', http_config: { tls_config: { ca_file: 'ca.pem' } } })).toEqual({ config: { webhook_url_file: '/run/g', tls: { ca_file: 'ca.pem' } } });
    expect(toConfig({ api_url: 'https://h/x' }, { slack_api_url: 'https://g/x' })).toEqual({ config: { webhook_url: 'https://h/x' } });
  });

  it('names every field with no equivalent: actions, fields, callback_id, proxy_url, other TLS keys, both or no URL', () => {
    const problems = (entry: Record<string, unknown>, global: Record<string, unknown> = {}): string[] => {
      const out = toConfig(entry, global);
      return out && 'problems' in out ? out.problems.map((p) => `${p.path.join('.')}: ${p.message}`) : [];
    };
    expect(problems({ api_url: 'https://h/x', actions: [{ type: 'button' }], fields: [], callback_id: 'x', title_link: 'https://x', link_names: true })).toEqual([
      'actions: actions has no equivalent in the slack sink: the slack sink sends no interactive buttons',
      'fields: fields has no equivalent in the slack sink: the slack sink lists every alert with its labels instead of fixed fields',
      'callback_id: callback_id has no equivalent in the slack sink: the slack sink sends no interactive messages',
      'title_link: title_link has no equivalent in the slack sink',
      'link_names: link_names: true has no equivalent in the slack sink (only false, the default)',
    ]);
    expect(problems({ api_url: 'https://h/x', http_config: { proxy_url: 'http://proxy:3128', basic_auth: { username: 'u' }, tls_config: { cert_file: 'c.pem' } } })).toEqual([
      expect.stringMatching(/^http_config\.proxy_url: http_config\.proxy_url has no equivalent in the slack sink: the slack sink connects directly; a proxy is not supported/),
      'http_config.basic_auth: http_config.basic_auth has no equivalent in the slack sink (only tls_config.ca_file)',
      'http_config.tls_config.cert_file: http_config.tls_config.cert_file has no equivalent in the slack sink (only ca_file)',
    ]);
    expect(problems({}, { http_config: { proxy_url: 'http://p' }, slack_api_url: 'https://h/x' })).toEqual([expect.stringMatching(/^http_config\.proxy_url: global http_config\.proxy_url has no equivalent/)]);
    expect(problems({ api_url: 'https://h/x', api_url_file: '/f' })).toEqual(['api_url_file: at most one of api_url and api_url_file']);
    expect(problems({ channel: '#a' })).toEqual(['api_url: missing: no api_url or api_url_file here, and no global slack_api_url or slack_api_url_file']);
    expect(problems({ app_token: 'xoxb-1' })).toEqual([
      'app_token: app_token has no equivalent in the slack sink: the slack sink posts to incoming webhooks, not to chat.postMessage with an app token',
      'api_url: missing: no api_url or api_url_file here, and no global slack_api_url or slack_api_url_file',
    ]);
  });
});
