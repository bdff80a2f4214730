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
// A fresh buffer per batch (not Node's shared pool), so it can be transferred, not copied.
const encoder = new TextEncoder();

parentPort?.on('message', ({ id, packed, start }: SealRequest) => {
  const sealed = sealBatch(unpackEntries(packed), start, hmacKey, (text) => encoder.encode(text));
  parentPort?.postMessage({ id, sealed }, [sealed.bytes.buffer as ArrayBuffer]);
});
