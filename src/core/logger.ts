import pino from 'pino';
import { redactSecrets, redactText } from './redact';

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

/**
 * Every log line goes through the one redaction function (src/core/redact.ts): secret-looking
 * keys at any depth of the logged object, the child bindings and a serialised `err`, and
 * credentials in URLs anywhere in those values and in the message. (pino's own `redact` takes
 * fixed paths, which cannot say "at any depth"; the list of key names lives in one place.)
 */
const redaction: Pick<pino.LoggerOptions, 'formatters' | 'serializers' | 'hooks'> = {
  formatters: {
    log: (object) => redactSecrets(object),
    bindings: (bindings) => redactSecrets(bindings),
  },
  // The standard serializer's result has its own prototype; a plain copy is what redactSecrets walks.
  serializers: { err: (error: Error) => redactSecrets({ ...pino.stdSerializers.err(error) }) },
  hooks: {
    logMethod(args, method) {
      // The message (and any printf-style arguments): `msg` is not part of the formatted object.
      return method.apply(this, args.map((arg: unknown) => (typeof arg === 'string' ? redactText(arg) : arg)) as Parameters<typeof method>);
    },
  },
};

/**
 * The agent's root logger: JSON lines by default, readable lines when stdout is a terminal
 * (`format: auto`). Plugins get `logger.child({ plugin: name })` so every line names its plugin.
 */
export function createLogger(options: LoggerOptions): Logger {
  const pretty = options.format === 'pretty' || (options.format === 'auto' && process.stdout.isTTY === true);
  const base: pino.LoggerOptions = { level: options.level, base: { pid: process.pid }, ...redaction };
  if (pretty) {
    // Loaded only when asked for: pino-pretty is not on the JSON hot path.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pinoPretty = require('pino-pretty') as typeof import('pino-pretty');
    return redactingChildren(pino(base, pinoPretty.build({ sync: true, destination: options.destination ?? 1, ignore: 'pid,hostname' })));
  }
  return redactingChildren(pino(base, options.destination ?? pino.destination({ dest: 1, sync: true })));
}

/**
 * pino applies `formatters.bindings` to the root's bindings only, not to a child's: redact those
 * as the child is made. Children inherit `child` from the root, so grandchildren are covered too.
 */
function redactingChildren(root: Logger): Logger {
  // Unbound: a grandchild must be made from its own parent, which `this` is.
  const child = root.child as unknown as (this: Logger, bindings: pino.Bindings, options?: pino.ChildLoggerOptions) => Logger;
  function makeChild(this: Logger, bindings: pino.Bindings, options?: pino.ChildLoggerOptions): Logger {
    return child.call(this, redactSecrets(bindings), options);
  }
  root.child = makeChild as unknown as Logger['child'];
  return root;
}

/** A logger that writes nothing, for tests and harnesses. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
