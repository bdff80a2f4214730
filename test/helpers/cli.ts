import { execFile, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

export const REPO = path.resolve(__dirname, '../..');
export const BIN = path.join(REPO, 'bin/praxis-agent.js');

/** A port that was free a moment ago: the shipped health check names the admin port, so it cannot be 0. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The environment that runs the shipped config out of the way of a running agent and the checkout:
 * a free admin port (its self-check names it), any WebSocket port, a temp data folder.
 */
export async function shippedConfigEnv(): Promise<Record<string, string>> {
  return { PRAXIS_PORT: String(await freePort()), PRAXIS_WS_PORT: '0', PRAXIS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'praxis-data-')) };
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI to completion (`npm test` builds dist/ first). */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, cwd = REPO): CliResult {
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** {@link runCli} without blocking the test's event loop: for a command talking to a server the test itself runs. */
export function runCliAsync(args: string[], env: NodeJS.ProcessEnv = {}, cwd = REPO): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

/** Agent processes started by the current test; the afterEach below ends any a test left running. */
const running = new Set<AgentProcess>();
afterEach(() => {
  for (const agent of running) agent.kill('SIGKILL');
  running.clear();
});

/** A running `praxis-agent start`, its JSON log lines collected as they arrive; killed after the test at the latest. */
export class AgentProcess {
  readonly lines: Record<string, unknown>[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcessWithoutNullStreams;
  private waiters: { match: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }[] = [];

  /**
   * `command`: what runs the agent, `args` appended; `npm start --` runs it as a user would.
   * `ownGroup`: the command leads a process group of its own, as a terminal's foreground job does (see {@link killGroup}).
   */
  constructor(args: string[], env: NodeJS.ProcessEnv = {}, command: readonly string[] = [process.execPath, BIN, 'start'], ownGroup = false) {
    this.child = spawn(command[0], [...command.slice(1), ...args], { cwd: REPO, env: { ...process.env, ...env }, detached: ownGroup });
    readline.createInterface({ input: this.child.stdout }).on('line', (text) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { raw: text };
      }
      this.lines.push(line);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(line)) return true;
        w.resolve(line);
        return false;
      });
    });
    this.child.stderr.on('data', (chunk: Buffer) => this.stderr.push(chunk.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    running.add(this);
    void this.exited.then(() => running.delete(this));
  }

  /** Resolves with the first log line (past or future) that matches. */
  waitFor(match: (line: Record<string, unknown>) => boolean, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${this.stderr.join('')}; stdout: ${JSON.stringify(this.lines)}`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  }

  /** Waits for the ready line and returns the admin URL it names. */
  async ready(): Promise<string> {
    const line = await this.waitFor((l) => typeof l.admin_url === 'string' && String(l.msg).startsWith('praxis-agent ready'));
    return line.admin_url as string;
  }

  /** The process spawned (npm's, for `npm start`). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Signals every process of the command's group, as a terminal's Ctrl-C does (needs `ownGroup`). */
  killGroup(signal: NodeJS.Signals): void {
    process.kill(-(this.child.pid as number), signal);
  }
}
