import type { NatsConnection } from '@nats-io/transport-node';
import type { NatsRole, RoleContext } from './role';

/** The sidecar role: forwards this agent's events from its store to the stream (being built). */
export class Forwarder implements NatsRole {
  constructor(private readonly ctx: RoleContext) {}

  start(): void {}

  connected(_nc: NatsConnection, _reconnected: boolean): void {}

  disconnected(): void {}

  async stop(): Promise<void> {}

  stats(): Record<string, unknown> {
    return { role: 'sidecar', agent_id: this.ctx.agentId };
  }
}
