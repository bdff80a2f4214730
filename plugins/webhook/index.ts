import { definePlugin } from 'praxis-agent';
import { webhookAlertmanager } from './alertmanager';
import { webhookConfigSchema } from './config';
import { WebhookPlugin } from './webhook.plugin';

export { WebhookPlugin } from './webhook.plugin';
export { webhookPayload } from './payload';

export default definePlugin({
  name: 'webhook',
  version: '0.1.0',
  description: "Alert sink: POSTs each notification as JSON in Alertmanager's webhook format (version 4), which many tools accept.",
  configSchema: webhookConfigSchema,
  sink: {
    // No provider limit to respect; 10 s per attempt, tried for an hour, as the defaults.
    delivery: { timeout: 10_000, max_age: 3_600_000 },
    alertmanager: webhookAlertmanager,
  },
  plugin: WebhookPlugin,
});
