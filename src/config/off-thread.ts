import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AgentError } from '../core/errors';
import { ConfigError, loadConfig, type LoadedConfig } from './loader';
import type { ConfigProblem } from './problems';

/** What the validation worker answers. */
export type WorkerVerdict = { valid: true } | { valid: false; problems: ConfigProblem[]; omitted: number } | { valid: false; error: string };

/** The compiled worker; absent when running from TypeScript sources (tests), where validation stays on the main thread. */
const WORKER_FILE = path.join(__dirname, 'validation-worker.js');

/**
 * loadConfig for a running agent: the file is validated in a worker thread first, so a huge or
 * hostile file (tens of thousands of problems) keeps a worker busy, not the event loop that
 * answers /healthz. Only a file found valid is loaded again on the main thread, for the plugin
 * definitions the agent needs: a valid file is read twice, and its plugin modules are loaded in
 * the worker too (their top-level code runs there once per reload). Same result and errors as
 * loadConfig.
 * @throws ConfigError listing the problems (at most MAX_REPORTED_PROBLEMS, plus the count of the rest)
 */
export async function loadConfigOffThread(file: string): Promise<LoadedConfig> {
  if (!__filename.endsWith('.js') || !existsSync(WORKER_FILE)) return loadConfig(file);
  const verdict = await new Promise<WorkerVerdict>((resolve, reject) => {
    const worker = new Worker(WORKER_FILE, { workerData: { file } });
    worker.once('message', (message: WorkerVerdict) => resolve(message));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new AgentError('CONFIG_RELOAD_INVALID', `config validation worker exited (code ${code}) without an answer`)));
  });
  if (verdict.valid) return loadConfig(file);
  if ('error' in verdict) throw new AgentError('CONFIG_RELOAD_INVALID', verdict.error);
  throw new ConfigError(verdict.problems, verdict.omitted);
}
