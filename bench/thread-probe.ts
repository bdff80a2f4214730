/**
 * CPU time per thread of a process, from /proc/<pid>/task/<tid>/{stat,schedstat,wchan,comm}, grouped
 * by what the thread is: the event loop, V8's platform workers (parallel/concurrent GC, the
 * optimising compiler), libuv's threadpool (fs writes and fsync, DNS, crypto), worker_threads.
 *
 * Node 20 names none of its threads (every `comm` is the process's), so a thread is recognised by
 * when it was created and what it waits on when the process is idle (checked against
 * `gdb -batch -ex "thread apply all bt"` of the agent under node v20.20): the main thread (tid =
 * pid); then node's platform, created before any JavaScript runs: one delayed-task scheduler (its
 * own libuv loop, so it waits in epoll) and `--v8-pool-size` V8 workers (waiting on a condition
 * variable: futex); then the inspector's signal thread (a semaphore: futex); every later thread is a
 * libuv threadpool thread (futex) or a worker_threads isolate (its own event loop: epoll). Where a
 * newer node names its threads (libuv ≥ 1.48: `libuv-worker`, V8 `V8 DefaultWorke`), the name wins.
 */
import fs from 'node:fs';

export type ThreadGroup = 'main' | 'V8 platform (GC, JIT)' | 'libuv threadpool' | 'worker_threads' | 'other';
export const THREAD_GROUPS: readonly ThreadGroup[] = ['main', 'V8 platform (GC, JIT)', 'libuv threadpool', 'worker_threads', 'other'];

export interface ThreadTimes {
  /** From /proc/<tid>/stat: clock ticks (10 ms) of user and system time, in ms. */
  userMs: number;
  systemMs: number;
  /** From /proc/<tid>/schedstat: time on a CPU, in ns resolution (ms). */
  runMs: number;
}

/** Kernel clock ticks per second (USER_HZ): 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

function read(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined; // the thread ended between listing and reading
  }
}

/** The tids of `pid`'s threads, ascending (tids are allocated in order, barring wrap-around). */
export function tidsOf(pid: number): number[] {
  return fs
    .readdirSync(`/proc/${pid}/task`)
    .map(Number)
    .sort((a, b) => a - b);
}

/** CPU times of every thread of `pid` right now, by tid. */
export function threadTimesOf(pid: number): Map<number, ThreadTimes> {
  const times = new Map<number, ThreadTimes>();
  for (const tid of tidsOf(pid)) {
    const stat = read(`/proc/${pid}/task/${tid}/stat`);
    const sched = read(`/proc/${pid}/task/${tid}/schedstat`);
    if (stat === undefined || sched === undefined) continue;
    // Fields after the command name (which may contain spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    times.set(tid, {
      userMs: (Number(fields[11]) * 1000) / CLOCK_TICKS,
      systemMs: (Number(fields[12]) * 1000) / CLOCK_TICKS,
      runMs: Number(sched.split(' ')[0]) / 1e6,
    });
  }
  return times;
}

/** What each thread of `pid` is; call it while the process is idle (see the file comment). */
export function classifyThreads(pid: number, v8PoolSize = 4): Map<number, ThreadGroup> {
  const groups = new Map<number, ThreadGroup>();
  const tids = tidsOf(pid);
  const comm = (tid: number) => read(`/proc/${pid}/task/${tid}/comm`)?.trim() ?? '';
  const waitsInEpoll = (tid: number) => (read(`/proc/${pid}/task/${tid}/wchan`) ?? '').includes('epoll');
  const mainName = comm(pid);
  const rest = tids.filter((tid) => tid !== pid);
  groups.set(pid, 'main');
  // Not the layout described above (another node, threads named differently): do not guess.
  const first = rest[0];
  if (first !== undefined && comm(first) === mainName && !waitsInEpoll(first)) {
    for (const tid of rest) groups.set(tid, 'other');
    return groups;
  }
  let platform = 0; // scheduler + V8 workers seen so far, in creation order
  let inspectorSeen = false;
  for (const tid of rest) {
    const name = comm(tid);
    if (name !== mainName) {
      groups.set(tid, /^libuv/.test(name) ? 'libuv threadpool' : /^V8 |DefaultWork|DelayedTask/.test(name) ? 'V8 platform (GC, JIT)' : 'other');
      continue;
    }
    if (platform < 1 + v8PoolSize) {
      platform++;
      groups.set(tid, 'V8 platform (GC, JIT)');
    } else if (!inspectorSeen) {
      inspectorSeen = true;
      groups.set(tid, 'other');
    } else {
      groups.set(tid, waitsInEpoll(tid) ? 'worker_threads' : 'libuv threadpool');
    }
  }
  return groups;
}

/** Per group, user and system ms (ticks) and run ms (schedstat) used between two snapshots; threads born in between count from 0. */
export function threadDelta(
  before: Map<number, ThreadTimes>,
  after: Map<number, ThreadTimes>,
  groups: Map<number, ThreadGroup>,
): Map<ThreadGroup, ThreadTimes> {
  const out = new Map<ThreadGroup, ThreadTimes>(THREAD_GROUPS.map((g) => [g, { userMs: 0, systemMs: 0, runMs: 0 }]));
  for (const [tid, t] of after) {
    const b = before.get(tid) ?? { userMs: 0, systemMs: 0, runMs: 0 };
    const sum = out.get(groups.get(tid) ?? 'other')!;
    sum.userMs += t.userMs - b.userMs;
    sum.systemMs += t.systemMs - b.systemMs;
    sum.runMs += t.runMs - b.runMs;
  }
  return out;
}
