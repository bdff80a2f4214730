import { HttpError, z } from 'praxis-agent';

/** `service.heartbeat`: a push report for a heartbeat check ("the nightly backup ran"). */
export const serviceHeartbeatSchema = z
  .strictObject({
    check: z.string().min(1).describe('Name of the heartbeat check being reported.'),
    message: z.string().optional().describe('Anything worth keeping about this run, e.g. "backed up 3 GB".'),
  })
  .describe('A service reports in for a heartbeat check of the health-probe plugin.');

/** What a heartbeat request body may hold: the event's fields but the check, which comes from the path. */
const heartbeatBodySchema = serviceHeartbeatSchema.omit({ check: true });
const HEARTBEAT_BODY_HINT = 'the body must be empty or JSON like {"message": "..."}';

/**
 * The `service.heartbeat` fields a `POST /heartbeat/<check>` body carries (empty: none), checked
 * with the event's own schema; throws HttpError 400 naming what is wrong.
 */
export function heartbeatFields(body: string): { message?: string } {
  if (body.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new HttpError(400, 'HTTP_BAD_REQUEST', `${HEARTBEAT_BODY_HINT}: not JSON`);
  }
  const result = heartbeatBodySchema.safeParse(parsed);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.length > 0 ? `${i.path.join('.')}: ` : ''}${i.message}`).join('; ');
    throw new HttpError(400, 'HTTP_BAD_REQUEST', `${HEARTBEAT_BODY_HINT}: ${problems}`);
  }
  return result.data;
}

declare module 'praxis-agent' {
  interface EventMap {
    'service.heartbeat': z.output<typeof serviceHeartbeatSchema>;
  }
  interface EventInputMap {
    'service.heartbeat': z.input<typeof serviceHeartbeatSchema>;
  }
}
