import { definePlugin } from 'praxis-agent';
import { websocketBroadcasterConfigSchema } from './config';
import { WEBSOCKET_ERRORS } from './errors';
import { WebsocketBroadcasterPlugin } from './websocket-broadcaster.plugin';

export default definePlugin({
  name: 'websocket-broadcaster',
  version: '0.1.0',
  description: 'Streams events to WebSocket clients (ws://127.0.0.1:9781/ws/events), with resume from the event store.',
  configSchema: websocketBroadcasterConfigSchema,
  errors: WEBSOCKET_ERRORS,
  plugin: WebsocketBroadcasterPlugin,
});

export { WebsocketBroadcasterPlugin } from './websocket-broadcaster.plugin';
export type { WebsocketStats } from './websocket-broadcaster.plugin';
