import { inhibitRuleSchema } from './config';
import { Inhibitor, type InhibitAlert } from './inhibit';
import type { LabelSet } from './matchers';

/** An inhibitor from rules as written in alertmanager.yml, validated by the config schema first. */
function inhibitor(...rules: unknown[]): Inhibitor {
  return new Inhibitor(rules.map((rule) => inhibitRuleSchema.parse(rule)));
}

function firing(id: string, labels: LabelSet): InhibitAlert {
  return { id, labels, resolved: false };
}

describe('Inhibitor', () => {
  // Re-expressed from Alertmanager's TestInhibitRuleMatches: rule 1's source matches only the
  // source side; rule 2's source matches both sides.
  describe('two rules, one source each (Alertmanager TestInhibitRuleMatches)', () => {
    const ih = inhibitor(
      { source_match: { s1: '1' }, target_match: { t1: '1' }, equal: ['e'] },
      { source_matchers: ['s2="1"'], target_matchers: ['t2="1"'], equal: ['e'] },
    );
    const alerts = [firing('src1', { s1: '1', t1: '2', e: '1' }), firing('src2', { s2: '1', t2: '1', e: '1' })];

    test.each<[string, LabelSet, { rule: number; sourceId: string } | undefined]>([
      ['matches the target of rule 1', { t1: '1', e: '1' }, { rule: 0, sourceId: 'src1' }],
      ['matches the target of rule 2', { t2: '1', e: '1' }, { rule: 1, sourceId: 'src2' }],
      ['matches the target of rule 1, other labels ignored', { t1: '1', t3: '1', e: '1' }, { rule: 0, sourceId: 'src1' }],
      ['matches both targets: the first rule in config order answers', { t1: '1', t2: '1', e: '1' }, { rule: 0, sourceId: 'src1' }],
      ['matches no target', { t1: '0', e: '1' }, undefined],
      ['matches both sides of rule 1; its source matches only the source side', { s1: '1', t1: '1', e: '1' }, { rule: 0, sourceId: 'src1' }],
      ['matches both sides of rule 2, and so does its only source', { s2: '1', t2: '1', e: '1' }, undefined],
      ['equal label differs', { t1: '1', e: '0' }, undefined],
    ])('%s', (_name, target, expected) => {
      expect(ih.inhibitedBy(target, alerts)).toEqual(expected);
      expect(ih.mutes(target, alerts)).toBe(expected !== undefined);
    });
  });

  // Re-expressed from Alertmanager's TestInhibitRuleHasEqual.
  describe('equal labels and resolved sources (Alertmanager TestInhibitRuleHasEqual)', () => {
    test.each<[string, string[], InhibitAlert[], LabelSet, boolean]>([
      ['no source alerts', [], [], { a: 'b' }, false],
      ['no equal labels: any firing source inhibits', [], [firing('1', {})], { a: 'b' }, true],
      [
        'matching sources, all resolved',
        ['a', 'b'],
        [
          { id: '1', labels: { a: 'b', b: 'f' }, resolved: true },
          { id: '2', labels: { a: 'b', b: 'c' }, resolved: true },
        ],
        { a: 'b', b: 'c' },
        false,
      ],
      ['one matching source still firing', ['a'], [{ id: '1', labels: { a: 'b', c: 'd' }, resolved: true }, firing('2', { a: 'b', c: 'f' })], { a: 'b' }, true],
      ['equal label has another value', ['a'], [firing('1', { a: 'c', c: 'd' })], { a: 'b' }, false],
      ['equal label missing on both sides counts as equal', ['zone'], [firing('1', { a: 'c' })], { a: 'b' }, true],
      ['equal label empty on one side and missing on the other is equal', ['zone'], [firing('1', { zone: '' })], { a: 'b' }, true],
      ['equal label missing on the source only', ['zone'], [firing('1', {})], { zone: 'eu' }, false],
      ['equal label missing on the target only', ['zone'], [firing('1', { zone: 'eu' })], {}, false],
    ])('%s', (_name, equal, alerts, target, inhibited) => {
      // Sources carry src="1"; targets do not, so they match only the (empty, match-all) target side.
      const ih = inhibitor({ source_matchers: ['src="1"'], equal });
      const sources = alerts.map((a) => ({ ...a, labels: { ...a.labels, src: '1' } }));
      expect(ih.mutes(target, sources)).toBe(inhibited);
    });
  });

  // Re-expressed from Alertmanager's TestInhibit: the source's latest state is what counts.
  test('a source inhibits while it fires and stops once resolved; the source itself is not inhibited', () => {
    const ih = inhibitor({ source_match: { s: '1' }, target_match: { t: '1' }, equal: ['e'] });
    const target = firing('one', { t: '1', e: 'f' });
    const source = firing('two', { s: '1', e: 'f' });
    expect(ih.mutes(target.labels, [target])).toBe(false);
    expect(ih.mutes(target.labels, [target, source])).toBe(true);
    expect(ih.mutes(source.labels, [target, source])).toBe(false);
    expect(ih.mutes(target.labels, [target, { ...source, resolved: true }])).toBe(false);
  });

  test('of two alerts matching both sides, neither inhibits the other; a one-sided source still does', () => {
    const ih = inhibitor({ source_matchers: ['severity=~"critical|warning"'], target_matchers: ['severity=~"warning|info"'], equal: ['service'] });
    const a = firing('a', { severity: 'warning', service: 'db', instance: '1' });
    const b = firing('b', { severity: 'warning', service: 'db', instance: '2' });
    expect(ih.inhibitedBy(a.labels, [a, b])).toBeUndefined();
    expect(ih.inhibitedBy(b.labels, [a, b])).toBeUndefined();
    const critical = firing('c', { severity: 'critical', service: 'db' });
    // The two-sided b is skipped, the one-sided critical found after it.
    expect(ih.inhibitedBy(a.labels, [b, critical, a])).toEqual({ rule: 0, sourceId: 'c' });
    // A target-only alert is inhibited by a two-sided source.
    expect(ih.inhibitedBy({ severity: 'info', service: 'db' }, [a])).toEqual({ rule: 0, sourceId: 'a' });
  });

  test('legacy match_re is fully anchored, as in Alertmanager', () => {
    const ih = inhibitor({ source_match_re: { alertname: 'Node.*' }, target_match: { severity: 'warning' } });
    expect(ih.mutes({ severity: 'warning' }, [firing('1', { alertname: 'NodeDown' })])).toBe(true);
    expect(ih.mutes({ severity: 'warning' }, [firing('1', { alertname: 'AnyNodeDown' })])).toBe(false);
  });

  test('every matcher of a side must match: match, match_re and matchers together', () => {
    const ih = inhibitor({ source_match: { a: '1' }, source_match_re: { b: '[0-9]' }, source_matchers: ['c!="x"'], target_matchers: ['t="1"'] });
    expect(ih.mutes({ t: '1' }, [firing('s', { a: '1', b: '7' })])).toBe(true);
    expect(ih.mutes({ t: '1' }, [firing('s', { a: '1', b: '7', c: 'x' })])).toBe(false);
    expect(ih.mutes({ t: '1' }, [firing('s', { a: '1', b: 'z' })])).toBe(false);
    expect(ih.mutes({ t: '1' }, [firing('s', { b: '7' })])).toBe(false);
  });

  test('a target matcher on a missing label sees the empty string', () => {
    const ih = inhibitor({ source_matchers: ['alertname="Maintenance"'], target_matchers: ['team=""'] });
    const source = [firing('m', { alertname: 'Maintenance' })];
    expect(ih.mutes({ alertname: 'X' }, source)).toBe(true);
    expect(ih.mutes({ alertname: 'X', team: 'db' }, source)).toBe(false);
  });

  test('no rules: nothing is inhibited', () => {
    expect(inhibitor().mutes({ a: '1' }, [firing('1', { a: '1' })])).toBe(false);
  });
});
