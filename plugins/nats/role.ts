import type { NatsConnection } from '@nats-io/transport-node';
import type { AlertingState, Bus, Clock, EventStore, Logger } from 'praxis-agent';
import type { NatsConfig } from './config';
import type { NatsLink } from './connection';
import type { NATS_ERRORS } from './errors';

/** A code of this plugin's table, for {@link RoleContext.report}. */
export type NatsErrorCode = keyof typeof NATS_ERRORS;

/** What a role (forwarder or aggregator) is given by the plugin. */
export interface RoleContext {
  readonly config: NatsConfig;
  /** This agent in subjects and labels (config.agent_id or its default). */
  readonly agentId: string;
  /** The plugin instance's name: the `component` of its system.error events. */
  readonly name: string;
  readonly bus: Bus;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The agent's event store, when `store` is enabled (the sidecar requires it). */
  readonly store?: EventStore;
  /** The alerting engine's state, when the agent has `alerting:` (the aggregator replicates it). */
  readonly alertingState?: AlertingState;
  readonly link: NatsLink;
  /** Resolves a config path as the agent does (relative to the config file). */
  resolvePath(p: string): string;
  /** Logs and publishes a system.error with one of the plugin's codes; never throws. */
  report(severity: 'critical' | 'error' | 'warning' | 'info', code: NatsErrorCode, message: string, diagnostic?: Record<string, unknown>): void;
}

/**
 * One role of the plugin. The plugin owns the connection ({@link NatsLink}) and calls the role on
 * each connection change; the role owns what flows over it.
 */
export interface NatsRole {
  /** Starts local work (nothing waits for NATS). A throw fails the plugin's start. */
  start(): void | Promise<void>;
  /** A connection is up: (re)check the stream, resume. */
  connected(nc: NatsConnection, reconnected: boolean): void;
  /** The connection is gone: pause, keep everything for later. */
  disconnected(): void;
  /** Stops; what could not be sent stays where it survives a restart. */
  stop(): Promise<void>;
  /** The role's state for /stats, /metrics, /readyz and `fleet status`. */
  stats(): Record<string, unknown>;
}
