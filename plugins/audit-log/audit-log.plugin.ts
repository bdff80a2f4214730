import {
  AgentControl,
  AgentError,
  Bus,
  Clock,
  errorMessage,
  EventRegistry,
  eventTypeMatcher,
  inject,
  injectable,
  LOGGER,
  PLUGIN_CONFIG,
  PLUGIN_NAME,
  type Event,
  type Logger,
  type Plugin,
} from 'praxis-agent';
import { AuditWriter, type AuditWriterHooks, type AuditWriterStats } from './audit-writer';
import type { AuditLogConfig } from './config';
import { AuditEntryBuilder } from './entry';
import { readKey } from './key';
import { OnDemandSealer, sealWorkerAvailable, WorkerSealer, type BatchSealer } from './sealer';
import { StatusTransitions } from './transitions';

/**
 * Records matching events in a hash-chained JSONL file (see record.ts for the line format and
 * README.md for durability and rotation). Problems with the file are reported as `system.error`,
 * once per failure episode; they never reach the bus or other plugins.
 */
@injectable()
export class AuditLogPlugin implements Plugin {
  private writer?: AuditWriter;
  /** The active file: `path` resolved against the agent config file's folder. */
  private readonly file: string;

  constructor(
    agent: AgentControl,
    private readonly bus: Bus,
    private readonly clock: Clock,
    private readonly registry: EventRegistry,
    @inject(PLUGIN_CONFIG) private readonly config: AuditLogConfig,
    @inject(LOGGER) private readonly logger: Logger,
    @inject(PLUGIN_NAME) private readonly name: string,
  ) {
    this.file = agent.resolvePath(config.path);
    const keyFile = config.hmac?.key_file;
    if (keyFile !== undefined) this.config = { ...config, hmac: { key_file: agent.resolvePath(keyFile) } };
  }

  async start(): Promise<void> {
    const { config } = this;
    const key = config.hmac ? readKey(config.hmac) : undefined;
    this.writer = new AuditWriter(
      {
        path: this.file,
        fsync: config.fsync,
        fsyncIntervalMs: config.fsync_interval,
        maxBytes: config.rotate.max_bytes,
        rotateIntervalMs: config.rotate.interval,
        retain: config.rotate.retain,
        queueCapacity: config.queue_capacity,
        retryInitialMs: Math.max(1, config.retry.initial),
        retryMaxMs: Math.max(1, config.retry.max),
        key,
        source: this.name,
        sealer: this.sealer(key),
      },
      this.clock,
      this.hooks(),
    );
    // One subscription to everything, matched here: lines follow publish order across types, an
    // event matching two patterns is written once, and types registered later (alerting) match.
    const matches = eventTypeMatcher(config.types);
    const unknown = config.types.filter((t) => t !== '*' && !t.endsWith('.*') && !this.registry.has(t));
    if (unknown.length > 0) this.logger.warn({ types: unknown }, `audit types not (yet) in the event catalogue: ${unknown.join(', ')}`);
    const writer = this.writer;
    const transitions = config.service_status === 'transitions' ? new StatusTransitions() : undefined;
    const entries = new AuditEntryBuilder(config.redact_keys);
    this.bus.subscribe(
      '*',
      (event) => {
        const e = event as Event;
        if (!matches(e.type)) return;
        if (transitions && e.type === 'service.status' && !transitions.accept(e)) return;
        return writer.enqueue(entries.build(e));
      },
      { name: 'audit', errorThreshold: 0 },
    );
    // Subscribed first, so what opening the file reports (a damaged file) is recorded too.
    await writer.start();
    this.logger.info({ file: this.file, types: config.types, fsync: config.fsync, hmac: key !== undefined }, 'audit log open');
  }

  async stop(): Promise<void> {
    await this.writer?.close();
  }

  stats(): AuditWriterStats {
    return (
      this.writer?.stats() ?? {
        file: this.file,
        lines_written: 0,
        bytes_written: 0,
        queued: 0,
        queue_capacity: this.config.queue_capacity,
        dropped: 0,
        write_errors: 0,
        rotations: 0,
        writes: 0,
        fsyncs: 0,
        last_seq: 0,
        failing: 0,
        file_breaks: 0,
      }
    );
  }

  /** Resolves once everything queued is written (or the writer is failing); for tests and tools. */
  async flushed(): Promise<void> {
    await this.writer?.flushed();
  }

  /** Off the event loop as `seal_in_worker` says, when the compiled worker exists (not when running from TypeScript sources). */
  private sealer(key: Buffer | undefined): BatchSealer | undefined {
    const mode = this.config.seal_in_worker;
    if (mode === false || !sealWorkerAvailable()) return undefined;
    const onFailure = (error: unknown): void =>
      this.report('warning', 'AUDIT_SEALER_FAILED', `audit log ${this.file}: the sealing worker failed (${describe(error)}); lines are sealed on the main thread from now on, none lost`, {
        file: this.file,
      });
    return mode === true ? new WorkerSealer({ key, onFailure }) : new OnDemandSealer({ key, onFailure, clock: this.clock });
  }

  private hooks(): AuditWriterHooks {
    const { file } = this;
    return {
      failed: ({ error, queued }) =>
        this.report('error', 'AUDIT_WRITE_FAILED', `audit log ${file} cannot be written (${describe(error)}); ${queued} event(s) queued, retrying with backoff`, {
          file,
          queued,
          capacity: this.config.queue_capacity,
          error_code: (error as NodeJS.ErrnoException).code,
        }),
      dropping: ({ queued, capacity }) =>
        this.report('critical', 'AUDIT_EVENTS_DROPPED', `audit queue full (${queued} of ${capacity}) while ${file} cannot be written: further events are dropped and counted until it can`, {
          file,
          queued,
          capacity,
        }),
      recovered: ({ down_ms, attempts, dropped, queued }) =>
        this.report(dropped > 0 ? 'warning' : 'info', 'AUDIT_WRITE_FAILED', `audit log ${file} is writable again after ${down_ms} ms and ${attempts} failed attempt(s); ${dropped} event(s) were dropped`, {
          file,
          recovered: true,
          down_ms,
          attempts,
          dropped,
          queued,
        }),
      damaged: ({ rotated_to, reason }) =>
        this.report('warning', 'AUDIT_LOG_DAMAGED', `audit log ${file}: ${reason}; kept as ${rotated_to}, writing continues in a new file`, { file, rotated_to }),
      fileBroken: (info) => {
        const lost = info.first_seq === null ? `records up to seq ${info.last_seq}` : `seq ${info.first_seq}-${info.last_seq}`;
        const what = {
          vanished: 'vanished (deleted or moved away)',
          replaced: `was replaced by another file (kept as ${info.kept_as ?? '-'})`,
          truncated: `was truncated behind the writer's back (kept as ${info.kept_as ?? '-'})`,
        }[info.reason];
        this.report('critical', FILE_BREAK_CODES[info.reason], `audit log ${file} ${what} while being written: ${lost} may be lost; a new file starts with an audit.file_break record that carries the chain on`, { ...info });
      },
      lost: ({ count, error }) => {
        // The bus is closing: the log is the only place left to say so.
        this.logger.error({ file, lost: count, err: describe(error) }, `audit log ${file} could not be written while stopping: ${count} event(s) lost`);
      },
    };
  }

  private report(severity: 'critical' | 'error' | 'warning' | 'info', code: string, message: string, diagnostic: Record<string, unknown>): void {
    const level = severity === 'info' ? 'info' : severity === 'warning' ? 'warn' : 'error';
    this.logger[level]({ error_code: code, ...diagnostic }, message);
    this.bus
      .publish('system.error', { severity, message, error_code: code, component: this.name, diagnostic_data: diagnostic })
      .catch((error: unknown) => this.logger.warn({ err: describe(error) }, 'could not publish an audit-log system.error'));
  }
}

/** The error code of each kind of file break. */
const FILE_BREAK_CODES = { vanished: 'AUDIT_FILE_VANISHED', replaced: 'AUDIT_FILE_REPLACED', truncated: 'AUDIT_FILE_TRUNCATED' } as const;

/** The message of what was thrown, with the code of an AgentError. */
function describe(error: unknown): string {
  return error instanceof AgentError ? `${error.code}: ${error.message}` : errorMessage(error);
}

