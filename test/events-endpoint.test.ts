import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent } from '../src/agent/agent';
import { loadConfig } from '../src/config/loader';
import { silentLogger } from '../src/core/logger';
import { sampleEvents } from '../src/testing/samples';

function agentWith(yaml: string): Agent {
  const dir = mkdtempSync(path.join(tmpdir(), 'praxis-events-'));
  const file = path.join(dir, 'agent.config.yaml');
  writeFileSync(file, yaml);
  return new Agent(loadConfig(file), { logger: silentLogger() });
}

interface EventsPage {
  epoch: string;
  recovered: boolean;
  next_offset: number;
  head: number;
  tail: number;
  events: { offset: number; event: { type: string } }[];
}

describe('GET /events (event store on the admin server)', () => {
  let agent: Agent | undefined;
  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
  });

  it('pages through the stored stream, filters by type, requires the token, and shows the store on /stats', async () => {
    agent = agentWith('http:\n  port: 0\n  auth_token: tok\nstore:\n  enabled: true\n  data_dir: ./data\n  max_events: 3\n');
    await agent.start();
    const url = agent.adminUrl as string;
    for (let i = 0; i < 4; i++) await agent.bus.publish('system.error', sampleEvents['system.error']);
    await agent.bus.publish('config.changed', sampleEvents['config.changed']);
    await agent.bus.idle();
    const auth = { authorization: 'Bearer tok' };

    expect((await fetch(`${url}/events`)).status).toBe(401);
    const all = (await (await fetch(`${url}/events?since=0&limit=2`, { headers: auth })).json()) as EventsPage;
    // Offsets 1 and 2 are agent.starting and agent.started.
    expect(all.events.map((e) => [e.offset, e.event.type])).toEqual([[1, 'agent.starting'], [2, 'agent.started']]);
    expect(all).toMatchObject({ recovered: true, next_offset: 3, head: 7, tail: 1 });
    const errors = (await (await fetch(`${url}/events?since=2&types=system.*,config.changed`, { headers: auth })).json()) as EventsPage;
    expect(errors.events.map((e) => e.offset)).toEqual([3, 4, 5, 6, 7]);
    expect(errors.next_offset).toBe(8);

    (agent.store as NonNullable<Agent['store']>).applyRetention();
    const cut = (await (await fetch(`${url}/events?since=2`, { headers: auth })).json()) as EventsPage;
    expect(cut).toMatchObject({ recovered: false, tail: 5 });
    expect(cut.events.map((e) => e.offset)).toEqual([5, 6, 7]);
    const other = (await (await fetch(`${url}/events?since=6&epoch=nope`, { headers: auth })).json()) as EventsPage;
    expect(other.recovered).toBe(false);

    for (const bad of ['since=-1', 'limit=0', 'limit=x', 'types=sys*', 'types=Foo%20Bar']) {
      const res = await fetch(`${url}/events?${bad}`, { headers: auth });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('STORE_BAD_QUERY');
    }
    expect((await fetch(`${url}/stats`)).status).toBe(401);
    const stats = (await (await fetch(`${url}/stats`, { headers: auth })).json()) as { store: Record<string, unknown> };
    expect(stats.store).toMatchObject({ epoch: all.epoch, head: 7, tail: 5, events_removed: 4 });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^praxis_component_stat\{component="store",key="head"\} 7$/m);
  });

  it('has no GET /events and writes nothing when the store is disabled', async () => {
    agent = agentWith('http:\n  port: 0\n');
    await agent.start();
    expect(agent.store).toBeUndefined();
    expect((await fetch(`${agent.adminUrl as string}/events`)).status).toBe(405);
  });

  it('fails to start with STORE_OPEN_FAILED when the data dir is taken by another agent', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'praxis-events-'));
    const yaml = `http:\n  enabled: false\nstore:\n  enabled: true\n  data_dir: ${dir}\n`;
    agent = agentWith(yaml);
    await agent.start();
    const second = agentWith(yaml);
    await expect(second.start()).rejects.toMatchObject({ code: 'STORE_OPEN_FAILED' });
  });
});
