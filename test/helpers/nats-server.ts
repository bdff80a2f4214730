import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The machine's own nats-server (leave it running and unchanged): fine for round trips on unique streams. */
export const SYSTEM_NATS = 'nats://127.0.0.1:4222';

/** Ports for the servers tests start themselves (outage tests): one range, probed for a free port. */
const PORT_RANGE = { first: 14300, last: 14349 };

/** The range of the aggregator's tests (test/nats-aggregator.test.ts), apart from the sidecar's. */
export const AGGREGATOR_PORT_RANGE = { first: 14350, last: 14399 };

/** The range of the aggregator lease tests (test/nats-aggregator.test.ts, a server paused under the holder). */
export const LEASE_PORT_RANGE = { first: 14500, last: 14549 };

/** The range of the alert state replication tests (test/nats-alert-state.test.ts: servers killed and paused under two aggregators). */
export const ALERT_STATE_PORT_RANGE = { first: 14600, last: 14649 };

/** The range of FleetLease's own tests (plugins/nats/lease.test.ts) and the operator-mode (creds file) tests. */
export const LEASE_UNIT_PORT_RANGE = { first: 14650, last: 14699 };

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function pickPort(range: { first: number; last: number }): Promise<number> {
  // Start at a random place in the range: test files run in parallel.
  const size = range.last - range.first + 1;
  const start = Math.floor(Math.random() * size);
  for (let i = 0; i < size; i++) {
    const port = range.first + ((start + i) % size);
    if (await portFree(port)) return port;
  }
  throw new Error(`no free port in ${range.first}-${range.last} for a test nats-server`);
}

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A real `nats-server -js` of the test's own, on a port of its own with its own store folder: it
 * can be killed (an outage) and started again on the same port and folder (the stream survives).
 */
export class TestNatsServer {
  private child?: ChildProcess;
  readonly storeDir: string;
  private output = '';

  private constructor(
    readonly port: number,
    private readonly extraArgs: string[],
  ) {
    this.storeDir = mkdtempSync(path.join(tmpdir(), 'praxis-nats-'));
  }

  /** Starts a server on a free port of `range`; `args` are added (e.g. `['--auth', token]`). */
  static async start(args: string[] = [], range = PORT_RANGE): Promise<TestNatsServer> {
    const server = new TestNatsServer(await pickPort(range), args);
    await server.start();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts (again) on the same port and store folder; resolves once it accepts connections. */
  async start(): Promise<void> {
    if (this.child) return;
    const child = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.storeDir, ...this.extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout?.on('data', (b: Buffer) => (this.output += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (this.output += b.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 10_000;
    let exitedEarly = false;
    void exited.then(() => (exitedEarly = true));
    while (!(await accepting(this.port))) {
      if (exitedEarly) throw new Error(`nats-server on ${this.port} exited: ${this.output}`);
      if (Date.now() > deadline) throw new Error(`nats-server on ${this.port} did not start within 10 s: ${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Kills the server (SIGKILL: an outage, not a shutdown); resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGSTOP: the server hangs with its sockets open (a partition, not an outage); `resume` sends SIGCONT. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** Kills the server and removes its store folder. */
  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

/**
 * A server for round-trip tests: the machine's own on 4222 when it runs one (tests use streams of
 * their own there and delete them), else a {@link TestNatsServer} for this test file. Call
 * `dispose` in afterAll.
 */
export async function roundTripServer(): Promise<{ url: string; dispose: () => Promise<void> }> {
  if (await accepting(4222)) return { url: SYSTEM_NATS, dispose: async () => undefined };
  const own = await TestNatsServer.start();
  return { url: own.url, dispose: () => own.dispose() };
}
