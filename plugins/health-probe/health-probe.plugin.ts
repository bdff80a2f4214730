import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  AgentError,
  Bus,
  Clock,
  errorMessage,
  HttpError,
  HttpRoutes,
  inject,
  injectable,
  LOGGER,
  On,
  PLUGIN_CONFIG,
  type Event,
  type Logger,
  type Plugin,
} from 'praxis-agent';
import { runnerFor, targetOf, type CheckRunner } from './checks';
import type { CheckConfig, HealthProbeConfig } from './config';
import './events';
import { cronSchedule, intervalSchedule, Ticker, type Schedule } from './schedule';
import { CheckTracker, ServiceTracker, type CheckResult, type ServiceStatus } from './status';

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
  /** A HEALTH_CERT_EXPIRING warning was raised and the certificate has not been renewed since. */
  certWarned?: boolean;
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
  ) {}

  start(): void {
    this.running = true;
    this.startedAt = this.clock.now();
    this.build();
    for (const entry of this.checks.values()) {
      entry.ticker = new Ticker(this.clock, entry.schedule, () => void this.run(entry));
      // Pull checks with an interval run right away; cron-scheduled checks and heartbeats wait for their first due time.
      entry.ticker.start(entry.config.kind !== 'heartbeat' && entry.config.schedule === undefined ? 0 : undefined);
    }
    if (this.config.snapshot_interval > 0 && this.services.size > 0) {
      this.snapshotTicker = new Ticker(this.clock, intervalSchedule(this.config.snapshot_interval), () => this.snapshot());
      this.snapshotTicker.start();
    }
    if (this.heartbeats.size > 0) this.addHeartbeatRoute();
    this.logger.info({ services: this.services.size, checks: this.checks.size }, 'health probe started');
  }

  async stop(): Promise<void> {
    this.running = false;
    this.snapshotTicker?.stop();
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
        flapping: service.flapping ? 1 : 0,
        transitions_suppressed: service.suppressed,
      };
    }
    return { ...this.counters, services };
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
      for (const [checkName, check] of Object.entries(service.checks)) {
        const tracker = new CheckTracker(checkName, check.kind, targetOf(check), check.degraded_after_ms);
        trackers.set(checkName, tracker);
        const entry: CheckEntry = {
          service: serviceName,
          name: checkName,
          config: check,
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
    const runner = entry.runner;
    const started = this.clock.now();
    const abort = new AbortController();
    entry.abort = abort;
    let cancelTimer = (): void => undefined;
    const timedOut = new Promise<CheckResult>((resolve) => {
      cancelTimer = this.clock.setTimeout(() => {
        resolve({
          ok: false,
          error_code: 'HEALTH_TIMEOUT',
          message: `no answer within ${entry.config.timeout} ms`,
          latency_ms: this.clock.now() - started,
          at: this.clock.now(),
        });
        abort.abort();
      }, entry.config.timeout);
    });
    const work = runner(abort.signal).then(
      (outcome): CheckResult => ({ ...outcome, latency_ms: this.clock.now() - started, at: this.clock.now() }),
      (error: unknown): CheckResult => ({
        ok: false,
        error_code: 'HEALTH_CONNECT_FAILED',
        message: errorMessage(error),
        latency_ms: this.clock.now() - started,
        at: this.clock.now(),
      }),
    );
    const done = Promise.race([work, timedOut]).then((result) => {
      cancelTimer();
      if (!this.running) return;
      try {
        this.finish(entry, result);
      } catch (error) {
        this.logger.error({ err: error, service: entry.service, check: entry.name }, 'recording a check result failed');
      }
    });
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
    const since = entry.lastReport ?? this.startedAt;
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

  /** Re-evaluates a service, then the services that depend on it when its status changed. */
  private evaluate(service: ServiceTracker, visited: Set<string>): void {
    if (visited.has(service.name)) return;
    visited.add(service.name);
    const before = service.current;
    const blockedBy = service.config.depends_on.find((d) => this.services.get(d)?.current === 'unhealthy');
    for (const action of service.evaluate(this.clock.now(), blockedBy)) {
      if (action.kind === 'status') this.publishStatus(service, blockedBy, before, action.flapping);
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
    const failing = checks.filter((c) => c.state === 'down' || (c.last && !c.last.ok));
    const latest = failing.sort((a, b) => (b.last?.at ?? 0) - (a.last?.at ?? 0))[0]?.last ?? checks.find((c) => c.last?.warning)?.last;
    const latencies = checks.flatMap((c) => (c.last ? [c.last.latency_ms] : []));
    const certDays = checks.flatMap((c) => (typeof c.last?.details?.cert_days_left === 'number' ? [c.last.details.cert_days_left] : []));
    const metrics: Record<string, unknown> = {
      latency_ms: latencies.length > 0 ? Math.max(...latencies) : 0,
      consecutive_failures: Math.max(0, ...checks.map((c) => c.consecutiveFailures)),
      checks_total: checks.length,
      checks_failing: checks.filter((c) => c.state === 'down').length,
      ...(previous ? { previous_status: previous } : {}),
      ...(latest ? { last_error: latest.message, ...(latest.error_code ? { error_code: latest.error_code } : {}) } : {}),
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
    const checks = [...service.checks.values()];
    const failing = checks.filter((c) => c.state === 'down').sort((a, b) => (b.last?.at ?? 0) - (a.last?.at ?? 0));
    const first = failing[0];
    const last = first?.last;
    this.enqueue(() =>
      this.bus.publish(
        'system.error',
        {
          severity: service.config.severity ?? this.config.severity,
          message: `service ${service.name} is unhealthy${last ? `: ${first.name}: ${last.message}` : ''}`,
          ...(last?.error_code ? { error_code: last.error_code } : {}),
          component: service.name,
          diagnostic_data: {
            failing_checks: Object.fromEntries(failing.map((c) => [c.name, { kind: c.kind, target: c.target, error_code: c.last?.error_code, message: c.last?.message, consecutive_failures: c.consecutiveFailures }])),
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

  private snapshot(): void {
    const services: Record<string, { status: ServiceStatus; last_checked?: string; latency_ms?: number; message?: string }> = {};
    let worst: ServiceStatus = 'healthy';
    for (const [name, service] of this.services) {
      const status = service.current;
      if (!status) continue;
      if (SEVERITY_RANK[status] > SEVERITY_RANK[worst]) worst = status;
      const checks = [...service.checks.values()].filter((c) => c.last);
      const lastAt = Math.max(...checks.map((c) => c.last?.at ?? 0));
      const latencies = checks.map((c) => c.last?.latency_ms ?? 0);
      const blockedBy = service.config.depends_on.find((d) => this.services.get(d)?.current === 'unhealthy');
      const failing = checks.find((c) => c.state === 'down' || !c.last?.ok);
      const message = blockedBy && status === 'unhealthy' ? `dependency ${blockedBy} unhealthy` : failing ? `${failing.name}: ${failing.last?.message ?? ''}` : undefined;
      services[name] = {
        status,
        ...(lastAt > 0 ? { last_checked: new Date(lastAt).toISOString() } : {}),
        ...(latencies.length > 0 ? { latency_ms: Math.max(...latencies) } : {}),
        ...(message ? { message } : {}),
      };
    }
    // Nothing known yet: a snapshot would claim "healthy" about services nobody has checked.
    if (Object.keys(services).length === 0) return;
    this.counters.snapshots_published++;
    this.enqueue(() => this.bus.publish('system.health', { status: worst, services, checked_at: this.clock.isoNow() }, { tags: ['health-probe'] }));
  }

  /** Publishes in order, one after the other; a failed publish is logged and never stops the probe. */
  private enqueue(publish: () => Promise<unknown>): void {
    this.outbox = this.outbox.then(publish).then(
      () => undefined,
      (error: unknown) => this.logger.error({ err: error }, 'publishing a health event failed'),
    );
  }

  private addHeartbeatRoute(): void {
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
    const body = (await this.routes.readBody(req, HEARTBEAT_BODY_LIMIT)).toString('utf8').trim();
    let message: string | undefined;
    if (body !== '') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        throw new HttpError(400, 'HTTP_BAD_REQUEST', 'the body must be empty or JSON like {"message": "..."}');
      }
      const candidate = (parsed as { message?: unknown } | null)?.message;
      if (typeof parsed !== 'object' || parsed === null || (candidate !== undefined && typeof candidate !== 'string')) {
        throw new HttpError(400, 'HTTP_BAD_REQUEST', 'the body must be empty or JSON like {"message": "..."}');
      }
      message = candidate as string | undefined;
    }
    const event = await this.bus.publish('service.heartbeat', { check, ...(message !== undefined ? { message } : {}) }, { source: 'http' });
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
