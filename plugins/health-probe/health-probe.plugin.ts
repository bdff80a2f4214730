import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  AgentControl,
  AgentError,
  Bus,
  Clock,
  errorMessage,
  HttpError,
  HttpRoutes,
  inject,
  injectable,
  isTimeoutError,
  LOGGER,
  On,
  PLUGIN_CONFIG,
  PREVIOUS_STATE,
  withTimeout,
  type CancelTimer,
  type Event,
  type Logger,
  type Plugin,
} from 'praxis-agent';
import { runnerFor, targetOf, type CheckRunner } from './checks';
import { checkFingerprint, type CheckConfig, type HealthProbeConfig } from './config';
import { heartbeatFields } from './events';
import { cronSchedule, intervalSchedule, Ticker, type Schedule } from './schedule';
import { CheckTracker, ServiceTracker, type CheckResult, type CheckTrackerState, type ServiceStatus, type ServiceTrackerState } from './status';

const DEFAULT_INTERVAL_MS = 30_000;
const HEARTBEAT_MAX_INTERVAL_MS = 30_000;
const HEARTBEAT_BODY_LIMIT = 65_536;
const STATUS_CODE: Record<ServiceStatus, number> = { healthy: 0, degraded: 1, unhealthy: 2 };
const SEVERITY_RANK: Record<ServiceStatus, number> = STATUS_CODE;

/** One configured check at run time. */
interface CheckEntry {
  service: string;
  name: string;
  config: CheckConfig;
  /** Identifies `config`: state is carried across a restart only to a check with the same fingerprint. */
  fingerprint: string;
  tracker: CheckTracker;
  schedule: Schedule;
  ticker?: Ticker;
  /** Pull checks only; heartbeats are evaluated from their last report. */
  runner?: CheckRunner;
  /** Settles when the run in progress (if any) has really finished, timeout or not. */
  running?: Promise<void>;
  abort?: AbortController;
  /** Heartbeats: epoch ms of the last report. */
  lastReport?: number;
  lastMessage?: string;
  /** Heartbeats: epoch ms since when a report is awaited when none came yet (the start of the first instance, across restarts). */
  watchedSince?: number;
  /** A HEALTH_CERT_EXPIRING warning was raised and the certificate has not been renewed since. */
  certWarned?: boolean;
}

/**
 * What an instance hands to the next one (Plugin.handOver) when a reload that changed the config
 * restarts the plugin: checks whose config did not change keep their counters, last results and
 * status, and services keep what they published, so the reload neither forgets an outage nor
 * re-announces every service.
 */
interface HandedOverState {
  /** By `service/check`; taken only by a check with the same fingerprint. */
  checks: Map<string, HandedOverCheck>;
  services: Map<string, ServiceTrackerState>;
  counters: Record<string, number>;
}

interface HandedOverCheck {
  fingerprint: string;
  tracker: CheckTrackerState;
  /** Heartbeats: epoch ms and message of the last report. */
  lastReport?: number;
  lastMessage?: string;
  /** Heartbeats: since when a first report is awaited (a restart does not extend the grace window). */
  watchedSince?: number;
  certWarned?: boolean;
}

/** PREVIOUS_STATE is what the predecessor returned, possibly from another version of this plugin: take only what has this shape. */
function isHandedOverState(value: unknown): value is HandedOverState {
  const v = value as Partial<HandedOverState> | undefined;
  return typeof v === 'object' && v !== null && v.checks instanceof Map && v.services instanceof Map && typeof v.counters === 'object' && v.counters !== null;
}

/** One service in GET /health and (reduced to the event's fields) in system.health. */
interface ServiceView {
  status: ServiceStatus | 'pending';
  last_checked?: string;
  latency_ms?: number;
  /** Every check that is down, slow or warning, as `check: reason`, joined with "; ". */
  message?: string;
  since?: string;
  flapping: boolean;
  blocked_by?: string;
  failing_checks: string[];
  checks: Record<string, Record<string, unknown>>;
}

/**
 * Checks the services next to the agent on their schedules and publishes how they are:
 * `service.status` on every status transition, `system.health` snapshots, and `system.error`
 * when a service turns unhealthy (unless a dependency it declares is unhealthy: then that is
 * reported as the cause). All time comes from the injected Clock.
 */
@injectable()
export class HealthProbePlugin implements Plugin {
  private readonly checks = new Map<string, CheckEntry>();
  private readonly services = new Map<string, ServiceTracker>();
  private readonly heartbeats = new Map<string, CheckEntry>();
  private snapshotTicker?: Ticker;
  /** Re-evaluate services when the checks they wait for have had their first interval. */
  private cancelAwaits: CancelTimer[] = [];
  private outbox: Promise<void> = Promise.resolve();
  private startedAt = 0;
  private running = false;
  private counters = { checks_run: 0, check_failures: 0, overlaps_skipped: 0, heartbeats_received: 0, heartbeats_unknown: 0, snapshots_published: 0 };

  constructor(
    private readonly bus: Bus,
    private readonly clock: Clock,
    @inject(PLUGIN_CONFIG) private readonly config: HealthProbeConfig,
    @inject(LOGGER) private readonly logger: Logger,
    private readonly routes: HttpRoutes,
    private readonly control: AgentControl,
    @inject(PREVIOUS_STATE) private readonly previous: unknown,
  ) {}

  start(): void {
    this.running = true;
    this.startedAt = this.clock.now();
    this.build();
    const carried = this.restore(this.previous);
    const deadlines = new Set<number>();
    for (const entry of this.checks.values()) {
      entry.ticker = new Ticker(this.clock, entry.schedule, () => void this.run(entry));
      const last = entry.tracker.last?.at;
      if (last !== undefined && entry.config.schedule === undefined) {
        // Carried over a reload: keep the cadence instead of running every check again at once.
        entry.ticker.start(Math.max(0, entry.schedule.next(last) - this.startedAt));
      } else if (entry.config.kind !== 'heartbeat' && entry.config.schedule === undefined) {
        // Pull checks with an interval run right away, and their service waits (at most one interval) for the result.
        entry.tracker.awaitedUntil = entry.schedule.next(this.startedAt);
        deadlines.add(entry.tracker.awaitedUntil);
        entry.ticker.start(0);
      } else {
        // Cron-scheduled checks and heartbeats wait for their first due time; their services do not wait for them.
        entry.ticker.start();
      }
    }
    // A check still without a result after its first interval no longer holds its service back.
    this.cancelAwaits = [...deadlines].map((due) => this.clock.setTimeout(() => this.evaluateAll(), due - this.startedAt));
    if (carried > 0) this.evaluateAll();
    if (this.config.snapshot_interval > 0 && this.services.size > 0) {
      this.snapshotTicker = new Ticker(this.clock, intervalSchedule(this.config.snapshot_interval), () => this.snapshot());
      this.snapshotTicker.start();
    }
    this.addRoutes();
    this.logger.info({ services: this.services.size, checks: this.checks.size, ...(carried > 0 ? { checks_carried: carried } : {}) }, 'health probe started');
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.snapshotTicker?.stop();
    for (const cancel of this.cancelAwaits.splice(0)) cancel();
    for (const entry of this.checks.values()) {
      entry.ticker?.stop();
      entry.abort?.abort();
    }
    await Promise.all([...this.checks.values()].map((e) => e.running));
    await this.outbox;
  }

  /**
   * Runs every check now (or those of one service), skipping any still running, and resolves
   * once they finished and their events are published. Heartbeat checks are evaluated.
   * For tests and for callers that want a probe on demand.
   */
  async runOnce(service?: string): Promise<void> {
    const entries = [...this.checks.values()].filter((e) => service === undefined || e.service === service);
    await Promise.all(entries.map((e) => this.run(e)));
    await this.outbox;
  }

  /** Resolves once no check is running and every event decided so far is published. */
  async settled(): Promise<void> {
    await Promise.all([...this.checks.values()].map((e) => e.running));
    await this.outbox;
  }

  /** Publishes a system.health snapshot now (also done every snapshot_interval), unless no service has a status yet; resolves once published. */
  async publishSnapshot(): Promise<void> {
    this.snapshot();
    await this.outbox;
  }

  stats(): Record<string, unknown> {
    const services: Record<string, unknown> = {};
    for (const [name, service] of this.services) {
      const checks = [...service.checks.values()];
      services[name] = {
        status: service.current ?? 'pending',
        status_code: service.current ? STATUS_CODE[service.current] : -1,
        checks_run: checks.reduce((n, c) => n + c.runs, 0),
        failures: checks.reduce((n, c) => n + c.failures, 0),
        checks_failing: service.problems().filter((p) => p.down).length,
        flapping: service.flapping ? 1 : 0,
        transitions_suppressed: service.suppressed,
      };
    }
    return { ...this.counters, services };
  }

  /**
   * How every service and check is right now (GET /health): the overall status (the worst known,
   * `pending` while no service is known) and per service its status, what fails, and each check's
   * last result.
   */
  view(): { status: ServiceStatus | 'pending'; checked_at: string; services: Record<string, ServiceView> } {
    const services: Record<string, ServiceView> = {};
    let worst: ServiceStatus | undefined;
    for (const [name, service] of this.services) {
      const status = service.current;
      if (status && (worst === undefined || SEVERITY_RANK[status] > SEVERITY_RANK[worst])) worst = status;
      const checks = [...service.checks.values()];
      const lastAt = Math.max(0, ...checks.map((c) => c.last?.at ?? 0));
      const latencies = checks.flatMap((c) => (c.last ? [c.last.latency_ms] : []));
      const blockedBy = this.blockerOf(service);
      const problems = service.problems();
      const reasons = problems.map((p) => `${p.check.name}: ${p.reason}`);
      if (blockedBy && status === 'unhealthy') reasons.unshift(`dependency ${blockedBy} unhealthy`);
      services[name] = {
        status: status ?? 'pending',
        ...(lastAt > 0 ? { last_checked: new Date(lastAt).toISOString() } : {}),
        ...(latencies.length > 0 ? { latency_ms: Math.max(...latencies) } : {}),
        ...(reasons.length > 0 ? { message: reasons.join('; ') } : {}),
        ...(status ? { since: new Date(service.lastChange).toISOString() } : {}),
        flapping: service.flapping,
        ...(blockedBy ? { blocked_by: blockedBy } : {}),
        failing_checks: problems.filter((p) => p.down).map((p) => p.check.name),
        checks: Object.fromEntries(checks.map((c) => [c.name, c.summary()])),
      };
    }
    return { status: worst ?? 'pending', checked_at: this.clock.isoNow(), services };
  }

  @On('service.heartbeat')
  async onHeartbeat(event: Event<'service.heartbeat'>): Promise<void> {
    const entry = this.heartbeats.get(event.data.check);
    if (!entry) {
      this.counters.heartbeats_unknown++;
      this.logger.warn({ check: event.data.check, source: event.metadata.source }, 'heartbeat for an unknown check ignored');
      return;
    }
    this.counters.heartbeats_received++;
    entry.lastReport = this.clock.now();
    entry.lastMessage = event.data.message;
    this.finish(entry, this.evaluateHeartbeat(entry));
    // Handled means published: whoever waits for the bus to be idle sees the resulting status.
    await this.outbox;
  }

  private build(): void {
    this.checks.clear();
    this.services.clear();
    this.heartbeats.clear();
    for (const [serviceName, service] of Object.entries(this.config.services)) {
      const trackers = new Map<string, CheckTracker>();
      for (const [checkName, configured] of Object.entries(service.checks)) {
        const check = this.resolvePaths(configured);
        const tracker = new CheckTracker(checkName, check.kind, targetOf(check), check.degraded_after_ms);
        trackers.set(checkName, tracker);
        const entry: CheckEntry = {
          service: serviceName,
          name: checkName,
          config: check,
          fingerprint: checkFingerprint(check),
          tracker,
          schedule: scheduleOf(check),
          ...(check.kind === 'heartbeat' ? {} : { runner: runnerFor(check, { now: () => this.clock.now() }) }),
        };
        this.checks.set(`${serviceName}/${checkName}`, entry);
        if (check.kind === 'heartbeat') this.heartbeats.set(checkName, entry);
      }
      this.services.set(serviceName, new ServiceTracker(serviceName, service, trackers, this.config.flapping));
    }
  }

  /** Paths in a check's config are relative to the agent's config file; an exec check runs in its folder unless given a cwd. */
  private resolvePaths(check: CheckConfig): CheckConfig {
    const resolve = (p: string): string => this.control.resolvePath(p);
    switch (check.kind) {
      case 'http':
        return check.ca_file === undefined ? check : { ...check, ca_file: resolve(check.ca_file) };
      case 'process':
        return check.pid_file === undefined ? check : { ...check, pid_file: resolve(check.pid_file) };
      case 'exec':
        return { ...check, cwd: resolve(check.cwd ?? '.') };
      default:
        return check;
    }
  }

  /**
   * The state of every check and service for the instance a reload starts next. Results of runs
   * still in flight are dropped once stop() began, so the state is final even when stop() ran out
   * of time.
   */
  handOver(): HandedOverState {
    return {
      checks: new Map(
        [...this.checks].map(([key, e]) => [
          key,
          {
            fingerprint: e.fingerprint,
            tracker: e.tracker.saveState(),
            ...(e.lastReport !== undefined ? { lastReport: e.lastReport } : {}),
            ...(e.lastMessage !== undefined ? { lastMessage: e.lastMessage } : {}),
            ...(e.config.kind === 'heartbeat' ? { watchedSince: e.watchedSince ?? this.startedAt } : {}),
            ...(e.certWarned ? { certWarned: true } : {}),
          },
        ]),
      ),
      services: new Map([...this.services].map(([name, s]) => [name, s.saveState()])),
      counters: { ...this.counters },
    };
  }

  /** Takes over what the previous instance handed over (PREVIOUS_STATE) for unchanged checks and kept services; returns how many checks it carried. */
  private restore(carried: unknown): number {
    if (!isHandedOverState(carried)) return 0;
    this.counters = { ...this.counters, ...carried.counters };
    for (const [name, service] of this.services) {
      const saved = carried.services.get(name);
      if (saved) service.restoreState(saved);
    }
    let count = 0;
    for (const [key, entry] of this.checks) {
      const saved = carried.checks.get(key);
      if (!saved || saved.fingerprint !== entry.fingerprint) continue;
      entry.tracker.restoreState(saved.tracker);
      entry.lastReport = saved.lastReport;
      entry.lastMessage = saved.lastMessage;
      entry.watchedSince = saved.watchedSince;
      entry.certWarned = saved.certWarned;
      count++;
    }
    return count;
  }

  /** One run of a check, cut at its timeout; a run still in progress is never overlapped. */
  private run(entry: CheckEntry): Promise<void> {
    if (!this.running) return Promise.resolve();
    if (entry.running) {
      this.counters.overlaps_skipped++;
      this.logger.debug({ service: entry.service, check: entry.name }, 'check still running; this run is skipped');
      return entry.running;
    }
    if (!entry.runner) {
      this.finish(entry, this.evaluateHeartbeat(entry));
      return Promise.resolve();
    }
    const started = this.clock.now();
    const abort = new AbortController();
    entry.abort = abort;
    const measured = (outcome: Omit<CheckResult, 'latency_ms' | 'at'>): CheckResult => ({ ...outcome, latency_ms: this.clock.now() - started, at: this.clock.now() });
    const work = entry.runner(abort.signal).then(measured, (error: unknown) => measured({ ok: false, error_code: 'HEALTH_CONNECT_FAILED', message: errorMessage(error) }));
    const done = withTimeout(this.clock, work, entry.config.timeout, () => abort.abort())
      .catch((error: unknown) => {
        if (!isTimeoutError(error)) throw error;
        return measured({ ok: false, error_code: 'HEALTH_TIMEOUT', message: `no answer within ${entry.config.timeout} ms` });
      })
      .then((result) => {
        if (this.running) this.finish(entry, result);
      })
      .catch((error: unknown) => this.logger.error({ err: error, service: entry.service, check: entry.name }, 'recording a check result failed'));
    // The run ends when the work really ends (an aborted child has exited, a socket is closed), so the next run cannot overlap it.
    const finished = Promise.all([done, work]).then(() => {
      entry.running = undefined;
      entry.abort = undefined;
    });
    entry.running = finished;
    return entry.running;
  }

  private evaluateHeartbeat(entry: CheckEntry): CheckResult {
    const now = this.clock.now();
    const window = (entry.config as Extract<CheckConfig, { kind: 'heartbeat' }>).window;
    const since = entry.lastReport ?? entry.watchedSince ?? this.startedAt;
    const age = now - since;
    const details = { last_report_at: entry.lastReport === undefined ? null : new Date(entry.lastReport).toISOString(), ...(entry.lastMessage ? { last_message: entry.lastMessage } : {}) };
    if (age <= window) {
      return { ok: true, message: entry.lastReport === undefined ? 'waiting for the first report' : `reported ${Math.round(age / 1000)} s ago`, latency_ms: 0, at: now, details };
    }
    return {
      ok: false,
      error_code: 'HEALTH_HEARTBEAT_MISSED',
      message: entry.lastReport === undefined ? `no report since the agent started ${Math.round(age / 1000)} s ago (window ${window} ms)` : `no report for ${Math.round(age / 1000)} s (window ${window} ms)`,
      latency_ms: 0,
      at: now,
      details,
    };
  }

  /** Records a result and publishes whatever it changed. */
  private finish(entry: CheckEntry, result: CheckResult): void {
    const service = this.services.get(entry.service) as ServiceTracker;
    this.counters.checks_run++;
    if (!result.ok) {
      this.counters.check_failures++;
      this.logger.debug({ service: entry.service, check: entry.name, error_code: result.error_code, message: result.message }, 'check failed');
    }
    entry.tracker.record(result, service.config);
    this.certWarning(entry, result);
    this.evaluate(service, new Set());
  }

  private evaluateAll(): void {
    const visited = new Set<string>();
    for (const service of this.services.values()) this.evaluate(service, visited);
  }

  /** The first dependency of a service that is unhealthy now. */
  private blockerOf(service: ServiceTracker): string | undefined {
    return service.config.depends_on.find((d) => this.services.get(d)?.current === 'unhealthy');
  }

  /** Re-evaluates a service, then the services that depend on it when its status changed. */
  private evaluate(service: ServiceTracker, visited: Set<string>): void {
    if (visited.has(service.name)) return;
    visited.add(service.name);
    // Until a dependency's status is known, whether it is the cause is not: decide (and alarm) once it is.
    if (service.config.depends_on.some((d) => this.services.get(d)?.awaiting(this.clock.now()))) return;
    const before = service.current;
    const blockedBy = this.blockerOf(service);
    for (const action of service.evaluate(this.clock.now(), blockedBy)) {
      if (action.kind === 'status') this.publishStatus(service, blockedBy, action.previous, action.flapping);
      else this.publishError(service);
    }
    if (service.current !== before) {
      for (const other of this.services.values()) {
        if (other.config.depends_on.includes(service.name)) this.evaluate(other, visited);
      }
    }
  }

  private publishStatus(service: ServiceTracker, blockedBy: string | undefined, previous: ServiceStatus | undefined, flapping: boolean | undefined): void {
    const status = service.current as ServiceStatus;
    const checks = [...service.checks.values()];
    const results = Object.fromEntries(checks.map((c) => [c.name, c.summary()]));
    const problems = service.problems();
    const first = problems[0];
    const failing = problems.filter((p) => p.down).map((p) => p.check.name);
    const latencies = checks.flatMap((c) => (c.last ? [c.last.latency_ms] : []));
    const certDays = checks.flatMap((c) => (typeof c.last?.details?.cert_days_left === 'number' ? [c.last.details.cert_days_left] : []));
    const metrics: Record<string, unknown> = {
      latency_ms: latencies.length > 0 ? Math.max(...latencies) : 0,
      consecutive_failures: Math.max(0, ...checks.map((c) => c.consecutiveFailures)),
      checks_total: checks.length,
      checks_failing: failing.length,
      ...(failing.length > 0 ? { failing_checks: failing } : {}),
      ...(previous ? { previous_status: previous } : {}),
      ...(first ? { last_error: first.reason, ...(first.check.last?.error_code ? { error_code: first.check.last.error_code } : {}) } : {}),
      ...(certDays.length > 0 ? { cert_days_left: Math.min(...certDays) } : {}),
      ...(blockedBy ? { cause: `dependency ${blockedBy} unhealthy`, blocked_by: blockedBy } : {}),
      ...(flapping !== undefined ? { flapping } : {}),
    };
    const log = status === 'healthy' ? 'info' : 'warn';
    this.logger[log]({ service: service.name, status, previous, ...(metrics.last_error ? { last_error: metrics.last_error } : {}), ...(flapping ? { flapping } : {}) }, `service ${service.name} is ${status}`);
    this.enqueue(() =>
      this.bus.publish(
        'service.status',
        { service_name: service.name, status, health_check_results: results, metrics },
        { tags: flapping ? ['health-probe', 'flapping'] : ['health-probe'] },
      ),
    );
  }

  private publishError(service: ServiceTracker): void {
    const failing = service.problems().filter((p) => p.down);
    const code = failing[0]?.check.last?.error_code;
    this.enqueue(() =>
      this.bus.publish(
        'system.error',
        {
          severity: service.config.severity ?? this.config.severity,
          message: `service ${service.name} is unhealthy${failing.length > 0 ? `: ${failing.map((p) => `${p.check.name}: ${p.reason}`).join('; ')}` : ''}`,
          ...(code ? { error_code: code } : {}),
          component: service.name,
          diagnostic_data: {
            failing_checks: Object.fromEntries(
              failing.map(({ check: c }) => [c.name, { kind: c.kind, target: c.target, error_code: c.last?.error_code, message: c.last?.message, consecutive_failures: c.consecutiveFailures }]),
            ),
          },
        },
        { tags: ['health-probe'] },
      ),
    );
  }

  /** An expiring certificate raises one warning until it is renewed. */
  private certWarning(entry: CheckEntry, result: CheckResult): void {
    if (!result.ok) return;
    if (result.error_code !== 'HEALTH_CERT_EXPIRING') {
      entry.certWarned = false;
      return;
    }
    if (entry.certWarned) return;
    entry.certWarned = true;
    this.enqueue(() =>
      this.bus.publish(
        'system.error',
        {
          severity: 'warning',
          message: `service ${entry.service}: ${entry.name}: ${result.message}`,
          error_code: 'HEALTH_CERT_EXPIRING',
          component: entry.service,
          diagnostic_data: { check: entry.name, target: entry.tracker.target, ...(result.details ?? {}) },
        },
        { tags: ['health-probe'] },
      ),
    );
  }

  /**
   * A system.health snapshot of the services whose status is known. Its per-service entries have
   * no field for a list, so `message` names every failing (or slow) check, joined with "; ".
   */
  private snapshot(): void {
    const view = this.view();
    const services: Record<string, { status: ServiceStatus; last_checked?: string; latency_ms?: number; message?: string }> = {};
    for (const [name, s] of Object.entries(view.services)) {
      if (s.status === 'pending') continue;
      services[name] = {
        status: s.status,
        ...(s.last_checked ? { last_checked: s.last_checked } : {}),
        ...(s.latency_ms !== undefined ? { latency_ms: s.latency_ms } : {}),
        ...(s.message ? { message: s.message } : {}),
      };
    }
    // Nothing known yet: a snapshot would claim "healthy" about services nobody has checked.
    if (view.status === 'pending') return;
    this.counters.snapshots_published++;
    this.enqueue(() => this.bus.publish('system.health', { status: view.status as ServiceStatus, services, checked_at: view.checked_at }, { tags: ['health-probe'] }));
  }

  /** Publishes in order, one after the other; a failed publish is logged and never stops the probe. */
  private enqueue(publish: () => Promise<unknown>): void {
    this.outbox = this.outbox.then(publish).then(
      () => undefined,
      (error: unknown) => this.logger.error({ err: error }, 'publishing a health event failed'),
    );
  }

  /** GET /health always, POST /heartbeat/<check> when there are heartbeat checks; both need the admin server. */
  private addRoutes(): void {
    try {
      // Targets and failure messages name internal hosts and programs: as GET /events, it needs the token when one is set.
      this.routes.add('GET', '/health', (_req, res) => this.routes.sendJson(res, 200, this.view()), { auth: true });
    } catch (error) {
      const reason = error instanceof AgentError && error.code === 'HTTP_DISABLED' ? 'the admin HTTP server is disabled' : errorMessage(error);
      this.logger.info({ reason }, 'GET /health is not available; /stats still shows each service');
    }
    if (this.heartbeats.size === 0) return;
    try {
      this.routes.add('POST', '/heartbeat/*', (req, res) => this.onHeartbeatRequest(req, res));
    } catch (error) {
      const reason = error instanceof AgentError && error.code === 'HTTP_DISABLED' ? 'the admin HTTP server is disabled' : errorMessage(error);
      this.logger.warn({ reason }, 'POST /heartbeat/<check> is not available; heartbeats can still be reported as service.heartbeat events');
    }
  }

  private async onHeartbeatRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    let check: string;
    try {
      check = decodeURIComponent(pathname.slice('/heartbeat/'.length));
    } catch {
      throw new HttpError(400, 'HTTP_BAD_REQUEST', 'the check name in the path is not valid URL encoding');
    }
    if (!this.heartbeats.has(check)) {
      throw new HttpError(404, 'HTTP_NOT_FOUND', `no heartbeat check named "${check}"`, { known_checks: [...this.heartbeats.keys()] });
    }
    const fields = heartbeatFields((await this.routes.readBody(req, HEARTBEAT_BODY_LIMIT)).toString('utf8'));
    const event = await this.bus.publish('service.heartbeat', { check, ...fields }, { source: 'http' });
    const entry = this.heartbeats.get(check) as CheckEntry;
    this.routes.sendJson(res, 202, { accepted: true, check, service: entry.service, event_id: event.metadata.event_id });
  }
}

function scheduleOf(check: CheckConfig): Schedule {
  if (check.schedule !== undefined) return cronSchedule(check.schedule);
  if (check.interval !== undefined) return intervalSchedule(check.interval);
  if (check.kind === 'heartbeat') return intervalSchedule(Math.min(check.window, HEARTBEAT_MAX_INTERVAL_MS));
  return intervalSchedule(DEFAULT_INTERVAL_MS);
}
