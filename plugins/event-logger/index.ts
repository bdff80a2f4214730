import { definePlugin } from 'praxis-agent';
import { eventLoggerConfigSchema } from './config';
import { EventLoggerPlugin } from './event-logger.plugin';

export default definePlugin({
  name: 'event-logger',
  version: '0.1.0',
  description: 'Writes matching events to the agent log.',
  configSchema: eventLoggerConfigSchema,
  plugin: EventLoggerPlugin,
});
