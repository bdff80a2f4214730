import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDir } from './ensure-dir';

let dir: string;
beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'praxis-ensure-dir-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('ensureDir', () => {
  it('creates missing parents and accepts a folder that exists', () => {
    const target = path.join(dir, 'a', 'b', 'c');
    ensureDir(target);
    expect(statSync(target).isDirectory()).toBe(true);
    expect(() => ensureDir(target)).not.toThrow();
  });

  it('refuses a path through a file with ENOTDIR', () => {
    writeFileSync(path.join(dir, 'file'), 'x');
    expect(() => ensureDir(path.join(dir, 'file', 'sub'))).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
    expect(() => ensureDir(path.join(dir, 'file'))).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
  });

  it('fails at once under /proc, where mkdir -p loops forever on Node 20', () => {
    expect(() => ensureDir('/proc/praxis-ensure-dir-test/sub')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(existsSync('/proc/praxis-ensure-dir-test')).toBe(false);
  });
});
