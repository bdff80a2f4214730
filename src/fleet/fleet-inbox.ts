import type { ErrorCode } from '../core/errors';
import type { FieldIssue } from '../events/registry';
import type { Event } from '../events/types';

/**
 * The tag that names the agent an event came from in fleet mode: `agent:<id>`. Only the
 * {@link FleetInbox} sets it (ingest refuses it), so it is also the mark of an event that came from
 * the fleet. Alert rules turn `name:value` tags into labels: it is the `agent` label of every alert
 * made from the event.
 */
export const AGENT_TAG_PREFIX = 'agent:';

/** What {@link FleetInbox.receive} did with one message of another agent. */
export type FleetReceipt =
  | {
      status: 'published';
      event: Event;
      /** Resolves once the event is processed (see {@link FleetInbox.receive}); acknowledge the message then. */
      processed: Promise<void>;
    }
  | {
      /** The agent already has an event with this id (a redelivery, a re-sent message): nothing was published again. */
      status: 'duplicate';
      event_id: string;
      /** Resolves once the original is processed (at once when it already is). */
      processed: Promise<void>;
    }
  | {
      /** The message is not a valid event: reported as `system.error` FLEET_EVENT_REJECTED; redelivering it cannot help. */
      status: 'rejected';
      code: ErrorCode;
      message: string;
      errors: FieldIssue[];
      /** The message's `metadata.event_id`, when it had a readable one. */
      event_id?: string;
    };

/** Counters of a {@link FleetInbox}, for a plugin's stats. */
export interface FleetInboxStats {
  received: number;
  published: number;
  duplicates: number;
  rejected: number;
  /** Published events not processed yet (waiting for the store's commit). */
  in_flight: number;
}

/**
 * Where events of other agents enter this agent's bus (fleet mode): inject `FleetInbox` by type.
 *
 * Contract:
 * - An event keeps its identity: `event_id`, `timestamp`, `source`, `correlation_id` and `tags`
 *   are republished as the origin agent stamped them, plus the tag `agent:<origin>` (any `agent:`
 *   tag the message carried is replaced: the transport, not the payload, says who sent it).
 * - It is validated like every event: the envelope, the complete metadata (`event_id` and
 *   `timestamp` required), the data against this agent's catalogue. An invalid one is published
 *   nowhere, reported as `system.error` FLEET_EVENT_REJECTED and answered `rejected`.
 * - Each event id is processed once: an id the agent already has (in memory, or in the event
 *   store for its whole retention when `store.enabled`) is answered `duplicate`.
 * - Processed means: on the bus and, with the store on, committed to disk. Acknowledge the message
 *   to its transport only then; an agent that dies before has it redelivered and stored once.
 * - Throws BUS_CLOSED while the agent shuts down: leave the message unacknowledged.
 */
export abstract class FleetInbox {
  constructor() {
    // tsyringe constructs an unregistered abstract class silently; fail at resolution instead of at first use.
    if (new.target === FleetInbox) throw new TypeError('FleetInbox is abstract: the agent (or the plugin harness) registers it');
  }

  /** This agent's fleet id (`AgentControl.agentId`): the `agent` label of alerts made from its own events. */
  abstract get agentId(): string;

  /**
   * Validates one message of agent `origin` (the event's JSON, as a sidecar forwards it) and
   * publishes it on this agent's bus; `context` (subject, stream sequence, ...) goes into the
   * diagnostics of a rejection.
   */
  abstract receive(payload: string | Uint8Array, origin: string, context?: Record<string, unknown>): Promise<FleetReceipt>;

  /** Counters since the agent started. */
  abstract stats(): FleetInboxStats;

}

/**
 * The agent `event` came from when it came from the fleet (its `agent:` tag, see
 * {@link AGENT_TAG_PREFIX}), else undefined: a sidecar never forwards such an event back.
 */
export function fleetOrigin(event: Pick<Event, 'metadata'>): string | undefined {
  for (const tag of event.metadata.tags) if (tag.startsWith(AGENT_TAG_PREFIX)) return tag.slice(AGENT_TAG_PREFIX.length);
  return undefined;
}
