import { definePlugin } from 'praxis-agent';
import { healthProbeConfigSchema } from './config';
import { HEALTH_ERRORS } from './errors';
import { serviceHeartbeatSchema } from './events';
import { HealthProbePlugin } from './health-probe.plugin';

export { HealthProbePlugin } from './health-probe.plugin';
export { serviceHeartbeatSchema } from './events';

export default definePlugin({
  name: 'health-probe',
  version: '0.1.0',
  description: 'Checks the services next to the agent (http, tcp, exec, process, dns, heartbeat) and publishes service.status, system.health and system.error.',
  configSchema: healthProbeConfigSchema,
  events: { 'service.heartbeat': serviceHeartbeatSchema },
  errors: HEALTH_ERRORS,
  plugin: HealthProbePlugin,
});
