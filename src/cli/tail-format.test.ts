import { gapLine, humanLine, jsonLine, severityOf, useColour, type TailEvent } from './tail-format';

const ESC = '\u001b';

function entry(type: string, data: unknown, offset = 7): TailEvent {
  return { offset, event: { type, data, metadata: { event_id: 'e1', timestamp: '2026-11-30T12:00:00.000Z', source: 'ingest', tags: [] } } };
}

describe('tail output', () => {
  it('colours only on a terminal, and never when NO_COLOR is set to something', () => {
    expect(useColour({ isTTY: true }, {})).toBe(true);
    expect(useColour({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(useColour({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(useColour({ isTTY: false }, {})).toBe(false);
    expect(useColour({}, {})).toBe(false);
  });

  it('prints time, severity as text, type, source and the message; the colour only adds escape codes', () => {
    const error = entry('system.error', { severity: 'critical', message: 'disk full', component: 'db' });
    const plain = humanLine(error, false);
    expect(plain).toMatch(/^2026-11-30T12:00:00\.000Z CRITICAL +system\.error +ingest +disk full$/);
    expect(plain).not.toContain(ESC);
    const coloured = humanLine(error, true);
    expect(coloured).toContain(ESC);
    // eslint-disable-next-line no-control-regex
    expect(coloured.replace(/\u001b\[[\d;]*m/g, '')).toBe(plain);
  });

  it('takes the severity from the data, a service status or an alert\'s labels, else info', () => {
    expect(severityOf(entry('service.status', { service_name: 'api', status: 'unhealthy' }).event)).toBe('critical');
    expect(severityOf(entry('alert.firing', { labels: { alertname: 'DiskFull', severity: 'warning' } }).event)).toBe('warning');
    expect(severityOf(entry('agent.started', { agent_name: 'a' }).event)).toBe('info');
    expect(humanLine(entry('service.status', { service_name: 'api', status: 'degraded' }), false)).toMatch(/ WARNING +service\.status +ingest +api is degraded$/);
  });

  it('summarises other events by their data on one line, control characters from an event neutralised', () => {
    expect(humanLine(entry('agent.started', { agent_name: 'a', plugins: ['x'] }), false)).toMatch(/ INFO +agent\.started +ingest +\{"agent_name":"a","plugins":\["x"\]\}$/);
    const hostile = humanLine(entry('system.error', { severity: 'error', message: `red ${ESC}[31m\nsecond line\u009b`, component: 'x' }), false);
    expect(hostile).not.toContain(ESC);
    expect(hostile).not.toContain('\n');
    expect(hostile).not.toContain('\u009b');
    expect(hostile).toContain('second line');
  });

  it('shows no secret of a config change', () => {
    const line = humanLine(entry('config.changed', { config_path: 'agent.config.yaml#http.auth_token', old_value: 'old-secret', new_value: 'new-secret' }), false);
    expect(line).toContain('agent.config.yaml#http.auth_token');
    expect(line).not.toMatch(/old-secret|new-secret/);
  });

  it('--json lines carry the offset and the event as sent; a gap is a line of its own', () => {
    const error = entry('system.error', { severity: 'error', message: 'm', component: 'c' }, 42);
    expect(JSON.parse(jsonLine(error))).toEqual({ offset: 42, event: error.event });
    expect(JSON.parse(gapLine(41, 'retention removed events', true))).toEqual({ gap: { after_offset: 41, reason: 'retention removed events' } });
    expect(gapLine(41, 'retention removed events', false)).toBe('--- gap: events after offset 41 may be missing (retention removed events) ---');
  });
});
