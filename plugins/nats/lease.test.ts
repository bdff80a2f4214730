import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import { FakeClock, waitFor } from 'praxis-agent/testing';
import { until } from '../../test/helpers/async';
import { LEASE_UNIT_PORT_RANGE, TestNatsServer } from '../../test/helpers/nats-server';
import { FleetLease } from './lease';

/**
 * FleetLease against a real nats-server of this file's own (it is paused with SIGSTOP), each
 * lease on its own connection and its own FakeClock: refreshes and deadlines run when a test
 * moves that clock, never on wall-clock time. Only the key's expiry is the server's (real) time.
 */

const TTL = 40_000;
const QUARTER = TTL / 4;

let server: TestNatsServer;
const connections: NatsConnection[] = [];
const leases: FleetLease[] = [];
const scopes: string[] = [];

beforeAll(async () => {
  server = await TestNatsServer.start([], LEASE_UNIT_PORT_RANGE);
});

afterAll(async () => {
  await server.dispose();
});

afterEach(async () => {
  server.resume();
  for (const lease of leases.splice(0)) await lease.stop();
  const nc = await connect({ servers: server.url });
  const jsm = await jetstreamManager(nc);
  for (const scope of scopes.splice(0)) for (const bucket of ['lease', 'state']) await jsm.streams.delete(`KV_${scope}_${bucket}`).catch(() => undefined);
  await nc.close();
  for (const c of connections.splice(0)) await c.close().catch(() => undefined);
});

async function connection(): Promise<NatsConnection> {
  const nc = await connect({ servers: server.url });
  connections.push(nc);
  return nc;
}

function newScope(): string {
  const scope = `L${randomUUID().slice(0, 8)}`;
  scopes.push(scope);
  return scope;
}

interface Member {
  lease: FleetLease;
  clock: FakeClock;
  nc: NatsConnection;
  id: string;
  /** What the lease told the aggregator, in order: `acquired:<watermark>`, `lost:<reason>`. */
  calls: string[];
  leading(): boolean;
}

async function member(scope: string, name: string, ttlMs = TTL): Promise<Member> {
  const clock = new FakeClock();
  const nc = await connection();
  const calls: string[] = [];
  const id = `${name}-${randomUUID().slice(0, 8)}`;
  const lease = new FleetLease({
    scope,
    holderId: id,
    ttlMs,
    clock,
    logger: pino({ level: 'silent' }),
    acquired: (watermark) => calls.push(`acquired:${watermark}`),
    lost: (reason) => calls.push(`lost:${reason}`),
  });
  leases.push(lease);
  return { lease, clock, nc, id, calls, leading: () => lease.isLeader };
}

/** The lease key as the server holds it, read on a connection of the test's own. */
async function leaseKey(scope: string): Promise<{ value: string | null; revision: number; operation: string } | null> {
  const kv = await leaseBucket(scope);
  const entry = await kv.get('leader');
  return entry ? { value: entry.operation === 'PUT' ? entry.string() : null, revision: entry.revision, operation: entry.operation } : null;
}

async function leaseBucket(scope: string): Promise<KV> {
  return new Kvm(await connection()).open(`${scope}_lease`);
}

/** Takes the lease on a free key and waits until it consumes. */
async function leader(scope: string, name: string, ttlMs = TTL): Promise<Member> {
  const m = await member(scope, name, ttlMs);
  m.lease.start(m.nc);
  await waitFor(() => m.leading(), { what: `${name} to take the lease` });
  // Its timers: the first refresh and the step-down deadline.
  await waitFor(() => m.clock.pending === 2, { what: `${name} to arm its refresh and deadline` });
  return m;
}

/**
 * A refresh or a take ran and its answer was handled: the holder armed its next refresh and its
 * deadline again (two timers); before, only the deadline is pending (the refresh timer fired).
 */
async function answered(m: Member): Promise<void> {
  await waitFor(() => m.clock.pending === 2, { what: 'the refresh answered' });
}

describe('FleetLease (real JetStream KV, fake clock)', () => {
  it('takes a free lease; another is refused while it is held and stands by showing the holder', async () => {
    const scope = newScope();
    const a = await leader(scope, 'agg-a');
    expect(a.calls).toEqual(['acquired:0']);
    expect(a.lease.stats()).toMatchObject({ lease_role: 'leader', lease_leader: 1, lease_holder: a.id, lease_id: a.id, lease_error: null });
    expect((await leaseKey(scope))?.value).toBe(a.id);

    const b = await member(scope, 'agg-b');
    b.lease.start(b.nc);
    await waitFor(() => b.lease.stats().lease_holder === a.id, { what: 'agg-b to see the holder' });
    expect(b.leading()).toBe(false);
    expect(b.calls).toEqual([]);
    // It keeps trying every quarter lease, and keeps being refused while A refreshes.
    for (let i = 0; i < 3; i++) {
      await a.clock.advance(QUARTER);
      await answered(a);
      await b.clock.advance(QUARTER);
      await waitFor(() => b.clock.pending === 1, { what: 'agg-b to try again' });
    }
    expect(b.leading()).toBe(false);
    expect(b.lease.stats()).toMatchObject({ lease_role: 'standby', lease_holder: a.id });
    expect(a.leading()).toBe(true);
  });

  it('refreshes every quarter lease by compare-and-set, and each good refresh moves its deadline', async () => {
    const scope = newScope();
    const a = await leader(scope, 'agg-a');
    const taken = (await leaseKey(scope))?.revision as number;
    await a.clock.advance(QUARTER - 1);
    expect((await leaseKey(scope))?.revision).toBe(taken);
    for (let n = 1; n <= 6; n++) {
      await a.clock.advance(n === 1 ? 1 : QUARTER);
      await answered(a);
      expect(await leaseKey(scope)).toEqual({ value: a.id, revision: taken + n, operation: 'PUT' });
    }
    // 1.5 leases since it took the key: the deadline is counted from the last refresh, not the take.
    expect(a.leading()).toBe(true);
    expect(a.calls).toEqual(['acquired:0']);
  });

  it('steps down when a refresh fails (the key was written by someone else) and does not take it back', async () => {
    const scope = newScope();
    const a = await leader(scope, 'agg-a');
    await (await leaseBucket(scope)).put('leader', 'intruder');
    await a.clock.advance(QUARTER);
    await waitFor(() => !a.leading(), { what: 'agg-a to step down' });
    expect(a.calls).toEqual(['acquired:0', expect.stringMatching(/^lost:lease not refreshed: /)]);
    expect(a.lease.stats().lease_error).toMatch(/^lease not refreshed: /);
    // Standing by: it tries `create` again a quarter later, is refused, and sees who holds it.
    await a.clock.advance(QUARTER);
    await waitFor(() => a.lease.stats().lease_holder === 'intruder', { what: 'agg-a to see the new holder' });
    expect(a.leading()).toBe(false);
    expect((await leaseKey(scope))?.value).toBe('intruder');
  });

  it('the server hangs: steps down 3/4 of a lease after its last good refresh was SENT, even when the answer came later', async () => {
    const scope = newScope();
    const a = await leader(scope, 'agg-a');
    server.pause();
    // The refresh at 1/4 is sent into a hung server; its answer comes only at 0.45 leases.
    await a.clock.advance(QUARTER);
    await a.clock.advance(0.2 * TTL);
    expect(a.leading()).toBe(true);
    server.resume();
    await answered(a);
    // Counted from when it was sent (0.25), the deadline is at 1.0 lease; from the answer it would be 1.2.
    server.pause();
    await a.clock.advance(QUARTER); // 0.70: the next refresh is sent and hangs
    await a.clock.advance(0.3 * TTL - 1); // 0.9999
    expect(a.leading()).toBe(true);
    expect(a.calls).toEqual(['acquired:0']);
    await a.clock.advance(1); // 1.0
    expect(a.leading()).toBe(false);
    expect(a.calls).toEqual(['acquired:0', 'lost:lease not refreshed in time']);
    expect(a.lease.stats()).toMatchObject({ lease_role: 'standby', lease_error: 'lease not refreshed in time' });
    server.resume();
    // The late answer to the hung refresh does not make it the leader again.
    const key = await until('the hung refresh to reach the server', async () => {
      const k = await leaseKey(scope);
      return k && k.revision >= 3 ? k : undefined;
    });
    expect(key.value).toBe(a.id);
    expect(a.leading()).toBe(false);
  });

  it('takes back a key that still names it on a new connection (compare-and-set on its revision)', async () => {
    const scope = newScope();
    const a = await leader(scope, 'agg-a');
    const before = (await leaseKey(scope))?.revision as number;
    await a.nc.close();
    a.lease.start(await connection());
    await waitFor(() => a.calls.length === 3, { what: 'agg-a to take the lease back' });
    expect(a.calls).toEqual(['acquired:0', 'lost:new connection', 'acquired:0']);
    expect(a.leading()).toBe(true);
    expect(await leaseKey(scope)).toEqual({ value: a.id, revision: before + 1, operation: 'PUT' });
    // The old connection's refresh timer is gone: the new session refreshes.
    await answered(a);
    await a.clock.advance(QUARTER);
    await answered(a);
    expect((await leaseKey(scope))?.revision).toBe(before + 2);
  });

  it('releases the key on stop; a standby takes it at its next try, with the watermark', async () => {
    const scope = newScope();
    const a = await leader(scope, 'agg-a');
    expect(await a.lease.advance(42)).toBe(true);
    const b = await member(scope, 'agg-b');
    b.lease.start(b.nc);
    await waitFor(() => b.lease.stats().lease_holder === a.id, { what: 'agg-b to stand by' });
    await a.lease.stop();
    expect(a.leading()).toBe(false);
    expect((await leaseKey(scope))?.operation).toBe('DEL');
    await b.clock.advance(QUARTER);
    await waitFor(() => b.leading(), { what: 'agg-b to take over' });
    expect(b.calls).toEqual(['acquired:42']);
    expect((await leaseKey(scope))?.value).toBe(b.id);
  });

  it('stop does not delete a key someone else holds now (compare-and-set)', async () => {
    const scope = newScope();
    const a = await leader(scope, 'agg-a');
    // The key expired and another aggregator took it; A has not noticed yet.
    await (await leaseBucket(scope)).put('leader', 'agg-b-123');
    await a.lease.stop();
    expect(await leaseKey(scope)).toMatchObject({ value: 'agg-b-123', operation: 'PUT' });
  });

  it('a holder that stops refreshing (dead): the key expires on the server and a standby takes over', async () => {
    const scope = newScope();
    const ttl = 1_000; // the server's expiry runs on real time
    const a = await leader(scope, 'agg-a', ttl);
    expect(await a.lease.advance(7)).toBe(true);
    const b = await member(scope, 'agg-b', ttl);
    b.lease.start(b.nc);
    await waitFor(() => b.lease.stats().lease_holder === a.id, { what: 'agg-b to stand by' });
    // A's clock never moves again: no refresh, no release.
    await until('the key to expire', async () => ((await leaseKey(scope)) === null ? true : undefined));
    expect(b.leading()).toBe(false);
    await b.clock.advance(ttl / 4);
    await waitFor(() => b.leading(), { what: 'agg-b to take over' });
    expect(b.calls).toEqual(['acquired:7']);
    // Once the new holder wrote the watermark, the deposed one cannot move it (compare-and-set) and steps down when it tries.
    expect(await b.lease.advance(8)).toBe(true);
    expect(await a.lease.advance(9)).toBe(false);
    expect(a.calls).toEqual(['acquired:0', expect.stringMatching(/^lost:watermark not written: /)]);
  });
});
