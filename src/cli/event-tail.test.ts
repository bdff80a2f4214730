import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { FakeClock } from '../core/clock';
import { waitFor } from '../testing/wait';
import { tailWebSocket } from './event-tail';
import type { TailEvent } from './tail-format';

/**
 * A connection that stays open but goes quiet (a network blip the kernel does not report) is only
 * noticed by the heartbeat: a real WebSocket server that welcomes, confirms, sends one event and
 * then says nothing, not even pings. The agent-side behaviour is tested against real agents in
 * test/cli-tail.test.ts.
 */
describe('tail over a connection that goes silent', () => {
  let server: WebSocketServer;
  const sockets: WebSocket[] = [];
  const subscriptions: Record<string, unknown>[] = [];

  beforeEach(async () => {
    server = new WebSocketServer({ port: 0, host: '127.0.0.1', autoPong: false });
    // A broadcaster without a store, as the agent's answers the filter and resume point of the URL.
    server.on('connection', (ws, request) => {
      sockets.push(ws);
      const query = new URL(request.url ?? '/', 'ws://agent').searchParams;
      const asked: Record<string, unknown> = { event_types: query.get('event_types')?.split(',') };
      if (query.has('since')) asked.since = { offset: Number(query.get('since')), ...(query.has('epoch') ? { epoch: query.get('epoch') } : {}) };
      subscriptions.push(asked);
      const resumed = query.has('since') ? { recovered: false, reason: 'no event store: replay unavailable' } : {};
      ws.send(JSON.stringify({ type: 'welcome', payload: { replay: false, subscribed: asked.event_types, heartbeat_interval_ms: 1000, ...resumed } }));
      if (sockets.length === 1) ws.send(JSON.stringify({ type: 'eventStream', payload: { type: 'system.error', data: { message: 'first' }, metadata: {} }, id: '5' }));
    });
    await new Promise((resolve) => server.once('listening', resolve));
  });

  afterEach(async () => {
    for (const ws of sockets.splice(0)) ws.terminate();
    subscriptions.splice(0);
    await new Promise((resolve) => server.close(resolve));
  });

  it('gives up after 3 silent heartbeat intervals, reconnects after a backoff and resumes from the last offset', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const printed: TailEvent[] = [];
    const gaps: [number | undefined, string][] = [];
    const notices: string[] = [];
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const running = tailWebSocket(url, undefined, {
      types: ['system.*'],
      clock,
      signal: controller.signal,
      output: { event: (e) => printed.push(e), gap: (after, reason) => gaps.push([after, reason]), notice: (text) => notices.push(text), room: () => undefined },
    });
    await waitFor(() => printed.length === 1, { what: 'the first event printed' });
    expect(subscriptions).toEqual([{ event_types: ['system.*'] }]);

    await clock.advance(2999);
    expect(notices).toEqual([]);
    await clock.advance(1);
    await waitFor(() => notices.length === 1, { what: 'the silent connection given up' });
    expect(notices[0]).toMatch(/nothing heard for 3000 ms \(the heartbeat stopped\); reconnecting in 0\.\d s/);

    await clock.advance(250);
    await waitFor(() => subscriptions.length === 2, { what: 'the second subscription' });
    // Without a store the broadcaster cannot replay: asking tells tail that events may be missing.
    expect(subscriptions[1]).toEqual({ event_types: ['system.*'], since: { offset: 5 } });
    await waitFor(() => gaps.length === 1, { what: 'the gap reported' });
    expect(gaps).toEqual([[5, 'no event store: replay unavailable']]);
    expect(notices[1]).toBe(`reconnected to ${url}`);
    expect(printed.map((e) => e.offset)).toEqual([5]);

    controller.abort();
    await running;
  });
});
