import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AgentProcess, runCli } from './helpers/cli';

/** Values that came from `${file:...}` or a secret-looking `${VAR}` are never printed (issue 9, item 7). */
describe('secrets in the config are never echoed', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'praxis-secrets-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function write(name: string, text: string): string {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  }

  const SHADOW = 'root:$6$saltsalt$hashed-shadow-line:19000:0:99999:7:::';

  it('validate and plugins name a plugin whose use comes from a file or a secret variable, without its content', () => {
    const shadow = write('shadow', `${SHADOW}\n`);
    const config = write('agent.config.yaml', ['http:', '  enabled: false', 'plugins:', `  - name: one`, `    use: \${file:${shadow}}`, '  - name: two', '    use: ${PLUGIN_TOKEN}', ''].join('\n'));
    const env = { PLUGIN_TOKEN: './tok-4f9c2e-secret-plugin' };

    const validate = runCli(['validate', '--config', config], env);
    expect(validate.status).toBe(2);
    expect(validate.stderr).toContain(`plugins[0].use: the value of \${file:${shadow}} cannot be used here`);
    expect(validate.stderr).toContain('plugins[1].use: the value of ${PLUGIN_TOKEN} cannot be used here');

    const table = runCli(['plugins', '--config', config], env);
    const json = runCli(['plugins', '--json', '--config', config], env);
    expect(table.stdout).toContain(`the value of \${file:${shadow}}`);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ name: 'one', use: `the value of \${file:${shadow}}`, loads: false }),
      expect.objectContaining({ name: 'two', use: 'the value of ${PLUGIN_TOKEN}', loads: false }),
    ]);
    for (const output of [validate, table, json].flatMap((r) => [r.stdout, r.stderr])) {
      expect(output).not.toMatch(/hashed-shadow-line|tok-4f9c2e/);
    }
  });

  it('a plugin error quoting a secret value says "the value of" instead', () => {
    // A secret in a plugin's own settings is fine, but the plugin's validation message may quote it.
    const token = write('ws-path', 'secret-dir/app.unknownext\n');
    const config = write('agent.config.yaml', ['plugins:', '  - name: watch', '    use: config-watcher', '    config:', `      files: ["\${file:${token}}"]`, ''].join('\n'));
    const result = runCli(['validate', '--config', config]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`cannot tell the format of "the value of \${file:${token}}"`);
    expect(result.stderr).not.toContain('secret-dir');
  });

  it('a listen error on an http.host read from a file does not print the address', async () => {
    const host = write('host', '203.0.113.77\n');
    const config = write('agent.config.yaml', ['log:', '  format: json', 'http:', `  host: \${file:${host}}`, '  port: 0', ''].join('\n'));
    const agent = new AgentProcess(['--config', config]);
    const code = await agent.exited;
    const output = `${agent.lines.map((l) => JSON.stringify(l)).join('\n')}\n${agent.stderr.join('')}`;
    expect(code).not.toBe(0);
    expect(output).toContain('HTTP_LISTEN_FAILED');
    expect(output).toContain(`the value of \${file:${host}}`);
    expect(output).not.toContain('203.0.113.77');
  });

  it('refuses agent.name from a file: agent.starting would carry the file to every consumer', async () => {
    const name = write('name', `${SHADOW}\n`);
    const config = write('agent.config.yaml', ['log:', '  format: json', 'agent:', `  name: \${file:${name}}`, 'http:', '  port: 0', ''].join('\n'));
    const agent = new AgentProcess(['--config', config]);
    expect(await agent.exited).toBe(2);
    const output = `${agent.lines.map((l) => JSON.stringify(l)).join('\n')}\n${agent.stderr.join('')}`;
    expect(output).toContain(`agent.name: the value of \${file:${name}} cannot be used here`);
    expect(output).not.toContain('agent.starting');
    expect(output).not.toContain('hashed-shadow-line');
  });
});
