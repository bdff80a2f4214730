import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeClock } from 'praxis-agent/testing';
import { AuditWriter, type AuditWriterHooks } from './audit-writer';
import { AuditEntryBuilder } from './entry';
import { rotatedFiles } from './files';
import { GENESIS_HASH, prepareEntry, type PreparedEntry } from './record';
import type { BatchStart, SealedBatch } from './seal-batch';
import { InlineSealer, WorkerSealer } from './sealer';
import { verifyAuditFiles } from './verify';

/**
 * The sealing worker as the agent runs it: the compiled script (`npm test` builds dist/ first),
 * against sealing inline; and workers that fail, to show that a failure loses nothing.
 */
const WORKER = path.join(__dirname, '../../dist/plugins/audit-log/seal-worker.js');
const root = mkdtempSync(path.join(os.tmpdir(), 'audit-sealer-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

beforeAll(() => {
  if (!existsSync(WORKER)) throw new Error(`${WORKER} is missing: run npm run build first`);
});

const KEY = Buffer.alloc(32, 9);
const builder = new AuditEntryBuilder();

function entries(count: number, from = 0): PreparedEntry[] {
  return Array.from({ length: count }, (_, i) =>
    prepareEntry(
      builder.build({
        type: 'system.error',
        data: { severity: 'error', message: `boom ${from + i} ünïcødé 😀 "quoted"\nline`, component: 'sealer', diagnostic_data: { password: 'hunter2', n: i } },
        metadata: { event_id: `e-${from + i}`, timestamp: '2026-11-30T00:00:00.000Z', source: 'test', tags: ['a'] },
      } as never),
    ),
  );
}

const START: BatchStart = { seq: 41, prev: GENESIS_HASH, recordedAt: '2026-11-30T00:00:01.000Z', size: 0, maxBytes: 0 };

/** A worker script that fails as `how` says on its first batch. */
function failingWorker(how: string): string {
  const file = path.join(root, `worker-${Math.random().toString(36).slice(2)}.js`);
  writeFileSync(file, `require('node:worker_threads').parentPort.on('message', () => { ${how} });`);
  return file;
}

const plain = (batch: SealedBatch): unknown => ({ ...batch, bytes: Buffer.from(batch.bytes).toString('utf8') });

describe('WorkerSealer', () => {
  it('seals byte for byte what sealing inline gives: file start, HMAC, the cut at max_bytes, a batch that must rotate first', async () => {
    const failures: unknown[] = [];
    const sealer = new WorkerSealer({ key: KEY, script: WORKER, onFailure: (error) => failures.push(error) });
    const inline = new InlineSealer(KEY);
    const batch = entries(600);
    const oneLine = inline.seal(batch.slice(0, 1), START).bytes.length;
    for (const start of [START, { ...START, size: 100 }, { ...START, size: 100, maxBytes: 100 + oneLine * 10 + 5 }, { ...START, size: 100, maxBytes: 101 }]) {
      const fromWorker = await sealer.seal(batch, start);
      expect(plain(fromWorker)).toEqual(plain(inline.seal(batch, start)));
    }
    const sealed = await sealer.seal(batch, START);
    expect(sealed.lines).toBe(512); // one batch at most
    await sealer.close();
    expect(failures).toEqual([]);
    // Closed: sealing still works, on the caller's thread.
    expect(plain(await sealer.seal(batch, START))).toEqual(plain(inline.seal(batch, START)));
  });

  it.each([
    ['throws', "throw new Error('boom in the worker')", 'boom in the worker'],
    ['exits', 'process.exit(3)', 'exited (code 3)'],
  ])('when the worker %s, the batch it held and later ones are sealed inline, and the failure is reported once', async (_what, how, message) => {
    const failures: unknown[] = [];
    const sealer = new WorkerSealer({ key: KEY, script: failingWorker(how), onFailure: (error) => failures.push(error) });
    const inline = new InlineSealer(KEY);
    const batch = entries(50);
    expect(plain(await sealer.seal(batch, START))).toEqual(plain(inline.seal(batch, START)));
    expect(plain(await sealer.seal(batch, { ...START, size: 10 }))).toEqual(plain(inline.seal(batch, { ...START, size: 10 })));
    expect(failures).toHaveLength(1);
    expect(String(failures[0])).toContain(message);
    await sealer.close();
  });
});

describe('AuditWriter with the sealing worker', () => {
  const hooks = (lost: unknown[]): AuditWriterHooks => ({
    failed: () => undefined,
    dropping: () => undefined,
    recovered: () => undefined,
    damaged: () => undefined,
    lost: (info) => lost.push(info),
    fileBroken: () => undefined,
  });

  function writerWith(sealer: WorkerSealer, file: string, lost: unknown[]): AuditWriter {
    const options = { path: file, fsync: 'every' as const, fsyncIntervalMs: 1000, maxBytes: 64 * 1024, rotateIntervalMs: 0, retain: 0, queueCapacity: 100_000, retryInitialMs: 100, retryMaxMs: 1000, key: KEY, source: 'audit', sealer };
    return new AuditWriter(options, new FakeClock(), hooks(lost));
  }

  const auditEntry = (i: number) =>
    builder.build({ type: 'system.error', data: { severity: 'error', message: `event ${i}`, component: 'c' }, metadata: { event_id: `e-${i}`, timestamp: '2026-11-30T00:00:00.000Z', tags: [] } } as never);

  it.each([
    ['the worker', WORKER],
    ['a worker that crashes on its first batch', 'crash'],
  ])('with %s: close() writes everything queued, rotating by size, and the chain verifies', async (_what, script) => {
    const file = path.join(root, `w-${script === WORKER ? 'ok' : 'crash'}`, 'audit.log');
    const failures: unknown[] = [];
    const lost: unknown[] = [];
    const sealer = new WorkerSealer({ key: KEY, script: script === WORKER ? WORKER : failingWorker('process.exit(7)'), onFailure: (error) => failures.push(error) });
    const w = writerWith(sealer, file, lost);
    await w.start();
    for (let i = 1; i <= 3000; i++) w.enqueue(auditEntry(i));
    await w.close();
    expect(lost).toEqual([]);
    expect(failures).toHaveLength(script === WORKER ? 0 : 1);
    expect(w.stats()).toMatchObject({ lines_written: 3000, last_seq: 3000, queued: 0 });
    expect(w.stats().rotations).toBeGreaterThan(0);
    const files = [...(await rotatedFiles(file)), file];
    const result = await verifyAuditFiles(files, KEY);
    expect(result).toMatchObject({ ok: true, records: 3000, lastSeq: 3000, hmacChecked: true });
    expect(readFileSync(file, 'utf8').endsWith('\n')).toBe(true);
  });
});
