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

/** The node arguments that run `praxis-agent start --config <config>` (after `nodeArgs`). */
export function agentArgs(config: string, nodeArgs: string[] = []): string[] {
  return [...nodeArgs, AGENT_BIN, 'start', '--config', config];
}

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
 * port). Rejects when the process exits first or takes longer than `timeoutMs`.
 */
export function spawnUntilReady(args: string[], ready: RegExp, timeoutMs = 15_000): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = track(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
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
