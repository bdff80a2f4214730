/**
 * Example third-party plugin: an error budget per component. It counts `system.error` events per
 * component in a sliding window and publishes `service.status` (degraded, then healthy again)
 * when a component exceeds its budget or, at its next error, is back under it. Written only against the public
 * SDK, with time from the injected Clock so tests run without waiting.
 */
import { Bus, Clock, definePlugin, inject, injectable, On, PLUGIN_CONFIG, z, type Event, type Plugin } from 'praxis-agent';

const configSchema = z.strictObject({
  window_ms: z.number().int().positive().default(60_000).describe('Length of the sliding window.'),
  budget: z.number().int().positive().default(5).describe('Errors per window a component may have before it is degraded.'),
  severities: z.array(z.enum(['critical', 'error', 'warning', 'info'])).default(['critical', 'error']).describe('Which severities count.'),
});

type ErrorBudgetConfig = z.output<typeof configSchema>;

@injectable()
export class ErrorBudgetPlugin implements Plugin {
  private readonly errors = new Map<string, number[]>();
  private readonly degraded = new Set<string>();

  constructor(
    private readonly bus: Bus,
    private readonly clock: Clock,
    @inject(PLUGIN_CONFIG) private readonly config: ErrorBudgetConfig,
  ) {}

  stop(): void {
    this.errors.clear();
    this.degraded.clear();
  }

  @On('system.error')
  async onError(event: Event<'system.error'>): Promise<void> {
    if (!this.config.severities.includes(event.data.severity)) return;
    const { component } = event.data;
    const now = this.clock.now();
    const recent = (this.errors.get(component) ?? []).filter((t) => t > now - this.config.window_ms);
    recent.push(now);
    this.errors.set(component, recent);
    const over = recent.length > this.config.budget;
    if (over === this.degraded.has(component)) return;
    if (over) this.degraded.add(component);
    else this.degraded.delete(component);
    await this.bus.publish(
      'service.status',
      {
        service_name: component,
        status: over ? 'degraded' : 'healthy',
        metrics: { errors_in_window: recent.length, budget: this.config.budget, window_ms: this.config.window_ms },
      },
      { correlation_id: event.metadata.correlation_id },
    );
  }
}

export default definePlugin({
  name: 'error-budget',
  version: '0.1.0',
  description: 'Marks a component degraded when its system.error rate exceeds a budget.',
  configSchema,
  plugin: ErrorBudgetPlugin,
});
