import type { CheckKind, HealthProbeConfig, ServiceConfig } from './config';
import type { HealthErrorCode } from './checks';

export type ServiceStatus = 'healthy' | 'degraded' | 'unhealthy';

/** One finished run of a check. */
export interface CheckResult {
  ok: boolean;
  /** Passed, but something (an expiring certificate) should still degrade the service. */
  warning?: boolean;
  latency_ms: number;
  error_code?: HealthErrorCode;
  message: string;
  details?: Record<string, unknown>;
  /** Epoch ms when the run finished. */
  at: number;
}

/**
 * A check's confirmed state: `unknown` until its first result, which is taken as it is (there is
 * no earlier state to protect, so a refusing port is `down` at once, not "fine" for a minute);
 * after that `down` only after `failure_threshold` consecutive failures and `up` again only after
 * `success_threshold` consecutive successes (Gatus-style hysteresis, so one blip pages nobody).
 */
export type CheckState = 'unknown' | 'up' | 'down';

/** What a check's tracker holds, as carried across a restart of the plugin. */
export interface CheckTrackerState {
  state: CheckState;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  runs: number;
  failures: number;
  last?: CheckResult;
}

/** The state of one check: its confirmed state, counters and last result. */
export class CheckTracker implements CheckTrackerState {
  state: CheckState = 'unknown';
  consecutiveFailures = 0;
  consecutiveSuccesses = 0;
  runs = 0;
  failures = 0;
  last?: CheckResult;
  /**
   * Epoch ms until which the service waits for this check's first result before it decides its
   * status without it; 0 (the default) never waits (cron checks, heartbeats).
   */
  awaitedUntil = 0;

  constructor(
    readonly name: string,
    readonly kind: CheckKind,
    readonly target: string,
    readonly degradedAfterMs: number | undefined,
  ) {}

  record(result: CheckResult, thresholds: Pick<ServiceConfig, 'failure_threshold' | 'success_threshold'>): void {
    this.runs++;
    this.last = result;
    if (result.ok) {
      this.consecutiveSuccesses++;
      this.consecutiveFailures = 0;
      if (this.state === 'unknown' || (this.state === 'down' && this.consecutiveSuccesses >= thresholds.success_threshold)) this.state = 'up';
    } else {
      this.failures++;
      this.consecutiveFailures++;
      this.consecutiveSuccesses = 0;
      if (this.state === 'unknown' || (this.state === 'up' && this.consecutiveFailures >= thresholds.failure_threshold)) this.state = 'down';
    }
  }

  /** Up, but its latest run was slower than degraded_after_ms or carried a warning. */
  get slow(): boolean {
    if (this.state !== 'up' || !this.last?.ok) return false;
    return this.last.warning === true || (this.degradedAfterMs !== undefined && this.last.latency_ms > this.degradedAfterMs);
  }

  /** Still waiting for a first result that holds its service's status back. */
  pendingAt(now: number): boolean {
    return this.state === 'unknown' && now < this.awaitedUntil;
  }

  /** Why this check makes its service less than healthy (down, slow or warning); undefined when it does not. */
  problem(): string | undefined {
    const last = this.last;
    if (!last) return undefined;
    if (this.state === 'down') return last.message;
    if (!this.slow) return undefined;
    return last.warning ? last.message : `slower than ${this.degradedAfterMs} ms (${last.latency_ms} ms)`;
  }

  /** The per-check entry of `health_check_results` and of GET /health. */
  summary(): Record<string, unknown> {
    const last = this.last;
    const status = !last ? 'pending' : !last.ok ? 'fail' : this.slow ? 'degraded' : 'pass';
    return {
      kind: this.kind,
      target: this.target,
      status,
      state: this.state,
      consecutive_failures: this.consecutiveFailures,
      consecutive_successes: this.consecutiveSuccesses,
      ...(last
        ? {
            latency_ms: last.latency_ms,
            message: last.message,
            ...(last.error_code ? { error_code: last.error_code } : {}),
            checked_at: new Date(last.at).toISOString(),
            ...(last.details ?? {}),
          }
        : {}),
    };
  }

  saveState(): CheckTrackerState {
    const { state, consecutiveFailures, consecutiveSuccesses, runs, failures, last } = this;
    return { state, consecutiveFailures, consecutiveSuccesses, runs, failures, ...(last ? { last } : {}) };
  }

  restoreState(saved: CheckTrackerState): void {
    Object.assign(this, saved);
  }
}

/** A check that makes its service less than healthy, and why. */
export interface CheckProblem {
  check: CheckTracker;
  /** Confirmed down (as opposed to up but slow, or carrying a warning). */
  down: boolean;
  reason: string;
}

/** What the probe must publish after a service was re-evaluated; `previous` is the status last published. */
export type ServiceAction = { kind: 'status'; previous?: ServiceStatus; flapping?: boolean } | { kind: 'error' };

/** What a service's tracker holds, as carried across a restart of the plugin. */
export interface ServiceTrackerState {
  current?: ServiceStatus;
  published?: ServiceStatus;
  flapping: boolean;
  suppressed: number;
  transitions: number[];
  lastChange: number;
  alarmed: boolean;
}

/**
 * The status machine of one service: combines its checks' confirmed states into a status,
 * detects flapping, and decides which events a change deserves. Time comes in as arguments, so
 * it is driven by the injected clock and is deterministic in tests.
 */
export class ServiceTracker {
  /** Status from the checks right now (undefined until it is known). */
  current?: ServiceStatus;
  /** Status last published in a service.status event. */
  published?: ServiceStatus;
  flapping = false;
  /** Transitions held back while flapping. */
  suppressed = 0;
  /** Epoch ms of the last change of `current`. */
  lastChange = 0;
  private transitions: number[] = [];
  /** A system.error was raised for the current unhealthy period. */
  private alarmed = false;

  constructor(
    readonly name: string,
    readonly config: ServiceConfig,
    readonly checks: ReadonlyMap<string, CheckTracker>,
    private readonly flapConfig: HealthProbeConfig['flapping'],
  ) {}

  /**
   * Status the checks add up to: undefined while a check it waits for has no result yet (or
   * none has a result); else unhealthy when every check with a result is down, degraded when
   * some are down or slow, healthy otherwise.
   */
  compute(now: number): ServiceStatus | undefined {
    if (this.awaiting(now)) return undefined;
    const all = [...this.checks.values()];
    const known = all.filter((c) => c.state !== 'unknown');
    if (known.length === 0) return undefined;
    const down = known.filter((c) => c.state === 'down').length;
    if (down === known.length) return 'unhealthy';
    if (down > 0 || known.some((c) => c.slow)) return 'degraded';
    return 'healthy';
  }

  /** Some check it waits for has no result yet, so its status is not known yet. */
  awaiting(now: number): boolean {
    return [...this.checks.values()].some((c) => c.pendingAt(now));
  }

  /**
   * THE answer to "which checks fail": every check that is down (most recent failure first),
   * then every one that is up but slow or warning. Events, snapshots and GET /health all use it.
   */
  problems(): CheckProblem[] {
    const found: CheckProblem[] = [];
    for (const check of this.checks.values()) {
      const reason = check.problem();
      if (reason !== undefined) found.push({ check, down: check.state === 'down', reason });
    }
    return found.sort((a, b) => Number(b.down) - Number(a.down) || (b.check.last?.at ?? 0) - (a.check.last?.at ?? 0));
  }

  /**
   * Re-evaluates after a check result or a dependency change. `blockedBy` names an unhealthy
   * dependency: the service then raises no system.error of its own.
   */
  evaluate(now: number, blockedBy: string | undefined): ServiceAction[] {
    const status = this.compute(now);
    if (status === undefined) return [];
    const previous = this.published;
    const changed = status !== this.current;
    if (changed) {
      if (this.current !== undefined) this.transitions.push(now);
      this.current = status;
      this.lastChange = now;
    }
    const flap = this.flapConfig;
    this.transitions = this.transitions.filter((t) => t > now - flap.window);
    const actions: ServiceAction[] = [];

    if (this.flapping) {
      if (now - this.lastChange < flap.stable_for) {
        if (changed) this.suppressed++;
        return [];
      }
      this.flapping = false;
      this.transitions = [];
      this.published = status;
      actions.push({ kind: 'status', previous, flapping: false });
    } else if (flap.enabled && this.transitions.length > flap.max_transitions) {
      this.flapping = true;
      this.published = status;
      return [{ kind: 'status', previous, flapping: true }];
    } else if (status !== this.published) {
      this.published = status;
      actions.push({ kind: 'status', previous });
    }

    if (status !== 'unhealthy') this.alarmed = false;
    else if (!this.alarmed && blockedBy === undefined) {
      this.alarmed = true;
      actions.push({ kind: 'error' });
    }
    return actions;
  }

  saveState(): ServiceTrackerState {
    return {
      ...(this.current ? { current: this.current } : {}),
      ...(this.published ? { published: this.published } : {}),
      flapping: this.flapping,
      suppressed: this.suppressed,
      transitions: [...this.transitions],
      lastChange: this.lastChange,
      alarmed: this.alarmed,
    };
  }

  restoreState(saved: ServiceTrackerState): void {
    // A copy: the handed-over state is shared with a rollback instance, should this start fail.
    Object.assign(this, saved, { transitions: [...saved.transitions] });
  }
}
