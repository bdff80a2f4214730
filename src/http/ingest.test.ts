import { HttpError } from './reply';
import { ingestFailure, ingestFormat, ingestStatus, parseIngestBody } from './ingest';

describe('ingestFormat', () => {
  it.each([
    [undefined, 'json'],
    ['', 'json'],
    ['application/json', 'json'],
    ['Application/JSON; charset=UTF-8', 'json'],
    ['application/vnd.praxis+json', 'json'],
    ['application/x-ndjson', 'ndjson'],
    ['application/ndjson; charset="utf-8"', 'ndjson'],
    ['application/jsonl', 'ndjson'],
  ])('%s → %s', (contentType, format) => {
    expect(ingestFormat(contentType)).toBe(format);
  });

  it.each(['text/plain', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16'])('refuses %s with 415', (contentType) => {
    const error = (() => {
      try {
        ingestFormat(contentType);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ status: 415, code: 'HTTP_UNSUPPORTED_MEDIA_TYPE' });
  });
});

describe('parseIngestBody', () => {
  it('reads an object as one item and an array as many', () => {
    expect(parseIngestBody(Buffer.from('{"type":"a.b"}'), 'json')).toEqual([{ value: { type: 'a.b' } }]);
    expect(parseIngestBody(Buffer.from('[1, 2]'), 'json')).toEqual([{ value: 1 }, { value: 2 }]);
  });

  it('strips a UTF-8 byte order mark', () => {
    expect(parseIngestBody(Buffer.from('\uFEFF{"type":"a.b"}'), 'json')).toHaveLength(1);
  });

  it('numbers NDJSON lines from 1, skipping blank ones', () => {
    expect(parseIngestBody(Buffer.from('\n{"a":1}\n\n{"b":2}'), 'ndjson')).toEqual([
      { value: { a: 1 }, line: 2 },
      { value: { b: 2 }, line: 4 },
    ]);
  });

  it('names the bad NDJSON line', () => {
    expect(() => parseIngestBody(Buffer.from('{"a":1}\n{oops'), 'ndjson')).toThrow(/line 2/);
  });
});

describe('ingestStatus / ingestFailure', () => {
  it('maps outcomes to statuses', () => {
    const accepted = [{ index: 0, event_id: 'x' }];
    const closed = { index: 0, code: 'BUS_CLOSED' as const, message: 'closed', errors: [] };
    const invalid = { index: 1, code: 'EVENT_INVALID' as const, message: 'bad', errors: [] };
    expect(ingestStatus({ accepted, rejected: [invalid] })).toBe(202);
    expect(ingestStatus({ accepted: [], rejected: [closed] })).toBe(503);
    expect(ingestStatus({ accepted: [], rejected: [closed, invalid] })).toBe(400);
    expect(ingestFailure({ accepted: [], rejected: [invalid] })).toEqual({ code: 'EVENT_INVALID', message: 'bad' });
    expect(ingestFailure({ accepted: [], rejected: [closed, invalid] })).toEqual({ code: 'HTTP_BAD_REQUEST', message: 'all 2 events were rejected' });
  });
});
