import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { errorMessage } from 'praxis-agent';
import { isHttpUrl } from './config';

/** A webhook URL is about 80 characters; a larger file is not one. */
export const MAX_WEBHOOK_FILE_BYTES = 4096;

/**
 * The webhook URL held in `file` (one line; a trailing newline is dropped). Refuses anything but a
 * small regular file holding an http(s) URL, and never quotes what it read.
 */
export function readWebhookFile(file: string, key: string): string {
  const refuse = (why: string): Error => new Error(`${key} ${file}: ${why}`);
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO in its place must not hang the start waiting for a writer.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw refuse(`cannot open (${errorMessage(error)})`);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw refuse('not a regular file');
    if (stats.size > MAX_WEBHOOK_FILE_BYTES) throw refuse(`${stats.size} bytes; a webhook URL file is at most ${MAX_WEBHOOK_FILE_BYTES} bytes`);
    const buffer = Buffer.alloc(MAX_WEBHOOK_FILE_BYTES + 1);
    const length = readSync(fd, buffer, 0, buffer.length, 0);
    if (length > MAX_WEBHOOK_FILE_BYTES) throw refuse(`larger than ${MAX_WEBHOOK_FILE_BYTES} bytes, the limit for a webhook URL file`);
    const url = buffer.subarray(0, length).toString('utf8').replace(/\r?\n$/, '').trim();
    if (url === '') throw refuse('is empty');
    if (!isHttpUrl(url) || /\s/.test(url)) throw refuse('does not hold one http:// or https:// URL (its content is not shown: it is a secret)');
    return url;
  } finally {
    closeSync(fd);
  }
}
