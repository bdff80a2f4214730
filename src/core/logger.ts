import pino from 'pino';

/** A pino logger; a plugin's (`@inject(LOGGER)`) carries `plugin: <name>` on every line. */
export type Logger = pino.Logger;
export type LogFormat = 'auto' | 'json' | 'pretty';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** Defaults to stdout (fd 1). */
  destination?: NodeJS.WritableStream;
}

/** Keys whose values never reach a log line, wherever they appear in a logged object. */
const REDACT_PATHS = ['*.password', '*.token', '*.auth_token', '*.secret', '*.webhook_url', '*.routing_key', 'headers.authorization'];

/**
 * The agent's root logger: JSON lines by default, readable lines when stdout is a terminal
 * (`format: auto`). Plugins get `logger.child({ plugin: name })` so every line names its plugin.
 */
export function createLogger(options: LoggerOptions): Logger {
  const pretty = options.format === 'pretty' || (options.format === 'auto' && process.stdout.isTTY === true);
  const base = { level: options.level, base: { pid: process.pid }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  if (pretty) {
    // Loaded only when asked for: pino-pretty is not on the JSON hot path.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pinoPretty = require('pino-pretty') as typeof import('pino-pretty');
    return pino(base, pinoPretty.build({ sync: true, destination: options.destination ?? 1, ignore: 'pid,hostname' }));
  }
  return pino(base, options.destination ?? pino.destination({ dest: 1, sync: true }));
}

/** A logger that writes nothing, for tests and harnesses. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
