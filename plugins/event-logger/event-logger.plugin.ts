import {
  AgentError,
  Bus,
  EventRegistry,
  eventTypeMatcher,
  inject,
  injectable,
  LOGGER,
  PLUGIN_CONFIG,
  redactSecrets,
  redactText,
  type Event,
  type Logger,
  type Notification,
  type Notifier,
  type Plugin,
  type SinkResult,
} from 'praxis-agent';
import type { EventLoggerConfig } from './config';

/**
 * Logs each matching event as one line; useful on its own and as the smallest real plugin. It is
 * also the smallest sink: a receiver that names it gets each notification as one log line, which
 * lets alerting run with no outside service.
 */
@injectable()
export class EventLoggerPlugin implements Plugin, Notifier {
  constructor(
    private readonly bus: Bus,
    private readonly registry: EventRegistry,
    @inject(PLUGIN_CONFIG) private readonly config: EventLoggerConfig,
    @inject(LOGGER) private readonly logger: Logger,
  ) {}

  start(): void {
    const unknown = this.config.types.filter((p) => !p.includes('*') && !this.registry.has(p));
    if (unknown.length > 0) {
      throw new AgentError('EVENT_UNKNOWN_TYPE', `types names unknown event types: ${unknown.join(', ')}`, { types: unknown });
    }
    // One subscription filtered here, not one per pattern: overlapping patterns ("*" and
    // "system.*") must not log an event twice, and one queue keeps the lines in publish order.
    const matches = eventTypeMatcher(this.config.types);
    this.bus.subscribe('*', (event) => {
      if (matches(event.type)) this.log(event as Event);
    }, { name: 'log' });
  }

  stop(): void {
    // Nothing to release: the host removes this plugin's subscriptions.
  }

  /** The notifier contract: one line per notification, at the plugin's level. */
  send(notification: Notification): Promise<SinkResult> {
    const alerts = notification.alerts.map((a) => ({ alertname: a.labels.alertname, status: a.status, fingerprint: a.fingerprint, ...(a.annotations.summary !== undefined && { summary: redactText(a.annotations.summary) }) }));
    const line = {
      receiver: notification.receiver,
      group: notification.groupKey,
      status: notification.status,
      reason: notification.reason,
      reminder: notification.reminder,
      alerts,
      ...(notification.truncatedAlerts > 0 && { truncated_alerts: notification.truncatedAlerts }),
      ...((notification.recentChanges?.length ?? 0) > 0 && { recent_changes: notification.recentChanges?.map((c) => c.config_path) }),
    };
    const count = notification.alerts.length + notification.truncatedAlerts;
    const group = Object.entries(notification.groupLabels).map(([k, v]) => `${k}=${v}`).join(' ');
    this.logger[this.config.level](line, `notification to ${notification.receiver}: ${notification.status.toUpperCase()} ${count} alert${count === 1 ? '' : 's'}${group ? ` (${group})` : ''}${notification.reminder ? ', reminder' : ''}`);
    return Promise.resolve({ outcome: 'delivered' });
  }

  private log(event: Event): void {
    const line: Record<string, unknown> = { event: event.type, event_id: event.metadata.event_id, source: event.metadata.source };
    if (event.metadata.correlation_id) line.correlation_id = event.metadata.correlation_id;
    // Secrets at any depth of the data, with the same key patterns as audit-log and config-watcher.
    if (this.config.include_data) line.data = redactSecrets(event.data);
    this.logger[this.config.level](line, event.type);
  }
}
