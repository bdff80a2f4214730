// Builds the dashboard into dist/dashboard: index.html, assets/app.js (bundled, minified) and
// assets/app.css. Run by `npm run build`; no CDN, nothing fetched at run time.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'dist', 'dashboard');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });
await build({
  entryPoints: [join(here, 'src', 'main.ts')],
  outfile: join(out, 'assets', 'app.js'),
  bundle: true,
  // DASHBOARD_DEV=1: readable output, for CPU profiles with real function names.
  minify: process.env.DASHBOARD_DEV !== '1',
  format: 'iife',
  target: ['es2020'],
  legalComments: 'none',
  logLevel: 'warning',
});
await build({ entryPoints: [join(here, 'style.css')], outfile: join(out, 'assets', 'app.css'), bundle: true, minify: true, logLevel: 'warning' });
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
