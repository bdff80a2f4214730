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
