import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, credsAuthenticator, nanos, nkeys } from '@nats-io/transport-node';
import pino from 'pino';
import { SystemClock, type Event } from 'praxis-agent';
import { createPluginHarness, runPluginConformance, sampleEvents, selfSignedCert, SqliteEventStore, waitFor, type PluginHarness } from 'praxis-agent/testing';
import { operatorSetup } from '../../test/helpers/nats-jwt';
import { LEASE_UNIT_PORT_RANGE, roundTripServer, SYSTEM_NATS, TestNatsServer } from '../../test/helpers/nats-server';
import plugin from './index';
import type { NatsPlugin } from './nats.plugin';
import { deleteStream, readStream, type StreamMessage } from './test-stream';
import { eventHeaders } from './wire';

const dirs: string[] = [];
const stores: SqliteEventStore[] = [];
const harnesses: PluginHarness[] = [];
const streams: string[] = [];
const servers: TestNatsServer[] = [];

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'praxis-nats-test-'));
  dirs.push(dir);
  return dir;
}

function newStore(dir = tempDir()): SqliteEventStore {
  const store = new SqliteEventStore({ dir }, new SystemClock());
  store.open();
  stores.push(store);
  return store;
}

/** A stream name and subject prefix of this test's own on the shared server (deleted after the test). */
function target(): { stream: string; prefix: string } {
  const id = randomUUID().slice(0, 8);
  streams.push(`T_${id}`);
  return { stream: `T_${id}`, prefix: `test${id}.events` };
}

function conformanceConfig(): Record<string, unknown> {
  const { stream, prefix } = target();
  return { servers: [SYSTEM_NATS], subject_prefix: prefix, stream: { name: stream }, forward: { checkpoint_file: path.join(tempDir(), 'cp.json') } };
}

// The conformance suite builds its harnesses with this store (the sidecar requires one).
const conformanceStore = newStore();
runPluginConformance(plugin, { config: conformanceConfig(), store: conformanceStore });

afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.stop();
  for (const s of servers.splice(0)) await s.dispose();
  for (const s of stores.splice(1)) s.close();
});

/** The server of the round-trip tests (the machine's on 4222, or one of this file's own). */
let shared: { url: string; dispose: () => Promise<void> };
let NATS = SYSTEM_NATS;
beforeAll(async () => {
  shared = await roundTripServer();
  NATS = shared.url;
});

afterAll(async () => {
  conformanceStore.close();
  for (const s of streams) await deleteStream(NATS, s).catch(() => undefined);
  await shared.dispose();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Sidecar {
  h: PluginHarness;
  plugin: NatsPlugin;
  store: SqliteEventStore;
  checkpoint: string;
}

async function sidecar(config: Record<string, unknown>, options: { store?: SqliteEventStore; checkpoint?: string; logger?: pino.Logger } = {}): Promise<Sidecar> {
  const store = options.store ?? newStore();
  const checkpoint = options.checkpoint ?? path.join(tempDir(), 'nats-forward.json');
  const h = createPluginHarness(plugin, {
    name: 'fleet',
    clock: new SystemClock(),
    store,
    ...(options.logger ? { logger: options.logger } : {}),
    config: { agent_id: 'web-1', reconnect: { initial: 20, max: 200 }, ...config, forward: { checkpoint_file: checkpoint, ...(config.forward as object) } },
  });
  harnesses.push(h);
  await h.start();
  return { h, plugin: h.instance as NatsPlugin, store, checkpoint };
}

/** Stops the harness (its plugin's stop() saves the checkpoint) and forgets it. */
async function stopSidecar(s: Sidecar): Promise<void> {
  harnesses.splice(harnesses.indexOf(s.h), 1);
  await s.h.stop();
}

async function forwardedAll(s: Sidecar, what: string): Promise<void> {
  await s.h.bus.idle();
  s.store.flush();
  await waitFor(() => {
    const st = s.plugin.stats();
    return st.stream_ok === true && st.last_acked_offset === s.store.head && st.in_flight === 0;
  }, { what });
}

/** The event ids of the store's events, in offset order (what the stream must hold, once each, in this order). */
function storedIds(store: SqliteEventStore, filter: (e: Event) => boolean = () => true): string[] {
  return store.read(0).events.map((e) => e.event).filter(filter).map((e) => e.metadata.event_id);
}

function ids(messages: StreamMessage[]): string[] {
  return messages.map((m) => m.headers['Nats-Msg-Id'] as string);
}

function errorsWith(h: PluginHarness, code: string): Event<'system.error'>[] {
  return h.eventsOf('system.error').filter((e) => e.data.error_code === code);
}

describe('nats sidecar: forwarding to JetStream', () => {
  it('publishes every local event as <prefix>.<agent_id>.<type> with Nats-Msg-Id = event_id and the stored JSON, in order (read back with a plain consumer)', async () => {
    const { stream, prefix } = target();
    const s = await sidecar({ servers: [NATS], subject_prefix: prefix, stream: { name: stream } });
    await s.h.bus.publish('service.status', sampleEvents['service.status']);
    await s.h.bus.publish('system.error', sampleEvents['system.error']);
    await s.h.bus.publish('config.changed', sampleEvents['config.changed']);
    await forwardedAll(s, 'three events acknowledged');

    const messages = await readStream(NATS, stream);
    const stored = s.store.read(0).events;
    expect(messages.map((m) => m.subject)).toEqual(stored.map((e) => `${prefix}.web-1.${e.type}`));
    expect(messages.map((m) => m.data)).toEqual(stored.map((e) => e.json));
    expect(messages.map((m) => m.headers)).toEqual(stored.map((e) => ({ 'Nats-Msg-Id': e.event.metadata.event_id, 'Praxis-Agent': 'web-1', 'Praxis-Offset': String(e.offset) })));
    expect(s.plugin.stats()).toMatchObject({ role: 'sidecar', connected: true, pending_events: 0, forwarded: 3, duplicates: 0 });
  });

  it('forwards only the configured types, and never an event that came from the fleet (tag agent:<agent>, set by the FleetInbox)', async () => {
    const { stream, prefix } = target();
    const s = await sidecar({ servers: [NATS], subject_prefix: prefix, stream: { name: stream }, types: ['service.*', 'system.error'] });
    await s.h.bus.publish('service.status', sampleEvents['service.status']);
    await s.h.bus.publish('config.changed', sampleEvents['config.changed']);
    await s.h.bus.publish('service.status', sampleEvents['service.status'], { tags: ['agent:web-2'] });
    await s.h.bus.publish('system.error', sampleEvents['system.error']);
    await forwardedAll(s, 'the matching events acknowledged');

    const expected = storedIds(s.store, (e) => (e.type === 'service.status' || e.type === 'system.error') && !e.metadata.tags.includes('agent:web-2'));
    expect(expected).toHaveLength(2);
    expect(ids(await readStream(NATS, stream))).toEqual(expected);
  });

  it('re-sent events are not duplicated: the server drops a known Nats-Msg-Id; a restarted sidecar without its checkpoint skips what the stream has, also after the duplicate window', async () => {
    const { stream, prefix } = target();
    const config = { servers: [NATS], subject_prefix: prefix, stream: { name: stream, duplicate_window: '1s' } };
    const first = await sidecar(config);
    for (let i = 0; i < 5; i++) await first.h.bus.publish('service.status', sampleEvents['service.status']);
    await forwardedAll(first, 'five events acknowledged');
    const [entry] = first.store.read(0, { limit: 1 }).events;

    // The wire contract: the same event again, within the window, is recognised by its id.
    const nc = await connect({ servers: NATS });
    const ack = await jetstream(nc).publish(`${prefix}.web-1.service.status`, entry!.json, { msgID: entry!.event.metadata.event_id, headers: eventHeaders(entry!.event.metadata.event_id, 'web-1', entry!.offset) });
    await nc.close();
    expect(ack.duplicate).toBe(true);

    await stopSidecar(first);
    rmSync(first.checkpoint);
    // Past the server's duplicate window (1 s here): only the agent's own dedup can prevent a duplicate now.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const again = await sidecar(config, { store: first.store, checkpoint: first.checkpoint });
    await again.h.bus.publish('config.changed', sampleEvents['config.changed']);
    await forwardedAll(again, 'the new event acknowledged');

    expect(ids(await readStream(NATS, stream))).toEqual(storedIds(first.store));
    expect(again.plugin.stats()).toMatchObject({ duplicates: 0 });
    expect(again.plugin.stats().skipped_in_stream).toBeGreaterThan(0);
  });

  it('an existing stream with other settings is NATS_STREAM_MISMATCH (system.error, nothing forwarded), and the stream is left unchanged', async () => {
    const { stream, prefix } = target();
    const nc = await connect({ servers: NATS });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`], max_age: nanos(3_600_000) });
    const s = await sidecar({ servers: [NATS], subject_prefix: prefix, stream: { name: stream, max_age: '7d' } });
    await s.h.bus.publish('service.status', sampleEvents['service.status']);
    await waitFor(() => errorsWith(s.h, 'NATS_STREAM_MISMATCH').length > 0, { what: 'a NATS_STREAM_MISMATCH system.error' });

    const [error] = errorsWith(s.h, 'NATS_STREAM_MISMATCH');
    expect(error!.data).toMatchObject({ severity: 'critical', component: 'fleet' });
    expect(error!.data.message).toContain('max_age: config 604800000, stream 3600000');
    expect(error!.data.message).toContain('nats stream edit');
    expect(s.plugin.stats()).toMatchObject({ stream_ok: false, forwarded: 0 });
    expect(s.plugin.status()).toMatchObject({ stream_ok: false });
    const info = await jsm.streams.info(stream);
    expect(info.config.max_age).toBe(nanos(3_600_000));
    expect(info.state.messages).toBe(0);

    // Checked again with backoff, reported once: once an operator aligns the stream, forwarding resumes.
    await jsm.streams.update(stream, { ...info.config, max_age: nanos(7 * 24 * 3_600_000) });
    await forwardedAll(s, 'forwarded once the stream matches');
    expect(ids(await readStream(NATS, stream))).toEqual(storedIds(s.store));
    expect(errorsWith(s.h, 'NATS_STREAM_MISMATCH')).toHaveLength(1);
    await nc.close();
  });

  it('stream.create: false and no stream is NATS_STREAM_MISSING', async () => {
    const { stream, prefix } = target();
    const s = await sidecar({ servers: [NATS], subject_prefix: prefix, stream: { name: stream, create: false } });
    await waitFor(() => errorsWith(s.h, 'NATS_STREAM_MISSING').length > 0, { what: 'a NATS_STREAM_MISSING system.error' });
    expect(errorsWith(s.h, 'NATS_STREAM_MISSING')[0]!.data.message).toContain('nats stream add');
  });

  it('a server without JetStream is NATS_JETSTREAM_UNAVAILABLE with the hint to start it with -js', async () => {
    // Go's flag parsing: the later -js=false undoes the helper's -js.
    const server = await TestNatsServer.start(['-js=false']);
    servers.push(server);
    const { stream, prefix } = target();
    const s = await sidecar({ servers: [server.url], subject_prefix: prefix, stream: { name: stream } });
    await waitFor(() => errorsWith(s.h, 'NATS_JETSTREAM_UNAVAILABLE').length > 0, { what: 'NATS_JETSTREAM_UNAVAILABLE reported' });
    expect(errorsWith(s.h, 'NATS_JETSTREAM_UNAVAILABLE')[0]!.data).toMatchObject({ severity: 'critical', message: expect.stringContaining('-js') });
    expect(s.plugin.stats()).toMatchObject({ connected: true, stream_ok: false, forwarded: 0 });
  });

  it('a checkpoint file that cannot be read is NATS_CHECKPOINT_FAILED (warning); the position then comes from the stream, nothing is sent twice', async () => {
    const { stream, prefix } = target();
    const config = { servers: [NATS], subject_prefix: prefix, stream: { name: stream } };
    const first = await sidecar(config);
    for (let i = 0; i < 3; i++) await first.h.bus.publish('service.status', sampleEvents['service.status']);
    await forwardedAll(first, 'three events acknowledged');
    await stopSidecar(first);
    writeFileSync(first.checkpoint, '{ torn');

    const again = await sidecar(config, { store: first.store, checkpoint: first.checkpoint });
    expect(errorsWith(again.h, 'NATS_CHECKPOINT_FAILED')[0]!.data).toMatchObject({ severity: 'warning' });
    await again.h.bus.publish('config.changed', sampleEvents['config.changed']);
    await forwardedAll(again, 'the new event acknowledged');
    expect(ids(await readStream(NATS, stream))).toEqual(storedIds(first.store));
  });

  it('without the event store the sidecar does not start: NATS_STORE_REQUIRED says to enable it', async () => {
    const h = createPluginHarness(plugin, { config: { servers: [NATS] } });
    await expect(h.start()).rejects.toThrow(/NATS_STORE_REQUIRED|store: \{ enabled: true \}/);
    expect(h.status.state).toBe('failed');
  });
});

describe('nats sidecar: store and forward across outages', () => {
  it('starts with no server up, works locally, and forwards everything once the server comes', async () => {
    const server = await TestNatsServer.start();
    servers.push(server);
    await server.kill();
    const { stream, prefix } = target();
    const s = await sidecar({ servers: [server.url], subject_prefix: prefix, stream: { name: stream } });
    expect(s.h.status.state).toBe('running');
    for (let i = 0; i < 3; i++) await s.h.bus.publish('service.status', sampleEvents['service.status']);
    await waitFor(() => errorsWith(s.h, 'NATS_CONNECT_FAILED').length > 0, { what: 'NATS_CONNECT_FAILED reported' });
    expect(s.plugin.stats()).toMatchObject({ connected: false, last_acked_offset: 0 });
    expect(s.plugin.stats().pending_events).toBeGreaterThanOrEqual(3);

    await server.start();
    await forwardedAll(s, 'all events forwarded after the server came');
    expect(ids(await readStream(server.url, stream))).toEqual(storedIds(s.store));
    // The failure episode was reported once, and its end too.
    expect(errorsWith(s.h, 'NATS_CONNECT_FAILED').map((e) => e.data.severity)).toEqual(['error', 'info']);
  });

  it('server killed mid-stream, events published during an outage longer than the duplicate window, server back: every event arrives once and in order', async () => {
    const server = await TestNatsServer.start();
    servers.push(server);
    const { stream, prefix } = target();
    // A 1 s duplicate window, outlasted by the outage: only the agent's own dedup keeps what was in flight from being stored twice.
    const s = await sidecar({ servers: [server.url], subject_prefix: prefix, stream: { name: stream, duplicate_window: '1s' }, forward: { max_in_flight: 16, ack_timeout: '500ms' } });
    for (let i = 0; i < 200; i++) void s.h.bus.publish('service.status', { ...sampleEvents['service.status'], metrics: { i } });
    await waitFor(() => (s.plugin.stats().forwarded as number) > 0, { what: 'forwarding under way' });
    // Killed while PubAcks are outstanding: some of those events are in the stream, some not.
    await server.kill();
    for (let i = 200; i < 300; i++) await s.h.bus.publish('service.status', { ...sampleEvents['service.status'], metrics: { i } });
    await s.h.bus.idle();
    s.store.flush();
    await waitFor(() => s.plugin.stats().connected === false, { what: 'the sidecar noticed the outage' });
    expect(s.plugin.stats().pending_events).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 1200));

    await server.start();
    await forwardedAll(s, 'everything forwarded after the outage');
    const messages = await readStream(server.url, stream);
    expect(ids(messages)).toEqual(storedIds(s.store));
    expect(messages.map((m) => Number(m.headers['Praxis-Offset']))).toEqual(s.store.read(0).events.map((e) => e.offset));
  });

  it('a wrong token is NATS_AUTH_FAILED (critical), retried until a right one works; the token is never logged nor in an event', async () => {
    const token = `tok-${randomUUID()}`;
    const wrong = `wrong-${randomUUID()}`;
    const server = await TestNatsServer.start(['--auth', token]);
    servers.push(server);
    const { stream, prefix } = target();
    const tokenFile = path.join(tempDir(), 'token');
    writeFileSync(tokenFile, `${wrong}\n`);
    const lines: string[] = [];
    const out = new PassThrough();
    out.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
    const s = await sidecar({ servers: [server.url], subject_prefix: prefix, stream: { name: stream }, auth: { token_file: tokenFile } }, { logger: pino({ level: 'debug' }, out) });
    await s.h.bus.publish('service.status', sampleEvents['service.status']);
    await waitFor(() => errorsWith(s.h, 'NATS_AUTH_FAILED').length > 0, { what: 'NATS_AUTH_FAILED reported' });
    expect(errorsWith(s.h, 'NATS_AUTH_FAILED')[0]!.data).toMatchObject({ severity: 'critical', message: expect.stringMatching(/refused the credentials/) });

    // The secret file is read again at each attempt: fixing it is enough.
    writeFileSync(tokenFile, `${token}\n`);
    await forwardedAll(s, 'forwarded once the token is right');
    expect(ids(await readStream(server.url, stream, { token }))).toEqual(storedIds(s.store));
    const everything = lines.join('') + JSON.stringify(s.h.events) + JSON.stringify(s.plugin.stats());
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(wrong);
  });

  it('credentials in a server URL are never shown: user + password from a file work, the URL password is redacted in messages, logs and stats', async () => {
    const password = `pw-${randomUUID()}`;
    const server = await TestNatsServer.start(['--user', 'web', '--pass', password]);
    servers.push(server);
    const { stream, prefix } = target();
    const lines: string[] = [];
    const out = new PassThrough();
    out.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
    const inUrl = `nats://web:${password}x@127.0.0.1:${server.port}`;
    const bad = await sidecar({ servers: [inUrl], subject_prefix: prefix, stream: { name: stream } }, { logger: pino({ level: 'debug' }, out) });
    await waitFor(() => errorsWith(bad.h, 'NATS_AUTH_FAILED').length > 0, { what: 'NATS_AUTH_FAILED reported' });
    expect(errorsWith(bad.h, 'NATS_AUTH_FAILED')[0]!.data.message).toContain('nats://***');
    const shown = lines.join('') + JSON.stringify(bad.h.events) + JSON.stringify(bad.plugin.stats());
    expect(shown).not.toContain(password);
    await stopSidecar(bad);

    const passwordFile = path.join(tempDir(), 'password');
    writeFileSync(passwordFile, `${password}\n`);
    const good = await sidecar({ servers: [server.url], subject_prefix: prefix, stream: { name: stream }, auth: { user: 'web', password_file: passwordFile } });
    await good.h.bus.publish('service.status', sampleEvents['service.status']);
    await forwardedAll(good, 'forwarded with user and password');
  });

  it("an event over the server's max_payload is skipped with NATS_PUBLISH_FAILED naming it; forwarding goes on", async () => {
    const conf = path.join(tempDir(), 'nats.conf');
    writeFileSync(conf, 'max_payload: 4096\n');
    const server = await TestNatsServer.start(['-c', conf]);
    servers.push(server);
    const { stream, prefix } = target();
    const s = await sidecar({ servers: [server.url], subject_prefix: prefix, stream: { name: stream } });
    await s.h.bus.publish('service.status', sampleEvents['service.status']);
    const big = await s.h.bus.publish('system.error', { ...sampleEvents['system.error'], message: 'x'.repeat(8000) });
    await s.h.bus.publish('service.status', sampleEvents['service.status']);
    await forwardedAll(s, 'the others forwarded');
    expect(errorsWith(s.h, 'NATS_PUBLISH_FAILED')[0]!.data.diagnostic_data).toMatchObject({ event_id: big.metadata.event_id });
    expect(s.plugin.stats()).toMatchObject({ too_large: 1 });
    expect(ids(await readStream(server.url, stream))).toEqual(storedIds(s.store, (e) => e.metadata.event_id !== big.metadata.event_id));
  });

  it('connects over TLS with the CA from tls.ca_file; without it the handshake fails (NATS_CONNECT_FAILED)', async () => {
    const cert = selfSignedCert({ dir: tempDir() });
    const server = await TestNatsServer.start(['--tls', '--tlscert', cert.certFile, '--tlskey', cert.keyFile]);
    servers.push(server);
    const { stream, prefix } = target();
    const untrusted = await sidecar({ servers: [`tls://127.0.0.1:${server.port}`], subject_prefix: prefix, stream: { name: stream }, tls: {} });
    await waitFor(() => errorsWith(untrusted.h, 'NATS_CONNECT_FAILED').length > 0, { what: 'the untrusted certificate refused' });
    expect(untrusted.plugin.stats().connected).toBe(false);
    await stopSidecar(untrusted);

    const s = await sidecar({ servers: [`tls://127.0.0.1:${server.port}`], subject_prefix: prefix, stream: { name: stream }, tls: { ca_file: cert.certFile } });
    await s.h.bus.publish('service.status', sampleEvents['service.status']);
    await forwardedAll(s, 'forwarded over TLS');
    expect(s.plugin.stats().connected).toBe(true);
  });

  it('authenticates with an NKey seed from nkey_seed_file (the seed never shown)', async () => {
    const user = nkeys.createUser();
    const seed = new TextDecoder().decode(user.getSeed());
    const conf = path.join(tempDir(), 'nats.conf');
    writeFileSync(conf, `authorization { users: [ { nkey: ${user.getPublicKey()} } ] }\n`);
    const server = await TestNatsServer.start(['-c', conf]);
    servers.push(server);
    const seedFile = path.join(tempDir(), 'user.nk');
    writeFileSync(seedFile, `${seed}\n`);
    const { stream, prefix } = target();
    const s = await sidecar({ servers: [server.url], subject_prefix: prefix, stream: { name: stream }, auth: { nkey_seed_file: seedFile } });
    await s.h.bus.publish('service.status', sampleEvents['service.status']);
    await forwardedAll(s, 'forwarded with the NKey');
    expect(JSON.stringify(s.h.events) + JSON.stringify(s.plugin.stats())).not.toContain(seed);
  });

  it('authenticates with a creds file (operator mode: user JWT + NKey seed); a creds file the server does not trust is NATS_AUTH_FAILED (critical), fixed by rewriting the file; the seed and the JWT are never shown', async () => {
    const auth = operatorSetup();
    const conf = path.join(tempDir(), 'nats.conf');
    writeFileSync(conf, auth.serverConfig);
    const server = await TestNatsServer.start(['-c', conf], LEASE_UNIT_PORT_RANGE);
    servers.push(server);
    const credsFile = path.join(tempDir(), 'user.creds');
    writeFileSync(credsFile, auth.foreignCreds);
    const { stream, prefix } = target();
    const lines: string[] = [];
    const out = new PassThrough();
    out.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
    const s = await sidecar({ servers: [server.url], subject_prefix: prefix, stream: { name: stream }, auth: { creds_file: credsFile } }, { logger: pino({ level: 'debug' }, out) });
    await s.h.bus.publish('service.status', sampleEvents['service.status']);
    await waitFor(() => errorsWith(s.h, 'NATS_AUTH_FAILED').length > 0, { what: 'NATS_AUTH_FAILED reported' });
    expect(errorsWith(s.h, 'NATS_AUTH_FAILED')[0]!.data).toMatchObject({ severity: 'critical', message: expect.stringMatching(/refused the credentials/) });
    expect(s.plugin.stats()).toMatchObject({ connected: false });

    // The creds file is read again at each attempt: replacing it is enough.
    writeFileSync(credsFile, auth.creds);
    await forwardedAll(s, 'forwarded with the creds file');
    const reader = credsAuthenticator(new TextEncoder().encode(auth.creds));
    expect(ids(await readStream(server.url, stream, { authenticator: reader }))).toEqual(storedIds(s.store));
    await stopSidecar(s);
    const shown = lines.join('') + JSON.stringify(s.h.events) + JSON.stringify(s.plugin.stats());
    expect(lines.length).toBeGreaterThan(0);
    for (const secret of [auth.userSeed, auth.foreignSeed, auth.userJwt]) expect(shown).not.toContain(secret);
  });

  it('events the store removed (retention) before they could be forwarded: NATS_FORWARD_GAP with the count, the rest forwarded in order', async () => {
    const server = await TestNatsServer.start();
    servers.push(server);
    await server.kill();
    const { stream, prefix } = target();
    const store = new SqliteEventStore({ dir: tempDir(), max_events: 5, retention_interval: 3_600_000 }, new SystemClock());
    store.open();
    stores.push(store);
    const s = await sidecar({ servers: [server.url], subject_prefix: prefix, stream: { name: stream } }, { store });
    for (let i = 0; i < 12; i++) await s.h.bus.publish('service.status', sampleEvents['service.status']);
    await s.h.bus.idle();
    store.applyRetention();
    const removedThrough = store.tail - 1;
    expect(removedThrough).toBeGreaterThan(0);

    await server.start();
    await forwardedAll(s, 'the retained events forwarded');
    const [gap] = errorsWith(s.h, 'NATS_FORWARD_GAP');
    expect(gap!.data.diagnostic_data).toMatchObject({ lost: removedThrough, from: 1, to: removedThrough });
    expect(s.plugin.stats().lost).toBe(removedThrough);
    const retained = store.read(removedThrough).events.map((e) => e.event.metadata.event_id);
    expect(ids(await readStream(server.url, stream))).toEqual(retained);
  });

  it('keeps the acknowledged position in its checkpoint file across a restart', async () => {
    const { stream, prefix } = target();
    const config = { servers: [NATS], subject_prefix: prefix, stream: { name: stream } };
    const first = await sidecar(config);
    for (let i = 0; i < 3; i++) await first.h.bus.publish('service.status', sampleEvents['service.status']);
    await forwardedAll(first, 'three events acknowledged');
    const acked = first.plugin.stats().last_acked_offset;
    await stopSidecar(first);
    expect(existsSync(first.checkpoint)).toBe(true);

    const again = await sidecar(config, { store: first.store, checkpoint: first.checkpoint });
    expect(again.plugin.stats().last_acked_offset).toBe(acked);
  });
});
