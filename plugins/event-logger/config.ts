import { eventPatternSchema, z } from 'praxis-agent';

export const eventLoggerConfigSchema = z
  .strictObject({
    types: z
      .array(eventPatternSchema)
      .min(1)
      .default(['*'])
      .describe('Event types to log: exact types, "prefix.*" or "*".'),
    level: z.enum(['debug', 'info', 'warn']).default('info').describe('Log level of each line.'),
    include_data: z.boolean().default(true).describe('Log the event data too, not only type and id.'),
  })
  .describe('Writes every matching event to the agent log.');

export type EventLoggerConfig = z.output<typeof eventLoggerConfigSchema>;
