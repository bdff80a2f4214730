import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, formatProblem, loadConfig, type ConfigProblem } from '../config/loader';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'praxis-alerting-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, lines: string[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** An agent config importing `alertmanager.yml` (written from `lines`) through alerting.config_file. */
function importing(lines: string[], agentLines: string[] = []): string {
  write('alertmanager.yml', lines);
  return write('agent.config.yaml', [...agentLines, 'alerting:', '  config_file: ./alertmanager.yml']);
}

function problemsOf(file: string): ConfigProblem[] {
  try {
    loadConfig(file);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error('expected a ConfigError');
}

/** Problems as `FILE:LINE:COL path: message (CODE)` with the temp dir left out. */
function formatted(file: string): string[] {
  return problemsOf(file).map((p) => formatProblem(p).replaceAll(`${dir}${path.sep}`, ''));
}

/** Whether the real Alertmanager (amtool check-config) accepts the file. */
function amtoolAccepts(file: string): boolean {
  return spawnSync('amtool', ['check-config', file], { encoding: 'utf8' }).status === 0;
}

const VALID = ['route:', '  receiver: default', '  routes:', '    - receiver: team', '      matchers: [team="a"]', 'receivers:', '  - name: default', '  - name: team'];

describe('alerting.config_file: an alertmanager.yml, unchanged', () => {
  test('a valid file loads, and so does the shipped example', () => {
    const file = importing(VALID);
    expect(amtoolAccepts(path.join(dir, 'alertmanager.yml'))).toBe(true);
    const loaded = loadConfig(file);
    expect(loaded.alerting?.route?.routes?.[0]).toMatchObject({ receiver: 'team', matchers: ['team="a"'] });
    expect(loaded.alerting?.receivers.map((r) => r.name)).toEqual(['default', 'team']);
  });

  test('without an alerting section nothing changes', () => {
    const loaded = loadConfig(write('agent.config.yaml', ['agent:', '  name: x']));
    expect(loaded.alerting).toBeUndefined();
    expect(loaded.config.alerting).toBeUndefined();
  });

  // Each file is refused by the real Alertmanager too; ours names its line, key path and code.
  test.each([
    ['a regex RE2 refuses', ['      matchers: [\'team=~"(?=a)"\']'], 'alertmanager.yml:5:18 route.routes[0].matchers[0]: invalid regular expression "(?=a)": error parsing regexp: invalid or unsupported Perl syntax: `(?=` (RE2 syntax: no lookaround, no backreferences) (CONFIG_INVALID_VALUE)'],
    ['a legacy match_re RE2 refuses', ['      match_re:', '        team: (a'], 'alertmanager.yml:6:15 route.routes[0].match_re.team: invalid regular expression "(a": error parsing regexp: missing closing ): `^(?:(a)$` (RE2 syntax: no lookaround, no backreferences) (CONFIG_INVALID_VALUE)'],
    ['a malformed matcher', ["      matchers: ['team=\"a']"], 'alertmanager.yml:5:18 route.routes[0].matchers[0]: matcher value contains unescaped double quote: "a (CONFIG_INVALID_VALUE)'],
    ['an unknown key', ['      matcher: [team="a"]'], 'alertmanager.yml:5:7 route.routes[0].matcher: unknown key "matcher" (did you mean "matchers"?) (CONFIG_UNKNOWN_KEY)'],
    ['a bare number as duration', ['      group_wait: 30'], 'alertmanager.yml:5:19 route.routes[0].group_wait: not a valid duration: "30" (Prometheus format, e.g. 30s, 5m, 1h30m, 1d) (CONFIG_INVALID_VALUE)'],
    ['a zero repeat_interval', ['      repeat_interval: 0s'], 'alertmanager.yml:5:24 route.routes[0].repeat_interval: cannot be zero (CONFIG_INVALID_VALUE)'],
    ["'...' with other labels", ["      group_by: ['...', alertname]"], "alertmanager.yml:5:17 route.routes[0].group_by: cannot have wildcard group_by ('...') and other labels at the same time (CONFIG_INVALID_VALUE)"],
    ['an undefined time interval', ['      mute_time_intervals: [nights]'], 'alertmanager.yml:5:29 route.routes[0].mute_time_intervals[0]: undefined time interval "nights" used in route (CONFIG_INVALID_VALUE)'],
  ])('%s', (_name, routeLines, expected) => {
    const file = importing(['route:', '  receiver: default', '  routes:', '    - receiver: default', ...routeLines, 'receivers:', '  - name: default']);
    expect(amtoolAccepts(path.join(dir, 'alertmanager.yml'))).toBe(false);
    expect(formatted(file)).toEqual([expected]);
  });

  test.each([
    ['an unknown receiver', ['route:', '  receiver: default', '  routes:', '    - receiver: dba', 'receivers:', '  - name: default'], 'alertmanager.yml:4:17 route.routes[0].receiver: undefined receiver "dba" used in route (receivers: default) (CONFIG_INVALID_VALUE)'],
    ['a root route without receiver', ['route:', '  group_by: [a]', 'receivers:', '  - name: default'], 'alertmanager.yml:1:1 route: root route must specify a default receiver (CONFIG_MISSING_KEY)'],
    ['matchers on the root route', ['route:', '  receiver: default', '  matchers: [a="b"]', 'receivers:', '  - name: default'], 'alertmanager.yml:3:3 route.matchers: root route must not have any matchers: it takes every alert (CONFIG_INVALID_VALUE)'],
    ['continue on the root route', ['route:', '  receiver: default', '  continue: true', 'receivers:', '  - name: default'], 'alertmanager.yml:3:13 route.continue: cannot have continue in root route (CONFIG_INVALID_VALUE)'],
    ['two receivers of one name', ['route:', '  receiver: default', 'receivers:', '  - name: default', '  - name: default'], 'alertmanager.yml:5:11 receivers[1].name: receiver name "default" is not unique (CONFIG_INVALID_VALUE)'],
    ['no route', ['receivers:', '  - name: default'], 'alertmanager.yml:1:1 route: missing required key "route" (no route provided in config) (CONFIG_MISSING_KEY)'],
  ])('%s', (_name, lines, expected) => {
    const file = importing(lines);
    expect(amtoolAccepts(path.join(dir, 'alertmanager.yml'))).toBe(false);
    expect(formatted(file)).toEqual([expected]);
  });

  test('time intervals are checked by the time-interval module, at their line (amtool refuses the same file)', () => {
    const file = importing(['route:', '  receiver: default', 'receivers:', '  - name: default', 'time_intervals:', '  - name: weekend', '    time_intervals:', "      - weekdays: ['friday:monday']"]);
    expect(amtoolAccepts(path.join(dir, 'alertmanager.yml'))).toBe(false);
    const [problem, ...rest] = formatted(file);
    expect(rest).toEqual([]);
    expect(problem).toMatch(/^alertmanager\.yml:8:\d+ time_intervals\[0\]\.time_intervals\[0\]\.weekdays(\[0\])?: .*friday.*monday.*\(CONFIG_INVALID_VALUE\)$/);
    const valid = importing(['route:', '  receiver: default', '  routes:', '    - receiver: default', '      mute_time_intervals: [weekend]', 'receivers:', '  - name: default', 'time_intervals:', '  - name: weekend', '    time_intervals:', "      - weekdays: ['monday:friday']", '        location: Europe/Berlin']);
    expect(amtoolAccepts(path.join(dir, 'alertmanager.yml'))).toBe(true);
    expect(loadConfig(valid).alerting?.time_intervals[0]).toMatchObject({ name: 'weekend', time_intervals: [{ weekdays: [{ begin: 1, end: 5 }] }] });
  });

  test('an integration the agent does not provide is refused by name (Alertmanager itself accepts it)', () => {
    const file = importing(['route:', '  receiver: ops', 'receivers:', '  - name: ops', '    opsgenie_configs:', '      - api_key: k']);
    expect(amtoolAccepts(path.join(dir, 'alertmanager.yml'))).toBe(true);
    expect(formatted(file)).toEqual([
      "alertmanager.yml:5:5 receivers[0].opsgenie_configs: Alertmanager's opsgenie_configs integration is not supported; supported: email_configs, slack_configs, pagerduty_configs, webhook_configs, or sinks: [<plugin instance>] (ALERTING_UNSUPPORTED)",
    ]);
  });

  test('email, Slack, PagerDuty and webhook configs are accepted and kept for delivery', () => {
    // Alertmanager too refuses an email_configs entry without a smarthost and a sender (here or in global).
    const file = importing(['global:', '  smtp_smarthost: smtp.example.org:587', '  smtp_from: am@example.org', 'route:', '  receiver: ops', 'receivers:', '  - name: ops', '    email_configs:', '      - to: ops@example.org', '    webhook_configs:', '      - url: http://example.org/hook']);
    expect(loadConfig(file).alerting?.receivers[0]).toMatchObject({ name: 'ops', sinks: ['ops-email-0', 'ops-webhook-0'], email_configs: [{ to: 'ops@example.org' }], webhook_configs: [{ url: 'http://example.org/hook' }] });
  });

  test("the agent config's problems come first, then the imported file's, each file in line order", () => {
    write('alertmanager.yml', ['route:', '  receiver: nobody', 'receivers: []']);
    const file = write('agent.config.yaml', ['alerting:', '  config_file: ./alertmanager.yml', 'log:', '  level: loud']);
    expect(formatted(file).map((line) => line.split(': ')[0])).toEqual(['agent.config.yaml:4:10 log.level', 'alertmanager.yml:2:13 route.receiver']);
  });

  test('a YAML error is reported at its line in the imported file, together with problems of the agent config', () => {
    write('alertmanager.yml', ['route:', '  receiver: "default', 'receivers: []']);
    const file = write('agent.config.yaml', ['log:', '  level: loud', 'alerting:', '  config_file: ./alertmanager.yml']);
    const lines = formatted(file);
    expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^agent\.config\.yaml:2:10 log\.level: .*\(CONFIG_INVALID_VALUE\)$/), expect.stringMatching(/^alertmanager\.yml:\d+:\d+ Missing closing "quote \(CONFIG_YAML_SYNTAX\)$/)]));
  });

  test('a config_file that does not exist is reported at alerting.config_file', () => {
    const file = write('agent.config.yaml', ['alerting:', '  config_file: ./missing.yml']);
    expect(formatted(file)).toEqual(['agent.config.yaml:2:16 alerting.config_file: missing.yml: cannot read config file (no such file) (CONFIG_NOT_FOUND)']);
  });
});

describe('alerting inline', () => {
  test('the same keys inline load, their problems at the agent config lines', () => {
    const ok = write('agent.config.yaml', ['alerting:', ...VALID.map((l) => `  ${l}`)]);
    expect(loadConfig(ok).alerting?.route?.receiver).toBe('default');
    const bad = write('bad.config.yaml', ['alerting:', '  route:', '    receiver: nobody', '  receivers:', '    - name: default']);
    expect(formatted(bad)).toEqual(['bad.config.yaml:3:15 alerting.route.receiver: undefined receiver "nobody" used in route (receivers: default) (CONFIG_INVALID_VALUE)']);
  });

  test('config_file and inline keys together are refused, each inline key at its line', () => {
    write('alertmanager.yml', VALID);
    const file = write('agent.config.yaml', ['alerting:', '  config_file: ./alertmanager.yml', '  route:', '    receiver: default']);
    expect(formatted(file)).toEqual(['agent.config.yaml:3:3 alerting.route: "route" cannot be set inline together with alerting.config_file: use one of the two (CONFIG_INVALID_VALUE)']);
  });

  test('an alerting section with neither is refused', () => {
    const file = write('agent.config.yaml', ['alerting:', '  receivers: []']);
    expect(formatted(file)).toEqual(['agent.config.yaml:2:3 alerting.route: missing required key "route" (or alerting.config_file naming an alertmanager.yml) (CONFIG_MISSING_KEY)']);
  });

  test('sinks must be plugin instances declared under plugins', () => {
    const plugins = ['plugins:', '  - name: log', '    use: event-logger'];
    const ok = write('ok.yaml', [...plugins, 'alerting:', '  route: { receiver: ops }', '  receivers:', '    - name: ops', '      sinks: [log]']);
    expect(loadConfig(ok).alerting?.receivers[0].sinks).toEqual(['log']);
    const bad = write('bad.yaml', [...plugins, 'alerting:', '  route: { receiver: ops }', '  receivers:', '    - name: ops', '      sinks: [log, mailer]']);
    expect(formatted(bad)).toEqual(['bad.yaml:8:20 alerting.receivers[0].sinks[1]: sink "mailer" is not a plugin instance declared under plugins: (CONFIG_INVALID_VALUE)']);
  });
});
