/** Spawning a server process, timing it to readiness and reading its memory, from outside it. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';

/** The repository root (this file runs as dist/bench/process-probe.js). */
export const ROOT = path.resolve(__dirname, '..', '..');
/** The agent's CLI, as a user starts it. */
export const AGENT_BIN = path.join(ROOT, 'bin', 'praxis-agent.js');
/** The agent's ready log line; its group is the admin/ingest HTTP port. */
export const AGENT_READY = /praxis-agent ready on http:\/\/127\.0\.0\.1:(\d+)/;

/**
 * An agent.config.yaml for a benchmark: JSON logs at info (the ready line is one), admin/ingest
 * HTTP on 127.0.0.1 port 0, then `plugins`: YAML list items indented by two spaces.
 */
export function benchAgentConfig(name: string, plugins: string): string {
  return `agent:
  name: ${name}
log:
  level: info
  format: json
http:
  host: 127.0.0.1
  port: 0
plugins:
${plugins}`;
}

/** The node arguments that run `praxis-agent start --config <config>` (after `nodeArgs`); `bin`: another build's CLI. */
export function agentArgs(config: string, nodeArgs: string[] = [], bin = AGENT_BIN): string[] {
  return [...nodeArgs, bin, 'start', '--config', config];
}

/**
 * Extra node flags for the agent process only, e.g. BENCH_AGENT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"
 * (BENCH_CLIENTS_NODE_ARGS does the same for the WebSocket clients process).
 */
export const agentNodeArgs = (): string[] => (process.env.BENCH_AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean);

/** Resolves after `ms` milliseconds (real time). */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Every child still running; killed when this process exits, however it exits (Ctrl-C, a timeout). */
const children = new Set<ChildProcess>();
let hooked = false;

/** Makes sure `child` does not outlive the benchmark runner. */
export function track(child: ChildProcess): ChildProcess {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const c of children) c.kill('SIGKILL');
    });
  }
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export interface Spawned {
  child: ChildProcess;
  /** Milliseconds from spawn() to the ready line on stdout. */
  readyMs: number;
  /** The TCP port the process said it listens on. */
  port: number;
  /** The ready line's match, and every stdout line up to it (other ports are announced there). */
  match: RegExpExecArray;
  lines: string[];
  stop(): Promise<void>;
}

/**
 * Spawns `node args...` and resolves when a stdout line matches `ready` (its first group is the
 * port). Rejects when the process exits first or takes longer than `timeoutMs`. `env` is added
 * to this process's environment.
 */
export function spawnUntilReady(args: string[], ready: RegExp, timeoutMs = 15_000, env?: NodeJS.ProcessEnv): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = track(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ? { ...process.env, ...env } : process.env }));
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${args.join(' ')}: not ready after ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`node ${args.join(' ')} exited (${code}) before it was ready; stderr: ${stderr}`));
    };
    child.once('exit', onExit);
    const lines = readline.createInterface({ input: child.stdout! });
    const seen: string[] = [];
    lines.on('line', (line) => {
      seen.push(line);
      const match = ready.exec(line);
      if (!match) return;
      const readyMs = performance.now() - started;
      clearTimeout(timer);
      child.off('exit', onExit);
      lines.removeAllListeners('line');
      lines.on('line', () => undefined); // keep draining: a full pipe would stall the process
      resolve({ child, readyMs, port: Number(match[1]), match, lines: seen, stop: () => stop(child) });
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Resident set size of `pid` in bytes, from /proc (Linux). */
export function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** Opens and closes one TCP connection: proof the port really accepts. */
export function connectOnce(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.end();
      resolve();
    });
    socket.once('error', reject);
  });
}

/** CPU time (user + system) `pid` has used so far, in milliseconds, from /proc (Linux). */
export function cpuTimeOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/**
 * The main thread of `pid` (its event loop): ms on a CPU and ms runnable but waiting for one
 * (/proc/<pid>/schedstat, nanoseconds: a start-up of a few hundred ms is resolved). The JavaScript
 * thread alone, without V8's and libuv's helper threads; the wait is what a busy machine costs a
 * process that never sleeps.
 */
export function schedOf(pid: number): { runMs: number; waitMs: number } {
  const [run, wait] = fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
  return { runMs: (run ?? 0) / 1e6, waitMs: (wait ?? 0) / 1e6 };
}

/** Kernel clock ticks per second (USER_HZ): 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

/**
 * Waits until every process in `pids` is quiet (under 10% of a core over 100 ms), at most
 * `timeoutMs`: a server still working off a backlog (an audit queue, WebSocket buffers) would
 * otherwise take CPU from the next window, which may be another server's.
 */
export async function waitIdle(pids: readonly number[], timeoutMs = 5_000): Promise<void> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const before = pids.map(cpuTimeOf);
    await sleep(100);
    const busy = pids.some((pid, i) => cpuTimeOf(pid) - before[i]! > 10);
    if (!busy || performance.now() > until) return;
  }
}

/** A TCP port free right now on 127.0.0.1 (for a config that must name its own port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
