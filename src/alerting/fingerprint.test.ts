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
});
