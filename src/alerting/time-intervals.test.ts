import { parse as parseYaml } from 'yaml';
import { isActive, TimeIntervalResolver, timeIntervalDefinitionSchema, timeIntervalListSchema, type RouteTimeIntervals, type RouteTimeMute, type TimeIntervalDefinition } from './time-intervals';

/** Parses one definition holding the given `time_intervals` entries, as the config loader would. */
function define(name: string, entries: unknown[]): TimeIntervalDefinition {
  return timeIntervalDefinitionSchema.parse({ name, time_intervals: entries });
}

/** The instants (ISO 8601 with offset) among `instants` whose containment differs from `expected`. */
function misjudged(entries: unknown[], instants: string[], expected: boolean): string[] {
  const { time_intervals } = define('under-test', entries);
  return instants.filter((instant) => isActive(time_intervals, new Date(instant)) !== expected);
}

interface ContainmentCase {
  name: string;
  entries: unknown[];
  inside: string[];
  outside: string[];
}

// Re-expressed from Alertmanager's timeinterval/timeinterval_test.go (timeIntervalTestCases,
// yamlUnmarshalTestCases, completeTestCases): same intervals, same instants, same expectations.
const fromAlertmanager: ContainmentCase[] = [
  {
    name: 'an empty entry contains every instant',
    entries: [{}],
    inside: ['2006-01-02T15:04+00:00', '2007-01-03T10:04+00:00', '2006-01-04T09:04+00:00'],
    outside: [],
  },
  {
    name: '9am to 5pm, monday to friday',
    entries: [{ times: [{ start_time: '09:00', end_time: '17:00' }], weekdays: ['monday:friday'] }],
    inside: ['2020-05-04T15:04+00:00', '2020-05-05T10:04+00:00', '2020-06-09T09:04+00:00', '2020-07-08T09:00+00:00', '2020-07-08T16:59+00:00'],
    outside: ['2020-05-03T15:04+00:00', '2020-05-04T08:59+00:00', '2020-05-05T05:00+00:00', '2020-07-08T05:00+00:00'],
  },
  {
    name: 'Easter 2020 (days 4-6 of April 2020)',
    entries: [{ days_of_month: ['4:6'], months: ['april'], years: ['2020'] }],
    inside: ['2020-04-04T15:04+00:00', '2020-04-05T00:00+00:00', '2020-04-06T23:05+00:00'],
    outside: ['2018-05-03T15:04+00:00', '2020-04-03T23:59+00:00', '2020-06-04T23:59+00:00', '2019-04-06T23:59+00:00', '2020-04-07T00:00+00:00'],
  },
  {
    name: 'the last three days of every month',
    entries: [{ days_of_month: ['-3:-1'] }],
    inside: ['2020-01-31T15:04+00:00', '2020-01-30T15:04+00:00', '2020-01-29T15:04+00:00', '2020-06-30T00:00+00:00', '2020-02-29T23:05+00:00'],
    outside: ['2018-05-03T15:04+00:00', '2020-01-27T15:04+00:00', '2020-04-03T23:59+00:00', '2020-06-04T23:59+00:00', '2020-03-01T00:00+00:00'],
  },
  // Alertmanager builds this one as a struct holding -31:31, which its YAML validation refuses
  // (a negative start needs a negative end); the two halves of it can be written.
  {
    name: 'days beyond the month are clamped to its boundaries (-31:-1 in June)',
    entries: [{ months: ['6'], days_of_month: ['-31:-1'] }],
    inside: ['2020-06-30T00:00+00:00', '2020-06-01T00:00+00:00'],
    outside: ['2020-05-31T00:00+00:00', '2020-07-01T00:00+00:00'],
  },
  {
    name: 'days beyond the month are clamped to its boundaries (1:31 in June)',
    entries: [{ months: ['6'], days_of_month: ['1:31'] }],
    inside: ['2020-06-30T00:00+00:00', '2020-06-01T00:00+00:00'],
    outside: ['2020-05-31T00:00+00:00', '2020-07-01T00:00+00:00'],
  },
  {
    name: 'business hours in Australia/Sydney',
    entries: [{ times: [{ start_time: '09:00', end_time: '17:00' }], weekdays: ['monday:friday'], location: 'Australia/Sydney' }],
    inside: ['2021-04-06T13:00+10:00'],
    outside: ['2021-04-06T13:00+00:00'],
  },
  {
    name: 'business hours in November in Australia/Sydney, during daylight saving time',
    entries: [{ times: [{ start_time: '09:00', end_time: '17:00' }], weekdays: ['monday:friday'], months: ['november'], location: 'Australia/Sydney' }],
    inside: ['2021-11-01T09:00+11:00', '2021-10-31T22:00+00:00'],
    outside: ['2021-10-31T21:00+00:00'],
  },
  {
    name: 'the last day of the month does not shift in a spring-forward month (America/New_York)',
    entries: [{ days_of_month: ['-1'], location: 'America/New_York' }],
    inside: ['2021-03-31T12:00-04:00'],
    outside: ['2021-03-30T12:00-04:00'],
  },
  {
    name: 'last week of Q1, excluding Saturday, business hours, 2020-2025 and 2030-2035',
    entries: [{ weekdays: ['monday:friday', 'sunday'], months: ['january:march'], days_of_month: ['-7:-1'], years: ['2020:2025', '2030:2035'], times: [{ start_time: '09:00', end_time: '17:00' }] }],
    inside: ['2021-01-27T09:00+00:00', '2021-01-28T16:59+00:00', '2021-01-29T13:00+00:00', '2025-03-31T13:00+00:00', '2035-01-31T13:00+00:00'],
    outside: ['2021-01-30T13:00+00:00', '2021-04-01T13:00+00:00', '2026-01-30T13:00+00:00', '2035-01-31T17:01+00:00'],
  },
  {
    name: 'several weekday, day-of-month and month ranges together',
    entries: [{ weekdays: ['monday:wednesday', 'saturday', 'sunday'], times: [{ start_time: '13:00', end_time: '15:00' }], days_of_month: ['1', '10', '20:-1'], years: ['2020:2023'], months: ['january:march'] }],
    inside: ['2021-01-10T13:00+00:00', '2021-01-30T14:24+00:00'],
    outside: ['2021-01-09T13:00+00:00', '2021-01-20T12:59+00:00', '2021-02-02T13:00+00:00'],
  },
  {
    name: 'a range starting after the end of a short month is skipped, not clamped (30:31 in February)',
    entries: [{ days_of_month: ['30:31'], years: ['2020:2023'], months: ['february'] }],
    inside: [],
    outside: ['2021-02-28T13:00+00:00'],
  },
];

const corners: ContainmentCase[] = [
  {
    name: 'times are half-open: the start minute is in, the end minute is out',
    entries: [{ times: [{ start_time: '09:00', end_time: '17:00' }] }],
    inside: ['2026-03-02T09:00:00.000Z', '2026-03-02T16:59:59.999Z'],
    outside: ['2026-03-02T08:59:59.999Z', '2026-03-02T17:00:00.000Z'],
  },
  {
    name: "24:00 ends at midnight: the day's last minute is in, the next day's first is out",
    entries: [{ times: [{ start_time: '17:00', end_time: '24:00' }], weekdays: ['friday'] }],
    inside: ['2026-03-06T17:00Z', '2026-03-06T23:59:59.999Z'],
    outside: ['2026-03-07T00:00Z', '2026-03-06T16:59Z'],
  },
  {
    name: 'a whole day, 00:00 to 24:00',
    entries: [{ times: [{ start_time: '00:00', end_time: '24:00' }] }],
    inside: ['2026-03-06T00:00Z', '2026-03-06T12:00Z', '2026-03-06T23:59Z'],
    outside: [],
  },
  {
    name: '-1 is February 29th in a leap year (2024), not the 28th',
    entries: [{ days_of_month: ['-1'] }],
    inside: ['2024-02-29T00:00Z', '2024-02-29T23:59Z'],
    outside: ['2024-02-28T12:00Z', '2024-03-01T00:00Z'],
  },
  {
    name: '-1 is February 28th in a common year (2023)',
    entries: [{ days_of_month: ['-1'] }],
    inside: ['2023-02-28T12:00Z'],
    outside: ['2023-02-27T12:00Z', '2023-03-01T00:00Z'],
  },
  {
    name: '-2:-1 in a leap February is the 28th and 29th',
    entries: [{ days_of_month: ['-2:-1'], months: ['february'] }],
    inside: ['2024-02-28T00:00Z', '2024-02-29T12:00Z'],
    outside: ['2024-02-27T23:59Z'],
  },
  {
    name: '1:31 ends with the month: clamped to February 29th in 2024',
    entries: [{ days_of_month: ['1:31'] }],
    inside: ['2024-02-01T00:00Z', '2024-02-29T23:59Z'],
    outside: [],
  },
  {
    name: '-31:-1 starts with the month: clamped to February 1st',
    entries: [{ days_of_month: ['-31:-1'] }],
    inside: ['2024-02-01T00:00Z', '2023-02-01T00:00Z', '2024-02-15T00:00Z'],
    outside: [],
  },
  {
    name: '-31 alone exists only in 31-day months (the 1st); February has no day -31',
    entries: [{ days_of_month: ['-31'] }],
    inside: ['2024-01-01T00:00Z'],
    outside: ['2024-02-01T00:00Z', '2024-01-02T00:00Z', '2024-04-01T00:00Z'],
  },
  {
    name: '1:-1 is every day of every month',
    entries: [{ days_of_month: ['1:-1'] }],
    inside: ['2024-02-29T00:00Z', '2024-01-31T00:00Z', '2024-04-01T00:00Z'],
    outside: [],
  },
  {
    name: 'years: both ends of a range are included',
    entries: [{ years: ['2020:2022'] }],
    inside: ['2020-01-01T00:00Z', '2022-12-31T23:59Z'],
    outside: ['2019-12-31T23:59Z', '2023-01-01T00:00Z'],
  },
  {
    name: 'the year, like every field, is read in the location: 2025-12-31T23:30Z is already 2026 in Berlin',
    entries: [{ years: ['2026'], location: 'Europe/Berlin' }],
    inside: ['2025-12-31T23:30Z'],
    outside: ['2025-12-31T22:59Z'],
  },
  {
    name: 'spring forward in Europe/Berlin (2026-03-29): the skipped hour 02:00-03:00 never happens',
    entries: [{ times: [{ start_time: '02:00', end_time: '03:00' }], days_of_month: ['29'], months: ['march'], location: 'Europe/Berlin' }],
    inside: [],
    outside: ['2026-03-29T00:59:59Z', '2026-03-29T01:00Z', '2026-03-29T01:30Z'],
  },
  {
    name: 'spring forward in Europe/Berlin: 03:00 local is 01:00 UTC that day',
    entries: [{ times: [{ start_time: '03:00', end_time: '04:00' }], location: 'Europe/Berlin' }],
    inside: ['2026-03-29T01:00Z', '2026-03-29T01:59Z'],
    outside: ['2026-03-29T00:59Z', '2026-03-29T02:00Z'],
  },
  {
    name: 'fall back in Europe/Berlin (2026-10-25): 02:00-03:00 happens twice, both are in',
    entries: [{ times: [{ start_time: '02:00', end_time: '03:00' }], location: 'Europe/Berlin' }],
    inside: ['2026-10-25T00:00Z', '2026-10-25T00:59Z', '2026-10-25T01:00Z', '2026-10-25T01:59Z'],
    outside: ['2026-10-24T23:59Z', '2026-10-25T02:00Z'],
  },
  {
    name: 'no location means UTC',
    entries: [{ times: [{ start_time: '09:00', end_time: '10:00' }] }],
    inside: ['2026-07-01T09:30Z', '2026-07-01T11:30+02:00'],
    outside: ['2026-07-01T09:30+02:00'],
  },
  {
    name: 'an empty field list matches nothing, as in Alertmanager (weekdays: [])',
    entries: [{ weekdays: [] }],
    inside: [],
    outside: ['2026-07-01T09:30Z', '2026-07-04T09:30Z'],
  },
  {
    name: 'a null field is unset and matches everything (weekdays: with no value)',
    entries: [{ weekdays: null, times: null }],
    inside: ['2026-07-01T09:30Z', '2026-07-04T23:59Z'],
    outside: [],
  },
  {
    name: 'a null entry is an empty one and matches everything, as in Alertmanager',
    entries: [null],
    inside: ['2026-07-01T09:30Z'],
    outside: [],
  },
  {
    name: 'any entry may match: weekday evenings or whole weekends',
    entries: [{ weekdays: ['monday:friday'], times: [{ start_time: '18:00', end_time: '24:00' }] }, { weekdays: ['saturday', 'sunday'] }],
    inside: ['2026-03-02T18:00Z', '2026-03-07T10:00Z', '2026-03-08T23:59Z'],
    outside: ['2026-03-02T17:59Z', '2026-03-09T00:00Z'],
  },
  {
    name: 'weekday and month names are case-insensitive; months also by number',
    entries: [{ weekdays: ['MONDAY:Tuesday'], months: ['JANUARY:March', 12] }],
    inside: ['2026-01-05T12:00Z', '2026-12-01T12:00Z'],
    outside: ['2026-01-07T12:00Z', '2026-04-06T12:00Z'],
  },
];

describe('isActive', () => {
  describe.each([
    ['cases from Alertmanager', fromAlertmanager],
    ['corners', corners],
  ])('%s', (_group, cases) => {
    it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
      expect(misjudged(c.entries, c.inside, true)).toEqual([]);
      expect(misjudged(c.entries, c.outside, false)).toEqual([]);
    });
  });

  it('a definition with no entries is never active', () => {
    expect(isActive(define('never', []).time_intervals, new Date('2026-07-01T09:30Z'))).toBe(false);
    expect(isActive(timeIntervalDefinitionSchema.parse({ name: 'never' }).time_intervals, new Date('2026-07-01T09:30Z'))).toBe(false);
  });

  it('Local evaluates in the process time zone', () => {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const hours = [{ start_time: '09:00', end_time: '17:00' }];
    const local = define('local', [{ times: hours, location: 'Local' }]).time_intervals;
    const explicit = define('explicit', [{ times: hours, location: zone }]).time_intervals;
    for (let hour = 0; hour < 24; hour++) {
      const at = new Date(Date.UTC(2026, 6, 1, hour, 30));
      expect(isActive(local, at)).toBe(isActive(explicit, at));
    }
  });

  it('refuses an invalid Date rather than answering', () => {
    expect(() => isActive([{}], new Date('not a date'))).toThrow(RangeError);
  });
});

describe('timeIntervalDefinitionSchema', () => {
  it('parses times to minutes of the day and ranges to numbers', () => {
    const definition = define('all', [
      {
        times: [{ start_time: '00:00', end_time: '24:00' }, { start_time: '01:35', end_time: '17:39' }, { start_time: '09:35', end_time: '09:39' }],
        weekdays: ['monday:friday', 'Saturday'],
        days_of_month: ['1:5', '-3:-1', 7, -1],
        months: ['January:december', '12', 3],
        years: ['2020:2022', 2030],
        location: 'Australia/Sydney',
      },
    ]);
    expect(definition).toEqual({
      name: 'all',
      time_intervals: [
        {
          times: [
            { start_minute: 0, end_minute: 1440 },
            { start_minute: 95, end_minute: 1059 },
            { start_minute: 575, end_minute: 579 },
          ],
          weekdays: [{ begin: 1, end: 5 }, { begin: 6, end: 6 }],
          days_of_month: [{ begin: 1, end: 5 }, { begin: -3, end: -1 }, { begin: 7, end: 7 }, { begin: -1, end: -1 }],
          months: [{ begin: 1, end: 12 }, { begin: 12, end: 12 }, { begin: 3, end: 3 }],
          years: [{ begin: 2020, end: 2022 }, { begin: 2030, end: 2030 }],
          location: 'Australia/Sydney',
        },
      ],
    });
  });

  it.each([
    ['UTC', 'UTC'],
    ['Local', 'Local'],
    ['US/Eastern', 'US/Eastern'],
    ['Etc/GMT+5', 'Etc/GMT+5'],
    ['', undefined],
    [null, undefined],
  ])('accepts location %p', (location, parsed) => {
    expect(define('tz', [{ location }]).time_intervals[0].location).toBe(parsed);
  });

  // The first rows are Alertmanager's own error cases (yamlUnmarshalTestCases, timeStringTestCases).
  it.each([
    [{ times: [{ start_time: '01:99', end_time: '23:59' }] }, 'times.0.start_time', `couldn't parse start_time "01:99": expected HH:MM`],
    [{ times: [{ start_time: '00:00', end_time: '99:99' }] }, 'times.0.end_time', `couldn't parse end_time "99:99"`],
    [{ times: [{ start_time: '12:30', end_time: '24:01' }] }, 'times.0.end_time', `couldn't parse end_time "24:01"`],
    [{ times: [{ start_time: '17:31', end_time: '17:31' }] }, 'times.0.end_time', 'start time 17:31 must be before end time 17:31'],
    [{ times: [{ start_time: '09:30', end_time: '07:41' }] }, 'times.0.end_time', 'cannot wrap past midnight'],
    [{ times: [{ start_time: '24:00', end_time: '17:41' }] }, 'times.0.start_time', '24:00 is only allowed as end_time'],
    [{ times: [{ start_time: '14:03' }] }, 'times.0.end_time', 'expected string'],
    [{ weekdays: ['friday:monday'] }, 'weekdays.0', "start day friday is after end day monday: ranges cannot wrap around the week (write ['friday:saturday', 'sunday:monday'])"],
    [{ weekdays: ['blurgsday:flurgsday'] }, 'weekdays.0', 'blurgsday is not a valid weekday'],
    [{ weekdays: ['1:3'] }, 'weekdays.0', '1 is not a valid weekday'],
    [{ weekdays: ['-2:-1'] }, 'weekdays.0', '-2 is not a valid weekday'],
    [{ days_of_month: ['0'] }, 'days_of_month.0', '0 is not a valid day of the month: out of range'],
    [{ days_of_month: ['-50:-20'] }, 'days_of_month.0', '-50 is not a valid day of the month: out of range'],
    [{ days_of_month: ['1:50'] }, 'days_of_month.0', '50 is not a valid day of the month: out of range'],
    [{ days_of_month: ['-15:5'] }, 'days_of_month.0', 'end day must be negative if start day is negative'],
    [{ days_of_month: ['10:-25'] }, 'days_of_month.0', 'end day -25 is always before start day 10'],
    [{ months: ['martius:june'] }, 'months.0', 'martius is not a valid month'],
    [{ months: ['march:junius'] }, 'months.0', 'junius is not a valid month'],
    [{ months: ['december:january'] }, 'months.0', "end month january is before start month december: ranges cannot wrap around the year (write ['december', 'january'])"],
    [{ years: ['2022:2020'] }, 'years.0', 'end year 2020 is before start year 2022'],
    // Beyond Alertmanager's test file.
    [{ times: [{ start_time: '9:00', end_time: '17:00' }] }, 'times.0.start_time', 'two-digit hours'],
    [{ days_of_month: ['5:1'] }, 'days_of_month.0', 'end day 1 is always before start day 5'],
    [{ days_of_month: ['-1:-3'] }, 'days_of_month.0', 'end day -3 is always before start day -1'],
    [{ days_of_month: ['first'] }, 'days_of_month.0', 'first is not a valid day of the month: expected an integer'],
    [{ days_of_month: [1.5] }, 'days_of_month.0', '1.5 is not a valid day of the month'],
    [{ days_of_month: ['1:2:3'] }, 'days_of_month.0', `couldn't parse range "1:2:3"`],
    [{ months: ['13'] }, 'months.0', '13 is not a valid month'],
    [{ months: [0] }, 'months.0', '0 is not a valid month'],
    [{ years: ['twenty'] }, 'years.0', 'twenty is not a valid year'],
    [{ location: 'Europe/Berln' }, 'location', 'unknown location "Europe/Berln"'],
    [{ location: 'europe/berlin' }, 'location', 'time zone names are case-sensitive (did you mean "Europe/Berlin"?)'],
    [{ location: 'asia/kolkata' }, 'location', 'unknown location "asia/kolkata": time zone names are case-sensitive'],
    [{ location: 'EUROPE/BERLIN' }, 'location', 'time zone names are case-sensitive (did you mean "Europe/Berlin"?)'],
    [{ location: 'utc' }, 'location', 'time zone names are case-sensitive'],
    [{ location: '+01:00' }, 'location', 'unknown location "+01:00"'],
    [{ weekdays: 'monday' }, 'weekdays', 'expected array'],
    [{ weekday: ['monday'] }, '', 'Unrecognized key: "weekday"'],
    [{ times: [{ start_time: '09:00', end_time: '17:00', timezone: 'UTC' }] }, 'times.0', 'Unrecognized key: "timezone"'],
  ])('rejects %j at %p: %s', (entry, path, message) => {
    const result = timeIntervalDefinitionSchema.safeParse({ name: 'bad', time_intervals: [entry] });
    expect(result.success).toBe(false);
    const issues = (result.error?.issues ?? []).map((issue) => ({ path: issue.path.slice(2).join('.'), message: issue.message }));
    expect(issues).toEqual([{ path, message: expect.stringContaining(message) }]);
  });

  it.each([[{ time_intervals: [] }], [{ name: '', time_intervals: [] }], [{ name: null }]])('requires a name: %j', (definition) => {
    const result = timeIntervalDefinitionSchema.safeParse(definition);
    expect(result.error?.issues).toEqual([expect.objectContaining({ path: ['name'], message: 'missing name in time interval' })]);
  });

  it('reads alertmanager.yml as the YAML loader gives it: unquoted HH:MM stays a string, bare numbers are days, months and years', () => {
    const document = parseYaml(`
- name: weekday-nights
  time_intervals:
    - times:
        - start_time: 00:00
          end_time: 09:00
      weekdays: [Monday:Friday]
      days_of_month: [1, -1, '10:20']
      months: [1, march]
      years: [2026]
      location: Europe/Berlin
`);
    const [definition] = timeIntervalListSchema.parse(document);
    expect(definition.time_intervals[0]).toEqual({
      times: [{ start_minute: 0, end_minute: 540 }],
      weekdays: [{ begin: 1, end: 5 }],
      days_of_month: [{ begin: 1, end: 1 }, { begin: -1, end: -1 }, { begin: 10, end: 20 }],
      months: [{ begin: 1, end: 1 }, { begin: 3, end: 3 }],
      years: [{ begin: 2026, end: 2026 }],
      location: 'Europe/Berlin',
    });
    // Thursday 2026-01-01 08:59 in Berlin.
    expect(isActive(definition.time_intervals, new Date('2026-01-01T07:59Z'))).toBe(true);
    expect(isActive(definition.time_intervals, new Date('2026-01-01T08:00Z'))).toBe(false);
  });
});

describe('timeIntervalListSchema', () => {
  it('refuses a name defined twice, at the second one', () => {
    const result = timeIntervalListSchema.safeParse([{ name: 'night' }, { name: 'day' }, { name: 'night' }]);
    expect(result.error?.issues).toEqual([expect.objectContaining({ path: [2, 'name'], message: 'time interval "night" is not unique' })]);
  });
});

describe('TimeIntervalResolver', () => {
  // Alertmanager's TestIntervener_Mutes, re-expressed: evenings and weekends in Sydney.
  const resolver = new TimeIntervalResolver([
    define('evenings', [
      {
        times: [
          { start_time: '00:00', end_time: '09:00' },
          { start_time: '17:00', end_time: '24:00' },
        ],
        location: 'Australia/Sydney',
      },
    ]),
    define('weekends', [{ weekdays: ['saturday', 'sunday'], location: 'Australia/Sydney' }]),
    define('never', []),
  ]);
  const both = ['evenings', 'weekends'];

  it.each([
    ['outside working hours', '2024-01-01T00:00+11:00', ['evenings']],
    ['during working hours', '2024-01-01T09:00+11:00', []],
    ['during a weekend', '2024-01-06T10:00+11:00', ['weekends']],
    ['on a weekend evening', '2024-01-06T17:00+11:00', ['evenings', 'weekends']],
    ['at 10:00 UTC on a weekday (21:00 in Sydney)', '2024-01-01T10:00Z', ['evenings']],
    ['at 10:00 UTC on a weekend', '2024-01-06T10:00Z', ['evenings', 'weekends']],
  ])('activeAmong %s', (_name, at, active) => {
    expect(resolver.activeAmong(both, new Date(at))).toEqual(active);
    expect(resolver.isMuted(both, new Date(at))).toBe(active.length > 0);
  });

  it('lists each active name once, in the order asked', () => {
    expect(resolver.activeAmong(['weekends', 'evenings', 'weekends'], new Date('2024-01-06T10:00Z'))).toEqual(['weekends', 'evenings']);
  });

  it('refuses a name that is not defined, and a name defined twice', () => {
    expect(() => resolver.activeAmong(['evenings', 'holidays'], new Date('2024-01-01T00:00Z'))).toThrow('time interval "holidays" is not defined');
    expect(() => new TimeIntervalResolver([define('x', []), define('x', [])])).toThrow('time interval "x" is not unique');
    expect(resolver.has('weekends')).toBe(true);
    expect(resolver.has('holidays')).toBe(false);
  });

  const monday0900 = new Date('2024-01-01T09:00+11:00');
  const mondayEvening = new Date('2024-01-01T18:00+11:00');
  const saturdayEvening = new Date('2024-01-06T18:00+11:00');
  it.each<[string, RouteTimeIntervals, Date, RouteTimeMute]>([
    ['no intervals: never muted', {}, monday0900, { muted: false }],
    ['empty lists: never muted', { muteTimeIntervals: [], activeTimeIntervals: [] }, monday0900, { muted: false }],
    ['mute interval not active', { muteTimeIntervals: both }, monday0900, { muted: false }],
    ['mute interval active', { muteTimeIntervals: both }, mondayEvening, { muted: true, reason: 'mute_time_intervals', by: ['evenings'] }],
    ['inside one of the active intervals', { activeTimeIntervals: ['never', 'evenings'] }, mondayEvening, { muted: false }],
    ['outside all active intervals: muted by all of them', { activeTimeIntervals: ['never', 'evenings'] }, monday0900, { muted: true, reason: 'active_time_intervals', by: ['never', 'evenings'] }],
    ['an active interval that never holds mutes always', { activeTimeIntervals: ['never'] }, mondayEvening, { muted: true, reason: 'active_time_intervals', by: ['never'] }],
    ['active time checked before mute time', { activeTimeIntervals: ['weekends'], muteTimeIntervals: ['evenings'] }, mondayEvening, { muted: true, reason: 'active_time_intervals', by: ['weekends'] }],
    ['in active time and in mute time: muted by the mute interval', { activeTimeIntervals: ['weekends'], muteTimeIntervals: ['evenings'] }, saturdayEvening, { muted: true, reason: 'mute_time_intervals', by: ['evenings'] }],
  ])('routeMute: %s', (_name, route, at, decision) => {
    expect(resolver.routeMute(route, at)).toEqual(decision);
    expect(resolver.isInActiveTime(route.activeTimeIntervals ?? [], at)).toBe(!(decision.muted && decision.reason === 'active_time_intervals'));
  });
});
