import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EventBus } from '../bus/event-bus';
import { FakeClock } from '../core/clock';
import { silentLogger } from '../core/logger';
import { EventRegistry } from '../events/registry';
import type { Event } from '../events/types';
import { IngestDedup } from '../http/ingest-dedup';
import { SqliteEventStore } from '../store/sqlite-event-store';
import { AgentFleetInbox } from './agent-fleet-inbox';
import { fleetOrigin, type FleetReceipt } from './fleet-inbox';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Setup {
  bus: EventBus;
  clock: FakeClock;
  inbox: AgentFleetInbox;
  store?: SqliteEventStore;
  seen: Event[];
}

/** An inbox on a real bus, with a real store in `dir` (commits every 100 ms of the fake clock) unless `store: false`. */
function setup(options: { dir?: string; store?: boolean } = {}): Setup {
  const clock = new FakeClock();
  const bus = new EventBus(new EventRegistry(), clock);
  let store: SqliteEventStore | undefined;
  if (options.store !== false) {
    const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'praxis-fleet-'));
    dirs.push(dir);
    store = new SqliteEventStore({ dir, commit_interval: 100 }, clock);
    store.open();
    store.attach(bus);
  }
  const seen: Event[] = [];
  bus.subscribe('*', (event) => void seen.push(event));
  const inbox = new AgentFleetInbox({ agentId: 'aggregator-1', bus, dedup: new IngestDedup(clock, store), clock, logger: silentLogger(), ...(store ? { store } : {}) });
  return { bus, clock, inbox, seen, ...(store ? { store } : {}) };
}

function fleetEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'system.error',
    data: { severity: 'error', message: 'db unreachable', component: 'orders', error_code: 'DB_DOWN' },
    metadata: { event_id: randomUUID(), timestamp: '2026-11-30T10:00:00.000Z', source: 'health-probe', correlation_id: 'op-7', tags: ['db', 'agent:forged'] },
    ...overrides,
  };
}

/** Whether `promise` has settled after the microtasks queued so far. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

function published(receipt: FleetReceipt): Extract<FleetReceipt, { status: 'published' }> {
  if (receipt.status !== 'published') throw new Error(`expected published, got ${JSON.stringify(receipt)}`);
  return receipt;
}

describe('AgentFleetInbox (events of other agents entering the bus)', () => {
  it("republishes an event with its original metadata, the origin's agent: tag replacing any other", async () => {
    const { bus, inbox, seen, store } = setup();
    const message = fleetEvent();
    const receipt = published(await inbox.receive(JSON.stringify(message), 'sidecar-a', { subject: 'fleet.sidecar-a.system.error' }));
    await bus.idle();
    const original = message.metadata as Record<string, unknown>;
    expect(seen.map((e) => e.metadata)).toEqual([
      { event_id: original.event_id, timestamp: original.timestamp, source: 'health-probe', correlation_id: 'op-7', tags: ['db', 'agent:sidecar-a'] },
    ]);
    expect(seen[0]?.data).toEqual(message.data);
    expect(receipt.event).toBe(seen[0]);
    expect(fleetOrigin(receipt.event)).toBe('sidecar-a');
    expect(store?.read(0).events.map((e) => e.event.metadata.event_id)).toEqual([original.event_id]);
  });

  it('says an event is processed only once the store committed it', async () => {
    const { bus, clock, inbox, store } = setup();
    const receipt = published(await inbox.receive(JSON.stringify(fleetEvent()), 'sidecar-a'));
    await bus.idle();
    expect(store?.stats().pending_events).toBe(1);
    expect(await settled(receipt.processed)).toBe(false);
    expect(inbox.stats().in_flight).toBe(1);
    await clock.advance(100);
    expect(store?.stats().pending_events).toBe(0);
    expect(await settled(receipt.processed)).toBe(true);
    await expect(receipt.processed).resolves.toBeUndefined();
    expect(inbox.stats()).toEqual({ received: 1, published: 1, duplicates: 0, rejected: 0, in_flight: 0 });
  });

  it('answers a redelivery during the commit with the original, processed when the original is', async () => {
    const { bus, clock, inbox, seen } = setup();
    const payload = JSON.stringify(fleetEvent());
    const first = published(await inbox.receive(payload, 'sidecar-a'));
    const again = await inbox.receive(payload, 'sidecar-a');
    expect(again.status).toBe('duplicate');
    if (again.status !== 'duplicate') return;
    expect(await settled(again.processed)).toBe(false);
    await clock.advance(100);
    await expect(Promise.all([first.processed, again.processed])).resolves.toBeDefined();
    await bus.idle();
    expect(seen).toHaveLength(1);
  });

  it('skips an event id it already stored, also after a restart with a fresh memory (the store is the seen-id set)', async () => {
    const first = setup();
    const payload = JSON.stringify(fleetEvent());
    const receipt = published(await first.inbox.receive(payload, 'sidecar-a'));
    await first.clock.advance(100);
    await receipt.processed;
    const dir = path.dirname(first.store?.file as string);
    first.store?.close();

    const second = setup({ dir });
    const again = await second.inbox.receive(payload, 'sidecar-a');
    expect(again).toEqual({ status: 'duplicate', event_id: (JSON.parse(payload) as { metadata: { event_id: string } }).metadata.event_id, processed: expect.any(Promise) });
    await second.bus.idle();
    expect(second.seen).toHaveLength(0);
    expect(second.inbox.stats().duplicates).toBe(1);
  });

  it('takes a redelivery again when the event could not be stored (store closed): it was not processed', async () => {
    const { inbox, store } = setup();
    store?.close();
    const payload = JSON.stringify(fleetEvent());
    const receipt = published(await inbox.receive(payload, 'sidecar-a'));
    await expect(receipt.processed).rejects.toMatchObject({ code: 'STORE_CLOSED' });
    expect((await inbox.receive(payload, 'sidecar-a')).status).toBe('published');
  });

  it.each([
    ['not JSON', '{"type": ', 'sidecar-a', '(root)'],
    ['an unknown key', JSON.stringify(fleetEvent({ meta: {} })), 'sidecar-a', 'meta'],
    ['no metadata', JSON.stringify(fleetEvent({ metadata: undefined })), 'sidecar-a', 'metadata'],
    ['no event_id', JSON.stringify(fleetEvent({ metadata: { timestamp: '2026-11-30T10:00:00.000Z', tags: [] } })), 'sidecar-a', 'metadata.event_id'],
    ['no timestamp', JSON.stringify(fleetEvent({ metadata: { event_id: randomUUID(), tags: [] } })), 'sidecar-a', 'metadata.timestamp'],
    ['an unknown metadata key', JSON.stringify(fleetEvent({ metadata: { event_id: randomUUID(), timestamp: '2026-11-30T10:00:00.000Z', tags: [], agent: 'x' } })), 'sidecar-a', 'metadata.agent'],
    ['bad data', JSON.stringify(fleetEvent({ data: { severity: 'loud', message: 'x', component: 'y' } })), 'sidecar-a', 'data.severity'],
    ['an unknown type', JSON.stringify(fleetEvent({ type: 'backup.completed' })), 'sidecar-a', 'type'],
    ['a bad origin', JSON.stringify(fleetEvent()), 'a.b', '(origin)'],
  ])('rejects a message with %s: published nowhere, reported as system.error FLEET_EVENT_REJECTED', async (_what, payload, origin, field) => {
    const { bus, inbox, seen } = setup({ store: false });
    const receipt = await inbox.receive(payload, origin, { subject: 'fleet.x.y', stream_seq: 42 });
    await bus.idle();
    expect(receipt).toMatchObject({ status: 'rejected' });
    if (receipt.status !== 'rejected') return;
    expect(receipt.errors.map((e) => e.path)).toContain(field);
    expect(seen).toHaveLength(1);
    const report = seen[0] as Event<'system.error'>;
    expect(report.type).toBe('system.error');
    expect(report.data).toMatchObject({ error_code: 'FLEET_EVENT_REJECTED', component: 'fleet', severity: 'error' });
    expect(report.data.message).toContain(`agent "${origin}"`);
    expect(report.data.diagnostic_data).toMatchObject({ origin, subject: 'fleet.x.y', stream_seq: 42 });
    expect(inbox.stats().rejected).toBe(1);
  });

  it('without a store: processed once published, ids remembered in memory', async () => {
    const { bus, inbox, seen } = setup({ store: false });
    const payload = JSON.stringify(fleetEvent());
    const receipt = published(await inbox.receive(payload, 'sidecar-b'));
    await expect(receipt.processed).resolves.toBeUndefined();
    expect((await inbox.receive(payload, 'sidecar-b')).status).toBe('duplicate');
    await bus.idle();
    expect(seen).toHaveLength(1);
  });

  it('throws BUS_CLOSED while the agent shuts down, so the message stays unacknowledged', async () => {
    const { bus, inbox } = setup({ store: false });
    await bus.drain();
    await expect(inbox.receive(JSON.stringify(fleetEvent()), 'sidecar-a')).rejects.toMatchObject({ code: 'BUS_CLOSED' });
  });

  it("tells the agent's own events from the fleet's by the agent: tag", () => {
    const meta = (tags: string[]): Pick<Event, 'metadata'> => ({ metadata: { event_id: randomUUID(), timestamp: '2026-11-30T10:00:00.000Z', tags } });
    expect(fleetOrigin(meta([]))).toBeUndefined();
    expect(fleetOrigin(meta(['db', 'agents:x']))).toBeUndefined();
    expect(fleetOrigin(meta(['db', 'agent:sidecar-a']))).toBe('sidecar-a');
  });
});
