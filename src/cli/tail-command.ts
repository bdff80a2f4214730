import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { EXIT } from '../agent/agent';
import { AgentClient } from '../client/agent-client';
import { ConfigError, loadConfig } from '../config/loader';
import { SystemClock } from '../core/clock';
import { errorMessage } from '../core/errors';
import { adminUrlFor, agentAdminUrl, agentBearerToken, type AgentConnectionOptions } from '../client/agent-connection';
import { tailPolling, tailWebSocket, TailFatalError, type TailOptions } from './event-tail';
import { gapLine, humanLine, jsonLine, useColour } from './tail-format';

/** `praxis-agent tail`'s options (besides --url, --token-file and --config). */
export interface TailCommandOptions extends AgentConnectionOptions {
  types?: string;
  since?: string;
  json?: boolean;
  wsUrl?: string;
}

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** Where the events come from: the broadcaster's stream, or the admin API's GET /events. */
type Source = { kind: 'websocket'; url: string; token?: string } | { kind: 'polling'; url: string; token?: string; why: string };

/**
 * The broadcaster's URL: --ws-url, then $PRAXIS_WS_URL, then the websocket-broadcaster plugin the
 * config file declares (read as the agent reads it). Without one, or when its port is 0 (chosen
 * at start, so unknown here), GET /events of the admin API. The token: --token-file, then
 * $PRAXIS_TOKEN, then the one the config gives the broadcaster (or the admin API when polling).
 */
function sourceOf(options: TailCommandOptions): Source {
  const explicitToken = agentBearerToken(options);
  const wsUrl = options.wsUrl ?? process.env.PRAXIS_WS_URL;
  if (wsUrl) return { kind: 'websocket', url: wsUrl, ...(explicitToken ? { token: explicitToken } : {}) };
  if (!existsSync(options.config)) {
    return { kind: 'polling', url: agentAdminUrl(options), ...(explicitToken ? { token: explicitToken } : {}), why: `${options.config} not found` };
  }
  const loaded = loadConfig(options.config);
  const broadcaster = loaded.plugins.find((p) => p.resolved.definition.name === 'websocket-broadcaster');
  const settings = broadcaster?.config as { host: string; port: number; path: string; tls?: unknown; auth_token?: string } | undefined;
  if (broadcaster && settings && settings.port !== 0) {
    const url = `${adminUrlFor(settings.host, settings.port).replace(/^http/, settings.tls ? 'wss' : 'ws')}${settings.path}`;
    const token = explicitToken ?? settings.auth_token;
    return { kind: 'websocket', url, ...(token ? { token } : {}) };
  }
  const token = explicitToken ?? loaded.config.http.auth_token;
  const why = broadcaster ? `plugin "${broadcaster.entry.name}" picks its port at start (port: 0); --ws-url names it` : `${options.config} declares no websocket-broadcaster plugin`;
  return { kind: 'polling', url: agentAdminUrl(options), ...(token ? { token } : {}), why };
}

/** Parses the options; a usage error as a message. */
function parseOptions(options: TailCommandOptions): { types: string[]; since?: number } | string {
  const types = (options.types ?? '*')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (types.length === 0) return '--types names no event type (e.g. --types system.*,config.changed)';
  if (options.since === undefined) return { types };
  if (!/^\d{1,15}$/.test(options.since)) return `--since must be a stream offset (a whole number >= 0), got "${options.since}"`;
  return { types, since: Number(options.since) };
}

/**
 * `praxis-agent tail`: prints the agent's events as they happen until Ctrl-C or SIGTERM (exit 0).
 * Exit 1 when the agent refuses the token or cannot be reached at first, 2 for bad options or config.
 */
export async function tailCommand(options: TailCommandOptions, io: Io): Promise<number> {
  const parsed = parseOptions(options);
  if (typeof parsed === 'string') {
    io.err(`praxis-agent tail: ${parsed}`);
    return EXIT.CONFIG;
  }
  let source: Source;
  try {
    source = sourceOf(options);
  } catch (error) {
    if (error instanceof ConfigError) {
      io.err(error.format());
      io.err(`praxis-agent tail: cannot read the broadcaster's address from ${options.config}; --ws-url names it`);
    } else {
      io.err(`praxis-agent tail: ${errorMessage(error)}`);
    }
    return EXIT.CONFIG;
  }
  const json = options.json === true;
  const colour = !json && useColour(process.stdout);
  const controller = new AbortController();
  const tailOptions: TailOptions = {
    ...parsed,
    clock: new SystemClock(),
    signal: controller.signal,
    output: {
      event: (entry) => io.out(json ? jsonLine(entry) : humanLine(entry, colour)),
      gap: (after, reason) => io.out(gapLine(after, reason, json)),
      notice: (text) => io.err(`praxis-agent tail: ${text}`),
      // stdout to a pipe is written asynchronously: what the reader has not taken stays in memory.
      room: () => (process.stdout.writableNeedDrain ? once(process.stdout, 'drain').then(() => undefined) : undefined),
    },
  };
  const stop = (): void => controller.abort();
  // A reader that went away (`tail | head`) ends the stream as Ctrl-C does.
  const onStdoutError = (error: NodeJS.ErrnoException): void => {
    if (error.code === 'EPIPE') stop();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stdout.on('error', onStdoutError);
  // The clock's timers do not keep the process alive; between reconnection attempts nothing else would.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  try {
    if (source.kind === 'websocket') {
      await tailWebSocket(source.url, source.token, tailOptions);
    } else {
      io.err(`praxis-agent tail: ${source.why}: polling GET ${source.url}/events`);
      const client = new AgentClient({ url: source.url, ...(source.token ? { token: source.token } : {}) });
      await tailPolling(client, source.url, tailOptions);
    }
    return EXIT.OK;
  } catch (error) {
    io.err(`praxis-agent tail: ${errorMessage(error)}`);
    return error instanceof TailFatalError && error.kind === 'usage' ? EXIT.CONFIG : EXIT.FAILURE;
  } finally {
    clearInterval(keepAlive);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.stdout.off('error', onStdoutError);
  }
}
