import type { DependencyContainer } from 'tsyringe';
import { Bus, type SubscribeOptions } from '../bus/bus';
import { closeSubscriptions, EventBus, ScopedBus, type SuspendedSubscription } from '../bus/event-bus';
import { Clock } from '../core/clock';
import { AgentError, ErrorCodeRegistry, errorMessage } from '../core/errors';
import { isTimeoutError, runOnce, settledWithin, withTimeout } from '../core/timed';
import type { Logger } from '../core/logger';
import { EventRegistry } from '../events/registry';
import type { EventPattern } from '../events/types';
import type { Plugin, PluginDefinition } from './definition';
import { HttpRoutes, ScopedHttpRoutes, type RouteTarget } from './http-routes';
import { handlerDeclarationsOf } from './on-event.decorator';
import { classToken, LOGGER, PLUGIN_CONFIG, PLUGIN_NAME, PREVIOUS_STATE } from './tokens';

/** The least time a plugin's stop() is given, however little of the shutdown budget is left. */
export const STOP_FLOOR_MS = 100;

/** Where a hosted plugin is in its lifecycle. */
export type PluginState = 'loaded' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

/** One plugin as /readyz, /stats, /metrics and the typed client show it: the one declaration of that shape. */
export interface PluginStatus {
  /** Instance name from the YAML. */
  name: string;
  /** The `use` it was loaded from. */
  use: string;
  /** The plugin's declared version. */
  version: string;
  state: PluginState;
  /** Why the plugin is `failed`. */
  error?: string;
  /** What the running plugin's `status()` says (absent when it has none, or it threw). */
  status?: Record<string, unknown>;
}

/** One plugin instance to host: its declaration, validated config and queue overrides. */
export interface PluginSpec {
  name: string;
  use: string;
  definition: PluginDefinition;
  config: unknown;
  queue?: Pick<SubscribeOptions, 'capacity' | 'overflow'>;
}

export interface StopReport {
  /** Plugins whose stop() threw or rejected. */
  failed: string[];
  /** Plugins whose stop() did not finish before the deadline. */
  timedOut: string[];
}

/** How stopping one plugin went. */
export type StopOutcome = 'stopped' | 'failed' | 'timeout';

/** What removing or restarting a plugin did (hot reload). */
export interface StopResult {
  stop: StopOutcome;
  /** Events queued for the plugin that were discarded (counted as dropped): the drain ran out of time, or no handler was left to take them. */
  discarded: number;
}

/** A `handOver()` value and the plugin type that made it: it means something only to that type. */
interface HandedState {
  type: string;
  value: unknown;
}

class HostedPlugin {
  state: PluginState = 'loaded';
  error?: string;
  /** The instance, created by the container on first use (construction belongs to start-up). */
  readonly create = runOnce(() => this.container.resolve(this.spec.definition.plugin) as Plugin);
  /** Paused queues kept from a restart whose start failed, for the next attempt (the rollback) to take over. */
  carried: SuspendedSubscription[] = [];
  /**
   * What the instance that replaces this one is handed: this one's handOver() once it ran and was
   * stopped for a restart; until then what it was handed itself, so that an instance whose start
   * failed passes its predecessor's state on to the rollback.
   */
  handing: HandedState | undefined;

  constructor(
    readonly spec: PluginSpec,
    readonly container: DependencyContainer,
    readonly bus: ScopedBus,
    readonly routes: ScopedHttpRoutes,
    readonly logger: Logger,
    handed: HandedState | undefined,
  ) {
    this.handing = handed;
  }

  /** Closes queues kept for a retry that will not come (the plugin is removed or the agent stops); returns the events they discarded. */
  dropCarried(): number {
    return closeSubscriptions(this.carried.splice(0));
  }

  /** Takes back what the plugin was given on the bus and the admin server; returns the queued events discarded. */
  release(): number {
    const discarded = this.bus.close();
    this.routes.close();
    return discarded;
  }

  /** The instance if it was created; undefined before. */
  get instance(): Plugin | undefined {
    return this.create.called ? this.create() : undefined;
  }

  status(): PluginStatus {
    const { name, use, definition } = this.spec;
    return { name, use, version: definition.version, state: this.state, ...(this.error ? { error: this.error } : {}), ...this.ownStatus() };
  }

  private ownStatus(): { status?: Record<string, unknown> } {
    if (this.state !== 'running' || !this.instance?.status) return {};
    try {
      return { status: this.instance.status() };
    } catch (error) {
      this.logger.warn({ err: error }, 'plugin status() failed');
      return {};
    }
  }
}

/**
 * Creates, starts and stops plugins. Each plugin gets its own child container holding a
 * {@link ScopedBus}, a child logger named after it and its validated config; nothing it
 * registers leaks into other plugins. Start order is the order given; stop is the reverse.
 */
export class PluginHost {
  private readonly plugins: HostedPlugin[] = [];
  private readonly discarded = new Map<string, number>();
  /** The core's error codes merged with those of every plugin type hosted (README table, /stats). */
  readonly errorCodes = new ErrorCodeRegistry();

  constructor(
    private readonly root: DependencyContainer,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly clock: Clock,
    /** The admin server, when HTTP is enabled: plugins add routes to it through {@link HttpRoutes}. */
    private readonly routeTarget?: RouteTarget,
  ) {}

  /**
   * Registers each plugin's event types, then creates the child containers. Instances are created
   * in {@link startAll}: construction belongs to start-up, where failures are reported by name.
   */
  add(specs: readonly PluginSpec[]): void {
    for (const spec of specs) this.registerEvents(spec);
    for (const spec of specs) this.plugins.push(this.create(spec));
  }

  /** Hot reload: adds one plugin and starts it. On failure it stays listed as `failed` and PLUGIN_START_FAILED is thrown. */
  async addAndStart(spec: PluginSpec): Promise<void> {
    if (this.find(spec.name)) throw new Error(`plugin "${spec.name}" is already hosted`);
    let plugin: HostedPlugin | undefined;
    try {
      this.registerEvents(spec);
      plugin = this.create(spec);
    } catch (error) {
      throw new AgentError('PLUGIN_START_FAILED', `plugin "${spec.name}" (${spec.use}) failed to start: ${errorMessage(error)}`, { plugin: spec.name }, { cause: error });
    }
    this.plugins.push(plugin);
    await this.startOrFail(plugin);
  }

  /**
   * Hot reload: stops a plugin and forgets it. Events already queued for it are delivered first
   * (within `timeoutMs`); what is still queued then is discarded and counted.
   */
  async remove(name: string, timeoutMs: number): Promise<StopResult> {
    const plugin = this.find(name);
    if (!plugin) return { stop: 'stopped', discarded: 0 };
    const before = this.discardedBy(name);
    const stop = plugin.state === 'running' || plugin.state === 'starting' ? await this.stop(plugin, timeoutMs) : 'stopped';
    this.countDiscarded(plugin, plugin.dropCarried(), 'its previous restart failed and it was removed');
    this.plugins.splice(this.plugins.indexOf(plugin), 1);
    return { stop, discarded: this.discardedBy(name) - before };
  }

  /**
   * Hot reload: replaces a plugin's instance with one built from `spec` (new config, queue
   * settings or module) without losing events. The old instance's subscriptions are paused (events
   * keep queueing, bounded by their overflow policy), it is stopped, the new instance is created
   * and started, and each subscription it makes again (same name and pattern, e.g. the same `@On`
   * method) takes over the paused queue, so every event reaches exactly one of the two instances.
   * Subscriptions the new instance does not make again are closed (their events discarded and
   * counted). What the old instance's `handOver()` returns after it stopped is the new one's
   * PREVIOUS_STATE. A start failure leaves the plugin `failed` and throws PLUGIN_START_FAILED; the
   * next restart (the rollback) is handed the state the failed instance was handed.
   */
  async restart(spec: PluginSpec, timeoutMs: number): Promise<StopResult> {
    const old = this.find(spec.name);
    if (!old) throw new Error(`no plugin named "${spec.name}"`);
    // A retry after a failed restart takes over the queues that attempt kept; it keeps none itself,
    // so a `block` publisher never waits on a plugin that failed twice.
    const retry = old.carried.length > 0;
    const suspended: SuspendedSubscription[] = old.state === 'running' ? old.bus.suspend() : old.carried;
    old.carried = [];
    // Let handlers in flight return before stop(), within the same budget stop() gets.
    await settledWithin(this.clock, Promise.all(suspended.map((s) => s.queue.whenIdle())), timeoutMs);
    const started = old.state === 'running' || old.state === 'starting';
    const stop = started ? await this.stop(old, timeoutMs) : 'stopped';
    if (started) old.handing = this.handOver(old);
    let next: HostedPlugin;
    try {
      this.registerEvents(spec);
      next = this.create(spec, suspended, old.handing);
    } catch (error) {
      old.carried = suspended;
      this.countDiscarded(old, old.dropCarried(), 'its new entry could not be loaded');
      old.state = 'failed';
      old.error = errorMessage(error);
      throw new AgentError('PLUGIN_START_FAILED', `plugin "${spec.name}" (${spec.use}) failed to start: ${old.error}`, { plugin: spec.name }, { cause: error });
    }
    this.plugins[this.plugins.indexOf(old)] = next;
    await this.startOrFail(next, () => {
      if (!retry) next.carried = next.bus.handBack();
    });
    // Kept only for a rollback; a running instance hands over its own state when it is replaced.
    next.handing = undefined;
    const discarded = next.bus.dropUnclaimed();
    this.countDiscarded(next, discarded, 'the restarted plugin no longer subscribes to them');
    return { stop, discarded };
  }

  /** Puts the hosted plugins in this start order (stop order is the reverse); unnamed ones go last. */
  reorder(names: readonly string[]): void {
    const rank = (p: HostedPlugin): number => {
      const i = names.indexOf(p.spec.name);
      return i < 0 ? names.length : i;
    };
    this.plugins.sort((a, b) => rank(a) - rank(b));
  }

  /** State of a hosted plugin, undefined when there is none of that name. */
  stateOf(name: string): PluginState | undefined {
    return this.find(name)?.state;
  }

  private find(name: string): HostedPlugin | undefined {
    return this.plugins.find((p) => p.spec.name === name);
  }

  /** Registers what the plugin type declares: its event types and its error codes. */
  private registerEvents(spec: PluginSpec): void {
    this.errorCodes.register(spec.definition.name, spec.definition.errors ?? {});
    for (const [type, schema] of Object.entries(spec.definition.events ?? {})) {
      this.bus.registry.register(type, schema, `plugin ${spec.definition.name}`);
    }
  }

  /** A plugin may raise the core's codes and its own type's. */
  private allowsErrorCode(spec: PluginSpec): (code: string) => boolean {
    return (code) => {
      const owner = this.errorCodes.get(code)?.owner;
      return owner === 'core' || owner === spec.definition.name;
    };
  }

  /** The stopped instance's state for its successor; undefined when it has no handOver() or it threw (logged). */
  private handOver(plugin: HostedPlugin): HandedState | undefined {
    const instance = plugin.instance;
    if (typeof instance?.handOver !== 'function') return undefined;
    try {
      return { type: plugin.spec.definition.name, value: instance.handOver() };
    } catch (error) {
      plugin.logger.error({ err: error, code: 'PLUGIN_HANDOVER_FAILED' }, `plugin ${plugin.spec.name}: handOver() failed (${errorMessage(error)}); the restarted instance starts without its state`);
      return undefined;
    }
  }

  private create(spec: PluginSpec, inherited: readonly SuspendedSubscription[] = [], handed?: HandedState): HostedPlugin {
    const container = this.root.createChildContainer();
    const bus = new ScopedBus(this.bus, spec.name, spec.queue ?? {}, inherited, this.allowsErrorCode(spec));
    const logger = this.logger.child({ plugin: spec.name });
    const routes = new ScopedHttpRoutes(this.routeTarget, spec.name);
    container.register(classToken(Bus), { useValue: bus });
    container.register(classToken(Clock), { useValue: this.clock });
    container.register(classToken(HttpRoutes), { useValue: routes });
    container.register(EventRegistry, { useValue: this.bus.registry });
    container.register(PLUGIN_CONFIG, { useValue: spec.config });
    container.register(PLUGIN_NAME, { useValue: spec.name });
    container.register(LOGGER, { useValue: logger });
    // Only the plugin type that made the state can read it. A factory: tsyringe takes `useValue: undefined` for no provider at all.
    const previousState = handed?.type === spec.definition.name ? handed.value : undefined;
    container.register(PREVIOUS_STATE, { useFactory: () => previousState });
    return new HostedPlugin(spec, container, bus, routes, logger, handed);
  }

  /** Starts one plugin; on failure marks it failed, releases what it holds and throws PLUGIN_START_FAILED. */
  private async startOrFail(plugin: HostedPlugin, beforeRelease?: () => void): Promise<void> {
    try {
      await this.start(plugin);
    } catch (error) {
      beforeRelease?.();
      plugin.state = 'failed';
      plugin.error = errorMessage(error);
      this.countDiscarded(plugin, plugin.release(), 'it failed to start');
      plugin.logger.error({ err: error, code: 'PLUGIN_START_FAILED' }, 'plugin failed to start');
      throw new AgentError('PLUGIN_START_FAILED', `plugin "${plugin.spec.name}" (${plugin.spec.use}) failed to start: ${plugin.error}`, { plugin: plugin.spec.name }, { cause: error });
    }
  }

  statuses(): PluginStatus[] {
    return this.plugins.map((p) => p.status());
  }

  /** True when every plugin is running. */
  get ready(): boolean {
    return this.plugins.every((p) => p.state === 'running');
  }

  /** Started plugins' names, in start order. */
  running(): string[] {
    return this.plugins.filter((p) => p.state === 'running').map((p) => p.spec.name);
  }

  /** The instance of a plugin, created by the container on first use (start creates it too). */
  instanceOf(name: string): Plugin {
    const plugin = this.plugins.find((p) => p.spec.name === name);
    if (!plugin) throw new Error(`no plugin named "${name}"`);
    return plugin.create();
  }

  /** `Plugin.stats()` of every running plugin that has it, by plugin name; a throwing stats() is skipped. */
  componentStats(): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const p of this.plugins) {
      if (p.state !== 'running' || !p.instance?.stats) continue;
      try {
        out[p.spec.name] = p.instance.stats();
      } catch (error) {
        p.logger.warn({ err: error }, 'plugin stats() failed');
      }
    }
    return out;
  }

  /** Open subscriptions of a plugin (0 after it stopped). */
  subscriptionsOf(name: string): number {
    return this.plugins.find((p) => p.spec.name === name)?.bus.subscriptionCount ?? 0;
  }

  /**
   * Starts plugins in order. When one fails, the ones already started are stopped (reverse
   * order) and PLUGIN_START_FAILED names the plugin that failed.
   */
  async startAll(stopTimeoutMs: number): Promise<void> {
    for (const plugin of this.plugins) {
      try {
        await this.startOrFail(plugin);
      } catch (error) {
        await this.stopAll(stopTimeoutMs);
        throw error;
      }
    }
  }

  /**
   * Stops every started plugin in reverse start order within one shared deadline. A plugin that
   * throws or overruns is named in the report and the rest still stop.
   */
  async stopAll(timeoutMs: number): Promise<StopReport> {
    const report: StopReport = { failed: [], timedOut: [] };
    const deadline = this.clock.now() + timeoutMs;
    for (const plugin of [...this.plugins].reverse()) {
      this.countDiscarded(plugin, plugin.dropCarried(), 'its previous restart failed and the agent stops');
      if (plugin.state !== 'running' && plugin.state !== 'starting') continue;
      // Every plugin gets a short floor so that one slow plugin cannot leave the next no time at all.
      const budget = Math.max(deadline - this.clock.now(), Math.min(STOP_FLOOR_MS, timeoutMs));
      const outcome = await this.stop(plugin, budget);
      if (outcome === 'timeout') report.timedOut.push(plugin.spec.name);
      if (outcome === 'failed') report.failed.push(plugin.spec.name);
    }
    return report;
  }

  private async start(plugin: HostedPlugin): Promise<void> {
    plugin.state = 'starting';
    const instance = plugin.create();
    await instance.start?.();
    for (const declaration of handlerDeclarationsOf(instance)) {
      const method = (instance as unknown as Record<string | symbol, unknown>)[declaration.method];
      if (typeof method !== 'function') continue;
      plugin.bus.subscribe(declaration.pattern as EventPattern, method.bind(instance), {
        name: String(declaration.method),
        ...declaration.options,
      });
    }
    plugin.state = 'running';
    plugin.logger.debug('plugin started');
  }

  /**
   * Events discarded for a plugin since the host began, by plugin name (removed plugins included):
   * queued events it could not be given before it stopped. Shown on /stats.
   */
  discardedEvents(): Record<string, number> {
    return Object.fromEntries(this.discarded);
  }

  private discardedBy(name: string): number {
    return this.discarded.get(name) ?? 0;
  }

  private countDiscarded(plugin: HostedPlugin, count: number, why: string): void {
    if (count === 0) return;
    this.discarded.set(plugin.spec.name, this.discardedBy(plugin.spec.name) + count);
    plugin.logger.warn({ discarded: count, code: 'PLUGIN_EVENTS_DISCARDED' }, `${count} event(s) queued for the plugin were discarded: ${why}`);
  }

  /**
   * Delivers what is queued for the plugin (no new events reach it meanwhile), within `budgetMs`;
   * discards and counts what is left; then calls its stop(), within `budgetMs` again.
   */
  private async stop(plugin: HostedPlugin, budgetMs: number): Promise<StopOutcome> {
    plugin.state = 'stopping';
    // Draining the queue and stop() share the budget; stop() always gets a short floor.
    const end = this.clock.now() + budgetMs;
    const drained = await settledWithin(this.clock, plugin.bus.drain(), budgetMs);
    this.countDiscarded(plugin, plugin.release(), drained ? 'they arrived while it stopped' : `shutdown_timeout (${budgetMs} ms) ran out before they were handled`);
    const left = Math.max(end - this.clock.now(), Math.min(STOP_FLOOR_MS, budgetMs));
    const outcome = await withTimeout(this.clock, Promise.resolve().then(() => plugin.instance?.stop?.()), left).then(
      () => 'stopped' as const,
      (error: unknown) => {
        if (isTimeoutError(error)) return 'timeout' as const;
        plugin.error = errorMessage(error);
        plugin.logger.error({ err: error, code: 'PLUGIN_STOP_FAILED' }, 'plugin failed to stop');
        return 'failed' as const;
      },
    );
    if (outcome === 'timeout') {
      plugin.error = `did not stop within ${budgetMs} ms`;
      plugin.logger.error({ budget_ms: budgetMs, code: 'PLUGIN_STOP_TIMEOUT' }, 'plugin did not stop before the shutdown deadline');
    }
    plugin.state = outcome === 'stopped' ? 'stopped' : 'failed';
    return outcome;
  }
}
