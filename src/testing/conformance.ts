import type * as JestGlobals from '@jest/globals';
import { errorTableProblem } from '../core/errors';
import type { PluginDefinition } from '../plugin/definition';
import { PluginHarness, type HarnessOptions } from './harness';
import { sampleEvents } from './samples';

const SEMVER = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;

/**
 * The plugin conformance suite: every built-in plugin's tests run it, and a third-party author
 * can run it on theirs (`import { runPluginConformance } from 'praxis-agent/testing'`). Pass the
 * config the plugin needs to start in a test (`options.config`); without one, `{}` must be valid.
 */
export function runPluginConformance(definition: PluginDefinition, options: HarnessOptions = {}): void {
  // Loaded here, not at import: the rest of 'praxis-agent/testing' (harness, samples, FakeClock) works under any runner.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { describe, expect, it } = require('@jest/globals') as typeof JestGlobals;
  const harness = (): PluginHarness => new PluginHarness(definition, options);

  describe(`plugin conformance: ${definition.name}`, () => {
    it('declares a name, a semver version and a config schema', () => {
      expect(definition.name).toMatch(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
      expect(definition.version).toMatch(SEMVER);
      expect(typeof definition.configSchema.safeParse).toBe('function');
    });

    it(options.config === undefined ? 'accepts the default config ({})' : 'accepts the config given to the suite', () => {
      const result = definition.configSchema.safeParse(options.config ?? {});
      expect(result.error?.issues ?? []).toEqual([]);
    });

    it('declares its error codes in UPPER_SNAKE_CASE, each with a meaning, none of them a core code', () => {
      expect(errorTableProblem(definition.errors ?? {})).toBeUndefined();
    });

    it('registers its own event types without clashing with the catalogue', () => {
      expect(() => harness()).not.toThrow();
    });

    it('starts and stops', async () => {
      const h = harness();
      await h.start();
      expect(h.status.state).toBe('running');
      expect(await h.stop()).toEqual({ failed: [], timedOut: [] });
      expect(h.status.state).toBe('stopped');
    });

    it('can be stopped without being started', async () => {
      const h = harness();
      await expect(Promise.resolve().then(() => h.instance.stop?.())).resolves.toBeUndefined();
    });

    it('can be stopped twice', async () => {
      const h = harness();
      await h.start();
      await h.stop();
      await expect(Promise.resolve().then(() => h.instance.stop?.())).resolves.toBeUndefined();
    });

    it('leaves no handler subscribed after stop', async () => {
      const h = harness();
      await h.start();
      await h.stop();
      expect(h.subscriptions).toBe(0);
      expect(h.bus.stats().handlers.filter((s) => s.owner === h.name && s.state === 'active')).toEqual([]);
    });

    it('keeps the bus and other handlers working whatever events it receives', async () => {
      const h = harness();
      const seen: string[] = [];
      h.bus.subscribe('*', (e) => void seen.push(e.type), { name: 'conformance-probe', capacity: 1000 });
      await h.start();
      const types = Object.keys(sampleEvents) as (keyof typeof sampleEvents)[];
      for (const type of types) {
        await expect(h.bus.publish(type, sampleEvents[type] as never)).resolves.toMatchObject({ type });
      }
      await h.bus.idle();
      expect(seen).toEqual(expect.arrayContaining(types));
      expect(h.bus.stats().handlers.filter((s) => s.state === 'quarantined')).toEqual([]);
      // Every error_code it published is its own (definePlugin errors) or the core's.
      expect(h.eventsOf('agent.error').filter((e) => e.data.error_code === 'ERROR_CODE_UNDECLARED').map((e) => e.data.message)).toEqual([]);
      await h.stop();
    });
  });
}
