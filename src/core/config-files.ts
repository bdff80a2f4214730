import { closeSync, constants as fsConstants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { AgentError } from './errors';

/**
 * The one way to read a file a config names: a secret (password_file, url_file, routing_key_file,
 * credentials_file, `${file:...}`) or TLS material (ca_file, cert_file, key_file).
 *
 * Such a file is small and read at config load or plugin start (the email sink also re-reads its
 * password_file before each send, for rotation), so this is synchronous: the config loader is
 * synchronous too, and a read of at most `maxBytes` of a local regular file takes microseconds,
 * less than handing it to the thread pool would. What could make it wait is refused: the file is opened with O_NONBLOCK
 * (a FIFO in its place does not wait for a writer), must be a regular file (not a directory, pipe,
 * device or socket) and is read to at most one byte past the limit (a huge file is not read whole).
 *
 * Errors are `CONFIG_FILE_UNREADABLE`, naming the config key, the path and why; never anything
 * read from the file, which may be a secret.
 */

/** Default limit: secrets are tokens, keys and URLs, not documents. */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;

/** Limit for PEM files (CA bundles, certificate chains, keys): the system CA bundle is about 200 KiB. */
export const MAX_PEM_FILE_BYTES = 1024 * 1024;

/** Which config key names the file (for the message), and how large it may be. */
export interface ConfigFileOptions {
  /** The config key that names the file (`auth.password_file`), quoted in errors. */
  key: string;
  /** Largest accepted size in bytes; default {@link MAX_SECRET_FILE_BYTES} (64 KiB). */
  maxBytes?: number;
}

/**
 * The content of `file` (an absolute path: resolve it with `AgentControl.resolvePath`), at most
 * `maxBytes` of a regular file; throws `CONFIG_FILE_UNREADABLE` naming the key, path and why (an
 * empty file too: no key names a file to mean nothing).
 */
export function readConfigFile(file: string, options: ConfigFileOptions): Buffer {
  const content = readBoundedFile(file, options);
  if (content.length === 0) throw unreadable(file, options.key, 'empty');
  return content;
}

/**
 * {@link readConfigFile} accepting an empty file: for `${file:...}`, which has always substituted
 * an empty file as an empty value. Core-internal.
 */
export function readBoundedFile(file: string, options: ConfigFileOptions): Buffer {
  const max = options.maxBytes ?? MAX_SECRET_FILE_BYTES;
  const refuse = (reason: string): AgentError => unreadable(file, options.key, reason);
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; on a regular file it changes nothing.
    fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (error) {
    throw refuse(describeErrno(error, 'cannot open'));
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw refuse(`${kindOf(stats)}, not a regular file`);
    if (stats.size > max) throw refuse(overLimit(stats.size, max));
    // The size can change between fstat and read: read at most one byte past the limit, never more.
    const buffer = Buffer.alloc(max + 1);
    let length = 0;
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    if (length > max) throw refuse(`grew past the limit of ${max} bytes while being read`);
    return buffer.subarray(0, length);
  } catch (error) {
    if (error instanceof AgentError) throw error;
    throw refuse(describeErrno(error, 'read failed'));
  } finally {
    closeSync(fd);
  }
}

/**
 * The secret held in `file`, as {@link readConfigFile} reads it: UTF-8, one trailing newline
 * dropped (what `echo secret > file` and secret stores leave); an empty secret is an error.
 */
export function readSecretFile(file: string, options: ConfigFileOptions): string {
  const secret = secretText(readBoundedFile(file, options));
  if (secret === '') throw unreadable(file, options.key, 'empty: it holds no secret');
  return secret;
}

/** A secret file's text: UTF-8 with one trailing newline (`\n` or `\r\n`) dropped. Core-internal. */
export function secretText(content: Buffer): string {
  return content.toString('utf8').replace(/\r?\n$/, '');
}

/** The one error: the key, the path and why; never the content. */
function unreadable(file: string, key: string, reason: string): AgentError {
  return new AgentError('CONFIG_FILE_UNREADABLE', `${key}: cannot read ${file} (${reason})`, { key, file, reason });
}

function overLimit(size: number, max: number): string {
  return `${size} bytes, ${size - max} over the limit of ${max}`;
}

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'is a directory';
  if (stats.isFIFO()) return 'is a named pipe';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'is a device';
  if (stats.isSocket()) return 'is a socket';
  return 'is not a regular file';
}

function describeErrno(error: unknown, fallback: string): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const known: Record<string, string> = {
    ENOENT: 'no such file',
    ENOTDIR: 'no such file (a part of the path is not a directory)',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EISDIR: 'is a directory, not a regular file',
    ELOOP: 'too many symbolic links',
  };
  return typeof code === 'string' ? (known[code] ?? code) : fallback;
}
