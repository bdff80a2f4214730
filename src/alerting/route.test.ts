import { alertmanagerConfigSchema } from './config';
import { parseLabelArguments } from './dry-run';
import { parseMatcher } from './matchers';
import { groupLabels, Route } from './route';

/** The module contract later parts of the engine build on; the semantics themselves are checked against Alertmanager in test/alert-route.test.ts. */
function tree(route: unknown): Route {
  const parsed = alertmanagerConfigSchema.parse({ route, receivers: [] });
  return new Route(parsed.route as NonNullable<typeof parsed.route>);
}

describe('Route', () => {
  const root = tree({
    receiver: 'default',
    group_by: ['alertname'],
    routes: [
      { matchers: ['team="db"'], receiver: 'db', group_by: ['...'], routes: [{ match: { severity: 'critical' }, group_wait: '5s' }] },
      { match_re: { team: 'web|api' }, receiver: 'web', continue: true },
      { matchers: ['{team=~"api", env!="dev"}'], receiver: 'api' },
    ],
  });

  test('match returns the routes in tree order, each named by its place in the config', () => {
    expect(root.match({ team: 'db', severity: 'critical' }).map((r) => r.path)).toEqual(['route.routes[0].routes[0]']);
    expect(root.match({ team: 'api' }).map((r) => r.path)).toEqual(['route.routes[1]', 'route.routes[2]']);
    expect(root.match({ team: 'api', env: 'dev' }).map((r) => r.path)).toEqual(['route.routes[1]']);
    expect(root.match({}).map((r) => r.path)).toEqual(['route']);
  });

  test('a child merges its options with its parent and the defaults', () => {
    const [critical] = root.match({ team: 'db', severity: 'critical' });
    expect(critical.options).toEqual({ receiver: 'db', groupBy: ['alertname'], groupByAll: true, groupWaitMs: 5000, groupIntervalMs: 300_000, repeatIntervalMs: 14_400_000, muteTimeIntervals: [], activeTimeIntervals: [] });
  });

  test('matchers of match, match_re and matchers are kept in Alertmanager order', () => {
    expect(root.routes[2].matchers.map(String)).toEqual(['env!="dev"', 'team=~"api"']);
    expect(root.routes[1].matchers.map(String)).toEqual(['team=~"^(?:web|api)$"']);
  });

  test('groupLabels picks the group_by labels the alert has, or all of them with ...', () => {
    const labels = { alertname: 'Disk', team: 'db', severity: 'critical' };
    expect(groupLabels(labels, root.options)).toEqual({ alertname: 'Disk' });
    expect(groupLabels({ team: 'x' }, root.options)).toEqual({});
    expect(groupLabels(labels, root.match(labels)[0].options)).toEqual(labels);
  });
});

test('a label named __proto__ is a label like any other', () => {
  const labels = parseLabelArguments(['__proto__=x', 'a="b"']);
  expect(Object.keys(labels)).toEqual(['__proto__', 'a']);
  expect(parseMatcher('__proto__="x"').matches(labels)).toBe(true);
  expect(Object.keys(groupLabels(labels, { ...tree({ receiver: 'r' }).options, groupByAll: true }))).toEqual(['__proto__', 'a']);
});
