import { definePlugin } from 'praxis-agent';
import { slackAlertmanager } from './alertmanager';
import { slackConfigSchema } from './config';
import { SlackPlugin } from './slack.plugin';

export { SlackPlugin } from './slack.plugin';

export default definePlugin({
  name: 'slack',
  version: '0.1.0',
  description: 'Posts each alert notification to a Slack incoming webhook as a Block Kit message (severity colour and emoji, within Slack\'s limits).',
  configSchema: slackConfigSchema,
  plugin: SlackPlugin,
  sink: {
    // Slack allows about one message per second per webhook (the rate key) and answers 429 beyond.
    delivery: { rate_limit: { rate: 1, per: 1000, burst: 1 }, timeout: 10_000, max_age: 3_600_000 },
    alertmanager: slackAlertmanager,
  },
});
