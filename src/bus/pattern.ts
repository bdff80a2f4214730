import { AgentError } from '../core/errors';

const PREFIX = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;

/** A compiled subscription pattern: exact type, `prefix.*` (any depth below prefix) or `*`. */
export interface Matcher {
  readonly pattern: string;
  matches(type: string): boolean;
}

export function compilePattern(pattern: string, isKnownType: (type: string) => boolean): Matcher {
  if (pattern === '*') return { pattern, matches: () => true };
  if (pattern.endsWith('.*')) {
    const prefix = pattern.slice(0, -1);
    if (!PREFIX.test(prefix.slice(0, -1))) throw invalid(pattern);
    return { pattern, matches: (type) => type.startsWith(prefix) };
  }
  if (pattern.includes('*')) throw invalid(pattern);
  if (!isKnownType(pattern)) {
    throw new AgentError('EVENT_UNKNOWN_TYPE', `cannot subscribe to unknown event type "${pattern}"`, { type: pattern });
  }
  return { pattern, matches: (type) => type === pattern };
}

function invalid(pattern: string): AgentError {
  return new AgentError('BUS_INVALID_PATTERN', `invalid subscription pattern "${pattern}": use an event type, "prefix.*" or "*"`, { pattern });
}
