import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import pino from 'pino';
import { EventBus } from '../bus/event-bus';
import { SystemClock } from '../core/clock';
import { EventRegistry } from '../events/registry';
import { AdminServer } from './admin-server';
import { defaultDashboardDir, loadDashboard, mountDashboard } from './dashboard';

const running: AdminServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

async function serve(dir: string, auth_token?: string): Promise<string> {
  const bus = new EventBus(new EventRegistry(), new SystemClock());
  const server = new AdminServer({ host: '127.0.0.1', port: 0, body_limit: 1024, ...(auth_token ? { auth_token } : {}) }, { bus, logger: pino({ level: 'silent' }), plugins: () => [], ready: () => true, stats: () => ({}) });
  running.push(server);
  mountDashboard(server, dir);
  return server.start();
}

function builtPage(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dashboard-'));
  mkdirSync(path.join(dir, 'assets'));
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><script src="assets/app.js"></script>');
  writeFileSync(path.join(dir, 'assets', 'app.js'), 'console.log("dashboard");'.repeat(20));
  writeFileSync(path.join(dir, 'assets', 'notes.txt'), 'not served');
  return dir;
}

/** A raw GET (fetch would decompress and hide content-encoding). */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    })
      .on('error', reject)
      .end();
  });
}

describe('dashboard files', () => {
  it('serves the page at / and its assets, without the token (a browser cannot send one when navigating), with a strict CSP', async () => {
    const url = await serve(builtPage(), 'tok-123');
    const page = await get(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body.toString()).toContain('assets/app.js');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    const script = await get(`${url}/assets/app.js?v=1`);
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.body.toString()).toContain('console.log("dashboard")');
  });

  it('sends gzip to clients that take it, and 304 for a file they have', async () => {
    const url = await serve(builtPage());
    const plain = await get(`${url}/assets/app.js`);
    const zipped = await get(`${url}/assets/app.js`, { 'accept-encoding': 'gzip, br' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.body.length).toBeLessThan(plain.body.length);
    expect(gunzipSync(zipped.body)).toEqual(plain.body);
    const again = await get(`${url}/assets/app.js`, { 'if-none-match': String(plain.headers.etag) });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
  });

  it('answers 404 for files that are not part of the page, and says how to build a page that is missing', async () => {
    const url = await serve(builtPage());
    for (const p of ['/assets/notes.txt', '/assets/../index.html', '/assets/missing.js']) {
      const res = await get(`${url}${p}`);
      expect(res.status).toBe(404);
      expect(JSON.parse(res.body.toString())).toMatchObject({ error: { code: 'HTTP_NOT_FOUND' } });
    }
    const empty = await serve(mkdtempSync(path.join(tmpdir(), 'no-dashboard-')));
    const res = await get(`${empty}/`);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body.toString()).error.message).toMatch(/the dashboard is not built .*npm run build/);
  });

  it('keeps the built page small: under 20 KB gzipped in all (README, "Dashboard", states its size)', () => {
    const assets = loadDashboard(defaultDashboardDir());
    expect([...assets.keys()].sort()).toEqual(['/', '/assets/app.css', '/assets/app.js']);
    const gzipped = [...assets.values()].reduce((sum, a) => sum + a.gzip.length, 0);
    expect(gzipped).toBeLessThan(20_000);
  });
});
