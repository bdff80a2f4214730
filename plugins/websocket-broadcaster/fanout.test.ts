import type { StoredEvent } from 'praxis-agent';
import { Connection } from './connection';
import { waitFor } from 'praxis-agent/testing';
import { FanOut, MAX_PENDING_EVENTS, MAX_TURN_MS, MIN_TURN_MS, TURN_SHARE, type CutReason } from './fanout';
import { eventFrame, textFrame } from './protocol';

/** A connection on no real socket: the fan-out only reads its state, filter, cursor and the socket's unsent bytes (`unsent`). */
function connection(id: string, patterns: string[], unsent = 0): Connection & { unsent: number } {
  const socket = { writableLength: unsent };
  const conn = new Connection(id, { get bufferedAmount() { return socket.writableLength; } } as never, 0, '', socket as never) as Connection & { unsent: number };
  Object.defineProperty(conn, 'unsent', { get: () => socket.writableLength, set: (n: number) => (socket.writableLength = n) });
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
function harness(connections: Connection[], options: { maxBufferedBytes?: number; maxLagMs?: number; onWrite?: (conn: Connection) => void } = {}) {
  const writes: { conn: Connection; data: Buffer; count: number }[] = [];
  const cut: { conn: Connection; why: CutReason }[] = [];
  const clock = { ms: 1000, perWrite: 0 };
  const fanout = new FanOut(
    () => new Set(connections),
    (conn, data, count) => {
      writes.push({ conn, data, count });
      options.onWrite?.(conn);
      clock.ms += clock.perWrite;
      return true;
    },
    (conn, why) => {
      conn.state = 'disconnecting';
      cut.push({ conn, why });
    },
    { maxBufferedBytes: options.maxBufferedBytes ?? 4 * 1024 * 1024, maxLagMs: options.maxLagMs ?? 2000, now: () => clock.ms },
  );
  const offsetsOf = (conn: Connection): number[] =>
    writes
      .filter((w) => w.conn === conn)
      .flatMap((w) => [...w.data.toString('latin1').matchAll(/"id":"(\d+)"\}/g)].map((m) => Number(m[1])));
  return { fanout, writes, cut, offsetsOf, clock, cutIds: () => cut.map((c) => c.conn.id) };
}

describe('FanOut', () => {
  it('queues events without writing, then writes each connection its events in order, as ready frames', async () => {
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
    expect(fanout.turns).toBe(1);
    expect([all.cursor, errors.cursor, config.cursor]).toEqual([6, 6, 6]);
    expect(fanout.pending).toBe(0);
  });

  it('queues nothing while nobody is connected: an agent without clients frames no event', async () => {
    const connections: Connection[] = [];
    const { fanout, writes, offsetsOf } = harness(connections);
    for (let i = 1; i <= 3; i++) fanout.add(entry(i));
    expect(fanout.pending).toBe(0);
    // One connecting later starts at the head, as the plugin sets its cursor: it gets what follows.
    const late = connection('late', ['*']);
    late.cursor = 3;
    connections.push(late);
    fanout.add(entry(4));
    await nextTurn();
    expect(writes).toHaveLength(1);
    expect(offsetsOf(late)).toEqual([4]);
  });

  it('shares the bytes of a write between connections with the same filter at the same position', async () => {
    const conns = [connection('a', ['system.*', 'config.*']), connection('b', ['config.*', 'system.*']), connection('c', ['system.*'])];
    const { fanout, writes } = harness(conns);
    fanout.add(entry(1));
    fanout.add(entry(2, 'config.changed'));
    await nextTurn();
    expect(writes[0]?.data).toBe(writes[1]?.data);
    expect(writes[2]?.data).not.toBe(writes[0]?.data);
  });

  it(`takes at most ${MAX_TURN_MS} ms a turn, and after the first at most ${TURN_SHARE.toFixed(3)} of the time the rest of the loop took since (at least ${MIN_TURN_MS} ms)`, async () => {
    const conns = Array.from({ length: 100 }, (_, i) => connection(`c${i}`, ['*']));
    const { fanout, writes, clock, offsetsOf } = harness(conns);
    clock.perWrite = 0.25;
    fanout.add(entry(1));
    const counts: number[] = [];
    const turn = async (othersMs: number): Promise<void> => {
      clock.ms += othersMs;
      const before = writes.length;
      await nextTurn();
      counts.push(writes.length - before);
    };
    await turn(0); // after an idle loop: MAX_TURN_MS
    await turn(8); // the rest took 8 ms: 8 × TURN_SHARE
    await turn(0); // the rest took nothing: MIN_TURN_MS
    await turn(40); // capped at MAX_TURN_MS
    // A turn stops at the first write that reaches its budget.
    const writesFor = (ms: number): number => Math.ceil(ms / 0.25 - 1e-9);
    expect(counts).toEqual([writesFor(MAX_TURN_MS), writesFor(8 * TURN_SHARE), writesFor(MIN_TURN_MS), writesFor(MAX_TURN_MS)]);
    for (let i = 0; i < 40 && writes.length < conns.length; i++) await turn(0);
    for (const conn of conns) expect(offsetsOf(conn)).toEqual([1]);
    expect(fanout.busyMs).toBeCloseTo(conns.length * 0.25, 6);
  });

  it('counts the write completions after a turn (next tick) as the turn\'s, not as the rest\'s, and shortens its writes by them', async () => {
    const conns = Array.from({ length: 100 }, (_, i) => connection(`c${i}`, ['*']));
    // Each write costs 0.25 ms, and its completion on the next tick 0.25 ms more.
    const { fanout, writes, clock } = harness(conns, { onWrite: () => process.nextTick(() => (clock.ms += 0.25)) });
    clock.perWrite = 0.25;
    fanout.add(entry(1));
    await nextTurn();
    expect(writes).toHaveLength(MAX_TURN_MS / 0.25); // 4 ms of writes, then 4 ms of completions
    expect(fanout.busyMs).toBeCloseTo(2 * MAX_TURN_MS, 6);
    clock.ms += 12; // the rest of the loop: 12 ms, so the next turn may take 12 × TURN_SHARE ms in all
    const before = writes.length;
    await nextTurn();
    // Completions doubled the first turn: the moving factor (0.8 × 1 + 0.2 × 2 = 1.2) shortens the writes.
    expect(writes.length - before).toBe(Math.ceil((12 * TURN_SHARE) / 1.2 / 0.25 - 1e-9));
  });

  it('catches one connection up at once (before its messages are answered), and the rest of the pass skips it', async () => {
    const conns = Array.from({ length: 20 }, (_, i) => connection(`c${i}`, ['*']));
    const last = conns.at(-1) as Connection;
    const { fanout, offsetsOf, clock } = harness(conns);
    clock.perWrite = 1;
    fanout.add(entry(1));
    await nextTurn(); // the pass is partly done: `last` has nothing yet
    fanout.add(entry(2));
    expect(offsetsOf(last)).toEqual([]);
    fanout.catchUp(last);
    expect(offsetsOf(last)).toEqual([1, 2]);
    for (let i = 0; i < 20; i++) await nextTurn();
    expect(offsetsOf(last)).toEqual([1, 2]);
    expect(offsetsOf(conns[0] as Connection)).toEqual([1, 2]);
  });

  it('a catch-up from the events still being queued does not cut them short for the connections with the same filter', async () => {
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
    const conns = Array.from({ length: 20 }, (_, i) => connection(`c${i}`, ['*']));
    const { fanout, offsetsOf, clock } = harness(conns);
    clock.perWrite = 1;
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

  it('writes nothing more to a socket that has not taken the last write, and cuts it once its oldest undelivered event waited longer than max_lag; the others get every event', async () => {
    const reader = connection('a', ['*']);
    const stalled = connection('s', ['*']);
    const { fanout, cut, clock, offsetsOf } = harness([reader, stalled], { maxLagMs: 2000 });
    fanout.add(entry(1));
    await nextTurn();
    stalled.unsent = 500; // the kernel stopped taking its bytes
    fanout.add(entry(2));
    await nextTurn();
    clock.ms += 1500;
    fanout.add(entry(3));
    await nextTurn();
    expect(offsetsOf(stalled)).toEqual([1]);
    expect(cut).toEqual([]);
    clock.ms += 600; // event 2 has now waited 2,100 ms for it
    fanout.add(entry(4));
    await nextTurn();
    expect(cut.map((c) => [c.conn.id, c.why])).toEqual([['s', { kind: 'lag', lagMs: 2100 }]]);
    expect(offsetsOf(reader)).toEqual([1, 2, 3, 4]);
    expect(fanout.pending).toBe(0);
    // Seen by the check of the turn before (the stalled client, not cut yet).
    expect(fanout.maxLagSeen).toBe(1500);
  });

  it('cuts a socket whose unsent bytes carry an event older than max_lag, even with nothing newer queued', async () => {
    const stalled = connection('s', ['*']);
    // The write is taken only in part: the socket keeps some of it.
    const { fanout, cut, clock } = harness([stalled], { maxLagMs: 40, onWrite: () => (stalled.unsent = 100) });
    fanout.add(entry(1));
    await nextTurn();
    expect(fanout.pending).toBe(0);
    clock.ms += 30;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(cut).toEqual([]);
    clock.ms += 20;
    await waitFor(() => cut.length === 1, { what: 'the stalled socket cut' });
    expect(cut[0]?.why).toEqual({ kind: 'lag', lagMs: 50 });
  });

  it('cuts a client whose socket has not taken its last write for an eighth of max_lag once it is owed past max_buffered_bytes; not one owed nothing, nor a reader', async () => {
    const cap = 64 * 1024;
    const stalled = connection('s', ['*']);
    const narrow = connection('n', ['config.*']);
    const reader = connection('r', ['*']);
    // The first write to `s` and `n` stays in their sockets.
    const { fanout, cut, clock, offsetsOf } = harness([stalled, narrow, reader], { maxBufferedBytes: cap, maxLagMs: 2000, onWrite: (c) => c !== reader && ((c as typeof stalled).unsent = 1000) });
    fanout.add(entry(1, 'system.error'));
    fanout.add(entry(2, 'config.changed'));
    await nextTurn();
    for (let i = 3; i < 40; i++) fanout.add(entry(i, 'system.error', 2000));
    await nextTurn();
    expect(cut).toEqual([]); // owed past the cap, but stalled only now: a burst
    clock.ms += 249;
    fanout.add(entry(40, 'system.error'));
    await nextTurn();
    expect(cut).toEqual([]);
    clock.ms += 11; // past the eighth, and past the 10 ms between checks
    fanout.add(entry(41, 'system.error'));
    await nextTurn();
    expect(cut.map((c) => c.conn.id)).toEqual(['s']);
    expect(cut[0]?.why.kind).toBe('bytes');
    expect(offsetsOf(reader)).toHaveLength(41);
    expect(offsetsOf(narrow)).toEqual([2]);
  });

  it('does not cut a reading client over a burst larger than max_buffered_bytes', async () => {
    const conns = [connection('a', ['*']), connection('b', ['*'])];
    const { fanout, cut, offsetsOf } = harness(conns, { maxBufferedBytes: 64 * 1024 });
    for (let i = 1; i <= 100; i++) fanout.add(entry(i, 'system.error', 2000));
    await nextTurn();
    expect(cut).toEqual([]);
    expect(offsetsOf(conns[0] as Connection)).toHaveLength(100);
  });

  it('past MAX_PENDING_EVENTS, cuts the connections still owed the oldest events; one whose filter takes none of them stays', () => {
    const stalled = connection('s', ['*'], 1);
    const narrow = connection('n', ['config.*'], 1);
    const { fanout, cut } = harness([stalled, narrow]);
    for (let i = 1; i <= MAX_PENDING_EVENTS; i++) fanout.add(entry(i));
    expect(cut.map((c) => c.conn.id)).toEqual(['s']);
    expect(fanout.pending).toBeLessThan(MAX_PENDING_EVENTS);
    expect(narrow.state).toBe('connected');
  });
});
