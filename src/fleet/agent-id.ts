import { hostname } from 'node:os';

/** The `agent.name` an agent has when its config sets none: not an identity in a fleet. */
const DEFAULT_AGENT_NAME = 'praxis-agent';

/**
 * This agent's id in the fleet: the `agent` label of alerts made from its own events and the
 * default `agent_id` of the nats plugin (subjects `<prefix>.<agent_id>.<type>`), so an aggregator's
 * alerts about this agent's events carry the same label as this agent's own. It is `agent.name`,
 * else (the name is the default) the host name, made one NATS subject token: letters, digits, `_`
 * and `-` (`web.1` is `web_1`).
 */
export function fleetAgentId(agentName: string | undefined): string {
  const name = agentName !== undefined && agentName !== DEFAULT_AGENT_NAME ? agentName : hostname();
  const token = name.replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '');
  return token === '' ? 'agent' : token;
}
