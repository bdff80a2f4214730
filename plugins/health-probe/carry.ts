import { createHash } from 'node:crypto';
import type { Clock } from 'praxis-agent';
import type { CheckTrackerState, ServiceTrackerState } from './status';

/**
 * State handed from a stopping instance of the plugin to the next one: a reload that changes the
 * plugin's config restarts it (a new instance), and checks whose config did not change keep their
 * counters, last results and status, and services keep what they published, so the reload neither
 * forgets an outage nor re-announces every service.
 *
 * The SDK has no hand-over for plugin state, so it is kept here in memory, per agent (keyed by the
 * agent's Clock, which every instance of one agent shares and which a new agent or test does not)
 * and per plugin instance name, and taken by the next start only within {@link CARRY_MAX_AGE_MS}.
 */
export interface CarriedState {
  /** Epoch ms (agent clock) when the old instance stopped. */
  at: number;
  /** By `service/check`; only used when the fingerprint still matches. */
  checks: Map<string, CarriedCheck>;
  services: Map<string, ServiceTrackerState>;
  counters: Record<string, number>;
}

export interface CarriedCheck {
  fingerprint: string;
  tracker: CheckTrackerState;
  /** Heartbeats: epoch ms and message of the last report. */
  lastReport?: number;
  lastMessage?: string;
  /** Heartbeats: since when a first report is awaited (a restart does not extend the grace window). */
  watchedSince?: number;
  certWarned?: boolean;
}

/** A restart (stop, then start) takes well under this; state older than it is not taken. */
export const CARRY_MAX_AGE_MS = 300_000;

const carried = new WeakMap<Clock, Map<string, CarriedState>>();

/** Leaves the state of a stopping instance for the next start of the same instance name. */
export function leaveState(clock: Clock, pluginName: string, state: CarriedState): void {
  let byName = carried.get(clock);
  if (!byName) carried.set(clock, (byName = new Map()));
  byName.set(pluginName, state);
}

/** Takes (and forgets) the state a previous instance of `pluginName` left, if it is recent enough. */
export function takeState(clock: Clock, pluginName: string): CarriedState | undefined {
  const byName = carried.get(clock);
  const state = byName?.get(pluginName);
  byName?.delete(pluginName);
  if (!state || clock.now() - state.at > CARRY_MAX_AGE_MS) return undefined;
  return state;
}

/**
 * Identifies a check's configuration: same fingerprint, same check. The config is the parsed
 * (zod) value, whose keys come in schema order, so plain JSON is stable for an unchanged check.
 */
export function fingerprint(config: unknown): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex');
}
