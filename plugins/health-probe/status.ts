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
 * A check's confirmed state: `unknown` until it first passes or fails `failure_threshold` times
 * in a row; then `down` after `failure_threshold` consecutive failures and `up` again only after
 * `success_threshold` consecutive successes (Gatus-style hysteresis, so one blip pages nobody).
 */
export type CheckState = 'unknown' | 'up' | 'down';

export class CheckTracker {
  state: CheckState = 'unknown';
  consecutiveFailures = 0;
  consecutiveSuccesses = 0;
  runs = 0;
  failures = 0;
  last?: CheckResult;

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
      if (this.state !== 'down' && this.consecutiveFailures >= thresholds.failure_threshold) this.state = 'down';
    }
  }

  /** Up, but its latest run was slower than degraded_after_ms or carried a warning. */
  get slow(): boolean {
    if (this.state !== 'up' || !this.last?.ok) return false;
    return this.last.warning === true || (this.degradedAfterMs !== undefined && this.last.latency_ms > this.degradedAfterMs);
  }

  /** The per-check entry of `health_check_results`. */
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
}

/** What the probe must publish after a service was re-evaluated. */
export type ServiceAction = { kind: 'status'; flapping?: boolean } | { kind: 'error' };

/**
 * The status machine of one service: combines its checks' confirmed states into a status,
 * detects flapping, and decides which events a change deserves. Time comes in as arguments, so
 * it is driven by the injected clock and is deterministic in tests.
 */
export class ServiceTracker {
  /** Status from the checks right now (undefined until some check has a confirmed state). */
  current?: ServiceStatus;
  /** Status last published in a service.status event. */
  published?: ServiceStatus;
  flapping = false;
  /** Transitions held back while flapping. */
  suppressed = 0;
  private transitions: number[] = [];
  private lastChange = 0;
  /** A system.error was raised for the current unhealthy period. */
  private alarmed = false;

  constructor(
    readonly name: string,
    readonly config: ServiceConfig,
    readonly checks: ReadonlyMap<string, CheckTracker>,
    private readonly flapConfig: HealthProbeConfig['flapping'],
  ) {}

  /** Status the checks add up to: unhealthy when every check is down, degraded when some are down or slow. */
  compute(): ServiceStatus | undefined {
    const all = [...this.checks.values()];
    if (all.every((c) => c.state === 'unknown')) return undefined;
    const down = all.filter((c) => c.state === 'down').length;
    if (down === all.length) return 'unhealthy';
    if (down > 0 || all.some((c) => c.slow)) return 'degraded';
    return 'healthy';
  }

  /**
   * Re-evaluates after a check result or a dependency change. `blockedBy` names an unhealthy
   * dependency: the service then raises no system.error of its own.
   */
  evaluate(now: number, blockedBy: string | undefined): ServiceAction[] {
    const status = this.compute();
    if (status === undefined) return [];
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
      actions.push({ kind: 'status', flapping: false });
    } else if (flap.enabled && this.transitions.length > flap.max_transitions) {
      this.flapping = true;
      this.published = status;
      return [{ kind: 'status', flapping: true }];
    } else if (status !== this.published) {
      this.published = status;
      actions.push({ kind: 'status' });
    }

    if (status !== 'unhealthy') this.alarmed = false;
    else if (!this.alarmed && blockedBy === undefined) {
      this.alarmed = true;
      actions.push({ kind: 'error' });
    }
    return actions;
  }
}
