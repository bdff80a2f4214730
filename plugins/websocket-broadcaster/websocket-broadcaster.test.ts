import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { WebSocket, type ClientOptions } from 'ws';
import { AgentControl, SystemClock, type Clock, type ReloadResult } from 'praxis-agent';
import { createPluginHarness, FakeClock, runPluginConformance, sampleEvents, selfSignedCert, SqliteEventStore, waitFor, type PluginHarness } from 'praxis-agent/testing';
import { Connection } from './connection';
import plugin from './index';
import * as protocol from './protocol';
import type { WebsocketBroadcasterPlugin } from './websocket-broadcaster.plugin';
import { TestClient } from './test-client';

runPluginConformance(plugin, { config: { port: 0 } });

const harnesses: PluginHarness[] = [];
const clients: TestClient[] = [];
const stores: SqliteEventStore[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  for (const h of harnesses.splice(0)) await h.stop();
  for (const s of stores.splice(0)) s.close();
});

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'praxis-ws-'));
}

function newStore(options: Partial<SqliteEventStore['options']> = {}, dir = tempDir()): SqliteEventStore {
  const store = new SqliteEventStore({ dir, ...options }, new SystemClock());
  store.open();
  stores.push(store);
  return store;
}

async function serve(config: Record<string, unknown> = {}, extra: { store?: SqliteEventStore; clock?: Clock; logger?: pino.Logger; agentControl?: AgentControl } = {}): Promise<{ h: PluginHarness; url: string; ws: WebsocketBroadcasterPlugin }> {
  const h = createPluginHarness(plugin, { config: { port: 0, ...config }, ...extra });
  harnesses.push(h);
  await h.start();
  const ws = h.instance as WebsocketBroadcasterPlugin;
  return { h, url: ws.url as string, ws };
}

async function connect(url: string, options: ClientOptions = {}): Promise<TestClient> {
  const client = await TestClient.connect(url, options);
  clients.push(client);
  return client;
}

describe('websocket-broadcaster protocol', () => {
  it('welcomes, streams events with the default filter, and answers SUBSCRIBE / UNSUBSCRIBE / PING', async () => {
    const { h, url } = await serve({ default_event_types: ['system.*'] });
    const client = await connect(url);
    expect(client.messages[0]).toMatchObject({ type: 'welcome', payload: { subscribed: ['system.*'], replay: false, message: expect.stringContaining('no event store') } });

    const published = await h.bus.publish('system.error', sampleEvents['system.error']);
    await h.bus.publish('config.changed', sampleEvents['config.changed']);
    const streamed = await client.next((m) => m.type === 'eventStream');
    // The payload is the event exactly as the catalogue's schema has it; the id is the stream offset.
    expect(streamed.payload).toEqual(JSON.parse(JSON.stringify(published)));
    expect(streamed.id).toMatch(/^\d+$/);

    client.send({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: ['config.changed', 'service.status'] }, id: 'sub-1' });
    const confirmation = await client.next((m) => m.type === 'chatMessage');
    // The first SUBSCRIBE_EVENTS replaces the default filter, and says so.
    expect(confirmation.payload).toEqual({
      content: 'Subscribed to 2 event types (replacing the default subscription: system.*)',
      sender: 'system',
      type: 'system',
      subscribed: ['config.changed', 'service.status'],
      replaced_defaults: ['system.*'],
    });
    expect(confirmation.correlation_id).toBe('sub-1');

    const at = client.messages.length;
    client.send({ type: 'UNSUBSCRIBE_EVENTS', payload: { event_types: ['system.*', 'service.status'] } });
    const unsubscribed = await client.next((m) => m.type === 'chatMessage', at);
    expect(unsubscribed.payload).toEqual({ content: 'Unsubscribed from 2 event types', sender: 'system', type: 'system', subscribed: ['config.changed'] });

    client.send({ type: 'PING', payload: {}, id: 'p-42' });
    const pong = await client.next((m) => m.type === 'PONG');
    expect(pong).toMatchObject({ type: 'PONG', correlation_id: 'p-42', payload: { timestamp: expect.any(String) } });

    const before = client.events().length;
    await h.bus.publish('system.error', sampleEvents['system.error']);
    await h.bus.publish('config.changed', sampleEvents['config.changed']);
    await client.next((m) => m.type === 'eventStream' && m.payload.type === 'config.changed', at);
    expect(client.events().slice(before).map((e) => e.type)).toEqual(['config.changed']);
  });

  it('applies the default filter until the first SUBSCRIBE_EVENTS, which replaces it; later ones add to it', async () => {
    const { h, url } = await serve({ default_event_types: ['*'] });
    const narrowed = await connect(url);
    const refused = await connect(url);
    narrowed.send({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: ['config.changed'] } });
    expect((await narrowed.next((m) => m.type === 'chatMessage')).payload).toMatchObject({ subscribed: ['config.changed'], replaced_defaults: ['*'] });
    // A request whose every type is refused leaves the defaults in force.
    refused.send({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: ['no.such_type'] } });
    expect((await refused.next((m) => m.type === 'chatMessage')).payload).toEqual(expect.objectContaining({ subscribed: ['*'] }));
    expect((await refused.next((m) => m.type === 'chatMessage')).payload.replaced_defaults).toBeUndefined();

    for (const type of ['system.error', 'config.changed', 'service.status'] as const) await h.bus.publish(type, sampleEvents[type] as never);
    await h.bus.idle();
    await Promise.all([narrowed, refused].map((c) => c.roundTrip()));
    expect(narrowed.events().map((e) => e.type)).toEqual(['config.changed']);
    expect(refused.events().map((e) => e.type)).toEqual(['system.error', 'config.changed', 'service.status']);

    const at = narrowed.messages.length;
    narrowed.send({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: ['service.status'] } });
    const added = await narrowed.next((m) => m.type === 'chatMessage', at);
    expect(added.payload).toEqual({ content: 'Subscribed to 1 event types', sender: 'system', type: 'system', subscribed: ['config.changed', 'service.status'] });
  });

  it('matches wildcards, and an empty filter receives nothing', async () => {
    const { h, url } = await serve({ default_event_types: [] });
    const all = await connect(url);
    const system = await connect(url);
    const none = await connect(url);
    all.send({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: ['*'] } });
    system.send({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: ['system.*'] } });
    none.send({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: ['service.status'] } });
    await Promise.all([all, system, none].map((c) => c.next((m) => m.type === 'chatMessage')));
    none.send({ type: 'UNSUBSCRIBE_EVENTS', payload: { event_types: ['*'] } });
    await none.next((m) => m.type === 'chatMessage' && String(m.payload.content).startsWith('Unsubscribed'));

    for (const type of ['system.error', 'config.changed', 'service.status', 'system.health'] as const) await h.bus.publish(type, sampleEvents[type] as never);
    await h.bus.idle();
    await Promise.all([all, system, none].map((c) => c.roundTrip()));
    expect(all.events().map((e) => e.type)).toEqual(['system.error', 'config.changed', 'service.status', 'system.health']);
    expect(system.events().map((e) => e.type)).toEqual(['system.error', 'system.health']);
    expect(none.events()).toEqual([]);
  });

  it('answers invalid JSON, invalid messages, unknown types and invalid event types with coded errors', async () => {
    const { url } = await serve();
    const client = await connect(url);
    const errorAfter = async (send: unknown): Promise<Record<string, unknown>> => {
      const at = client.messages.length;
      client.send(send);
      return (await client.next((m) => m.type === 'error', at)).payload;
    };
    expect(await errorAfter('{not json')).toMatchObject({ code: 'INVALID_JSON', message: expect.any(String), timestamp: expect.any(String) });
    expect(await errorAfter({ payload: {} })).toMatchObject({ code: 'INVALID_MESSAGE' });
    expect(await errorAfter({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: 'system.error' } })).toMatchObject({ code: 'INVALID_MESSAGE' });
    expect(await errorAfter({ type: 'HELLO', payload: {} })).toMatchObject({ code: 'UNKNOWN_TYPE' });

    const at = client.messages.length;
    client.send({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: ['system.error', 'no.such_type', 'sys*', 42] } });
    const error = await client.next((m) => m.type === 'error', at);
    expect(error.payload).toMatchObject({ code: 'INVALID_EVENT_TYPES', invalid_types: ['no.such_type', 'sys*', 42] });
    // The valid part of the request still applied.
    const confirmation = await client.next((m) => m.type === 'chatMessage', at);
    expect(confirmation.payload).toMatchObject({ content: 'Subscribed to 1 event types (replacing the default subscription: *)', subscribed: ['system.error'] });
  });

  it('accepts more than 100 connections under the default limit (2,000)', async () => {
    const { url, ws } = await serve();
    const many = await Promise.all(Array.from({ length: 120 }, () => connect(url)));
    expect(many).toHaveLength(120);
    expect(ws.get_stats().active_connections).toBe(120);
  });

  it('never negotiates permessage-deflate: a client offering it gets plain frames (the fan-out writes ready frames to the socket)', async () => {
    const { h, url } = await serve();
    const client = await connect(url, { perMessageDeflate: true });
    expect(client.ws.extensions).toBe('');
    await h.bus.publish('system.error', sampleEvents['system.error']);
    expect(await client.next((m) => m.type === 'eventStream')).toMatchObject({ payload: { type: 'system.error' } });
  });

  it('closes a connection over max_connections with 1008', async () => {
    const { url, ws } = await serve({ max_connections: 2 });
    await connect(url);
    await connect(url);
    const third = new TestClient(new WebSocket(url));
    clients.push(third);
    expect(await third.closed).toEqual({ code: 1008, reason: 'Maximum connections reached' });
    expect(ws.get_stats()).toMatchObject({ active_connections: 2, total_connections: 2 });
  });

  it('keeps max_connections across connects and closes that race (closed, dropped, refused)', async () => {
    const { url, ws } = await serve({ max_connections: 5 });
    const first = await Promise.all(Array.from({ length: 5 }, () => connect(url)));
    // At once: one closes cleanly, two drop their sockets, six more try to connect.
    const racing = Array.from({ length: 6 }, () => {
      const c = new TestClient(new WebSocket(url));
      clients.push(c);
      return c;
    });
    void first[0]?.close();
    first[1]?.ws.terminate();
    first[2]?.ws.terminate();
    const outcome = await Promise.all(racing.map((c) => Promise.race([c.next((m) => m.type === 'welcome').then(() => 'open'), c.closed.then((x) => String(x.code))])));
    await waitFor(() => ws.get_stats().connection_states.disconnecting === 0 && ws.get_stats().active_connections === clients.filter((c) => c.ws.readyState === WebSocket.OPEN).length, { what: 'the server and the clients agree' });
    // Never more than 5 at once: 2 old ones stay, so at most 3 of the racing ones got in; every other one was refused.
    const opened = outcome.filter((o) => o === 'open').length;
    expect(opened).toBeLessThanOrEqual(3);
    expect(outcome.filter((o) => o !== 'open').every((o) => o === '1008')).toBe(true);
    // Room is exactly what is left: 5 minus those open now.
    const open = ws.get_stats().active_connections;
    expect(open).toBe(2 + opened);
    for (let i = open; i < 5; i++) await connect(url);
    const refused = new TestClient(new WebSocket(url));
    clients.push(refused);
    expect(await refused.closed).toEqual({ code: 1008, reason: 'Maximum connections reached' });
    expect(ws.get_stats().active_connections).toBe(5);
  });

  it('closes a client that sends more than max_payload bytes (1009)', async () => {
    const { url, ws } = await serve({ max_payload: 1024 });
    const client = await connect(url);
    client.send({ type: 'PING', payload: { pad: 'x'.repeat(2000) } });
    expect((await client.closed).code).toBe(1009);
    await waitFor(() => ws.get_stats().connection_states.connected === 0, { what: 'the connection is cleaned up' });
    // The socket error is tracked as the connection's state: it ended in `error`, not `disconnected`.
    await waitFor(() => ws.get_stats().connection_states.error === 1, { what: 'the connection ended in the error state' });
    expect(ws.get_stats().connection_states).toMatchObject({ connected: 0, disconnecting: 0, disconnected: 0, error: 1 });
  });

  it('closes a client after error_threshold bad messages', async () => {
    const { url, ws } = await serve({ error_threshold: 3 });
    const client = await connect(url);
    for (let i = 0; i < 3; i++) client.send('nope');
    expect(await client.closed).toEqual({ code: 1008, reason: 'Too many errors' });
    expect(client.messages.filter((m) => m.type === 'error')).toHaveLength(3);
    expect(ws.get_stats().errors).toBe(3);
  });

  it('closes a client that answers no heartbeat for 3 intervals, and keeps one that does', async () => {
    const { url, ws } = await serve({ heartbeat_interval: 200 }, { clock: new SystemClock() });
    const alive = await connect(url);
    // Answers no protocol ping, but sends PING messages: that counts as a heartbeat too.
    const pinging = await connect(url, { autoPong: false });
    const pings = setInterval(() => pinging.send({ type: 'PING', payload: {} }), 50);
    const silent = await connect(url, { autoPong: false });
    // Reads nothing at all, not even the close frame: the server must cut it, not wait for it.
    const dead = await connect(url);
    dead.ws.pause();
    try {
      expect(await silent.closed).toEqual({ code: 1001, reason: 'Heartbeat timeout' });
      await alive.roundTrip();
      expect(alive.ws.readyState).toBe(alive.ws.OPEN);
      expect(pinging.ws.readyState).toBe(pinging.ws.OPEN);
      await waitFor(() => ws.get_stats().connection_states.disconnected === 2 && ws.get_stats().connection_states.disconnecting === 0, { what: 'both silent connections are closed and cleaned up' });
      expect(ws.get_stats()).toMatchObject({ active_connections: 2 });
    } finally {
      clearInterval(pings);
    }
  });

  it('reports exactly the spec statistics and the four fan-out counters, also as Plugin.stats()', async () => {
    const { h, url, ws } = await serve();
    const client = await connect(url);
    await h.bus.publish('system.error', sampleEvents['system.error']);
    await client.next((m) => m.type === 'eventStream');
    await client.roundTrip();
    const stats = ws.get_stats();
    expect(Object.keys(stats).sort()).toEqual(['active_connections', 'average_messages_per_connection', 'broadcast_count', 'bursts', 'connection_states', 'errors', 'event_writes', 'fanout_ms', 'max_lag_seen_ms', 'messages_received', 'messages_sent', 'total_connections', 'total_errors']);
    expect(Object.keys(stats.connection_states).sort()).toEqual(['connected', 'connecting', 'disconnected', 'disconnecting', 'error']);
    expect(stats).toMatchObject({ total_connections: 1, active_connections: 1, messages_received: 1, broadcast_count: 1, errors: 0, total_errors: 0 });
    expect(stats.messages_sent).toBeGreaterThanOrEqual(3); // welcome, event, PONG
    expect(ws.stats()).toEqual(stats);
    await client.close();
    await waitFor(() => ws.get_stats().connection_states.disconnected === 1, { what: 'the closed connection is counted' });
  });
});

describe('websocket-broadcaster broadcast', () => {
  it('builds each event frame once and sends the same frame to every matching client', async () => {
    const frames = jest.spyOn(protocol, 'eventFrame');
    try {
      const store = newStore();
      const { h, url } = await serve({}, { store });
      const receivers = await Promise.all(Array.from({ length: 3 }, () => connect(url)));
      frames.mockClear();
      for (let i = 0; i < 4; i++) await h.bus.publish('system.error', sampleEvents['system.error']);
      await h.bus.idle();
      for (const c of receivers) await waitFor(() => c.events().length === 4, { what: 'every client got the 4 events' });
      expect(frames).toHaveBeenCalledTimes(4);
      const sent = frames.mock.results.map((r) => r.value as Buffer);
      expect(new Set(sent).size).toBe(4);
    } finally {
      frames.mockRestore();
    }
  });
});

describe('websocket-broadcaster bursts', () => {
  it('sends a burst of events published in one turn to each client in order, in one socket write per client', async () => {
    const store = newStore();
    const { h, url, ws } = await serve({}, { store });
    const receivers = await Promise.all(Array.from({ length: 3 }, () => connect(url)));
    const before = ws.get_stats();
    await Promise.all(Array.from({ length: 40 }, (_, i) => h.bus.publish('system.error', { ...sampleEvents['system.error'], message: `e${i}` })));
    await h.bus.idle();
    for (const c of receivers) await waitFor(() => c.events().length === 40, { what: 'every client got the 40 events' });
    for (const c of receivers) expect(c.events().map((e) => (e.payload.data as { message: string }).message)).toEqual(Array.from({ length: 40 }, (_, i) => `e${i}`));
    const after = ws.get_stats();
    expect(after.messages_sent - before.messages_sent).toBe(120);
    expect(after.event_writes - before.event_writes).toBe(3);
    expect(after.bursts - before.bursts).toBe(1);
  });

  it('answers a client message only after the events published before it, and applies a filter change after them', async () => {
    const store = newStore();
    const { h, url } = await serve({}, { store });
    const client = await connect(url);
    // Published, then the client's messages read, in the same event-loop iteration or the next:
    // either way the events come before the answers, and the UNSUBSCRIBE does not remove them.
    for (let i = 0; i < 5; i++) void h.bus.publish('system.error', sampleEvents['system.error']);
    client.send({ type: 'UNSUBSCRIBE_EVENTS', payload: { event_types: ['*'] }, id: 'u' });
    await client.roundTrip();
    const types = client.messages.slice(1).map((m) => m.type);
    expect(types).toEqual(['eventStream', 'eventStream', 'eventStream', 'eventStream', 'eventStream', 'chatMessage', 'PONG']);
    await h.bus.publish('system.error', sampleEvents['system.error']);
    await h.bus.idle();
    await client.roundTrip();
    expect(client.events()).toHaveLength(5);
  });
});

describe('websocket-broadcaster slow consumers', () => {
  it('cuts off a client that stops reading at the byte cap while 20 others receive every event', async () => {
    const { h, url, ws } = await serve({ max_buffered_bytes: 64 * 1024 }, { clock: new SystemClock() });
    const fast = await Promise.all(Array.from({ length: 20 }, () => connect(url)));
    const slow = await connect(url);
    slow.ws.pause();
    const big = { ...sampleEvents['system.error'], message: 'x'.repeat(4000) };
    let published = 0;
    // Publish until the server has cut the slow client (socket buffers absorb the first megabytes).
    while (ws.get_stats().connection_states.disconnecting === 0 && ws.get_stats().connection_states.connected === 21 && published < 20_000) {
      for (let i = 0; i < 50; i++) await h.bus.publish('system.error', big);
      published += 50;
      await h.bus.idle();
      // Paced by the readers: a publisher that outruns the fan-out gets the process first, and then
      // readers that fall max_lag behind are cut too (that is max_lag's test, not this one's).
      await waitFor(() => fast.every((c) => c.events().length === published), { what: 'the readers caught up', timeoutMs: 20_000 });
    }
    expect(ws.get_stats().connection_states.connected).toBe(20);
    for (let i = 0; i < 10; i++) await h.bus.publish('system.error', big);
    published += 10;
    await h.bus.idle();
    for (const c of fast) await waitFor(() => c.events().length === published, { what: `a fast client got all ${published} events`, timeoutMs: 20_000 });
    for (const c of fast) expect(c.events().map((e) => e.id)).toEqual(Array.from({ length: published }, (_, i) => i + 1));
    slow.ws.resume();
    expect(await slow.closed).toEqual({ code: 1013, reason: 'Slow consumer: outgoing buffer limit exceeded' });
    expect(slow.events().length).toBeLessThan(published);
  });
});

describe('websocket-broadcaster timers run on the plugin clock', () => {
  it('gives clients the close grace of stop() on the plugin clock, then cuts the ones that did not answer', async () => {
    const clock = new FakeClock();
    const { url, ws } = await serve({}, { clock });
    // Reads nothing, so it never answers the close frame.
    const dead = await connect(url);
    dead.ws.pause();
    let stopped = false;
    const stopping = ws.stop().then(() => {
      stopped = true;
    });
    // The heartbeat is cancelled; the one pending timer is the close grace.
    expect(clock.pending).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    await clock.advance(1000);
    await stopping;
    dead.ws.resume();
    await dead.closed;
  });

  it('cuts a silent client that ignores the heartbeat close once the grace has passed on the plugin clock', async () => {
    const clock = new FakeClock();
    const { url, ws } = await serve({ heartbeat_interval: 1000 }, { clock });
    const dead = await connect(url);
    dead.ws.pause();
    for (let i = 0; i < 4; i++) await clock.advance(1000);
    expect(ws.get_stats().connection_states.disconnecting).toBe(1);
    // The next heartbeat and the cut-off of the silent client.
    expect(clock.pending).toBe(2);
    await clock.advance(1000);
    await waitFor(() => ws.get_stats().connection_states.disconnecting === 0, { what: 'the silent client is cut off' });
    expect(ws.get_stats().connection_states).toMatchObject({ connected: 0, disconnected: 1 });
  });

  it('paces a replay to a client that reads slowly on the plugin clock, and delivers every event', async () => {
    const clock = new FakeClock();
    const store = newStore();
    const { h, url } = await serve({ default_event_types: [], max_buffered_bytes: 64 * 1024 }, { clock, store });
    const big = { ...sampleEvents['system.error'], message: 'x'.repeat(16_000) };
    const count = 1500;
    for (let i = 0; i < count; i++) await h.bus.publish('system.error', big);
    await h.bus.idle();
    const client = await connect(url);
    client.ws.pause();
    client.send({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: ['*'], since: { offset: 0, epoch: store.epoch } } });
    // Once the socket buffers are full the replay waits on the clock (beside the heartbeat) instead of cutting the client.
    await waitFor(() => clock.pending === 2, { what: 'the replay waits on the plugin clock' });
    client.ws.resume();
    // Each step moves the plugin clock past one pacing wait and lets the client read.
    for (let step = 0; client.events().length < count && step < 5000; step++) {
      await clock.advance(10);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(client.events().map((e) => e.id)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    expect(client.ws.readyState).toBe(client.ws.OPEN);
  }, 60_000);
});

describe('websocket-broadcaster resume from the event store', () => {
  it('replays every missed matching event once, in order, before live ones, with no duplicate at the seam', async () => {
    const store = newStore();
    const { h, url } = await serve({ default_event_types: ['system.error'] }, { store });
    const first = await connect(url);
    expect(first.messages[0].payload).toMatchObject({ replay: true, epoch: store.epoch });
    await h.bus.publish('system.error', sampleEvents['system.error']);
    const seen = await first.next((m) => m.type === 'eventStream');
    await first.close();

    for (let i = 0; i < 5; i++) {
      await h.bus.publish('system.error', { ...sampleEvents['system.error'], message: `missed ${i}` });
      await h.bus.publish('config.changed', sampleEvents['config.changed']);
    }
    await h.bus.idle();

    // The new connection gets one live event (default filter) before it asks to resume: no duplicate.
    const second = await connect(url);
    await h.bus.publish('system.error', { ...sampleEvents['system.error'], message: 'live before resume' });
    await second.next((m) => m.type === 'eventStream');
    second.send({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: ['system.error'], since: { offset: Number(seen.id), epoch: store.epoch } } });
    const confirmation = await second.next((m) => m.type === 'chatMessage');
    expect(confirmation.payload).toMatchObject({ recovered: true, epoch: store.epoch });
    await h.bus.publish('system.error', { ...sampleEvents['system.error'], message: 'live after resume' });
    await second.next((m) => m.type === 'eventStream' && (m.payload.data as { message: string }).message === 'live after resume');
    await second.roundTrip();
    const messages = second.events().map((e) => (e.payload.data as { message: string }).message);
    expect(messages).toEqual(['live before resume', 'missed 0', 'missed 1', 'missed 2', 'missed 3', 'missed 4', 'live after resume']);
    const ids = second.events().map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);

    // last_event_id works as well, and picks up where the client left off; a resume that names no
    // types keeps the default filter.
    const third = await connect(url, {});
    third.send({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: [], last_event_id: String(ids[ids.length - 2]) } });
    await third.next((m) => m.type === 'eventStream' && (m.payload.data as { message: string }).message === 'live after resume');
  });

  it('replays no event twice after many live ones, and remembers filters, not offsets, until the resume', async () => {
    const store = newStore();
    const { h, url } = await serve({}, { store });
    const client = await connect(url);
    // More live events than any per-offset record would hold (the first version kept at most 10,000).
    const count = 10_050;
    for (let i = 0; i < count; i++) await h.bus.publish('system.error', sampleEvents['system.error']);
    await h.bus.idle();
    await waitFor(() => client.events().length === count, { what: `the client got ${count} live events`, timeoutMs: 30_000 });
    client.send({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: ['*'], since: { offset: 0, epoch: store.epoch } } });
    expect((await client.next((m) => m.type === 'chatMessage')).payload).toMatchObject({ recovered: true });
    await h.bus.publish('config.changed', sampleEvents['config.changed']);
    await client.next((m) => m.type === 'eventStream' && m.payload.type === 'config.changed');
    await client.roundTrip();
    expect(client.events().map((e) => e.id)).toEqual(Array.from({ length: count + 1 }, (_, i) => i + 1));
  }, 60_000);

  it('replays what a filter change before the resume kept from being sent live, and nothing that was sent', async () => {
    const store = newStore();
    const { h, url } = await serve({ default_event_types: ['system.error', 'config.changed'] }, { store });
    const client = await connect(url);
    const from = store.head;
    const tagged = (message: string): typeof sampleEvents['system.error'] => ({ ...sampleEvents['system.error'], message });
    await h.bus.publish('system.error', tagged('e1'));
    await h.bus.publish('config.changed', sampleEvents['config.changed']); // c1, sent live
    await client.next((m) => m.type === 'eventStream' && m.payload.type === 'config.changed');
    client.send({ type: 'UNSUBSCRIBE_EVENTS', payload: { event_types: ['config.changed'] } });
    await client.next((m) => m.type === 'chatMessage');
    await h.bus.publish('config.changed', sampleEvents['config.changed']); // c2, not sent: unsubscribed
    await h.bus.publish('system.error', tagged('e2'));
    await client.next((m) => m.type === 'eventStream' && (m.payload.data as { message?: string }).message === 'e2');
    client.send({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: ['system.error', 'config.changed'], since: { offset: from, epoch: store.epoch } } });
    await client.next((m) => m.type === 'chatMessage' && m.payload.recovered === true);
    await h.bus.publish('system.error', tagged('e3'));
    await client.next((m) => m.type === 'eventStream' && (m.payload.data as { message?: string }).message === 'e3');
    await client.roundTrip();
    const ids = client.events().map((e) => e.id);
    // e1, c1, e2 live; c2 replayed (missed because of the filter); e3 live again.
    expect(ids).toEqual([from + 1, from + 2, from + 4, from + 3, from + 5]);
    expect(client.events().map((e) => e.type)).toEqual(['system.error', 'config.changed', 'system.error', 'config.changed', 'system.error']);
  });

  it('keeps one filter record per change, bounded, and none after the resume (unit)', () => {
    const conn = new Connection('c', {} as never, 0, '', {} as never);
    conn.subscribe(['*']);
    conn.trackLive();
    expect(conn.liveSegments).toBe(1);
    conn.cursor = 10;
    expect(conn.wasSentLive(5, 'system.error')).toBe(true);
    for (let i = 0; i < 100; i++) {
      conn.cursor = 10 + i;
      conn.unsubscribe(['*']);
      conn.subscribe(['*']);
    }
    // Too many changes: tracking gave up (a resume may then repeat events) instead of growing.
    expect(conn.liveSegments).toBe(0);
    expect(conn.wasSentLive(5, 'system.error')).toBe(false);
  });

  it('keeps offset order with no gap or duplicate when live events arrive during a long, paged replay', async () => {
    const store = newStore();
    const { h, url } = await serve({ default_event_types: [] }, { store });
    for (let i = 0; i < 1600; i++) await h.bus.publish('system.error', sampleEvents['system.error']);
    await h.bus.idle();
    const client = await connect(url);
    client.send({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: ['*'], since: { offset: 0, epoch: store.epoch } } });
    // Published while the replay runs page by page (500 events a page, yielding in between).
    for (let i = 0; i < 200; i++) {
      await h.bus.publish('config.changed', sampleEvents['config.changed']);
      if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await h.bus.idle();
    await waitFor(() => client.events().length >= store.head, { what: 'the client caught up' });
    await client.roundTrip();
    expect(client.events().map((e) => e.id)).toEqual(Array.from({ length: store.head }, (_, i) => i + 1));
  });

  it('says recovered: false when retention removed the range, the epoch differs, or there is no store', async () => {
    const store = newStore({ max_events: 3 });
    const { h, url } = await serve({ default_event_types: [] }, { store });
    for (let i = 0; i < 10; i++) await h.bus.publish('system.error', sampleEvents['system.error']);
    await h.bus.idle();
    store.applyRetention();
    const client = await connect(url);
    client.send({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: ['*'], since: { offset: 2, epoch: store.epoch } } });
    const answer = await client.next((m) => m.type === 'chatMessage');
    expect(answer.payload).toMatchObject({ recovered: false, reason: expect.stringContaining('no longer retained') });
    client.send({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: ['*'], since: { offset: 9, epoch: 'another-epoch' } } });
    const other = await client.next((m) => m.type === 'chatMessage' && m.payload.reason !== undefined && String(m.payload.reason).includes('epoch'));
    expect(other.payload.recovered).toBe(false);
    await client.roundTrip();
    expect(client.events()).toEqual([]);

    const { url: noStoreUrl } = await serve();
    const plain = await connect(noStoreUrl);
    plain.send({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: ['*'], since: { offset: 0 } } });
    expect((await plain.next((m) => m.type === 'chatMessage')).payload).toMatchObject({ recovered: false, reason: expect.stringContaining('no event store') });
  });
});

describe('websocket-broadcaster filter and resume point in the upgrade URL', () => {
  /** Publishes system.error and config.changed, alternating, a few per event-loop turn, until stopped. */
  function publishContinuously(h: PluginHarness): { stop: () => Promise<number> } {
    let running = true;
    let count = 0;
    const done = (async () => {
      while (running) {
        for (let i = 0; i < 20; i++) {
          await h.bus.publish(count % 2 === 0 ? 'system.error' : 'config.changed', count % 2 === 0 ? { ...sampleEvents['system.error'], message: `e${count}` } : sampleEvents['config.changed']);
          count++;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
      await h.bus.idle();
      return count;
    })();
    return { stop: () => { running = false; return done; } };
  }

  /** The offsets of the stored events after `after` that `types` take, read page by page. */
  function storedAfter(store: SqliteEventStore, after: number, types: string[]): number[] {
    const offsets: number[] = [];
    for (let page = store.read(after, { types }); page.events.length > 0; page = store.read(page.next_offset - 1, { types })) offsets.push(...page.events.map((e) => e.offset));
    return offsets;
  }

  it('applies the filter and resume point before the first event, while events are published during the handshake: none skipped, none repeated, in order', async () => {
    const store = newStore();
    const { h, url } = await serve({ default_event_types: ['*'] }, { store });
    // More than two replay pages (500 events each) behind: the replay is still running when live events pile up.
    for (let i = 0; i < 1200; i++) await h.bus.publish('system.error', { ...sampleEvents['system.error'], message: `old ${i}` });
    await h.bus.idle();
    const publisher = publishContinuously(h);
    await waitFor(() => store.head > 1400, { what: 'the publisher running' });
    const resumers = await Promise.all([100, 700, 1150].map((since) => connect(`${url}?event_types=system.error&since=${since}&epoch=${store.epoch}`)));
    const liveOnly = await connect(`${url}?event_types=system.*,config.changed`);
    await waitFor(() => store.head > 2400, { what: 'events published after the connections' });
    await publisher.stop();
    for (const client of [...resumers, liveOnly]) await client.roundTrip();

    for (const [i, since] of [100, 700, 1150].entries()) {
      const client = resumers[i] as TestClient;
      expect(client.messages[0]).toMatchObject({ type: 'welcome', payload: { subscribed: ['system.error'], recovered: true, epoch: store.epoch } });
      expect(client.events().map((e) => e.id)).toEqual(storedAfter(store, since, ['system.error']));
    }
    const welcome = liveOnly.messages[0] as { type: string; payload: { subscribed: string[]; head: number; recovered?: boolean } };
    expect(welcome).toMatchObject({ type: 'welcome', payload: { subscribed: ['config.changed', 'system.*'] } });
    expect(welcome.payload.recovered).toBeUndefined();
    expect(liveOnly.events().map((e) => e.id)).toEqual(storedAfter(store, welcome.payload.head, ['system.*', 'config.changed']));
    expect(liveOnly.events().length).toBeGreaterThan(0);

    // The URL's filter is the connection's first subscribe: a later SUBSCRIBE_EVENTS adds to it.
    liveOnly.send({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: ['service.status'] }, id: 'more' });
    expect((await liveOnly.next((m) => m.correlation_id === 'more')).payload).toMatchObject({ subscribed: ['config.changed', 'service.status', 'system.*'] });
  });

  it('answers a resume it cannot serve in welcome (recovered: false, reason) and sends live events only', async () => {
    const store = newStore({ max_events: 3 });
    const { h, url } = await serve({ default_event_types: ['*'] }, { store });
    for (let i = 0; i < 10; i++) await h.bus.publish('system.error', sampleEvents['system.error']);
    await h.bus.idle();
    store.applyRetention();
    const lost = await connect(`${url}?event_types=*&since=2&epoch=${store.epoch}`);
    expect(lost.messages[0].payload).toMatchObject({ recovered: false, reason: expect.stringContaining('no longer retained'), head: 10 });
    const otherEpoch = await connect(`${url}?since=9&epoch=another-epoch`);
    expect(otherEpoch.messages[0].payload).toMatchObject({ subscribed: ['*'], recovered: false, reason: expect.stringContaining('epoch') });
    await h.bus.publish('config.changed', sampleEvents['config.changed']);
    await h.bus.idle();
    for (const client of [lost, otherEpoch]) {
      await client.roundTrip();
      expect(client.events().map((e) => e.id)).toEqual([11]);
    }
    const { url: noStoreUrl } = await serve();
    const plain = await connect(`${noStoreUrl}?since=0`);
    expect(plain.messages[0].payload).toMatchObject({ recovered: false, reason: expect.stringContaining('no event store') });
  });

  it('refuses the upgrade with HTTP 400 and a coded JSON body when a parameter is invalid; no WebSocket is opened', async () => {
    const { url } = await serve({}, { store: newStore() });
    const refused = (query: string): Promise<Record<string, unknown>> => new Promise((resolve, reject) => {
      const ws = new WebSocket(`${url}${query}`);
      ws.on('open', () => reject(new Error(`${query} opened a WebSocket`)));
      ws.on('error', () => undefined);
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => {
          ws.terminate();
          if (res.statusCode !== 400) reject(new Error(`HTTP ${res.statusCode}`));
          else resolve(JSON.parse(body) as Record<string, unknown>);
        });
      });
    });
    expect(await refused('?event_types=system.error,nope.unknown,bad..type')).toEqual({ error: expect.stringContaining('"nope.unknown", "bad..type"'), code: 'INVALID_EVENT_TYPES', invalid_types: ['nope.unknown', 'bad..type'] });
    expect(await refused('?event_types=')).toMatchObject({ code: 'INVALID_EVENT_TYPES', error: expect.stringContaining('names no event type') });
    expect(await refused('?since=-1')).toMatchObject({ code: 'INVALID_MESSAGE', error: expect.stringContaining('since must be an offset') });
    expect(await refused('?since=abc')).toMatchObject({ code: 'INVALID_MESSAGE' });
    expect(await refused('?since=1&epoch=')).toMatchObject({ code: 'INVALID_MESSAGE' });
    expect(await refused('?epoch=x')).toMatchObject({ code: 'INVALID_MESSAGE', error: expect.stringContaining('epoch needs since') });
    expect(await refused('?since=1&since=2')).toMatchObject({ code: 'INVALID_MESSAGE', error: expect.stringContaining('more than once') });
    await expect(TestClient.connect(`${url}?event_types=nope.unknown`)).rejects.toMatchObject({ status: 400 });
  });

  it('without parameters keeps the old behaviour: default filter, live tracking, resume by SUBSCRIBE_EVENTS', async () => {
    const store = newStore();
    const { h, url } = await serve({ default_event_types: ['system.error'] }, { store });
    const client = await connect(`${url}?unrelated=1`);
    expect(client.messages[0].payload).toMatchObject({ subscribed: ['system.error'], replay: true });
    expect(client.messages[0].payload.recovered).toBeUndefined();
    await h.bus.publish('system.error', { ...sampleEvents['system.error'], message: 'live' });
    await h.bus.publish('config.changed', sampleEvents['config.changed']);
    await client.next((m) => m.type === 'eventStream');
    client.send({ type: 'SUBSCRIBE_EVENTS', payload: { event_types: ['*'], since: { offset: 0, epoch: store.epoch } }, id: 'r' });
    expect((await client.next((m) => m.correlation_id === 'r')).payload).toMatchObject({ recovered: true, replaced_defaults: ['system.error'] });
    await client.roundTrip();
    // The live system.error is not replayed again; the config.changed the default filter kept back is.
    expect(client.events().map((e) => [e.id, e.type])).toEqual([[1, 'system.error'], [2, 'config.changed']]);
  });
});

describe('websocket-broadcaster security', () => {
  it('refuses an upgrade without the bearer token with HTTP 401, accepts header or ?token=', async () => {
    const lines: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
    const { url } = await serve({ auth_token: 's3cret-token' }, { logger: pino({ level: 'debug' }, stream) });
    await expect(TestClient.connect(url)).rejects.toMatchObject({ status: 401 });
    await expect(TestClient.connect(url, { headers: { authorization: 'Bearer wrong' } })).rejects.toMatchObject({ status: 401 });
    await connect(url, { headers: { authorization: 'Bearer s3cret-token' } });
    await connect(`${url}?token=s3cret-token`);
    expect(lines.join('')).not.toContain('s3cret-token');
  });

  it('rejects an origin that is not allowed', async () => {
    const { url } = await serve({ allowed_origins: ['https://dash.example.com'] });
    await expect(TestClient.connect(url, { origin: 'https://evil.example.com' })).rejects.toMatchObject({ status: 403 });
    await connect(url, { origin: 'https://dash.example.com' });
  });

  it('lets the dashboard in by default: the admin port on the host the browser reached this server by; no other browser origin', async () => {
    const h = createPluginHarness(plugin, { config: { port: 0 }, http: {} });
    harnesses.push(h);
    await h.start();
    const url = (h.instance as WebsocketBroadcasterPlugin).url as string;
    const adminPort = new URL(h.url as string).port;
    const wsPort = new URL(url).port;
    await connect(url, { origin: `http://127.0.0.1:${adminPort}` });
    // Reached as localhost, from a page loaded from localhost.
    await connect(url.replace('127.0.0.1', 'localhost'), { origin: `http://localhost:${adminPort}` });
    await connect(url); // not a browser: no Origin
    for (const origin of [`http://localhost:${adminPort}`, `http://127.0.0.1:${wsPort}`, 'https://evil.example.com', 'null']) {
      await expect(TestClient.connect(url, { origin })).rejects.toMatchObject({ status: 403 });
    }
    const { url: any } = await serve({ allowed_origins: ['*'] });
    await connect(any, { origin: 'https://evil.example.com' });
  });

  it('tells the dashboard where it is on GET /websocket of the admin server, without the token', async () => {
    const h = createPluginHarness(plugin, { config: { port: 0, auth_token: 'ws-token', public_url: 'ws/events' }, http: { auth_token: 'admin-token' } });
    harnesses.push(h);
    await h.start();
    const port = Number(new URL((h.instance as WebsocketBroadcasterPlugin).url as string).port);
    const res = await fetch(`${h.url as string}/websocket`);
    expect(res.status).toBe(200);
    const info = await res.json();
    expect(info).toEqual({ url: 'ws/events', port, path: '/ws/events', tls: false, token_required: true, replay: false });
    expect(JSON.stringify(info)).not.toContain('ws-token');
  });

  it('answers 404 on other paths, and serves the configured path', async () => {
    const { url } = await serve();
    await expect(TestClient.connect(url.replace('/ws/events', '/other'))).rejects.toMatchObject({ status: 404 });
    const { url: custom } = await serve({ path: '/stream/v1' });
    expect(custom).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/stream\/v1$/);
    await connect(custom);
    await expect(TestClient.connect(custom.replace('/stream/v1', '/ws/events'))).rejects.toMatchObject({ status: 404 });
  });

  it('requires auth_token when bound beyond loopback', () => {
    expect(plugin.configSchema.safeParse({ host: '0.0.0.0' }).success).toBe(false);
    expect(plugin.configSchema.safeParse({ host: '0.0.0.0', auth_token: 't' }).success).toBe(true);
  });

  it('serves wss:// with the configured certificate', async () => {
    const dir = tempDir();
    const { certFile: cert, keyFile: key } = selfSignedCert({ dir });
    const { h, url } = await serve({ tls: { cert_file: cert, key_file: key } });
    expect(url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/ws\/events$/);
    const client = await connect(url, { ca: [readFileSync(cert)] });
    await h.bus.publish('system.error', sampleEvents['system.error']);
    await client.next((m) => m.type === 'eventStream');
  });

  it('reads tls.cert_file and key_file relative to the agent config file', async () => {
    const dir = tempDir();
    selfSignedCert({ dir });
    const agentControl = new (class extends AgentControl {
      get configFile(): string {
        return path.join(dir, 'agent.config.yaml');
      }

      reload(reason: string): Promise<ReloadResult> {
        return Promise.resolve({ status: 'unavailable', reason, restarted: [], started: [], stopped: [], unchanged: [], failed: [], restart_required: [], problems: [], message: 'test' });
      }
    })();
    const { url } = await serve({ tls: { cert_file: 'cert.pem', key_file: 'key.pem' } }, { agentControl });
    const client = await connect(url, { ca: [readFileSync(path.join(dir, 'cert.pem'))] });
    expect(client.messages[0].type).toBe('welcome');
  });

  it('fails to start naming tls.cert_file when it is missing or a named pipe (refused at once, not waited on)', async () => {
    const dir = tempDir();
    const fifo = path.join(dir, 'cert-fifo');
    execFileSync('mkfifo', [fifo]);
    for (const [file, why] of [[path.join(dir, 'missing.pem'), 'no such file'], [fifo, 'is a named pipe, not a regular file']]) {
      const h = createPluginHarness(plugin, { config: { port: 0, tls: { cert_file: file, key_file: file } }, clock: new FakeClock() });
      await expect(h.start()).rejects.toMatchObject({ code: 'PLUGIN_START_FAILED', message: expect.stringContaining(`tls.cert_file: cannot read ${file} (${why})`), cause: { code: 'CONFIG_FILE_UNREADABLE' } });
    }
  });

  it('fails to start with a clear error when the port is taken', async () => {
    const { url } = await serve();
    const port = Number(new URL(url).port);
    const h = createPluginHarness(plugin, { config: { port }, clock: new FakeClock() });
    await expect(h.start()).rejects.toMatchObject({ code: 'PLUGIN_START_FAILED', message: expect.stringContaining(`cannot listen on 127.0.0.1:${port}`) });
  });
});
