import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './helpers/async';
import { AgentProcess, runCli } from './helpers/cli';

/**
 * The audit-log plugin in the real agent: a burst of ingested events, SIGKILL in the middle of it,
 * then `praxis-agent audit verify` on what is on disk; a torn last line; a restart after it.
 */
describe('audit-log in a running agent', () => {
  let dir: string;
  let config: string;
  let auditDir: string;
  let active: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'audit-e2e-'));
    auditDir = path.join(dir, 'audit');
    active = path.join(auditDir, 'audit.log');
    config = path.join(dir, 'agent.config.yaml');
    writeFileSync(
      config,
      [
        'log: { level: info, format: json }',
        'http: { port: 0 }',
        'plugins:',
        '  - name: audit',
        '    use: audit-log',
        '    config:',
        `      path: ${JSON.stringify(active)}`,
        '      types: ["system.*", "agent.*"]',
        '      fsync: none',
        '      seal_in_worker: true', // the sealing worker in the real agent, killed with it
        '',
      ].join('\n'),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const lineCount = (): number => (existsSync(active) ? readFileSync(active, 'utf8').split('\n').length - 1 : 0);

  function ndjson(from: number, n: number): string {
    return Array.from({ length: n }, (_, i) =>
      JSON.stringify({ type: 'system.error', data: { severity: 'info', message: `burst event ${from + i}`, component: 'burst' }, metadata: { correlation_id: `b-${from + i}` } }),
    ).join('\n');
  }

  it('SIGKILL during a burst leaves a chain that verifies up to the last complete line', async () => {
    const agent = new AgentProcess(['--config', config]);
    const url = await agent.ready();
    let sent = 0;
    let accepted = 0;
    let stop = false;
    const sender = async (): Promise<void> => {
      while (!stop) {
        const from = sent;
        sent += 100;
        try {
          const res = await fetch(`${url}/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: ndjson(from, 100) });
          if (res.status === 202) accepted += 100;
        } catch {
          return; // the agent is gone
        }
      }
    };
    const senders = [sender(), sender(), sender()];
    try {
      await waitFor(() => lineCount() >= 1500, { what: 'a good part of the burst on disk', timeoutMs: 20_000 });
    } finally {
      agent.kill('SIGKILL');
    }
    expect(await agent.exited).toBeNull(); // killed, not exited
    stop = true;
    await Promise.all(senders);
    expect(accepted).toBeGreaterThanOrEqual(1500);

    const result = runCli(['audit', 'verify', auditDir]);
    expect(result.stderr.replace(/^warning: .*torn last line.*\n?/m, '')).toBe('');
    expect(result.status).toBe(0);
    const records = Number(/^OK (\d+) record/.exec(result.stdout)?.[1]);
    expect(records).toBeGreaterThanOrEqual(1500);
    // Nothing after the kill: what verify counted is what is on disk.
    expect(records).toBeLessThanOrEqual(lineCount());
  });

  it('reports a torn last line, tolerates it, and a restarted agent continues the chain in a new file', async () => {
    // What a kill in the middle of write(2) leaves: half a line without its newline.
    const text = readFileSync(active, 'utf8');
    const lastLine = text.slice(text.lastIndexOf('\n', text.length - 2) + 1);
    const before = Number(/^OK (\d+) record/.exec(runCli(['audit', 'verify', active]).stdout)?.[1]);
    truncateSync(active, statSync(active).size - Math.ceil(lastLine.length / 2));

    const torn = runCli(['audit', 'verify', active]);
    expect(torn.status).toBe(0);
    expect(torn.stderr).toMatch(/warning: .*audit\.log:\d+: torn last line/);
    expect(torn.stdout).toContain(`OK ${before - 1} record(s)`);

    const agent = new AgentProcess(['--config', config]);
    const url = await agent.ready();
    const res = await fetch(`${url}/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: ndjson(1_000_000, 5) });
    expect(res.status).toBe(202);
    try {
      await waitFor(() => existsSync(active) && readFileSync(active, 'utf8').includes('burst event 1000004'), { what: 'the new events on disk', timeoutMs: 20_000 });
      const stats = (await (await fetch(`${url}/stats`)).json()) as { components: Record<string, Record<string, unknown>> };
      expect(stats.components.audit).toMatchObject({ file: active, rotations: 1, write_errors: 0, failing: 0 });
      expect(stats.components.audit.lines_written).toBeGreaterThanOrEqual(7);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/praxis_component_stat\{[^}]*component="audit"[^}]*key="lines_written"[^}]*\} \d+/);
    } finally {
      agent.kill('SIGTERM');
    }
    expect(await agent.exited).toBe(0);

    const after = runCli(['audit', 'verify', auditDir]);
    expect(after.status).toBe(0);
    expect(after.stderr).toMatch(/torn last line/);
    expect(after.stdout).toMatch(/^OK \d+ record\(s\) in 2 file\(s\)/);

    const tail = runCli(['audit', 'tail', '--type', 'system.error', '-n', '50', auditDir]);
    expect(tail.status).toBe(0);
    expect(tail.stdout).toMatch(/#\d+ system\.error \[audit\] severity=warning message=".*torn line/);
    expect(tail.stdout).toMatch(/#\d+ system\.error \[ingest\] corr=b-1000004 severity=info message="burst event 1000004" component=burst/);
    // The damage is noticed while the plugin starts, before anything new is written.
    const seqOf = (re: RegExp): number => Number(new RegExp(`#(\\d+) ${re.source}`).exec(tail.stdout)?.[1]);
    expect(seqOf(/system\.error \[audit\]/)).toBeLessThan(seqOf(/system\.error \[ingest\] corr=b-1000000 /));
    const lifecycle = runCli(['audit', 'tail', '--type', 'agent.*', auditDir]);
    expect(lifecycle.stdout).toMatch(/agent\.started .*agent_name=praxis-agent/);
    expect(lifecycle.stdout).toMatch(/agent\.stopping .*reason=/);
    // Published before plugins start and after they stop: documented as not recorded (plugin README).
    expect(lifecycle.stdout).not.toMatch(/agent\.starting|agent\.stopped/);
    // Without a FILE the commands read the plugin's path from the agent config, like the other commands.
    const configured = runCli(['audit', 'verify', '--config', config]);
    expect(configured.status).toBe(0);
    expect(configured.stdout).toBe(after.stdout);
  });
});

/**
 * `rm` of the active file under a running agent whose config names the log by a relative path:
 * the agent notices before its next batch, says so (log, system.error, /stats), and
 * `audit verify --config` (run from another directory) reports the lost records.
 */
describe('audit-log: the active file removed under a running agent', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'audit-rm-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('raises AUDIT_FILE_VANISHED, shows it on /stats, and audit verify reports the break (exit 1)', async () => {
    const config = path.join(dir, 'agent.config.yaml');
    const active = path.join(dir, 'logs', 'audit.log'); // `path: logs/audit.log`, relative to the config file
    writeFileSync(
      config,
      ['log: { level: info, format: json }', 'http: { port: 0 }', 'store: { enabled: false }', 'plugins:', '  - name: audit', '    use: audit-log', '    config: { path: logs/audit.log, types: ["system.*"] }', ''].join('\n'),
    );
    const agent = new AgentProcess(['--config', config]);
    const url = await agent.ready();
    const post = (message: string): Promise<Response> =>
      fetch(`${url}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'system.error', data: { severity: 'info', message, component: 'e2e' } }) });
    try {
      expect((await post('before rm')).status).toBe(202);
      await waitFor(() => existsSync(active) && readFileSync(active, 'utf8').includes('before rm'), { what: 'the first event on disk', timeoutMs: 20_000 });
      rmSync(active);
      expect((await post('after rm')).status).toBe(202);
      const logged = await agent.waitFor((l) => l.error_code === 'AUDIT_FILE_VANISHED', 20_000);
      expect(logged).toMatchObject({ level: 50, reason: 'vanished', file: active, first_seq: 1 });
      await waitFor(() => existsSync(active) && readFileSync(active, 'utf8').includes('after rm'), { what: 'the new file', timeoutMs: 20_000 });
      const stats = (await (await fetch(`${url}/stats`)).json()) as { components: Record<string, Record<string, unknown>> };
      expect(stats.components.audit).toMatchObject({ file: active, file_breaks: 1, last_file_break: { reason: 'vanished', first_seq: 1 } });
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/praxis_component_stat\{[^}]*component="audit"[^}]*key="file_breaks"[^}]*\} 1/);
    } finally {
      agent.kill('SIGTERM');
    }
    expect(await agent.exited).toBe(0);
    const first = JSON.parse(readFileSync(active, 'utf8').split('\n')[0]) as Record<string, unknown>;
    expect(first).toMatchObject({ type: 'audit.file_break', file_start: true, data: { reason: 'vanished', file: active, first_seq: 1 } });

    const verify = runCli(['audit', 'verify', '--config', config], {}, os.tmpdir());
    expect(verify.status).toBe(1);
    expect(verify.stdout).toBe('');
    expect(verify.stderr).toMatch(new RegExp(`^LOST ${active.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1 \\(seq ${String(first.seq)}\\): the active file vanished`));
    const tail = runCli(['audit', 'tail', '--config', config], {}, os.tmpdir());
    expect(tail.stdout).toMatch(/audit\.file_break \[audit\] reason=vanished/);
    expect(tail.stdout).toMatch(/system\.error \[audit\] severity=critical message=".*vanished/);
  });
});

/** `seal_in_worker: on_demand` in the real agent: no worker while idle, one under sustained load. */
describe('audit-log sealing worker on demand', () => {
  let dir: string;
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('an idle agent seals inline; a burst starts the worker (visible on /stats), and the chain verifies', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'audit-ondemand-'));
    const auditDir = path.join(dir, 'audit');
    const config = path.join(dir, 'agent.config.yaml');
    writeFileSync(config, ['log: { level: info, format: json }', 'http: { port: 0 }', 'plugins:', '  - name: audit', '    use: audit-log', '    config:', `      path: ${JSON.stringify(path.join(auditDir, 'audit.log'))}`, '      fsync: none', '      seal_in_worker: on_demand', ''].join('\n'));
    const agent = new AgentProcess(['--config', config]);
    const url = await agent.ready();
    const sealer = async (): Promise<Record<string, number>> => ((await (await fetch(`${url}/stats`)).json()) as { components: { audit: { sealer: Record<string, number> } } }).components.audit.sealer;
    try {
      expect(await sealer()).toMatchObject({ mode: 'on_demand', worker_running: 0, worker_starts: 0 });
      const body = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ type: 'system.error', data: { severity: 'info', message: `load ${i}`, component: 'load' } })).join('\n');
      let stop = false;
      const sender = async (): Promise<void> => {
        while (!stop) await fetch(`${url}/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
      };
      const senders = [sender(), sender(), sender()];
      try {
        for (let polls = 0; ((await sealer()).worker_batches ?? 0) === 0; polls++) {
          if (polls >= 150) throw new Error('no batch was sealed by the worker within 15 s of load');
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      } finally {
        stop = true;
        await Promise.all(senders);
      }
      expect(await sealer()).toMatchObject({ worker_starts: 1, worker_failed: 0 });
    } finally {
      agent.kill('SIGTERM');
    }
    expect(await agent.exited).toBe(0);
    const verify = runCli(['audit', 'verify', auditDir]);
    expect(verify.stderr).toBe('');
    expect(verify.status).toBe(0);
  });
});

describe('audit-log seal_in_worker validation', () => {
  it('names the values it takes when given another, at the value', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'praxis-audit-seal-'));
    try {
      const config = path.join(dir, 'agent.config.yaml');
      writeFileSync(config, ['plugins:', '  - name: audit', '    use: audit-log', '    config:', '      seal_in_worker: sometimes', ''].join('\n'));
      const result = runCli(['validate', '--config', config]);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain('agent.config.yaml:5:23 plugins[0].config.seal_in_worker: expected true, false or "on_demand" (CONFIG_INVALID_VALUE)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
