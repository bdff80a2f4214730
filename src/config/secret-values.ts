import { AgentError } from '../core/errors';

/** One secret that went into the config: the reference as written and what it was replaced by. */
export interface SecretReference {
  /** As written in the file: `${file:/run/secrets/token}` or `${DB_PASSWORD}`. */
  reference: string;
  value: string;
}

/** Below this length a value is only masked as a whole word: masking `ab` inside every word would garble messages. */
const SHORT = 4;

/**
 * The values of a config that came from a secret: a `${file:...}` reference or a variable whose
 * name looks secret (`${DB_PASSWORD}`, `${PRAXIS_TOKEN}`). They are never printed: wherever a
 * message could carry one (config problems, `plugins` output, listen errors, events), it says
 * "the value of ${file:...}" instead.
 */
export class SecretValues {
  /** No secrets: nothing is masked. */
  static readonly none = new SecretValues([], new Map());

  private readonly masks: { pattern: string | RegExp; replacement: string }[];

  /**
   * @param references every secret substituted, in any order
   * @param paths key paths (`plugins[0].use`) whose value holds a secret, with the text as written
   */
  constructor(
    references: readonly SecretReference[],
    private readonly paths: ReadonlyMap<string, string>,
  ) {
    // Longest first, so a secret that contains another is masked whole.
    this.masks = references
      .filter((r) => r.value !== '')
      .sort((a, b) => b.value.length - a.value.length)
      .map(({ reference, value }) => ({
        pattern: value.length >= SHORT ? value : new RegExp(`(?<![\\w.-])${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w.-])`, 'g'),
        replacement: `the value of ${reference}`,
      }));
  }

  /** The text as written (`${file:/x}`) when the value at `path` holds a secret; undefined otherwise. */
  referenceAt(path: string): string | undefined {
    return this.paths.get(path);
  }

  /** What may be shown for the value at `path`: "the value of ${file:/x}" when it holds a secret, else the value. */
  display(path: string, value: string): string {
    const written = this.paths.get(path);
    return written === undefined ? value : `the value of ${written}`;
  }

  /** `text` with every secret in it replaced by "the value of ${...}". */
  mask(text: string): string {
    let out = text;
    for (const { pattern, replacement } of this.masks) out = typeof pattern === 'string' ? out.split(pattern).join(replacement) : out.replace(pattern, replacement);
    return out;
  }

  /** The error with its message (and string details) masked; the same error when its message holds no secret. */
  maskError(error: unknown): unknown {
    if (this.masks.length === 0 || !(error instanceof Error)) return error;
    const message = this.mask(error.message);
    if (message === error.message) return error;
    if (error instanceof AgentError) {
      const details = error.details && Object.fromEntries(Object.entries(error.details).map(([k, v]) => [k, typeof v === 'string' ? this.mask(v) : v]));
      const masked = new AgentError(error.code, message, details);
      // The stack repeats the message; the cause (the OS error) may hold the value too.
      masked.stack = this.mask(error.stack ?? '');
      return masked;
    }
    const masked = new Error(message);
    masked.stack = this.mask(error.stack ?? '');
    return masked;
  }
}
