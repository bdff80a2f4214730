import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TestClient } from '../plugins/websocket-broadcaster/test-client';
import { AgentProcess } from './helpers/cli';

/** The dashboard finds the broadcaster through GET /websocket; an agent may run several. */
describe('GET /websocket with two websocket-broadcasters (child process)', () => {
  it('names the one declared first; the other says in the log that the dashboard does not use it, serves its own clients, and takes over when a reload removes the first', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'praxis-ws-discovery-'));
    const config = path.join(dir, 'agent.config.yaml');
    // Declared first but last by name: the choice follows the config, not the names.
    writeFileSync(
      config,
      `log: { level: info, format: json }
http: { host: 127.0.0.1, port: 0 }
plugins:
  - name: public-ws
    use: websocket-broadcaster
    config: { port: 14700, default_event_types: [system.*] }
  - name: a-internal-ws
    use: websocket-broadcaster
    config: { port: 14701 }
`,
    );
    const agent = new AgentProcess(['--config', config]);
    try {
      const admin = await agent.ready();
      const info = (await (await fetch(`${admin}/websocket`)).json()) as { port: number };
      expect(info).toMatchObject({ port: 14700, path: '/ws/events' });
      const note = await agent.waitFor((l) => l.plugin === 'a-internal-ws' && String(l.msg).includes('dashboard does not use this broadcaster'));
      expect(note).toMatchObject({ level: 30, url: 'ws://127.0.0.1:14701/ws/events' });
      expect(String(note.msg)).toContain('declared first');
      expect(agent.lines.filter((l) => l.plugin === 'public-ws' && String(l.msg).includes('dashboard does not use'))).toEqual([]);
      const ready = (await (await fetch(`${admin}/readyz`)).json()) as { ready: boolean; plugins: { name: string; state: string }[] };
      expect(ready.ready).toBe(true);
      expect(ready.plugins.map((p) => [p.name, p.state])).toEqual([['public-ws', 'running'], ['a-internal-ws', 'running']]);
      const client = await TestClient.connect('ws://127.0.0.1:14701/ws/events');
      client.ws.terminate();

      // A reload that removes the one answering: the other, standing by, takes GET /websocket over.
      writeFileSync(
        config,
        `log: { level: info, format: json }
http: { host: 127.0.0.1, port: 0 }
plugins:
  - name: a-internal-ws
    use: websocket-broadcaster
    config: { port: 14701 }
`,
      );
      const reload = await fetch(`${admin}/-/reload`, { method: 'POST' });
      expect(await reload.json()).toMatchObject({ status: 'applied', stopped: ['public-ws'], unchanged: ['a-internal-ws'] });
      expect(await (await fetch(`${admin}/websocket`)).json()).toMatchObject({ port: 14701, path: '/ws/events' });
    } finally {
      agent.kill('SIGTERM');
      await agent.exited;
    }
  });
});
