import { z } from 'zod';
import { thrown } from '../../test/helpers/errors';
import { EventRegistry, formatPath, issuesOf } from './registry';

const backupCompleted = z.strictObject({
  backup_id: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  files: z.array(z.string()).default([]),
});

describe('EventRegistry', () => {
  describe('custom event types', () => {
    it('registers backup.completed and validates its data, applying defaults', () => {
      const registry = new EventRegistry();
      expect(registry.has('backup.completed')).toBe(false);
      registry.register('backup.completed', backupCompleted, 'backup-plugin');

      expect(registry.has('backup.completed')).toBe(true);
      expect(registry.ownerOf('backup.completed')).toBe('backup-plugin');
      expect(registry.types()).toContain('backup.completed');
      expect(registry.parseData('backup.completed', { backup_id: 'b-1', bytes: 2048 })).toEqual({ backup_id: 'b-1', bytes: 2048, files: [] });

      const error = thrown(() => registry.parseData('backup.completed', { backup_id: 'b-1', bytes: -5, extra: 1 }));
      expect(error.code).toBe('EVENT_INVALID');
      expect(error.details).toMatchObject({ type: 'backup.completed' });
      expect((error.details?.issues as { path: string }[]).map((i) => i.path).sort()).toEqual(['data.bytes', 'data.extra']);
      expect(error.message).toContain('data.bytes');
    });

    it('publishes the JSON Schema of a custom type', () => {
      const registry = new EventRegistry();
      registry.register('backup.completed', backupCompleted, 'backup-plugin');
      const schema = registry.jsonSchemaOf('backup.completed') as { properties: { type: { const: string }; data: { required: string[] } } };
      expect(schema.properties.type.const).toBe('backup.completed');
      expect(schema.properties.data.required.sort()).toEqual(['backup_id', 'bytes']);
      expect(Object.keys(registry.jsonSchemas())).toContain('backup.completed');
    });

    it('keeps registrations per instance', () => {
      const a = new EventRegistry();
      a.register('backup.completed', backupCompleted, 'backup-plugin');
      expect(new EventRegistry().has('backup.completed')).toBe(false);
    });

    it('accepts the same schema twice (hot reload), keeping the first owner', () => {
      const registry = new EventRegistry();
      registry.register('backup.completed', backupCompleted, 'backup-plugin');
      expect(() => registry.register('backup.completed', backupCompleted, 'backup-plugin')).not.toThrow();
      expect(() => registry.register('backup.completed', backupCompleted, 'other')).not.toThrow();
      expect(registry.ownerOf('backup.completed')).toBe('backup-plugin');
      expect(registry.types().filter((t) => t === 'backup.completed')).toHaveLength(1);
    });

    it('rejects a conflicting schema for a known type with EVENT_TYPE_CONFLICT, keeping the original', () => {
      const registry = new EventRegistry();
      registry.register('backup.completed', backupCompleted, 'backup-plugin');
      const error = thrown(() => registry.register('backup.completed', z.strictObject({ id: z.string() }), 'rival'));
      expect(error.code).toBe('EVENT_TYPE_CONFLICT');
      expect(error.details).toEqual({ type: 'backup.completed', owner: 'backup-plugin' });
      expect(error.message).toContain('rival');
      // The original schema still applies.
      expect(registry.parseData('backup.completed', { backup_id: 'b', bytes: 1 })).toEqual({ backup_id: 'b', bytes: 1, files: [] });
    });

    it('does not let a plugin redefine a core type', () => {
      const registry = new EventRegistry();
      const error = thrown(() => registry.register('system.error', z.object({}), 'evil'));
      expect(error.code).toBe('EVENT_TYPE_CONFLICT');
      expect(error.details).toEqual({ type: 'system.error', owner: 'core' });
    });

    it.each(['backup', 'Backup.completed', 'backup.Completed', 'backup..completed', '.backup', 'backup.', 'backup.*', '*', '1backup.done', 'backup-x.done', 'backup.completed ', ''])(
      'rejects the bad type name %p',
      (name) => {
        const registry = new EventRegistry();
        const error = thrown(() => registry.register(name, backupCompleted, 'p'));
        expect(error.code).toBe('EVENT_TYPE_INVALID_NAME');
        expect(registry.has(name)).toBe(false);
      },
    );

    it.each(['backup.completed', 'a.b.c', 'x1.y_2'])('accepts the type name %p', (name) => {
      const registry = new EventRegistry();
      registry.register(name, backupCompleted, 'p');
      expect(registry.has(name)).toBe(true);
    });
  });

  it('rejects data for an unknown type with EVENT_UNKNOWN_TYPE', () => {
    const error = thrown(() => new EventRegistry().parseData('backup.completed', {}));
    expect(error.code).toBe('EVENT_UNKNOWN_TYPE');
    expect(error.details).toEqual({ type: 'backup.completed' });
  });

  describe('issue paths', () => {
    it('formats keys with dots and indexes with brackets', () => {
      expect(formatPath(['metrics', 'latency'], 'data')).toBe('data.metrics.latency');
      expect(formatPath(['services', 0, 'status'])).toBe('services[0].status');
      expect(formatPath([], 'data')).toBe('data');
      expect(formatPath([])).toBe('');
    });

    it('reports a root problem as (root) without a prefix', () => {
      const result = z.string().safeParse(1);
      expect(result.success).toBe(false);
      if (!result.success) expect(issuesOf(result.error).map((i) => i.path)).toEqual(['(root)']);
    });
  });
});
