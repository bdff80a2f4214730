import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readConfigFile, readSecretFile } from './config-files';
import { AgentError } from './errors';

const SECRET = 's3cr3t-value-never-shown';
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'praxis-config-files-'));
});
afterAll(() => {
  // The unreadable folder needs its permissions back to be removed.
  try {
    chmodSync(path.join(dir, 'locked'), 0o700);
  } catch {
    // not created (running as root)
  }
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, content: string | Buffer): string {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
}

/** The AgentError `read` throws; fails the test when it does not throw one. */
function failure(read: () => unknown): AgentError {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(AgentError);
    return error as AgentError;
  }
  throw new Error('expected the read to fail');
}

describe('readConfigFile', () => {
  it('returns the bytes of a regular file as they are', () => {
    const p = file('ca.pem', `${SECRET}\n`);
    expect(readConfigFile(p, { key: 'tls.ca_file' }).toString('utf8')).toBe(`${SECRET}\n`);
  });

  it('accepts a file of exactly maxBytes and refuses one byte more, naming the key, path and sizes', () => {
    expect(readConfigFile(file('at-limit', 'x'.repeat(16)), { key: 'k', maxBytes: 16 })).toHaveLength(16);
    const over = file('over-limit', 'x'.repeat(17));
    const error = failure(() => readConfigFile(over, { key: 'auth.password_file', maxBytes: 16 }));
    expect(error.code).toBe('CONFIG_FILE_UNREADABLE');
    expect(error.message).toBe(`auth.password_file: cannot read ${over} (17 bytes, 1 over the limit of 16)`);
    expect(error.details).toEqual({ key: 'auth.password_file', file: over, reason: '17 bytes, 1 over the limit of 16' });
  });

  it('refuses an empty file', () => {
    const p = file('empty.pem', '');
    const error = failure(() => readConfigFile(p, { key: 'tls.ca_file' }));
    expect(error.code).toBe('CONFIG_FILE_UNREADABLE');
    expect(error.message).toBe(`tls.ca_file: cannot read ${p} (empty)`);
  });

  it('limits to 64 KiB by default', () => {
    expect(readConfigFile(file('64k', Buffer.alloc(64 * 1024, 'a')), { key: 'k' })).toHaveLength(64 * 1024);
    expect(failure(() => readConfigFile(file('64k+1', Buffer.alloc(64 * 1024 + 1, 'a')), { key: 'k' })).message).toMatch(/65537 bytes, 1 over the limit of 65536\)$/);
  });

  it('refuses a missing file', () => {
    const missing = path.join(dir, 'missing');
    const error = failure(() => readConfigFile(missing, { key: 'url_file' }));
    expect(error.code).toBe('CONFIG_FILE_UNREADABLE');
    expect(error.message).toBe(`url_file: cannot read ${missing} (no such file)`);
  });

  it('refuses a directory', () => {
    const folder = path.join(dir, 'folder');
    mkdirSync(folder);
    expect(failure(() => readConfigFile(folder, { key: 'tls.ca_file' })).message).toBe(`tls.ca_file: cannot read ${folder} (is a directory, not a regular file)`);
  });

  it('refuses a device', () => {
    expect(failure(() => readConfigFile('/dev/zero', { key: 'k' })).message).toBe('k: cannot read /dev/zero (is a device, not a regular file)');
  });

  it('refuses a named pipe at once, without waiting for a writer', () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // Were the open blocking, this synchronous call would never return and jest would time out.
    const error = failure(() => readSecretFile(fifo, { key: 'routing_key_file' }));
    expect(error.code).toBe('CONFIG_FILE_UNREADABLE');
    expect(error.message).toBe(`routing_key_file: cannot read ${fifo} (is a named pipe, not a regular file)`);
  });

  // Root reads any file whatever its mode, so the refusal cannot be produced when the tests run as root.
  (process.getuid?.() === 0 ? it.skip : it)('refuses a file it has no permission to read (skipped as root: root may read anything)', () => {
    const locked = path.join(dir, 'locked');
    mkdirSync(locked);
    const inside = path.join(locked, 'secret');
    writeFileSync(inside, SECRET);
    chmodSync(locked, 0o000);
    const error = failure(() => readSecretFile(inside, { key: 'auth.password_file' }));
    expect(error.message).toBe(`auth.password_file: cannot read ${inside} (permission denied)`);
    expect(error.message).not.toContain(SECRET);
  });
});

describe('readSecretFile', () => {
  it('drops one trailing newline (LF or CRLF), and only one', () => {
    expect(readSecretFile(file('lf', `${SECRET}\n`), { key: 'k' })).toBe(SECRET);
    expect(readSecretFile(file('crlf', `${SECRET}\r\n`), { key: 'k' })).toBe(SECRET);
    expect(readSecretFile(file('none', SECRET), { key: 'k' })).toBe(SECRET);
    expect(readSecretFile(file('two', `${SECRET}\n\n`), { key: 'k' })).toBe(`${SECRET}\n`);
  });

  it('refuses an empty secret: an empty file, or one holding only a newline', () => {
    for (const content of ['', '\n']) {
      const p = file('empty', content);
      const error = failure(() => readSecretFile(p, { key: 'password_file' }));
      expect(error.code).toBe('CONFIG_FILE_UNREADABLE');
      expect(error.message).toBe(`password_file: cannot read ${p} (empty: it holds no secret)`);
    }
  });

  it('never puts the content in a message or its details', () => {
    const over = file('big-secret', `${SECRET}${'x'.repeat(64)}`);
    const errors = [
      failure(() => readSecretFile(over, { key: 'k', maxBytes: 32 })),
      failure(() => readConfigFile(over, { key: 'k', maxBytes: 32 })),
    ];
    for (const error of errors) {
      expect(error.message).not.toContain(SECRET);
      expect(JSON.stringify(error.details)).not.toContain(SECRET);
    }
  });
});
