import { formatPrometheusDuration } from './duration';
import { MatcherError, parseMatcher, type LabelSet } from './matchers';
import type { Route } from './route';

/**
 * The routing dry run behind `praxis-agent alert route`: which routes, receivers and settings an
 * alert with given labels gets, without starting the agent. Answers what `amtool config routes
 * test` answers, plus each matched route's settings.
 */

/** One matched route as the dry run reports it; durations in Prometheus form (`30s`, `4h`). */
export interface RouteDecision {
  receiver: string;
  /** `['...']` when grouping by all labels. */
  group_by: string[];
  group_wait: string;
  group_interval: string;
  repeat_interval: string;
  continue: boolean;
  mute_time_intervals: string[];
  active_time_intervals: string[];
}

/** The dry run's answer: receivers in tree order (a receiver may repeat, as with amtool), and each route. */
export interface RoutingDecision {
  receivers: string[];
  routes: RouteDecision[];
}

/** Routes `labels` through the tree rooted at `root`. */
export function decideRouting(root: Route, labels: LabelSet): RoutingDecision {
  const routes = root.match(labels).map((route): RouteDecision => {
    const o = route.options;
    return {
      receiver: o.receiver,
      group_by: o.groupByAll ? ['...'] : [...o.groupBy],
      group_wait: formatPrometheusDuration(o.groupWaitMs),
      group_interval: formatPrometheusDuration(o.groupIntervalMs),
      repeat_interval: formatPrometheusDuration(o.repeatIntervalMs),
      continue: route.continue,
      mute_time_intervals: [...o.muteTimeIntervals],
      active_time_intervals: [...o.activeTimeIntervals],
    };
  });
  return { receivers: routes.map((r) => r.receiver), routes };
}

/**
 * Labels given as amtool takes them: one `name=value` per argument, the value optionally in
 * double quotes (`severity="critical"`); a later argument for the same name wins.
 * @throws MatcherError for an argument that is not `name=value`.
 */
export function parseLabelArguments(args: readonly string[]): Record<string, string> {
  const labels = new Map<string, string>();
  for (const arg of args) {
    const matcher = parseMatcher(arg);
    if (matcher.type !== '=') throw new MatcherError(`labels must be specified as name=value pairs: ${arg}`);
    labels.set(matcher.name, matcher.value);
  }
  // fromEntries defines own properties, so even a label named __proto__ is kept.
  return Object.fromEntries(labels);
}
