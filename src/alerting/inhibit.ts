import type { InhibitRuleConfig } from './config';
import { matchersFromMap, matchesAll, parseMatchers, type LabelSet, type Matcher } from './matchers';

/**
 * Inhibition with Alertmanager's semantics (`inhibit/inhibit.go`, as of 0.25): an alert matching
 * a rule's target side is muted while another alert matching its source side fires with the same
 * values for the rule's `equal` labels. Pure: the caller passes the alerts it knows of.
 */

/** An alert as inhibition sees it. */
export interface InhibitAlert {
  /** The alert's fingerprint (or any stable id), reported as the inhibiting source. */
  id: string;
  /** The alert's labels. */
  labels: LabelSet;
  /** A resolved alert inhibits nothing. */
  resolved: boolean;
}

/** Why an alert is inhibited: the rule (its index in `inhibit_rules`) and the source alert. */
export interface Inhibition {
  /** Index of the rule in `inhibit_rules`. */
  rule: number;
  /** The `id` of the inhibiting alert. */
  sourceId: string;
}

/** One inhibit rule, its `*_match`, `*_match_re` and `*_matchers` merged per side. */
export class InhibitRule {
  /** Matchers an inhibiting (source) alert satisfies. */
  readonly sourceMatchers: readonly Matcher[];
  /** Matchers an inhibited (target) alert satisfies. */
  readonly targetMatchers: readonly Matcher[];
  /** Labels that must have the same value on source and target ("" when missing). */
  readonly equal: readonly string[];

  /**
   * Builds the rule from a config validated by inhibitRuleSchema.
   * @throws MatcherError only for a config that did not pass validation.
   */
  constructor(config: InhibitRuleConfig) {
    const side = (match?: Record<string, string>, matchRe?: Record<string, string>, matchers?: string[]): Matcher[] => [
      ...matchersFromMap(match ?? {}, '='),
      ...matchersFromMap(matchRe ?? {}, '=~'),
      ...(matchers ?? []).flatMap((line) => parseMatchers(line)),
    ];
    this.sourceMatchers = side(config.source_match, config.source_match_re, config.source_matchers);
    this.targetMatchers = side(config.target_match, config.target_match_re, config.target_matchers);
    this.equal = [...new Set(config.equal ?? [])];
  }

  /**
   * The first firing source of this rule for `target`, which the caller has checked matches the
   * target side. A label missing on both sides is equal (both are the empty string). When the
   * target also matches the source side, sources that also match the target side are skipped:
   * of two alerts that both match both sides, neither inhibits the other.
   */
  sourceFor(target: LabelSet, alerts: Iterable<InhibitAlert>): InhibitAlert | undefined {
    const excludeTwoSided = matchesAll(this.sourceMatchers, target);
    for (const alert of alerts) {
      if (alert.resolved || !matchesAll(this.sourceMatchers, alert.labels)) continue;
      if (!this.equal.every((name) => value(alert.labels, name) === value(target, name))) continue;
      if (excludeTwoSided && matchesAll(this.targetMatchers, alert.labels)) continue;
      return alert;
    }
    return undefined;
  }
}

function value(labels: LabelSet, name: string): string {
  return Object.hasOwn(labels, name) ? labels[name] : '';
}

/** Alertmanager's Inhibitor over a validated `inhibit_rules` list. */
export class Inhibitor {
  /** The rules, in config order (an {@link Inhibition}'s `rule` indexes this list). */
  readonly rules: readonly InhibitRule[];

  /** @throws MatcherError only for rules that did not pass validation. */
  constructor(rules: readonly InhibitRuleConfig[]) {
    this.rules = rules.map((rule) => new InhibitRule(rule));
  }

  /**
   * Why an alert with `target` labels is inhibited, given the alerts currently known (each once;
   * the target itself may be among them): the first rule, in config order, whose target side
   * matches and which has a source, and the first such source in `alerts` order. Undefined when
   * the alert is not inhibited.
   */
  inhibitedBy(target: LabelSet, alerts: Iterable<InhibitAlert>): Inhibition | undefined {
    const known = [...alerts];
    for (const [rule, r] of this.rules.entries()) {
      if (!matchesAll(r.targetMatchers, target)) continue;
      const source = r.sourceFor(target, known);
      if (source) return { rule, sourceId: source.id };
    }
    return undefined;
  }

  /** Whether an alert with `target` labels is inhibited by one of `alerts` (see {@link inhibitedBy}). */
  mutes(target: LabelSet, alerts: Iterable<InhibitAlert>): boolean {
    return this.inhibitedBy(target, alerts) !== undefined;
  }
}
