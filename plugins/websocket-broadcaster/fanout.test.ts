import type { StoredEvent } from 'praxis-agent';
import { Connection } from './connection';
import { CONNECTIONS_PER_TURN, FanOut } from './fanout';
import { eventFrame, textFrame } from './protocol';

/** A connection on no real socket: the fan-out only reads its state, filter, cursor and the socket's unsent bytes. */
function connection(id: string, patterns: string[], buffered = 0): Connection {
  const conn = new Connection(id, { bufferedAmount: buffered } as never, 0, '', {} as never);
  conn.useDefaults(patterns);
  return conn;
}

function entry(offset: number, type = 'system.error', size = 20): StoredEvent {
  const json = JSON.stringify({ type, data: { message: 'x'.repeat(size) } });
  return { offset, type, json, event: JSON.parse(json) } as StoredEvent;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Records every write and cut; parses the frames back into event offsets per connection. Time (the
 * fan-out's `now`, ms) stands still unless the test moves `clock.ms`, or each write takes `clock.perWrite`.
 */
function harness(connections: Connection[], maxBufferedBytes = 4 * 1024 * 1024) {
  const writes: { conn: Connection; data: Buffer; count: number }[] = [];
  const cut: Connection[] = [];
  const clock = { ms: 1000, perWrite: 0 };
  const fanout = new FanOut(
    () => connections,
    (conn, data, count) => {
      writes.push({ conn, data, count });
      clock.ms += clock.perWrite;
      return true;
    },
    (conn) => {
      conn.state = 'disconnecting';
      cut.push(conn);
    },
    maxBufferedBytes,
    () => clock.ms,
  );
  const offsetsOf = (conn: Connection): number[] =>
    writes
      .filter((w) => w.conn === conn)
      .flatMap((w) => [...w.data.toString('latin1').matchAll(/"id":"(\d+)"\}/g)].map((m) => Number(m[1])));
  return { fanout, writes, cut, offsetsOf, clock };
}

describe('FanOut', () => {
  it('queues events without writing, then writes each connection its events once per burst, in order, as ready frames', async () => {
    const all = connection('a', ['*']);
    const errors = connection('b', ['system.*']);
    const config = connection('c', ['config.*']);
    const { fanout, writes, offsetsOf } = harness([all, errors, config]);
    for (let i = 1; i <= 6; i++) fanout.add(entry(i, i % 2 === 0 ? 'config.changed' : 'system.error'));
    expect(writes).toHaveLength(0);
    await nextTurn();
    expect(writes.map((w) => [w.conn.id, w.count])).toEqual([['a', 6], ['b', 3], ['c', 3]]);
    expect(offsetsOf(all)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(offsetsOf(errors)).toEqual([1, 3, 5]);
    expect(offsetsOf(config)).toEqual([2, 4, 6]);
    // The bytes are exactly the WebSocket text frames of the event messages.
    expect(writes[1]?.data).toEqual(Buffer.concat([1, 3, 5].map((o) => textFrame(eventFrame(entry(o))))));
    expect(fanout.bursts).toBe(1);
    expect([all.cursor, errors.cursor, config.cursor]).toEqual([6, 6, 6]);
  });

  it('shares the bytes of a burst between connections with the same filter', async () => {
    const conns = [connection('a', ['system.*', 'config.*']), connection('b', ['config.*', 'system.*']), connection('c', ['system.*'])];
    const { fanout, writes } = harness(conns);
    fanout.add(entry(1));
    fanout.add(entry(2, 'config.changed'));
    await nextTurn();
    expect(writes[0]?.data).toBe(writes[1]?.data);
    expect(writes[2]?.data).not.toBe(writes[0]?.data);
  });

  it(`writes at most ${CONNECTIONS_PER_TURN} connections per turn; events queued meanwhile follow the burst on every connection`, async () => {
    const conns = Array.from({ length: CONNECTIONS_PER_TURN + 44 }, (_, i) => connection(`c${i}`, ['*']));
    const { fanout, writes, offsetsOf } = harness(conns);
    fanout.add(entry(1));
    fanout.add(entry(2));
    await nextTurn();
    expect(writes).toHaveLength(CONNECTIONS_PER_TURN);
    fanout.add(entry(3));
    for (let turn = 0; turn < 6; turn++) await nextTurn();
    expect(writes).toHaveLength(2 * conns.length);
    for (const conn of conns) expect(offsetsOf(conn)).toEqual([1, 2, 3]);
    expect(fanout.bursts).toBe(2);
  });

  it('counts the time spent in turns (fanout_ms)', async () => {
    const conns = Array.from({ length: 4 }, (_, i) => connection(`c${i}`, ['*']));
    const { fanout, writes, clock, offsetsOf } = harness(conns);
    clock.perWrite = 0.25;
    fanout.add(entry(1));
    await nextTurn();
    expect(writes).toHaveLength(4);
    expect(fanout.busyMs).toBeCloseTo(4 * 0.25, 6);
    for (const conn of conns) expect(offsetsOf(conn)).toEqual([1]);
  });

  it('catches one connection up at once (before its messages are answered), and the rest of the round skips it', async () => {
    const conns = Array.from({ length: CONNECTIONS_PER_TURN + 4 }, (_, i) => connection(`c${i}`, ['*']));
    const last = conns.at(-1) as Connection;
    const { fanout, offsetsOf } = harness(conns);
    fanout.add(entry(1));
    await nextTurn(); // the round is half done: `last` has nothing yet
    fanout.add(entry(2));
    expect(offsetsOf(last)).toEqual([]);
    fanout.catchUp(last);
    expect(offsetsOf(last)).toEqual([1, 2]);
    await nextTurn();
    await nextTurn();
    expect(offsetsOf(last)).toEqual([1, 2]);
    expect(offsetsOf(conns[0] as Connection)).toEqual([1, 2]);
  });

  it('a catch-up from the burst still being queued does not cut it short for the connections with the same filter', async () => {
    const a = connection('a', ['*']);
    const b = connection('b', ['*']);
    const { fanout, offsetsOf } = harness([a, b]);
    fanout.add(entry(1));
    fanout.catchUp(a);
    fanout.add(entry(2));
    await nextTurn();
    expect(offsetsOf(a)).toEqual([1, 2]);
    expect(offsetsOf(b)).toEqual([1, 2]);
  });

  it('finish() writes everything queued at once', () => {
    const conns = Array.from({ length: CONNECTIONS_PER_TURN + 1 }, (_, i) => connection(`c${i}`, ['*']));
    const { fanout, offsetsOf } = harness(conns);
    fanout.add(entry(1));
    fanout.finish();
    for (const conn of conns) expect(offsetsOf(conn)).toEqual([1]);
  });

  it('skips connections that are not live or not connected, and events at or before their cursor', async () => {
    const replaying = connection('r', ['*']);
    replaying.mode = 'replaying';
    const closing = connection('x', ['*']);
    closing.state = 'disconnecting';
    const late = connection('l', ['*']);
    late.cursor = 2; // opened after event 2 was appended
    const { fanout, writes, offsetsOf } = harness([replaying, closing, late]);
    for (let i = 1; i <= 3; i++) fanout.add(entry(i));
    await nextTurn();
    expect(writes.map((w) => w.conn.id)).toEqual(['l']);
    expect(offsetsOf(late)).toEqual([3]);
  });

  it('when it falls behind, cuts off the clients its backlog would take past max_buffered_bytes, not the others', async () => {
    const cap = 64 * 1024;
    const flooded = Array.from({ length: CONNECTIONS_PER_TURN + 1 }, (_, i) => connection(`f${i}`, ['system.*']));
    const narrow = connection('n', ['config.*']);
    const { fanout, cut, writes } = harness([...flooded, narrow], cap);
    fanout.add(entry(1, 'system.error'));
    await nextTurn(); // a round is in progress: the fan-out is behind
    for (let i = 2; i < 40; i++) fanout.add(entry(i, 'system.error', 2000));
    fanout.add(entry(40, 'config.changed'));
    // The last flooded connection (not yet written in the round) and the pending burst: over the cap.
    expect(cut.length).toBeGreaterThan(0);
    expect(cut).not.toContain(narrow);
    expect(cut.every((c) => c.id.startsWith('f'))).toBe(true);
    await nextTurn();
    await nextTurn();
    await nextTurn();
    // Nobody cut is written to again; the narrow client gets its event.
    const afterCut = writes.filter((w) => cut.includes(w.conn) && w.data.toString('latin1').includes('"id":"2"'));
    expect(afterCut).toHaveLength(0);
    expect(writes.some((w) => w.conn === narrow && w.data.toString('latin1').includes('"id":"40"'))).toBe(true);
  });

  it('does not cut anyone over what one turn publishes (the sockets take it, as before)', async () => {
    const conns = [connection('a', ['*']), connection('b', ['*'])];
    const { fanout, cut, offsetsOf } = harness(conns, 64 * 1024);
    for (let i = 1; i <= 100; i++) fanout.add(entry(i, 'system.error', 2000));
    await nextTurn();
    expect(cut).toEqual([]);
    expect(offsetsOf(conns[0] as Connection)).toHaveLength(100);
  });
});
