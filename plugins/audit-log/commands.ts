import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { errorMessage, eventTypeMatcher, type CommandIo, type PluginCommand } from 'praxis-agent';
// A CLI command reads the agent's config as the agent does: the loader is core, not SDK (built-in plugins only).
import { loadConfig } from '../../src/config/loader';
import type { AuditLogConfig } from './config';
import { expandAuditFiles, readLines, rotatedFiles } from './files';
import { DEFAULT_KEY_ENV, readKey } from './key';
import { parseRecord, type AuditRecord } from './record';
import { verifyAuditFiles, type VerifyBreak } from './verify';

/** Exit codes of the audit commands: BROKEN covers tampering and records lost at a file break. */
export const AUDIT_EXIT = { OK: 0, BROKEN: 1, USAGE: 2 } as const;

const VERIFY_USAGE = '[FILE|DIR...] [--config FILE] [--key-file FILE | --key-env VAR] [--json]';
const TAIL_USAGE = '[FILE|DIR...] [--config FILE] [--type T]... [-n N] [--json]';

/** The agent config the commands read when no file is named (as the core commands do). */
const DEFAULT_CONFIG = 'agent.config.yaml';

/** What the commands need of the audit-log plugin declared in an agent config. */
interface ConfiguredLog {
  /** The log's files, oldest first: the rotated ones, then the active one (those that exist). */
  files: string[];
  hmac?: AuditLogConfig['hmac'];
}

/**
 * The files of the one enabled audit-log plugin in the agent config (`--config`, else
 * $PRAXIS_CONFIG, else agent.config.yaml); its relative `path` and `hmac.key_file` are taken from
 * the config file's folder, as the agent does (AgentControl.resolvePath). A usage message when
 * there is no such config, plugin or file, or several plugins.
 */
async function configuredLog(configFile: string | undefined): Promise<ConfiguredLog | { error: string }> {
  const file = configFile ?? process.env.PRAXIS_CONFIG ?? DEFAULT_CONFIG;
  if (!existsSync(file)) {
    return { error: `name at least one audit file or directory${configFile === undefined ? `, or an agent config with an audit-log plugin (--config; ${file} not found)` : ` (${file} not found)`}` };
  }
  let plugins;
  let baseDir: string;
  try {
    const loaded = loadConfig(file);
    baseDir = loaded.baseDir;
    plugins = loaded.plugins.filter((p) => p.resolved.definition.name === 'audit-log');
  } catch (error) {
    return { error: `cannot read the audit-log plugin's files from ${file}:\n${errorMessage(error)}` };
  }
  if (plugins.length === 0) return { error: `${file} has no enabled audit-log plugin: name the audit files` };
  if (plugins.length > 1) return { error: `${file} has several audit-log plugins (${plugins.map((p) => p.entry.name).join(', ')}): name the audit files` };
  const config = plugins[0].config as AuditLogConfig;
  // The same resolution as AgentControl.resolvePath in the running agent: from the config file's folder.
  const active = path.resolve(baseDir, config.path);
  const files = [...(await rotatedFiles(active)), ...(existsSync(active) ? [active] : [])];
  if (files.length === 0) return { error: `no audit files at ${active} (from ${file}) yet` };
  const hmac = config.hmac?.key_file !== undefined ? { key_file: path.resolve(baseDir, config.hmac.key_file) } : config.hmac;
  return { files, ...(hmac ? { hmac } : {}) };
}

function usageError(io: CommandIo, command: string, usage: string, message: string): number {
  io.err(`praxis-agent ${command}: ${message}`);
  io.err(`usage: praxis-agent ${command} ${usage}`);
  return AUDIT_EXIT.USAGE;
}

type CommandOptions = NonNullable<ParseArgsConfig['options']>;

/** Options both audit commands take. */
const COMMON_OPTIONS = {
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies CommandOptions;
type ParsedCommand<O extends CommandOptions> = ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; strict: true; options: O }>>;

/** Parses a command's arguments (positionals allowed, unknown options refused); on a usage error it reports it and returns the exit code instead. */
function parseCommandArgs<const O extends CommandOptions>(io: CommandIo, command: string, usage: string, args: string[], options: O): ParsedCommand<O> | number {
  try {
    return parseArgs({ args, allowPositionals: true, strict: true, options });
  } catch (error) {
    return usageError(io, command, usage, errorMessage(error));
  }
}

/** `--help`: the usage line, then what the command does. */
function printHelp(io: CommandIo, command: string, usage: string, lines: string[]): number {
  io.out(`usage: praxis-agent ${command} ${usage}`);
  for (const line of lines) io.out(line);
  return AUDIT_EXIT.OK;
}

async function verifyRun(args: string[], io: CommandIo): Promise<number> {
  const name = 'audit verify';
  const parsed = parseCommandArgs(io, name, VERIFY_USAGE, args, {
    'key-file': { type: 'string' },
    'key-env': { type: 'string' },
    ...COMMON_OPTIONS,
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (values.help) {
    return printHelp(io, name, VERIFY_USAGE, [
      'Checks the hash chain of an audit log across its rotated files (a directory stands for the files in it;',
      'files are taken in sequence order). Exit 0 intact (a torn last line is a warning), 1 changed/removed/',
      'reordered, or records lost when the active file vanished or was replaced (LOST), 2 usage error.',
      `The HMAC key comes from --key-file, --key-env or $${DEFAULT_KEY_ENV}.`,
      `Without FILE: the files (and the HMAC key source) of the audit-log plugin in the agent config`,
      `(--config, else $PRAXIS_CONFIG, else ${DEFAULT_CONFIG}); a relative path is taken from the config file's folder.`,
    ]);
  }
  if (values['key-file'] !== undefined && values['key-env'] !== undefined) return usageError(io, name, VERIFY_USAGE, 'give --key-file or --key-env, not both');
  let targets = positionals;
  let configuredKey: AuditLogConfig['hmac'];
  if (positionals.length === 0) {
    const configured = await configuredLog(values.config);
    if ('error' in configured) return usageError(io, name, VERIFY_USAGE, configured.error);
    targets = configured.files;
    configuredKey = configured.hmac;
  }
  let key: Buffer | undefined;
  try {
    if (values['key-file'] !== undefined) key = readKey({ key_file: values['key-file'] });
    else if (values['key-env'] !== undefined) key = readKey({ key_env: values['key-env'] });
    else if (configuredKey !== undefined) key = readKey(configuredKey);
    else if (process.env[DEFAULT_KEY_ENV] !== undefined) key = readKey({ key_env: DEFAULT_KEY_ENV });
  } catch (error) {
    return usageError(io, name, VERIFY_USAGE, errorMessage(error));
  }
  const expanded = await expandAuditFiles(targets);
  if ('error' in expanded) return usageError(io, name, VERIFY_USAGE, expanded.error);
  if (expanded.files.length === 0) return usageError(io, name, VERIFY_USAGE, 'no audit files found');
  const result = await verifyAuditFiles(expanded.files, key);
  if (values.json) {
    io.out(JSON.stringify({ ...result, file_list: expanded.files }, null, 2));
  } else {
    for (const warning of result.warnings) io.err(`warning: ${warning}`);
  }
  if (result.needsKey) {
    if (!values.json) io.err(`praxis-agent ${name}: ${result.needsKey}`);
    return AUDIT_EXIT.USAGE;
  }
  const lost = result.breaks.filter((b) => b.lost !== undefined);
  if (!values.json) for (const b of lost) io.err(describeLoss(b));
  if (result.problem) {
    const p = result.problem;
    if (!values.json) io.err(`TAMPERED ${p.file}:${p.line}${p.seq !== undefined ? ` (seq ${p.seq})` : ''}: ${p.message}`);
    return AUDIT_EXIT.BROKEN;
  }
  if (lost.length > 0) return AUDIT_EXIT.BROKEN;
  if (!values.json) {
    const range = result.records > 0 ? `, seq ${result.firstSeq}-${result.lastSeq}, last hash ${result.lastHash?.slice(0, 16)}...` : '';
    io.out(`OK ${result.records} record(s) in ${result.files} file(s)${range}${result.hmacChecked ? ', HMAC verified' : ''}`);
  }
  return AUDIT_EXIT.OK;
}

async function tailRun(args: string[], io: CommandIo): Promise<number> {
  const name = 'audit tail';
  const parsed = parseCommandArgs(io, name, TAIL_USAGE, args, {
    type: { type: 'string', short: 't', multiple: true },
    lines: { type: 'string', short: 'n' },
    ...COMMON_OPTIONS,
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (values.help) {
    return printHelp(io, name, TAIL_USAGE, [
      'Prints the newest audit records (default 20), one readable line each; --type takes exact types,',
      '"prefix.*" or "*" and may be repeated. Does not verify the chain: use `audit verify` for that.',
      `Without FILE: the files of the audit-log plugin in the agent config (--config, else $PRAXIS_CONFIG,`,
      `else ${DEFAULT_CONFIG}); a relative path is taken from the config file's folder.`,
    ]);
  }
  const count = values.lines === undefined ? 20 : Number(values.lines);
  if (!Number.isSafeInteger(count) || count < 1) return usageError(io, name, TAIL_USAGE, `-n takes a positive whole number, not "${values.lines}"`);
  let targets = positionals;
  if (positionals.length === 0) {
    const configured = await configuredLog(values.config);
    if ('error' in configured) return usageError(io, name, TAIL_USAGE, configured.error);
    targets = configured.files;
  }
  const expanded = await expandAuditFiles(targets);
  if ('error' in expanded) return usageError(io, name, TAIL_USAGE, expanded.error);
  const matches = values.type && values.type.length > 0 ? eventTypeMatcher(values.type) : () => true;
  const newest: { text: string; record: AuditRecord }[] = [];
  for (const file of expanded.files) {
    for await (const { text, terminated } of readLines(file)) {
      if (!terminated) continue;
      const parsedLine = parseRecord(text);
      if (!('record' in parsedLine) || !matches(parsedLine.record.type)) continue;
      newest.push({ text, record: parsedLine.record });
      if (newest.length > count) newest.shift();
    }
  }
  for (const { text, record } of newest) io.out(values.json ? text : formatRecord(record));
  return AUDIT_EXIT.OK;
}

/** `LOST FILE:1 (seq N): ...`: which records a file break cost, and that the chain goes on after it. */
function describeLoss(b: VerifyBreak): string {
  const lost = b.lost as NonNullable<VerifyBreak['lost']>;
  const range = lost.from === undefined ? `records up to seq ${lost.to}` : lost.from === lost.to ? `seq ${lost.to} (1 record)` : `seq ${lost.from}-${lost.to} (${lost.to - lost.from + 1} records)`;
  const found = b.reason === 'vanished' ? 'vanished' : `was ${b.reason}${b.keptAs ? ` (what was found kept as ${path.basename(b.keptAs)})` : ''}`;
  return `LOST ${b.file}:${b.line} (seq ${b.seq}): the active file ${found} while the agent wrote to it (noticed ${b.detectedAt}); ${range} written to it are not in the files given; the chain continues from the last line the writer wrote`;
}

/** One readable line: `TIME #SEQ TYPE [SOURCE] corr=ID key=value ...`. */
export function formatRecord(record: AuditRecord): string {
  const parts = [record.timestamp, `#${record.seq}`, record.type, `[${record.source ?? '-'}]`];
  if (record.correlation_id) parts.push(`corr=${record.correlation_id}`);
  if (record.tags.length > 0) parts.push(`tags=${record.tags.join(',')}`);
  if (record.data !== null && typeof record.data === 'object' && !Array.isArray(record.data)) {
    for (const [k, v] of Object.entries(record.data as Record<string, unknown>)) parts.push(`${k}=${formatValue(v)}`);
  } else if (record.data !== null) {
    parts.push(formatValue(record.data));
  }
  return parts.join(' ');
}

function formatValue(value: unknown): string {
  const text = typeof value === 'string' && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

export const auditCommands: readonly PluginCommand[] = [
  { name: 'audit verify', description: 'check an audit log\'s hash chain across rotated files (exit 0 intact, 1 tampered or records lost, 2 usage)', usage: VERIFY_USAGE, run: verifyRun },
  { name: 'audit tail', description: 'print the newest audit records readably', usage: TAIL_USAGE, run: tailRun },
];
