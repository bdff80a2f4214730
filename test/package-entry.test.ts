import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO } from './helpers/cli';

/**
 * The package as an author outside this repository gets it: `require('praxis-agent')` and
 * `require('praxis-agent/testing')` resolved through package.json `exports` to the built dist/,
 * in a plain Node process (no jest, no ts-jest path mapping).
 */
function runNode(script: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['-e', script], { cwd: REPO, encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('package entry points', () => {
  it("export the SDK and the typed client from 'praxis-agent'", () => {
    const result = runNode(`
      const sdk = require('praxis-agent');
      console.log(JSON.stringify(['AgentClient', 'definePlugin', 'On', 'Bus', 'Clock', 'z', 'redactSecrets'].map((k) => [k, typeof sdk[k]])));
    `);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual([
      ['AgentClient', 'function'],
      ['definePlugin', 'function'],
      ['On', 'function'],
      ['Bus', 'function'],
      ['Clock', 'function'],
      ['z', 'object'],
      ['redactSecrets', 'function'],
    ]);
  });

  it("let the harness of 'praxis-agent/testing' run a plugin outside jest", () => {
    const fixture = path.join(REPO, 'dist/test/fixtures/third-party-plugin');
    const result = runNode(`
      const { createPluginHarness } = require('praxis-agent/testing');
      const definition = require(${JSON.stringify(fixture)}).default;
      (async () => {
        const h = createPluginHarness(definition, { config: { label: 'outside' } });
        await h.start();
        await h.bus.publish('system.error', { severity: 'info', message: 'hi', component: 'x' });
        await h.bus.idle();
        await h.stop();
        console.log(JSON.stringify({ received: h.instance.received.map((e) => e.type), subscriptions: h.subscriptions }));
      })().catch((error) => { console.error(error); process.exit(1); });
    `);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ received: ['system.error'], subscriptions: 0 });
  });
});
