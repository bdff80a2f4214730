import { randomUUID } from 'node:crypto';
import { FakeClock } from '../core/clock';
import { DEDUP_MAX_IDS, DEDUP_WINDOW_MS, IngestDedup } from './ingest-dedup';

describe('IngestDedup (the in-memory window of ingested event ids)', () => {
  it('remembers an id for DEDUP_WINDOW_MS, then forgets it', async () => {
    const clock = new FakeClock();
    const dedup = new IngestDedup(clock);
    const id = randomUUID();
    expect(dedup.has(id)).toBe(false);
    dedup.remember(id);
    await clock.advance(DEDUP_WINDOW_MS);
    expect(dedup.has(id)).toBe(true);
    await clock.advance(1);
    expect(dedup.has(id)).toBe(false);
    expect(dedup.stats()).toEqual({ duplicates: 0, remembered_ids: 0 });
  });

  it('keeps at most DEDUP_MAX_IDS ids, forgetting the oldest first', () => {
    const dedup = new IngestDedup(new FakeClock());
    const ids = Array.from({ length: DEDUP_MAX_IDS + 1 }, () => randomUUID());
    for (const id of ids) dedup.remember(id);
    expect(dedup.stats().remembered_ids).toBe(DEDUP_MAX_IDS);
    expect(dedup.has(ids[0] as string)).toBe(false);
    expect(dedup.has(ids[1] as string)).toBe(true);
    expect(dedup.has(ids[DEDUP_MAX_IDS] as string)).toBe(true);
  });

  it('also asks the event store, which remembers for its retention', () => {
    const stored = randomUUID();
    const dedup = new IngestDedup(new FakeClock(), { hasEventId: (id) => id === stored, announceEventId: () => undefined, withdrawEventId: () => undefined });
    expect(dedup.has(stored)).toBe(true);
    expect(dedup.has(randomUUID())).toBe(false);
  });

  it('forgets an id whose event was refused', () => {
    const dedup = new IngestDedup(new FakeClock());
    const id = randomUUID();
    dedup.remember(id);
    dedup.forget(id);
    expect(dedup.has(id)).toBe(false);
  });
});
