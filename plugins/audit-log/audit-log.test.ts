import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { AgentControl, type ReloadResult } from 'praxis-agent';
import os from 'node:os';
import path from 'node:path';
import { FakeClock, createPluginHarness, runPluginConformance, sampleEvents, waitFor, type PluginHarness } from 'praxis-agent/testing';
import type { AuditLogPlugin } from './audit-log.plugin';
import { auditCommands } from './commands';
import { canonicalContent, GENESIS_HASH, sha256Hex } from './record';
import { verifyAuditFiles } from './verify';
import auditLog from './index';

const root = mkdtempSync(path.join(os.tmpdir(), 'audit-log-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

runPluginConformance(auditLog, { config: { path: path.join(root, 'conformance', 'audit.log') } });

let dirCount = 0;
function freshDir(): string {
  const dir = path.join(root, `case-${++dirCount}`);
  mkdirSync(dir);
  return dir;
}

function lines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

function records(file: string): Record<string, unknown>[] {
  return lines(file).map((l) => JSON.parse(l) as Record<string, unknown>);
}

function writeLines(file: string, content: string[]): void {
  writeFileSync(file, content.map((l) => `${l}\n`).join(''));
}

async function runCommand(name: string, args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; out: string; err: string }> {
  const command = auditCommands.find((c) => c.name === name);
  if (!command) throw new Error(`no command ${name}`);
  const out: string[] = [];
  const err: string[] = [];
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
  else process.env[k] = v;
  try {
    const code = await command.run(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

interface Running {
  h: PluginHarness;
  plugin: AuditLogPlugin;
  clock: FakeClock;
  file: string;
}

async function startAudit(config: Record<string, unknown>, clock = new FakeClock()): Promise<Running> {
  const h = createPluginHarness(auditLog, { config, clock, name: 'audit' });
  await h.start();
  return { h, plugin: h.instance as unknown as AuditLogPlugin, clock, file: String(config.path) };
}

async function settleWrites(r: Running): Promise<void> {
  await r.h.bus.idle();
  await r.plugin.flushed();
}

/** Publishes `n` config.changed events and waits until they are written. */
async function publishChanges(r: Running, n: number, from = 0): Promise<void> {
  for (let i = from; i < from + n; i++) {
    await r.h.bus.publish('config.changed', { config_path: `app.yaml#pool.size`, old_value: i, new_value: i + 1, changed_by: 'test' });
  }
  await settleWrites(r);
}

/** A log of `n` config.changed lines written by the plugin. */
async function writeLog(n: number, extra: Record<string, unknown> = {}): Promise<string> {
  const file = path.join(freshDir(), 'audit.log');
  const r = await startAudit({ path: file, types: ['config.changed'], ...extra });
  await publishChanges(r, n);
  await r.h.stop();
  return file;
}

describe('audit-log: writing', () => {
  it('writes one chained JSONL line per matching event, with metadata and redacted data', async () => {
    const file = path.join(freshDir(), 'audit.log');
    const r = await startAudit({ path: file });
    await r.h.bus.publish('config.changed', { config_path: 'agent.yaml#http.auth_token', old_value: 'old-s3cret', new_value: 'new-s3cret', changed_by: 'ops' }, { correlation_id: 'req-7', source: 'config-watcher', tags: ['deploy'] });
    await r.h.bus.publish('system.error', { severity: 'error', message: 'db down', component: 'db', diagnostic_data: { password: 'hunter2', host: 'db1' } });
    await r.h.bus.publish('system.health', sampleEvents['system.health']); // not in the default types
    await r.h.bus.publish('service.status', sampleEvents['service.status']);
    await settleWrites(r);
    await r.h.stop();

    const text = readFileSync(file, 'utf8');
    expect(text).not.toMatch(/s3cret|hunter2/);
    const recs = records(file);
    expect(recs.map((x) => x.type)).toEqual(['config.changed', 'system.error', 'service.status']);
    expect(recs.map((x) => x.seq)).toEqual([1, 2, 3]);
    expect(recs[0]).toMatchObject({
      correlation_id: 'req-7',
      source: 'config-watcher',
      tags: ['deploy'],
      file_start: true,
      prev: GENESIS_HASH,
      data: { config_path: 'agent.yaml#http.auth_token', old_value: expect.stringMatching(/^\*\*\*[0-9a-f]{8}$/), new_value: expect.stringMatching(/^\*\*\*[0-9a-f]{8}$/) },
    });
    expect(typeof recs[0].event_id).toBe('string');
    expect(recs[1]).toMatchObject({ prev: recs[0].hash, data: { diagnostic_data: { host: 'db1', password: expect.stringMatching(/^\*\*\*/) } } });
    expect(recs[1]).not.toHaveProperty('file_start');
    for (const rec of recs) expect(rec.hash).toBe(sha256Hex(canonicalContent(rec)));
    expect(await verifyAuditFiles([file])).toMatchObject({ ok: true, records: 3 });
  });

  it('never writes a secret from config values: not in the raw bytes of the file, however deep or however it changed', async () => {
    const file = path.join(freshDir(), 'audit.log');
    const r = await startAudit({ path: file, types: ['config.changed'] });
    const secrets = ['tok-OLD-7f3a9', 'tok-NEW-c41d2', 'SECRETPATH-9911', 'pw-added-5521'];
    // A whole section changed: the secret sits in a value under a secret-looking key.
    await r.h.bus.publish('config.changed', { config_path: 'agent.yaml#http', old_value: { port: 1, auth_token: secrets[0] }, new_value: { port: 2, auth_token: secrets[1] }, changed_by: 'ops' });
    // A secret-looking key path with an object value, and one that was added (no old value).
    await r.h.bus.publish('config.changed', { config_path: 'agent.yaml#plugins[1].config.webhook_url', old_value: null, new_value: { url: `https://hooks.example/T0/${secrets[2]}` }, changed_by: 'ops' });
    await r.h.bus.publish('config.changed', { config_path: 'db.yaml#primary.password', old_value: undefined, new_value: secrets[3], changed_by: 'ops' });
    await settleWrites(r);
    await r.h.stop();
    const raw = readFileSync(file);
    for (const secret of secrets) expect(raw.includes(Buffer.from(secret))).toBe(false);
    const recs = records(file);
    expect(recs).toHaveLength(3);
    expect(recs[0]).toMatchObject({ data: { old_value: { port: 1, auth_token: expect.stringMatching(/^\*\*\*[0-9a-f]{8}$/) }, new_value: { port: 2 } } });
    expect((recs[0].data as { old_value: { auth_token: string } }).old_value.auth_token).not.toBe((recs[0].data as { new_value: { auth_token: string } }).new_value.auth_token); // a change stays visible
    expect(recs[1]).toMatchObject({ data: { old_value: null, new_value: expect.stringMatching(/^\*\*\*[0-9a-f]{8}$/) } });
    expect(recs[2]).toMatchObject({ data: { new_value: expect.stringMatching(/^\*\*\*[0-9a-f]{8}$/) } });
  });

  it('records service.status transitions only: a repeated status of the same service and source is skipped', async () => {
    const file = path.join(freshDir(), 'audit.log');
    const r = await startAudit({ path: file, types: ['service.status'] });
    const status = (service_name: string, s: 'healthy' | 'degraded' | 'unhealthy', source = 'health-probe', metrics: Record<string, unknown> = {}) =>
      r.h.bus.publish('service.status', { service_name, status: s, metrics }, { source });
    await status('db', 'healthy'); // first seen: recorded
    await status('db', 'healthy'); // repeat: skipped
    await status('cache', 'healthy'); // another service: recorded
    await status('db', 'degraded'); // transition: recorded
    await status('db', 'degraded', 'ingest'); // another source's first report: recorded
    await status('db', 'degraded'); // repeat: skipped
    await status('db', 'degraded', 'health-probe', { flapping: false }); // a flapping change: recorded
    await status('db', 'healthy'); // transition: recorded
    await settleWrites(r);
    await r.h.stop();
    const summary = records(file).map((x) => {
      const d = x.data as { service_name: string; status: string };
      return `${String(x.source)}/${d.service_name}=${d.status}`;
    });
    expect(summary).toEqual(['health-probe/db=healthy', 'health-probe/cache=healthy', 'health-probe/db=degraded', 'ingest/db=degraded', 'health-probe/db=degraded', 'health-probe/db=healthy']);

    const allFile = path.join(freshDir(), 'audit.log');
    const all = await startAudit({ path: allFile, types: ['service.status'], service_status: 'all' });
    for (let i = 0; i < 3; i++) await all.h.bus.publish('service.status', { service_name: 'db', status: 'healthy' });
    await settleWrites(all);
    await all.h.stop();
    expect(records(allFile)).toHaveLength(3);
  });

  it("records the alerting engine's decisions by default (not alert.pending), redacted like any event", async () => {
    const file = path.join(freshDir(), 'audit.log');
    const r = await startAudit({ path: file });
    // Labels and annotations are data like any other: a secret-looking label and a credential in a URL are redacted.
    const labels = { ...sampleEvents['alert.firing'].labels, api_key: 'lbl-s3cret' };
    const annotations = { summary: 'disk full', runbook_url: 'https://ops:ann-s3cret@wiki.example/disk' };
    await r.h.bus.publish('alert.pending', sampleEvents['alert.pending']);
    await r.h.bus.publish('alert.firing', { ...sampleEvents['alert.firing'], labels, annotations }, { source: 'alerting' });
    for (const type of ['alert.notified', 'alert.delivery', 'alert.silenced', 'alert.inhibited', 'alert.muted', 'alert.acknowledged', 'alert.resolved', 'silence.created', 'silence.updated', 'silence.expired'] as const) {
      await r.h.bus.publish(type, sampleEvents[type] as never);
    }
    await settleWrites(r);
    await r.h.stop();

    expect(readFileSync(file, 'utf8')).not.toMatch(/s3cret/);
    const recs = records(file);
    expect(recs.map((x) => x.type)).toEqual([
      'alert.firing',
      'alert.notified',
      'alert.delivery',
      'alert.silenced',
      'alert.inhibited',
      'alert.muted',
      'alert.acknowledged',
      'alert.resolved',
      'silence.created',
      'silence.updated',
      'silence.expired',
    ]);
    const { fingerprint, alertname, starts_at } = sampleEvents['alert.firing'];
    expect(recs[0]).toMatchObject({
      source: 'alerting',
      data: {
        fingerprint,
        alertname,
        starts_at,
        origin: 'event',
        labels: { alertname: 'DiskFull', severity: 'critical', service: 'db', api_key: expect.stringMatching(/^\*\*\*[0-9a-f]{8}$/) },
        annotations: { summary: 'disk full', runbook_url: expect.stringMatching(/^https:\/\/\*\*\*[0-9a-f]{8}@wiki\.example\/disk$/) },
      },
    });
    expect(recs[1].data).toMatchObject({ receiver: 'ops', reason: 'first_notification', fingerprints: [fingerprint], alerts: 1 });
    expect(recs[3].data).toMatchObject({ silence_ids: sampleEvents['alert.silenced'].silence_ids });
    expect(recs[8].data).toMatchObject({ matchers: [{ name: 'service', value: 'db', isRegex: false, isEqual: true }], replaced: sampleEvents['silence.created'].replaced });
    // The group is recorded as it is (named `group`, not `group_key`, which the secret-key fragment "key" would hide).
    const groups = recs.filter((x) => 'group' in (x.data as object)).map((x) => (x.data as { group: string }).group);
    expect(groups).toHaveLength(5);
    expect(new Set(groups)).toEqual(new Set([sampleEvents['alert.notified'].group]));
    expect(await verifyAuditFiles([file])).toMatchObject({ ok: true, records: 11 });
  });

  it('redacts the extra key patterns from redact_keys', async () => {
    const file = path.join(freshDir(), 'audit.log');
    const r = await startAudit({ path: file, types: ['system.error'], redact_keys: ['host'] });
    await r.h.bus.publish('system.error', { severity: 'error', message: 'x', component: 'db', diagnostic_data: { hostname: 'db1.internal', port: 5432 } });
    await settleWrites(r);
    await r.h.stop();
    expect(readFileSync(file, 'utf8')).not.toContain('db1.internal');
    expect(records(file)[0]).toMatchObject({ data: { diagnostic_data: { port: 5432 } } });
  });

  it('redacts with the one redaction function: pass, dsn and auth keys at any depth, credentials in URLs', async () => {
    const file = path.join(freshDir(), 'audit.log');
    const r = await startAudit({ path: file, types: ['system.error'] });
    let nested: Record<string, unknown> = { passwd: 'pw-deep' };
    for (let i = 0; i < 28; i++) nested = { level: nested }; // near the bus's depth limit (32)
    const diagnostic_data = { dsn: 'pw-dsn', auth: { user: 'u', secret_answer: 'pw-auth' }, conn: 'postgres://app:pw-url@db:5432/app', nested };
    await r.h.bus.publish('system.error', { severity: 'error', message: 'cannot reach amqp://guest:pw-msg@rabbit/?heartbeat=10', component: 'db', diagnostic_data });
    await settleWrites(r);
    await r.h.stop();
    const text = readFileSync(file, 'utf8');
    expect(text).not.toMatch(/pw-/);
    expect(records(file)[0]).toMatchObject({ data: { message: expect.stringMatching(/^cannot reach amqp:\/\/\*\*\*[0-9a-f]{8}@rabbit\/\?heartbeat=10$/), diagnostic_data: { conn: expect.stringMatching(/@db:5432\/app$/) } } });
  });

  it('continues the chain when restarted on the same file', async () => {
    const file = await writeLog(3);
    const r = await startAudit({ path: file, types: ['config.changed'] });
    await publishChanges(r, 2);
    await r.h.stop();
    expect(records(file).map((x) => x.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(await verifyAuditFiles([file])).toMatchObject({ ok: true, records: 5, warnings: [] });
  });

  it('continues after lines longer than the tail-reading chunk (64 KiB)', async () => {
    const file = path.join(freshDir(), 'audit.log');
    const big = async (n: number): Promise<void> => {
      const r = await startAudit({ path: file, types: ['system.error'] });
      for (let i = 0; i < n; i++) {
        await r.h.bus.publish('system.error', { severity: 'info', message: 'big', component: 'c', diagnostic_data: { blob: 'x'.repeat(150_000 + i) } });
      }
      await settleWrites(r);
      await r.h.stop();
    };
    await big(2);
    await big(1);
    expect(records(file).map((x) => x.seq)).toEqual([1, 2, 3]);
    expect(await verifyAuditFiles([file])).toMatchObject({ ok: true, records: 3 });
  });

  it('reports lines written, bytes and rotations in stats()', async () => {
    const file = path.join(freshDir(), 'audit.log');
    const r = await startAudit({ path: file, types: ['config.changed'], rotate: { max_bytes: 700 } });
    await publishChanges(r, 6);
    const stats = r.plugin.stats();
    await r.h.stop();
    expect(stats).toMatchObject({ lines_written: 6, queued: 0, write_errors: 0, dropped: 0, last_seq: 6, failing: 0 });
    expect(stats.bytes_written).toBeGreaterThan(0);
    expect(stats.rotations).toBeGreaterThan(0);
  });

  it('fsyncs on the interval with fsync: interval, and after every batch with fsync: every', async () => {
    const file = path.join(freshDir(), 'audit.log');
    const r = await startAudit({ path: file, types: ['config.changed'], fsync: 'interval', fsync_interval: '1s' });
    await publishChanges(r, 3);
    expect(r.plugin.stats().fsyncs).toBe(0);
    await r.clock.advance(1000);
    await waitFor(() => r.plugin.stats().fsyncs === 1, { what: 'the interval fsync' });
    await r.h.stop();

    const every = await startAudit({ path: path.join(freshDir(), 'audit.log'), types: ['config.changed'], fsync: 'every' });
    await publishChanges(every, 2);
    expect(every.plugin.stats().fsyncs).toBeGreaterThanOrEqual(1);
    await every.h.stop();

    const none = await startAudit({ path: path.join(freshDir(), 'audit.log'), types: ['config.changed'], fsync: 'none', rotate: { max_bytes: 700 } });
    await publishChanges(none, 6);
    await none.clock.advance(60_000);
    await none.h.stop();
    expect(none.plugin.stats()).toMatchObject({ fsyncs: 0, lines_written: 6 });
    expect(none.plugin.stats().rotations).toBeGreaterThan(0); // not even a rotation fsyncs
  });

  it('fails to start with AUDIT_KEY_UNAVAILABLE when the HMAC key is missing or short, without naming the key', async () => {
    const missing = createPluginHarness(auditLog, { config: { path: path.join(freshDir(), 'a.log'), hmac: { key_env: 'AUDIT_TEST_UNSET_KEY' } } });
    await expect(missing.start()).rejects.toThrow(/AUDIT_TEST_UNSET_KEY is not set/);
    const keyFile = path.join(freshDir(), 'short.key');
    writeFileSync(keyFile, 'tooshort\n');
    const short = createPluginHarness(auditLog, { config: { path: path.join(freshDir(), 'a.log'), hmac: { key_file: keyFile } } });
    const error = await short.start().then(() => undefined, (e: unknown) => e as Error);
    expect(String(error)).toMatch(/shorter than 16 bytes/);
    expect(String(error)).not.toContain('tooshort');
    expect(auditLog.configSchema.safeParse({ hmac: { key_env: 'A', key_file: 'b' } }).success).toBe(false);
    expect(auditLog.configSchema.safeParse({ types: ['sys*'] }).success).toBe(false);
  });
});

describe('audit-log: verify names the first bad line', () => {
  it('passes an intact log (exit 0)', async () => {
    const file = await writeLog(5);
    const result = await runCommand('audit verify', [file]);
    expect(result).toMatchObject({ code: 0 });
    expect(result.out).toMatch(/^OK 5 record\(s\) in 1 file\(s\), seq 1-5/);
  });

  it('an edited line: changed', async () => {
    const file = await writeLog(5);
    const content = lines(file);
    content[2] = content[2].replace('"new_value":3', '"new_value":300');
    writeLines(file, content);
    const result = await runCommand('audit verify', [file]);
    expect(result.code).toBe(1);
    expect(result.err).toContain(`TAMPERED ${file}:3 (seq 3): changed: its content does not match its hash`);
  });

  it('an edited line whose hash was recomputed: changed, named by the broken link', async () => {
    const file = await writeLog(5);
    const content = lines(file);
    const rec = JSON.parse(content[1]) as Record<string, unknown>;
    (rec.data as Record<string, unknown>).new_value = 999;
    rec.hash = sha256Hex(canonicalContent(rec));
    content[1] = JSON.stringify(rec);
    writeLines(file, content);
    const result = await verifyAuditFiles([file]);
    expect(result.problem).toMatchObject({ kind: 'changed', file, line: 2, seq: 2 });
    expect(result.problem?.message).toMatch(/hash was recomputed/);
  });

  it('a deleted line: removed', async () => {
    const file = await writeLog(6);
    const content = lines(file);
    content.splice(3, 1); // seq 4
    writeLines(file, content);
    const result = await runCommand('audit verify', [file]);
    expect(result.code).toBe(1);
    expect(result.err).toContain(`TAMPERED ${file}:4 (seq 5): removed: 1 line(s) removed before this line (seq 4 missing)`);
  });

  it('a swapped pair: reordered', async () => {
    const file = await writeLog(6);
    const content = lines(file);
    [content[3], content[4]] = [content[4], content[3]];
    writeLines(file, content);
    const result = await runCommand('audit verify', [file]);
    expect(result.code).toBe(1);
    expect(result.err).toContain(`TAMPERED ${file}:4 (seq 5): reordered: seq 4 belongs here but comes later, at ${file}:5`);
  });

  it('lines cut from the start of the file: removed', async () => {
    const file = await writeLog(4);
    writeLines(file, lines(file).slice(2));
    const result = await verifyAuditFiles([file]);
    expect(result.problem).toMatchObject({ kind: 'removed', line: 1, seq: 3 });
  });

  it('whitespace edits are changes too', async () => {
    const file = await writeLog(2);
    const content = lines(file);
    content[1] = content[1].replace('"seq":2,', '"seq": 2,');
    writeLines(file, content);
    expect((await verifyAuditFiles([file])).problem).toMatchObject({ kind: 'changed', line: 2 });
  });

  it('a second chain appended to the first: restarted', async () => {
    const a = await writeLog(2);
    const b = await writeLog(2);
    appendFileSync(a, readFileSync(b));
    const result = await verifyAuditFiles([a]);
    expect(result.problem).toMatchObject({ kind: 'restarted', line: 3, seq: 1 });
  });

  it('prints the result as JSON with --json', async () => {
    const file = await writeLog(3);
    const ok = await runCommand('audit verify', ['--json', file]);
    expect(JSON.parse(ok.out)).toMatchObject({ ok: true, records: 3, firstSeq: 1, lastSeq: 3, file_list: [file] });
    writeLines(file, lines(file).slice(0, 1).concat(lines(file).slice(2)));
    const bad = await runCommand('audit verify', ['--json', file]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.out)).toMatchObject({ ok: false, problem: { kind: 'removed', file, line: 2, seq: 3 } });
  });

  it('reports a torn last line and tolerates it (exit 0 with a warning)', async () => {
    const file = await writeLog(3);
    appendFileSync(file, '{"seq":4,"recorded_at":"2026-01-01T00:00:00.000Z","timestamp":');
    const result = await runCommand('audit verify', [file]);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^OK 3 record\(s\)/);
    expect(result.err).toContain(`warning: ${file}:4: torn last line`);
  });

  it('answers usage errors with exit 2', async () => {
    expect((await runCommand('audit verify', [])).code).toBe(2);
    expect((await runCommand('audit verify', ['--bogus', 'x'])).code).toBe(2);
    const missing = await runCommand('audit verify', [path.join(root, 'nope.log')]);
    expect(missing).toMatchObject({ code: 2, err: expect.stringContaining('no such file') });
    expect((await runCommand('audit tail', ['-n', 'zero', 'x'])).code).toBe(2);
    expect((await runCommand('audit verify', ['--help'])).code).toBe(0);
  });
});

describe('audit-log: rotation', () => {
  it('rotates by size, keeps the chain across files, and verify notices a missing middle file', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'audit.log');
    const r = await startAudit({ path: file, types: ['config.changed'], rotate: { max_bytes: 1200, retain: 0 } });
    await publishChanges(r, 20);
    await r.h.stop();
    const names = readdirSync(dir).sort();
    expect(names.length).toBeGreaterThanOrEqual(4);
    expect(names).toContain('audit.log');
    for (const name of names) {
      const recs = records(path.join(dir, name));
      expect(recs[0]).toHaveProperty('file_start', true);
      expect(Buffer.byteLength(readFileSync(path.join(dir, name)))).toBeLessThanOrEqual(1200);
    }

    const all = await runCommand('audit verify', [dir]);
    expect(all).toMatchObject({ code: 0, out: expect.stringMatching(new RegExp(`^OK 20 record\\(s\\) in ${names.length} file\\(s\\)`)) });
    // The shell sorts audit.log* active-file-first; verify puts files in sequence order.
    const globbed = await runCommand('audit verify', names.map((n) => path.join(dir, n)));
    expect(globbed.code).toBe(0);

    const rotated = names.filter((n) => n !== 'audit.log');
    const middle = rotated[1];
    const firstOfNext = records(path.join(dir, rotated[2]))[0];
    rmSync(path.join(dir, middle));
    const broken = await runCommand('audit verify', [dir]);
    expect(broken.code).toBe(1);
    expect(broken.err).toContain(`TAMPERED ${path.join(dir, rotated[2])}:1 (seq ${String(firstOfNext.seq)}): removed:`);
    expect(broken.err).toMatch(/between audit\.log\.\S+ and audit\.log\.\S+: a rotated file is missing/);
  });

  it('keeps only `retain` rotated files; the rest still verifies from its first file', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'audit.log');
    const r = await startAudit({ path: file, types: ['config.changed'], rotate: { max_bytes: 700, retain: 2 } });
    await publishChanges(r, 12);
    await r.h.stop();
    expect(readdirSync(dir)).toHaveLength(3);
    const cli = await runCommand('audit verify', [dir]);
    expect(cli.code).toBe(0);
    expect(cli.out).toMatch(/^OK \d+ record\(s\) in 3 file\(s\), seq \d+-12/);
    expect(cli.err).toMatch(/the chain starts at seq \d+; earlier records are in files not given/);
  });

  it('rotates by time at period boundaries of the clock', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'audit.log');
    const clock = new FakeClock(Date.UTC(2026, 0, 1, 10, 0, 0));
    const r = await startAudit({ path: file, types: ['config.changed'], rotate: { interval: '1h' } }, clock);
    await publishChanges(r, 2);
    await clock.advance(30 * 60_000); // 10:30: same period
    await publishChanges(r, 1, 2);
    expect(readdirSync(dir)).toEqual(['audit.log']);
    await clock.advance(31 * 60_000); // 11:01: next period
    await publishChanges(r, 1, 3);
    await r.h.stop();
    expect(readdirSync(dir).sort()).toEqual(['audit.log', 'audit.log.20260101T110100.000Z']);
    expect(records(path.join(dir, 'audit.log'))[0]).toMatchObject({ seq: 4, file_start: true });
    expect((await runCommand('audit verify', [dir])).code).toBe(0);
  });

  it('after a torn last line, a restarted writer keeps the file aside and continues the chain in a new one', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'audit.log');
    const first = await startAudit({ path: file, types: ['config.changed', 'system.error'] });
    await publishChanges(first, 3);
    await first.h.stop();
    appendFileSync(file, '{"seq":4,"recorded_at":"2026-01-0');

    const second = await startAudit({ path: file, types: ['config.changed', 'system.error'] });
    await publishChanges(second, 2, 3);
    await second.h.stop();
    const damaged = second.h.eventsOf('system.error').filter((e) => e.data.error_code === 'AUDIT_LOG_DAMAGED');
    expect(damaged).toHaveLength(1);
    expect(damaged[0].data.message).toMatch(/torn line/);
    expect(readdirSync(dir)).toHaveLength(2);
    expect(records(file)[0]).toMatchObject({ seq: 4, file_start: true });
    const result = await runCommand('audit verify', [dir]);
    expect(result.code).toBe(0);
    expect(result.err).toMatch(/torn last line/);
    expect(result.out).toMatch(/^OK 6 record\(s\) in 2 file\(s\)/); // 3 + the AUDIT_LOG_DAMAGED system.error + 2
  });
});

describe('audit-log: HMAC', () => {
  const KEY = 'k'.repeat(24);
  const keyFile = (): string => {
    const f = path.join(freshDir(), 'audit.key');
    writeFileSync(f, `${KEY}\n`);
    return f;
  };

  it('verifies with the key; fails without it (exit 2) and with a wrong one (exit 1)', async () => {
    const kf = keyFile();
    const file = await writeLog(3, { hmac: { key_file: kf } });
    expect(records(file)[0]).toHaveProperty('hmac');
    expect(readFileSync(file, 'utf8')).not.toContain(KEY);

    expect((await runCommand('audit verify', ['--key-file', kf, file])).code).toBe(0);
    expect((await runCommand('audit verify', [file], { AUDIT_K: KEY }))).toMatchObject({ code: 2, err: expect.stringMatching(/HMAC-signed; give the key/) });
    expect((await runCommand('audit verify', ['--key-env', 'AUDIT_K', file], { AUDIT_K: KEY })).code).toBe(0);
    expect((await runCommand('audit verify', [file], { PRAXIS_AUDIT_KEY: KEY })).code).toBe(0);
    const wrong = await runCommand('audit verify', ['--key-env', 'AUDIT_K', file], { AUDIT_K: 'x'.repeat(24) });
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain(`${file}:1 (seq 1): HMAC mismatch`);
  });

  it('signs with a key from the environment (key_env) without writing the key', async () => {
    const saved = process.env.AUDIT_TEST_ENV_KEY;
    process.env.AUDIT_TEST_ENV_KEY = `  ${KEY}\n`; // surrounding whitespace is trimmed
    try {
      const file = await writeLog(3, { hmac: { key_env: 'AUDIT_TEST_ENV_KEY' } });
      expect(records(file).every((rec) => typeof rec.hmac === 'string')).toBe(true);
      expect(readFileSync(file).includes(Buffer.from(KEY))).toBe(false);
      expect((await runCommand('audit verify', ['--key-env', 'AUDIT_TEST_ENV_KEY', file])).code).toBe(0);
      expect((await runCommand('audit verify', ['--key-env', 'AUDIT_K', file], { AUDIT_K: 'y'.repeat(24) })).code).toBe(1);
    } finally {
      if (saved === undefined) delete process.env.AUDIT_TEST_ENV_KEY;
      else process.env.AUDIT_TEST_ENV_KEY = saved;
    }
  });

  it('a chain recomputed without the key fails verification with the key', async () => {
    const kf = keyFile();
    const file = await writeLog(3, { hmac: { key_file: kf } });
    let prev = GENESIS_HASH;
    const forged = records(file).map((rec, i) => {
      const { hmac: _hmac, hash: _hash, ...rest } = rec;
      const body: Record<string, unknown> = { ...rest, prev };
      if (i === 1) (body.data as Record<string, unknown>).new_value = 42;
      const hash = sha256Hex(canonicalContent(body));
      prev = hash;
      return JSON.stringify({ ...body, hash });
    });
    writeLines(file, forged);
    expect((await verifyAuditFiles([file])).ok).toBe(true); // without the key the forgery is consistent
    const result = await runCommand('audit verify', ['--key-file', kf, file]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/:1 \(seq 1\): changed: the line has no HMAC/);
  });
});

describe('audit-log: an unwritable file', () => {
  const errorsOf = (r: Running, code: string) => r.h.eventsOf('system.error').filter((e) => e.data.error_code === code);

  it('on a full disk (/dev/full) raises system.error once, keeps events queued, and writes them once it can', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'audit.log');
    symlinkSync('/dev/full', file);
    const r = await startAudit({ path: file, types: ['config.changed', 'system.error'], retry: { initial: 100, max: 400 } });
    await publishChanges(r, 3);
    await waitFor(() => r.plugin.stats().write_errors >= 1, { what: 'a failed write' });
    for (let i = 0; i < 4; i++) {
      await r.clock.advance(400);
      await waitFor(() => r.plugin.stats().write_errors >= 2 + i, { what: `retry ${i + 1}` });
    }
    const failed = errorsOf(r, 'AUDIT_WRITE_FAILED');
    expect(failed).toHaveLength(1);
    expect(failed[0].data).toMatchObject({ severity: 'error', component: 'audit', message: expect.stringMatching(/no space left on device/i) });
    expect(r.plugin.stats()).toMatchObject({ lines_written: 0, failing: 1, queued: 4 }); // 3 changes + the system.error itself

    unlinkSync(file); // the disk has room again
    await r.clock.advance(400);
    await waitFor(() => r.plugin.stats().failing === 0 && r.plugin.stats().queued === 0, { what: 'the queue written' });
    await settleWrites(r);
    const recovered = errorsOf(r, 'AUDIT_WRITE_FAILED').filter((e) => e.data.severity === 'info');
    expect(recovered).toHaveLength(1);
    await r.h.stop();
    const recs = records(file);
    expect(recs.filter((x) => x.type === 'config.changed')).toHaveLength(3);
    expect(recs.map((x) => x.seq)).toEqual(recs.map((_, i) => i + 1));
    expect(await verifyAuditFiles([file])).toMatchObject({ ok: true });
  });

  it('on an unwritable path (its parent is a file) raises system.error and writes once the directory exists', async () => {
    const dir = freshDir();
    const parent = path.join(dir, 'logs');
    writeFileSync(parent, 'not a directory');
    const file = path.join(parent, 'audit.log');
    const r = await startAudit({ path: file, types: ['config.changed'], retry: { initial: 50, max: 50 } });
    await publishChanges(r, 2);
    await waitFor(() => errorsOf(r, 'AUDIT_WRITE_FAILED').length === 1, { what: 'the system.error' });
    expect(errorsOf(r, 'AUDIT_WRITE_FAILED')[0].data.message).toMatch(/^audit log \S+ cannot be written \((EEXIST|ENOTDIR)/);
    unlinkSync(parent);
    mkdirSync(parent);
    await r.clock.advance(50);
    await waitFor(() => existsSync(file) && lines(file).length === 2, { what: 'the queued events written' });
    await r.h.stop();
    expect(errorsOf(r, 'AUDIT_WRITE_FAILED')).toHaveLength(2); // the failure and the recovery
  });

  it('on a read-only file at start raises system.error, keeps events queued, and continues the chain once it is writable', async () => {
    const file = await writeLog(2);
    // root ignores file modes: make the file immutable instead (chattr needs a file system that supports it).
    const root = process.getuid?.() === 0;
    const setReadOnly = (on: boolean): boolean =>
      root ? spawnSync('chattr', [on ? '+i' : '-i', file]).status === 0 : (chmodSync(file, on ? 0o444 : 0o644), true);
    if (!setReadOnly(true)) {
      console.warn('skipped: cannot make a file read-only here (root without chattr)');
      return;
    }
    try {
      const r = await startAudit({ path: file, types: ['config.changed'], retry: { initial: 50, max: 50 } });
      await publishChanges(r, 2, 2);
      await waitFor(() => errorsOf(r, 'AUDIT_WRITE_FAILED').length === 1, { what: 'the system.error' });
      expect(errorsOf(r, 'AUDIT_WRITE_FAILED')[0].data).toMatchObject({ severity: 'error', diagnostic_data: { error_code: expect.stringMatching(/^(EPERM|EACCES)$/) } });
      expect(r.plugin.stats()).toMatchObject({ failing: 1, queued: 2, lines_written: 0 });
      setReadOnly(false);
      await r.clock.advance(50);
      await waitFor(() => r.plugin.stats().failing === 0 && r.plugin.stats().queued === 0, { what: 'the queued events written' });
      await r.h.stop();
    } finally {
      setReadOnly(false);
    }
    expect(records(file).map((x) => x.seq)).toEqual([1, 2, 3, 4]);
    expect(await verifyAuditFiles([file])).toMatchObject({ ok: true, records: 4 });
  });

  it('beyond queue_capacity drops and counts events, says so once, and records the gap in the log', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'audit.log');
    symlinkSync('/dev/full', file);
    const r = await startAudit({ path: file, types: ['config.changed'], queue_capacity: 3, retry: { initial: 100, max: 100 } });
    await publishChanges(r, 7);
    await waitFor(() => r.plugin.stats().dropped === 4, { what: 'four drops' });
    expect(errorsOf(r, 'AUDIT_EVENTS_DROPPED')).toHaveLength(1);
    expect(errorsOf(r, 'AUDIT_EVENTS_DROPPED')[0].data.severity).toBe('critical');
    unlinkSync(file);
    await r.clock.advance(100);
    await waitFor(() => r.plugin.stats().failing === 0, { what: 'recovery' });
    await publishChanges(r, 1, 7);
    await r.h.stop();
    const recs = records(file);
    expect(recs.map((x) => x.type)).toEqual(['config.changed', 'config.changed', 'config.changed', 'audit.dropped', 'config.changed']);
    expect(recs[3]).toMatchObject({ source: 'audit', data: { count: 4 } });
    expect((recs[4].data as { old_value: number }).old_value).toBe(7);
    expect(errorsOf(r, 'AUDIT_WRITE_FAILED').find((e) => e.data.severity === 'warning')?.data.message).toMatch(/4 event\(s\) were dropped/);
    expect(await verifyAuditFiles([file])).toMatchObject({ ok: true });
  });
});

describe('audit-log: queue bound while writable', () => {
  it('holds publishers back instead of dropping while the file is writable', async () => {
    const file = path.join(freshDir(), 'audit.log');
    const r = await startAudit({ path: file, types: ['config.changed'], queue_capacity: 2 });
    await publishChanges(r, 25);
    await r.h.stop();
    expect(r.plugin.stats()).toMatchObject({ dropped: 0, lines_written: 25 });
    expect(records(file).map((x) => x.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
  });

  it('stops promptly while the file is unwritable, logging how many events were lost', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'audit.log');
    symlinkSync('/dev/full', file);
    const logged: string[] = [];
    const pino = (await import('pino')).default;
    const logger = pino({ level: 'error' }, { write: (line: string) => void logged.push(line) });
    const h = createPluginHarness(auditLog, { config: { path: file, types: ['config.changed'] }, logger, name: 'audit' });
    await h.start();
    await h.bus.publish('config.changed', sampleEvents['config.changed']);
    await h.bus.publish('config.changed', sampleEvents['config.changed']);
    await h.bus.idle();
    expect(await h.stop()).toEqual({ failed: [], timedOut: [] });
    expect(logged.join('')).toMatch(/could not be written while stopping: 2 event\(s\) lost/);
  });
});

describe('audit-log: tail', () => {
  it('prints the newest records of a type readably', async () => {
    const file = path.join(freshDir(), 'audit.log');
    const r = await startAudit({ path: file, types: ['*'] });
    await r.h.bus.publish('system.error', { severity: 'warning', message: 'disk at 91%', component: 'disk' }, { source: 'probe', correlation_id: 'c-1' });
    await publishChanges(r, 3);
    await r.h.stop();
    const result = await runCommand('audit tail', ['--type', 'system.error', file]);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^\S+Z #1 system\.error \[probe\] corr=c-1 severity=warning message="disk at 91%" component=disk$/);
    const two = await runCommand('audit tail', ['-n', '2', '--type', 'config.*', file]);
    expect(two.out.split('\n')).toEqual([expect.stringMatching(/#3 config\.changed .*old_value=1 new_value=2/), expect.stringMatching(/#4 config\.changed .*old_value=2 new_value=3/)]);
    const json = await runCommand('audit tail', ['-n', '1', '--json', file]);
    expect(JSON.parse(json.out)).toMatchObject({ seq: 4 });
  });
});

describe('audit-log: commands without FILE read the agent config', () => {
  function agentConfig(dir: string, pluginConfig: Record<string, unknown>, name = 'agent.config.yaml'): string {
    const cfg = path.join(dir, name);
    writeFileSync(cfg, ['plugins:', '  - name: audit', '    use: audit-log', `    config: ${JSON.stringify(pluginConfig)}`, ''].join('\n'));
    return cfg;
  }

  it('verify and tail take the files and the HMAC key source of the configured audit-log plugin', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'logs', 'audit.log');
    const pluginConfig = { path: file, types: ['config.changed'], rotate: { max_bytes: 700 }, hmac: { key_env: 'AUDIT_CFG_KEY' } };
    const env = { AUDIT_CFG_KEY: 'c'.repeat(20), PRAXIS_AUDIT_KEY: undefined };
    process.env.AUDIT_CFG_KEY = env.AUDIT_CFG_KEY;
    try {
      const r = await startAudit(pluginConfig);
      await publishChanges(r, 6);
      await r.h.stop();
    } finally {
      delete process.env.AUDIT_CFG_KEY;
    }
    const files = readdirSync(path.dirname(file)).length;
    expect(files).toBeGreaterThan(1);
    writeFileSync(path.join(dir, 'logs', 'unrelated.txt'), 'not an audit file\n'); // only the plugin's files are read
    const cfg = agentConfig(dir, pluginConfig);

    const verify = await runCommand('audit verify', ['--config', cfg], env);
    expect(verify).toMatchObject({ code: 0, out: expect.stringMatching(new RegExp(`^OK 6 record\\(s\\) in ${files} file\\(s\\).*HMAC verified`)) });
    // $PRAXIS_CONFIG names the config when --config does not.
    expect((await runCommand('audit verify', [], { ...env, PRAXIS_CONFIG: cfg })).code).toBe(0);
    // The configured key source is used: without the variable, verify cannot read the key.
    expect(await runCommand('audit verify', ['-c', cfg], { AUDIT_CFG_KEY: undefined })).toMatchObject({ code: 2, err: expect.stringContaining('$AUDIT_CFG_KEY is not set') });

    const tail = await runCommand('audit tail', ['-n', '2', '--config', cfg]);
    expect(tail.out.split('\n')).toEqual([expect.stringMatching(/#5 config\.changed /), expect.stringMatching(/#6 config\.changed /)]);

    // A rotated file missing from the middle is noticed in the configured set too.
    const rotated = readdirSync(path.dirname(file)).filter((n) => /^audit\.log\./.test(n)).sort();
    expect(rotated.length).toBeGreaterThanOrEqual(2);
    rmSync(path.join(dir, 'logs', rotated[rotated.length - 1]));
    expect((await runCommand('audit verify', ['--config', cfg], env)).err).toMatch(/removed: .*a rotated file is missing/);
  });

  it('says what is missing: no config, no audit-log plugin, no files yet, several plugins', async () => {
    const dir = freshDir();
    const none = await runCommand('audit verify', ['--config', path.join(dir, 'nope.yaml')]);
    expect(none).toMatchObject({ code: 2, err: expect.stringContaining('nope.yaml not found') });
    const noAgentConfig = await runCommand('audit tail', [], { PRAXIS_CONFIG: path.join(dir, 'absent.yaml') });
    expect(noAgentConfig).toMatchObject({ code: 2, err: expect.stringMatching(/name at least one audit file or directory, or an agent config/) });

    const other = path.join(dir, 'other.yaml');
    writeFileSync(other, 'plugins:\n  - name: log\n    use: event-logger\n');
    expect(await runCommand('audit verify', ['--config', other])).toMatchObject({ code: 2, err: expect.stringContaining('has no enabled audit-log plugin') });

    const empty = agentConfig(dir, { path: path.join(dir, 'never', 'audit.log') }, 'empty.yaml');
    expect(await runCommand('audit tail', ['--config', empty])).toMatchObject({ code: 2, err: expect.stringContaining('no audit files at') });

    const two = path.join(dir, 'two.yaml');
    writeFileSync(two, ['plugins:', '  - name: a1', '    use: audit-log', '  - name: a2', '    use: audit-log', ''].join('\n'));
    expect(await runCommand('audit verify', ['--config', two])).toMatchObject({ code: 2, err: expect.stringContaining('several audit-log plugins (a1, a2)') });

    const broken = path.join(dir, 'broken.yaml');
    writeFileSync(broken, 'plugins:\n  - name: audit\n    use: audit-log\n    config: { fsync: sometimes }\n');
    expect(await runCommand('audit verify', ['--config', broken])).toMatchObject({ code: 2, err: expect.stringMatching(/cannot read the audit-log plugin's files from .*broken\.yaml:\n.*fsync/) });
  });
});

describe('audit-log: the active file vanishes, is replaced or truncated while the agent writes', () => {
  const breaksOf = (r: Running) => r.h.eventsOf('system.error').filter((e) => String(e.data.error_code).startsWith('AUDIT_FILE_'));
  const config = (file: string, extra: Record<string, unknown> = {}) => ({ path: file, types: ['config.changed', 'system.error'], ...extra });

  it('rm: raises AUDIT_FILE_VANISHED, starts a new file with an audit.file_break record, and verify reports the lost records (exit 1)', async () => {
    const file = path.join(freshDir(), 'audit.log');
    const r = await startAudit(config(file));
    await publishChanges(r, 3);
    const before = records(file);
    rmSync(file);
    await publishChanges(r, 2, 3);

    const errors = breaksOf(r);
    expect(errors).toHaveLength(1);
    expect(errors[0].data).toMatchObject({
      severity: 'critical',
      component: 'audit',
      error_code: 'AUDIT_FILE_VANISHED',
      message: expect.stringMatching(/vanished .*seq 1-3 may be lost/),
      diagnostic_data: { reason: 'vanished', first_seq: 1, last_seq: 3, last_hash: before[2].hash, kept_as: null },
    });
    // /stats no longer says all is well.
    expect(r.plugin.stats()).toMatchObject({ file_breaks: 1, last_file_break: { reason: 'vanished', first_seq: 1, last_seq: 3, kept_as: null }, write_errors: 0 });
    await r.h.stop();

    const recs = records(file);
    expect(recs[0]).toMatchObject({ seq: 4, type: 'audit.file_break', file_start: true, prev: before[2].hash, source: 'audit', data: { reason: 'vanished', file, first_seq: 1, last_seq: 3 } });
    expect(recs.slice(1).map((x) => x.type)).toEqual(expect.arrayContaining(['config.changed', 'system.error']));
    expect(recs.map((x) => x.seq)).toEqual(recs.map((_, i) => i + 4));

    const result = await runCommand('audit verify', [file]);
    expect(result.code).toBe(1);
    expect(result.out).toBe('');
    expect(result.err).toContain(`LOST ${file}:1 (seq 4): the active file vanished while the agent wrote to it`);
    expect(result.err).toContain('seq 1-3 (3 records) written to it are not in the files given');
    const json = await runCommand('audit verify', ['--json', file]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({ ok: false, records: recs.length, breaks: [{ seq: 4, reason: 'vanished', lost: { from: 1, to: 3 } }] });
  });

  it('an editor-style replace (write a copy, rename it over): AUDIT_FILE_REPLACED, the copy is kept and checked, the chain goes on', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'audit.log');
    const r = await startAudit(config(file));
    await publishChanges(r, 3);
    const edited = lines(file);
    edited[1] = edited[1].replace('"new_value":2', '"new_value":20');
    writeLines(`${file}.swp`, edited);
    renameSync(`${file}.swp`, file);
    await publishChanges(r, 2, 3);
    await r.h.stop();

    const [error] = breaksOf(r);
    expect(error.data).toMatchObject({ error_code: 'AUDIT_FILE_REPLACED', diagnostic_data: { reason: 'replaced', kept_as: expect.stringMatching(/audit\.log\.\d{8}T\d{6}\.\d{3}Z$/) } });
    const keptAs = String((error.data.diagnostic_data as { kept_as: string }).kept_as);
    expect(lines(keptAs)).toEqual(edited); // what the editor wrote, untouched
    expect(records(file)[0]).toMatchObject({ seq: 4, type: 'audit.file_break', data: { reason: 'replaced', kept_as: keptAs } });

    const result = await runCommand('audit verify', [dir]);
    expect(result.code).toBe(1);
    expect(result.err).toContain(`TAMPERED ${keptAs}:2 (seq 2): changed: its content does not match its hash`);
  });

  it('truncated: AUDIT_FILE_TRUNCATED, the cut file is kept, verify names exactly the records cut off', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'audit.log');
    const r = await startAudit(config(file));
    await publishChanges(r, 5);
    truncateSync(file, lines(file).slice(0, 2).join('\n').length + 1);
    await publishChanges(r, 1, 5);
    await r.h.stop();

    expect(breaksOf(r).map((e) => e.data.error_code)).toEqual(['AUDIT_FILE_TRUNCATED']);
    expect(readdirSync(dir)).toHaveLength(2);
    const result = await runCommand('audit verify', [dir]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^LOST \S+audit\.log:1 \(seq 6\): the active file was truncated \(what was found kept as audit\.log\.\S+\) .*seq 3-5 \(3 records\) written to it are not in the files given/);
    expect(result.err).not.toContain('TAMPERED');
  });

  it('a file the operator restores after the agent moved on: verify finds the chain whole; restored over the new file, only what that clobbered is lost', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'audit.log');
    const r = await startAudit(config(file));
    await publishChanges(r, 3);
    const backup = readFileSync(file);
    rmSync(file);
    await publishChanges(r, 1, 3); // the agent moves on: seq 4 is the break record

    // Put back next to the new file under another name: nothing is missing.
    writeFileSync(path.join(dir, 'audit.log.restored'), backup);
    const whole = await runCommand('audit verify', [dir]);
    expect(whole.code).toBe(0);
    expect(whole.err).toMatch(/warning: \S+audit\.log:1: \S+audit\.log vanished at \S+; the records written to it are all here \(restored\), the chain is whole/);
    expect(whole.out).toMatch(/^OK \d+ record\(s\) in 2 file\(s\), seq 1-/);

    // Put back where it was, over the file the agent writes now: the agent keeps it and moves on again.
    rmSync(path.join(dir, 'audit.log.restored'));
    const clobbered = records(file);
    writeFileSync(`${file}.tmp`, backup);
    renameSync(`${file}.tmp`, file);
    await publishChanges(r, 1, 4);
    await r.h.stop();
    expect(breaksOf(r).map((e) => e.data.error_code)).toEqual(['AUDIT_FILE_VANISHED', 'AUDIT_FILE_REPLACED']);
    const last = clobbered[clobbered.length - 1];
    const result = await runCommand('audit verify', ['--json', dir]);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.out)).toMatchObject({ breaks: [{ reason: 'replaced', seq: Number(last.seq) + 1, lost: { from: 4, to: last.seq } }] });
  });

  it('rotation goes on after a break, and verify checks every file after it', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'audit.log');
    const r = await startAudit(config(file, { rotate: { max_bytes: 1200, retain: 0 } }));
    await publishChanges(r, 6);
    const rotationsBefore = r.plugin.stats().rotations;
    rmSync(file);
    await publishChanges(r, 12, 6);
    await r.h.stop();
    expect(r.plugin.stats().rotations).toBeGreaterThan(rotationsBefore + 1);
    const result = await runCommand('audit verify', [dir]);
    expect(result.code).toBe(1);
    expect(result.err.split('\n')).toEqual([expect.stringMatching(/^LOST .*the active file vanished.* written to it are not in the files given/)]);

    // Tampering after the break is still found.
    const newest = readdirSync(dir).filter((n) => n !== 'audit.log').sort().pop() as string;
    const content = lines(path.join(dir, newest));
    content[content.length - 1] = content[content.length - 1].replace('"changed_by":"test"', '"changed_by":"mallory"');
    writeLines(path.join(dir, newest), content);
    const tampered = await runCommand('audit verify', [dir]);
    expect(tampered.code).toBe(1);
    expect(tampered.err).toMatch(/^LOST [^\n]*\nTAMPERED \S+:\d+ \(seq \d+\): changed/);
  });

  it('a file put in its place before anything was written is kept aside, not cut', async () => {
    const dir = freshDir();
    const file = path.join(dir, 'audit.log');
    const r = await startAudit(config(file)); // opens (creates) an empty audit.log
    writeFileSync(`${file}.new`, 'notes someone saved here\n');
    renameSync(`${file}.new`, file);
    await publishChanges(r, 1);
    await r.h.stop();
    expect(breaksOf(r)).toHaveLength(0); // nothing of the log was lost
    const kept = readdirSync(dir).filter((n) => n !== 'audit.log');
    expect(kept).toHaveLength(1);
    expect(readFileSync(path.join(dir, kept[0]), 'utf8')).toBe('notes someone saved here\n');
    expect(records(file).map((x) => x.seq)).toEqual([1]);
  });

  /** Two lines, `rm`, one more event: a file that starts with a break record at seq 3. */
  async function brokenLog(): Promise<string> {
    const file = path.join(freshDir(), 'audit.log');
    const r = await startAudit(config(file));
    await publishChanges(r, 2);
    rmSync(file);
    await publishChanges(r, 1, 2);
    await r.h.stop();
    return file;
  }

  it('removed while idle, just before stop: the stopping writer notices and leaves the break record', async () => {
    const file = path.join(freshDir(), 'audit.log');
    const r = await startAudit(config(file));
    await publishChanges(r, 2);
    rmSync(file);
    await r.h.stop();
    expect(r.plugin.stats()).toMatchObject({ file_breaks: 1 });
    expect(records(file)[0]).toMatchObject({ seq: 3, type: 'audit.file_break', data: { reason: 'vanished', first_seq: 1, last_seq: 2 } });
    expect((await runCommand('audit verify', [file])).err).toMatch(/^LOST .*seq 1-2 \(2 records\)/);
  });

  it('a restarted writer continues from a file that starts with a break record', async () => {
    const file = await brokenLog();
    const again = await startAudit(config(file));
    await publishChanges(again, 1, 3);
    await again.h.stop();
    expect(breaksOf(again)).toHaveLength(0);
    const result = await verifyAuditFiles([file]);
    expect(result).toMatchObject({ ok: false, breaks: [{ seq: 3, lost: { from: 1, to: 2 } }] });
    expect(result.problem).toBeUndefined();
  });

  it('a forged break record that does not continue the chain it names is a change', async () => {
    const file = await brokenLog();
    const content = lines(file);
    const rec = JSON.parse(content[0]) as Record<string, unknown>;
    (rec.data as Record<string, unknown>).last_seq = 1; // claims fewer records were lost
    rec.hash = sha256Hex(canonicalContent(rec));
    content[0] = JSON.stringify(rec);
    writeLines(file, content);
    expect((await verifyAuditFiles([file])).problem).toMatchObject({ kind: 'changed', line: 1, message: expect.stringMatching(/audit\.file_break record that does not continue/) });
  });
});

describe('audit-log: paths are relative to the agent config file', () => {
  it('the plugin writes, and reads its key file, relative to the config file; the commands find them from any working directory', async () => {
    const dir = freshDir();
    const configFile = path.join(dir, 'agent.config.yaml');
    writeFileSync(path.join(dir, 'audit.key'), `${'k'.repeat(20)}\n`);
    const pluginConfig = { path: 'relative-audit/audit.log', types: ['config.changed'], hmac: { key_file: 'audit.key' } };
    writeFileSync(configFile, ['plugins:', '  - name: audit', '    use: audit-log', `    config: ${JSON.stringify(pluginConfig)}`, ''].join('\n'));
    const agent = new (class extends AgentControl {
      get configFile(): string {
        return configFile;
      }

      reload(reason: string): Promise<ReloadResult> {
        return Promise.resolve({ status: 'unavailable', reason, restarted: [], started: [], stopped: [], unchanged: [], failed: [], restart_required: [], problems: [], message: 'no agent' });
      }
    })();
    const h = createPluginHarness(auditLog, { config: pluginConfig, agentControl: agent, name: 'audit' });
    try {
      await h.start();
      for (let i = 0; i < 3; i++) await h.bus.publish('config.changed', { config_path: 'a#b', old_value: i, new_value: i + 1, changed_by: 'test' });
      await h.bus.idle();
      await (h.instance as unknown as AuditLogPlugin).flushed();
      expect((h.instance as unknown as AuditLogPlugin).stats().file).toBe(path.join(dir, 'relative-audit', 'audit.log'));
      await h.stop();
    } finally {
      rmSync(path.resolve('relative-audit'), { recursive: true, force: true }); // where it went before the fix
    }
    expect(records(path.join(dir, 'relative-audit', 'audit.log'))).toHaveLength(3);
    expect(process.cwd()).not.toBe(dir);
    const verify = await runCommand('audit verify', ['--config', configFile], { PRAXIS_AUDIT_KEY: undefined });
    expect(verify).toMatchObject({ code: 0, out: expect.stringMatching(/^OK 3 record\(s\) in 1 file\(s\).*HMAC verified/) });
    expect((await runCommand('audit tail', ['-n', '1', '--config', configFile])).out).toMatch(/#3 config\.changed/);
  });
});
