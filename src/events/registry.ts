import { z } from 'zod';
import { AgentError } from '../core/errors';
import { coreEventSchemas } from './catalogue';
import { checkDataLimits, checkProtoKeysKept } from './data-limits';
import { eventMetadataSchema } from './metadata';

/** `lower_snake` segments joined by dots, at least two segments: `system.error`, `backup.completed`. */
const EVENT_TYPE_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

/** A field-level validation problem, safe to show to the sender of the event. */
export interface FieldIssue {
  path: string;
  message: string;
}

interface Entry {
  schema: z.ZodType;
  owner: string;
}

/** Renders a zod path as `data.metrics.latency` / `services[0].status`. */
export function formatPath(path: readonly PropertyKey[], prefix = ''): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

export function issuesOf(error: z.ZodError, prefix = ''): FieldIssue[] {
  return error.issues.map((issue) => {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : undefined;
    const path = keys?.length === 1 ? [...issue.path, keys[0]] : issue.path;
    return { path: formatPath(path, prefix) || '(root)', message: issue.message };
  });
}

/**
 * The event catalogue at run time: the built-in schemas plus the ones plugins register. It
 * validates event data at the bus's edge and emits the JSON Schema of every type.
 */
export class EventRegistry {
  private readonly entries = new Map<string, Entry>();

  constructor() {
    for (const [type, schema] of Object.entries(coreEventSchemas)) this.register(type, schema, 'core');
  }

  /**
   * Adds an event type. Registering the same schema object again is a no-op (a plugin restarted
   * by hot reload); a different schema for a known type is an EVENT_TYPE_CONFLICT.
   */
  register(type: string, schema: z.ZodType, owner: string): void {
    if (!EVENT_TYPE_PATTERN.test(type)) {
      throw new AgentError('EVENT_TYPE_INVALID_NAME', `invalid event type name "${type}": use dotted lower_snake segments like "backup.completed"`);
    }
    const existing = this.entries.get(type);
    if (existing) {
      if (existing.schema === schema) return;
      throw new AgentError('EVENT_TYPE_CONFLICT', `event type "${type}" is already defined by ${existing.owner}; ${owner} cannot redefine it`, { type, owner: existing.owner });
    }
    this.entries.set(type, { schema, owner });
  }

  has(type: string): boolean {
    return this.entries.has(type);
  }

  /** All known types, sorted. */
  types(): string[] {
    return [...this.entries.keys()].sort();
  }

  ownerOf(type: string): string | undefined {
    return this.entries.get(type)?.owner;
  }

  /**
   * Parses `data` against the type's schema, within the size limits every event obeys (whoever
   * publishes it). Throws EVENT_UNKNOWN_TYPE, EVENT_TOO_DEEP / EVENT_TOO_LARGE (see data-limits.ts),
   * or EVENT_INVALID naming each bad field; `details.issues` holds the field paths.
   */
  parseData(type: string, data: unknown): unknown {
    const entry = this.entries.get(type);
    if (!entry) {
      throw new AgentError('EVENT_UNKNOWN_TYPE', `unknown event type "${type}"`, { type });
    }
    // Before the schema: a plugin schema may recurse (z.lazy) and must never see unbounded depth.
    const protoKeys = checkDataLimits(type, data);
    const result = entry.schema.safeParse(data);
    if (!result.success) {
      const issues = issuesOf(result.error, 'data');
      throw new AgentError('EVENT_INVALID', `invalid ${type} event: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { type, issues });
    }
    if (protoKeys.length > 0) checkProtoKeysKept(type, result.data, protoKeys);
    return result.data;
  }

  /** JSON Schema (draft 2020-12) of one whole event `{type, data, metadata}`. */
  jsonSchemaOf(type: string): Record<string, unknown> {
    const entry = this.entries.get(type);
    if (!entry) throw new AgentError('EVENT_UNKNOWN_TYPE', `unknown event type "${type}"`, { type });
    const event = z.strictObject({
      type: z.literal(type),
      data: entry.schema,
      metadata: eventMetadataSchema,
    });
    return z.toJSONSchema(event, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  }

  /** `{ [type]: JSON Schema }` for every known type. */
  jsonSchemas(): Record<string, Record<string, unknown>> {
    return Object.fromEntries(this.types().map((t) => [t, this.jsonSchemaOf(t)]));
  }
}
