import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from './main';

/** `started` is what bin/praxis-agent.js releases the young generation on (bin/load-bundle.js): once, when the agent is ready. */
describe('praxis-agent start: the started hook', () => {
  let dir: string;
  const quiet = { out: () => undefined, err: () => undefined };
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'praxis-started-hook-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const freePort = (): Promise<number> =>
    new Promise((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
  const readyz = (port: number): Promise<number> =>
    fetch(`http://127.0.0.1:${port}/readyz`).then(
      (res) => res.status,
      () => 0,
    );

  function config(port: number): string {
    const file = path.join(dir, 'agent.config.yaml');
    writeFileSync(file, `agent:\n  name: hook-test\nlog:\n  level: error\n  format: json\nhttp:\n  host: 127.0.0.1\n  port: ${port}\nplugins: []\n`);
    return file;
  }

  it('is called once start-up has finished (by the time /readyz answers 200), and the agent stops as usual', async () => {
    const port = await freePort();
    let calls = 0;
    const exited = main(['node', 'praxis-agent', 'start', '--config', config(port)], quiet, { started: () => calls++ });
    while ((await readyz(port)) !== 200) await new Promise((resolve) => setTimeout(resolve, 10));
    const callsWhenReady = calls;
    process.emit('SIGTERM', 'SIGTERM');
    expect(await exited).toBe(0);
    expect({ callsWhenReady, calls }).toEqual({ callsWhenReady: 1, calls: 1 });
  });

  it('is not called when start-up fails', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as net.AddressInfo;
    let calls = 0;
    try {
      const code = await main(['node', 'praxis-agent', 'start', '--config', config(port)], quiet, { started: () => calls++ });
      expect(code).not.toBe(0);
    } finally {
      taken.close();
    }
    expect(calls).toBe(0);
  });
});
