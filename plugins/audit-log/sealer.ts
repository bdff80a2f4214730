import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CancelTimer, Clock } from 'praxis-agent';
import type { PreparedEntry } from './record';
import { packEntries, sealBatch, type BatchStart, type SealedBatch } from './seal-batch';
import type { SealRequest } from './seal-worker';

/** Seals the writer's batches: where hashing, assembling and encoding the lines runs. */
export interface BatchSealer {
  seal(entries: readonly PreparedEntry[], start: BatchStart): SealedBatch | Promise<SealedBatch>;
  /** Lets go of what the sealer holds (its thread); sealing after it happens on the caller's thread. */
  close(): Promise<void>;
  /** What a sealer with a worker thread did with it; absent for sealing inline. */
  stats?(): SealerStats;
}

/** The sealing worker in /stats (see the plugin's README, "seal_in_worker"). */
export interface SealerStats {
  /** `worker`: always (`seal_in_worker: true`); `on_demand`: while the log sustains a high rate. */
  mode: 'worker' | 'on_demand';
  /** 1 while batches go to the worker. */
  worker_running: 0 | 1;
  worker_starts: number;
  worker_stops: number;
  /** Batches the worker sealed. */
  worker_batches: number;
  /** 1 once the worker failed: sealing stays inline from then on. */
  worker_failed: 0 | 1;
}

/** Seals on the writer's own thread. */
export class InlineSealer implements BatchSealer {
  constructor(private readonly key?: Buffer) {}

  seal(entries: readonly PreparedEntry[], start: BatchStart): SealedBatch {
    return sealBatch(entries, start, this.key);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The compiled worker; absent when running from TypeScript sources (tests), where sealing stays inline. */
export const SEAL_WORKER_FILE = path.join(__dirname, 'seal-worker.js');

/** True when {@link WorkerSealer} can run with its default script. */
export function sealWorkerAvailable(): boolean {
  return __filename.endsWith('.js') && existsSync(SEAL_WORKER_FILE);
}

export interface WorkerSealerOptions {
  /** HMAC key, handed to the worker once. */
  key?: Buffer;
  /** The worker's script (tests give one that fails); default {@link SEAL_WORKER_FILE}. */
  script?: string;
  /** The worker failed (crashed, exited, refused a batch): called once; sealing goes on inline, nothing is lost. */
  onFailure(error: unknown): void;
}

/**
 * Seals batches in a worker thread: the SHA-256 of every line, its assembly and UTF-8 encoding
 * leave the event loop that answers ingest (one message per batch, the bytes transferred back).
 * The worker keeps no state: each request says where the chain stands, so the writer stays the
 * one owner of seq, hash and file. When the worker fails, the batch it held and every later one
 * are sealed inline, byte for byte the same, and the failure is reported once.
 */
export class WorkerSealer implements BatchSealer {
  private worker?: Worker;
  private readonly inline: InlineSealer;
  private readonly pending = new Map<number, { resolve: (batch: SealedBatch) => void; reject: (error: unknown) => void }>();
  private nextId = 0;
  private failed = false;
  private closing = false;
  private batches = 0;
  private starts = 0;

  constructor(private readonly options: WorkerSealerOptions) {
    this.inline = new InlineSealer(options.key);
  }

  /** Starts the thread ahead of the first batch; resolves true once it runs, false when it failed first (reported as any failure). */
  start(): Promise<boolean> {
    const worker = this.running();
    if (!worker) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      worker.once('online', () => resolve(true));
      worker.once('exit', () => resolve(false));
    });
  }

  async seal(entries: readonly PreparedEntry[], start: BatchStart): Promise<SealedBatch> {
    const worker = this.running();
    if (!worker) return this.inline.seal(entries, start);
    try {
      return await new Promise<SealedBatch>((resolve, reject) => {
        const id = ++this.nextId;
        this.pending.set(id, { resolve, reject });
        // Referenced only while it holds a batch: an idle worker never keeps the process alive, a busy one does.
        worker.ref();
        const request: SealRequest = { id, packed: packEntries(entries), start };
        worker.postMessage(request);
      });
    } catch (error) {
      this.fail(error);
      return this.inline.seal(entries, start);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    const worker = this.worker;
    this.worker = undefined;
    this.settleAll(new Error('audit sealing worker closed'));
    await worker?.terminate();
  }

  stats(): SealerStats {
    return { mode: 'worker', worker_running: this.worker ? 1 : 0, worker_starts: this.starts, worker_stops: 0, worker_batches: this.batches, worker_failed: this.failed ? 1 : 0 };
  }

  private running(): Worker | undefined {
    if (this.failed || this.closing) return undefined;
    if (this.worker) return this.worker;
    const worker = new Worker(this.options.script ?? SEAL_WORKER_FILE, { workerData: { key: this.options.key ? new Uint8Array(this.options.key) : undefined } });
    this.starts++;
    worker.unref();
    worker.on('message', ({ id, sealed }: { id: number; sealed: SealedBatch }) => {
      const waiting = this.pending.get(id);
      this.pending.delete(id);
      if (this.pending.size === 0) worker.unref();
      this.batches++;
      waiting?.resolve(sealed);
    });
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => this.fail(new Error(`audit sealing worker exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }

  private fail(error: unknown): void {
    if (this.failed || this.closing) {
      this.settleAll(error);
      return;
    }
    this.failed = true;
    const worker = this.worker;
    this.worker = undefined;
    this.settleAll(error);
    void worker?.terminate();
    this.options.onFailure(error);
  }

  /** Batches the worker held: their callers seal them inline. */
  private settleAll(error: unknown): void {
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }
}

/** Lines per second, reached within one second, that start the on-demand worker. */
export const ON_DEMAND_START_RATE = 10_000;
/** How long the on-demand worker runs on after the rate was last reached. */
export const ON_DEMAND_IDLE_MS = 30_000;

export interface OnDemandSealerOptions extends WorkerSealerOptions {
  clock: Clock;
  /** Default {@link ON_DEMAND_START_RATE}. */
  startRate?: number;
  /** Default {@link ON_DEMAND_IDLE_MS}. */
  idleMs?: number;
}

/**
 * Seals inline while the log is idle or light, and in a {@link WorkerSealer} while it sustains
 * {@link ON_DEMAND_START_RATE} lines per second: the worker's isolate (about 29 MiB) is paid for
 * only under load, and an idle agent keeps the memory of one without it. The worker starts when
 * the rate is reached within one second; batches stay inline until its thread runs (no batch waits
 * for a thread to boot), and it stops once {@link ON_DEMAND_IDLE_MS} pass without that rate. A batch
 * the worker holds when it stops, or when it fails, is sealed inline, byte for byte the same: the
 * writer stays the one owner of seq, hash and file, the worker is stateless per batch. After a
 * failure (reported once) sealing stays inline.
 */
export class OnDemandSealer implements BatchSealer {
  private readonly inline: InlineSealer;
  private worker?: WorkerSealer;
  private ready = false;
  private failed = false;
  private closed = false;
  private windowStart = -Infinity;
  private windowLines = 0;
  private lastHotAt = 0;
  private idleTimer?: CancelTimer;
  private readonly counters = { worker_starts: 0, worker_stops: 0 };
  /** Batches sealed by workers since stopped. */
  private pastBatches = 0;

  constructor(private readonly options: OnDemandSealerOptions) {
    this.inline = new InlineSealer(options.key);
  }

  seal(entries: readonly PreparedEntry[], start: BatchStart): SealedBatch | Promise<SealedBatch> {
    const worker = this.ready ? this.worker : undefined;
    if (!worker) {
      const sealed = this.inline.seal(entries, start);
      this.note(sealed.lines);
      return sealed;
    }
    return worker.seal(entries, start).then((sealed) => {
      this.note(sealed.lines);
      return sealed;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.idleTimer?.();
    this.idleTimer = undefined;
    await this.stopWorker(false);
  }

  stats(): SealerStats {
    const batches = this.pastBatches + (this.worker?.stats().worker_batches ?? 0);
    return { mode: 'on_demand', worker_running: this.ready ? 1 : 0, ...this.counters, worker_batches: batches, worker_failed: this.failed ? 1 : 0 };
  }

  /** Counts lines sealed per second; the rate reached starts the worker (or keeps it on). */
  private note(lines: number): void {
    const now = this.options.clock.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.windowLines = 0;
    }
    this.windowLines += lines;
    if (this.windowLines < (this.options.startRate ?? ON_DEMAND_START_RATE)) return;
    this.lastHotAt = now;
    if (!this.worker && !this.failed && !this.closed) this.startWorker();
  }

  private startWorker(): void {
    const worker = new WorkerSealer({
      key: this.options.key,
      script: this.options.script,
      onFailure: (error) => {
        this.failed = true;
        if (this.worker === worker) void this.stopWorker(false);
        this.options.onFailure(error);
      },
    });
    this.worker = worker;
    this.ready = false;
    this.counters.worker_starts++;
    void worker.start().then((online) => {
      if (online && this.worker === worker) this.ready = true;
    });
    this.scheduleIdleCheck(this.options.idleMs ?? ON_DEMAND_IDLE_MS);
  }

  private scheduleIdleCheck(ms: number): void {
    this.idleTimer = this.options.clock.setTimeout(() => {
      this.idleTimer = undefined;
      if (!this.worker) return;
      const quiet = this.options.clock.now() - this.lastHotAt;
      const idleMs = this.options.idleMs ?? ON_DEMAND_IDLE_MS;
      if (quiet >= idleMs) void this.stopWorker(true);
      else this.scheduleIdleCheck(idleMs - quiet);
    }, ms);
  }

  private async stopWorker(counted: boolean): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    this.ready = false;
    this.pastBatches += worker.stats().worker_batches;
    if (counted) this.counters.worker_stops++;
    await worker.close();
  }
}
