import path from 'node:path';
import { fleetAgentId } from '../fleet/agent-id';

/**
 * What `Agent.reload()` did. `POST /-/reload` answers with it, SIGHUP and config-watcher log it.
 *
 * - `applied`: the new config runs; `restarted`/`started`/`stopped` say what changed.
 * - `unchanged`: the file is valid and no plugin entry changed (core sections may still differ:
 *   see `restart_required`).
 * - `invalid`: the file has problems; the agent keeps running on the previous config.
 * - `partial`: the config was applied but some plugins failed to start (see `failed`; those
 *   that ran before keep running on their previous entry when it starts again).
 * - `unavailable`: no reload was possible (the agent is not running, or there is no agent).
 */
export type ReloadStatus = 'applied' | 'unchanged' | 'invalid' | 'partial' | 'unavailable';

/** The answer of a reload (see {@link ReloadStatus} for what each status means). */
export interface ReloadResult {
  status: ReloadStatus;
  /** What asked for the reload: `SIGHUP`, `POST /-/reload`, `config-watcher`, ... */
  reason: string;
  /** The config file that was read. */
  file?: string;
  /** Plugins stopped and started again with their new entry (use, config, queue, depends_on). */
  restarted: string[];
  /** Plugins added (or enabled). */
  started: string[];
  /** Plugins removed (or disabled). */
  stopped: string[];
  /** Plugins whose entry did not change; they kept running untouched. */
  unchanged: string[];
  /**
   * Plugins that failed to start with their new entry. A plugin that ran before is started again
   * with its previous entry (`rolled_back: true`) and the next reload tries the new entry again;
   * when that fails too, or the plugin is new, it is `failed` until the next reload.
   */
  failed: { plugin: string; error: string; rolled_back?: boolean }[];
  /**
   * Events that were queued for a stopped, removed or restarted plugin and could not be delivered,
   * by plugin name; absent when none were. `agent.shutdown_timeout` ran out while draining the
   * plugin's queue, or its restarted version no longer subscribes to them. Also on /stats
   * (`plugins_discarded_events`) and in the log (PLUGIN_EVENTS_DISCARDED).
   */
  discarded?: Record<string, number>;
  /** Core sections (`http`, `bus`, `log`, `agent`, ...) that differ from the running ones: they apply only after a restart of the agent. */
  restart_required: string[];
  /** For `invalid`: every problem as `FILE:LINE:COL key.path: message (CODE)`. */
  problems: string[];
  /** One sentence for a human. */
  message: string;
}

/**
 * The running agent as a plugin may steer it (inject `AgentControl` by type). config-watcher uses
 * it to reload the agent when `agent.config.yaml` changes.
 */
export abstract class AgentControl {
  constructor() {
    // tsyringe constructs an unregistered abstract class silently; fail at resolution instead of at first use.
    if (new.target === AgentControl) throw new TypeError('AgentControl is abstract: the agent (or the plugin harness) registers it');
  }

  /** Absolute path of the agent's config file; undefined when there is none (plugin harness). */
  abstract get configFile(): string | undefined;

  /**
   * The agent's `agent.name` (the `source` of the events it publishes itself); undefined when there
   * is no agent (plugin harness). Fleet mode names an agent by it.
   */
  get agentName(): string | undefined {
    return undefined;
  }

  /**
   * This agent's id in the fleet: `agent.name` (else the host name) as one NATS subject token. The
   * `agent` label of alerts made from its own events, and the nats plugin's default `agent_id`.
   */
  get agentId(): string {
    return fleetAgentId(this.agentName);
  }

  /**
   * THE way a plugin resolves a path from its config: relative to the folder of the agent's config
   * file (so a config works from any working directory), or to the working directory when there
   * is no config file (plugin harness). Absolute paths are returned as they are.
   */
  resolvePath(p: string): string {
    const file = this.configFile;
    return path.resolve(file ? path.dirname(file) : process.cwd(), p);
  }

  /**
   * Re-reads the config file and applies what changed: plugins whose entry changed are restarted
   * with it (events queued for them are kept), added ones started, removed ones stopped, the rest
   * keep running. An invalid file changes nothing and is reported as `system.error`. Reloads are
   * serialised; never rejects.
   */
  abstract reload(reason: string): Promise<ReloadResult>;
}

/** A ReloadResult with nothing done. */
export function emptyReloadResult(status: ReloadStatus, reason: string, message: string): ReloadResult {
  return { status, reason, restarted: [], started: [], stopped: [], unchanged: [], failed: [], restart_required: [], problems: [], message };
}
