import { parseArgs } from 'node:util';
import { agentAdminUrl, agentBearerToken, errorMessage, type CommandIo, type PluginCommand } from 'praxis-agent';

/** Exit codes of `fleet status`: every nats plugin connected / one is not (or none runs) / usage error or agent unreachable. */
export const FLEET_EXIT = { OK: 0, NOT_CONNECTED: 1, USAGE: 2 } as const;

const USAGE = '[--config FILE] [--url URL] [--token-file FILE] [--json]';
const DEFAULT_CONFIG = 'agent.config.yaml';

/** One nats plugin of the running agent, as /stats shows it. */
interface FleetPlugin {
  name: string;
  state: string;
  stats: Record<string, unknown>;
}

/** Keys printed in the header lines; every other stats key follows as `key: value`. */
const HEADER_KEYS = new Set(['role', 'agent_id', 'stream', 'connected', 'server', 'down_since', 'last_error']);

function describePlugin(p: FleetPlugin): string[] {
  const s = p.stats;
  const lines = [`${p.name}: nats ${String(s.role ?? '?')} ${String(s.agent_id ?? '?')} → stream ${String(s.stream ?? '?')} (${p.state})`];
  if (s.connected === true) lines.push(`  connected:          yes, ${String(s.server)}`);
  else lines.push(`  connected:          NO${s.down_since ? ` since ${String(s.down_since)}` : ''}${s.last_error ? ` (${String(s.last_error)})` : ''}`);
  for (const [key, value] of Object.entries(s)) {
    if (HEADER_KEYS.has(key)) continue;
    lines.push(`  ${`${key}:`.padEnd(20)}${typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
  }
  return lines;
}

async function statusRun(args: string[], io: CommandIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args, strict: true, allowPositionals: false, options: { config: { type: 'string', short: 'c' }, url: { type: 'string' }, 'token-file': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (error) {
    io.err(`praxis-agent fleet status: ${errorMessage(error)}`);
    io.err(`usage: praxis-agent fleet status ${USAGE}`);
    return FLEET_EXIT.USAGE;
  }
  if (values.help) {
    io.out(`usage: praxis-agent fleet status ${USAGE}`);
    io.out('Prints the state of the running agent\'s nats plugins (fleet mode): connection, stream check, last');
    io.out('acknowledged offset, events pending to forward (sidecar), consumer lag (aggregator). Reads GET /stats of');
    io.out(`the agent at --url, else $PRAXIS_URL, else the http section of --config (default $PRAXIS_CONFIG or ${DEFAULT_CONFIG}).`);
    io.out('Exit 0: every nats plugin connected; 1: one is not, or the agent runs none; 2: usage error or agent unreachable.');
    return FLEET_EXIT.OK;
  }
  const connection = { config: values.config ?? process.env.PRAXIS_CONFIG ?? DEFAULT_CONFIG, ...(values.url ? { url: values.url } : {}), ...(values['token-file'] ? { tokenFile: values['token-file'] } : {}) };
  let body: { plugins?: { name: string; use: string; state: string }[]; components?: Record<string, Record<string, unknown>> };
  const url = `${agentAdminUrl(connection).replace(/\/+$/, '')}/stats`;
  try {
    const token = agentBearerToken(connection);
    const response = await fetch(url, { headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
    body = (await response.json()) as typeof body;
  } catch (error) {
    io.err(`praxis-agent fleet status: cannot read ${url}: ${errorMessage(error)}`);
    return FLEET_EXIT.USAGE;
  }
  const plugins: FleetPlugin[] = (body.plugins ?? []).filter((p) => p.use === 'nats').map((p) => ({ name: p.name, state: p.state, stats: body.components?.[p.name] ?? {} }));
  if (values.json) io.out(JSON.stringify(plugins, null, 2));
  else if (plugins.length === 0) io.out('the agent runs no nats plugin (fleet mode is off)');
  else for (const p of plugins) for (const line of describePlugin(p)) io.out(line);
  return plugins.length > 0 && plugins.every((p) => p.stats.connected === true) ? FLEET_EXIT.OK : FLEET_EXIT.NOT_CONNECTED;
}

/** `praxis-agent fleet status`. */
export const FLEET_COMMANDS: readonly PluginCommand[] = [
  { name: 'fleet status', description: "print the running agent's fleet (NATS) state: connection, pending events, last acked offset, consumer lag", usage: USAGE, run: statusRun },
];
