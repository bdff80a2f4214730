import type * as Cron from 'cron';
import { runOnce } from 'praxis-agent';

/**
 * The `cron` package (with luxon, its date library: a fifth of the agent's bundled dependencies),
 * loaded with the first cron expression: checks mostly run on intervals, and an agent whose checks
 * all do never loads it.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const loadCron = runOnce(() => require('cron') as typeof Cron);
