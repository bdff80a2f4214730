import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock';
import { compileRe2, LABEL_NAME, Matcher, MatcherError, matchesAll, type LabelSet, type MatchType } from './matchers';

/**
 * Silences with Alertmanager's semantics (prometheus/alertmanager `silence/silence.go` and the
 * API v2 handlers, as of 0.25): validation, pending / active / expired on an injected clock, the
 * update rule that keeps history (a change that would rewrite what was silenced creates a new
 * silence and expires the old one), expiry by id, queries, muting, retention and gc. In memory and
 * pure apart from the clock and ids: the store and the HTTP API wire it later through
 * {@link Silences.snapshot} / {@link Silences.restore}.
 */

/** A silence's state at a given time. */
export type SilenceState = 'pending' | 'active' | 'expired';

/** One matcher of a silence, in Alertmanager API v2's shape. */
export interface SilenceMatcher {
  /** Label name. */
  name: string;
  /** Label value, or an RE2 regex (fully anchored) when `isRegex`. */
  value: string;
  /** `=~` / `!~` rather than `=` / `!=`. */
  isRegex: boolean;
  /** `false` for `!=` / `!~`. */
  isEqual: boolean;
}

/** A silence as POST /api/v2/silences takes it: without `id` it is new, with `id` it updates that silence. */
export interface PostableSilence {
  id?: string;
  /** `isEqual` defaults to true (absent or null), as in the API. */
  matchers: ReadonlyArray<Omit<SilenceMatcher, 'isEqual'> & { isEqual?: boolean | null }>;
  /** RFC 3339 timestamp. */
  startsAt: string;
  /** RFC 3339 timestamp, after `startsAt` and not in the past. */
  endsAt: string;
  /** Author; required as in the API (a string, which may be empty). */
  createdBy: string;
  /** Why; required as in the API (a string, which may be empty). */
  comment: string;
}

/** A stored silence; timestamps are RFC 3339 UTC with milliseconds. */
export interface Silence {
  /** A UUID given by the store. */
  id: string;
  /** All must match for the silence to mute an alert. */
  matchers: SilenceMatcher[];
  startsAt: string;
  endsAt: string;
  /** When the store last set or expired it. */
  updatedAt: string;
  createdBy: string;
  comment: string;
}

/** Why a silence was refused: `invalid` (the API's 400) or `not_found` (an update or expiry of an unknown id, 404). */
export type SilenceErrorKind = 'invalid' | 'not_found';

/** A silence that cannot be set, expired or restored; the message names what is wrong. */
export class SilenceError extends Error {
  constructor(
    readonly kind: SilenceErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'SilenceError';
  }
}

/** How long an expired silence is kept before {@link Silences.gc} drops it: Alertmanager's `--data.retention` default, 120h. */
export const DEFAULT_SILENCE_RETENTION_MS = 120 * 3_600_000;

/** Options of a {@link Silences} store. */
export interface SilencesOptions {
  /** How long a silence is kept after it ended (default {@link DEFAULT_SILENCE_RETENTION_MS}). */
  retentionMs?: number;
  /** New silence ids; default a random UUID, as Alertmanager. */
  newId?: () => string;
}

/** What {@link Silences.set} did: `id` is the silence now holding the input; `replaced` the one it expired, if any. */
export interface SetResult {
  id: string;
  /** False when an existing silence was updated in place. */
  created: boolean;
  /** The id of the silence this one replaces (expired now unless it had already expired). */
  replaced?: string;
}

/** Filters of {@link Silences.query}, all optional and combined with AND. */
export interface SilenceQuery {
  ids?: readonly string[];
  states?: readonly SilenceState[];
  /** Silences whose matchers all match these labels (what would mute such an alert). */
  matching?: LabelSet;
  /**
   * The API's `filter`: for every one of these matchers the silence has a matcher with the same
   * name, operator and value (an exact comparison, not a match).
   */
  filter?: readonly Matcher[];
}

/** The plain-JSON form of a store, for persistence. */
export interface SilencesSnapshot {
  version: 1;
  silences: Silence[];
}

/**
 * The state of a silence at `now`: pending before `startsAt`, active from `startsAt` until
 * `endsAt` (excluded), expired from `endsAt` on. The end is excluded as in the API's state
 * (`types.CalcSilenceState`), so a silence expired at `now` is expired at once.
 */
export function silenceState(silence: Pick<Silence, 'startsAt' | 'endsAt'>, now: number): SilenceState {
  return stateAt(Date.parse(silence.startsAt), Date.parse(silence.endsAt), now);
}

function stateAt(startMs: number, endMs: number, now: number): SilenceState {
  if (now < startMs) return 'pending';
  if (now < endMs) return 'active';
  return 'expired';
}

/** The label matcher a silence matcher stands for. @throws MatcherError for a regex RE2 refuses. */
export function toMatcher(m: SilenceMatcher): Matcher {
  const type: MatchType = m.isRegex ? (m.isEqual ? '=~' : '!~') : m.isEqual ? '=' : '!=';
  return new Matcher(type, m.name, m.value);
}

interface Entry {
  silence: Silence;
  matchers: Matcher[];
  startMs: number;
  endMs: number;
}

/** An in-memory set of silences, Alertmanager's `silence.Silences` without clustering. */
export class Silences {
  private readonly entries = new Map<string, Entry>();
  private readonly retentionMs: number;
  private readonly newId: () => string;

  constructor(
    private readonly clock: Clock,
    options: SilencesOptions = {},
  ) {
    this.retentionMs = options.retentionMs ?? DEFAULT_SILENCE_RETENTION_MS;
    this.newId = options.newId ?? randomUUID;
  }

  /**
   * Creates a silence (no `id`, or "") or updates one (`id`), as POST /api/v2/silences does. An update
   * is made in place only if it keeps history: same matchers in the same order, and for an active
   * silence the same start (to the second) and an end not in the past, for a pending one a start
   * not in the past. Otherwise a new silence is created (its start moved to now if in the past)
   * and the old one expired. A new silence starting in the past starts now.
   * @throws SilenceError `invalid` for a refused silence, `not_found` for an unknown id.
   */
  set(input: PostableSilence): SetResult {
    const now = this.clock.now();
    const matchers = checkMatchers(input.matchers);
    const compiled = matchers.map(toMatcher);
    for (const key of ['createdBy', 'comment'] as const) {
      if (typeof input[key] !== 'string') throw invalid(`${key} is required`);
    }
    const startMs = parseTimestamp(input.startsAt, 'startsAt');
    const endMs = parseTimestamp(input.endsAt, 'endsAt');
    if (startMs >= endMs) throw invalid('start time must be before end time');
    if (endMs < now) throw invalid("end time can't be in the past");

    // An empty id is a new silence, as in Alertmanager.
    const prev = input.id ? this.entries.get(input.id) : undefined;
    if (input.id && !prev) throw new SilenceError('not_found', `silence ${input.id} not found`);

    const fields = { matchers, createdBy: input.createdBy, comment: input.comment, updatedAt: iso(now) };
    if (prev && canUpdate(prev, matchers, startMs, endMs, now)) {
      this.store({ ...fields, id: prev.silence.id, startsAt: iso(startMs), endsAt: iso(endMs) }, compiled);
      return { id: prev.silence.id, created: false };
    }
    if (prev && stateOf(prev, now) !== 'expired') this.expire(prev.silence.id);
    const id = this.newId();
    this.store({ ...fields, id, startsAt: iso(Math.max(startMs, now)), endsAt: iso(endMs) }, compiled);
    return prev ? { id, created: true, replaced: prev.silence.id } : { id, created: true };
  }

  /**
   * Expires a silence now: an active one ends now, a pending one starts and ends now (so it never
   * was active). Expiring an expired silence does nothing.
   * @throws SilenceError `not_found` for an unknown id (or one already gc'd).
   */
  expire(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) throw new SilenceError('not_found', `silence ${id} not found`);
    const now = this.clock.now();
    const state = stateOf(entry, now);
    if (state === 'expired') return;
    const startsAt = state === 'pending' ? iso(now) : entry.silence.startsAt;
    this.store({ ...entry.silence, startsAt, endsAt: iso(now), updatedAt: iso(now) }, entry.matchers);
  }

  /** The silence with this id (a copy), or undefined. */
  get(id: string): Silence | undefined {
    const entry = this.entries.get(id);
    return entry && copy(entry.silence);
  }

  /** The state of the silence with this id now, or undefined. */
  state(id: string): SilenceState | undefined {
    const entry = this.entries.get(id);
    return entry && stateOf(entry, this.clock.now());
  }

  /**
   * Silences passing every filter, in the API's order: active (soonest end first), pending
   * (soonest start first), expired (latest end first).
   */
  query(q: SilenceQuery = {}): Silence[] {
    const now = this.clock.now();
    const rank: Record<SilenceState, number> = { active: 0, pending: 1, expired: 2 };
    const base = q.ids ? q.ids.flatMap((id) => this.entries.get(id) ?? []) : [...this.entries.values()];
    return base
      .filter((e) => !q.states || q.states.includes(stateOf(e, now)))
      .filter((e) => !q.matching || matchesAll(e.matchers, q.matching))
      .filter((e) => !q.filter || q.filter.every((f) => e.matchers.some((m) => m.name === f.name && m.type === f.type && m.value === f.value)))
      .map((e) => ({ e, state: stateOf(e, now) }))
      .sort((a, b) => {
        if (a.state !== b.state) return rank[a.state] - rank[b.state];
        if (a.state === 'active') return a.e.endMs - b.e.endMs;
        if (a.state === 'pending') return a.e.startMs - b.e.startMs;
        return b.e.endMs - a.e.endMs;
      })
      .map(({ e }) => copy(e.silence));
  }

  /** Ids of the active silences that mute an alert with these labels, sorted; empty when none does. */
  mutes(labels: LabelSet): string[] {
    const now = this.clock.now();
    return [...this.entries.values()]
      .filter((e) => stateOf(e, now) === 'active' && matchesAll(e.matchers, labels))
      .map((e) => e.silence.id)
      .sort();
  }

  /** Number of silences in each state now. */
  count(): Record<SilenceState, number> {
    const now = this.clock.now();
    const counts: Record<SilenceState, number> = { pending: 0, active: 0, expired: 0 };
    for (const e of this.entries.values()) counts[stateOf(e, now)] += 1;
    return counts;
  }

  /** Drops the silences that ended at least the retention period ago; returns how many. */
  gc(): number {
    const now = this.clock.now();
    let removed = 0;
    for (const [id, e] of this.entries) {
      if (e.endMs + this.retentionMs <= now) {
        this.entries.delete(id);
        removed += 1;
      }
    }
    return removed;
  }

  /** Every silence, as plain JSON that {@link restore} takes back. */
  snapshot(): SilencesSnapshot {
    return { version: 1, silences: [...this.entries.values()].map((e) => copy(e.silence)) };
  }

  /**
   * Replaces the content with a snapshot's. Each silence is validated as when it was set (but may
   * have ended: expired silences are kept until gc).
   * @throws SilenceError `invalid` naming the first bad silence; the store is then left unchanged.
   */
  restore(snapshot: SilencesSnapshot): void {
    if (snapshot?.version !== 1 || !Array.isArray(snapshot.silences)) throw invalid('not a silences snapshot (version 1)');
    const restored = snapshot.silences.map((s, i): Entry => {
      try {
        return storedEntry(s);
      } catch (error) {
        throw invalid(`snapshot silence ${i}: ${(error as Error).message}`);
      }
    });
    this.entries.clear();
    for (const e of restored) this.entries.set(e.silence.id, e);
  }

  /**
   * Puts one silence as another store holds it (replication), replacing the one with its id; it is
   * validated as {@link restore} validates it. Which of two versions wins is the caller's decision.
   * @throws SilenceError `invalid`; the store is then unchanged.
   */
  put(silence: Silence): void {
    const e = storedEntry(silence);
    this.entries.set(e.silence.id, e);
  }

  private store(silence: Silence, matchers: Matcher[]): void {
    this.entries.set(silence.id, { silence, matchers, startMs: Date.parse(silence.startsAt), endMs: Date.parse(silence.endsAt) });
  }
}

/** A silence as another store holds it, checked and in the shape this store keeps. @throws SilenceError `invalid` */
export function storedSilence(s: Silence): Silence {
  return storedEntry(s).silence;
}

/** A silence as a store keeps it, checked as when it was set (it may have ended). @throws SilenceError `invalid` */
function storedEntry(s: Silence): Entry {
  if (typeof s !== 'object' || s === null) throw invalid('not an object');
  if (typeof s.id !== 'string' || s.id === '') throw invalid('id missing');
  const matchers = checkMatchers(s.matchers);
  for (const key of ['createdBy', 'comment'] as const) if (typeof s[key] !== 'string') throw invalid(`${key} is required`);
  const startMs = parseTimestamp(s.startsAt, 'startsAt');
  const endMs = parseTimestamp(s.endsAt, 'endsAt');
  const updatedMs = parseTimestamp(s.updatedAt, 'updatedAt');
  if (endMs < startMs) throw invalid('end time must not be before start time');
  const silence: Silence = { id: s.id, matchers, startsAt: iso(startMs), endsAt: iso(endMs), updatedAt: iso(updatedMs), createdBy: s.createdBy, comment: s.comment };
  return { silence, matchers: matchers.map(toMatcher), startMs, endMs };
}

function invalid(message: string): SilenceError {
  return new SilenceError('invalid', message);
}

/** From the times parsed when the silence was stored: `mutes` runs for every alert of every flush. */
function stateOf(e: Entry, now: number): SilenceState {
  return stateAt(e.startMs, e.endMs, now);
}

function copy(s: Silence): Silence {
  return { ...s, matchers: s.matchers.map((m) => ({ ...m })) };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Alertmanager's `canUpdate`: whether `prev` can take the new values without changing what it
 * silenced in the past. Matchers must be identical, in order; the start is compared to the second
 * (Go's `Unix()`), as clients round-trip it.
 */
function canUpdate(prev: Entry, matchers: readonly SilenceMatcher[], startMs: number, endMs: number, now: number): boolean {
  const same = prev.silence.matchers.length === matchers.length && prev.silence.matchers.every((m, i) => m.name === matchers[i].name && m.value === matchers[i].value && m.isRegex === matchers[i].isRegex && m.isEqual === matchers[i].isEqual);
  if (!same) return false;
  switch (stateOf(prev, now)) {
    case 'active':
      return Math.floor(startMs / 1000) === Math.floor(prev.startMs / 1000) && endMs >= now;
    case 'pending':
      return startMs >= now;
    case 'expired':
      return false;
  }
}

// A lone surrogate is what invalid UTF-8 (refused by Alertmanager's label value check) becomes in JavaScript.
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Alertmanager's `validateSilence` for the matchers: at least one; valid label names; values valid
 * UTF-8; regexes that RE2 compiles (unanchored, as Alertmanager checks them, and anchored, as they
 * match); and not every matcher matching the empty string. Only `=` and `=~` count as matching the
 * empty string there: `{a!="x"}` is accepted although it matches an alert without `a`.
 */
function checkMatchers(input: unknown): SilenceMatcher[] {
  if (!Array.isArray(input) || input.length === 0) throw invalid('at least one matcher required');
  let allMatchEmpty = true;
  const matchers = input.map((raw: unknown, i): SilenceMatcher => {
    const m = raw as (Omit<Partial<SilenceMatcher>, 'isEqual'> & { isEqual?: boolean | null }) | null;
    if (typeof m?.name !== 'string' || typeof m.value !== 'string' || typeof m.isRegex !== 'boolean' || (m.isEqual != null && typeof m.isEqual !== 'boolean')) {
      throw invalid(`invalid label matcher ${i}: expected {name: string, value: string, isRegex: boolean, isEqual?: boolean}`);
    }
    const matcher: SilenceMatcher = { name: m.name, value: m.value, isRegex: m.isRegex, isEqual: m.isEqual ?? true };
    if (!LABEL_NAME.test(matcher.name)) throw invalid(`invalid label matcher ${i}: invalid label name "${matcher.name}"`);
    if (LONE_SURROGATE.test(matcher.value)) throw invalid(`invalid label matcher ${i}: invalid label value "${matcher.value}" (not valid UTF-8)`);
    let matchesEmpty = !matcher.isRegex && matcher.isEqual && matcher.value === '';
    if (matcher.isRegex) {
      try {
        const unanchored = compileRe2(matcher.value);
        toMatcher(matcher);
        matchesEmpty = matcher.isEqual && unanchored.test('');
      } catch (error) {
        const reason = error instanceof MatcherError ? error.message : `invalid regular expression "${matcher.value}": ${(error as Error).message}`;
        throw invalid(`invalid label matcher ${i}: ${reason}`);
      }
    }
    allMatchEmpty &&= matchesEmpty;
    return matcher;
  });
  if (allMatchEmpty) throw invalid('at least one matcher must not match the empty string');
  return matchers;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** An RFC 3339 timestamp as epoch milliseconds (fractions beyond milliseconds are dropped). */
function parseTimestamp(value: unknown, field: string): number {
  const parts = typeof value === 'string' ? RFC3339.exec(value) : null;
  const ms = parts ? Date.parse(value as string) : NaN;
  // Date.parse rolls 2026-02-30 over to March; RFC 3339 (and Go) refuse it.
  const [year, month, day] = parts ? [Number(parts[1]), Number(parts[2]), Number(parts[3])] : [0, 0, 0];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (Number.isNaN(ms) || day < 1 || day > daysInMonth) throw invalid(`${field} is not an RFC 3339 timestamp: ${JSON.stringify(value)}`);
  return ms;
}
