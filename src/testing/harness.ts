import 'reflect-metadata';
import { container as globalContainer } from 'tsyringe';
import { AgentControl, emptyReloadResult, type ReloadResult } from '../agent/agent-control';
import { EventBus } from '../bus/event-bus';
import { Clock, FakeClock } from '../core/clock';
import { silentLogger, type Logger } from '../core/logger';
import { EventRegistry } from '../events/registry';
import type { Event } from '../events/types';
import { AdminServer } from '../http/admin-server';
import type { Plugin, PluginDefinition } from '../plugin/definition';
import { PluginHost, type PluginStatus, type StopReport, type StopResult } from '../plugin/plugin-host';
import { classToken } from '../plugin/tokens';
import { EVENT_STORE, EventStore } from '../store/event-store';
import { SqliteEventStore } from '../store/sqlite-event-store';
import { AgentFleetInbox } from '../fleet/agent-fleet-inbox';
import { FleetInbox } from '../fleet/fleet-inbox';
import { IngestDedup } from '../http/ingest-dedup';

/** How the harness hosts the plugin; every field is optional. */
export interface HarnessOptions {
  /** The plugin's config section as it would appear in YAML; parsed with the plugin's schema. Default `{}`. */
  config?: unknown;
  /** Instance name; default: the definition's name. */
  name?: string;
  /** Default: a {@link FakeClock}. */
  clock?: Clock;
  /** Default: silent. */
  logger?: Logger;
  /** Shutdown deadline for `stop()`; default 5000 ms. */
  stopTimeoutMs?: number;
  /**
   * Serve the plugin's HttpRoutes on a real admin server on 127.0.0.1 (a free port); its URL is
   * `harness.url` after start(). Without it, a plugin that adds routes fails with HTTP_DISABLED.
   */
  http?: { auth_token?: string };
  /**
   * An event store for the plugin to inject (`EventStore`, `EVENT_STORE`), as the agent provides
   * with `store.enabled`. An open {@link SqliteEventStore} is also fed every event of the harness bus.
   */
  store?: EventStore;
  /** What the plugin gets as `AgentControl`; default: one whose reload() answers `unavailable` (there is no agent). */
  agentControl?: AgentControl;
  /** The agent id of the harness's `FleetInbox` (fleet mode), as `agent.name` is for an agent; default `harness`. */
  agentId?: string;
}

/** The harness's AgentControl: no agent to reload. */
class NoAgentControl extends AgentControl {
  get configFile(): undefined {
    return undefined;
  }

  reload(reason: string): Promise<ReloadResult> {
    return Promise.resolve(emptyReloadResult('unavailable', reason, 'no agent to reload (plugin harness)'));
  }
}

/**
 * One plugin hosted exactly as the agent hosts it (same container wiring, same scoped bus), with
 * the core bus at hand to publish test events and a record of everything published.
 */
export class PluginHarness {
  readonly bus: EventBus;
  readonly clock: Clock;
  readonly name: string;
  /** Every event published on the bus while the harness runs, in publish order. */
  readonly events: Event[] = [];
  private readonly host: PluginHost;
  private readonly stopTimeoutMs: number;
  private readonly admin?: AdminServer;
  private config: unknown;

  constructor(readonly definition: PluginDefinition, options: HarnessOptions = {}) {
    this.clock = options.clock ?? new FakeClock();
    this.name = options.name ?? definition.name;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 5000;
    this.bus = new EventBus(new EventRegistry(), this.clock, { error_threshold: 0 });
    const root = globalContainer.createChildContainer();
    const logger = options.logger ?? silentLogger();
    if (options.store) {
      root.register(classToken(EventStore), { useValue: options.store });
      root.register(EVENT_STORE, { useValue: options.store });
      if (options.store instanceof SqliteEventStore) options.store.attach(this.bus);
    }
    root.register(classToken(AgentControl), { useValue: options.agentControl ?? new NoAgentControl() });
    const store = options.store instanceof SqliteEventStore ? options.store : undefined;
    root.register(classToken(FleetInbox), {
      useValue: new AgentFleetInbox({ agentId: options.agentId ?? 'harness', bus: this.bus, dedup: new IngestDedup(this.clock, store), clock: this.clock, logger, ...(store ? { store } : {}) }),
    });
    if (options.http) {
      this.admin = new AdminServer(
        { host: '127.0.0.1', port: 0, body_limit: 1_048_576, ...options.http },
        { bus: this.bus, logger, plugins: () => this.host.statuses(), ready: () => this.host.ready, stats: () => ({ bus: this.bus.stats() }) },
      );
    }
    this.host = new PluginHost(root, this.bus, logger, this.clock, this.admin);
    this.config = options.config ?? {};
    this.host.add([{ name: this.name, use: definition.name, definition, config: definition.configSchema.parse(this.config) }]);
    this.bus.subscribe('*', (event) => void this.events.push(event), { name: 'harness-recorder', capacity: 100_000 });
  }

  /** The plugin instance (created on first access, without starting it). */
  get instance(): Plugin {
    return this.host.instanceOf(this.name);
  }

  get status(): PluginStatus {
    return this.host.statuses()[0];
  }

  /** Open subscriptions the plugin holds on the bus. */
  get subscriptions(): number {
    return this.host.subscriptionsOf(this.name);
  }

  /** Base URL of the admin server (with `options.http`, after start()). */
  get url(): string | undefined {
    return this.admin?.url;
  }

  async start(): Promise<void> {
    await this.admin?.start();
    await this.host.startAll(this.stopTimeoutMs);
  }

  /** Delivers what is queued, then stops the plugin (and the admin server). */
  async stop(): Promise<StopReport> {
    await this.bus.idle();
    const report = await this.host.stopAll(this.stopTimeoutMs);
    await this.admin?.stop();
    return report;
  }

  /**
   * Restarts the plugin as a reload that changed its entry does: the running instance stops (its
   * queued events go to the new one), its `handOver()` value becomes the new instance's
   * PREVIOUS_STATE, and a new instance built with `config` (parsed with the plugin's schema;
   * default: the current config) starts; `instance` is then the new one. Rejects with
   * PLUGIN_START_FAILED when the new instance fails to start: restart again with the previous
   * config to do what the agent's rollback does (that instance is handed the same state).
   */
  async restart(config: unknown = this.config): Promise<StopResult> {
    const parsed = this.definition.configSchema.parse(config);
    this.config = config;
    return this.host.restart({ name: this.name, use: this.definition.name, definition: this.definition, config: parsed }, this.stopTimeoutMs);
  }

  /** Events of one type recorded so far. */
  eventsOf<T extends Event['type']>(type: T): Event<T>[] {
    return this.events.filter((e): e is Event<T> => e.type === type);
  }
}

/** Shorthand for `new PluginHarness(definition, options)`. */
export function createPluginHarness(definition: PluginDefinition, options?: HarnessOptions): PluginHarness {
  return new PluginHarness(definition, options);
}
