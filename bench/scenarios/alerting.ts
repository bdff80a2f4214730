/**
 * The alerting engine's per-event cost, in-process: what every event a rule matches pays before
 * anything is routed or sent. Variants, interleaved round by round:
 *   - agent: `AlertTable.ingest` of `system.error` events (the default rules: labels from the
 *     event, annotations, fingerprint, the alert's lifecycle), a burst of the same alert as a
 *     storm sends it
 *   - agent: `fingerprint` of a typical label set (7 labels)
 *   - baseline: the straightforward fingerprint (TextEncoder bytes, BigInt FNV-1a 64), the
 *     reference `src/alerting/fingerprint.test.ts` checks the agent's against
 */
import { AlertTable } from '../../src/alerting/alerts';
import { fingerprint } from '../../src/alerting/fingerprint';
import { AlertRules } from '../../src/alerting/rules';
import { FakeClock } from '../../src/core/clock';
import type { Measurement, Scenario, ScenarioContext, ScenarioResult } from '../harness';

const LABELS = { alertname: 'DISK_FULL', component: 'backup', env: 'dev', error_code: 'DISK_FULL', severity: 'error', source: 'ingest', type: 'system.error' };

function referenceFingerprint(labels: Record<string, string>): string {
  const encoder = new TextEncoder();
  let h = 0xcbf29ce484222325n;
  const add = (bytes: Uint8Array): void => {
    for (const b of [...bytes, 0xff]) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  };
  for (const [name, value] of Object.entries(labels).sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
    add(encoder.encode(name));
    add(encoder.encode(value));
  }
  return h.toString(16).padStart(16, '0');
}

/** Operations per second of `op` over `n` calls. */
function rate(n: number, op: (i: number) => unknown): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) op(i);
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

export const alertingScenario: Scenario = {
  name: 'alerting',
  description: 'alert table ingest and fingerprints per event, in-process',
  async run(ctx: ScenarioContext): Promise<ScenarioResult> {
    const n = ctx.quick ? 20_000 : 200_000;
    const table = new AlertTable({ clock: new FakeClock(), rules: new AlertRules({ labels: { env: 'dev' } }) });
    const events = Array.from({ length: 1000 }, (_, i) => ({
      type: 'system.error' as const,
      data: { severity: 'error' as const, message: `disk full ${i}`, error_code: 'DISK_FULL', component: 'backup' },
      metadata: { event_id: `e${i}`, timestamp: '2026-11-30T12:00:00.000Z', source: 'ingest', tags: [] as string[] },
    }));
    const variants: Array<[string, string, (i: number) => unknown]> = [
      ['agent: AlertTable.ingest', 'system.error events/s', (i) => table.ingest(events[i % events.length])],
      ['agent: fingerprint', 'label sets/s', () => fingerprint(LABELS)],
      ['baseline: reference fingerprint', 'label sets/s', () => referenceFingerprint(LABELS)],
    ];
    const measurements: Measurement[] = variants.map(([variant, unit]) => ({ variant, metric: 'throughput', unit, higherIsBetter: true, samples: [] }));
    for (const [, , op] of variants) rate(Math.min(n, 20_000), op); // warm-up
    for (let round = 0; round < ctx.rounds; round++) {
      variants.forEach(([, , op], i) => measurements[i].samples.push(rate(n, op)));
      ctx.log(`alerting round ${round + 1}/${ctx.rounds}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    table.stop();
    return {
      scenario: 'alerting',
      description: this.description,
      rounds: ctx.rounds,
      measurements,
      targets: [{ kind: 'ratio_at_least', variant: 'agent: fingerprint', baseline: 'baseline: reference fingerprint', metric: 'throughput', value: 1 }],
      notes: ['µs per event = 1e6 / events/s; the ingest row includes the fingerprint (one per event)'],
    };
  },
};
