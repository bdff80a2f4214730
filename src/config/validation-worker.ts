import 'reflect-metadata';
import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage } from '../core/errors';
import { isConfigError, loadConfig } from './loader';
import type { WorkerVerdict } from './off-thread';

// Validates one config file off the main thread (see off-thread.ts) and posts the verdict.
const { file } = workerData as { file: string };
let verdict: WorkerVerdict;
try {
  loadConfig(file);
  verdict = { valid: true };
} catch (error) {
  verdict = isConfigError(error) ? { valid: false, problems: [...error.problems], omitted: error.omitted } : { valid: false, error: errorMessage(error) };
}
parentPort?.postMessage(verdict);
