import type { LabelSet } from './matchers';

/**
 * Alertmanager's alert fingerprint: Prometheus' `model.LabelSet.Fingerprint()`
 * (`prometheus/common`, model/signature.go): FNV-1a 64 over the label names in byte order, each
 * name and each value followed by the separator byte 0xff (which cannot occur in UTF-8). The
 * API v2 prints it as 16 lowercase hex digits, and so does the agent: the same labels give the
 * same fingerprint in both, so `amtool` and dashboards can address the agent's alerts by it.
 */

// FNV-1a 64 in two 32-bit halves: plain numbers stay exact (every product is below 2^53), where
// BigInt would allocate on every byte.
const OFFSET_HI = 0xcbf29ce4;
const OFFSET_LO = 0x84222325;
// The FNV 64-bit prime is 2^40 + 0x1b3: h * prime = h * 0x1b3 + (h << 40).
const PRIME_LOW = 0x1b3;
const SEPARATOR = 0xff;

const encoder = new TextEncoder();

/** The fingerprint of a label set, as Alertmanager's API v2 shows it: 16 lowercase hex digits. */
export function fingerprint(labels: LabelSet): string {
  let hi = OFFSET_HI;
  let lo = OFFSET_LO;
  const add = (byte: number): void => {
    lo = (lo ^ byte) >>> 0;
    const low = lo * PRIME_LOW;
    // (h << 40) moves the low half's bits 0..23 to bits 8..31 of the high half.
    hi = (hi * PRIME_LOW + (lo & 0xffffff) * 0x100 + Math.floor(low / 0x1_0000_0000)) >>> 0;
    lo = low >>> 0;
  };
  const addText = (bytes: Uint8Array): void => {
    for (const byte of bytes) add(byte);
    add(SEPARATOR);
  };
  // Go's sort.Strings orders by bytes; JavaScript's default sort by UTF-16 units differs outside the BMP.
  const entries = Object.entries(labels).map(([name, value]) => [encoder.encode(name), encoder.encode(value)] as const);
  entries.sort(([a], [b]) => Buffer.compare(a, b));
  for (const [name, value] of entries) {
    addText(name);
    addText(value);
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}
