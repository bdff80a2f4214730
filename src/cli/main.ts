import 'reflect-metadata';
import { Command, CommanderError, Option } from 'commander';
import { Agent, EXIT } from '../agent/agent';
import { decideRouting, parseLabelArguments } from '../alerting/dry-run';
import { MatcherError } from '../alerting/matchers';
import { Route } from '../alerting/route';
import { AGENT_VERSION } from '../agent/version';
import { AgentClient, AgentClientError } from '../client/agent-client';
import { adminUrl, bearerToken, type ConnectionOptions } from './agent-connection';
import { alertAckCommand, alertDeliveriesCommand, alertListCommand, alertRetryCommand, alertTestCommand, silenceAddCommand, silenceExpireCommand, silenceQueryCommand } from './alert-commands';
import type { TailCommandOptions } from './tail-command';
import { configJsonSchema } from '../config/json-schema';
import { ConfigError, describePlugins, loadConfig } from '../config/loader';
import { SecretValues } from '../config/secret-values';
import { AgentError, errorMessage } from '../core/errors';
import type { EventMetadataInput } from '../events/metadata';
import { EventRegistry } from '../events/registry';
import type { EventInputMap, EventType } from '../events/types';
import type { PluginCommand } from '../plugin/definition';
import { builtinPluginNames, BUILTIN_PLUGINS_DIR, resolvePlugin } from '../plugin/resolve';

const DEFAULT_CONFIG = 'agent.config.yaml';
/**
 * A terminal's Ctrl-C signals the whole foreground process group, and `npm start` forwards the
 * SIGINT it got to the agent as well: the same signal again within this window is that echo, not
 * a second request to exit at once.
 */
const SIGNAL_ECHO_MS = 1000;

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

const stdio: Io = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

function configOption(): Option {
  return new Option('-c, --config <file>', 'config file').env('PRAXIS_CONFIG').default(DEFAULT_CONFIG);
}

/** Prints a failure without a stack trace: coded errors as `CODE: message`, config errors one problem per line. */
function report(io: Io, error: unknown): number {
  if (error instanceof ConfigError) {
    io.err(error.format());
    return EXIT.CONFIG;
  }
  if (error instanceof AgentError) {
    io.err(`praxis-agent: ${error.code}: ${error.message}`);
    return EXIT.FAILURE;
  }
  io.err(`praxis-agent: ${errorMessage(error)}`);
  return EXIT.FAILURE;
}

async function startCommand(file: string, io: Io): Promise<number> {
  let agent: Agent;
  let secrets: SecretValues;
  try {
    const loaded = loadConfig(file);
    secrets = loaded.secrets ?? SecretValues.none;
    agent = new Agent(loaded);
  } catch (error) {
    return report(io, error);
  }
  let first: { signal: NodeJS.Signals; at: number } | undefined;
  let started = false;
  let pendingSignal: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (first) {
      if (signal === first.signal && Date.now() - first.at < SIGNAL_ECHO_MS) return;
      agent.logger.warn({ signal }, 'second signal: exiting without waiting for plugins');
      process.exit(EXIT.FAILURE);
    }
    first = { signal, at: Date.now() };
    if (started) {
      void agent.stop('signal', signal);
      return;
    }
    // Stopping while plugins are still starting would leave the ones that start later running.
    pendingSignal = signal;
    agent.logger.info({ signal }, 'signal during start-up: stopping as soon as start-up has finished');
  };
  // SIGHUP reloads the config (Agent.reload logs what it restarted, or every problem when invalid).
  const onHangup = (): void => void agent.reload('SIGHUP');
  // A plugin's background promise that rejects unhandled must not take the agent down (Node's default).
  const onRejection = (reason: unknown): void => {
    const message = `unhandled promise rejection (the agent keeps running): ${errorMessage(reason)}`;
    const stack = reason instanceof Error && reason.stack ? { stack_trace: reason.stack } : {};
    // Logged by the agent's agent.error subscription; directly when the bus no longer takes events.
    agent.bus
      .publish('agent.error', { severity: 'error', message, error_code: 'UNHANDLED_REJECTION', component: 'agent', ...stack }, { source: agent.name })
      .catch(() => agent.logger.error({ err: reason, code: 'UNHANDLED_REJECTION' }, message));
  };
  // A throw outside any handler (a plugin's timer callback) leaves state nobody can vouch for:
  // stop every plugin gracefully, then exit 1, rather than dying without a word or running on.
  let crashed = false;
  const onException = (error: unknown): void => {
    if (crashed) process.exit(EXIT.FAILURE);
    crashed = true;
    const message = `uncaught exception: ${errorMessage(error)}; stopping the agent`;
    agent.logger.fatal({ err: error, code: 'UNCAUGHT_EXCEPTION' }, message);
    io.err(`praxis-agent: UNCAUGHT_EXCEPTION: ${message}`);
    const stack = error instanceof Error && error.stack ? { stack_trace: error.stack } : {};
    agent.bus
      .publish('agent.error', { severity: 'critical', message, error_code: 'UNCAUGHT_EXCEPTION', component: 'agent', ...stack }, { source: agent.name })
      .catch(() => undefined);
    // During start-up, the stop waits until start-up has finished (as for a signal).
    if (started) void agent.stop('uncaught exception');
  };
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', onHangup);
  try {
    await agent.start();
  } catch (error) {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGHUP', onHangup);
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
    // Whatever failed (the store's folder, the listen address) may name a value read from a secret.
    return report(io, secrets.maskError(error));
  }
  started = true;
  hintWhenStartedByNpm(agent);
  if (pendingSignal) void agent.stop('signal', pendingSignal);
  else if (crashed) void agent.stop('uncaught exception');
  // Without the admin server nothing else keeps the event loop alive until a signal arrives.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const code = await agent.stopped;
  process.off('SIGHUP', onHangup);
  process.off('unhandledRejection', onRejection);
  process.off('uncaughtException', onException);
  clearInterval(keepAlive);
  const { timedOut = [], failed = [] } = agent.shutdownReport ?? {};
  const timeout = agent.loaded.config.agent.shutdown_timeout;
  if (timedOut.length > 0) io.err(`praxis-agent: PLUGIN_STOP_TIMEOUT: plugin${timedOut.length === 1 ? '' : 's'} ${timedOut.map((n) => `"${n}"`).join(', ')} did not stop within shutdown_timeout (${timeout} ms); exit code ${code}`);
  if (failed.length > 0) io.err(`praxis-agent: PLUGIN_STOP_FAILED: plugin${failed.length === 1 ? '' : 's'} ${failed.map((n) => `"${n}"`).join(', ')} failed to stop (see the log); exit code ${code}`);
  return crashed && code === EXIT.OK ? EXIT.FAILURE : code;
}

/**
 * npm does not pass SIGHUP on (it exits and leaves the agent running, unreloaded), and under npx a
 * shell sits between npm and the agent, so npx's SIGTERM does not reach it either (`npm start`
 * execs the agent: SIGINT and SIGTERM do). Say which process to signal.
 */
function hintWhenStartedByNpm(agent: Agent): void {
  const launcher = process.env.npm_lifecycle_event;
  if (launcher !== 'start' && launcher !== 'npx') return;
  const pid = process.pid;
  const reloadUrl = agent.adminUrl ? ` or POST ${agent.adminUrl}/-/reload` : '';
  const stop = launcher === 'npx' ? `; stop it with Ctrl-C or kill ${pid} (npx does not pass SIGTERM on either)` : '';
  // Every log line carries `pid` already.
  agent.logger.info({ launcher: launcher === 'npx' ? 'npx' : 'npm start' }, `started through ${launcher === 'npx' ? 'npx' : 'npm start'}: reload with kill -HUP ${pid} (the agent: npm does not pass SIGHUP on)${reloadUrl}${stop}`);
}

function validateCommand(file: string, io: Io): number {
  try {
    const loaded = loadConfig(file);
    io.out(`${file}: valid (${loaded.plugins.length} plugin${loaded.plugins.length === 1 ? '' : 's'} enabled: ${loaded.plugins.map((p) => p.entry.name).join(', ') || 'none'})`);
    return EXIT.OK;
  } catch (error) {
    report(io, error);
    return EXIT.CONFIG;
  }
}

function pluginsCommand(file: string, json: boolean, io: Io): number {
  let rows: ReturnType<typeof describePlugins>;
  try {
    rows = describePlugins(file);
  } catch (error) {
    return report(io, error);
  }
  if (json) {
    io.out(JSON.stringify(rows, null, 2));
  } else {
    const table = [
      ['NAME', 'USE', 'ORIGIN', 'VERSION', 'ENABLED', 'LOADS'],
      ...rows.map((r) => [
        r.name,
        r.use,
        r.origin ?? '-',
        r.version ?? '-',
        r.enabled ? 'yes' : 'no',
        r.loads ? 'yes' : `no: ${r.problem ?? 'unknown problem'}`,
      ]),
    ];
    const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
    for (const row of table) io.out(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  '));
    if (rows.length === 0) io.out(`(no plugins declared in ${file})`);
  }
  return rows.every((r) => !r.enabled || r.loads) ? EXIT.OK : EXIT.CONFIG;
}

/**
 * The catalogue as the shipped agent knows it: core types plus every built-in plugin's own types,
 * plus (with a config file) the types of every plugin that file declares, third-party ones too.
 */
function fullRegistry(configFile?: string): EventRegistry {
  const registry = new EventRegistry();
  const definitions = builtinPluginNames().map((name) => resolvePlugin(name, BUILTIN_PLUGINS_DIR).definition);
  if (configFile) definitions.push(...loadConfig(configFile).plugins.map((p) => p.resolved.definition));
  for (const definition of definitions) {
    for (const [type, schema] of Object.entries(definition.events ?? {})) registry.register(type, schema, `plugin ${definition.name}`);
  }
  return registry;
}

function schemaCommand(options: { config?: boolean; type?: string; fromConfig?: string }, io: Io): number {
  try {
    if (options.config) {
      io.out(JSON.stringify(configJsonSchema(), null, 2));
      return EXIT.OK;
    }
    const registry = fullRegistry(options.fromConfig);
    if (options.type !== undefined && !registry.has(options.type)) {
      const more = options.fromConfig ? '' : ' (a third-party plugin\'s types: add --from-config FILE)';
      io.err(`praxis-agent: EVENT_UNKNOWN_TYPE: unknown event type "${options.type}"; known types: ${registry.types().join(', ')}${more}`);
      return EXIT.FAILURE;
    }
    io.out(JSON.stringify(options.type ? registry.jsonSchemaOf(options.type) : registry.jsonSchemas(), null, 2));
    return EXIT.OK;
  } catch (error) {
    return report(io, error);
  }
}

interface EmitOptions extends ConnectionOptions {
  data: string;
  source?: string;
  tag: string[];
  correlationId?: string;
}

async function emitCommand(type: string, options: EmitOptions, io: Io): Promise<number> {
  let data: unknown;
  try {
    data = JSON.parse(options.data);
  } catch (error) {
    io.err(`praxis-agent emit: --data is not valid JSON: ${errorMessage(error)}`);
    return EXIT.CONFIG;
  }
  let token: string | undefined;
  try {
    token = bearerToken(options);
  } catch (error) {
    io.err(`praxis-agent emit: ${errorMessage(error)}`);
    return EXIT.CONFIG;
  }
  const client = new AgentClient({ url: adminUrl(options), ...(token ? { token } : {}) });
  const metadata: EventMetadataInput = { tags: options.tag };
  if (options.source) metadata.source = options.source;
  if (options.correlationId) metadata.correlation_id = options.correlationId;
  try {
    const { event_id } = await client.emit(type as EventType, data as EventInputMap[EventType], metadata);
    io.out(event_id);
    return EXIT.OK;
  } catch (error) {
    if (error instanceof AgentClientError) {
      io.err(`praxis-agent emit: ${error.code ? `${error.code}: ` : ''}${error.message}`);
      for (const issue of error.errors ?? []) io.err(`  ${issue.path}: ${issue.message}`);
      return EXIT.FAILURE;
    }
    return report(io, error);
  }
}

/** `alert route`: the receivers (and with --json the routes' settings) an alert with these labels gets. */
function alertRouteCommand(labelArgs: readonly string[], options: { config: string; json?: boolean }, io: Io): number {
  let labels: Record<string, string>;
  try {
    labels = parseLabelArguments(labelArgs);
  } catch (error) {
    if (!(error instanceof MatcherError)) throw error;
    io.err(`praxis-agent: ${error.message}`);
    return EXIT.CONFIG;
  }
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig(options.config);
  } catch (error) {
    report(io, error);
    // amtool takes the alertmanager.yml itself; this command takes the agent config that names it.
    if (error instanceof ConfigError && error.problems.some((p) => p.code === 'CONFIG_UNKNOWN_KEY' && p.path === 'route')) {
      io.err(`praxis-agent: ${options.config} looks like an alertmanager.yml: --config takes the agent config, whose alerting.config_file names that file`);
    }
    return EXIT.CONFIG;
  }
  if (!loaded.alerting?.route) {
    io.err(`praxis-agent: ${options.config} has no alerting section: add alerting.config_file (an alertmanager.yml) or alerting.route inline`);
    return EXIT.CONFIG;
  }
  const decision = decideRouting(new Route(loaded.alerting.route), labels);
  io.out(options.json === true ? JSON.stringify(decision, null, 2) : decision.receivers.join(','));
  return EXIT.OK;
}

function buildProgram(io: Io, setCode: (code: number) => void, argv: readonly string[]): Command {
  const program = new Command('praxis-agent')
    .description('Observability sidecar agent: a typed event bus with YAML-declared plugins.')
    .version(AGENT_VERSION)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  program
    .command('start', { isDefault: true })
    .description('start the agent and run until SIGTERM/SIGINT')
    .addOption(configOption())
    .action(async (opts: { config: string }) => setCode(await startCommand(opts.config, io)));

  program
    .command('validate')
    .description('check a config file without starting anything (exit 0 valid, 2 invalid)')
    .addOption(configOption())
    .action((opts: { config: string }) => setCode(validateCommand(opts.config, io)));

  program
    .command('plugins')
    .description('list the plugins the config declares, where each comes from, and whether it loads')
    .addOption(configOption())
    .option('--json', 'print JSON')
    .action((opts: { config: string; json?: boolean }) => setCode(pluginsCommand(opts.config, opts.json === true, io)));

  program
    .command('schema')
    .description('print the JSON Schema of every event type (or, with --config, of the config file)')
    .option('--config', 'print the JSON Schema of agent.config.yaml instead')
    .option('-t, --type <type>', 'only this event type')
    .option('--from-config <file>', "also the event types of the plugins this config file declares (third-party plugins' own types)")
    .action((opts: { config?: boolean; type?: string; fromConfig?: string }) => setCode(schemaCommand(opts, io)));

  program
    .command('emit')
    .description('publish one event to a running agent through its ingest API (POST /events)')
    .argument('<type>', 'event type, e.g. system.error')
    .requiredOption('-d, --data <json>', 'event data as JSON')
    .option('-s, --source <source>', 'metadata.source (default: ingest)')
    .option('-t, --tag <tag>', 'metadata tag (repeatable)', (tag: string, all: string[]) => [...all, tag], [] as string[])
    .option('--correlation-id <id>', 'metadata.correlation_id')
    .option('--url <url>', 'admin URL of the agent (default: $PRAXIS_URL, else from the config file)')
    .option('--token-file <file>', 'file holding the bearer token (default: $PRAXIS_TOKEN)')
    .addOption(configOption())
    .action(async (type: string, opts: EmitOptions) => setCode(await emitCommand(type, opts, io)));

  withConnection(program.command('tail'))
    .description('print the events of a running agent as they happen, until Ctrl-C: over the websocket-broadcaster\'s stream (resuming after a reconnect), else by polling GET /events')
    .option('--types <types>', 'only these event types, comma-separated: exact, prefix.* or * (default *)')
    .option('--since <offset>', 'first replay the stored events after this stream offset')
    .option('--json', 'print each event as one JSON line: {"offset": N, "event": {...}}')
    .option('--ws-url <url>', "the broadcaster's URL, e.g. ws://127.0.0.1:9781/ws/events (default: $PRAXIS_WS_URL, else from the config file)")
    // Loaded when used: the WebSocket client costs the other commands' start-up otherwise.
    .action(async (opts: TailCommandOptions) => setCode(await (await import('./tail-command')).tailCommand(opts, io)));

  const alert = program.command('alert').description('alerting: routing dry run; alerts, acknowledgements and silences of a running agent');
  alert
    .command('route')
    .description("print the receivers an alert with these labels is routed to, in tree order (like amtool config routes test); exit 0, 2 for bad labels or config")
    .argument('[labels...]', 'the alert\'s labels, one name=value per argument (value optionally "quoted")')
    .addOption(configOption())
    .option('--json', 'print {"receivers": [...], "routes": [...]} with each matched route\'s settings')
    .action((labels: string[], opts: { config: string; json?: boolean }) => setCode(alertRouteCommand(labels, opts, io)));
  addAlertClientCommands(alert, io, setCode);

  // Loading every built-in plugin to learn its commands costs start-up time and memory that
  // `start` (the default, also when argv[2] is an option) and the other core commands do not need.
  const first = argv[2];
  const core = new Set(program.commands.map((c) => c.name()));
  const wantsHelp = first === undefined ? false : ['-h', '--help', 'help'].includes(first);
  if (wantsHelp || (first !== undefined && !first.startsWith('-') && !core.has(first))) addPluginCommands(program, io, setCode);
  return program;
}

/** The options every command that talks to a running agent takes. */
function withConnection(command: Command): Command {
  return command
    .option('--url <url>', 'admin URL of the agent (default: $PRAXIS_URL, else from the config file)')
    .option('--token-file <file>', 'file holding the bearer token (default: $PRAXIS_TOKEN)')
    .addOption(configOption());
}

/** `alert list|ack` and `alert silence add|query|expire`: against a running agent (see alert-commands.ts). */
function addAlertClientCommands(alert: Command, io: Io, setCode: (code: number) => void): void {
  withConnection(alert.command('list'))
    .description('list the alerts of a running agent (pending, firing, resolved) with their receivers, silences, inhibitions and acknowledgements')
    .option('--state <state>', 'only alerts in this state: pending, firing or resolved (comma-separated for several)')
    .option('--json', 'print JSON')
    .action(async (opts: ConnectionOptions & { state?: string; json?: boolean }) => setCode(await alertListCommand(opts, io)));
  withConnection(alert.command('ack'))
    .description('acknowledge a firing alert: its reminders stop until it changes state or the acknowledgement expires')
    .argument('<fingerprint>', 'the alert\'s fingerprint (alert list shows it)')
    .option('--comment <text>', 'why')
    .option('--expires <duration>', 'how long the acknowledgement holds, e.g. 2h (default: until the alert changes state)')
    .option('--author <name>', 'who acknowledges (default: the current user)')
    .action(async (fingerprint: string, opts: ConnectionOptions & { comment?: string; expires?: string; author?: string }) => setCode(await alertAckCommand(fingerprint, opts, io)));
  withConnection(alert.command('deliveries'))
    .description('deliveries in the outbox: pending and dead-lettered ones (or those of --state), with attempts and the last failure')
    .option('--state <state>', 'pending, dead or delivered (comma-separated for several)')
    .option('--json', 'print JSON')
    .action(async (opts: ConnectionOptions & { state?: string; json?: boolean }) => setCode(await alertDeliveriesCommand(opts, io)));
  withConnection(alert.command('retry'))
    .description('send dead-lettered deliveries again (alert deliveries --state dead lists them)')
    .argument('<ids...>', 'delivery ids')
    .action(async (ids: string[], opts: ConnectionOptions) => setCode(await alertRetryCommand(ids, opts, io)));
  withConnection(alert.command('test'))
    .description('send a clearly marked test notification to a receiver through the real pipeline (outbox, rate limit, sinks) and print each sink\'s answer; exit 1 unless all delivered')
    .requiredOption('--receiver <name>', 'the receiver to test')
    .option('--wait <duration>', 'how long to wait for the sinks (default 30s)')
    .action(async (opts: ConnectionOptions & { receiver: string; wait?: string }) => setCode(await alertTestCommand(opts, io)));
  const silence = alert.command('silence').description("silences of a running agent, through Alertmanager's API v2 (as amtool silence)");
  withConnection(silence.command('add'))
    .description('silence the alerts matching every matcher, from now for --duration; prints the silence id')
    .argument('<matchers...>', 'name=value, name!=value, name=~regex or name!~regex, one per argument (a first argument without an operator is the alertname)')
    .option('-d, --duration <duration>', 'how long, e.g. 2h', '1h')
    .option('--comment <text>', 'why (required)')
    .option('-a, --author <name>', 'who (default: the current user)')
    .action(async (matchers: string[], opts: ConnectionOptions & { duration: string; comment?: string; author?: string }) => setCode(await silenceAddCommand(matchers, opts, io)));
  withConnection(silence.command('query'))
    .description('list the silences that are not expired (or, with --expired, the expired ones) having all these matchers')
    .argument('[matchers...]', 'matchers the silences must have, exactly as written (as amtool silence query)')
    .option('--expired', 'show expired silences instead')
    .option('-q, --quiet', 'print only the ids')
    .option('--json', 'print JSON (Alertmanager\'s gettable silences)')
    .action(async (matchers: string[], opts: ConnectionOptions & { json?: boolean; expired?: boolean; quiet?: boolean }) => setCode(await silenceQueryCommand(matchers, opts, io)));
  withConnection(silence.command('expire'))
    .description('expire silences now')
    .argument('<ids...>', 'silence ids')
    .action(async (ids: string[], opts: ConnectionOptions) => setCode(await silenceExpireCommand(ids, opts, io)));
}

/** Built-in plugins' commands: `name: 'audit verify'` → `praxis-agent audit verify ARGS...`. */
function addPluginCommands(program: Command, io: Io, setCode: (code: number) => void): void {
  const groups = new Map<string, PluginCommand[]>();
  for (const name of builtinPluginNames()) {
    for (const command of resolvePlugin(name, BUILTIN_PLUGINS_DIR).definition.commands ?? []) {
      const [group] = command.name.split(' ');
      groups.set(group, [...(groups.get(group) ?? []), command]);
    }
  }
  for (const [group, commands] of groups) {
    const parent = program.command(group).description(`${group} commands (${commands.map((c) => c.name.split(' ').slice(1).join(' ')).join(', ')})`);
    for (const command of commands) {
      const sub = command.name.split(' ').slice(1).join(' ');
      parent
        .command(sub)
        .description(command.description)
        .usage(command.usage ?? '[args...]')
        .helpOption(false)
        .allowUnknownOption()
        .allowExcessArguments()
        .argument('[args...]')
        .action(async (args: string[]) => setCode(await command.run(args, io)));
    }
  }
}

/** Runs the CLI; resolves the process exit code. */
export async function main(argv: readonly string[] = process.argv, io: Io = stdio): Promise<number> {
  let code: number = EXIT.OK;
  const program = buildProgram(
    io,
    (c) => {
      code = c;
    },
    argv,
  );
  // `start` is the default command, so commander would read a mistyped command as an argument to
  // it ("too many arguments for 'start'"): name the unknown command instead.
  const first = argv[2];
  if (first !== undefined && !first.startsWith('-')) {
    const known = ['help', ...program.commands.flatMap((c) => [c.name(), ...c.aliases()])];
    if (!known.includes(first)) {
      io.err(`praxis-agent: unknown command "${first}"; commands: ${known.filter((c) => c !== 'help').join(', ')} (praxis-agent --help)`);
      return EXIT.CONFIG;
    }
  }
  try {
    await program.parseAsync(argv as string[]);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.OK : EXIT.CONFIG;
    return report(io, error);
  }
  return code;
}
