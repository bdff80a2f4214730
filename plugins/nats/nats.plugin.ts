import type { NatsConnection } from '@nats-io/transport-node';
import {
  AgentControl,
  ALERTING_STATE,
  AgentError,
  Bus,
  Clock,
  errorMessage,
  EVENT_STORE,
  FleetInbox,
  inject,
  injectable,
  LOGGER,
  PLUGIN_CONFIG,
  PLUGIN_NAME,
  type AlertingState,
  type EventStore,
  type Logger,
  type Plugin,
} from 'praxis-agent';
import { Aggregator } from './aggregator';
import type { NatsConfig } from './config';
import { NatsLink } from './connection';
import { Forwarder } from './forwarder';
import type { NatsErrorCode, NatsRole, RoleContext } from './role';

/**
 * Fleet mode on NATS JetStream. Owns the connection (started without NATS, retried forever) and
 * hands each connection change to its role: `sidecar` forwards this agent's events from the local
 * store to the stream, `aggregator` consumes the fleet's stream into this agent's bus.
 */
@injectable()
export class NatsPlugin implements Plugin {
  readonly agentId: string;
  private readonly link: NatsLink;
  private readonly role: NatsRole;

  constructor(
    private readonly bus: Bus,
    clock: Clock,
    private readonly agent: AgentControl,
    @inject(PLUGIN_CONFIG) private readonly config: NatsConfig,
    @inject(LOGGER) private readonly logger: Logger,
    @inject(PLUGIN_NAME) private readonly name: string,
    inbox: FleetInbox,
    @inject(EVENT_STORE, { isOptional: true }) store?: EventStore,
    @inject(ALERTING_STATE, { isOptional: true }) alertingState?: AlertingState,
  ) {
    this.agentId = config.agent_id ?? agent.agentId;
    if (agent.agentName !== undefined && this.agentId !== agent.agentId) {
      logger.warn({ agent_id: this.agentId, agent_label: agent.agentId }, `nats agent_id ${this.agentId} is not this agent's id ${agent.agentId} (from agent.name): the fleet's aggregators label its events agent=${this.agentId}, its own alerts say agent=${agent.agentId}; set agent.name rather than agent_id`);
    }
    this.link = new NatsLink(config, (p) => agent.resolvePath(p), `praxis-agent ${this.agentId} (${config.role})`, clock, logger, {
      connected: (nc: NatsConnection, reconnected: boolean) => this.role.connected(nc, reconnected),
      disconnected: () => this.role.disconnected(),
      failing: (code, message, diagnostic) => this.report(code === 'NATS_AUTH_FAILED' ? 'critical' : 'error', code, message, diagnostic),
      recovered: ({ downMs, attempts }) => this.report('info', 'NATS_CONNECT_FAILED', `NATS reachable again after ${downMs} ms and ${attempts} failed attempt(s)`, { recovered: true, down_ms: downMs, attempts }),
    });
    const ctx: RoleContext = {
      config,
      agentId: this.agentId,
      name,
      bus,
      clock,
      logger,
      ...(store ? { store } : {}),
      ...(alertingState ? { alertingState } : {}),
      link: this.link,
      resolvePath: (p) => agent.resolvePath(p),
      report: (severity, code, message, diagnostic) => this.report(severity, code, message, diagnostic),
    };
    this.role = config.role === 'aggregator' ? new Aggregator(ctx, inbox) : new Forwarder(ctx);
  }

  async start(): Promise<void> {
    await this.role.start();
    this.link.start();
    this.logger.debug({ role: this.config.role, agent_id: this.agentId, servers: this.link.servers, stream: this.config.stream.name }, `nats ${this.config.role} ${this.agentId} started (connecting to ${this.link.servers.join(', ')})`);
  }

  async stop(): Promise<void> {
    await this.role.stop();
    await this.link.stop();
  }

  stats(): Record<string, unknown> {
    return { role: this.config.role, agent_id: this.agentId, stream: this.config.stream.name, ...this.link.stats(), ...this.role.stats() };
  }

  /** The facts /readyz shows with the plugin (a NATS outage does not make the agent unready: it works locally). */
  status(): Record<string, unknown> {
    const stats = this.stats();
    const keys = ['role', 'connected', 'stream_ok', 'last_acked_offset', 'pending_events', 'consuming', 'consumer_lag', 'lease_role', 'lease_holder', 'last_error'];
    return Object.fromEntries(keys.filter((k) => stats[k] !== undefined).map((k) => [k, stats[k]]));
  }

  private report(severity: 'critical' | 'error' | 'warning' | 'info', code: NatsErrorCode, message: string, diagnostic: Record<string, unknown> = {}): void {
    const level = severity === 'info' ? 'info' : severity === 'warning' ? 'warn' : 'error';
    this.logger[level]({ error_code: code, ...diagnostic }, message);
    this.bus
      .publish('system.error', { severity, message, error_code: code, component: this.name, diagnostic_data: diagnostic })
      .catch((error: unknown) => this.logger.warn({ err: error instanceof AgentError ? `${error.code}: ${error.message}` : errorMessage(error) }, 'could not publish a nats system.error'));
  }
}
