/**
 * The benchmark harness: scenarios measure the agent's path and its baseline side by side in the
 * same process run, round after round, and report min / median / max per variant. Targets are
 * ratios against the same-run baseline (the machine is shared and noisy; ratios survive that) or,
 * where the issue sets one, an absolute floor.
 */
import os from 'node:os';

export interface Measurement {
  /** `agent (validated)`, `baseline: microtask bus`, ... */
  variant: string;
  /** What was measured: `events/s`, `idle RSS`, `spawn → ready`. */
  metric: string;
  unit: string;
  /** True for throughput, false for memory and latency. */
  higherIsBetter: boolean;
  /** One value per measured round. */
  samples: number[];
}

/** A target from the issue, checked against the medians of this run. */
export type Target =
  | { kind: 'ratio_at_least'; variant: string; baseline: string; metric: string; value: number }
  | { kind: 'ratio_at_most'; variant: string; baseline: string; metric: string; value: number }
  | { kind: 'at_least'; variant: string; metric: string; value: number; unit: string }
  | { kind: 'at_most'; variant: string; metric: string; value: number; unit: string };

export interface CheckResult {
  target: string;
  measured: string;
  pass: boolean;
}

export interface ScenarioResult {
  scenario: string;
  description: string;
  /** Samples per measurement: the rounds, or rounds × windows where a round has several. */
  rounds: number;
  measurements: Measurement[];
  targets: Target[];
  notes: string[];
  /** 1, 5 and 15 minute load averages before and after the scenario (set by run.ts). */
  load?: { before: number[]; after: number[] };
}

export interface ScenarioContext {
  rounds: number;
  /** Smaller workloads, for a smoke run (`--quick`). */
  quick: boolean;
  log(message: string): void;
}

/** One scenario module: `bench/scenarios/<name>.ts` exports one of these; run.ts lists them. */
export interface Scenario {
  name: string;
  description: string;
  /** Why the scenario cannot run here (a missing component), or undefined when it can. */
  unavailable?(): string | undefined;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

export interface Summary {
  min: number;
  median: number;
  max: number;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { min: sorted[0] ?? NaN, median, max: sorted[sorted.length - 1] ?? NaN };
}

export function medianOf(result: ScenarioResult, variant: string, metric: string): number {
  const m = result.measurements.find((x) => x.variant === variant && x.metric === metric);
  if (!m) throw new Error(`${result.scenario}: no measurement ${variant} / ${metric}`);
  return summarize(m.samples).median;
}

export function checkTargets(result: ScenarioResult): CheckResult[] {
  return result.targets.map((t) => {
    if (t.kind === 'at_least' || t.kind === 'at_most') {
      const v = medianOf(result, t.variant, t.metric);
      const least = t.kind === 'at_least';
      return { target: `${t.variant}: ${t.metric} ${least ? '≥' : '≤'} ${formatNumber(t.value)} ${t.unit}`, measured: `${formatNumber(v)} ${t.unit}`, pass: least ? v >= t.value : v <= t.value };
    }
    const ratio = medianOf(result, t.variant, t.metric) / medianOf(result, t.baseline, t.metric);
    const op = t.kind === 'ratio_at_least' ? '≥' : '≤';
    const pass = t.kind === 'ratio_at_least' ? ratio >= t.value : ratio <= t.value;
    return { target: `${t.variant} / ${t.baseline}: ${t.metric} ${op} ${t.value}×`, measured: `${ratio.toFixed(2)}×`, pass };
  });
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (abs >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  if (abs >= 100) return value.toFixed(0);
  return value.toFixed(abs >= 10 ? 1 : 2);
}

/** The table printed for one scenario; ratios are medians against the scenario's first baseline row. */
export function renderTable(result: ScenarioResult): string {
  const rows: string[][] = [['variant', 'metric', 'min', 'median', 'max', 'ratio']];
  const baselines = new Map<string, number>();
  for (const m of result.measurements) {
    if (m.variant.startsWith('baseline') && !baselines.has(m.metric)) baselines.set(m.metric, summarize(m.samples).median);
  }
  for (const m of result.measurements) {
    const s = summarize(m.samples);
    const base = baselines.get(m.metric);
    const ratio = base && !m.variant.startsWith('baseline') ? `${(s.median / base).toFixed(2)}×` : '';
    rows.push([m.variant, `${m.metric} (${m.unit})`, formatNumber(s.min), formatNumber(s.median), formatNumber(s.max), ratio]);
  }
  const checks = checkTargets(result);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((cell, i) => (i >= 2 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ');
  const out = [`== ${result.scenario}: ${result.description} (${result.rounds} samples per row)`, line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of rows.slice(1)) out.push(line(r));
  for (const c of checks) out.push(`  ${c.pass ? 'PASS' : 'MISS'}  ${c.target}  (measured ${c.measured})`);
  for (const n of result.notes) out.push(`  note: ${n}`);
  if (result.load) out.push(`  load average (1/5/15 min): ${result.load.before.join(' ')} before, ${result.load.after.join(' ')} after`);
  return out.join('\n');
}

export interface Machine {
  cores: number;
  cpu: string;
  memory_gib: number;
  node: string;
  platform: string;
  loadavg: number[];
}

/** The 1, 5 and 15 minute load averages, rounded. */
export function loadavg(): number[] {
  return os.loadavg().map((l) => Math.round(l * 100) / 100);
}

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpu: cpus[0]?.model ?? 'unknown',
    memory_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadavg: loadavg(),
  };
}

/** Resolves after pending microtasks and I/O callbacks have run. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
