import { hostname } from 'node:os';
import { fleetAgentId } from './agent-id';

describe('fleetAgentId: one id per agent for subjects and the agent label', () => {
  it('is agent.name when it is a subject token already', () => {
    expect(fleetAgentId('web-1')).toBe('web-1');
    expect(fleetAgentId('Web_2')).toBe('Web_2');
  });

  it('turns what a subject token cannot hold into _ (dots would be subject levels)', () => {
    expect(fleetAgentId('web.1')).toBe('web_1');
    expect(fleetAgentId('edge 1 / eu')).toBe('edge_1_eu');
    expect(fleetAgentId('...')).toBe('agent');
  });

  it('is the host name when agent.name is the default or unknown', () => {
    const host = hostname().replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '') || 'agent';
    expect(fleetAgentId('praxis-agent')).toBe(host);
    expect(fleetAgentId(undefined)).toBe(host);
  });
});
