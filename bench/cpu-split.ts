/**
 * One CPU for the server under test, the others for what loads it: the agent (every thread) on the
 * first CPU this process may use, the runner (the HTTP load client) and the processes it forks (the
 * WebSocket clients) on the rest, with `taskset` (util-linux). On two cores, without it, the
 * clients process and the agent take CPU from each other, so a loaded agent is measured on less
 * than the core its baseline had (and the clients on less than they need to read what it sends);
 * pinned, each side has its own core, baseline and loaded agent alike.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';

export interface CpuSplit {
  /** taskset CPU lists: the server's CPU, and the CPUs of the runner and its clients. */
  server: string;
  load: string;
  /** The runner's CPUs before the split, restored by {@link CpuSplit.restore}. */
  restore(): void;
  /** Pins every thread of `pid` (and so the threads it starts later) to the server's CPU. */
  pinServer(pid: number): void;
  /** Pins every thread of `pid` to the load side's CPUs. */
  pinLoad(pid: number): void;
}

/** The Cpus_allowed_list of a `/proc/.../status` file (a taskset list, e.g. "0-1"), or undefined. */
function cpusAllowedIn(statusFile: string): string | undefined {
  return /^Cpus_allowed_list:\s*(\S+)/m.exec(fs.readFileSync(statusFile, 'utf8'))?.[1];
}

/** The CPUs `pid` may run on, as a list. */
export function allowedCpus(pid: number | 'self' = 'self'): number[] {
  const list = cpusAllowedIn(`/proc/${pid}/status`);
  if (!list) throw new Error(`no Cpus_allowed_list for ${pid}`);
  return list.split(',').flatMap((part) => {
    const [from, to] = part.split('-').map(Number) as [number, number | undefined];
    return Array.from({ length: (to ?? from) - from + 1 }, (_, i) => from + i);
  });
}

/** The CPUs each thread of `pid` may run on, as distinct taskset lists (one entry when they all agree). */
export function threadCpus(pid: number): string[] {
  const lists = new Set<string>();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      lists.add(cpusAllowedIn(`/proc/${pid}/task/${tid}/status`) ?? '?');
    } catch {
      // the thread ended between listing and reading
    }
  }
  return [...lists];
}

function taskset(pid: number, cpus: string): void {
  execFileSync('taskset', ['--all-tasks', '--cpu-list', '--pid', cpus, String(pid)], { stdio: 'ignore' });
}

/**
 * Why the split cannot be made here, or undefined: it needs taskset and two CPUs this process may
 * use.
 */
export function cpuSplitUnavailable(): string | undefined {
  if (spawnSync('taskset', ['--version']).status !== 0) return 'taskset is not installed (util-linux)';
  const cpus = allowedCpus();
  if (cpus.length < 2) return `this process may use only CPU ${cpus.join(',')}`;
  return undefined;
}

/**
 * The split, when BENCH_CPU_SPLIT=1 or (unset) `byDefault` and it can be made; BENCH_CPU_SPLIT=0
 * turns it off. Asked for (=1) where it cannot be made, it throws saying why. Pins the runner at
 * once, so the processes it forks from now on start on the load side.
 */
export function cpuSplit(byDefault: boolean): CpuSplit | undefined {
  const asked = process.env.BENCH_CPU_SPLIT;
  if (asked !== undefined && asked !== '0' && asked !== '1') throw new Error(`BENCH_CPU_SPLIT must be 0 or 1, not ${JSON.stringify(asked)}`);
  if (asked === '0' || (asked === undefined && !byDefault)) return undefined;
  const unavailable = cpuSplitUnavailable();
  if (unavailable) {
    if (asked === '1') throw new Error(`BENCH_CPU_SPLIT=1: ${unavailable}`);
    return undefined;
  }
  const cpus = allowedCpus();
  const before = cpus.join(',');
  const server = String(cpus[0]);
  const load = cpus.slice(1).join(',');
  taskset(process.pid, load);
  return {
    server,
    load,
    restore: () => taskset(process.pid, before),
    pinServer: (pid) => taskset(pid, server),
    pinLoad: (pid) => taskset(pid, load),
  };
}
