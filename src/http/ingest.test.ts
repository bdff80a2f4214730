import { HttpError } from './reply';
import { EventBus } from '../bus/event-bus';
import { FakeClock } from '../core/clock';
import { EventRegistry } from '../events/registry';
import { ingest, ingestFailure, ingestFormat, ingestStatus, parseIngestBody } from './ingest';
import { IngestDedup } from './ingest-dedup';

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

describe('ingest of fleet tags', () => {
  it('refuses a tag agent:<id> (it marks events that came from the fleet), accepts other name:value tags', async () => {
    const clock = new FakeClock();
    const bus = new EventBus(new EventRegistry(), clock);
    const context = { source: 'ingest', reservedSources: new Set<string>(), dedup: new IngestDedup(clock), clock };
    const item = (tags: string[]): { value: unknown } => ({ value: { type: 'system.error', data: { severity: 'error', message: 'x', component: 'y' }, metadata: { tags } } });
    const result = await ingest(bus, [item(['db', 'agent:edge-2']), item(['agents:edge-1', 'db'])], context);
    expect(result.accepted.map((a) => a.index)).toEqual([1]);
    expect(result.rejected).toEqual([
      { index: 0, code: 'EVENT_RESERVED_TAG', message: expect.stringContaining('tag "agent:edge-2"') as string, errors: [{ path: 'metadata.tags', message: expect.any(String) as string }] },
    ]);
  });
});
