import { createReadStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { quickSeq } from './record';

/**
 * File layout. The active file is `path` (e.g. `audit/audit.log`); rotation renames it to
 * `audit.log.20261125T150758.123Z` (the UTC time of the rotation; `-1`, `-2`, ... on a clash) and
 * the next line starts a new `audit.log`. Names sort oldest first; the active file is the newest.
 */
const STAMP = /^(\d{8}T\d{6}\.\d{3}Z)(?:-(\d+))?$/;

/** The rotation stamp for a time: `20261125T150758.123Z`. */
export function rotationStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '');
}

/** The rotated siblings of `activePath`, oldest first. */
export async function rotatedFiles(activePath: string): Promise<string[]> {
  const dir = path.dirname(activePath);
  const base = path.basename(activePath);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const rotated = names
    .filter((n) => n.startsWith(`${base}.`))
    .map((n) => ({ n, m: STAMP.exec(n.slice(base.length + 1)) }))
    .filter((x): x is { n: string; m: RegExpExecArray } => x.m !== null)
    .sort((a, b) => (a.m[1] < b.m[1] ? -1 : a.m[1] > b.m[1] ? 1 : Number(a.m[2] ?? 0) - Number(b.m[2] ?? 0)));
  return rotated.map((x) => path.join(dir, x.n));
}

/**
 * A name for rotating `activePath` at `ms`. On a clash (same millisecond) the suffix is one above
 * the highest in use, never a freed lower one, so names keep sorting in rotation order.
 */
export async function freeRotatedName(activePath: string, ms: number): Promise<string> {
  const stamp = rotationStamp(ms);
  const base = `${path.basename(activePath)}.${stamp}`;
  let highest = -1;
  for (const file of await rotatedFiles(activePath)) {
    const name = path.basename(file);
    if (name === base) highest = Math.max(highest, 0);
    else if (name.startsWith(`${base}-`)) highest = Math.max(highest, Number(name.slice(base.length + 1)));
  }
  return `${activePath}.${stamp}${highest < 0 ? '' : `-${highest + 1}`}`;
}

/** One line of a file: its text without the newline, its 1-based number, and whether a newline ended it. */
export interface FileLine {
  text: string;
  lineNo: number;
  terminated: boolean;
}

/** Streams a file's lines; the last one is `terminated: false` when the file does not end with a newline. */
export async function* readLines(file: string): AsyncGenerator<FileLine> {
  let rest: Buffer = Buffer.alloc(0);
  let lineNo = 0;
  for await (const chunk of createReadStream(file)) {
    let buf = rest.length > 0 ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer);
    let start = 0;
    for (let nl = buf.indexOf(0x0a, start); nl !== -1; nl = buf.indexOf(0x0a, start)) {
      yield { text: buf.toString('utf8', start, nl), lineNo: ++lineNo, terminated: true };
      start = nl + 1;
    }
    buf = buf.subarray(start);
    rest = Buffer.from(buf);
  }
  if (rest.length > 0) yield { text: rest.toString('utf8'), lineNo: ++lineNo, terminated: false };
}

/** What the end of a file holds: its last complete line and the bytes after it (a torn write). */
export interface FileTail {
  size: number;
  /** Bytes up to and including the last newline. */
  completeSize: number;
  lastLine?: string;
  firstLine?: string;
  /** seq of the first line, read from its start even when the line is longer than the chunk read. */
  firstSeq?: number;
}

/** Reads the first and the last complete line of a file without reading all of it. */
export async function readTail(file: string): Promise<FileTail> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const tail: FileTail = { size, completeSize: 0 };
    if (size === 0) return tail;
    // Walk back in chunks to the last newline, then to the one before it.
    const CHUNK = 64 * 1024;
    const newlines: number[] = [];
    let pos = size;
    const pieces: Buffer[] = [];
    while (pos > 0 && newlines.length < 2) {
      const len = Math.min(CHUNK, pos);
      pos -= len;
      const buf = Buffer.alloc(len);
      await handle.read(buf, 0, len, pos);
      pieces.unshift(buf);
      for (let i = len - 1; i >= 0 && newlines.length < 2; i--) if (buf[i] === 0x0a) newlines.push(pos + i);
    }
    if (newlines.length === 0) return tail;
    tail.completeSize = newlines[0] + 1;
    const joined = Buffer.concat(pieces);
    const lineStart = newlines.length > 1 ? newlines[1] + 1 : 0;
    tail.lastLine = joined.toString('utf8', lineStart - pos, newlines[0] - pos);
    const head = Buffer.alloc(Math.min(CHUNK, size));
    await handle.read(head, 0, head.length, 0);
    const firstNl = head.indexOf(0x0a);
    if (firstNl !== -1) tail.firstLine = head.toString('utf8', 0, firstNl);
    tail.firstSeq = quickSeq(head.toString('utf8', 0, Math.min(head.length, 64)));
    return tail;
  } finally {
    await handle.close();
  }
}

/**
 * The audit files named by the arguments: files as given, directories expanded to their regular,
 * non-hidden files. When every non-empty file's first line has a sequence number they are put in
 * sequence order, so `audit.log*` (which the shell sorts active-file-first) works.
 */
export async function expandAuditFiles(args: readonly string[]): Promise<{ files: string[] } | { error: string }> {
  const files: string[] = [];
  for (const arg of args) {
    let info;
    try {
      info = await stat(arg);
    } catch {
      return { error: `${arg}: no such file or directory` };
    }
    if (info.isDirectory()) {
      const names = (await readdir(arg)).filter((n) => !n.startsWith('.')).sort();
      for (const n of names) if ((await stat(path.join(arg, n))).isFile()) files.push(path.join(arg, n));
    } else {
      files.push(arg);
    }
  }
  const firsts = await Promise.all(files.map(firstSeq));
  const known = files.map((file, i) => ({ file, seq: firsts[i] }));
  const nonEmpty = known.filter((f) => f.seq !== 'empty');
  if (nonEmpty.every((f) => typeof f.seq === 'number')) {
    nonEmpty.sort((a, b) => (a.seq as number) - (b.seq as number));
    return { files: [...known.filter((f) => f.seq === 'empty').map((f) => f.file), ...nonEmpty.map((f) => f.file)] };
  }
  return { files };
}

async function firstSeq(file: string): Promise<number | 'empty' | undefined> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(64);
    const { bytesRead } = await handle.read(buf, 0, 64, 0);
    if (bytesRead === 0) return 'empty';
    return quickSeq(buf.toString('utf8', 0, bytesRead));
  } finally {
    await handle.close();
  }
}
