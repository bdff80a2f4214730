import { DEFAULT_SECRET_KEY_PATTERNS, z } from 'praxis-agent';
import { formatOf } from './formats';

const formatSchema = z.enum(['yaml', 'json', 'env']).describe('yaml, json or env (KEY=value lines); default: from the file extension (.yaml/.yml, .json, .env/.env.*).');

const fileObjectSchema = z.strictObject({
  path: z.string().min(1).describe('The file to watch; relative paths are relative to the agent config file. Its folder is watched, so atomic replace (write + rename), deletion and re-creation are seen.'),
  format: formatSchema.optional(),
  changed_by: z.string().min(1).optional().describe('changed_by of this file\'s events (wins over the plugin-wide setting).'),
  change_reason: z.string().min(1).optional().describe('change_reason of this file\'s events when the file carries no annotation.'),
  reload_agent: z.boolean().default(false).describe('After this file changes, reload the agent (as SIGHUP does); set it on the agent\'s own config file.'),
});

/** A watched file: a path, or an object with per-file settings. */
const fileSchema = z
  .union([z.string().min(1), fileObjectSchema])
  .transform((entry) => (typeof entry === 'string' ? fileObjectSchema.parse({ path: entry }) : entry))
  .superRefine((entry, ctx) => {
    if (!entry.format && !formatOf(entry.path)) {
      ctx.addIssue({ code: 'custom', message: `cannot tell the format of "${entry.path}" from its name; set format: yaml, json or env` });
    }
  });

export const configWatcherConfigSchema = z
  .strictObject({
    files: z.array(fileSchema).default([]).describe('Files to watch: paths, or objects with path and per-file settings.'),
    watch_agent_config: z.boolean().default(false).describe("Also watch the agent's own config file and reload the agent when it changes (valid: changed plugins restart; invalid: the agent keeps its config and publishes system.error)."),
    debounce_ms: z.number().int().min(0).max(60_000).default(200).describe('Wait this long after the last file-system event before reading a file, so an editor\'s burst of writes is one change set.'),
    debounce_max_ms: z
      .number()
      .int()
      .min(0)
      .max(600_000)
      .default(2000)
      .describe('Read a file at the latest this long after the first event of a burst, even while events keep coming (a file written continuously still gets reported); at least debounce_ms; 0: no limit.'),
    array_diff: z.enum(['index', 'whole']).default('index').describe('index: arrays are compared item by item (list[2]); whole: a changed array is one change of the whole list.'),
    changed_by: z.string().min(1).optional().describe('changed_by of every event; default: the environment variable changed_by_env, else the file owner\'s user name.'),
    changed_by_env: z.string().min(1).default('DEPLOY_USER').describe('Environment variable naming who deploys (read when a change is seen), used when changed_by is not set.'),
    change_reason: z.string().min(1).optional().describe('change_reason when the file carries no annotation (a "# change-reason: ..." comment line or a top-level _change_reason key).'),
    secret_key_patterns: z
      .array(z.string().min(1))
      .default([...DEFAULT_SECRET_KEY_PATTERNS])
      .describe('A value whose key path contains one of these (case-insensitive) is published as "***" plus a short hash; credentials in URL values are always redacted.'),
    rewatch_interval_ms: z.number().int().min(10).default(1000).describe('How often to retry watching a folder that is missing or was removed.'),
  })
  .describe('Publishes config.changed for every changed key of the watched files.');

export type ConfigWatcherConfig = z.output<typeof configWatcherConfigSchema>;
export type WatchedFileConfig = ConfigWatcherConfig['files'][number];
