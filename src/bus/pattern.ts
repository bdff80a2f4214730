import { z } from 'zod';
import { AgentError } from '../core/errors';

/** The syntax of an event type pattern: an exact type (`system.error`), `prefix.*` (any depth below prefix) or `*`. */
export const EVENT_PATTERN = /^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$/;

/** An event type pattern in a config (`types: [...]`); the syntax only, the type need not exist (yet). */
export const eventPatternSchema = z.string().regex(EVENT_PATTERN, 'use an event type, "prefix.*" or "*"');

/**
 * A predicate for event types from patterns (exact, `prefix.*` or `*`), as the bus matches
 * subscriptions; no pattern matches nothing. Unlike subscribing, it does not require the exact
 * types to exist, so it also serves filters on events read back from files or streams.
 */
export function eventTypeMatcher(patterns: Iterable<string>): (type: string) => boolean {
  const list = [...patterns];
  if (list.includes('*')) return () => true;
  const exact = new Set(list.filter((p) => !p.endsWith('.*')));
  const prefixes = list.filter((p) => p.endsWith('.*')).map((p) => p.slice(0, -1));
  return (type) => exact.has(type) || prefixes.some((prefix) => type.startsWith(prefix));
}

/** A compiled subscription pattern: exact type, `prefix.*` (any depth below prefix) or `*`. */
export interface Matcher {
  readonly pattern: string;
  matches(type: string): boolean;
}

/** Checks the syntax ({@link EVENT_PATTERN}), then that an exact type exists (`isKnownType`). */
export function compilePattern(pattern: string, isKnownType: (type: string) => boolean): Matcher {
  if (!EVENT_PATTERN.test(pattern)) throw invalid(pattern);
  if (pattern === '*') return { pattern, matches: () => true };
  if (pattern.endsWith('.*')) {
    const prefix = pattern.slice(0, -1);
    return { pattern, matches: (type) => type.startsWith(prefix) };
  }
  if (!isKnownType(pattern)) {
    throw new AgentError('EVENT_UNKNOWN_TYPE', `cannot subscribe to unknown event type "${pattern}"`, { type: pattern });
  }
  return { pattern, matches: (type) => type === pattern };
}

function invalid(pattern: string): AgentError {
  return new AgentError('BUS_INVALID_PATTERN', `invalid subscription pattern "${pattern}": use an event type, "prefix.*" or "*"`, { pattern });
}
