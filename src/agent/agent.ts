import 'reflect-metadata';
import { container as globalContainer, type DependencyContainer } from 'tsyringe';
import { Bus } from '../bus/bus';
import { EventBus } from '../bus/event-bus';
import { Clock, SystemClock } from '../core/clock';
import { AgentError, errorMessage } from '../core/errors';
import { createLogger, type Logger } from '../core/logger';
import type { LoadedConfig } from '../config/loader';
import { EventRegistry } from '../events/registry';
import type { Event } from '../events/types';
import { AdminServer } from '../http/admin-server';
import { PluginHost, type PluginStatus } from '../plugin/plugin-host';
import { classToken } from '../plugin/tokens';
import { AGENT_VERSION } from './version';

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
  private startedAt = 0;
  private stopping?: Promise<number>;
  private resolveStopped!: (code: number) => void;
  /** Resolves the exit code once a stop (from any caller) has finished. */
  readonly stopped = new Promise<number>((resolve) => {
    this.resolveStopped = resolve;
  });

  constructor(readonly loaded: LoadedConfig, options: AgentOptions = {}) {
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
    if (config.http.enabled) {
      this.admin = new AdminServer(config.http, {
        bus: this.bus,
        logger: this.logger.child({ component: 'http' }),
        plugins: () => this.host.statuses(),
        ready: () => this.host.ready && this.startedAt > 0 && !this.stopping,
        stats: () => this.stats(),
        componentStats: () => this.host.componentStats(),
      });
    }
    this.host = new PluginHost(this.container, this.bus, this.logger, this.clock, this.admin);
    this.host.add(
      loaded.plugins.map((p) => ({
        name: p.entry.name,
        use: p.entry.use,
        definition: p.resolved.definition,
        config: p.config,
        queue: p.entry.queue,
      })),
    );
    this.logLifecycle();
  }

  get name(): string {
    return this.loaded.config.agent.name;
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
    await this.bus.publish('agent.starting', { agent_name: this.name, version: AGENT_VERSION, pid: process.pid, config_path: this.loaded.file }, source);
    try {
      await this.admin?.start();
      await this.host.startAll(this.loaded.config.agent.shutdown_timeout);
    } catch (error) {
      await this.bus.publish('agent.error', {
        severity: 'critical',
        message: errorMessage(error),
        error_code: error instanceof AgentError ? error.code : 'PLUGIN_START_FAILED',
        component: 'agent',
      }, source);
      await this.bus.idle();
      await this.admin?.stop();
      throw error;
    }
    this.startedAt = this.clock.now();
    await this.bus.publish('agent.started', {
      agent_name: this.name,
      version: AGENT_VERSION,
      plugins: this.host.running(),
      ...(this.admin?.url ? { admin_url: this.admin.url } : {}),
      startup_ms: this.startedAt - begun,
    }, source);
    await this.bus.idle();
    this.logger.info({ admin_url: this.admin?.url, plugins: this.host.running() }, `praxis-agent ready${this.admin?.url ? ` on ${this.admin.url}` : ''}`);
  }

  /**
   * Graceful shutdown: agent.stopping, system.shutdown, deliver what is queued, stop plugins in
   * reverse order within `agent.shutdown_timeout`, stop the admin server, agent.stopped, drain.
   * Resolves the process exit code; calling it again returns the same promise.
   */
  stop(reason = 'requested', signal?: string): Promise<number> {
    this.stopping ??= this.shutdown(reason, signal).then((code) => {
      this.resolveStopped(code);
      return code;
    });
    return this.stopping;
  }

  stats(): Record<string, unknown> {
    const memory = process.memoryUsage();
    return {
      agent: { name: this.name, version: AGENT_VERSION, pid: process.pid, uptime_ms: this.startedAt ? this.clock.now() - this.startedAt : 0 },
      bus: this.bus.stats(),
      plugins: this.host.statuses(),
      components: this.host.componentStats(),
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
    await this.bus.idle();
    const report = await this.host.stopAll(timeout);
    await this.admin?.stop();
    const failed = [...report.failed, ...report.timedOut];
    const exitCode = failed.length > 0 ? EXIT.SHUTDOWN_INCOMPLETE : EXIT.OK;
    if (report.timedOut.length > 0) {
      this.logger.error({ plugins: report.timedOut, shutdown_timeout_ms: timeout }, `plugins did not stop within shutdown_timeout: ${report.timedOut.join(', ')}`);
    }
    await this.bus.publish('agent.stopped', {
      reason,
      uptime_ms: this.startedAt ? this.clock.now() - this.startedAt : 0,
      exit_code: exitCode,
      failed_plugins: failed,
    }, source);
    await this.bus.drain();
    return exitCode;
  }

  private logLifecycle(): void {
    const log = (event: Event): void => {
      this.logger.info({ event: event.type, event_id: event.metadata.event_id, data: event.data }, event.type);
    };
    for (const pattern of LIFECYCLE_PATTERNS) this.bus.subscribe(pattern, log, { name: 'lifecycle-log' });
    this.bus.subscribe(
      'agent.error',
      (event) => {
        this.logger.error({ event: event.type, event_id: event.metadata.event_id, data: event.data }, event.data.message);
      },
      { name: 'error-log', overflow: 'drop_oldest', errorThreshold: 0 },
    );
  }
}
