import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from './helpers/cli';

const SCHEMA = path.join(REPO, 'config/agent.config.schema.json');

describe('shipped YAML files', () => {
  const files = ['agent.config.yaml', ...readdirSync(path.join(REPO, 'config')).filter((f) => f.endsWith('.yaml')).map((f) => `config/${f}`)];

  it.each(files)('%s starts with a yaml-language-server $schema line pointing at the committed config schema', (file) => {
    const first = readFileSync(path.join(REPO, file), 'utf8').split('\n')[0];
    const match = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
    expect(match).not.toBeNull();
    expect(path.resolve(path.dirname(path.join(REPO, file)), match![1])).toBe(SCHEMA);
  });

  it('include a commented example config/<name>.yaml for every built-in plugin', () => {
    const builtins = readdirSync(path.join(REPO, 'plugins'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(builtins).toContain('event-logger');
    expect(builtins.filter((name) => !existsSync(path.join(REPO, 'config', `${name}.yaml`)))).toEqual([]);
    for (const name of builtins) expect(readFileSync(path.join(REPO, 'config', `${name}.yaml`), 'utf8')).toMatch(new RegExp(`^\\s+use: ${name}\\b`, 'm'));
  });
});
