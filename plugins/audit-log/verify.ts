import { timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import { readLines } from './files';
import { canonicalContent, FILE_BREAK_TYPE, GENESIS_HASH, hmacHex, parseFileBreak, parseRecord, quickSeq, sha256Hex, type AuditRecord, type FileBreakReason } from './record';

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

/**
 * An `audit.file_break` record: the writer found the file it appended to vanished, replaced or
 * truncated, and started a new file. `lost` names the records it had written there that are not
 * in the files given; without `lost` they all are (the file was restored), and the chain is whole.
 */
export interface VerifyBreak {
  /** Where the break record is (always line 1 of its file). */
  file: string;
  line: number;
  seq: number;
  reason: FileBreakReason;
  /** When the writer noticed (the record's recorded_at). */
  detectedAt: string;
  /** What the writer found at its path kept as (a rotated file), if anything was there. */
  keptAs: string | null;
  /** The missing sequence numbers; `from` is undefined when the writer did not know where its file began. */
  lost?: { from?: number; to: number };
}

export interface VerifyResult {
  /** Intact: no problem and no lost records. */
  ok: boolean;
  files: number;
  records: number;
  firstSeq?: number;
  lastSeq?: number;
  lastHash?: string;
  hmacChecked: boolean;
  /** The first problem; verification stops there. */
  problem?: VerifyProblem;
  /** Tolerated findings: torn last lines, empty files, a chain that starts after rotated-away files, a break whose records were restored. */
  warnings: string[];
  /** Every `audit.file_break` met, in chain order; those with `lost` make the log not intact. */
  breaks: VerifyBreak[];
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
 * the writer was killed mid-write) is a warning, not a failure. An `audit.file_break` record is
 * checked against the chain it names: the records it declares lost that are not in the files make
 * the result not `ok` (listed in `breaks`), and checking goes on after it.
 */
export async function verifyAuditFiles(files: readonly string[], key?: Buffer): Promise<VerifyResult> {
  const result: VerifyResult = { ok: false, files: files.length, records: 0, hmacChecked: key !== undefined, warnings: [], breaks: [] };
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
      if (record.type === FILE_BREAK_TYPE && fileStart && lineNo === 1) {
        const outcome = await checkFileBreak(record, previous, { files, fileIndex: f, file, lineNo });
        if ('problem' in outcome) return fail(outcome.problem.kind, outcome.problem.message, outcome.problem.seq, outcome.problem.at);
        if (outcome.warning) result.warnings.push(outcome.warning);
        result.breaks.push(outcome.brk);
      } else if (!previous) {
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
          const gap = await gapProblem(files, f, lineNo, previous, file, expected, seq);
          if (gap) return fail(gap.kind, gap.message, seq);
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
  result.ok = result.breaks.every((b) => b.lost === undefined);
  return result;
}

/** Where a line is: the files in chain order, the index of its file, the file and its line number. */
interface LineContext {
  files: readonly string[];
  fileIndex: number;
  file: string;
  lineNo: number;
}

type BreakOutcome = { brk: VerifyBreak; warning?: string } | { problem: { kind: ProblemKind; message: string; seq: number; at?: { file: string; line: number } } };

/**
 * Checks an `audit.file_break` record (line 1 of its file): it must continue the chain it names
 * (seq after `last_seq`, prev = `last_hash`); then the records missing since `previous` must lie
 * within what the lost file held (`first_seq`..`last_seq`); anything else missing is an ordinary
 * removal. Missing declared records become `lost`; none missing (the file was restored) is a warning.
 */
async function checkFileBreak(record: AuditRecord, previous: Previous | undefined, at: LineContext): Promise<BreakOutcome> {
  const { seq } = record;
  const declared = parseFileBreak(record.data);
  if (!declared || seq !== declared.last_seq + 1 || record.prev !== declared.last_hash) {
    return { problem: { kind: 'changed', message: 'changed: an audit.file_break record that does not continue from the last_seq and last_hash it names', seq } };
  }
  const brk: VerifyBreak = { file: at.file, line: at.lineNo, seq, reason: declared.reason, detectedAt: record.recorded_at, keptAs: declared.kept_as };
  if (!previous) {
    return { brk: { ...brk, lost: { ...(declared.first_seq !== null ? { from: declared.first_seq } : {}), to: declared.last_seq } } };
  }
  if (previous.seq === declared.last_seq) {
    if (previous.hash !== declared.last_hash) {
      const message = `changed: the writer's last line before the break (seq ${previous.seq}) had hash ${declared.last_hash.slice(0, 16)}..., this one differs`;
      return { problem: { kind: 'changed', message, seq: previous.seq, at: previous } };
    }
    return { brk, warning: `${at.file}:${at.lineNo}: ${declared.file} ${declared.reason} at ${record.recorded_at}; the records written to it are all here (restored), the chain is whole` };
  }
  if (previous.seq > declared.last_seq) {
    return { problem: { kind: 'reordered', message: `reordered: seq ${seq} comes after seq ${previous.seq} (out of order or duplicated)`, seq } };
  }
  const expected = previous.seq + 1;
  const undeclaredTo = declared.first_seq !== null && declared.first_seq > expected ? declared.first_seq : undefined;
  const gap = await gapProblem(at.files, at.fileIndex, at.lineNo, previous, at.file, expected, undeclaredTo ?? seq);
  if (gap && (undeclaredTo !== undefined || gap.kind === 'reordered')) return { problem: { ...gap, seq } };
  return { brk: { ...brk, lost: { from: expected, to: declared.last_seq } } };
}

/**
 * Seq `expected` to `next - 1` are missing before `file`:`lineNo`: reordered when `expected` comes
 * later in the files, else removed (named by the files around it when the gap is between files).
 */
async function gapProblem(
  files: readonly string[],
  fromFile: number,
  lineNo: number,
  previous: Previous,
  file: string,
  expected: number,
  next: number,
): Promise<{ kind: ProblemKind; message: string } | undefined> {
  if (next <= expected) return undefined;
  const later = await findSeq(files, fromFile, lineNo, expected);
  if (later) return { kind: 'reordered', message: `reordered: seq ${expected} belongs here but comes later, at ${later.file}:${later.line}` };
  const missing = next - expected;
  const range = missing === 1 ? `seq ${expected}` : `seq ${expected}-${next - 1}`;
  if (lineNo === 1 && previous.file !== file) {
    return {
      kind: 'removed',
      message: `removed: ${missing} record(s) missing (${range}) between ${path.basename(previous.file)} and ${path.basename(file)}: a rotated file is missing, or lines were cut from the end of ${path.basename(previous.file)}`,
    };
  }
  return { kind: 'removed', message: `removed: ${missing} line(s) removed before this line (${range} missing)` };
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
