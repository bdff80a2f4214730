import { z } from 'zod';

/**
 * Prometheus durations (`prometheus/common/model.Duration`), the format of every duration in an
 * `alertmanager.yml`: units from largest to smallest, each at most once (`1h30m`, `1d`, `2w`,
 * `500ms`), or `0`. Different from the agent's own durationSchema on purpose: an imported file
 * must mean what it means to Alertmanager.
 */

const UNITS: readonly (readonly [string, number])[] = [
  ['y', 365 * 24 * 3_600_000],
  ['w', 7 * 24 * 3_600_000],
  ['d', 24 * 3_600_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
  ['ms', 1],
];

const FORM = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;

/** Milliseconds of a Prometheus duration; undefined when `text` is not one (`""` and `30` are not; `0` is). */
export function parsePrometheusDuration(text: string): number | undefined {
  if (text === '0') return 0;
  if (text === '') return undefined;
  const parts = FORM.exec(text);
  if (!parts) return undefined;
  let ms = 0;
  for (const [i, [, size]] of UNITS.entries()) {
    if (parts[i + 1] !== undefined) ms += Number(parts[i + 1]) * size;
  }
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** The canonical Prometheus form of a duration, as Alertmanager prints it: `30s`, `4h`, `1d`, `1w`, `0s`. */
export function formatPrometheusDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let text = '';
  for (const [unit, size] of UNITS) {
    // Years only when exact: 400d reads better as 57w1d than as 1y5w.
    if (unit === 'y' && rest % size !== 0) continue;
    const amount = Math.floor(rest / size);
    if (amount > 0) {
      text += `${amount}${unit}`;
      rest -= amount * size;
    }
  }
  return text;
}

/** A Prometheus duration, as milliseconds. A bare number is not one (Alertmanager refuses `30`), except 0. */
export const promDuration = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    const ms = parsePrometheusDuration(String(value));
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `not a valid duration: "${String(value)}" (Prometheus format, e.g. 30s, 5m, 1h30m, 1d)` });
      return z.NEVER;
    }
    return ms;
  })
  .describe('A Prometheus duration: 30s, 5m, 1h30m, 1d, 1w.');
