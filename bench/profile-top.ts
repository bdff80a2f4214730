/**
 * The top self-time functions of a V8 CPU profile (`node --cpu-prof`), e.g. of the agent under a
 * scenario: BENCH_AGENT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench -- durable,
 * then `node dist/bench/profile-top.js /tmp/prof/<file>.cpuprofile [count]`. Prints each function's
 * share of the busy time (every sample but V8's "(idle)": a server measured in alternating windows
 * idles most of its life), with its file:line and the caller that spent most of it there.
 * `--by-file` sums self time per file instead (per package under node_modules): where start-up goes.
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

export function topSelfTime(profile: Profile, count: number): { busyMs: number; idleMs: number; stoppedMs: number; top: SelfTime[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, ProfileNode>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const self = new Map<string, { name: string; where: string; ms: number; callers: Map<string, number> }>();
  let busyMs = 0;
  let idleMs = 0;
  let stoppedMs = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node) return;
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
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
  return { busyMs, idleMs, stoppedMs, top };
}

/** A gap between two samples (normally ~1 ms) longer than this is not attributed to any function. */
const STOPPED_MS = 50;

if (require.main === module) {
  const args = process.argv.slice(2);
  const byFile = args.includes('--by-file');
  const [file, count = '20'] = args.filter((a) => a !== '--by-file');
  if (!file) {
    process.stderr.write('usage: node dist/bench/profile-top.js <file.cpuprofile> [count] [--by-file]\n');
    process.exit(2);
  }
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const { busyMs, idleMs, stoppedMs, top } = topSelfTime(profile, byFile ? Infinity : Number(count));
  process.stdout.write(`${path.basename(file)}: ${busyMs.toFixed(0)} ms busy, ${idleMs.toFixed(0)} ms idle, ${stoppedMs.toFixed(0)} ms stopped; self time, % of busy\n`);
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
