import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { AgentProcess, freePort, REPO, shippedConfigEnv } from './helpers/cli';

/**
 * The dashboard end to end, as a user sees it: the real agent process (store, WebSocket
 * broadcaster, a health probe, alerting with a webhook sink) and the real page in headless
 * Chromium (Debian's package; .ci/run installs it).
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(REPO, 'test-artifacts');
const TOKEN = 'e2e-dashboard-token';

jest.setTimeout(90_000);

/** A service to probe that answers 200 or 503 as the test says, and a webhook receiver that answers `hookStatus`. */
class Peer {
  healthy = true;
  hooks = 0;
  hookStatus = 200;
  private readonly server: Server = createServer((req, res) => {
    req.resume();
    if (req.url === '/hook') {
      this.hooks++;
      res.writeHead(this.hookStatus).end('ok');
      return;
    }
    res.writeHead(this.healthy ? 200 : 503, { 'content-type': 'application/json' }).end(this.healthy ? '{"status":"ok"}' : '{"status":"down"}');
  });

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function configText(adminPort: number, wsPort: number, peer: string, heartbeat = '30s'): string {
  return `agent: { name: e2e-agent, shutdown_timeout: 5s }
log: { level: info, format: json }
http: { host: 127.0.0.1, port: ${adminPort}, auth_token: ${TOKEN} }
store: { enabled: true, data_dir: ./data, commit_interval: 10ms }
plugins:
  - name: events-ws
    use: websocket-broadcaster
    config: { port: ${wsPort}, auth_token: ${TOKEN}, heartbeat_interval: ${heartbeat} }
  - name: watcher
    use: config-watcher
    config: { watch_agent_config: true, debounce_ms: 50, files: [./app.yaml] }
  - name: probe
    use: health-probe
    config:
      snapshot_interval: 1s
      services:
        web:
          checks:
            http-200: { kind: http, url: "${peer}/health", interval: 300ms, timeout: 1s }
  - name: hook
    use: webhook
    config: { url: "${peer}/hook" }
alerting:
  route: { receiver: team, group_by: [alertname], group_wait: 100ms, group_interval: 1s }
  rules:
    - { event: system.error, match: { component: flaky }, for_count: 3 }
  receivers:
    - { name: team, sinks: [hook] }
`;
}

/** Retries an assertion about the page until it holds; the last failure is the test's after `timeoutMs`. */
async function eventually(check: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

const textOf = async (locator: Locator): Promise<string> => (await locator.allTextContents()).join('\n');
const hasText = (locator: Locator, pattern: RegExp | string, timeoutMs?: number): Promise<void> =>
  eventually(async () => {
    const text = await textOf(locator);
    if (typeof pattern === 'string') expect(text).toContain(pattern);
    else expect(text).toMatch(pattern);
  }, timeoutMs);
const counts = (locator: Locator, n: number, timeoutMs?: number): Promise<void> => eventually(async () => expect(await locator.count()).toBe(n), timeoutMs);

async function post(adminUrl: string, data: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${adminUrl}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ type: 'system.error', data }),
  });
  expect(res.status).toBe(202);
}

/** How many sections of the page sit side by side in its first row (page code as text: the tests have no DOM types). */
async function columns(page: Page): Promise<number> {
  const tops = (await page.evaluate("[...document.querySelectorAll('main > section')].map((s) => Math.round(s.getBoundingClientRect().top))")) as number[];
  return tops.filter((top) => top === tops[0]).length;
}

/** What reaches past the right edge of the window (a page to scroll sideways), named. */
function overflowing(page: Page): Promise<string[]> {
  return page.evaluate(`(() => {
    const width = document.documentElement.clientWidth;
    const wide = [...document.querySelectorAll('body *')].filter((el) => el.getBoundingClientRect().right > width + 0.5);
    const named = wide.map((el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ': ' + (el.textContent || '').slice(0, 60));
    const page = document.documentElement.scrollWidth;
    return page > width ? ['page ' + page + 'px wide in ' + width + 'px', ...named] : named;
  })()`);
}

/** The stream offsets of the events the page lists, oldest first. */
async function listedOffsets(page: Page): Promise<number[]> {
  const offsets = await page.locator('#event-list button[data-offset]').evaluateAll((buttons) => buttons.map((b) => Number(b.getAttribute('data-offset'))));
  return offsets.reverse();
}

/**
 * A reverse proxy as nginx is configured in the README: `prefix/` to the admin server,
 * `prefix/<ws path>` to the broadcaster, upgrades included. Records the paths it was asked for.
 * `blip(true)` is a network outage for WebSockets: it cuts the open ones (no close frame) and
 * refuses new ones until `blip(false)`.
 */
async function startProxy(port: number, prefix: string, websockets: Record<string, number>, adminPort: number): Promise<{ origin: string; requests: string[]; upgrades: string[]; blip(down: boolean): void; close(): Promise<void> }> {
  const requests: string[] = [];
  const upgrades: string[] = [];
  const open = new Set<Socket>();
  let down = false;
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    requests.push(url.split('?', 1)[0] as string);
    if (!url.startsWith(`${prefix}/`)) return void res.writeHead(404).end();
    const upstream = httpRequest({ host: '127.0.0.1', port: adminPort, path: url.slice(prefix.length), method: req.method, headers: { ...req.headers, host: `127.0.0.1:${adminPort}` } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const url = req.url ?? '/';
    upgrades.push(url.split('?', 1)[0] as string);
    const target = websockets[url.split('?', 1)[0]?.slice(prefix.length) ?? ''];
    if (down || !url.startsWith(`${prefix}/`) || target === undefined) return void socket.destroy();
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    const upstream = connect(target, '127.0.0.1', () => {
      const lines = [`${req.method} ${url.slice(prefix.length)} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i] as string;
        lines.push(`${name}: ${name.toLowerCase() === 'host' ? `127.0.0.1:${target}` : req.rawHeaders[i + 1]}`);
      }
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    upgrades,
    blip: (cut) => {
      down = cut;
      if (cut) for (const socket of open) socket.destroy();
    },
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

describe('dashboard in headless Chromium', () => {
  let peer: Peer;
  let context: BrowserContext | undefined;
  let profile: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
    peer = new Peer();
    profile = mkdtempSync(path.join(tmpdir(), 'dashboard-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1366, height: 900 },
    });
  });
  const browser = (): BrowserContext => context as BrowserContext;

  afterAll(async () => {
    await context?.close();
    await peer.close();
    rmSync(profile, { recursive: true, force: true });
  });

  it('streams, filters, shows a failing probe, silences and acknowledges an alert, survives an agent restart without losing or repeating events, and marks a lost history', async () => {
    const peerUrl = await peer.listen();
    const dir = mkdtempSync(path.join(tmpdir(), 'dashboard-e2e-'));
    const file = path.join(dir, 'agent.config.yaml');
    const adminPort = await freePort();
    const wsPort = await freePort();
    writeFileSync(file, configText(adminPort, wsPort, peerUrl));
    writeFileSync(path.join(dir, 'app.yaml'), 'db: { host: db-1, password: first-secret }\n');
    let agent = new AgentProcess(['--config', file]);
    const adminUrl = await agent.ready();

    const page = await browser().newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // No CDN, nothing from elsewhere: every request goes to the agent (checked at the end).
    const requested: string[] = [];
    page.on('request', (request) => requested.push(request.url()));
    page.on('websocket', (socket) => requested.push(socket.url()));

    // The agent has a token: the page asks for it, and uses it for the API and the WebSocket.
    await page.goto(`${adminUrl}/`);
    await page.getByLabel('Token', { exact: true }).fill(TOKEN);
    await page.getByRole('button', { name: 'Use token' }).click();
    await hasText(page.locator('#connection'), /live/);
    expect(await page.evaluate("sessionStorage.length")).toBe(1);
    // For this tab only: another tab asks again.
    const otherTab = await browser().newPage();
    await otherTab.goto(`${adminUrl}/`);
    await eventually(async () => expect(await otherTab.locator('#token-dialog').isVisible()).toBe(true));
    await otherTab.close();

    // A posted system.error appears live.
    await post(adminUrl, { severity: 'error', message: 'disk full on e2e-1', component: 'backup' });
    const errorRow = page.locator('#event-list li', { hasText: 'disk full on e2e-1' });
    await counts(errorRow.filter({ has: page.locator('.ev-type', { hasText: /^system\.error$/ }) }), 1);
    await hasText(errorRow.first(), 'error');

    // Filters: by type, by severity, by source.
    await page.getByLabel('Type').selectOption('system.error');
    await counts(page.locator('#event-list li.ev:not([data-type="system.error"])'), 0);
    await counts(page.locator('#event-list li.ev[data-type="system.error"]', { hasText: 'disk full on e2e-1' }), 1);
    await page.getByLabel('Severity').selectOption('critical');
    await counts(page.locator('#event-list li.ev', { hasText: 'disk full on e2e-1' }), 0);
    await page.getByLabel('Severity').selectOption('');
    await page.getByLabel('Source').selectOption('ingest');
    await counts(page.locator('#event-list li.ev', { hasText: 'disk full on e2e-1' }), 1);
    await page.getByLabel('Type').selectOption('');
    await page.getByLabel('Source').selectOption('');

    // Its full JSON on Enter (the rows are buttons; the list is one tab stop, arrows move in it), and on click.
    await page.locator('#event-list button[tabindex="0"]').focus();
    expect(await page.locator('#event-list button[tabindex="0"]').count()).toBe(1);
    const errorOffset = await page.locator('#event-list button', { hasText: 'disk full on e2e-1' }).getAttribute('data-offset');
    const focusedOffset = (): Promise<unknown> => page.evaluate('document.activeElement.dataset.offset');
    for (let presses = 0; presses < 50 && (await focusedOffset()) !== errorOffset; presses++) await page.keyboard.press('ArrowDown');
    expect(await focusedOffset()).toBe(errorOffset);
    await page.keyboard.press('Enter');
    await hasText(page.locator('#event-json'), '"component": "backup"');
    await page.keyboard.press('Escape');
    await eventually(async () => expect(await page.locator('#event-dialog').isVisible()).toBe(false));
    await page.locator('#event-list button', { hasText: 'disk full on e2e-1' }).click();
    await hasText(page.locator('#event-json'), '"message": "disk full on e2e-1"');
    await page.getByRole('button', { name: 'Close' }).click();

    // Pause holds the list still; resume shows what arrived meanwhile.
    await page.getByRole('button', { name: 'Pause' }).click();
    await post(adminUrl, { severity: 'warning', message: 'arrived while paused', component: 'backup' });
    await hasText(page.locator('#event-count'), /paused, [1-9]\d* new/);
    await counts(page.locator('#event-list li', { hasText: 'arrived while paused' }), 0);
    await page.getByRole('button', { name: 'Resume' }).click();
    await counts(page.locator('#event-list li', { hasText: 'arrived while paused' }), 1);

    // The probed service fails: its status, the failing check and why.
    const web = page.locator('[data-service="web"]');
    await hasText(web, 'healthy');
    // The probe's alerts will be refused by the webhook for good: dead-lettered.
    peer.hookStatus = 400;
    peer.healthy = false;
    await hasText(web, 'unhealthy', 15_000);
    await hasText(web, 'http-200 fails');
    await hasText(web, '503');
    expect(await web.locator('svg.spark').getAttribute('aria-label')).toMatch(/web latency, last \d+ samples: min \d+ ms/);

    // The error's alert: acknowledge it, then silence it from a form prefilled with its labels.
    const alert = page.locator('#alerts-body li.alert[data-state="firing"]', { hasText: 'disk full on e2e-1' });
    await counts(alert, 1, 10_000);
    // As the routing groups them (group_by: [alertname]), under the group's receiver.
    const itsGroup = page.locator('#alerts-body .group', { has: page.locator('li.alert', { hasText: 'disk full on e2e-1' }) });
    await hasText(itsGroup.locator('h4'), 'Group alertname=SystemError → team');
    await hasText(page.locator('#deliveries-body'), 'dead-lettered', 10_000);
    await alert.getByRole('button', { name: 'Acknowledge' }).click();
    await page.locator('#ack-by').fill('e2e-operator');
    await page.locator('#ack-comment').fill('looking at it');
    await page.getByRole('button', { name: 'Acknowledge', exact: true }).last().click();
    await hasText(alert, 'acknowledged by e2e-operator');
    await alert.getByRole('button', { name: 'Silence…' }).click();
    await hasText(page.locator('#silence-matchers'), 'component="backup"');
    await page.locator('#silence-duration').fill('1h');
    await page.locator('#silence-comment').fill('restoring from backup');
    await page.locator('#silence-dialog').getByRole('button', { name: 'Silence', exact: true }).click();
    await hasText(page.locator('#silences-body li.silence'), 'component="backup"');
    await hasText(alert, 'silenced');
    const silences = (await (await fetch(`${adminUrl}/api/v2/silences`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { createdBy: string; comment: string; status: { state: string } }[];
    expect(silences).toEqual([expect.objectContaining({ createdBy: 'e2e-operator', comment: 'restoring from backup', status: { state: 'active' } })]);
    await page.locator('#silences-body').getByRole('button', { name: 'Expire' }).click();
    await hasText(page.locator('#silences-body'), 'None.');
    await eventually(async () => expect(await textOf(alert)).not.toContain('silenced'));
    // An alert that fires only on its third occurrence is pending after the first: listed apart, not to acknowledge.
    await post(adminUrl, { severity: 'error', message: 'flaky once', component: 'flaky' });
    const pending = page.locator('#alerts-body li.alert[data-state="pending"]', { hasText: 'flaky once' });
    await counts(pending, 1, 10_000);
    await hasText(page.locator('#alerts-body .group', { has: page.locator('li.alert', { hasText: 'flaky once' }) }).locator('h4'), 'Pending (not yet firing)');
    await hasText(pending, 'pending');
    expect(await pending.getByRole('button', { name: 'Acknowledge' }).count()).toBe(0);
    // Recent deliveries: the webhook got the notifications; one it fails for now is retrying.
    await hasText(page.locator('#deliveries-body'), /(^|\s)delivered/, 10_000);
    expect(peer.hooks).toBeGreaterThan(0);
    peer.hookStatus = 503;
    await post(adminUrl, { severity: 'error', message: 'a second error', component: 'restore' });
    await hasText(page.locator('#deliveries-body'), 'retrying', 10_000);
    peer.hookStatus = 200;
    // The service recovers: its alert is resolved.
    peer.healthy = true;
    await counts(page.locator('#alerts-body li.alert[data-state="resolved"]', { hasText: 'ServiceDown' }), 1, 15_000);
    // The bus and broadcaster counters (GET /stats), this page's connection among them.
    await hasText(page.locator('#stats-body'), /events published\s*[1-9]/);
    await hasText(page.locator('#stats-body'), /Broadcaster events-ws[\s\S]*active connections\s*1/);

    // A config change: the diffs appear (secrets redacted), and the reload restarts the
    // broadcaster, which the page rides out like a network blip.
    writeFileSync(path.join(dir, 'app.yaml'), 'db: { host: db-2, password: second-secret }\n');
    writeFileSync(file, configText(adminPort, wsPort, peerUrl, '20s'));
    const diffs = page.locator('#config-body');
    await hasText(diffs, 'db.host', 15_000);
    await hasText(diffs, 'db-2');
    await hasText(diffs, 'heartbeat_interval', 15_000);
    expect(await textOf(diffs)).toContain('db.password');
    expect(await textOf(diffs)).not.toMatch(/first-secret|second-secret/);
    const listening = (): number => agent.lines.filter((l) => String(l.msg).startsWith('websocket broadcaster listening')).length;
    await eventually(async () => expect(listening()).toBe(2), 15_000);
    await post(adminUrl, { severity: 'warning', message: 'after the reload', component: 'backup' });
    await counts(page.locator('#event-list li', { hasText: 'after the reload' }), 1, 15_000);
    await hasText(page.locator('#connection'), /live/);

    // The agent restarts: the page reconnects and resumes from its last offset.
    const before = await listedOffsets(page);
    agent.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    await hasText(page.locator('#connection'), /reconnecting/);
    agent = new AgentProcess(['--config', file]);
    expect(await agent.ready()).toBe(adminUrl);
    await post(adminUrl, { severity: 'error', message: 'after the restart', component: 'backup' });
    await counts(page.locator('#event-list li', { hasText: 'after the restart' }), 1, 15_000);
    await hasText(page.locator('#connection'), /live/);

    // Every stored event from the first one listed on, each once, in order: none lost, none repeated.
    const after = await listedOffsets(page);
    const stored = (await (await fetch(`${adminUrl}/events?since=${(before[0] as number) - 1}&limit=1000`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { events: { offset: number }[] };
    const storedOffsets = stored.events.map((e) => e.offset).filter((o) => o <= (after[after.length - 1] as number));
    expect(after).toEqual(storedOffsets);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.length).toBeGreaterThan(before.length);
    await counts(page.locator('#event-list li.gap'), 0);

    // A reload of the page: the token is still there (same tab), and it lists the same stored events, with the newer ones.
    await post(adminUrl, { severity: 'error', message: 'just before the page reload', component: 'backup' });
    await page.reload();
    await hasText(page.locator('#connection'), /live/);
    expect(await page.locator('#token-dialog').isVisible()).toBe(false);
    await counts(page.locator('#event-list li', { hasText: 'just before the page reload' }), 1);
    const reloaded = await listedOffsets(page);
    expect(reloaded.filter((o) => o <= (after[after.length - 1] as number) && o >= (after[0] as number))).toEqual(after);
    expect(reloaded).toEqual([...new Set(reloaded)].sort((a, b) => a - b));

    // A restart on a new database (the history is gone): the page says so with a gap marker, once.
    agent.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    rmSync(path.join(dir, 'data'), { recursive: true, force: true });
    agent = new AgentProcess(['--config', file]);
    await agent.ready();
    await counts(page.locator('#event-list li.gap'), 1, 15_000);
    await hasText(page.locator('#event-list li.gap'), /events may be missing here \(epoch .* is not the current one/);
    await post(adminUrl, { severity: 'error', message: 'on the new database', component: 'backup' });
    await counts(page.locator('#event-list li', { hasText: 'on the new database' }), 1, 15_000);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.evaluate('window.scrollTo(0, 0)');
    const laptop = path.join(ARTIFACTS, 'dashboard-laptop.png');
    await page.screenshot({ path: laptop, fullPage: true });
    // Laptop width: services and alerts side by side.
    expect(await columns(page)).toBe(2);
    await page.setViewportSize({ width: 390, height: 844 });
    const phone = path.join(ARTIFACTS, 'dashboard-phone.png');
    await page.screenshot({ path: phone, fullPage: true });
    process.stdout.write(`dashboard screenshots: ${laptop} ${phone}\n`);
    // A phone: one column, and nothing wider than the screen (a long config path once was).
    expect(await columns(page)).toBe(1);
    expect(await overflowing(page)).toEqual([]);
    expect(pageErrors).toEqual([]);
    const elsewhere = requested.filter((url) => !url.startsWith(`${adminUrl}/`) && !url.startsWith(`ws://127.0.0.1:${wsPort}/`));
    expect(elsewhere).toEqual([]);

    agent.kill('SIGTERM');
    await agent.exited;
  });
  it('shows what the agent sees, live, with the shipped config and nothing else', async () => {
    const agent = new AgentProcess(['--config', path.join(REPO, 'agent.config.yaml')], await shippedConfigEnv());
    try {
      const adminUrl = await agent.ready();
      const page = await browser().newPage();
      await page.goto(`${adminUrl}/`);
      await hasText(page.locator('#connection'), /live/);
      await post(adminUrl, { severity: 'error', message: 'seen with the shipped config', component: 'shipped' });
      await counts(page.locator('#event-list li', { hasText: 'seen with the shipped config' }), 1);
      await hasText(page.locator('[data-service="praxis-agent"]'), 'healthy', 15_000);
      await hasText(page.locator('#stats-body'), 'Broadcaster events-ws');
      await page.close();
    } finally {
      agent.kill('SIGTERM');
      await agent.exited;
    }
  });

  it('works behind a reverse proxy under a path prefix, the WebSocket proxied too', async () => {
    const [adminPort, wsPort, proxyPort] = [await freePort(), await freePort(), await freePort()];
    const proxy = await startProxy(proxyPort, '/praxis', { '/ws/events': wsPort }, adminPort);
    const dir = mkdtempSync(path.join(tmpdir(), 'dashboard-proxy-'));
    const file = path.join(dir, 'agent.config.yaml');
    writeFileSync(
      file,
      `agent: { name: behind-proxy }
log: { format: json }
http: { host: 127.0.0.1, port: ${adminPort} }
store: { enabled: true, data_dir: ./data }
plugins:
  - name: events-ws
    use: websocket-broadcaster
    config: { port: ${wsPort}, public_url: ws/events, allowed_origins: ["${proxy.origin}"] }
`,
    );
    const agent = new AgentProcess(['--config', file]);
    try {
      const adminUrl = await agent.ready();
      const page = await browser().newPage();
      await page.goto(`${proxy.origin}/praxis/`);
      await hasText(page.locator('#connection'), /live/);
      await post(adminUrl, { severity: 'error', message: 'seen through the proxy', component: 'edge' });
      await counts(page.locator('#event-list li', { hasText: 'seen through the proxy' }), 1);
      expect(proxy.upgrades).toEqual(['/praxis/ws/events']);

      // A network blip: the WebSocket is cut without a close frame and cannot reconnect for a
      // while; what was published meanwhile arrives after it, once, without a gap marker.
      proxy.blip(true);
      await hasText(page.locator('#connection'), /reconnecting/);
      await post(adminUrl, { severity: 'error', message: 'published during the blip', component: 'edge' });
      await eventually(async () => expect(proxy.upgrades.length).toBeGreaterThan(1));
      proxy.blip(false);
      await counts(page.locator('#event-list li', { hasText: 'published during the blip' }), 1);
      await hasText(page.locator('#connection'), /live/);
      const offsets = await listedOffsets(page);
      expect(offsets).toEqual([...new Set(offsets)].sort((a, b) => a - b));
      await counts(page.locator('#event-list li.gap'), 0);
      expect(proxy.requests).toEqual(expect.arrayContaining(['/praxis/', '/praxis/assets/app.js', '/praxis/websocket', '/praxis/stats']));
      expect(proxy.requests.filter((r) => !r.startsWith('/praxis/'))).toEqual([]);
      await page.close();
    } finally {
      agent.kill('SIGTERM');
      await agent.exited;
      await proxy.close();
    }
  });
});
