import { z } from 'zod';
import { builtinPluginNames, BUILTIN_PLUGINS_DIR, resolvePlugin } from '../plugin/resolve';
import { agentConfigSchema } from './schema';

type JsonSchema = Record<string, unknown>;

/**
 * JSON Schema (draft 2020-12) of `agent.config.yaml`, for editors (yaml-language-server) and CI:
 * the core sections, plus each built-in plugin's settings under `plugins[].config`, selected by
 * the entry's `use`. Describes the file as written (`io: 'input'`: defaults make keys optional).
 */
export function configJsonSchema(): JsonSchema {
  const schema = z.toJSONSchema(agentConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const entry = pluginEntryOf(schema);
  const names = builtinPluginNames();
  if (names.length === 0) return schema;

  const defs = (schema.$defs ?? {}) as Record<string, JsonSchema>;
  entry.allOf = names.map((name) => {
    const { definition } = resolvePlugin(name, BUILTIN_PLUGINS_DIR);
    const config = hoistDefs(z.toJSONSchema(definition.configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema, name, defs);
    if (definition.description && config.description === undefined) config.description = definition.description;
    return {
      if: { properties: { use: { const: name } }, required: ['use'] },
      then: { properties: { config } },
    };
  });
  const use = (entry.properties as Record<string, JsonSchema>).use;
  use.examples = names;
  if (Object.keys(defs).length > 0) schema.$defs = defs;
  return schema;
}

/** The schema of one `plugins` item inside the generated document. */
function pluginEntryOf(schema: JsonSchema): JsonSchema {
  const properties = schema.properties as Record<string, JsonSchema>;
  const items = properties.plugins.items as JsonSchema;
  if (typeof items.$ref === 'string') {
    // Only when the entry schema was registered with an id; follow the local reference.
    const id = items.$ref.replace('#/$defs/', '');
    return (schema.$defs as Record<string, JsonSchema>)[id];
  }
  return items;
}

/**
 * A plugin's schema is embedded deep inside ours, where its own `#/$defs/...` references would
 * resolve against our root. Move its definitions to our root under `NAME.ID` and rewrite the
 * references to match; drop its `$schema` (only the root may declare it).
 */
function hoistDefs(schema: JsonSchema, plugin: string, into: Record<string, JsonSchema>): JsonSchema {
  const { $schema: _dialect, $defs, ...rest } = schema;
  const renamed = (id: string) => `${plugin}.${id}`;
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (typeof value !== 'object' || value === null) return value;
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' && v.startsWith('#/$defs/') ? `#/$defs/${renamed(v.slice('#/$defs/'.length))}` : rewrite(v)]),
    );
  };
  for (const [id, def] of Object.entries(($defs ?? {}) as Record<string, JsonSchema>)) into[renamed(id)] = rewrite(def) as JsonSchema;
  return rewrite(rest) as JsonSchema;
}
