import type { SubscribeOptions } from '../bus/bus';
import type { EventFor, EventPattern } from '../events/types';

/** One `@On` declaration as recorded on a class. */
export interface HandlerDeclaration {
  pattern: EventPattern;
  method: string | symbol;
  options: SubscribeOptions;
}

const declarations = new WeakMap<object, HandlerDeclaration[]>();

/**
 * Marks a method as the handler of `pattern`. The decorator only records; the plugin host
 * subscribes after `start()` and unsubscribes before `stop()`. The compiler checks the method's
 * parameter against the pattern: `@On('system.error') f(e: Event<'config.changed'>)` does not compile.
 */
export function On<P extends EventPattern>(pattern: P, options: SubscribeOptions = {}) {
  return function <M extends (event: EventFor<P>) => void | Promise<void>>(
    prototype: object,
    method: string | symbol,
    _descriptor: TypedPropertyDescriptor<M>,
  ): void {
    const own = declarations.get(prototype) ?? [];
    declarations.set(prototype, [...own, { pattern, method, options }]);
  };
}

/** The `@On` declarations of an instance's class and its base classes, base classes first. */
export function handlerDeclarationsOf(instance: object): HandlerDeclaration[] {
  const chain: HandlerDeclaration[][] = [];
  for (let proto = Object.getPrototypeOf(instance); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    const own = declarations.get(proto);
    if (own) chain.unshift(own);
  }
  return chain.flat();
}
