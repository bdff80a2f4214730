/**
 * What a WebSocket connection costs the agent in memory: RSS of `praxis-agent start` with the
 * websocket-broadcaster before N clients connect, with them connected and idle, after each sent a
 * SUBSCRIBE_EVENTS, and after 1,000 events reached every one of them. Prints KB per connection
 * (RSS deltas ÷ N, each read 1.5 s after the step; no forced GC, so what the heap keeps counts).
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/ws-rss.js [N=2000]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { benchConfig, broadcasterPlugin, startAgent, writeConfig } from './agent-process';
import { IngestConnection, systemErrors } from './http-load';
import { rssOf, sleep } from './process-probe';

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 2000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'praxis-ws-rss-'));
  const agent = await startAgent(writeConfig(dir, 'ws', benchConfig('bench-ws-rss', { plugins: [broadcasterPlugin(n + 100)] })));
  const pid = agent.proc.child.pid!;
  const clients: WebSocket[] = [];
  try {
    const settled = async (): Promise<number> => {
      await sleep(1500);
      return rssOf(pid);
    };
    const until = async (done: () => boolean): Promise<void> => {
      while (!done()) await sleep(50);
    };
    const base = await settled();
    let received = 0;
    await Promise.all(
      Array.from({ length: n }, () =>
        new Promise<void>((resolve, reject) => {
          const ws = new WebSocket(agent.wsUrl!);
          ws.on('message', () => received++);
          ws.once('open', () => resolve());
          ws.once('error', reject);
          clients.push(ws);
        }),
      ),
    );
    const idle = await settled();
    for (const ws of clients) ws.send(JSON.stringify({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: ['system.*', 'service.*'] } }));
    await until(() => received >= 2 * n); // welcome + the answer
    const subscribed = await settled();
    const connection = await IngestConnection.open(agent.port);
    const request = IngestConnection.request(systemErrors(100));
    for (let i = 0; i < 10; i++) await connection.post(request);
    connection.close();
    await until(() => received >= 1002 * n);
    const after = await settled();
    const kb = (rss: number) => ((rss - base) / n / 1024).toFixed(1);
    console.log(`${n} clients, agent RSS ${(base / 2 ** 20).toFixed(1)} MiB without them; KB per connection: idle ${kb(idle)}, subscribed ${kb(subscribed)}, after 1,000 events ${kb(after)}`);
  } finally {
    for (const ws of clients) ws.terminate();
    await agent.proc.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
