import type { ErrorCodeRegistry } from '../core/errors';
import type { Event } from '../events/types';

/** /stats `error_codes`: error events seen, by code, with who owns the code. */
export interface ErrorCodeStats {
  /** Codes the agent knows (the core's and its plugins'), each with its owner and how many events carried it. */
  by_code: Record<string, { owner: string; count: number }>;
  /** Events whose code nobody here declares (typically an application's own, ingested over HTTP). */
  other: number;
}

/**
 * Counts `system.error` and `agent.error` events by `error_code`. Only declared codes get their own
 * counter, so codes made up by clients cannot grow it without bound.
 */
export class ErrorCodeCounts {
  private readonly counts = new Map<string, number>();
  private other = 0;

  constructor(private readonly registry: ErrorCodeRegistry) {}

  count(event: Event<'system.error'> | Event<'agent.error'>): void {
    const code = event.data.error_code;
    if (code === undefined) return;
    if (this.registry.get(code)) this.counts.set(code, (this.counts.get(code) ?? 0) + 1);
    else this.other++;
  }

  stats(): ErrorCodeStats {
    const by_code: ErrorCodeStats['by_code'] = {};
    for (const [code, count] of this.counts) by_code[code] = { owner: this.registry.get(code)?.owner ?? 'unknown', count };
    return { by_code, other: this.other };
  }
}
