import type { Clock } from '../core/clock';

/** Event ids ingest remembers in memory, at most; the oldest are forgotten first. */
export const DEDUP_MAX_IDS = 10_000;

/** How long ingest remembers an event id in memory (ms). */
export const DEDUP_WINDOW_MS = 3_600_000;

/** What ingest asks of the event store: to index the ids clients chose, and whether one is still there. */
export interface EventIdIndex {
  /** The event with this id is about to be published: index its id when it is appended. */
  announceEventId(eventId: string): void;
  /** The announced event was refused: forget the announcement. */
  withdrawEventId(eventId: string): void;
  /** True when an event announced with this id is still in the store. */
  hasEventId(eventId: string): boolean;
}

/**
 * The ids of events ingested with a client-chosen `metadata.event_id`, so a retry is answered
 * with the original instead of being stored twice. In memory: the last {@link DEDUP_MAX_IDS} ids
 * of the last {@link DEDUP_WINDOW_MS}; with the event store on, also every id the store still
 * holds (its retention), across restarts. The memory part also covers events that are published
 * but not yet appended to the store.
 */
export class IngestDedup {
  /** id → when it was remembered; Map order is insertion order, so the oldest come first. */
  private readonly recent = new Map<string, number>();
  private duplicates = 0;

  constructor(
    private readonly clock: Clock,
    private readonly store?: EventIdIndex,
  ) {}

  /** True when `eventId` was ingested within the window or is in the store. */
  has(eventId: string): boolean {
    this.prune();
    return this.recent.has(eventId) || this.store?.hasEventId(eventId) === true;
  }

  /** Counts a retry answered as a duplicate (`ingest.duplicates` on /stats). */
  countDuplicate(): void {
    this.duplicates++;
  }

  /** Remembers `eventId` before its event is published, so a concurrent retry already sees it. */
  remember(eventId: string): void {
    this.recent.delete(eventId);
    this.recent.set(eventId, this.clock.now());
    this.store?.announceEventId(eventId);
    this.prune();
  }

  /** Forgets `eventId` again: its event was refused, and a corrected retry must get through. */
  forget(eventId: string): void {
    this.recent.delete(eventId);
    this.store?.withdrawEventId(eventId);
  }

  /** Shown under `ingest` on /stats. */
  stats(): { duplicates: number; remembered_ids: number } {
    return { duplicates: this.duplicates, remembered_ids: this.recent.size };
  }

  private prune(): void {
    const oldest = this.clock.now() - DEDUP_WINDOW_MS;
    for (const [id, at] of this.recent) {
      if (this.recent.size <= DEDUP_MAX_IDS && at >= oldest) break;
      this.recent.delete(id);
    }
  }
}
