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

// The hash state while one fingerprint is computed (synchronous, so one pair serves every call).
let hi = OFFSET_HI;
let lo = OFFSET_LO;

function mix(byte: number): void {
  lo = (lo ^ byte) >>> 0;
  const low = lo * PRIME_LOW;
  // (h << 40) moves the low half's bits 0..23 to bits 8..31 of the high half.
  hi = (hi * PRIME_LOW + (lo & 0xffffff) * 0x100 + Math.floor(low / 0x1_0000_0000)) >>> 0;
  lo = low >>> 0;
}

/** Mixes the UTF-8 bytes of `text` (a lone surrogate as U+FFFD, as TextEncoder does), then the separator. */
function mixText(text: string): void {
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      mix(c);
      continue;
    }
    if (c < 0x800) {
      mix(0xc0 | (c >> 6));
      mix(0x80 | (c & 0x3f));
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        mix(0xf0 | (c >> 18));
        mix(0x80 | ((c >> 12) & 0x3f));
        mix(0x80 | ((c >> 6) & 0x3f));
        mix(0x80 | (c & 0x3f));
        continue;
      }
      c = 0xfffd;
    }
    mix(0xe0 | (c >> 12));
    mix(0x80 | ((c >> 6) & 0x3f));
    mix(0x80 | (c & 0x3f));
  }
  mix(SEPARATOR);
}

/** Go's byte order of strings; JavaScript's UTF-16 order differs only beside surrogates (astral characters). */
function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

// Label names are [a-zA-Z_][a-zA-Z0-9_]*: sorted by UTF-16 units, which is their byte order.
const NOT_ASCII = /[^ -~]/; // anything outside printable ASCII (a label name has only [a-zA-Z0-9_])

/**
 * The fingerprint of a label set, as Alertmanager's API v2 shows it: 16 lowercase hex digits.
 * Hashes the UTF-8 bytes straight from the strings (no encoding buffers): it runs for every event
 * a rule matches.
 */
export function fingerprint(labels: LabelSet): string {
  const names = Object.keys(labels);
  names.sort(names.some((name) => NOT_ASCII.test(name)) ? byBytes : undefined);
  hi = OFFSET_HI;
  lo = OFFSET_LO;
  for (const name of names) {
    mixText(name);
    mixText(labels[name]);
  }
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}
