import type { NatsConnection } from '@nats-io/transport-node';
import type { NatsRole, RoleContext } from './role';

/**
 * STUB: the aggregator role (durable pull consumer on the fleet stream feeding this agent's bus)
 * is built on branch h-nats-agg, which replaces this file. Until then `role: aggregator` fails at
 * start with a clear message.
 */
export class Aggregator implements NatsRole {
  constructor(private readonly ctx: RoleContext) {}

  start(): void {
    throw new Error(`plugin ${this.ctx.name}: role aggregator is not implemented yet`);
  }

  connected(_nc: NatsConnection, _reconnected: boolean): void {}

  disconnected(): void {}

  async stop(): Promise<void> {}

  stats(): Record<string, unknown> {
    return { role: 'aggregator' };
  }
}
