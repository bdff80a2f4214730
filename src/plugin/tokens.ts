import type { InjectionToken } from 'tsyringe';
import type { Logger } from '../core/logger';

/**
 * Injection tokens for what a plugin receives that has no class of its own. Classes (`Bus`,
 * `Clock`, `EventRegistry`) are injected by their constructor type and need no token.
 *
 * ```ts
 * constructor(bus: Bus, clock: Clock, @inject(PLUGIN_CONFIG) config: MyConfig, @inject(LOGGER) log: Logger)
 * ```
 */
export const PLUGIN_CONFIG: InjectionToken<unknown> = Symbol.for('praxis-agent:plugin-config');
/** The plugin's own child logger; every line carries `plugin: <name>`. */
export const LOGGER: InjectionToken<Logger> = Symbol.for('praxis-agent:logger');
/** The plugin instance's name as declared in `agent.config.yaml`. */
export const PLUGIN_NAME: InjectionToken<string> = Symbol.for('praxis-agent:plugin-name');
/**
 * What the instance this one replaces returned from `handOver()` (see `Plugin.handOver`);
 * `undefined` on a fresh start, after the plugin was removed and added again, or when the
 * predecessor had no `handOver()` or it threw. A rollback to the previous entry after a failed
 * restart gets the same value the failed instance got.
 */
export const PREVIOUS_STATE: InjectionToken<unknown> = Symbol.for('praxis-agent:previous-state');

/**
 * An abstract class (`Bus`, `Clock`) as a tsyringe token. Decorator metadata records the class
 * itself as the parameter type, so registering under it lets plugins inject by type; tsyringe's
 * typings just don't admit abstract constructors.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function classToken<T>(cls: abstract new (...args: any[]) => T): InjectionToken<T> {
  return cls as unknown as InjectionToken<T>;
}
