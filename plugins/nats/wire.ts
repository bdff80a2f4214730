import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { AGENT_TAG_PREFIX } from 'praxis-agent';

/**
 * The wire format both roles speak (plugins/nats/README.md, "Wire format"):
 *
 * - subject `<prefix>.<agent_id>.<event type>` (event types are dotted lower_snake segments, valid subject tokens);
 * - payload: the event's JSON exactly as the store and the WebSocket broadcaster serialise it
 *   (`StoredEvent.json`: type, data, metadata with event_id, timestamp, source, tags...), unchanged;
 * - headers: `Nats-Msg-Id` = metadata.event_id (server-side dedup), `Praxis-Agent` = the origin
 *   agent_id, `Praxis-Offset` = the event's offset in the origin agent's store (the sidecar's own
 *   dedup after an outage longer than the duplicate window).
 */
export const HEADER_MSG_ID = 'Nats-Msg-Id';
export const HEADER_AGENT = 'Praxis-Agent';
export const HEADER_OFFSET = 'Praxis-Offset';

/**
 * Events an aggregator took from the stream carry the tag `agent:<agent_id>` (the origin agent),
 * set by the core's FleetInbox: a sidecar never forwards them back (`fleetOrigin` of the SDK), and
 * alerting reads the `agent` label from it.
 */
export { fleetOrigin } from 'praxis-agent';
export const FLEET_TAG_PREFIX = AGENT_TAG_PREFIX;

export function fleetTag(agentId: string): string {
  return `${FLEET_TAG_PREFIX}${agentId}`;
}

/** `<prefix>.<agent_id>.<type>`. */
export function eventSubject(prefix: string, agentId: string, type: string): string {
  return `${prefix}.${agentId}.${type}`;
}

/** Every subject of one agent: `<prefix>.<agent_id>.>`. */
export function agentSubjects(prefix: string, agentId: string): string {
  return `${prefix}.${agentId}.>`;
}

/** The stream's subjects: `<prefix>.>`. */
export function streamSubjects(prefix: string): string[] {
  return [`${prefix}.>`];
}

/** Splits a subject back into agent and type; undefined when it is not `<prefix>.<agent>.<type>`. */
export function parseSubject(prefix: string, subject: string): { agentId: string; type: string } | undefined {
  if (!subject.startsWith(`${prefix}.`)) return undefined;
  const rest = subject.slice(prefix.length + 1);
  const dot = rest.indexOf('.');
  if (dot <= 0 || dot === rest.length - 1) return undefined;
  return { agentId: rest.slice(0, dot), type: rest.slice(dot + 1) };
}

/** The headers of one forwarded event. */
export function eventHeaders(eventId: string, agentId: string, offset: number): MsgHdrs {
  const h = natsHeaders();
  h.set(HEADER_MSG_ID, eventId);
  h.set(HEADER_AGENT, agentId);
  h.set(HEADER_OFFSET, String(offset));
  return h;
}
