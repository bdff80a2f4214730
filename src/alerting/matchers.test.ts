import { formatPrometheusDuration, parsePrometheusDuration } from './duration';
import { Matcher, MatcherError, matchersFromMap, matchesAll, parseMatcher, parseMatchers } from './matchers';

describe('parseMatcher', () => {
  test.each([
    ['a="b"', '=', 'a', 'b'],
    ['a!="b"', '!=', 'a', 'b'],
    ['a=~"b.*"', '=~', 'a', 'b.*'],
    ['a!~"b.*"', '!~', 'a', 'b.*'],
    // =~ is not read as = followed by a value starting with ~.
    ['a=~b', '=~', 'a', 'b'],
    ['  a  =  "b c"  ', '=', 'a', 'b c'],
    ['a=b c ', '=', 'a', 'b c'],
    ['a=', '=', 'a', ''],
    ['a=""', '=', 'a', ''],
    ['ns:metric_1="x"', '=', 'ns:metric_1', 'x'],
    ['a="say \\"hi\\""', '=', 'a', 'say "hi"'],
    ['a="line\\nbreak"', '=', 'a', 'line\nbreak'],
    ['a="back\\\\slash"', '=', 'a', 'back\\slash'],
    // A backslash before anything else, or at the very end, is literal.
    ['a="C:\\temp"', '=', 'a', 'C:\\temp'],
    ['a=end\\', '=', 'a', 'end\\'],
    ['a="multi\nline"', '=', 'a', 'multi\nline'],
  ])('%s', (text, type, name, value) => {
    const m = parseMatcher(text);
    expect([m.type, m.name, m.value]).toEqual([type, name, value]);
  });

  test.each([
    ['', /bad matcher format/],
    ['a', /bad matcher format/],
    ['1a="b"', /bad matcher format/],
    ['a-b="c"', /bad matcher format/],
    ['a=="b"', /unescaped double quote/],
    ['a="b', /unescaped double quote/],
    ['a=b"c', /unescaped double quote/],
    ['a="b"c"', /unescaped double quote/],
  ])('refuses %j', (text, message) => {
    expect(() => parseMatcher(text)).toThrow(MatcherError);
    expect(() => parseMatcher(text)).toThrow(message);
  });
});

describe('parseMatchers (the list form)', () => {
  const parsed = (text: string): string[] => parseMatchers(text).map(String);

  test('braces, spaces and a trailing comma are optional', () => {
    expect(parsed('{foo = "bar", dings != "bums", }')).toEqual(['foo="bar"', 'dings!="bums"']);
    expect(parsed('foo=bar,dings!=bums')).toEqual(['foo="bar"', 'dings!="bums"']);
    expect(parsed('{}')).toEqual([]);
  });

  test('a comma inside quotes does not separate; an escaped quote does not end the quotes', () => {
    expect(parseMatchers('{quote="She said: \\"Hi, ladies!\\"", b=~"x,y"}').map((m) => m.value)).toEqual(['She said: "Hi, ladies!"', 'x,y']);
  });

  test('an empty matcher between commas is an error', () => {
    expect(() => parseMatchers('a=b,,c=d')).toThrow(/bad matcher format/);
  });
});

describe('matching', () => {
  test('a missing label equals the empty string', () => {
    expect(parseMatcher('region=""').matches({})).toBe(true);
    expect(parseMatcher('region!=""').matches({})).toBe(false);
    expect(parseMatcher('region=~".*"').matches({})).toBe(true);
    expect(parseMatcher('region=~".+"').matches({})).toBe(false);
    // !~ on a missing label: "" does not match eu-.+, so the matcher holds.
    expect(parseMatcher('region!~"eu-.+"').matches({})).toBe(true);
    expect(parseMatcher('region!="eu"').matches({})).toBe(true);
  });

  test('regexes are fully anchored', () => {
    const m = parseMatcher('code=~"5.."');
    expect(['500', '503'].map((v) => m.matchesValue(v))).toEqual([true, true]);
    expect(['5000', 'x500', '50'].map((v) => m.matchesValue(v))).toEqual([false, false, false]);
    expect(parseMatcher('a=~"b|c"').matchesValue('bc')).toBe(false);
  });

  test('(?i) is case-insensitive and still anchored', () => {
    const m = parseMatcher('host=~"(?i)web-.*"');
    expect(['WEB-1', 'Web-x', 'web-'].map((v) => m.matchesValue(v))).toEqual([true, true, true]);
    expect(['xweb-1', ' web-1'].map((v) => m.matchesValue(v))).toEqual([false, false]);
  });

  test('. does not match a newline (RE2 default), (?s) makes it', () => {
    expect(parseMatcher('a=~".*"').matchesValue('x\ny')).toBe(false);
    expect(parseMatcher('a=~"(?s).*"').matchesValue('x\ny')).toBe(true);
  });

  test('the value is pasted into ^(?:...)$, as Alertmanager does', () => {
    // ^(?:a)|(b)$ : a prefix "a" or a suffix "b".
    const m = parseMatcher('p=~"a)|(b"');
    expect(['axyz', 'xyzb', 'xyz'].map((v) => m.matchesValue(v))).toEqual([true, true, false]);
    // Legacy match_re is anchored twice in Alertmanager 0.25: only "a" or "b".
    const [legacy] = matchersFromMap({ p: 'a)|(b' }, '=~');
    expect(['a', 'b', 'axyz', 'xyzb'].map((v) => legacy.matchesValue(v))).toEqual([true, true, false, false]);
  });

  test('matchesAll needs every matcher; no matchers match everything', () => {
    const ms = parseMatchers('{a="1", b=~"2|3"}');
    expect(matchesAll(ms, { a: '1', b: '3' })).toBe(true);
    expect(matchesAll(ms, { a: '1', b: '4' })).toBe(false);
    expect(matchesAll([], {})).toBe(true);
  });

  test('legacy match is exact equality', () => {
    expect(matchersFromMap({ team: 'db' }, '=').map(String)).toEqual(['team="db"']);
  });
});

describe('RE2 only', () => {
  test.each([
    ['lookahead', 'a(?=b)', /invalid or unsupported Perl syntax: `\(\?=`/],
    ['negative lookbehind', '(?<!a)b', /invalid named capture/],
    ['backreference', '(a)\\1', /invalid escape sequence/],
    ['unbalanced parenthesis', '(a', /missing closing \)/],
    ['possessive quantifier', 'a++', /invalid nested repetition operator/],
  ])('%s is refused with a clear message', (_name, regex, reason) => {
    let error: unknown;
    try {
      new Matcher('=~', 'a', regex);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MatcherError);
    expect((error as Error).message).toContain(`invalid regular expression "${regex}"`);
    expect((error as Error).message).toMatch(reason);
    expect((error as Error).message).toContain('RE2 syntax');
  });

  test('a refused regex is refused by the string form too, and by !~', () => {
    expect(() => parseMatcher('a!~"(?=x)"')).toThrow(MatcherError);
  });
});

describe('Prometheus durations', () => {
  test.each([
    ['0', 0],
    ['30s', 30_000],
    ['1h30m', 5_400_000],
    ['1d', 86_400_000],
    ['2w', 1_209_600_000],
    ['1y', 31_536_000_000],
    ['500ms', 500],
    ['1m30s500ms', 90_500],
  ])('%s', (text, ms) => expect(parsePrometheusDuration(text)).toBe(ms));

  test.each(['', '30', '1.5h', '30m1h', '5 m', '-1s', '1h1h'])('refuses %j', (text) => expect(parsePrometheusDuration(text)).toBeUndefined());

  test.each([
    [0, '0s'],
    [30_000, '30s'],
    [300_000, '5m'],
    [14_400_000, '4h'],
    [5_400_000, '1h30m'],
    [86_400_000, '1d'],
    [1_209_600_000, '2w'],
    [31_536_000_000, '1y'],
    [90_500, '1m30s500ms'],
  ])('formats %d ms as %s', (ms, text) => expect(formatPrometheusDuration(ms)).toBe(text));
});
