import { definePlugin, injectable, On, z, type Event } from 'praxis-agent';
import { createPluginHarness } from 'praxis-agent/testing';

@injectable()
class Both {
  readonly seen: string[] = [];

  @On('system.*')
  onSystem(event: Event<'system.error'> | Event<'system.health'> | Event<'system.shutdown'>): void {
    this.seen.push(`system:${event.type}`);
  }

  @On('config.changed', { capacity: 4, overflow: 'drop_oldest' })
  onConfig(event: Event<'config.changed'>): void {
    this.seen.push(`config:${event.data.config_path}`);
  }
}

@injectable()
class Mistyped {
  // @ts-expect-error the compiler rejects a handler whose parameter does not match its pattern
  @On('system.error') onError(_event: Event<'config.changed'>): void {}
}

describe('plugin SDK', () => {
  it('subscribes @On handlers after start, with wildcards and per-handler options, and removes them at stop', async () => {
    const h = createPluginHarness(definePlugin({ name: 'both', version: '1.0.0', configSchema: z.object({}), plugin: Both }));
    await h.start();
    expect(h.subscriptions).toBe(2);
    expect(h.bus.stats().handlers.filter((s) => s.owner === 'both').map((s) => [s.id.split('#')[0], s.capacity, s.overflow])).toEqual([
      ['both:onSystem', 1024, 'block'],
      ['both:onConfig', 4, 'drop_oldest'],
    ]);
    await h.bus.publish('system.health', { status: 'healthy', services: {} });
    await h.bus.publish('config.changed', { config_path: 'a.yaml#x', old_value: 1, new_value: 2 });
    await h.bus.publish('service.status', { service_name: 'api', status: 'healthy' });
    await h.stop();
    expect((h.instance as Both).seen).toEqual(['system:system.health', 'config:a.yaml#x']);
    expect(h.subscriptions).toBe(0);
  });

  it('rejects plugin names that are not lower-kebab-case', () => {
    expect(() => definePlugin({ name: 'Bad_Name', version: '1.0.0', configSchema: z.object({}), plugin: Mistyped })).toThrow(/lower-kebab-case/);
  });
});
