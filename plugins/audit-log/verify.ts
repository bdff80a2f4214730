import { timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import { readLines } from './files';
import { canonicalContent, GENESIS_HASH, hmacHex, parseRecord, quickSeq, sha256Hex } from './record';

/** What is wrong with the first bad line. */
export type ProblemKind = 'changed' | 'removed' | 'reordered' | 'restarted' | 'hmac';

export interface VerifyProblem {
  kind: ProblemKind;
  file: string;
  line: number;
  /** The line's sequence number, when it has one. */
  seq?: number;
  message: string;
}

export interface VerifyResult {
  ok: boolean;
  files: number;
  records: number;
  firstSeq?: number;
  lastSeq?: number;
  lastHash?: string;
  hmacChecked: boolean;
  /** The first problem; verification stops there. */
  problem?: VerifyProblem;
  /** Tolerated findings: torn last lines, empty files, a chain that starts after rotated-away files. */
  warnings: string[];
  /** Set when the log carries HMACs but no key was given: it cannot be verified. */
  needsKey?: string;
}

interface Previous {
  seq: number;
  hash: string;
  file: string;
  line: number;
}

/**
 * Checks the hash chain across `files` (in chain order): every line's hash, its link to the line
 * before, contiguous sequence numbers, the file-start marks, and the HMAC when `key` is given.
 * Stops at the first bad line and says what happened to it. A file's torn last line (no newline:
 * the writer was killed mid-write) is a warning, not a failure.
 */
export async function verifyAuditFiles(files: readonly string[], key?: Buffer): Promise<VerifyResult> {
  const result: VerifyResult = { ok: false, files: files.length, records: 0, hmacChecked: key !== undefined, warnings: [] };
  let previous: Previous | undefined;

  for (let f = 0; f < files.length; f++) {
    const file = files[f];
    let linesInFile = 0;
    for await (const { text, lineNo, terminated } of readLines(file)) {
      linesInFile = lineNo;
      const where = `${file}:${lineNo}`;
      if (!terminated) {
        result.warnings.push(`${where}: torn last line (${Buffer.byteLength(text)} bytes without a newline: an incomplete write, e.g. the writer was killed); ignored`);
        break;
      }
      const fail = (kind: ProblemKind, message: string, seq?: number, at: { file: string; line: number } = { file, line: lineNo }): VerifyResult => {
        result.problem = { kind, file: at.file, line: at.line, ...(seq !== undefined ? { seq } : {}), message };
        return result;
      };
      const parsed = parseRecord(text);
      if ('problem' in parsed) return fail('changed', `changed: the line is ${parsed.problem}`, quickSeq(text));
      const record = parsed.record;
      const seq = record.seq;
      if (JSON.stringify(record) !== text) return fail('changed', 'changed: its bytes differ from the form the writer wrote (edited by hand?)', seq);
      const canonical = canonicalContent(record as unknown as Record<string, unknown>);
      if (sha256Hex(canonical) !== record.hash) return fail('changed', 'changed: its content does not match its hash', seq);
      if (key) {
        if (record.hmac === undefined) return fail('changed', 'changed: the line has no HMAC (its hash chain may have been recomputed without the key)', seq);
        if (!sameHex(hmacHex(key, canonical), record.hmac)) return fail('hmac', 'HMAC mismatch: the line was changed, or the key is wrong', seq);
      } else if (record.hmac !== undefined) {
        result.needsKey = `${where}: the log is HMAC-signed; give the key with --key-file FILE or --key-env VAR (or set $PRAXIS_AUDIT_KEY)`;
        return result;
      }

      const fileStart = record.file_start === true;
      if (!previous) {
        if (seq === 1) {
          if (record.prev !== GENESIS_HASH) return fail('changed', 'changed: seq 1 does not link to the genesis hash', seq);
        } else if (!fileStart || lineNo !== 1) {
          return fail('removed', `removed: the chain starts at seq ${seq}, which is not the first line of its file: lines were removed before it`, seq);
        } else {
          result.warnings.push(`${where}: the chain starts at seq ${seq}; earlier records are in files not given (rotated away?)`);
        }
      } else {
        const expected = previous.seq + 1;
        if (seq === 1 && record.prev === GENESIS_HASH) {
          return fail('restarted', `restarted: a new chain (seq 1) begins after seq ${previous.seq}: the log was restarted without its history`, seq);
        }
        if (seq > expected) {
          const later = await findSeq(files, f, lineNo, expected);
          if (later) {
            return fail('reordered', `reordered: seq ${expected} belongs here but comes later, at ${later.file}:${later.line}`, seq);
          }
          const missing = seq - expected;
          const range = missing === 1 ? `seq ${expected}` : `seq ${expected}-${seq - 1}`;
          if (lineNo === 1 && previous.file !== file) {
            return fail('removed', `removed: ${missing} record(s) missing (${range}) between ${path.basename(previous.file)} and ${path.basename(file)}: a rotated file is missing, or lines were cut from the end of ${path.basename(previous.file)}`, seq);
          }
          return fail('removed', `removed: ${missing} line(s) removed before this line (${range} missing)`, seq);
        }
        if (seq < expected) {
          return fail('reordered', `reordered: seq ${seq} comes after seq ${previous.seq} (out of order or duplicated)`, seq);
        }
        if (record.prev !== previous.hash) {
          return fail(
            'changed',
            `changed: its hash was recomputed, so the next line (${file}:${lineNo}, seq ${seq}) no longer links to it`,
            previous.seq,
            previous,
          );
        }
        if (lineNo === 1 && !fileStart) return fail('reordered', 'reordered: the first line of this file is not a file-start record (lines moved between files)', seq);
      }
      if (fileStart && lineNo !== 1) return fail('changed', 'changed: a file-start record in the middle of a file (lines removed before it?)', seq);

      result.records++;
      result.firstSeq ??= seq;
      result.lastSeq = seq;
      result.lastHash = record.hash;
      previous = { seq, hash: record.hash, file, line: lineNo };
    }
    if (linesInFile === 0) result.warnings.push(`${file}: empty`);
  }
  result.ok = true;
  return result;
}

/** Where `seq` occurs after line `fromLine` of `files[fromFile]`, if it does. */
async function findSeq(files: readonly string[], fromFile: number, fromLine: number, seq: number): Promise<{ file: string; line: number } | undefined> {
  for (let f = fromFile; f < files.length; f++) {
    for await (const { text, lineNo } of readLines(files[f])) {
      if (f === fromFile && lineNo <= fromLine) continue;
      if (quickSeq(text) === seq) return { file: files[f], line: lineNo };
    }
  }
  return undefined;
}

function sameHex(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
