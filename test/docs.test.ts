import { readFileSync } from 'node:fs';
import path from 'node:path';
import { agentConfigSchema } from '../src/config/schema';
import { ErrorCodeRegistry } from '../src/core/errors';
import { coreEventSchemas } from '../src/events/catalogue';
import { builtinPluginNames, resolvePlugin } from '../src/plugin/resolve';

/** The README is the front door: these tests keep its reference sections true to the code. */
const README = readFileSync(path.join(__dirname, '../README.md'), 'utf8');

/** The core's codes, then each built-in plugin's (declared in its definePlugin), merged as the agent merges them. */
function renderErrorCodes(): string {
  const registry = new ErrorCodeRegistry();
  for (const name of builtinPluginNames()) {
    const { definition } = resolvePlugin(name, __dirname);
    registry.register(definition.name, definition.errors ?? {});
  }
  const rows = registry.list().map(({ code, owner, meaning }) => `| \`${code}\` | ${owner} | ${meaning.replace(/\|/g, '\\|')} |`);
  return ['| code | raised by | meaning |', '|---|---|---|', ...rows].join('\n');
}

describe('README', () => {
  it("lists every error code with its owner and meaning: the core's (src/core/errors.ts) and each built-in plugin's (definePlugin errors)", () => {
    const block = /<!-- error-codes:start -->\n([\s\S]*?)\n<!-- error-codes:end -->/.exec(README)?.[1];
    // On failure, paste the expected block between the markers.
    expect(block).toBe(renderErrorCodes());
  });

  it('documents every core config key in the configuration reference', () => {
    const sections = agentConfigSchema.shape;
    const keys: string[] = [];
    for (const [section, schema] of Object.entries(sections)) {
      if (section === 'plugins') continue;
      const inner = (schema as unknown as { def: { innerType: { shape: Record<string, unknown> } } }).def.innerType.shape;
      for (const key of Object.keys(inner)) keys.push(`${section}.${key}`);
    }
    expect(keys.length).toBeGreaterThan(10);
    expect(keys.filter((key) => !README.includes(`\`${key}\``))).toEqual([]);
  });

  it('describes every built-in event type in the catalogue', () => {
    expect(Object.keys(coreEventSchemas).filter((type) => !README.includes(`| \`${type}\` |`))).toEqual([]);
  });
});
