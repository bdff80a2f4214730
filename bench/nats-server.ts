import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A nats-server with JetStream of the bench's own: a random port (-p -1, read from its log) and a temp store folder. */
export class BenchNatsServer {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly url: string,
  ) {}

  /** Why the fleet scenarios cannot run here, or undefined. */
  static unavailable(): string | undefined {
    return spawnSync('nats-server', ['--version']).status === 0 ? undefined : 'nats-server is not installed (Debian package nats-server)';
  }

  static start(): Promise<BenchNatsServer> {
    const dir = mkdtempSync(path.join(tmpdir(), 'praxis-bench-nats-'));
    const child = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', '-1', '-sd', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    return new Promise((resolve, reject) => {
      let log = '';
      const onData = (chunk: Buffer): void => {
        log += chunk.toString();
        const port = /Listening for client connections on [^:]+:(\d+)/.exec(log)?.[1];
        if (port && /Server is ready/.test(log)) {
          child.stderr?.off('data', onData);
          resolve(new BenchNatsServer(child, dir, `nats://127.0.0.1:${port}`));
        }
      };
      child.stderr?.on('data', onData);
      child.once('exit', (code) => reject(new Error(`nats-server exited (${code}): ${log}`)));
    });
  }

  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    await exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
