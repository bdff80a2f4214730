import 'reflect-metadata';
import path from 'node:path';
import { container as globalContainer, type DependencyContainer } from 'tsyringe';
import { Bus } from '../bus/bus';
import { EventBus } from '../bus/event-bus';
import { Clock, SystemClock } from '../core/clock';
import { AgentError, errorMessage } from '../core/errors';
import { createLogger, type Logger } from '../core/logger';
import { runOnce, settledWithin } from '../core/timed';
import { LogRateLimiter } from '../core/log-rate-limit';
import { isConfigError, type LoadedConfig, type LoadedPlugin } from '../config/loader';
import { loadConfigOffThread } from '../config/off-thread';
import { SecretValues } from '../config/secret-values';
import { EventRegistry } from '../events/registry';
import type { Event } from '../events/types';
import { AdminServer } from '../http/admin-server';
import { PluginHost, STOP_FLOOR_MS, type PluginStatus, type StopReport } from '../plugin/plugin-host';
import { classToken } from '../plugin/tokens';
import { EVENT_STORE, EventStore } from '../store/event-store';
import { mountDashboard } from '../http/dashboard';
import { eventsRoute } from '../store/events-route';
import type { SqliteEventStore } from '../store/sqlite-event-store';
import { sendJson } from '../http/reply';
import { stringify } from 'yaml';
import { maskAlertmanagerSecrets } from '../alerting/config';
import type { AlertingEngine } from '../alerting/engine';
import { isNotifier, type Notifier } from '../alerting/notifier';
import { ALERTING_STATE } from '../alerting/replica';
import { DEFAULT_SINK_SETTINGS, type SinkSettings } from '../alerting/delivery';
import { fleetAgentId } from '../fleet/agent-id';
import { AgentControl, emptyReloadResult, type ReloadResult } from './agent-control';
import { ErrorCodeCounts } from './error-counts';
import { describeReload, effectiveConfig, planReload, reloadHttpStatus, specOf } from './reload';
import { AGENT_VERSION } from './version';
import { IngestDedup } from '../http/ingest-dedup';
import { AgentFleetInbox } from '../fleet/agent-fleet-inbox';
import { FleetInbox } from '../fleet/fleet-inbox';

export interface AgentOptions {
  /** Defaults to the system clock. */
  clock?: Clock;
  /** Defaults to a logger built from the config's `log` section. */
  logger?: Logger;
}

/** Exit codes of `praxis-agent start`, documented in the README. */
export const EXIT = { OK: 0, FAILURE: 1, CONFIG: 2, SHUTDOWN_INCOMPLETE: 3 } as const;

/** Lifecycle events the agent logs as they pass over the bus. */
const LIFECYCLE_PATTERNS = ['agent.starting', 'agent.started', 'agent.stopping', 'agent.stopped', 'system.shutdown'] as const;

/**
 * The agent: one container, one bus, the admin HTTP server and the configured plugins, with the
 * start-up and shutdown sequences the README documents.
 */
export class Agent {
  readonly bus: EventBus;
  readonly host: PluginHost;
  readonly logger: Logger;
  readonly container: DependencyContainer;
  private readonly clock: Clock;
  private readonly admin?: AdminServer;
  private readonly errorCounts: ErrorCodeCounts;
  /** The durable event store, when `store.enabled`: opened before plugins start, closed after the bus drained. */
  readonly store?: SqliteEventStore;
  /** The alerting engine, when the config has an `alerting:` section. */
  readonly alerting?: AlertingEngine;
  /** Where events of other agents enter the bus (fleet mode, the nats plugin's aggregator role). */
  readonly fleetInbox: AgentFleetInbox;
  private startedAt = 0;
  /** Which plugins failed or overran `shutdown_timeout` in the last shutdown (set once stop() finished). */
  shutdownReport?: StopReport;
  /** Why the agent stops: set by the first stop() call. */
  private stopReason: { reason: string; signal?: string } = { reason: 'requested' };
  private readonly shutdownOnce = runOnce(() =>
    this.reloading.then(() => this.shutdown(this.stopReason.reason, this.stopReason.signal)).then((code) => {
      this.resolveStopped(code);
      return code;
    }),
  );
  /** The config running now (plugin entries follow reloads; core sections stay as started). */
  private current: LoadedConfig;
  /** The reload in progress (reloads run one at a time; shutdown waits for it). */
  private reloading: Promise<unknown> = Promise.resolve();
  private resolveStopped!: (code: number) => void;
  /** Resolves the exit code once a stop (from any caller) has finished. */
  readonly stopped = new Promise<number>((resolve) => {
    this.resolveStopped = resolve;
  });

  constructor(loaded: LoadedConfig, options: AgentOptions = {}) {
    this.current = loaded;
    const { config } = loaded;
    this.clock = options.clock ?? new SystemClock();
    this.logger = options.logger ?? createLogger(config.log);
    const registry = new EventRegistry();
    this.bus = new EventBus(registry, this.clock, config.bus);
    this.container = globalContainer.createChildContainer();
    this.container.register(classToken(Clock), { useValue: this.clock });
    this.container.register(EventRegistry, { useValue: registry });
    this.container.register(EventBus, { useValue: this.bus });
    this.container.register(classToken(Bus), { useValue: this.bus });
    if (config.store?.enabled) {
      const { data_dir, ...storeOptions } = config.store;
      // Loaded only when enabled: better-sqlite3 costs ~4 MiB RSS and ~13 ms at start-up (npm run bench, startup).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { SqliteEventStore } = require('../store/sqlite-event-store') as typeof import('../store/sqlite-event-store');
      this.store = new SqliteEventStore({ ...storeOptions, dir: path.resolve(loaded.baseDir, data_dir) }, this.clock, this.logger.child({ component: 'store' }));
      this.container.register(classToken(EventStore), { useValue: this.store });
      this.container.register(EVENT_STORE, { useValue: this.store });
      this.store.attach(this.bus);
    }
    // One memory of the event ids this agent has, for ingest retries and fleet redeliveries alike.
    const dedup = new IngestDedup(this.clock, this.store);
    this.fleetInbox = new AgentFleetInbox({ agentId: fleetAgentId(this.name), bus: this.bus, dedup, clock: this.clock, logger: this.logger.child({ component: 'fleet' }), ...(this.store ? { store: this.store } : {}) });
    this.container.register(classToken(FleetInbox), { useValue: this.fleetInbox });
    if (config.http.enabled) {
      this.admin = new AdminServer(config.http, {
        dedup,
        bus: this.bus,
        logger: this.logger.child({ component: 'http' }),
        plugins: () => this.host.statuses(),
        ready: () => this.host.ready && this.startedAt > 0 && !this.shutdownOnce.called,
        ...(this.store ? { store: this.store } : {}),
        agentName: this.name,
        clock: this.clock,
        stats: () => this.stats(),
        // The store is a core component, but its counters belong on /metrics like a plugin's.
        componentStats: () => ({
          ...(this.store ? { store: { ...this.store.stats() } } : {}),
          ...(this.alerting ? { alerting: this.alerting.stats() } : {}),
          ...this.host.componentStats(),
        }),
      });
    }
    if (this.store) this.admin?.addRoute('GET', '/events', eventsRoute(this.store), { auth: true });
    if (this.admin && config.http.dashboard) mountDashboard(this.admin);
    if (loaded.alerting && config.alerting) {
      // Loaded only when configured, like the store.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { AlertingEngine } = require('../alerting/engine') as typeof import('../alerting/engine');
      this.alerting = new AlertingEngine({
        section: config.alerting,
        config: loaded.alerting,
        configText: this.secrets.mask(stringify(maskAlertmanagerSecrets(loaded.alertingSource ?? {}))),
        bus: this.bus,
        clock: this.clock,
        logger: this.logger.child({ component: 'alerting' }),
        notifier: (sink) => this.notifier(sink),
        sinkSettings: (sink) => this.sinkSettings(sink),
        source: this.name,
        agentId: fleetAgentId(this.name),
        ...(config.store?.enabled && { persistIntervalMs: config.store.commit_interval }),
      });
      // For a plugin that replicates the alerting state to other agents (the nats aggregators).
      this.container.register(ALERTING_STATE, { useValue: this.alerting.replication() });
      if (this.admin) {
        // Alertmanager's API v2 (amtool, Prometheus) and the agent's own /alerts routes.
        /* eslint-disable @typescript-eslint/no-require-imports */
        const { mountAlertmanagerApi } = require('../alerting/api-v2') as typeof import('../alerting/api-v2');
        const { mountAlertRoutes } = require('../alerting/alerts-routes') as typeof import('../alerting/alerts-routes');
        /* eslint-enable @typescript-eslint/no-require-imports */
        mountAlertmanagerApi(this.admin, this.alerting, { version: AGENT_VERSION, bodyLimit: config.http.body_limit });
        mountAlertRoutes(this.admin, this.alerting, { clock: this.clock, bodyLimit: config.http.body_limit });
      }
    }
    this.container.register(classToken(AgentControl), { useValue: new AgentControlOf(this) });
    this.admin?.addRoute('POST', '/-/reload', async (req, res) => {
      req.resume();
      const result = await this.reload('POST /-/reload');
      sendJson(res, reloadHttpStatus(result.status), result);
    });
    this.host = new PluginHost(this.container, this.bus, this.logger, this.clock, this.admin);
    this.host.add(loaded.plugins.map(specOf));
    this.errorCounts = new ErrorCodeCounts(this.host.errorCodes);
    this.logLifecycle();
  }

  /** The config the agent runs on: as loaded at start, with plugin entries as of the last reload. */
  get loaded(): LoadedConfig {
    return this.current;
  }

  get name(): string {
    return this.loaded.config.agent.name;
  }

  /** Values of the running config that came from secrets, masked wherever the agent reports a value. */
  private get secrets(): SecretValues {
    return this.loaded.secrets ?? SecretValues.none;
  }

  /** Base URL of the admin HTTP server once started. */
  get adminUrl(): string | undefined {
    return this.admin?.url;
  }

  /**
   * Publishes agent.starting, starts the admin server and every plugin, then agent.started.
   * On failure everything started is stopped again and the error (PLUGIN_START_FAILED,
   * HTTP_LISTEN_FAILED) is thrown.
   */
  async start(): Promise<void> {
    const begun = this.clock.now();
    const source = { source: this.name };
    this.store?.open();
    await this.bus.publish('agent.starting', { agent_name: this.name, version: AGENT_VERSION, pid: process.pid, config_path: this.loaded.file }, source);
    try {
      this.checkSinks();
      // Before the plugins, so that their first events can become alerts.
      this.startAlerting();
      await this.admin?.start();
      await this.host.startAll(this.loaded.config.agent.shutdown_timeout);
      this.alerting?.startDelivery();
    } catch (failure) {
      // A listen error names http.host, a plugin's error may quote its config: neither may show a secret.
      const error = this.secrets.maskError(failure);
      await this.bus.publish('agent.error', {
        severity: 'critical',
        message: errorMessage(error),
        error_code: error instanceof AgentError ? error.code : 'PLUGIN_START_FAILED',
        component: 'agent',
      }, source);
      this.alerting?.stop();
      await this.bus.idle();
      await this.admin?.stop();
      this.store?.close();
      throw error;
    }
    this.startedAt = this.clock.now();
    // The bound address is http.host, which may have come from a secret file.
    const url = this.admin?.url === undefined ? undefined : this.secrets.mask(this.admin.url);
    await this.bus.publish('agent.started', {
      agent_name: this.name,
      version: AGENT_VERSION,
      plugins: this.host.running(),
      ...(url ? { admin_url: url } : {}),
      startup_ms: this.startedAt - begun,
    }, source);
    await this.bus.idle();
    this.logger.info({ admin_url: url, plugins: this.host.running() }, `praxis-agent ready${url ? ` on ${url}` : ''}`);
  }

  /**
   * Graceful shutdown: agent.stopping, system.shutdown, deliver what is queued, stop plugins in
   * reverse order within `agent.shutdown_timeout`, stop the admin server, agent.stopped, drain.
   * Resolves the process exit code; calling it again returns the same promise.
   */
  stop(reason = 'requested', signal?: string): Promise<number> {
    if (!this.shutdownOnce.called) this.stopReason = { reason, ...(signal ? { signal } : {}) };
    return this.shutdownOnce();
  }

  /**
   * Hot reload (SIGHUP, `POST /-/reload`, config-watcher): re-reads the config file with the one
   * loader. Invalid: nothing changes, `system.error` (component `config`) lists every problem as
   * FILE:LINE:COL. Valid: removed plugins stop, added ones start, changed ones (use, config,
   * queue, depends_on, enabled) restart with the new entry without losing queued events, the rest
   * keep running untouched; changed core sections are reported as needing a restart. A plugin
   * that fails to start with its new entry goes back to its previous one (events queued for it
   * at that moment are dropped by the host). Reloads run one at a time; never rejects.
   */
  reload(reason = 'requested'): Promise<ReloadResult> {
    const run = this.reloading.then(() => this.applyReload(reason));
    this.reloading = run.catch(() => undefined);
    return run.catch((error: unknown) => {
      this.logger.error({ err: error, reason }, `config reload failed: ${errorMessage(error)}`);
      return emptyReloadResult('unavailable', reason, `reload failed: ${errorMessage(error)}`);
    });
  }

  private async applyReload(reason: string): Promise<ReloadResult> {
    if (this.shutdownOnce.called || this.startedAt === 0) {
      return emptyReloadResult('unavailable', reason, this.shutdownOnce.called ? 'the agent is stopping; nothing was reloaded' : 'the agent has not started yet; nothing was reloaded');
    }
    const running = this.current;
    const source = { source: this.name };
    let next: LoadedConfig;
    try {
      // Off the main thread: validating a huge file must not stall the admin server meanwhile.
      next = await loadConfigOffThread(running.file);
    } catch (error) {
      // At most MAX_REPORTED_PROBLEMS lines, the last one counting the rest.
      const problems = isConfigError(error) ? error.lines() : [errorMessage(error)];
      const count = isConfigError(error) ? error.problems.length + error.omitted : 1;
      const result = { ...emptyReloadResult('invalid', reason, ''), file: running.file, problems };
      result.message = `config reload (${reason}) rejected: ${count} problem${count === 1 ? '' : 's'} in ${running.file}; still running the previous config`;
      this.logger.error({ reason, file: running.file, problems }, result.message);
      await this.bus
        .publish('system.error', { severity: 'error', message: result.message, error_code: 'CONFIG_RELOAD_INVALID', component: 'config', diagnostic_data: { file: running.file, reason, problems } }, source)
        .catch(() => undefined);
      return result;
    }
    const plan = planReload(running, next, (name) => this.host.stateOf(name) === 'running');
    const result: ReloadResult = { ...emptyReloadResult('unchanged', reason, ''), file: running.file, restart_required: plan.restartRequired };
    const timeout = running.config.agent.shutdown_timeout;
    const countDiscarded = (name: string, discarded: number): void => {
      if (discarded > 0) result.discarded = { ...result.discarded, [name]: (result.discarded?.[name] ?? 0) + discarded };
    };
    for (const name of plan.stop) {
      countDiscarded(name, (await this.host.remove(name, timeout)).discarded);
      result.stopped.push(name);
    }
    const rolledBack = new Set<string>();
    for (const { action, plugin } of plan.steps) {
      const name = plugin.entry.name;
      const wasRunning = this.host.stateOf(name) === 'running';
      try {
        if (action === 'start') await this.host.addAndStart(specOf(plugin));
        else if (action === 'restart') countDiscarded(name, (await this.host.restart(specOf(plugin), timeout)).discarded);
        (action === 'start' ? result.started : action === 'restart' ? result.restarted : result.unchanged).push(name);
      } catch (error) {
        // A plugin that ran before goes back to its previous entry rather than staying down.
        const previous = action === 'restart' && wasRunning ? running.plugins.find((p) => p.entry.name === name) : undefined;
        const rolled_back = previous !== undefined && (await this.rollBack(previous, timeout));
        if (rolled_back) rolledBack.add(name);
        // The host's PLUGIN_START_FAILED already reads "plugin X (use) failed to start: why"; the answer names the plugin itself.
        const why = error instanceof AgentError && error.code === 'PLUGIN_START_FAILED' && error.cause !== undefined ? errorMessage(error.cause) : errorMessage(error);
        result.failed.push({ plugin: name, error: why, ...(previous ? { rolled_back } : {}) });
        const message = `${errorMessage(error)}${rolled_back ? `; ${name} keeps running on its previous entry` : ''}`;
        await this.bus
          .publish('system.error', { severity: 'error', message, error_code: 'PLUGIN_START_FAILED', component: name, diagnostic_data: { reason, file: running.file, ...(previous ? { rolled_back } : {}) } }, source)
          .catch(() => undefined);
      }
    }
    this.host.reorder(next.plugins.map((p) => p.entry.name));
    this.current = effectiveConfig(running, next, rolledBack);
    const changed = result.restarted.length + result.started.length + result.stopped.length;
    result.status = result.failed.length > 0 ? 'partial' : changed > 0 ? 'applied' : 'unchanged';
    result.message = describeReload(result);
    const summary = { reason, restarted: result.restarted, started: result.started, stopped: result.stopped, failed: result.failed, discarded: result.discarded, restart_required: result.restart_required };
    this.logger[result.status === 'partial' ? 'error' : 'info'](summary, result.message);
    if (result.restart_required.length > 0) {
      this.logger.warn({ sections: result.restart_required }, `config sections changed that apply only after a restart of the agent: ${result.restart_required.join(', ')}`);
    }
    return result;
  }

  /** Starts a plugin again on the entry it ran with before a failed restart; false when that fails too. */
  private async rollBack(previous: LoadedPlugin, timeout: number): Promise<boolean> {
    const name = previous.entry.name;
    try {
      await this.host.restart(specOf(previous), timeout);
      this.logger.warn({ plugin: name }, `plugin ${name} failed to start with its new entry; rolled back to its previous entry`);
      return true;
    } catch (error) {
      this.logger.error({ plugin: name, err: error }, `plugin ${name} failed to start with its new entry, and with its previous one: it stays failed until the next reload`);
      return false;
    }
  }

  private startAlerting(): void {
    if (!this.alerting) return;
    if (!this.store) return this.alerting.start();
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { AlertingStateStore } = require('../alerting/state-store') as typeof import('../alerting/state-store');
    const { SqliteOutboxStore } = require('../alerting/outbox-store') as typeof import('../alerting/outbox-store');
    /* eslint-enable @typescript-eslint/no-require-imports */
    const db = this.store.database();
    this.alerting.start({ state: new AlertingStateStore(db, this.clock), outbox: new SqliteOutboxStore(db) });
  }

  /** A sink's delivery settings: the core's defaults, its plugin's, then its entry's `delivery:`. */
  private sinkSettings(sink: string): SinkSettings {
    const plugin = this.loaded.plugins.find((p) => p.entry.name === sink);
    return { ...DEFAULT_SINK_SETTINGS, ...plugin?.resolved.definition.sink?.delivery, ...plugin?.entry.delivery };
  }

  /** The running sink plugin of that name, when it implements the notifier contract. */
  private notifier(sink: string): Notifier | undefined {
    if (this.host.stateOf(sink) !== 'running') return undefined;
    const instance = this.host.instanceOf(sink);
    return isNotifier(instance) ? instance : undefined;
  }

  /**
   * Every sink a receiver names is a plugin implementing the notifier contract; ALERTING_SINK_INVALID
   * otherwise. Checked on the instances before they start (creating one has no side effects).
   */
  private checkSinks(): void {
    for (const receiver of this.loaded.alerting?.receivers ?? []) {
      for (const sink of receiver.sinks) {
        if (isNotifier(this.host.instanceOf(sink))) continue;
        const use = this.loaded.plugins.find((p) => p.entry.name === sink)?.entry.use;
        throw new AgentError('ALERTING_SINK_INVALID', `receiver "${receiver.name}" names sink "${sink}" (use: ${use}), which is not a sink: its plugin does not implement the notifier contract, send(notification, signal)`, { receiver: receiver.name, sink });
      }
    }
  }

  stats(): Record<string, unknown> {
    const memory = process.memoryUsage();
    return {
      agent: { name: this.name, version: AGENT_VERSION, pid: process.pid, uptime_ms: this.startedAt ? this.clock.now() - this.startedAt : 0 },
      bus: this.bus.stats(),
      ...(this.store ? { store: this.store.stats() } : {}),
      ...(this.alerting ? { alerting: this.alerting.stats() } : {}),
      plugins: this.host.statuses(),
      // Events queued for a plugin that it could not be given before it stopped (reload or shutdown ran out of time).
      plugins_discarded_events: this.host.discardedEvents(),
      components: this.host.componentStats(),
      error_codes: this.errorCounts.stats(),
      process: { rss_bytes: memory.rss, heap_used_bytes: memory.heapUsed },
    };
  }

  pluginStatuses(): PluginStatus[] {
    return this.host.statuses();
  }

  private async shutdown(reason: string, signal?: string): Promise<number> {
    const timeout = this.loaded.config.agent.shutdown_timeout;
    const source = { source: this.name };
    await this.bus.publish('agent.stopping', { reason, ...(signal ? { signal } : {}) }, source);
    await this.bus.publish('system.shutdown', { reason, grace_period_ms: timeout, ...(signal ? { signal } : {}) }, source);
    // Everything queued is delivered first (plugins' handlers may publish to each other), but a
    // handler that never returns must not keep the agent from exiting: then each plugin's own drain
    // in stopAll gets its share of the deadline and counts what it has to discard.
    // One deadline for all of it: delivering what is queued and stopping the plugins.
    const deadline = this.clock.now() + timeout;
    if (!(await settledWithin(this.clock, this.bus.idle(), timeout))) {
      this.logger.warn({ shutdown_timeout_ms: timeout, queued: this.bus.stats().queued }, 'events still queued when shutdown_timeout ran out; plugins stop anyway');
    }
    // Before the sinks stop: deliveries still being tried are given up and counted (logged).
    this.alerting?.stop();
    const report = await this.host.stopAll(Math.max(deadline - this.clock.now(), Math.min(STOP_FLOOR_MS, timeout)));
    this.shutdownReport = report;
    await this.admin?.stop();
    const failed = [...report.failed, ...report.timedOut];
    const exitCode = failed.length > 0 ? EXIT.SHUTDOWN_INCOMPLETE : EXIT.OK;
    if (report.timedOut.length > 0) {
      this.logger.error({ plugins: report.timedOut, shutdown_timeout_ms: timeout, code: 'PLUGIN_STOP_TIMEOUT' }, `plugins did not stop within shutdown_timeout: ${report.timedOut.join(', ')}`);
    }
    await this.bus.publish('agent.stopped', {
      reason,
      uptime_ms: this.startedAt ? this.clock.now() - this.startedAt : 0,
      exit_code: exitCode,
      failed_plugins: failed,
    }, source);
    await this.bus.drain();
    this.store?.close();
    return exitCode;
  }

  private logLifecycle(): void {
    const log = (event: Event): void => {
      this.logger.info({ event: event.type, event_id: event.metadata.event_id, data: event.data }, event.type);
    };
    for (const pattern of LIFECYCLE_PATTERNS) this.bus.subscribe(pattern, log, { name: 'lifecycle-log' });
    const countErrors = { name: 'error-codes', overflow: 'drop_oldest', errorThreshold: 0 } as const;
    this.bus.subscribe('system.error', (event) => this.errorCounts.count(event), countErrors);
    this.bus.subscribe('agent.error', (event) => this.errorCounts.count(event), countErrors);
    const errorLogLimit = new LogRateLimiter(this.clock);
    this.bus.subscribe(
      'agent.error',
      (event) => {
        // A plugin's failing handler is reported with the plugin as component: its log line carries
        // the `plugin` key like every other line about that plugin.
        const suppressed = errorLogLimit.admit(`${event.data.component}:${event.data.error_code ?? ''}`);
        if (suppressed === undefined) return;
        const plugin = this.host.stateOf(event.data.component) !== undefined ? { plugin: event.data.component } : {};
        const more = suppressed > 0 ? { suppressed } : {};
        this.logger.error({ ...plugin, event: event.type, event_id: event.metadata.event_id, data: event.data, ...more }, event.data.message);
      },
      { name: 'error-log', overflow: 'drop_oldest', errorThreshold: 0 },
    );
  }
}

/** The agent as plugins may steer it (registered as {@link AgentControl} in the agent's container). */
class AgentControlOf extends AgentControl {
  constructor(private readonly agent: Agent) {
    super();
  }

  get configFile(): string {
    return this.agent.loaded.file;
  }

  override get agentName(): string {
    return this.agent.name;
  }

  reload(reason: string): Promise<ReloadResult> {
    return this.agent.reload(reason);
  }
}
