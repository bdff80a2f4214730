import { AgentError, readConfigFile } from 'praxis-agent';
import './errors';

/** The environment variable `audit verify` reads the key from when no option names one. */
export const DEFAULT_KEY_ENV = 'PRAXIS_AUDIT_KEY';

const MIN_KEY_BYTES = 16;

/**
 * Reads the HMAC key from an environment variable or a file (surrounding whitespace trimmed).
 * Errors name where the key was looked for, never the key. Throws AUDIT_KEY_UNAVAILABLE.
 */
export function readKey(source: { key_env?: string; key_file?: string }, env: NodeJS.ProcessEnv = process.env): Buffer {
  let text: string | undefined;
  let where: string;
  if (source.key_file !== undefined) {
    where = `key file ${source.key_file}`;
    try {
      // Bounded and FIFO-safe, as every file a config names.
      text = readConfigFile(source.key_file, { key: 'key_file' }).toString('utf8');
    } catch (error) {
      const why = error instanceof AgentError && typeof error.details?.reason === 'string' ? error.details.reason : 'unreadable';
      throw new AgentError('AUDIT_KEY_UNAVAILABLE', `cannot read the audit HMAC ${where} (${why})`, { key_file: source.key_file });
    }
  } else {
    where = `key from $${source.key_env ?? DEFAULT_KEY_ENV}`;
    text = env[source.key_env ?? DEFAULT_KEY_ENV];
    if (text === undefined) throw new AgentError('AUDIT_KEY_UNAVAILABLE', `the audit HMAC ${where} is not set`, { key_env: source.key_env });
  }
  const key = Buffer.from(text.trim(), 'utf8');
  if (key.length < MIN_KEY_BYTES) {
    throw new AgentError('AUDIT_KEY_UNAVAILABLE', `the audit HMAC ${where} is shorter than ${MIN_KEY_BYTES} bytes`, { ...source });
  }
  return key;
}
