import { EVENT_PATTERN, eventPatternSchema, eventTypeMatcher } from './pattern';

describe('eventTypeMatcher', () => {
  it('matches exact types, prefix.* at any depth and *', () => {
    const matches = eventTypeMatcher(['config.changed', 'agent.*']);
    expect(['config.changed', 'agent.started', 'agent.plugin.failed', 'config.changedx', 'agentx.started', 'system.error'].filter(matches)).toEqual([
      'config.changed',
      'agent.started',
      'agent.plugin.failed',
    ]);
    expect(eventTypeMatcher(['*'])('anything.at.all')).toBe(true);
    expect(eventTypeMatcher([])('system.error')).toBe(false);
    expect(eventTypeMatcher(new Set(['system.*']))('system.error')).toBe(true);
  });
});

describe('event type pattern syntax', () => {
  it.each(['*', 'system.error', 'agent.*', 'alert.sink_failed', 'a.b.c.*'])('accepts %p', (pattern) => {
    expect(EVENT_PATTERN.test(pattern)).toBe(true);
    expect(eventPatternSchema.safeParse(pattern).success).toBe(true);
  });

  it.each(['', 'System.error', 'system.*.error', 'system*', '.error', 'system.', '**'])('rejects %p with a hint', (pattern) => {
    expect(EVENT_PATTERN.test(pattern)).toBe(false);
    expect(eventPatternSchema.safeParse(pattern).error?.issues[0].message).toBe('use an event type, "prefix.*" or "*"');
  });
});
