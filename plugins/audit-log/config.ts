import { durationSchema, eventPatternSchema, z } from 'praxis-agent';

/**
 * Event types audited by default: changes, errors, status transitions, the agent's lifecycle, and
 * the alerting engine's decisions (what was sent, to whom, and why something was not). Not
 * `alert.pending`: an alert waiting for its `for` is noisy and decides nothing yet.
 */
export const DEFAULT_AUDIT_TYPES: readonly string[] = [
  'config.changed',
  'system.error',
  'service.status',
  'agent.*',
  'alert.firing',
  'alert.resolved',
  'alert.notified',
  'alert.delivery',
  'alert.silenced',
  'alert.inhibited',
  'alert.muted',
  'alert.acknowledged',
  'silence.*',
];

export const auditLogConfigSchema = z
  .strictObject({
    path: z
      .string()
      .min(1)
      .default('audit/audit.log')
      .describe('The active audit file (absolute, or relative to the folder of the agent config file); rotated files sit next to it.'),
    types: z
      .array(eventPatternSchema)
      .min(1)
      .default([...DEFAULT_AUDIT_TYPES])
      .describe('Event types to record: exact types, "prefix.*" or "*".'),
    service_status: z
      .enum(['transitions', 'all'])
      .default('transitions')
      .describe('Which service.status events are recorded: only transitions (a status that differs from the last one of the same service and source, the first one per service, flapping changes) or all.'),
    fsync: z
      .enum(['every', 'interval', 'none'])
      .default('every')
      .describe('When written lines are forced to disk: after every batch, every fsync_interval, or when the OS decides.'),
    fsync_interval: durationSchema.default(1000).describe('With fsync: interval, how often written lines are forced to disk.'),
    seal_in_worker: z
      .union([z.boolean(), z.literal('on_demand')], { error: 'expected true, false or "on_demand"' })
      .default(false)
      .describe(
        'Where batches are sealed (SHA-256, line assembly): false: on the event loop; on_demand: there while the log is light, in a worker thread while it sustains 10,000 lines/s (stopped 30 s after), so an idle agent carries no worker; true: always in the worker. A worker pays only with a core to spare.',
      ),
    rotate: z
      .strictObject({
        max_bytes: z.number().int().nonnegative().default(10 * 1024 * 1024).describe('Rotate before the file would exceed this size in bytes; 0: never by size.'),
        interval: durationSchema.default(0).describe('Rotate when this period (aligned to the Unix epoch, UTC; 24h = at midnight UTC) ends; 0: never by time.'),
        retain: z.number().int().nonnegative().default(10).describe('Rotated files kept; older ones are deleted. 0: keep all.'),
      })
      .default({ max_bytes: 10 * 1024 * 1024, interval: 0, retain: 10 })
      .describe('Rotation by size and by time; the hash chain continues across files.'),
    queue_capacity: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe('Events held in memory while the file cannot be written; beyond it events are dropped and counted.'),
    retry: z
      .strictObject({
        initial: durationSchema.default(100).describe('First retry after a failed write.'),
        max: durationSchema.default(30_000).describe('Longest wait between retries (the wait doubles up to it).'),
      })
      .default({ initial: 100, max: 30_000 })
      .describe('Backoff while the file cannot be written.'),
    redact_keys: z
      .array(z.string().min(1))
      .default([])
      .describe('Key fragments whose values are redacted, in addition to the agent\'s redaction key names (password, pass, secret, token, auth, key, dsn, cookie, ...).'),
    hmac: z
      .strictObject({
        key_env: z.string().min(1).optional().describe('Environment variable holding the HMAC key.'),
        key_file: z.string().min(1).optional().describe('File holding the HMAC key (absolute, or relative to the folder of the agent config file; surrounding whitespace is trimmed).'),
      })
      .refine((h) => (h.key_env === undefined) !== (h.key_file === undefined), 'set exactly one of key_env and key_file')
      .optional()
      .describe('Sign every line with HMAC-SHA256 so the chain cannot be recomputed without the key (at least 16 bytes).'),
  })
  .describe('Appends matching events to a hash-chained, tamper-evident JSONL audit log.');

export type AuditLogConfig = z.output<typeof auditLogConfigSchema>;
