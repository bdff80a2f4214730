/**
 * `npm run bench`: runs every scenario (or those named on the command line), prints one table per
 * scenario with the machine it ran on, and writes the whole run as JSON to bench/results/.
 *
 *   npm run bench                      all scenarios, 5 rounds
 *   npm run bench -- bus --rounds 3    only the bus scenario
 *   npm run bench -- --quick           smaller workloads, a smoke run
 *
 * Not part of `npm test`: tests never assert on time. Compare ratios, not absolute numbers: other
 * processes share the machine, and every ratio is against a baseline measured in the same run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { checkTargets, loadavg, machine, renderTable, summarize, type ScenarioResult } from './harness';
import { SCENARIOS } from './scenarios';

interface Args {
  names: string[];
  rounds: number;
  quick: boolean;
  out?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { names: [], rounds: 5, quick: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--rounds') args.rounds = Number(argv[++i]);
    else if (arg === '--quick') args.quick = true;
    else if (arg === '--out') args.out = argv[++i];
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`usage: npm run bench -- [${SCENARIOS.map((s) => s.name).join('|')} ...] [--rounds N] [--quick] [--out file.json]\n`);
      process.exit(0);
    } else if (arg.startsWith('-')) throw new Error(`unknown option ${arg}`);
    else args.names.push(arg);
  }
  if (!Number.isInteger(args.rounds) || args.rounds < 1) throw new Error('--rounds must be a positive integer');
  const unknown = args.names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  return args;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const host = machine();
  const startedAt = new Date();
  process.stdout.write(`praxis-agent bench — ${host.cores} cores (${host.cpu}), ${host.memory_gib} GiB, node ${host.node}, ${host.platform}, load ${host.loadavg.join(' ')}\n\n`);
  const results: ScenarioResult[] = [];
  const skipped: { scenario: string; reason: string }[] = [];
  for (const scenario of SCENARIOS) {
    if (args.names.length && !args.names.includes(scenario.name)) continue;
    const reason = scenario.unavailable?.();
    if (reason) {
      skipped.push({ scenario: scenario.name, reason });
      process.stdout.write(`== ${scenario.name}: skipped (${reason})\n\n`);
      continue;
    }
    const before = loadavg();
    const result = await scenario.run({ rounds: args.rounds, quick: args.quick, log: (m) => process.stderr.write(`  ${m}\n`) });
    result.load = { before, after: loadavg() };
    results.push(result);
    process.stdout.write(`${renderTable(result)}\n\n`);
  }
  const report = {
    started_at: startedAt.toISOString(),
    duration_s: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
    machine: host,
    options: { rounds: args.rounds, quick: args.quick },
    skipped,
    results: results.map((r) => ({
      ...r,
      measurements: r.measurements.map((m) => ({ ...m, ...summarize(m.samples) })),
      checks: checkTargets(r),
    })),
  };
  const file = args.out ?? path.join(__dirname, '..', '..', 'bench', 'results', `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  const misses = report.results.flatMap((r) => r.checks.filter((c) => !c.pass));
  process.stdout.write(`${misses.length ? `${misses.length} target(s) missed` : 'all targets met'}; results in ${path.relative(process.cwd(), file)} (${report.duration_s}s)\n`);
  // Missing a target is a finding, not a failure of the run: exit 0 unless the harness broke.
  return 0;
}

// Exit through process.exit so that spawned servers and clients are killed (process-probe.ts).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
