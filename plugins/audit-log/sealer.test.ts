import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeClock } from 'praxis-agent/testing';
import { AuditWriter, type AuditWriterHooks } from './audit-writer';
import { AuditEntryBuilder } from './entry';
import { rotatedFiles } from './files';
import { GENESIS_HASH, prepareEntry, sealPrepared, type PreparedEntry } from './record';
import { MAX_BATCH_BYTES, MAX_BATCH_LINES, sealBatch, type BatchStart, type SealedBatch } from './seal-batch';
import { InlineSealer, OnDemandSealer, WorkerSealer, type BatchSealer } from './sealer';
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

/** What sealBatch must give: each entry sealed on its own (sealPrepared), lines joined and encoded at the end. */
function referenceBatch(batch: readonly PreparedEntry[], start: BatchStart, key?: Buffer): { text: string; lines: number; size: number; rotate: boolean } {
  let { seq, prev, size } = start;
  const lines: string[] = [];
  for (const entry of batch) {
    const sealed = sealPrepared(entry, { seq: seq + 1, prev, recordedAt: start.recordedAt, fileStart: size === 0 }, key);
    const bytes = Buffer.byteLength(sealed.line) + 1;
    if (start.maxBytes > 0 && size > 0 && size + bytes > start.maxBytes) {
      if (lines.length > 0) break;
      return { text: '', lines: 0, size, rotate: true };
    }
    lines.push(sealed.line);
    seq++;
    prev = sealed.hash;
    size += bytes;
    if (lines.length >= MAX_BATCH_LINES || size - start.size >= MAX_BATCH_BYTES) break;
  }
  return { text: lines.length > 0 ? `${lines.join('\n')}\n` : '', lines: lines.length, size, rotate: false };
}

function firstDifference(a: string, b: string): number {
  if (a === b) return -1;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

describe('sealBatch', () => {
  /** A short first line (the buffer is sized from it), then long lines of 2-, 3- and 4-byte UTF-8: the buffer must grow, more than once. */
  const mixed = (): PreparedEntry[] => [
    ...entries(1),
    ...Array.from({ length: 40 }, (_, i) =>
      prepareEntry(
        builder.build({
          type: 'system.error',
          data: { severity: 'error', message: `${'ü€😀'.repeat(20 * (i + 1))} ${i}`, component: 'sealer' },
          metadata: { event_id: `m-${i}`, timestamp: '2026-11-30T00:00:00.000Z', tags: [] },
        } as never),
      ),
    ),
    ...entries(5, 100),
  ];

  it.each([
    ['from the file start, with HMAC', START, KEY],
    ['mid-file, no key', { ...START, size: 100 }, undefined],
    ['cut at max_bytes inside the long lines', { ...START, size: 100, maxBytes: 100 + 60_000 }, KEY],
    ['a first line that does not fit: rotate', { ...START, size: 100, maxBytes: 150 }, undefined],
  ] as const)('%s: the bytes are the lines sealEntry gives, encoded once, and the size counts them exactly', (_what, start, key) => {
    const batch = mixed();
    const sealed = sealBatch(batch, start, key);
    const { text, ...expected } = referenceBatch(batch, start, key);
    // Where the texts first differ (-1: nowhere), rather than a diff of 150 kB.
    expect({ differsAt: firstDifference(Buffer.from(sealed.bytes).toString('utf8'), text), lines: sealed.lines, size: sealed.size, rotate: sealed.rotate }).toEqual({ differsAt: -1, ...expected });
    expect(sealed.size - start.size).toBe(sealed.bytes.length);
  });

  it('a batch holds at most MAX_BATCH_LINES lines', () => {
    const batch = entries(MAX_BATCH_LINES + 10);
    const sealed = sealBatch(batch, START, undefined);
    expect(sealed.lines).toBe(MAX_BATCH_LINES);
    expect(firstDifference(Buffer.from(sealed.bytes).toString('utf8'), referenceBatch(batch, START).text)).toBe(-1);
  });

  it('a batch stops at MAX_BATCH_BYTES', () => {
    const big = prepareEntry(builder.build({ type: 'system.error', data: { severity: 'error', message: 'x'.repeat(100_000), component: 'c' }, metadata: { event_id: 'b', timestamp: '2026-11-30T00:00:00.000Z', tags: [] } } as never));
    const sealed = sealBatch(Array.from({ length: 30 }, () => big), START, undefined);
    expect(sealed.lines).toBe(11); // the line that reaches 1 MiB is the batch's last
    expect(sealed.bytes.length).toBeGreaterThanOrEqual(MAX_BATCH_BYTES);
  });
});

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

/** Resolves once `done()` holds, polling: a worker thread boots in real time, whatever the FakeClock says. Throws after 10 s (a thread that never comes). */
async function until(done: () => boolean): Promise<void> {
  for (let waited = 0; !done(); waited += 5) {
    if (waited >= 10_000) throw new Error('gave up waiting for the sealing worker');
    await tick();
  }
}

/** One turn of the real event loop, where the worker's messages arrive. */
const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

const workerRunning = (sealer: OnDemandSealer): Promise<void> => until(() => sealer.stats().worker_running === 1);

describe('OnDemandSealer', () => {
  it('seals inline while light, in the worker under sustained load, inline again after the quiet period: byte for byte the same, visible in its stats', async () => {
    const clock = new FakeClock();
    const failures: unknown[] = [];
    const sealer = new OnDemandSealer({ key: KEY, script: WORKER, clock, startRate: 100, idleMs: 5_000, onFailure: (error) => failures.push(error) });
    const inline = new InlineSealer(KEY);
    const batch = entries(60);
    const same = async (start: BatchStart) => expect(plain(await sealer.seal(batch, start))).toEqual(plain(inline.seal(batch, start)));
    // 60 lines in a second: below the rate, no thread.
    await same(START);
    await clock.advance(1_000);
    await same(START);
    expect(sealer.stats()).toMatchObject({ mode: 'on_demand', worker_running: 0, worker_starts: 0, worker_batches: 0 });
    // 120 within a second: the worker starts; this batch and those until its thread runs stay inline.
    await clock.advance(500);
    await same({ ...START, size: 10 });
    expect(sealer.stats()).toMatchObject({ worker_starts: 1, worker_batches: 0 });
    await workerRunning(sealer);
    await same(START);
    await same({ ...START, size: 100, maxBytes: 101 }); // a batch that must rotate first
    expect(sealer.stats()).toMatchObject({ worker_running: 1, worker_starts: 1, worker_batches: 2, worker_stops: 0 });
    // Light again: the worker seals what comes, and stops once the quiet period (below the rate, not without batches) has passed.
    await clock.advance(4_000);
    await same(START);
    expect(sealer.stats()).toMatchObject({ worker_running: 1, worker_stops: 0, worker_batches: 3 });
    await clock.advance(1_000);
    expect(sealer.stats()).toMatchObject({ worker_running: 0, worker_stops: 1 });
    await same(START);
    expect(sealer.stats().worker_batches).toBe(3);
    // Load again: a new worker.
    await clock.advance(1_000);
    await same(START);
    await same(START);
    await workerRunning(sealer);
    await same(START);
    expect(sealer.stats()).toMatchObject({ worker_running: 1, worker_starts: 2, worker_batches: 4 });
    await sealer.close();
    expect(sealer.stats()).toMatchObject({ worker_running: 0 });
    expect(failures).toEqual([]);
    await same(START);
  });

  it.each([
    ['exits before it runs', 'process.exit(3)', 'exited (code 3)'],
    ['throws on its first batch', "require('node:worker_threads').parentPort.on('message', () => { throw new Error('boom in the worker'); });", 'boom in the worker'],
  ])('a worker that %s: the batches are sealed inline, the failure is reported once and no worker starts again', async (_what, script, message) => {
    const clock = new FakeClock();
    const failures: unknown[] = [];
    const file = path.join(root, `ondemand-${Math.random().toString(36).slice(2)}.js`);
    writeFileSync(file, script);
    const sealer = new OnDemandSealer({ key: KEY, script: file, clock, startRate: 10, idleMs: 5_000, onFailure: (error) => failures.push(error) });
    const inline = new InlineSealer(KEY);
    const batch = entries(20);
    // Sealed at the rate until the worker has started and failed.
    for (let i = 0; failures.length === 0 && i < 2_000; i++) {
      expect(plain(await sealer.seal(batch, { ...START, size: i }))).toEqual(plain(inline.seal(batch, { ...START, size: i })));
      await tick();
    }
    for (let i = 0; i < 3; i++) expect(plain(await sealer.seal(batch, START))).toEqual(plain(inline.seal(batch, START)));
    expect(failures).toHaveLength(1);
    expect(String(failures[0])).toContain(message);
    expect(sealer.stats()).toMatchObject({ worker_running: 0, worker_starts: 1, worker_failed: 1 });
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

  function writerWith(sealer: BatchSealer, file: string, lost: unknown[], clock = new FakeClock()): AuditWriter {
    const options = { path: file, fsync: 'every' as const, fsyncIntervalMs: 1000, maxBytes: 64 * 1024, rotateIntervalMs: 0, retain: 0, queueCapacity: 100_000, retryInitialMs: 100, retryMaxMs: 1000, key: KEY, source: 'audit', sealer };
    return new AuditWriter(options, clock, hooks(lost));
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
    // As the bus does: a publisher held back (the backlog is full) waits before the next one.
    for (let i = 1; i <= 3000; i++) await w.enqueue(auditEntry(i));
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

  it.each([
    ['the worker', WORKER],
    ['a worker that crashes on its first batch', 'crash'],
  ])('on demand, with %s: the chain verifies across every switch between inline and worker sealing', async (_what, script) => {
    const file = path.join(root, `od-${script === WORKER ? 'ok' : 'crash'}`, 'audit.log');
    const clock = new FakeClock();
    const failures: unknown[] = [];
    const lost: unknown[] = [];
    const sealer = new OnDemandSealer({ key: KEY, script: script === WORKER ? WORKER : failingWorker('process.exit(7)'), clock, startRate: 500, idleMs: 2_000, onFailure: (error) => failures.push(error) });
    const w = writerWith(sealer, file, lost, clock);
    await w.start();
    let n = 0;
    const write = async (count: number) => {
      for (let i = 0; i < count; i++) await w.enqueue(auditEntry(++n));
      await w.flushed();
    };
    for (let round = 0; round < 2; round++) {
      await write(100); // light: inline
      await write(1_000); // the rate: the worker starts
      await until(() => sealer.stats().worker_running === 1 || failures.length > 0);
      await write(1_500); // through the worker (or inline, once it failed)
      await clock.advance(3_000); // quiet: it stops
      await write(100);
    }
    await w.close();
    expect(lost).toEqual([]);
    const stats = w.stats().sealer;
    if (script === WORKER) {
      expect(failures).toEqual([]);
      expect(stats).toMatchObject({ mode: 'on_demand', worker_starts: 2, worker_stops: 2, worker_failed: 0 });
      expect(stats?.worker_batches).toBeGreaterThan(0);
    } else {
      expect(failures).toHaveLength(1);
      expect(stats).toMatchObject({ worker_starts: 1, worker_failed: 1, worker_running: 0 });
    }
    expect(w.stats()).toMatchObject({ lines_written: n, last_seq: n, queued: 0 });
    const result = await verifyAuditFiles([...(await rotatedFiles(file)), file], KEY);
    expect(result).toMatchObject({ ok: true, records: n, lastSeq: n, hmacChecked: true });
  });
});
