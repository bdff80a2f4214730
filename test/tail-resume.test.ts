import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPluginHarness, sampleEvents, SqliteEventStore, waitFor, type PluginHarness } from 'praxis-agent/testing';
import plugin from '../plugins/websocket-broadcaster/index';
import type { WebsocketBroadcasterPlugin } from '../plugins/websocket-broadcaster/websocket-broadcaster.plugin';
import { WebSocketServer } from 'ws';
import { TailFatalError, tailWebSocket } from '../src/cli/event-tail';
import type { TailEvent } from '../src/cli/tail-format';
import { SystemClock } from '../src/core/clock';

/**
 * tail's resume against the real broadcaster over a real socket, in one process so the test can
 * publish a flood the moment tail's connection is accepted: before tail could send anything,
 * thousands of events go out live under the broadcaster's default filter (`*`).
 */
describe('praxis-agent tail resumes cleanly while events flood in during its handshake', () => {
  let h: PluginHarness | undefined;
  let store: SqliteEventStore | undefined;
  afterEach(async () => {
    await h?.stop();
    store?.close();
  });

  it('prints every stored event after --since that its types take, once, in order', async () => {
    store = new SqliteEventStore({ dir: mkdtempSync(path.join(tmpdir(), 'praxis-tail-resume-')) }, new SystemClock());
    store.open();
    h = createPluginHarness(plugin, { config: { port: 0, default_event_types: ['*'] }, store });
    await h.start();
    const broadcaster = h.instance as WebsocketBroadcasterPlugin;
    const bus = h.bus;
    for (let i = 0; i < 100; i++) await bus.publish('system.error', { ...sampleEvents['system.error'], message: `before ${i}` });
    await bus.idle();

    const printed: TailEvent[] = [];
    const gaps: string[] = [];
    const abort = new AbortController();
    const tailing = tailWebSocket(broadcaster.url as string, undefined, {
      types: ['system.error'],
      since: 50,
      clock: new SystemClock(),
      signal: abort.signal,
      output: { event: (e) => printed.push(e), gap: (_after, reason) => gaps.push(reason), notice: () => undefined, room: () => undefined },
    });
    // The flood starts on the turn the connection is accepted (its welcome already sent).
    for (let turn = 0; broadcaster.stats().total_connections === 0; turn++) {
      expect(turn).toBeLessThan(1_000_000);
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (let i = 0; i < 3000; i++) void bus.publish(i % 3 === 0 ? 'config.changed' : 'system.error', i % 3 === 0 ? sampleEvents['config.changed'] : { ...sampleEvents['system.error'], message: `flood ${i}` });
    await bus.idle();
    await bus.publish('system.error', { ...sampleEvents['system.error'], message: 'last' });
    await bus.idle();
    // Not reaching it is reported by the comparison below, which shows what is missing.
    await waitFor(() => printed.some((e) => (e.event.data as { message?: string }).message === 'last'), { what: 'tail printed the last event', timeoutMs: 20_000 }).catch(() => undefined);
    abort.abort();
    await tailing;

    const expected: number[] = [];
    for (let page = store.read(50, { types: ['system.error'] }); page.events.length > 0; page = store.read(page.next_offset - 1, { types: ['system.error'] })) expected.push(...page.events.map((e) => e.offset));
    expect(printed.map((e) => e.offset)).toEqual(expected);
    expect(gaps).toEqual([]);
  }, 60_000);

  it('exits with a clear error against an agent whose broadcaster ignores the URL parameters (its welcome shows the default filter, no resume answer)', async () => {
    // An older agent, as far as tail can tell: the welcome it sent before the parameters existed.
    const old = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    old.on('connection', (socket) => socket.send(JSON.stringify({ type: 'welcome', payload: { connection_id: 'c', subscribed: ['*'], replay: true, epoch: 'e', head: 10, heartbeat_interval_ms: 30_000 } })));
    await new Promise((resolve) => old.once('listening', resolve));
    const url = `ws://127.0.0.1:${(old.address() as { port: number }).port}/ws/events`;
    const run = (types: string[], since?: number): Promise<void> => tailWebSocket(url, undefined, {
      types,
      ...(since === undefined ? {} : { since }),
      clock: new SystemClock(),
      // Bounds a failure: a tail that accepted this welcome would run until aborted (and resolve).
      signal: AbortSignal.timeout(10_000),
      output: { event: () => undefined, gap: () => undefined, notice: () => undefined, room: () => undefined },
    });
    try {
      await expect(run(['system.error'])).rejects.toThrow(new TailFatalError(`${url}: its welcome is subscribed to ["*"], not the ["system.error"] asked for: the agent is older than this tail (its broadcaster does not take the filter and resume point in the connection URL: an agent of the same release as tail, after 0.1.0, is needed); upgrade it, or poll its admin API with --url`));
      await expect(run(['*'], 5)).rejects.toThrow(/its welcome does not answer the resume point: the agent is older than this tail/);
      // Asking for its default filter and no resume point, tail gets what it asked for: it runs.
      const abort = new AbortController();
      const running = tailWebSocket(url, undefined, { types: ['*'], clock: new SystemClock(), signal: abort.signal, output: { event: () => undefined, gap: () => undefined, notice: () => undefined, room: () => undefined } });
      await waitFor(() => old.clients.size === 1, { what: 'tail connected' });
      abort.abort();
      await running;
    } finally {
      for (const client of old.clients) client.terminate();
      old.close();
    }
  }, 30_000);
});
