import { readFileSync } from 'node:fs';
import path from 'node:path';
import { builtinPluginNames } from '../plugin/resolve';
import { configJsonSchema } from './json-schema';

const COMMITTED = path.resolve(__dirname, '../../config/agent.config.schema.json');
const REGENERATE = 'npx praxis-agent schema --config > config/agent.config.schema.json';

type Json = Record<string, unknown>;

describe('configJsonSchema', () => {
  const schema = configJsonSchema();
  const properties = schema.properties as Record<string, Json>;
  const entry = (properties.plugins as { items: Json }).items;

  it('is a draft 2020-12 schema of the whole file', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(Object.keys(properties)).toEqual(['agent', 'log', 'http', 'bus', 'store', 'plugins', 'alerting']);
    expect(schema.additionalProperties).toBe(false);
  });

  it('describes the input (defaults make keys optional) and keeps .describe() texts', () => {
    const http = properties.http as { properties: Record<string, Json>; required?: string[] };
    expect(http.required).toBeUndefined();
    expect(http.properties.port).toMatchObject({ type: 'integer', default: 9780, description: expect.stringContaining('TCP port') });
    expect((entry.properties as Record<string, Json>).name.description).toContain('Unique name');
    expect(entry.required).toEqual(['name', 'use']);
  });

  it("selects each built-in plugin's config schema by `use`", () => {
    const names = builtinPluginNames();
    const conditionals = (entry.allOf ?? []) as Array<{ if: Json; then: { properties: { config: Json } } }>;
    expect(conditionals.map((c) => c.if)).toEqual(names.map((name) => ({ properties: { use: { const: name } }, required: ['use'] })));
    for (const c of conditionals) {
      expect(c.then.properties.config.$schema).toBeUndefined();
      expect(c.then.properties.config).toHaveProperty('type', 'object');
    }
  });

  it('matches the committed config/agent.config.schema.json', () => {
    const generated = `${JSON.stringify(schema, null, 2)}\n`;
    let committed = '';
    try {
      committed = readFileSync(COMMITTED, 'utf8');
    } catch {
      throw new Error(`config/agent.config.schema.json is missing; generate it with: ${REGENERATE}`);
    }
    if (committed !== generated) {
      throw new Error(`config/agent.config.schema.json is out of date with the config schema; regenerate it with: ${REGENERATE}`);
    }
  });
});
