import { z } from 'zod';

/** Event metadata exactly as the spec writes it; `tags` is the spec's set, kept as a unique list. */
export const eventMetadataSchema = z.strictObject({
  event_id: z.uuidv4().describe('Unique id (UUID v4) assigned when the event is published.'),
  timestamp: z.iso.datetime().describe('When the event happened, ISO 8601 UTC.'),
  correlation_id: z.string().min(1).optional().describe('Ties together events that belong to one operation.'),
  source: z.string().min(1).optional().describe('Who published the event: a plugin name, `ingest`, the agent.'),
  tags: z.array(z.string().min(1)).describe('Free-form labels.'),
});

/** Metadata of a published event: id, timestamp, tags, and source / correlation id when known. */
export type EventMetadata = z.infer<typeof eventMetadataSchema>;

/** What a publisher may say about an event; everything missing is filled in by the bus. */
export const eventMetadataInputSchema = eventMetadataSchema.partial();

/** What a publisher may set in metadata; the bus fills in id and timestamp when absent. */
export type EventMetadataInput = z.input<typeof eventMetadataInputSchema>;
