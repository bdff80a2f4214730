/**
 * The agent processes of the end-to-end scenarios: their configs (written to a temp dir, built from
 * plain objects or from the shipped agent.config.yaml) and starting one as a user does,
 * `praxis-agent start --config <file>`, with its admin/ingest port and WebSocket URL read from
 * its log.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { AGENT_READY, agentArgs, agentNodeArgs, ROOT, spawnUntilReady, type Spawned } from './process-probe';

/** The shipped config, as `npm start` runs it. */
export const SHIPPED_CONFIG = path.join(ROOT, 'agent.config.yaml');

type Json = Record<string, unknown>;

/** JSON logs at info (the ready line is one), admin/ingest HTTP on 127.0.0.1 port 0, then `rest`. */
export function benchConfig(name: string, rest: Json = {}): Json {
  return { agent: { name }, log: { level: 'info', format: 'json' }, http: { host: '127.0.0.1', port: 0 }, plugins: [], ...rest };
}

/** The store at its shipped settings, in `dataDir`. */
export const storeSection = (dataDir: string): Json => ({ enabled: true, data_dir: dataDir, commit_interval: '100ms' });

/** The audit-log plugin at its defaults (fsync: every), writing under `dir`. */
export const auditPlugin = (dir: string, extra: Json = {}): Json => ({ name: 'audit', use: 'audit-log', config: { path: path.join(dir, 'audit', 'audit.log'), fsync: 'every', ...extra } });

/** The websocket-broadcaster on a free port sending every event to every client (as shipped). */
export const broadcasterPlugin = (maxConnections: number): Json => ({
  name: 'events-ws',
  use: 'websocket-broadcaster',
  config: { host: '127.0.0.1', port: 0, default_event_types: ['*'], max_connections: maxConnections },
});

/**
 * The shipped agent.config.yaml (its comments dropped) with JSON logs, changed by `edit`. Its
 * ${PRAXIS_*} variables stay: pass PRAXIS_PORT, PRAXIS_WS_PORT and PRAXIS_DATA_DIR to the process.
 */
export function shippedConfig(edit: (config: Json) => void = () => undefined): Json {
  const config = parse(fs.readFileSync(SHIPPED_CONFIG, 'utf8')) as Json;
  config.log = { level: 'info', format: 'json' };
  edit(config);
  return config;
}

/** The shipped config with every plugin disabled and no store: the core and the alerting engine. */
export const shippedPluginsOff = (): Json =>
  shippedConfig((config) => {
    for (const plugin of config.plugins as Json[]) plugin.enabled = false;
    (config.store as Json).enabled = false;
    // A receiver may only name enabled sinks: with the plugins off, notifications go nowhere.
    for (const receiver of ((config.alerting as Json).receivers as Json[]) ?? []) receiver.sinks = [];
  });

export function writeConfig(dir: string, name: string, config: Json): string {
  const file = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(file, stringify(config));
  return file;
}

export interface AgentProcess {
  proc: Spawned;
  port: number;
  /** The broadcaster's URL, when the config has one. */
  wsUrl?: string;
}

/** `praxis-agent start --config <config>` (with BENCH_AGENT_NODE_ARGS), ready; `bin`: another build's bin/praxis-agent.js. */
export async function startAgent(config: string, env?: NodeJS.ProcessEnv, bin?: string): Promise<AgentProcess> {
  const proc = await spawnUntilReady(agentArgs(config, agentNodeArgs(), bin), AGENT_READY, 20_000, env);
  const wsUrl = proc.lines.map((l) => /websocket broadcaster listening on (ws:\/\/[^\s"]+)/.exec(l)?.[1]).find(Boolean);
  return { proc, port: proc.port, wsUrl };
}

/** GET /stats of the agent listening on `port`. */
export function agentStats(port: number): Promise<Json> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/stats' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json);
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        });
      })
      .on('error', reject);
  });
}

/**
 * What the agent on `port` lost or skipped so far, from /stats: bus drops, store losses, audit
 * drops, and the audit writer's lines per fsync. Empty parts are left out.
 */
export async function durabilityNote(port: number): Promise<string> {
  const stats = await agentStats(port);
  const bus = stats.bus as { events_published: number; events_dropped: number };
  const store = stats.store as { events_appended: number; events_lost: number; commits: number } | undefined;
  const audit = (stats.components as Record<string, { lines_written: number; dropped: number; fsyncs: number; write_errors: number; sealer?: { mode: string; worker_starts: number; worker_batches: number } }> | undefined)?.audit;
  const parts = [`bus: ${bus.events_published} published, ${bus.events_dropped} dropped`];
  if (store) parts.push(`store: ${store.events_appended} appended in ${store.commits} commits, ${store.events_lost} lost`);
  if (audit) parts.push(`audit: ${audit.lines_written} lines, ${audit.fsyncs} fsyncs (${(audit.lines_written / Math.max(1, audit.fsyncs)).toFixed(1)} lines/fsync), ${audit.dropped} dropped, ${audit.write_errors} write errors`);
  // Where the batches were sealed: the worker (seal_in_worker true or on_demand) or, without one, inline.
  if (audit?.sealer) parts.push(`sealer ${audit.sealer.mode}: worker started ${audit.sealer.worker_starts}×, sealed ${audit.sealer.worker_batches} batches`);
  return parts.join('; ');
}
