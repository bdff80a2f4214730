import type { IncomingMessage, ServerResponse } from 'node:http';
import { compilePattern } from '../bus/pattern';
import { errorMessage } from '../core/errors';
import { HttpError } from '../http/reply';
import { MAX_READ_LIMIT, type EventStore } from './event-store';

const DEFAULT_LIMIT = 100;

/**
 * `GET /events?since=OFFSET&types=a,b.*&limit=N[&epoch=E]` for dashboards that poll. Answers
 * `{ epoch, recovered, since, next_offset, head, tail, events: [{ offset, event }] }`: pass
 * `next_offset - 1` as the next `since`. `recovered: false` when the history no longer covers
 * `since` (removed by retention, or `epoch` given and different); events then start at the tail.
 * Each event's JSON is the stored text, not serialised again.
 */
export function eventsRoute(store: EventStore): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
    const since = integerParam(query.get('since'), 'since', 0);
    const limit = Math.min(integerParam(query.get('limit'), 'limit', DEFAULT_LIMIT), MAX_READ_LIMIT);
    if (limit < 1) throw new HttpError(400, 'STORE_BAD_QUERY', 'limit must be at least 1');
    const typesParam = query.get('types');
    const types = typesParam === null ? undefined : typesParam.split(',').map((t) => t.trim()).filter(Boolean);
    for (const type of types ?? []) {
      try {
        compilePattern(type, () => true);
      } catch (error) {
        throw new HttpError(400, 'STORE_BAD_QUERY', `types: ${errorMessage(error)}`, { type });
      }
    }
    const epoch = query.get('epoch');
    const result = store.read(since, { limit, ...(types ? { types } : {}) });
    const recovered = result.recovered && (epoch === null || epoch === result.epoch);
    const head = JSON.stringify({ epoch: result.epoch, recovered, since, next_offset: result.next_offset, head: result.head, tail: store.tail });
    const events = result.events.map((e) => `{"offset":${e.offset},"event":${e.json}}`).join(',');
    const body = `${head.slice(0, -1)},"events":[${events}]}`;
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
  };
}

function integerParam(value: string | null, name: string, fallback: number): number {
  if (value === null || value === '') return fallback;
  if (!/^\d+$/.test(value)) throw new HttpError(400, 'STORE_BAD_QUERY', `${name} must be a non-negative integer, got "${value.slice(0, 40)}"`);
  return Number(value);
}
