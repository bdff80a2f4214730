import 'reflect-metadata';
import { container, injectable, type InjectionToken } from 'tsyringe';
import { Bus, Clock, EventRegistry, FakeClock, injectable as sdkInjectable } from 'praxis-agent';
import { EventBus } from '../src/bus/event-bus';

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
