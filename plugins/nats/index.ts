import { definePlugin } from 'praxis-agent';
import { FLEET_COMMANDS } from './commands';
import { natsConfigSchema } from './config';
import { NATS_ERRORS } from './errors';
import { NatsPlugin } from './nats.plugin';

export default definePlugin({
  name: 'nats',
  version: '0.1.0',
  description: 'Fleet mode on NATS JetStream: sidecars forward their events to one stream (store and forward), aggregators consume it.',
  configSchema: natsConfigSchema,
  errors: NATS_ERRORS,
  commands: FLEET_COMMANDS,
  plugin: NatsPlugin,
});

export { NatsPlugin } from './nats.plugin';
