import type { RouteConfig } from './config';
import { matchersFromMap, matchesAll, parseMatchers, sortMatchers, type LabelSet, type Matcher } from './matchers';

/**
 * The routing tree, with Alertmanager's semantics (`dispatch/route.go`): depth-first, left to
 * right; a route whose children match delivers only through them; `continue` lets the next
 * siblings match too. Pure: built once from a validated config, then matched against label sets.
 */

/** How alerts that end at a route are grouped, timed and sent: what `amtool config routes test` resolves. */
export interface RouteOptions {
  receiver: string;
  /** Labels to group by, as configured; ignored when `groupByAll`. */
  groupBy: readonly string[];
  /** `group_by: ['...']`: every label of the alert is a grouping label. */
  groupByAll: boolean;
  groupWaitMs: number;
  groupIntervalMs: number;
  repeatIntervalMs: number;
  /** Names of time intervals during which this route is muted. Not inherited (Alertmanager does not). */
  muteTimeIntervals: readonly string[];
  /** Names of time intervals outside which this route is muted. Not inherited (Alertmanager does not). */
  activeTimeIntervals: readonly string[];
}

/** Alertmanager's defaults for the root route. */
export const DEFAULT_ROUTE_OPTIONS: Omit<RouteOptions, 'receiver'> = {
  groupBy: [],
  groupByAll: false,
  groupWaitMs: 30_000,
  groupIntervalMs: 300_000,
  repeatIntervalMs: 14_400_000,
  muteTimeIntervals: [],
  activeTimeIntervals: [],
};

/** One node of the routing tree, its options already merged with its ancestors'. */
export class Route {
  /** Where the route is in the config (`route`, `route.routes[2].routes[0]`), to name it in output and logs. */
  readonly path: string;
  readonly options: RouteOptions;
  /** Every matcher of `matchers`, `match` and `match_re`, in Alertmanager's sort order. */
  readonly matchers: readonly Matcher[];
  readonly continue: boolean;
  readonly routes: readonly Route[];

  /**
   * Builds the route and its subtree from a config validated by routeSchema.
   * @throws MatcherError only for a config that did not pass validation.
   */
  constructor(config: RouteConfig, parent?: Route, path = 'route') {
    this.path = path;
    this.options = inherit(config, parent?.options);
    this.matchers = sortMatchers([
      ...matchersFromMap(config.match ?? {}, '='),
      ...matchersFromMap(config.match_re ?? {}, '=~'),
      ...(config.matchers ?? []).flatMap((line) => parseMatchers(line)),
    ]);
    this.continue = config.continue;
    this.routes = (config.routes ?? []).map((child, i) => new Route(child, this, `${path}.routes[${i}]`));
  }

  /**
   * The routes an alert with these labels ends at, in tree order; empty when this route does not
   * match it (the root matches every alert). A label the alert lacks is the empty string.
   */
  match(labels: LabelSet): Route[] {
    if (!matchesAll(this.matchers, labels)) return [];
    const all: Route[] = [];
    for (const child of this.routes) {
      const matched = child.match(labels);
      all.push(...matched);
      if (matched.length > 0 && !child.continue) break;
    }
    return all.length > 0 ? all : [this];
  }
}

/** A route's options: what it sets, else its parent's, else the defaults. */
function inherit(config: RouteConfig, parent: RouteOptions | undefined): RouteOptions {
  const base: RouteOptions = parent ?? { ...DEFAULT_ROUTE_OPTIONS, receiver: '' };
  // As in Alertmanager, `group_by: []` keeps the parent's grouping (it yields no labels to set),
  // and `['...']` switches to all labels while a list of labels switches back.
  const labels = (config.group_by ?? []).filter((l) => l !== '...');
  const all = config.group_by?.includes('...') ?? false;
  return {
    receiver: config.receiver ? config.receiver : base.receiver,
    groupBy: labels.length > 0 ? labels : base.groupBy,
    groupByAll: labels.length > 0 ? false : all || base.groupByAll,
    groupWaitMs: config.group_wait ?? base.groupWaitMs,
    groupIntervalMs: config.group_interval ?? base.groupIntervalMs,
    repeatIntervalMs: config.repeat_interval ?? base.repeatIntervalMs,
    muteTimeIntervals: config.mute_time_intervals ?? [],
    activeTimeIntervals: config.active_time_intervals ?? [],
  };
}

/** The labels that identify an alert's group at a route: its `group_by` labels the alert has, or all of them with `['...']`. */
export function groupLabels(labels: LabelSet, options: RouteOptions): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter(([name]) => options.groupByAll || options.groupBy.includes(name)));
}
