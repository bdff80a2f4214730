import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FakeSlack } from '../plugins/slack/test-peer';
import { Agent } from '../src/agent/agent';
import { loadConfig } from '../src/config/loader';
import { FakeClock } from '../src/core/clock';
import { silentLogger } from '../src/core/logger';

/**
 * The pipeline's rate limit and Retry-After, through the real Slack sink to a real HTTP server, on
 * the agent's fake clock: a burst of 30 groups to one webhook goes out at the configured rate
 * (Slack's 1 message per second by default), and a 429 with `Retry-After: 2` holds the next
 * attempt at least 2 s, while nothing is dropped or sent twice.
 */
const slack = new FakeSlack();
afterAll(() => slack.close());

/** Real time for the sockets, fake time for the agent. */
const io = (ms = 30): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function startAgent(clock: FakeClock): Promise<Agent> {
  const url = await slack.listen();
  const dir = mkdtempSync(path.join(tmpdir(), 'slack-rate-'));
  const file = path.join(dir, 'agent.config.yaml');
  writeFileSync(
    file,
    `agent: { name: edge-1 }
http: { enabled: false }
store: { enabled: true, data_dir: ./data }
plugins:
  - { name: chat, use: slack, config: { webhook_url: "${url}/services/T/B/x" } }
alerting:
  rules: [{ event: system.error, resolve_timeout: 1h }]
  route: { receiver: team, group_by: [alertname], group_wait: 10s }
  receivers: [{ name: team, sinks: [chat] }]
`,
  );
  const agent = new Agent(loadConfig(file), { clock, logger: silentLogger() });
  await agent.start();
  return agent;
}

async function advance(agent: Agent, clock: FakeClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 100) {
    await agent.bus.idle();
    await clock.advance(Math.min(100, ms - t));
    await io(5);
  }
  await io();
}

it('spreads a burst of 30 groups at one message per second, and waits out a 429 Retry-After', async () => {
  const clock = new FakeClock(Date.UTC(2026, 10, 30, 12));
  const agent = await startAgent(clock);
  try {
    let first = true;
    slack.answer = (_req, res) => {
      if (first) {
        first = false;
        return void res.writeHead(429, { 'retry-after': '2' }).end('rate_limited');
      }
      res.writeHead(200).end('ok');
    };
    for (let i = 0; i < 30; i++) await agent.bus.publish('system.error', { severity: 'error', message: `m${i}`, error_code: `E${i}`, component: 'db' });
    await advance(agent, clock, 10_000);
    // group_wait passed: one request, answered 429 with Retry-After: 2.
    expect(slack.requests).toHaveLength(1);
    await advance(agent, clock, 1_900);
    expect(slack.requests).toHaveLength(1);
    await advance(agent, clock, 200);
    expect(slack.requests).toHaveLength(2);
    // From here one per second: ten more seconds, ten more messages.
    await advance(agent, clock, 10_000);
    expect(slack.requests.length).toBeGreaterThanOrEqual(11);
    expect(slack.requests.length).toBeLessThanOrEqual(13);
    await advance(agent, clock, 25_000);
    const groups = slack.requests.slice(1).map((r) => /E\d+/.exec(r.body)?.[0]);
    expect(groups).toHaveLength(30);
    expect(new Set(groups).size).toBe(30);
  } finally {
    await agent.stop();
  }
}, 60_000);
