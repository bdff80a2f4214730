import { definePlugin } from 'praxis-agent';
import { ConfigWatcherPlugin } from './config-watcher.plugin';
import { configWatcherConfigSchema } from './config';
import { CONFIG_WATCH_ERRORS } from './errors';

export default definePlugin({
  name: 'config-watcher',
  version: '0.1.0',
  description: 'Watches config files (YAML, JSON, .env) and publishes config.changed per changed key; can hot-reload the agent.',
  configSchema: configWatcherConfigSchema,
  errors: CONFIG_WATCH_ERRORS,
  plugin: ConfigWatcherPlugin,
});
