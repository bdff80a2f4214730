import { parentPort, workerData } from 'node:worker_threads';
import { sealBatch, unpackEntries, type BatchStart } from './seal-batch';

// Seals the audit writer's batches off the main thread (see sealer.ts): hashing, assembling and
// encoding the lines. Keeps no state between batches: the writer sends where the chain stands.

/** One request: entries packed by `packEntries`, and where the batch starts. */
export interface SealRequest {
  id: number;
  packed: string;
  start: BatchStart;
}

const key = (workerData as { key?: Uint8Array } | undefined)?.key;
const hmacKey = key ? Buffer.from(key) : undefined;
parentPort?.on('message', ({ id, packed, start }: SealRequest) => {
  // Each batch has a buffer of its own (not Node's shared pool): transferred, not copied.
  const sealed = sealBatch(unpackEntries(packed), start, hmacKey);
  parentPort?.postMessage({ id, sealed }, [sealed.bytes.buffer as ArrayBuffer]);
});
