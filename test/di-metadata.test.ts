import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { container, injectable, type InjectionToken } from 'tsyringe';
import ts from 'typescript';
import { Bus, Clock, EventRegistry, FakeClock, injectable as sdkInjectable, type PluginDefinition } from 'praxis-agent';
import { createPluginHarness } from 'praxis-agent/testing';
import { EventBus } from '../src/bus/event-bus';
import { formatProblem, isConfigError, loadConfig } from '../src/config/loader';

/**
 * Plugins are injected by constructor parameter *type*, with no @inject tokens. That only works
 * if TypeScript emits `design:paramtypes` for decorated classes, under the compiler options and
 * ts-jest transform this repository uses. These tests fail if emitDecoratorMetadata is lost, if
 * an `import type` erases a parameter's class, or if tsyringe is loaded without reflect-metadata.
 */

/** tsyringe's types reject abstract classes as tokens, though at run time any class works. */
function token<T>(cls: abstract new (...args: never[]) => T): InjectionToken<T> {
  return cls as unknown as InjectionToken<T>;
}

@injectable()
class NeedsCore {
  constructor(
    readonly bus: Bus,
    readonly clock: Clock,
    readonly registry: EventRegistry,
  ) {}
}

@sdkInjectable()
class ViaSdkDecorator {
  constructor(readonly clock: Clock) {}
}

class Undecorated {
  constructor(readonly clock: Clock) {}
}

describe('decorator metadata and DI by type', () => {
  it('emits design:paramtypes naming the abstract classes from praxis-agent', () => {
    expect(Reflect.getMetadata('design:paramtypes', NeedsCore)).toEqual([Bus, Clock, EventRegistry]);
    const types = Reflect.getMetadata('design:paramtypes', NeedsCore) as unknown[];
    expect(types[0]).toBe(Bus);
    expect(types[1]).toBe(Clock);
    expect(types[2]).toBe(EventRegistry);
    expect(Reflect.getMetadata('design:paramtypes', ViaSdkDecorator)).toEqual([Clock]);
    // Without a decorator the compiler emits no metadata at all.
    expect(Reflect.getMetadata('design:paramtypes', Undecorated)).toBeUndefined();
  });

  it('resolves a class from a child container by parameter type, receiving the registered instances', () => {
    const clock = new FakeClock();
    const registry = new EventRegistry();
    const bus = new EventBus(registry, clock);
    const child = container.createChildContainer();
    child.register(token(Bus), { useValue: bus });
    child.register(token(Clock), { useValue: clock });
    child.register(EventRegistry, { useValue: registry });

    const resolved = child.resolve(NeedsCore);
    expect(resolved).toBeInstanceOf(NeedsCore);
    expect(resolved.bus).toBe(bus);
    expect(resolved.clock).toBe(clock);
    expect(resolved.registry).toBe(registry);
    expect(child.resolve(ViaSdkDecorator).clock).toBe(clock);

    // Registrations stay in the child: the root container knows none of them.
    expect(container.isRegistered(token(Bus))).toBe(false);
    expect(container.isRegistered(token(Clock))).toBe(false);
    // tsyringe would construct an unregistered class token itself; the abstract bases refuse, so a
    // forgotten registration fails at resolution, naming the class, instead of at first use.
    expect(() => container.resolve(ViaSdkDecorator)).toThrow(/Clock is abstract/);
  });

  it('gives sibling child containers their own instances', () => {
    const make = () => {
      const child = container.createChildContainer();
      const clock = new FakeClock();
      const registry = new EventRegistry();
      child.register(token(Bus), { useValue: new EventBus(registry, clock) });
      child.register(token(Clock), { useValue: clock });
      child.register(EventRegistry, { useValue: registry });
      return { child, clock };
    };
    const a = make();
    const b = make();
    expect(a.child.resolve(NeedsCore).clock).toBe(a.clock);
    expect(b.child.resolve(NeedsCore).clock).toBe(b.clock);
    expect(a.clock).not.toBe(b.clock);
  });
});

/** A third-party plugin as its author writes it; it counts the errors it sees and reports each as service.status. */
const PLUGIN_SOURCE = `
import { Bus, definePlugin, inject, injectable, On, PLUGIN_NAME, z, type Event } from 'praxis-agent';

@injectable()
export class Counter {
  seen = 0;
  constructor(private readonly bus: Bus) {}

  @On('system.error')
  async onError(event: Event<'system.error'>): Promise<void> {
    this.seen++;
    await this.bus.publish('service.status', { service_name: event.data.component, status: 'degraded' });
  }
}

/** Only @inject tokens: needs no type metadata. */
@injectable()
export class Named {
  constructor(@inject(PLUGIN_NAME) readonly name: string) {}
}

export const named = definePlugin({ name: 'named', version: '1.0.0', configSchema: z.object({}), plugin: Named });
export default definePlugin({ name: 'counter', version: '1.0.0', configSchema: z.object({}), plugin: Counter });
`;

describe('a plugin compiled without emitDecoratorMetadata', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'praxis-di-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Compiles the plugin with tsc's own transpiler, as the author's build would, and a config that loads it. */
  function build(name: string, emitDecoratorMetadata: boolean): string {
    const { outputText } = ts.transpileModule(PLUGIN_SOURCE, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, experimentalDecorators: true, emitDecoratorMetadata },
    });
    writeFileSync(path.join(dir, `${name}.js`), outputText);
    const config = path.join(dir, `${name}.yaml`);
    writeFileSync(config, `http:\n  enabled: false\nplugins:\n  - name: counter\n    use: ./${name}.js\n`);
    return config;
  }

  it('fails at load with PLUGIN_INVALID_MODULE naming the compiler options, not at its first event', () => {
    const config = build('without-metadata', false);
    let error: unknown;
    try {
      loadConfig(config);
    } catch (e) {
      error = e;
    }
    expect(isConfigError(error)).toBe(true);
    const problems = isConfigError(error) ? error.problems : [];
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ code: 'PLUGIN_INVALID_MODULE' });
    const line = formatProblem(problems[0]);
    expect(line).toContain('plugins[0].use');
    expect(line).toContain('class Counter has 1 constructor parameter(s) but no decorator metadata');
    expect(line).toContain('"experimentalDecorators": true and "emitDecoratorMetadata": true');
  });

  it('loads and receives its Bus when compiled with emitDecoratorMetadata (the same source)', async () => {
    const loaded = loadConfig(build('with-metadata', true));
    const definition = loaded.plugins[0].resolved.definition;
    const h = createPluginHarness(definition);
    await h.start();
    await h.bus.publish('system.error', { severity: 'error', message: 'boom', component: 'db' });
    await h.bus.idle();
    expect((h.instance as unknown as { seen: number }).seen).toBe(1);
    expect(h.eventsOf('service.status').map((e) => e.data.service_name)).toEqual(['db']);
    await h.stop();
  });

  it('is accepted without metadata when every constructor parameter has an @inject token', async () => {
    // The module as a whole fails (its Counter needs metadata); a class with only @inject tokens passes the same check.
    const { outputText } = ts.transpileModule(PLUGIN_SOURCE.replace(/export default definePlugin[^\n]*\n/, ''), {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, experimentalDecorators: true, emitDecoratorMetadata: false },
    });
    const file = path.join(dir, 'named-only.js');
    writeFileSync(file, outputText);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const named = (require(file) as { named: PluginDefinition }).named;
    const h = createPluginHarness(named, { name: 'my-name' });
    await h.start();
    expect((h.instance as unknown as { name: string }).name).toBe('my-name');
    await h.stop();
  });
});
