import { AgentError, type ErrorCode } from '../core/errors';

/**
 * One thing wrong with a config file, pointing at the place to fix. `line`/`column` are 1-based;
 * both are 0 when the problem concerns the whole file (it cannot be read). `path` is the key path
 * (`http.port`, `plugins[0].config.level`), empty when there is none (a YAML syntax error).
 * Messages never contain values read from the environment or from secret files.
 */
export interface ConfigProblem {
  /** The config file as the caller named it (a relative path stays relative). */
  file: string;
  line: number;
  column: number;
  path: string;
  code: ErrorCode;
  message: string;
}

/** `FILE:LINE:COL key.path: message (CODE)`, the form editors and terminals turn into links. */
export function formatProblem(p: ConfigProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.column}` : `${p.file}:`;
  const path = p.path ? ` ${p.path}:` : '';
  return `${where}${path} ${p.message} (${p.code})`;
}

/**
 * Orders problems as they appear in each file (file-level ones first), the files in the order
 * they were first reported (the agent config, then one it imports); stable for equal positions.
 */
export function sortProblems(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const fileOrder = new Map<string, number>();
  for (const p of problems) if (!fileOrder.has(p.file)) fileOrder.set(p.file, fileOrder.size);
  const rank = (p: ConfigProblem): number => fileOrder.get(p.file) as number;
  return [...problems].sort((a, b) => rank(a) - rank(b) || a.line - b.line || a.column - b.column);
}

/** At most this many problems are reported; a file with more gets a count of the rest. */
export const MAX_REPORTED_PROBLEMS = 100;

/**
 * Every problem found in a config file, up to {@link MAX_REPORTED_PROBLEMS} (give them in file
 * order: the first ones are kept). `code` is the code of the first problem, so a caller that only
 * looks at the code still gets a meaningful one; `message` lists them, plus "and N more problems"
 * when some were left out (`omitted`).
 */
export class ConfigError extends AgentError {
  readonly problems: readonly ConfigProblem[];
  /** Problems found but not listed (beyond MAX_REPORTED_PROBLEMS). */
  readonly omitted: number;

  /** @param alreadyOmitted problems left out before these (a list capped elsewhere, e.g. in a worker) */
  constructor(problems: readonly ConfigProblem[], alreadyOmitted = 0) {
    if (problems.length === 0) throw new TypeError('ConfigError needs at least one problem');
    const kept = problems.slice(0, MAX_REPORTED_PROBLEMS);
    const omitted = alreadyOmitted + problems.length - kept.length;
    super(kept[0].code, formatLines(kept, omitted).join('\n'), { problems: kept.map((p) => ({ ...p })), ...(omitted > 0 && { omitted }) });
    this.name = 'ConfigError';
    this.problems = kept;
    this.omitted = omitted;
  }

  /** One line per problem, `FILE:LINE:COL key.path: message (CODE)`, then "and N more problems" if any were left out. */
  lines(): string[] {
    return formatLines(this.problems, this.omitted);
  }

  /** {@link lines} joined with newlines. */
  format(): string {
    return this.lines().join('\n');
  }
}

function formatLines(problems: readonly ConfigProblem[], omitted: number): string[] {
  const lines = problems.map(formatProblem);
  if (omitted > 0) lines.push(`and ${omitted} more problem${omitted === 1 ? '' : 's'} (fix these and validate again to see them)`);
  return lines;
}

export function isConfigError(err: unknown): err is ConfigError {
  return err instanceof ConfigError;
}
