import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PreparedEntry } from './record';
import { packEntries, sealBatch, type BatchStart, type SealedBatch } from './seal-batch';
import type { SealRequest } from './seal-worker';

/** Seals the writer's batches: where hashing, assembling and encoding the lines runs. */
export interface BatchSealer {
  seal(entries: readonly PreparedEntry[], start: BatchStart): SealedBatch | Promise<SealedBatch>;
  /** Lets go of what the sealer holds (its thread); sealing after it happens on the caller's thread. */
  close(): Promise<void>;
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

  constructor(private readonly options: WorkerSealerOptions) {
    this.inline = new InlineSealer(options.key);
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

  private running(): Worker | undefined {
    if (this.failed || this.closing) return undefined;
    if (this.worker) return this.worker;
    const worker = new Worker(this.options.script ?? SEAL_WORKER_FILE, { workerData: { key: this.options.key ? new Uint8Array(this.options.key) : undefined } });
    worker.unref();
    worker.on('message', ({ id, sealed }: { id: number; sealed: SealedBatch }) => {
      const waiting = this.pending.get(id);
      this.pending.delete(id);
      if (this.pending.size === 0) worker.unref();
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
