import { Bus, inject, injectable, LOGGER, PLUGIN_CONFIG, type Event, type EventPattern, type Logger, type Plugin } from 'praxis-agent';
import type { EventLoggerConfig } from './config';

/** Logs each matching event as one line; useful on its own and as the smallest real plugin. */
@injectable()
export class EventLoggerPlugin implements Plugin {
  constructor(
    private readonly bus: Bus,
    @inject(PLUGIN_CONFIG) private readonly config: EventLoggerConfig,
    @inject(LOGGER) private readonly logger: Logger,
  ) {}

  start(): void {
    // Patterns come from YAML, so they are subscribed here rather than declared with @On.
    for (const pattern of this.config.types) {
      this.bus.subscribe(pattern as EventPattern, (event) => this.log(event as Event), { name: `log ${pattern}` });
    }
  }

  stop(): void {
    // Nothing to release: the host removes this plugin's subscriptions.
  }

  private log(event: Event): void {
    const line: Record<string, unknown> = { event: event.type, event_id: event.metadata.event_id, source: event.metadata.source };
    if (event.metadata.correlation_id) line.correlation_id = event.metadata.correlation_id;
    if (this.config.include_data) line.data = event.data;
    this.logger[this.config.level](line, event.type);
  }
}
