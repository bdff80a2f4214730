import { sealPrepared, type PreparedEntry } from './record';

/** Lines in one batch: one write and, with `fsync: every`, one fsync each. */
export const MAX_BATCH_LINES = 512;
/** Bytes in one batch. */
export const MAX_BATCH_BYTES = 1 << 20;

/** Where the chain and the active file stand before a batch, and when the file must rotate. */
export interface BatchStart {
  /** seq of the last line written (the batch starts at `seq + 1`). */
  seq: number;
  /** Hash of the last line written. */
  prev: string;
  /** `recorded_at` of every line of the batch. */
  recordedAt: string;
  /** Bytes of complete lines in the active file (0: the batch starts the file). */
  size: number;
  /** Rotate before a line would take the file past this size; 0: never by size. */
  maxBytes: number;
}

/** A sealed batch: the bytes to append and where the chain stands after them. */
export interface SealedBatch {
  /** The lines, each ending in a newline; empty when the file must rotate first. */
  bytes: Uint8Array;
  /** How many of the given entries these lines are (a prefix of them). */
  lines: number;
  /** seq and hash of the batch's last line (unchanged when `lines` is 0). */
  seq: number;
  prev: string;
  /** Size of the active file after the batch. */
  size: number;
  /** True when not even the first line fits in the active file: rotate, then seal again. */
  rotate: boolean;
}

/**
 * Seals a prefix of `entries` as the next lines of the chain: as many as fit in one batch and in
 * the active file. The one implementation, run by the sealing worker and, without one, in the
 * writer itself. Each line is encoded straight into the batch's buffer, which also gives its size
 * in bytes: no separate byte count, joined text or second encoding per batch (a third of the
 * sealing's allocation, README "End to end"). The buffer is the batch's own (not Node's shared
 * pool), so the worker can transfer it.
 */
export function sealBatch(entries: readonly PreparedEntry[], start: BatchStart, key: Buffer | undefined): SealedBatch {
  let { seq, prev, size } = start;
  let out: Buffer = Buffer.allocUnsafeSlow(initialCapacity(entries));
  let used = 0;
  let lines = 0;
  for (const entry of entries) {
    const sealed = sealPrepared(entry, { seq: seq + 1, prev, recordedAt: start.recordedAt, fileStart: size === 0 }, key);
    // UTF-8 takes at most 3 bytes per UTF-16 code unit; 1 more for the newline.
    const most = sealed.line.length * 3 + 1;
    if (used + most > out.length) out = grow(out, used, used + most);
    const bytes = out.write(sealed.line, used) + 1;
    if (start.maxBytes > 0 && size > 0 && size + bytes > start.maxBytes) {
      if (lines > 0) break;
      return { bytes: new Uint8Array(0), lines: 0, seq, prev, size, rotate: true };
    }
    out[used + bytes - 1] = NEWLINE;
    used += bytes;
    lines++;
    seq++;
    prev = sealed.hash;
    size += bytes;
    if (lines >= MAX_BATCH_LINES || size - start.size >= MAX_BATCH_BYTES) break;
  }
  return { bytes: lines > 0 ? out.subarray(0, used) : new Uint8Array(0), lines, seq, prev, size, rotate: false };
}

const NEWLINE = 0x0a;

/** Room for the batch's lines, guessed from the entries' text: one allocation for a batch of plain text. */
function initialCapacity(entries: readonly PreparedEntry[]): number {
  const first = entries[0];
  if (!first) return 0;
  // The chain fields (seq, recorded_at, prev, hash, hmac) add under 300 bytes to a line.
  const line = first[2].length + 300;
  return Math.min(MAX_BATCH_BYTES + line * 3, Math.min(entries.length, MAX_BATCH_LINES) * line);
}

function grow(buffer: Buffer, used: number, needed: number): Buffer {
  const bigger = Buffer.allocUnsafeSlow(Math.max(needed, buffer.length * 2));
  buffer.copy(bigger, 0, 0, used);
  return bigger;
}

/** Entries joined into one string for postMessage (their text holds no raw newline), and split again. */
export function packEntries(entries: readonly PreparedEntry[]): string {
  return entries.map((e) => e.join('\n')).join('\n');
}

export function unpackEntries(packed: string): PreparedEntry[] {
  const parts = packed.split('\n');
  const entries: PreparedEntry[] = [];
  for (let i = 0; i + 2 < parts.length; i += 3) entries.push([parts[i] as string, parts[i + 1] as string, parts[i + 2] as string]);
  return entries;
}
