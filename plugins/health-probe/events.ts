import { z } from 'praxis-agent';

/** `service.heartbeat`: a push report for a heartbeat check ("the nightly backup ran"). */
export const serviceHeartbeatSchema = z
  .strictObject({
    check: z.string().min(1).describe('Name of the heartbeat check being reported.'),
    message: z.string().optional().describe('Anything worth keeping about this run, e.g. "backed up 3 GB".'),
  })
  .describe('A service reports in for a heartbeat check of the health-probe plugin.');

declare module 'praxis-agent' {
  interface EventMap {
    'service.heartbeat': z.output<typeof serviceHeartbeatSchema>;
  }
  interface EventInputMap {
    'service.heartbeat': z.input<typeof serviceHeartbeatSchema>;
  }
}
