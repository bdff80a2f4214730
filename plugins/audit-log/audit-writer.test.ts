import { createHash, createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_SECRET_KEY_PATTERNS, redactSecrets } from 'praxis-agent';
import { FakeClock, waitFor } from 'praxis-agent/testing';
import { AuditWriter, WRITABLE_BACKLOG, type AuditWriterHooks, type AuditWriterOptions, type AuditWriterStats } from './audit-writer';
import { AuditEntryBuilder, toAuditEntry } from './entry';
import { canonicalJson, GENESIS_HASH, normaliseData, sealEntry, type AuditEntry } from './record';

const root = mkdtempSync(path.join(os.tmpdir(), 'audit-writer-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirCount = 0;

const hooks: AuditWriterHooks = {
  failed: () => undefined,
  dropping: () => undefined,
  recovered: () => undefined,
  damaged: () => undefined,
  lost: () => undefined,
  fileBroken: () => undefined,
};

function writer(overrides: Partial<AuditWriterOptions> = {}): { writer: AuditWriter; file: string } {
  const file = path.join(root, `case-${++dirCount}`, 'audit.log');
  const options: AuditWriterOptions = {
    path: file,
    fsync: 'every',
    fsyncIntervalMs: 1000,
    maxBytes: 0,
    rotateIntervalMs: 0,
    retain: 0,
    queueCapacity: 10_000,
    retryInitialMs: 100,
    retryMaxMs: 1000,
    source: 'audit',
    ...overrides,
  };
  return { writer: new AuditWriter(options, new FakeClock(), hooks), file };
}

function entry(i: number): AuditEntry {
  const { data, json } = normaliseData({ severity: 'error', message: `boom ${i}`, component: 'test' });
  return { timestamp: '2026-11-30T00:00:00.000Z', type: 'system.error', event_id: `e-${i}`, correlation_id: null, source: 'test', tags: [], data, dataJson: json };
}

function seqs(file: string): number[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { seq: number }).seq);
}

describe('AuditWriter: group commit', () => {
  it('writes the records queued while a batch is on its way to disk together: one write and one fsync per batch, not per record', async () => {
    const { writer: w, file } = writer();
    await w.start();
    w.enqueue(entry(1));
    // Let the first batch begin (its identity check and write are I/O), then queue 300 behind it.
    await new Promise((resolve) => setImmediate(resolve));
    for (let i = 2; i <= 301; i++) w.enqueue(entry(i));
    await w.flushed();
    const stats = w.stats();
    expect(stats.lines_written).toBe(301);
    expect(stats.writes).toBeLessThanOrEqual(2);
    expect(stats.fsyncs).toBe(stats.writes);
    await w.close();
    expect(seqs(file)).toEqual(Array.from({ length: 301 }, (_, i) => i + 1));
  });

  it('lets publishers queue the next batch while one is on its way to disk, and counts none of its records written before its fsync', async () => {
    const { writer: w, file } = writer({ queueCapacity: 2 });
    await w.start();
    expect(w.enqueue(entry(1))).toBeUndefined();
    expect(w.enqueue(entry(2))).toBeUndefined();
    // The queue is full: the third publisher waits for room.
    const third = w.enqueue(entry(3));
    expect(third).toBeInstanceOf(Promise);
    await third;
    // Room came when records 1-2 left for the disk, before their write and fsync completed (those
    // are I/O callbacks; this ran on microtasks): so they are not counted as written yet.
    expect(w.stats()).toMatchObject({ lines_written: 0, writes: 0, fsyncs: 0, queued: 3 });
    await w.flushed();
    expect(w.stats()).toMatchObject({ lines_written: 3, writes: 2, fsyncs: 2, queued: 0, dropped: 0 });
    await w.close();
    expect(seqs(file)).toEqual([1, 2, 3]);
  });

  it('while the file is writable, holds the publisher back at WRITABLE_BACKLOG queued events, below queue_capacity; loses nothing', async () => {
    const { writer: w, file } = writer({ queueCapacity: 10_000 });
    await w.start();
    const waits: Promise<void>[] = [];
    for (let i = 1; i <= WRITABLE_BACKLOG; i++) expect(w.enqueue(entry(i))).toBeUndefined();
    const next = w.enqueue(entry(WRITABLE_BACKLOG + 1));
    expect(next).toBeInstanceOf(Promise);
    waits.push(next as Promise<void>);
    expect(w.stats()).toMatchObject({ queued: WRITABLE_BACKLOG, dropped: 0 });
    await Promise.all(waits);
    await w.flushed();
    expect(w.stats()).toMatchObject({ lines_written: WRITABLE_BACKLOG + 1, queued: 0, dropped: 0 });
    await w.close();
    expect(seqs(file)).toEqual(Array.from({ length: WRITABLE_BACKLOG + 1 }, (_, i) => i + 1));
  });

  it('while the file cannot be written, holds up to queue_capacity events (more than WRITABLE_BACKLOG) before it drops', async () => {
    const file = path.join(root, `case-${++dirCount}`, 'audit.log');
    mkdirSync(path.dirname(file));
    symlinkSync('/dev/full', file);
    const capacity = WRITABLE_BACKLOG * 3;
    const w = new AuditWriter(
      { path: file, fsync: 'every', fsyncIntervalMs: 1000, maxBytes: 0, rotateIntervalMs: 0, retain: 0, queueCapacity: capacity, retryInitialMs: 100, retryMaxMs: 100, source: 'audit' },
      new FakeClock(),
      hooks,
    );
    await w.start();
    w.enqueue(entry(0));
    await waitFor(() => w.isFailing, { what: 'the failed write' });
    for (let i = 1; i < capacity; i++) expect(w.enqueue(entry(i))).toBeUndefined();
    expect(w.stats()).toMatchObject({ queued: capacity, dropped: 0 });
    expect(w.enqueue(entry(capacity))).toBeUndefined(); // full while failing: dropped, not waiting
    expect(w.stats()).toMatchObject({ queued: capacity, dropped: 1 });
    await w.close();
  });

  it('when that batch fails, drops the newest events beyond queue_capacity again: memory stays bounded for the whole episode', async () => {
    const file = path.join(root, `case-${++dirCount}`, 'audit.log');
    mkdirSync(path.dirname(file));
    symlinkSync('/dev/full', file);
    const told: string[] = [];
    const w = new AuditWriter(
      { path: file, fsync: 'every', fsyncIntervalMs: 1000, maxBytes: 0, rotateIntervalMs: 0, retain: 0, queueCapacity: 2, retryInitialMs: 100, retryMaxMs: 100, source: 'audit' },
      new FakeClock(),
      { ...hooks, failed: () => void told.push('failed'), dropping: ({ queued, capacity }) => void told.push(`dropping ${queued}/${capacity}`) },
    );
    await w.start();
    w.enqueue(entry(1));
    w.enqueue(entry(2));
    await w.enqueue(entry(3)); // accepted while [1, 2] is on its way to /dev/full
    expect(w.stats().queued).toBe(3);
    await waitFor(() => w.isFailing, { what: 'the failed write' });
    expect(w.stats()).toMatchObject({ queued: 2, queue_capacity: 2, dropped: 1, lines_written: 0 });
    expect(told).toEqual(['failed', 'dropping 2/2']);
    expect(w.enqueue(entry(4))).toBeUndefined(); // full while failing: dropped, not waiting
    expect(w.stats()).toMatchObject({ queued: 2, dropped: 2 });
    await w.close();
  });

  it('with fsync: every, never shows a batch as written without the fsync that covers it', async () => {
    const { writer: w } = writer();
    await w.start();
    for (let i = 1; i <= 3000; i++) w.enqueue(entry(i));
    const samples: AuditWriterStats[] = [];
    for (;;) {
      const s = w.stats();
      samples.push(s);
      if (s.lines_written === 3000) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(samples.length).toBeGreaterThan(2);
    for (const s of samples) expect(s.fsyncs).toBe(s.writes);
    // Batched: far fewer writes than records.
    expect(samples[samples.length - 1]!.writes).toBeLessThan(30);
    await w.close();
  });

  it('with fsync: none and interval, batches the same way without an fsync per batch', async () => {
    for (const fsync of ['none', 'interval'] as const) {
      const { writer: w } = writer({ fsync });
      await w.start();
      for (let i = 1; i <= 1000; i++) w.enqueue(entry(i));
      await w.flushed();
      expect(w.stats()).toMatchObject({ lines_written: 1000, fsyncs: 0 });
      expect(w.stats().writes).toBeLessThan(10);
      await w.close();
    }
  });
});

/** The line format as README.md states it: the record's keys in order, JSON.stringify'd; hash over the sorted-key form. */
function referenceSeal(e: AuditEntry, position: { seq: number; prev: string; recordedAt: string; fileStart: boolean }, key?: Buffer): { line: string; hash: string } {
  const content: Record<string, unknown> = {
    seq: position.seq,
    recorded_at: position.recordedAt,
    timestamp: e.timestamp,
    type: e.type,
    event_id: e.event_id,
    correlation_id: e.correlation_id,
    source: e.source,
    tags: e.tags,
    data: e.data,
  };
  if (position.fileStart) content.file_start = true;
  content.prev = position.prev;
  const canonical = slowCanonical(content);
  const hash = createHash('sha256').update(canonical).digest('hex');
  const record = { ...content, hash, ...(key ? { hmac: createHmac('sha256', key).update(canonical).digest('hex') } : {}) };
  return { line: JSON.stringify(record), hash };
}

/** Sorted keys (by UTF-16 code unit) at every depth, no whitespace: the canonical form README.md describes. */
function slowCanonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(slowCanonical).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${slowCanonical(obj[k])}`)
    .join(',')}}`;
}

describe('sealEntry: the line assembled from its parts is the documented format, byte for byte', () => {
  const awkward: unknown[] = [
    { severity: 'error', message: 'plain' },
    { b: 1, a: 2, '10': 'ten', '9': 'nine', '-1': 'minus', '': 'empty', Z: 'upper', é: 'accent', '😀': 'emoji' },
    { nested: { z: [1, { y: null, x: [true, false] }], a: {} }, list: [[], [[]], {}], num: [-0, 1e21, 1.5e-7, 0.1, 2 ** 64] },
    { text: 'quotes " and \\ backslash\nnewline\ttab \u2028 \u0000 lone \ud800 surrogate' },
    JSON.parse('{"__proto__": {"polluted": 1}, "constructor": "x"}'),
    null,
    'just a string',
    [3, 2, 1],
    42,
  ];
  it.each(awkward.map((data, i) => [i, data]))('data #%s', (_i, data) => {
    const { data: normalised, json } = normaliseData(data);
    const base: AuditEntry = { timestamp: '2026-11-30T12:00:00.000Z', type: 'x.y', event_id: 'id-"1"', correlation_id: null, source: null, tags: ['a', 'b"'], data: normalised };
    for (const withJson of [true, false]) {
      const e: AuditEntry = withJson ? { ...base, dataJson: json } : base;
      for (const fileStart of [true, false]) {
        for (const key of [undefined, Buffer.alloc(32, 7)]) {
          const position = { seq: 7, prev: GENESIS_HASH, recordedAt: '2026-11-30T12:00:01.000Z', fileStart };
          expect(sealEntry(e, position, key)).toEqual(referenceSeal(e, position, key));
        }
      }
    }
    expect(canonicalJson(normalised)).toBe(slowCanonical(normalised));
  });

  it('normaliseData gives the JSON text of the copy it returns, also for values JSON changes or cannot hold', () => {
    const values: unknown[] = [
      { when: new Date(0), skip: undefined, fn: () => 1, nan: NaN, inf: -Infinity, neg: -0, nested: [undefined, () => 1] },
      { toJSON: () => ({ b: 1, a: 2 }) },
      undefined,
      { big: 1n },
    ];
    for (const value of values) {
      const { data, json } = normaliseData(value);
      expect(JSON.stringify(data)).toBe(json);
    }
    expect(normaliseData({ big: 1n }).data).toEqual({ audit_note: expect.stringContaining('could not be serialised') });
  });

  it('toAuditEntry carries the JSON text of its redacted data', () => {
    const e = toAuditEntry({
      type: 'system.error',
      data: { severity: 'error', message: 'x', component: 'c', diagnostic_data: { password: 'hunter2', when: new Date(0) } },
      metadata: { event_id: 'e1', timestamp: '2026-11-30T00:00:00.000Z', source: 's', tags: [] },
    } as never);
    expect(e.dataJson).toBe(JSON.stringify(e.data));
    expect(e.dataJson).not.toContain('hunter2');
  });

  it('the entry of data taken as it is equals the entry of redacted and normalised data, for every kind of value', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100; i++) deep = { down: deep };
    const inherited = Object.create(Object.create(null, { toJSON: { value: () => 'hidden' } }) as object) as Record<string, unknown>;
    inherited.visible = 1;
    const values: unknown[] = [
      { severity: 'error', message: 'plain', component: 'c' },
      { b: 1, a: 2, '10': 'ten', '9': 'nine', '': 'empty', é: 'accent', '😀': 'emoji', nested: { z: [1, { y: null }], a: {} }, num: [-0, 1e21, NaN, Infinity] },
      { text: 'quotes " and \\ backslash\nnewline \u2028 lone \ud800 surrogate', eq: 'a=b', url: 'see https://example.com/x' },
      JSON.parse('{"__proto__": {"polluted": 1}, "constructor": "x"}'),
      { password: 'hunter2', nested: [{ api_key: 'k' }] },
      { url: 'https://user:secret@example.com/?token=abc&x=1' },
      { when: new Date(0), skip: undefined, fn: () => 1, list: [undefined, () => 1] },
      { toJSON: () => ({ b: 1, a: 2 }) },
      inherited,
      Object.assign(Object.create(null) as object, { z: 1, a: 'x' }),
      cyclic,
      deep,
      null,
      'just a string',
      [3, 2, { token: 't' }],
      42,
    ];
    const builder = new AuditEntryBuilder(['host']);
    const patterns = [...DEFAULT_SECRET_KEY_PATTERNS, 'host'];
    for (const [i, data] of [...values, { host: 'db1', port: 5432 }].entries()) {
      const event = { type: 'system.error', data, metadata: { event_id: `e${i}`, timestamp: '2026-11-30T00:00:00.000Z', tags: ['t'] } } as never;
      const entry = builder.build(event);
      const expected = normaliseData(redactSecrets(data, patterns));
      expect({ i, json: entry.dataJson, canonical: entry.dataCanonical, data: entry.data }).toEqual({ i, json: expected.json, canonical: canonicalJson(expected.data), data: expected.data });
      expect(sealEntry(entry, { seq: 1, prev: GENESIS_HASH, recordedAt: '2026-11-30T00:00:01.000Z', fileStart: true })).toEqual(
        referenceSeal({ ...entry, data: expected.data }, { seq: 1, prev: GENESIS_HASH, recordedAt: '2026-11-30T00:00:01.000Z', fileStart: true }),
      );
    }
  });
});
