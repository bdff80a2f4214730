/**
 * Alertmanager's `time_intervals` / `mute_time_intervals`: the schema of one named definition as
 * written in alertmanager.yml, whether an instant falls inside it, and the route-level decision
 * (`mute_time_intervals`, `active_time_intervals`).
 *
 * The semantics follow prometheus/alertmanager `timeinterval/timeinterval.go` (parsing, validation,
 * `ContainsTime`, `Intervener.Mutes`), `notify/mute.go` (`TimeMuteStage`, `TimeActiveStage`),
 * `notify/notify.go` (stage order) and `docs/configuration.md` (`<time_interval>`). Where this module
 * is stricter than Alertmanager it says so next to the rule.
 */
import { z } from 'zod';

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;
const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'] as const;

/** `HH:MM` from 00:00 to 23:59, or exactly 24:00 (Alertmanager's `validTime` pattern: two-digit hours). */
const TIME_OF_DAY = /^(?:(?:[01][0-9]|2[0-3]):[0-5][0-9]|24:00)$/;
const MINUTES_PER_DAY = 24 * 60;
/** Go's `strconv.Atoi`: an optional sign and decimal digits, nothing else (no spaces, no `_`). */
const INTEGER = /^[+-]?[0-9]+$/;

/** An inclusive range of weekdays (0 = Sunday), days of the month (negative: from the end), months (1 = January) or years. */
export interface InclusiveRange {
  begin: number;
  end: number;
}

/** A range of minutes of the day, `[start_minute, end_minute)`; 24:00 is minute 1440. */
export interface TimeOfDayRange {
  start_minute: number;
  end_minute: number;
}

/**
 * One parsed entry of a definition's `time_intervals`: each field unset (`undefined`, matches all)
 * or a list of ranges (empty: matches nothing); `location` unset means UTC.
 */
export interface TimeIntervalSpec {
  times?: TimeOfDayRange[];
  weekdays?: InclusiveRange[];
  days_of_month?: InclusiveRange[];
  months?: InclusiveRange[];
  years?: InclusiveRange[];
  location?: string;
}

type Parsed<T> = { value: T } | { error: string };

function parseInteger(text: string): number | undefined {
  if (!INTEGER.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** `START` or `START:END` (Alertmanager lower-cases the whole text first, so names are case-insensitive). */
function parseRange(text: string, member: (part: string) => Parsed<number>): Parsed<InclusiveRange> {
  const parts = text.toLowerCase().split(':');
  if (parts.length > 2) return { error: `couldn't parse range "${text}": expected START or START:END` };
  const begin = member(parts[0]);
  if ('error' in begin) return begin;
  const end = parts.length === 2 ? member(parts[1]) : begin;
  if ('error' in end) return end;
  return { value: { begin: begin.value, end: end.value } };
}

function weekdayMember(part: string): Parsed<number> {
  const index = (WEEKDAYS as readonly string[]).indexOf(part);
  return index >= 0 ? { value: index } : { error: `${part} is not a valid weekday (expected a name, sunday to saturday, case-insensitive)` };
}

function monthMember(part: string): Parsed<number> {
  const index = (MONTHS as readonly string[]).indexOf(part);
  if (index >= 0) return { value: index + 1 };
  const n = parseInteger(part);
  // Stricter than Alertmanager, which accepts any integer here and then never matches 0 or 13.
  if (n !== undefined && n >= 1 && n <= 12) return { value: n };
  return { error: `${part} is not a valid month (expected january to december, case-insensitive, or 1 to 12)` };
}

function numberMember(what: string): (part: string) => Parsed<number> {
  return (part) => {
    const n = parseInteger(part);
    return n === undefined ? { error: `${part} is not a valid ${what}: expected an integer` } : { value: n };
  };
}

/** `a:b`, or `a` alone when the range is one element: for the "write it as two ranges" hints. */
function span(from: string, to: string): string {
  return from === to ? `'${from}'` : `'${from}:${to}'`;
}

function validWeekdays(r: InclusiveRange): string | undefined {
  if (r.begin > r.end) {
    const [from, to] = [WEEKDAYS[r.begin], WEEKDAYS[r.end]];
    return `start day ${from} is after end day ${to}: ranges cannot wrap around the week (write [${span(from, 'saturday')}, ${span('sunday', to)}])`;
  }
  return undefined;
}

function validDaysOfMonth(r: InclusiveRange): string | undefined {
  for (const day of [r.begin, r.end]) {
    if (day === 0 || day < -31 || day > 31) return `${day} is not a valid day of the month: out of range (1 to 31, or -1 to -31 counting from the month's end)`;
  }
  if (r.begin < 0 && r.end > 0) return `end day must be negative if start day is negative (${r.begin}:${r.end})`;
  // As Alertmanager: resolve negative days against the shortest month (28 days) and reject a
  // range that is empty even then; a range empty only in short months is clamped at evaluation.
  const begin = r.begin < 0 ? 28 + r.begin : r.begin;
  const end = r.end < 0 ? 28 + r.end : r.end;
  if (begin > end) return `end day ${r.end} is always before start day ${r.begin}`;
  return undefined;
}

function validMonths(r: InclusiveRange): string | undefined {
  if (r.begin > r.end) {
    const [from, to] = [MONTHS[r.begin - 1], MONTHS[r.end - 1]];
    return `end month ${to} is before start month ${from}: ranges cannot wrap around the year (write [${span(from, 'december')}, ${span('january', to)}])`;
  }
  return undefined;
}

function validYears(r: InclusiveRange): string | undefined {
  return r.begin > r.end ? `end year ${r.end} is before start year ${r.begin}` : undefined;
}

/**
 * One list element: a string, or a number (YAML `- 5`; Alertmanager's YAML decoder hands the
 * scalar's text to the same parser, so `days_of_month: [1, -1]` works there too).
 */
function rangeElement(member: (part: string) => Parsed<number>, valid: (r: InclusiveRange) => string | undefined, example: string) {
  return z
    .union([z.string(), z.number()])
    .transform((raw, ctx): InclusiveRange => {
      const parsed = parseRange(String(raw), member);
      if ('error' in parsed) {
        ctx.addIssue(parsed.error);
        return z.NEVER;
      }
      const invalid = valid(parsed.value);
      if (invalid !== undefined) {
        ctx.addIssue(invalid);
        return z.NEVER;
      }
      return parsed.value;
    })
    .describe(example);
}

/**
 * An optional list. Absent or null: the field is unset and matches every instant. An empty list
 * (`weekdays: []`) is set and matches none, as in Alertmanager (its YAML decoder makes `[]` a
 * non-nil empty slice, and `ContainsTime` then finds no element that matches).
 */
function optionalList<T extends z.ZodType>(element: T, description: string) {
  return z
    .array(element)
    .nullish()
    .transform((list) => list ?? undefined)
    .describe(description);
}

function parseTimeOfDay(text: string): number | undefined {
  if (!TIME_OF_DAY.test(text)) return undefined;
  const [hours, minutes] = text.split(':').map(Number);
  return hours * 60 + minutes;
}

const timeOfDaySchema = z.string().describe('HH:MM, 00:00 to 24:00 (two-digit hours).');

const timeRangeSchema = z
  .strictObject({
    start_time: timeOfDaySchema.describe('Start of the range, inclusive: HH:MM, 00:00 to 23:59.'),
    end_time: timeOfDaySchema.describe('End of the range, exclusive: HH:MM, 00:01 to 24:00 (24:00 = end of the day).'),
  })
  .transform((range, ctx): TimeOfDayRange => {
    const start = parseTimeOfDay(range.start_time);
    const end = parseTimeOfDay(range.end_time);
    const format = (text: string, key: string) => `couldn't parse ${key} "${text}": expected HH:MM with two-digit hours, 00:00 to 23:59, or 24:00 as end_time`;
    if (start === undefined) ctx.addIssue({ code: 'custom', path: ['start_time'], message: format(range.start_time, 'start_time'), input: range.start_time });
    if (end === undefined) ctx.addIssue({ code: 'custom', path: ['end_time'], message: format(range.end_time, 'end_time'), input: range.end_time });
    if (start === undefined || end === undefined) return z.NEVER;
    if (start === MINUTES_PER_DAY) {
      ctx.addIssue({ code: 'custom', path: ['start_time'], message: '24:00 is only allowed as end_time (use 00:00 for the start of a day)', input: range.start_time });
      return z.NEVER;
    }
    if (start >= end) {
      ctx.addIssue({
        code: 'custom',
        path: ['end_time'],
        message: `start time ${range.start_time} must be before end time ${range.end_time}: ranges are [start, end) within one day and cannot wrap past midnight (write two ranges, e.g. '22:00'-'24:00' and '00:00'-'06:00')`,
        input: range.end_time,
      });
      return z.NEVER;
    }
    return { start_minute: start, end_minute: end };
  })
  .describe('A range of the day, start inclusive, end exclusive.');

/**
 * Formatters are costly to build and every evaluation in a zone needs one; there are only as many
 * as there are distinct locations in the config.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

/** `undefined` for `Local`: the process's own time zone (TZ, else the system's), as Go's `time.Local`. */
function formatterFor(location: string): Intl.DateTimeFormat {
  let formatter = formatters.get(location);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: location === 'Local' ? undefined : location,
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      hourCycle: 'h23',
    });
    formatters.set(location, formatter);
  }
  return formatter;
}

/**
 * A location as Go's `time.LoadLocation` takes it: `UTC`, `Local`, empty (UTC) or an IANA zone
 * name. Node's ICU time zone data stands in for Go's zoneinfo; it also takes any spelling's case,
 * which Go (reading zoneinfo files on Linux) refuses, so wrongly cased names are refused here too.
 */
function checkLocation(location: string): string | undefined {
  if (location === '' || location === 'UTC' || location === 'Local') return undefined;
  const hint = 'expected an IANA time zone name such as Europe/Berlin or America/New_York, UTC, or Local';
  // ICU would also take offsets (+01:00) on newer Node versions; Go never does.
  if (!/^[A-Za-z]/.test(location)) return `unknown location "${location}": ${hint}`;
  let canonical: string;
  try {
    canonical = new Intl.DateTimeFormat('en-US', { timeZone: location }).resolvedOptions().timeZone;
  } catch {
    return `unknown location "${location}": ${hint}`;
  }
  // Every segment of every IANA name starts with a capital (Europe/Berlin, Etc/GMT+5, US/Eastern);
  // that catches a wrongly cased alias, whose canonical name ICU reports differently spelt.
  const wronglyCased = location.split('/').some((segment) => !/^[A-Z]/.test(segment)) || (canonical !== location && canonical.toLowerCase() === location.toLowerCase());
  if (wronglyCased) {
    return `unknown location "${location}": time zone names are case-sensitive (did you mean "${canonical}"?)`;
  }
  return undefined;
}

const locationSchema = z
  .string()
  .nullish()
  .superRefine((location, ctx) => {
    const error = location == null ? undefined : checkLocation(location);
    if (error !== undefined) ctx.addIssue(error);
  })
  // Go's LoadLocation("") is UTC; null is an unset location, also UTC.
  .transform((location) => (location == null || location === '' ? undefined : location))
  .describe('IANA time zone in which every field of this entry is evaluated (Europe/Berlin, UTC, Local = the host\'s zone); default UTC.');

/**
 * One entry of a definition's `time_intervals` (Alertmanager's `<time_interval_spec>`). Unknown
 * keys are errors, as in Alertmanager's strict YAML loading. A null entry (`- ` alone) is an empty
 * one, which matches every instant, as in Alertmanager.
 */
const timeIntervalSpecSchema = z
  .strictObject({
    times: optionalList(timeRangeSchema, 'Times of day, each [start_time, end_time); unset = all day.'),
    weekdays: optionalList(
      rangeElement(weekdayMember, validWeekdays, "monday, or a range monday:friday (sunday to saturday, case-insensitive)"),
      "Days of the week by name, or ranges of them: ['monday:friday', 'sunday']; no wrap-around.",
    ),
    days_of_month: optionalList(
      rangeElement(numberMember('day of the month'), validDaysOfMonth, '1 to 31, -1 to -31 from the end of the month, or a range 1:5, -3:-1'),
      "Days of the month, 1 to 31 or -1 (last day) to -31, or ranges: ['1:5', '-3:-1']; clamped to the month's length.",
    ),
    months: optionalList(
      rangeElement(monthMember, validMonths, 'january to december (case-insensitive) or 1 to 12, or a range january:march'),
      "Months by name or number, or ranges: ['january:march', '12']; no wrap-around.",
    ),
    years: optionalList(rangeElement(numberMember('year'), validYears, '2025, or a range 2020:2022'), "Years, or ranges of them: ['2020:2022', '2030']."),
    location: locationSchema,
  })
  .nullable()
  .transform((spec): TimeIntervalSpec => spec ?? {})
  .describe('An interval of time: matches an instant when every field it sets matches (unset fields match all).');

/**
 * The zod schema of one named time interval as written in alertmanager.yml, under both
 * `time_intervals:` and the deprecated `mute_time_intervals:` (the same shape). Validates as
 * Alertmanager does (ranges inverted, `24:00` only as an end, days of month 0 or beyond ±31,
 * unknown weekday/month names, unknown IANA locations, unknown keys) with messages that name the
 * problem; parses to minutes and numeric ranges ({@link TimeIntervalDefinition}).
 *
 * @example
 * ```yaml
 * - name: business-hours
 *   time_intervals:
 *     - weekdays: ['monday:friday']
 *       times: [{ start_time: '09:00', end_time: '17:00' }]
 *       location: Europe/Berlin
 * ```
 */
export const timeIntervalDefinitionSchema = z
  .strictObject({
    name: z
      .string({ error: (issue) => (issue.input == null ? 'missing name in time interval' : 'expected the name as a string') })
      .min(1, 'missing name in time interval')
      .describe('Name that routes refer to in mute_time_intervals and active_time_intervals.'),
    // Absent or null: a definition that is never active (Alertmanager accepts it the same way).
    time_intervals: z
      .array(timeIntervalSpecSchema)
      .nullish()
      .transform((list) => list ?? [])
      .describe('The definition is active when any of these entries contains the instant.'),
  })
  .describe('A named time interval (Alertmanager <time_interval>).');

/**
 * The zod schema of one `time_intervals:` (or `mute_time_intervals:`) list: definitions whose
 * names are unique within the list. Names must also be unique across the two lists; that check
 * belongs to whoever sees both (Alertmanager's `config/config.go`), and
 * {@link TimeIntervalResolver} refuses duplicates too.
 */
export const timeIntervalListSchema = z
  .array(timeIntervalDefinitionSchema)
  .superRefine((definitions, ctx) => {
    const seen = new Set<string>();
    definitions.forEach((definition, index) => {
      if (seen.has(definition.name)) ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `time interval "${definition.name}" is not unique`, input: definition.name });
      seen.add(definition.name);
    });
  })
  .describe('Named time intervals that routes refer to by name.');

/** One named time interval after parsing: `name` and its entries (`time_intervals`). */
export type TimeIntervalDefinition = z.output<typeof timeIntervalDefinitionSchema>;


interface WallClock {
  year: number;
  month: number;
  day: number;
  weekday: number;
  minuteOfDay: number;
}

/** A proleptic-Gregorian calendar date as a UTC midnight, valid for years before 100 too. */
function civilDate(year: number, month: number, day: number): Date {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date;
}

/**
 * Calendar arithmetic, independent of DST: as Alertmanager since its fix #5447 (Aug 2026); earlier
 * releases counted 24-hour spans and found 30 days in a 31-day spring-forward month.
 */
function daysInMonth(year: number, month: number): number {
  return civilDate(year, month + 1, 0).getUTCDate();
}

/** The wall clock at `at` in `location` (UTC when unset); seconds are ignored, as in Alertmanager. */
function wallClock(at: Date, location: string | undefined): WallClock {
  if (location === undefined || location === 'UTC') {
    return { year: at.getUTCFullYear(), month: at.getUTCMonth() + 1, day: at.getUTCDate(), weekday: at.getUTCDay(), minuteOfDay: at.getUTCHours() * 60 + at.getUTCMinutes() };
  }
  const fields: Record<string, number> = {};
  for (const part of formatterFor(location).formatToParts(at)) {
    if (part.type !== 'literal') fields[part.type] = Number(part.value);
  }
  const { year, month, day } = fields;
  // Some ICU versions print midnight as 24 even with h23.
  const hour = fields.hour % 24;
  return { year, month, day, weekday: civilDate(year, month, day).getUTCDay(), minuteOfDay: hour * 60 + fields.minute };
}

function inAnyRange(value: number, ranges: readonly InclusiveRange[] | undefined): boolean {
  return ranges === undefined || ranges.some((r) => value >= r.begin && value <= r.end);
}

/**
 * Negative days count from the month's end (-1 = last day). As Alertmanager's `ContainsTime`: a
 * range whose start lies after the month's last day is skipped; otherwise both ends are clamped
 * to ±(days in month), so `1:31` ends on the 28th/29th in February and `-31:-1` starts on the 1st.
 */
function inDaysOfMonth(clock: WallClock, ranges: readonly InclusiveRange[] | undefined): boolean {
  if (ranges === undefined) return true;
  const length = daysInMonth(clock.year, clock.month);
  const clamp = (n: number) => Math.min(Math.max(n, -length), length);
  return ranges.some((r) => {
    const begin = r.begin < 0 ? length + r.begin + 1 : r.begin;
    const end = r.end < 0 ? length + r.end + 1 : r.end;
    if (begin > length) return false;
    return clock.day >= clamp(begin) && clock.day <= clamp(end);
  });
}

function specContains(spec: TimeIntervalSpec, at: Date): boolean {
  const clock = wallClock(at, spec.location);
  return (
    (spec.times === undefined || spec.times.some((t) => clock.minuteOfDay >= t.start_minute && clock.minuteOfDay < t.end_minute)) &&
    inDaysOfMonth(clock, spec.days_of_month) &&
    inAnyRange(clock.month, spec.months) &&
    inAnyRange(clock.weekday, spec.weekdays) &&
    inAnyRange(clock.year, spec.years)
  );
}

/**
 * True when any of a definition's entries (`definition.time_intervals`) contains the instant `at`:
 * an entry contains it when every field it sets matches, in the entry's `location` (default UTC).
 * Times are half-open, `[start, end)`, to the minute. An empty list is never active.
 */
export function isActive(intervals: readonly TimeIntervalSpec[], at: Date): boolean {
  if (Number.isNaN(at.getTime())) throw new RangeError('isActive: invalid Date');
  return intervals.some((spec) => specContains(spec, at));
}

/** Why a route's notifications are held back at an instant, or that they are not. */
export type RouteTimeMute =
  | { muted: false }
  /** `active_time_intervals` set and none of them active; `by` lists all of them (notify/mute.go). */
  | { muted: true; reason: 'active_time_intervals'; by: string[] }
  /** One or more of `mute_time_intervals` active; `by` lists those that are. */
  | { muted: true; reason: 'mute_time_intervals'; by: string[] };

/** The time-interval settings of a route (its `RouteOptions` from route.ts fit as they are). */
export interface RouteTimeIntervals {
  muteTimeIntervals?: readonly string[];
  activeTimeIntervals?: readonly string[];
}

/**
 * Answers, for the named definitions of a config, which intervals are active and whether a route
 * is muted at an instant. Built once per loaded config from `time_intervals` plus the deprecated
 * `mute_time_intervals` (Alertmanager merges both into one name space: `app/reloader.go`).
 */
export class TimeIntervalResolver {
  private readonly byName = new Map<string, readonly TimeIntervalSpec[]>();

  /** Throws when two definitions share a name (the config check should have refused it first). */
  constructor(definitions: Iterable<TimeIntervalDefinition>) {
    for (const definition of definitions) {
      if (this.byName.has(definition.name)) throw new Error(`time interval "${definition.name}" is not unique`);
      this.byName.set(definition.name, definition.time_intervals);
    }
  }

  /** True when a definition of that name exists (for checking route references). */
  has(name: string): boolean {
    return this.byName.has(name);
  }

  /**
   * The names among `names` whose interval is active at `at`, in the given order, each once
   * (Alertmanager's `Intervener.Mutes`, timeinterval/timeinterval.go). Throws on an undefined name,
   * as Alertmanager does; config validation refuses such routes beforehand.
   */
  activeAmong(names: readonly string[], at: Date): string[] {
    const active: string[] = [];
    for (const name of names) {
      const intervals = this.byName.get(name);
      if (intervals === undefined) throw new Error(`time interval "${name}" is not defined in time_intervals or mute_time_intervals`);
      if (isActive(intervals, at) && !active.includes(name)) active.push(name);
    }
    return active;
  }

  /** `mute_time_intervals`: muted when any of the named intervals is active; an empty list never mutes. */
  isMuted(muteTimeIntervals: readonly string[], at: Date): boolean {
    return this.activeAmong(muteTimeIntervals, at).length > 0;
  }

  /**
   * `active_time_intervals`: active when any of the named intervals is active, i.e. muted only
   * when none is; an empty list is always active (notify/mute.go, `TimeActiveStage.Exec`).
   */
  isInActiveTime(activeTimeIntervals: readonly string[], at: Date): boolean {
    return activeTimeIntervals.length === 0 || this.activeAmong(activeTimeIntervals, at).length > 0;
  }

  /**
   * The dispatcher's decision for a route at `at`, in Alertmanager's stage order
   * (notify/notify.go, `PipelineBuilder.New`: inhibition, then `TimeActiveStage`, then
   * `TimeMuteStage`, then silences): outside all of its `active_time_intervals` first, then inside
   * one of its `mute_time_intervals`.
   */
  routeMute(route: RouteTimeIntervals, at: Date): RouteTimeMute {
    const activeNames = route.activeTimeIntervals ?? [];
    if (!this.isInActiveTime(activeNames, at)) return { muted: true, reason: 'active_time_intervals', by: [...activeNames] };
    const mutedBy = this.activeAmong(route.muteTimeIntervals ?? [], at);
    if (mutedBy.length > 0) return { muted: true, reason: 'mute_time_intervals', by: mutedBy };
    return { muted: false };
  }
}
