import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Creates `dir` and its missing parents, one level at a time, and throws the file system's error
 * (ENOENT, EACCES, ENOTDIR, ...) when it cannot. Not `mkdir(dir, { recursive: true })`: on Node 20
 * that loops forever under a pseudo file system such as /proc (mkdir answers ENOENT for a parent
 * that exists), which hung the agent at start-up with a core at 100% and SIGINT ignored.
 */
export function ensureDir(dir: string): void {
  const missing: string[] = [];
  let current = path.resolve(dir);
  for (;;) {
    try {
      if (!statSync(current).isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}' ('${current}' is a file)`), { code: 'ENOTDIR' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    missing.unshift(current);
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const folder of missing) {
    try {
      mkdirSync(folder);
    } catch (error) {
      // Another process (or a concurrent start) may have made it meanwhile.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}
