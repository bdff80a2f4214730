import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { AdminServer } from './admin-server';
import { HttpError } from './reply';

/** One file of the built page, held in memory: the whole page is a few tens of KB. */
interface Asset {
  body: Buffer;
  gzip: Buffer;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8',
};

/**
 * The page talks to the admin API of its own origin and to the broadcaster's WebSocket, which
 * may be on another port or, behind a proxy, another host: hence `ws:`/`wss:` in connect-src.
 */
const HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * Where `npm run build` puts the page: dist/dashboard, under dist/ when running from the sources
 * (tests through ts-jest), beside dist/src when running from dist/. Never the repository's
 * dashboard/ folder: those are the unbuilt sources.
 */
export function defaultDashboardDir(): string {
  const fromSources = path.resolve(__dirname, '../../dist/dashboard');
  const fromDist = path.resolve(__dirname, '../../dashboard');
  return path.basename(path.resolve(__dirname, '../..')) === 'dist' ? fromDist : fromSources;
}

/** Reads the built page (index.html and its assets/ folder) into memory; empty when it was not built. */
export function loadDashboard(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const add = (urlPath: string, file: string): void => {
    const body = readFileSync(file);
    assets.set(urlPath, { body, gzip: gzipSync(body), type: TYPES[path.extname(file)] ?? 'application/octet-stream', etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  };
  if (!existsSync(path.join(dir, 'index.html'))) return assets;
  add('/', path.join(dir, 'index.html'));
  const assetDir = path.join(dir, 'assets');
  if (existsSync(assetDir)) for (const name of readdirSync(assetDir)) if (TYPES[path.extname(name)]) add(`/assets/${name}`, path.join(assetDir, name));
  return assets;
}

/**
 * Serves the dashboard: `GET /` the page, `GET /assets/*` its script and style. The page uses
 * relative URLs only, so it works unchanged behind a reverse proxy under a path prefix. Served
 * without the token (a browser cannot send one when navigating); the page asks for it when an API
 * call answers 401. Returns a function that removes the routes.
 */
export function mountDashboard(server: Pick<AdminServer, 'addRoute'>, dir = defaultDashboardDir()): () => void {
  const assets = loadDashboard(dir);
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    const urlPath = (req.url ?? '/').split('?', 1)[0] as string;
    const asset = assets.get(urlPath);
    if (!asset) {
      if (assets.size === 0) throw new HttpError(404, 'HTTP_NOT_FOUND', `the dashboard is not built (no ${path.join(dir, 'index.html')}): run npm run build`);
      throw new HttpError(404, 'HTTP_NOT_FOUND', `no dashboard file ${urlPath}`);
    }
    const headers: Record<string, string | number> = { ...HEADERS, 'content-type': asset.type, etag: asset.etag, 'cache-control': 'no-cache', vary: 'accept-encoding' };
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip ? asset.gzip : asset.body;
    res.writeHead(200, { ...headers, ...(gzip ? { 'content-encoding': 'gzip' } : {}), 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const removers = [server.addRoute('GET', '/', serve, { auth: false }), server.addRoute('GET', '/assets/*', serve, { auth: false })];
  return () => {
    for (const remove of removers) remove();
  };
}
