/**
 * The top self-time functions of a V8 CPU profile (`node --cpu-prof`), e.g. of the agent under a
 * scenario: BENCH_AGENT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench -- durable,
 * then `node dist/bench/profile-top.js /tmp/prof/<file>.cpuprofile [count]`. Prints each function's
 * share of the busy time (every sample but V8's "(idle)": a server measured in alternating windows
 * idles most of its life), with its file:line and the caller that spent most of it there.
 * `--by-file` sums self time per file instead (per package under node_modules): where start-up goes.
 * `--between <from>-<to>[,...]` counts only the samples in those spans (µs of CLOCK_MONOTONIC, the
 * clock of the profile's timestamps and of process.hrtime: fanout-ingest prints its windows' spans
 * when profiling), and `--under <text>` adds the share of the busy time spent under (inclusively)
 * any frame whose location contains <text> (e.g. `websocket-broadcaster/fanout.ts`: the fan-out).
 * Positions in the agent's bundle are named by the module they came from (its source map).
 */
import fs from 'node:fs';
import path from 'node:path';
import { bundleSourceMap } from './source-map';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  /** µs, CLOCK_MONOTONIC (absent: spans count from 0). */
  startTime?: number;
}

/** A span of CLOCK_MONOTONIC in µs. */
export interface Span {
  from: number;
  to: number;
}

/** `from-to,from-to` → spans; throws on anything else. */
export function parseSpans(text: string): Span[] {
  return text.split(',').map((part) => {
    const match = /^(\d+)-(\d+)$/.exec(part.trim());
    if (!match || Number(match[1]) > Number(match[2])) throw new Error(`--between: "${part}" is not <from µs>-<to µs>`);
    return { from: Number(match[1]), to: Number(match[2]) };
  });
}

export interface SelfTime {
  name: string;
  where: string;
  ms: number;
  /** Of the busy time. */
  share: number;
  /** The caller under which most of this self time was spent. */
  caller: string;
}

/** From the last node_modules/ (a dependency) or else the last dist/ (the agent's own code). */
function shortPath(file: string): string {
  const modules = file.lastIndexOf('/node_modules/');
  if (modules >= 0) return file.slice(modules + 1);
  const dist = file.lastIndexOf('/dist/');
  return dist >= 0 ? file.slice(dist + 1) : file;
}

function label(node: ProfileNode | undefined): { name: string; where: string } {
  if (!node) return { name: '(root)', where: '' };
  const { functionName, url, lineNumber, columnNumber = 0 } = node.callFrame;
  const file = url.replace(/^file:\/\//, '');
  const original = file ? bundleSourceMap(file)?.originalPosition(lineNumber, columnNumber) : undefined;
  if (original) {
    // The bundle's sources: dependencies under node_modules/, the agent's own TypeScript beside dist/.
    const from = original.file.includes('/node_modules/') ? shortPath(original.file) : path.relative(path.resolve(path.dirname(file), '..'), original.file);
    return { name: functionName || '(anonymous)', where: `${from}:${original.line + 1}` };
  }
  const where = url ? `${shortPath(file)}:${lineNumber + 1}` : '';
  return { name: functionName || '(anonymous)', where };
}

/** The file of a location (`dist/src/x.js:12`), or its package for node_modules (`node_modules/zod`). */
export function fileOf(where: string): string {
  const file = where.replace(/:\d+$/, '');
  const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  return pkg ? `node_modules/${pkg[1]}` : file || '(native, GC, program)';
}

export function topSelfTime(
  profile: Profile,
  count: number,
  options: { spans?: Span[]; under?: string } = {},
): { busyMs: number; idleMs: number; stoppedMs: number; top: SelfTime[]; underMs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, ProfileNode>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const isUnder = new Map<number, boolean>();
  const under = (node: ProfileNode | undefined): boolean => {
    if (!node || !options.under) return false;
    let known = isUnder.get(node.id);
    if (known === undefined) {
      known = label(node).where.includes(options.under) || under(parent.get(node.id));
      isUnder.set(node.id, known);
    }
    return known;
  };
  let underMs = 0;
  let t = profile.startTime ?? 0;
  const self = new Map<string, { name: string; where: string; ms: number; callers: Map<string, number> }>();
  let busyMs = 0;
  let idleMs = 0;
  let stoppedMs = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node) return;
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    t += ms * 1000;
    if (options.spans && !options.spans.some((s) => t >= s.from && t <= s.to)) return;
    if (ms > STOPPED_MS) {
      // The process was stopped (SIGSTOP in fanout-ingest) or starved: not time spent in this function.
      stoppedMs += ms;
      return;
    }
    const { name, where } = label(node);
    if (name === '(idle)') {
      idleMs += ms;
      return;
    }
    busyMs += ms;
    if (under(node)) underMs += ms;
    const key = `${name}@${where}`;
    const entry = self.get(key) ?? { name, where, ms: 0, callers: new Map<string, number>() };
    entry.ms += ms;
    const p = label(parent.get(node.id));
    const caller = `${p.name} ${p.where}`.trim();
    entry.callers.set(caller, (entry.callers.get(caller) ?? 0) + ms);
    self.set(key, entry);
  });
  const top = [...self.values()]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, count)
    .map((e) => ({ name: e.name, where: e.where, ms: e.ms, share: busyMs ? e.ms / busyMs : 0, caller: [...e.callers].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '' }));
  return { busyMs, idleMs, stoppedMs, top, underMs };
}

/** A gap between two samples (normally ~1 ms) longer than this is not attributed to any function. */
const STOPPED_MS = 50;

if (require.main === module) {
  const args = process.argv.slice(2);
  const byFile = args.includes('--by-file');
  const valueOf = (flag: string): string | undefined => {
    const i = args.indexOf(flag);
    if (i < 0) return undefined;
    const value = args[i + 1];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    args.splice(i, 2);
    return value;
  };
  const between = valueOf('--between');
  const under = valueOf('--under');
  const [file, count = '20'] = args.filter((a) => a !== '--by-file');
  if (!file) {
    process.stderr.write('usage: node dist/bench/profile-top.js <file.cpuprofile> [count] [--by-file] [--between <from µs>-<to µs>[,...]] [--under <location text>]\n');
    process.exit(2);
  }
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const spans = between === undefined ? undefined : parseSpans(between);
  const { busyMs, idleMs, stoppedMs, top, underMs } = topSelfTime(profile, byFile ? Infinity : Number(count), { spans, under });
  const within = spans ? ` within ${spans.length} span(s)` : '';
  process.stdout.write(`${path.basename(file)}${within}: ${busyMs.toFixed(0)} ms busy, ${idleMs.toFixed(0)} ms idle, ${stoppedMs.toFixed(0)} ms stopped; self time, % of busy\n`);
  if (under) process.stdout.write(`under ${under}: ${underMs.toFixed(0)} ms, ${((underMs / Math.max(busyMs, 1e-9)) * 100).toFixed(1)}% of busy\n`);
  if (byFile) {
    const files = new Map<string, number>();
    for (const e of top) files.set(fileOf(e.where), (files.get(fileOf(e.where)) ?? 0) + e.ms);
    for (const [name, ms] of [...files].sort((a, b) => b[1] - a[1]).slice(0, Number(count))) {
      process.stdout.write(`${((ms / busyMs) * 100).toFixed(1).padStart(5)}%  ${ms.toFixed(0).padStart(6)} ms  ${name}\n`);
    }
    process.exit(0);
  }
  for (const e of top) {
    process.stdout.write(`${(e.share * 100).toFixed(1).padStart(5)}%  ${e.ms.toFixed(0).padStart(6)} ms  ${e.name}  ${e.where}  ← ${e.caller}\n`);
  }
}
