import { fingerprint } from './fingerprint';

// The comparison with Alertmanager's own fingerprints is test/alert-fingerprint.test.ts (a running
// Alertmanager); these hold without it.
describe('fingerprint', () => {
  test("the empty label set is FNV-1a 64's offset basis (Prometheus' emptyLabelSignature)", () => {
    expect(fingerprint({})).toBe('cbf29ce484222325');
  });

  test('16 lowercase hex digits, the same whatever order the labels were written in', () => {
    const a = fingerprint({ alertname: 'DiskFull', severity: 'critical', service: 'db' });
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(fingerprint({ service: 'db', severity: 'critical', alertname: 'DiskFull' })).toBe(a);
  });

  test('name and value are kept apart, and any change of a value changes it', () => {
    expect(fingerprint({ ab: 'c' })).not.toBe(fingerprint({ a: 'bc' }));
    expect(fingerprint({ a: 'x' })).not.toBe(fingerprint({ a: 'y' }));
  });

  test('hashes the UTF-8 bytes of any text, astral characters and lone surrogates included, in byte order of the names', () => {
    // The straightforward reading of Prometheus' algorithm (TextEncoder bytes, Buffer order), to compare with.
    const reference = (labels: Record<string, string>): string => {
      let h = 0xcbf29ce484222325n;
      const add = (bytes: Uint8Array): void => {
        for (const b of [...bytes, 0xff]) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
      };
      const enc = new TextEncoder();
      for (const [n, v] of Object.entries(labels).sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
        add(enc.encode(n));
        add(enc.encode(v));
      }
      return h.toString(16).padStart(16, '0');
    };
    const samples: Record<string, string>[] = [
      { alertname: 'DiskFull', host: 'db-1' },
      { a: 'ü', b: '€', c: '日本', d: '😀', e: 'x\ud800y', f: '\udc00', g: '' },
      { 'ä': '1', z: '2', '😀': '3', '\uffff': '4' },
    ];
    for (let i = 0; i < 200; i++) {
      const random = (): string => String.fromCharCode(...Array.from({ length: i % 7 }, () => Math.floor(Math.random() * 0x10000)));
      samples.push({ [random() || 'n']: random(), alertname: random() });
    }
    for (const labels of samples) expect(fingerprint(labels)).toBe(reference(labels));
  });
});
