import { definePlugin } from 'praxis-agent';
import { toConfig } from './alertmanager';
import { pagerdutyConfigSchema } from './config';
import { PagerdutyPlugin } from './pagerduty.plugin';

export { PagerdutyPlugin } from './pagerduty.plugin';

export default definePlugin({
  name: 'pagerduty',
  version: '0.1.0',
  description: 'Sends alert notifications to PagerDuty (Events API v2, @pagerduty/pdjs): trigger, acknowledge and resolve incidents, optionally change events.',
  configSchema: pagerdutyConfigSchema,
  plugin: PagerdutyPlugin,
  sink: {
    // PagerDuty takes 120 events per minute per integration key (rateKey is the key's hash).
    delivery: { rate_limit: { rate: 120, per: 60_000, burst: 10 }, timeout: 10_000, max_age: 3_600_000 },
    alertmanager: { key: 'pagerduty_configs', toConfig },
  },
});
