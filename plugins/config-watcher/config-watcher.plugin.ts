import { randomUUID } from 'node:crypto';
import { statSync, watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { AgentControl, Bus, Clock, inject, injectable, LOGGER, PLUGIN_CONFIG, type CancelTimer, type Logger, type Plugin } from 'praxis-agent';
import type { ConfigWatcherConfig, WatchedFileConfig } from './config';
import { diffDocuments, formatKeyPath, publishable } from './diff';
import { formatOf, parseText, type FileFormat } from './formats';
import { userNameOf } from './owner';

/** One watched file and what is known about it. */
interface WatchedFile {
  /** As configured: the `file` part of `config_path`. */
  display: string;
  absolute: string;
  format: FileFormat;
  settings: WatchedFileConfig;
  /** The last good document: what changes are measured against. */
  baseline: unknown;
  /** False until one version parsed (a file unparsable at start has no baseline yet). */
  hasBaseline: boolean;
  /** Content last processed; null: the file was missing. */
  lastText?: string | null;
  /** Content of the last parse failure reported, so one broken version yields one system.error. */
  lastFailure?: string;
  /** Last read error code reported (EACCES, EISDIR), reported once until it changes. */
  lastReadError?: string;
  timer?: CancelTimer;
  /** Epoch ms of the first file-system event of the burst being debounced (debounce_max_ms counts from it). */
  burstStart?: number;
  /** Checks run one after another per file. */
  work: Promise<void>;
}

/** A watched folder: one fs.watch for all the files in it. */
interface WatchedDir {
  dir: string;
  files: WatchedFile[];
  watcher?: FSWatcher;
  retry?: CancelTimer;
  /** The reason it cannot be watched, logged once until that changes. */
  problem?: string;
}

/**
 * Watches config files (YAML, JSON, .env) and publishes one `config.changed` per changed key.
 * Folders are watched rather than files, so an editor's or deploy tool's atomic replace (write a
 * temp file, rename it over the original), deletion and re-creation are all seen; a burst of
 * file-system events is debounced into one read. A file that does not parse yields one
 * `system.error` and its last good version stays the baseline.
 */
@injectable()
export class ConfigWatcherPlugin implements Plugin {
  private readonly dirs = new Map<string, WatchedDir>();
  private closed = false;
  private readonly counters = { fs_events: 0, change_sets: 0, changes_published: 0, parse_errors: 0, read_errors: 0, reloads_requested: 0 };

  constructor(
    private readonly bus: Bus,
    private readonly clock: Clock,
    private readonly agent: AgentControl,
    @inject(PLUGIN_CONFIG) private readonly config: ConfigWatcherConfig,
    @inject(LOGGER) private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    this.closed = false;
    const files = this.resolveFiles();
    for (const file of files) {
      const dir = path.dirname(file.absolute);
      let entry = this.dirs.get(dir);
      if (!entry) {
        entry = { dir, files: [] };
        this.dirs.set(dir, entry);
      }
      entry.files.push(file);
    }
    // Baselines first, so a change made right after start is measured against them.
    await Promise.all(files.map((file) => this.takeBaseline(file)));
    for (const dir of this.dirs.values()) this.watchDir(dir, false);
    // At info: which files a watcher follows is what one checks first when a change goes unnoticed.
    const folders = [...this.dirs.keys()];
    const reloads = files.filter((f) => f.settings.reload_agent).map((f) => f.display);
    this.logger.info(
      { files: files.map((f) => f.display), folders, reload_agent: reloads },
      `watching ${files.length} file${files.length === 1 ? '' : 's'} (${files.map((f) => f.display).join(', ') || 'none'}) in ${folders.length} folder${folders.length === 1 ? '' : 's'} (${folders.join(', ') || 'none'})`,
    );
  }

  async stop(): Promise<void> {
    this.closed = true;
    const pending: Promise<void>[] = [];
    for (const dir of this.dirs.values()) {
      dir.watcher?.close();
      dir.watcher = undefined;
      dir.retry?.();
      for (const file of dir.files) {
        file.timer?.();
        pending.push(file.work);
      }
    }
    this.dirs.clear();
    await Promise.all(pending);
  }

  stats(): Record<string, unknown> {
    const files = [...this.dirs.values()].flatMap((d) => d.files);
    return { files_watched: files.length, folders_watched: [...this.dirs.values()].filter((d) => d.watcher).length, ...this.counters };
  }

  private resolveFiles(): WatchedFile[] {
    const agentFile = this.agent.configFile;
    const base = agentFile ? path.dirname(agentFile) : process.cwd();
    const settings = [...this.config.files];
    if (this.config.watch_agent_config) {
      if (agentFile) settings.push({ path: agentFile, format: 'yaml', reload_agent: true });
      else this.logger.warn('watch_agent_config is set but there is no agent config file to watch');
    }
    const seen = new Set<string>();
    const files: WatchedFile[] = [];
    for (const s of settings) {
      const absolute = path.resolve(base, s.path);
      if (seen.has(absolute)) {
        this.logger.warn({ file: s.path }, 'file listed twice; watching it once');
        continue;
      }
      seen.add(absolute);
      const display = s.path === agentFile ? displayOf(agentFile) : s.path;
      files.push({ display, absolute, format: s.format ?? formatOf(s.path) ?? 'yaml', settings: s, baseline: {}, hasBaseline: false, work: Promise.resolve() });
    }
    return files;
  }

  /** Watches a folder; when it is missing (or goes away) tries again every rewatch_interval_ms. */
  private watchDir(dir: WatchedDir, recheck: boolean): void {
    if (this.closed) return;
    try {
      const watcher = watch(dir.dir, { persistent: false }, (event, filename) => this.onFsEvent(dir, event, filename === null ? null : String(filename)));
      watcher.on('error', (error) => {
        this.logger.warn({ dir: dir.dir, err: error }, 'folder watch failed; watching again when it is back');
        watcher.close();
        if (dir.watcher === watcher) dir.watcher = undefined;
        this.retryWatch(dir);
      });
      dir.watcher = watcher;
      if (dir.problem) this.logger.info({ dir: dir.dir }, `watching ${dir.dir} again`);
      dir.problem = undefined;
      // Whatever happened while the folder was not watched is found by reading the files again.
      if (recheck) for (const file of dir.files) this.schedule(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      if (dir.problem !== code) this.logger.warn({ dir: dir.dir, code }, `cannot watch ${dir.dir} (${code}); retrying every ${this.config.rewatch_interval_ms} ms`);
      dir.problem = code;
      this.retryWatch(dir);
    }
  }

  private retryWatch(dir: WatchedDir): void {
    if (this.closed) return;
    dir.retry?.();
    dir.retry = this.clock.setTimeout(() => {
      dir.retry = undefined;
      this.watchDir(dir, true);
    }, this.config.rewatch_interval_ms);
  }

  private onFsEvent(dir: WatchedDir, event: string, filename: string | null): void {
    if (this.closed) return;
    this.counters.fs_events++;
    for (const file of dir.files) {
      // Kubernetes ConfigMap volumes swap a `..data` symlink instead of touching the file itself.
      if (filename === null || filename === path.basename(file.absolute) || filename.startsWith('..')) this.schedule(file);
    }
    // The folder itself was removed or renamed: fs.watch stops reporting; watch it again when it is back.
    if (event === 'rename' && dir.watcher && !existsDir(dir.dir)) {
      dir.watcher.close();
      dir.watcher = undefined;
      this.retryWatch(dir);
    }
  }

  /**
   * (Re)starts the file's debounce timer: the file is read once events stop for debounce_ms, or
   * debounce_max_ms after the burst began, whichever comes first (a file written continuously
   * never goes quiet).
   */
  private schedule(file: WatchedFile): void {
    const now = this.clock.now();
    if (file.timer === undefined) file.burstStart = now;
    file.timer?.();
    const { debounce_ms: wait, debounce_max_ms: maxWait } = this.config;
    // A cap below debounce_ms would shorten every quiet wait: it counts as debounce_ms then.
    const delay = maxWait > 0 ? Math.min(wait, Math.max(0, (file.burstStart ?? now) + Math.max(maxWait, wait) - now)) : wait;
    file.timer = this.clock.setTimeout(() => {
      file.timer = undefined;
      file.burstStart = undefined;
      file.work = file.work.then(() => this.check(file)).catch((error: unknown) => this.logger.error({ err: error, file: file.display }, 'config check failed'));
    }, delay);
  }

  private async takeBaseline(file: WatchedFile): Promise<void> {
    const text = await this.read(file);
    if (text === undefined) return;
    file.lastText = text;
    const parsed = parseText(text ?? '', file.format);
    if (parsed.ok) {
      file.baseline = parsed.document;
      file.hasBaseline = true;
    } else {
      await this.reportParseFailure(file, text ?? '', parsed);
    }
  }

  /** Reads the file, diffs it against the baseline and publishes the changes. */
  private async check(file: WatchedFile): Promise<void> {
    if (this.closed) return;
    const text = await this.read(file);
    if (text === undefined || text === file.lastText || this.closed) return;
    file.lastText = text;
    if (text === null) this.logger.warn({ file: file.display }, 'watched file was deleted; its keys are reported as removed');
    // A missing file is an empty document: deleting it removes every key, re-creating it adds them.
    const parsed = text === null ? ({ ok: true, document: {} } as const) : parseText(text, file.format);
    if (!parsed.ok) {
      await this.reportParseFailure(file, text ?? '', parsed);
      this.reloadAgent(file);
      return;
    }
    file.lastFailure = undefined;
    if (!file.hasBaseline) {
      file.baseline = parsed.document;
      file.hasBaseline = true;
      this.logger.info({ file: file.display }, 'file parses again; this version is the baseline');
      this.reloadAgent(file);
      return;
    }
    const changes = diffDocuments(file.baseline, parsed.document, this.config.array_diff);
    file.baseline = parsed.document;
    if (changes.length === 0) return;
    this.counters.change_sets++;
    const changedBy = await this.changedBy(file);
    const reason = ('reason' in parsed ? parsed.reason : undefined) ?? file.settings.change_reason ?? this.config.change_reason;
    // One correlation id per change set: consumers can group the keys changed together.
    const correlation_id = randomUUID();
    const patterns = this.config.secret_key_patterns;
    for (const change of changes) {
      if (this.closed) return;
      await this.bus.publish(
        'config.changed',
        {
          config_path: `${file.display}#${formatKeyPath(change.path)}`,
          old_value: publishable(change.path, change.old, patterns),
          new_value: publishable(change.path, change.new, patterns),
          ...(changedBy !== undefined && { changed_by: changedBy }),
          ...(reason !== undefined && { change_reason: reason }),
        },
        { correlation_id },
      );
      this.counters.changes_published++;
    }
    this.logger.info({ file: file.display, changes: changes.length, correlation_id }, `${file.display}: ${changes.length} key${changes.length === 1 ? '' : 's'} changed`);
    this.reloadAgent(file);
  }

  /** The file's text, null when it does not exist, undefined after a read error (reported once). */
  private async read(file: WatchedFile): Promise<string | null | undefined> {
    try {
      const text = await readFile(file.absolute, 'utf8');
      file.lastReadError = undefined;
      return text;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
      if (code === 'ENOENT') return null;
      if (file.lastReadError !== code && !this.closed) {
        file.lastReadError = code;
        this.counters.read_errors++;
        await this.bus.publish('system.error', {
          severity: 'warning',
          message: `${file.display}: cannot read (${code}); changes are not tracked until it can be read again`,
          error_code: 'CONFIG_WATCH_READ',
          component: 'config-watcher',
          diagnostic_data: { file: file.display, code },
        });
      }
      return undefined;
    }
  }

  private async reportParseFailure(file: WatchedFile, text: string, failure: { line: number; column: number; message: string }): Promise<void> {
    if (file.lastFailure === text || this.closed) return;
    this.counters.parse_errors++;
    file.lastFailure = text;
    const where = `${file.display}:${failure.line}:${failure.column}`;
    const kept = file.hasBaseline ? 'the last good version stays the baseline' : 'no good version seen yet';
    this.logger.warn({ file: file.display, line: failure.line, column: failure.column }, `${where}: ${failure.message} (${kept})`);
    await this.bus.publish('system.error', {
      severity: 'warning',
      message: `${where}: cannot parse ${file.format}: ${failure.message}; ${kept}`,
      error_code: 'CONFIG_WATCH_PARSE',
      component: 'config-watcher',
      diagnostic_data: { file: file.display, line: failure.line, column: failure.column, format: file.format },
    });
  }

  /** changed_by: per-file setting, plugin setting, the deploy-user variable, else the file owner. */
  private async changedBy(file: WatchedFile): Promise<string | undefined> {
    const configured = file.settings.changed_by ?? this.config.changed_by ?? process.env[this.config.changed_by_env];
    if (configured) return configured;
    try {
      return userNameOf((await stat(file.absolute)).uid);
    } catch {
      return undefined; // deleted: no owner
    }
  }

  /**
   * Asks the agent to reload; not awaited, since the reload may restart this very plugin. The agent
   * logs the outcome (its reason names this plugin and the file), so nothing is logged here.
   */
  private reloadAgent(file: WatchedFile): void {
    if (!file.settings.reload_agent || this.closed) return;
    this.counters.reloads_requested++;
    void this.agent.reload(`config-watcher: ${file.display} changed`);
  }
}

/** The agent's config file as shown in config_path: relative to the working directory when inside it. */
function displayOf(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

function existsDir(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
