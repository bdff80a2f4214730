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
 * writer itself.
 */
export function sealBatch(entries: readonly PreparedEntry[], start: BatchStart, key: Buffer | undefined, encode: (text: string) => Uint8Array): SealedBatch {
  let { seq, prev, size } = start;
  const lines: string[] = [];
  for (const entry of entries) {
    const sealed = sealPrepared(entry, { seq: seq + 1, prev, recordedAt: start.recordedAt, fileStart: size === 0 }, key);
    const bytes = Buffer.byteLength(sealed.line) + 1;
    if (start.maxBytes > 0 && size > 0 && size + bytes > start.maxBytes) {
      if (lines.length > 0) break;
      return { bytes: new Uint8Array(0), lines: 0, seq, prev, size, rotate: true };
    }
    lines.push(sealed.line);
    seq++;
    prev = sealed.hash;
    size += bytes;
    if (lines.length >= MAX_BATCH_LINES || size - start.size >= MAX_BATCH_BYTES) break;
  }
  return { bytes: lines.length > 0 ? encode(`${lines.join('\n')}\n`) : new Uint8Array(0), lines: lines.length, seq, prev, size, rotate: false };
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
