import { spawn } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { readFileSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { connect } from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { isDeepStrictEqual } from 'node:util';
import { errorMessage, redactText } from 'praxis-agent';
import type { CheckConfig, CheckOf } from './config';
import type { HEALTH_ERRORS } from './errors';

/** The error codes a check can fail (or warn) with: the `error_code` of the system.error the probe publishes. */
export type HealthErrorCode = keyof typeof HEALTH_ERRORS;

/** What one run of a check found (latency and timeouts are measured by the caller). */
export interface CheckOutcome {
  ok: boolean;
  /** Why it failed; or, for a passing check, a warning that makes its service degraded (an expiring certificate). */
  error_code?: HealthErrorCode;
  message: string;
  /** Safe to publish: no headers, no secrets. */
  details?: Record<string, unknown>;
  /** A passing check that should still degrade its service. */
  warning?: boolean;
}

/** Runs a check once; must settle promptly once `signal` aborts. */
export type CheckRunner = (signal: AbortSignal) => Promise<CheckOutcome>;

export interface RunnerContext {
  /** Epoch ms now, from the injected clock (certificate days left are measured against it). */
  now(): number;
}

/** Largest response body an HTTP check reads; at this size it stops reading and closes the connection. */
export const MAX_BODY_BYTES = 1_048_576;
const DAY_MS = 86_400_000;

/** The runner for any check kind except heartbeat (which is pushed, not pulled). */
export function runnerFor(check: Exclude<CheckConfig, { kind: 'heartbeat' }>, ctx: RunnerContext): CheckRunner {
  switch (check.kind) {
    case 'http':
      return httpRunner(check, ctx);
    case 'tcp':
      return tcpRunner(check);
    case 'exec':
      return execRunner(check);
    case 'process':
      return processRunner(check);
    case 'dns':
      return dnsRunner(check);
  }
}

/** What a check looks at, for events and logs: never headers, credentials or secret query values. */
export function targetOf(check: CheckConfig): string {
  switch (check.kind) {
    case 'http':
      return `${check.method} ${safeUrl(check.url)}`;
    case 'tcp':
      return `${check.host}:${check.port}`;
    case 'exec':
      // Arguments may carry secrets (--password=...): name the program only.
      return Array.isArray(check.command) ? check.command[0] : 'sh -c ...';
    case 'process':
      return check.pid_file ? `pid file ${check.pid_file}` : `process ${check.process_name}`;
    case 'dns':
      return check.hostname;
    case 'heartbeat':
      return `heartbeat every ${check.window} ms`;
  }
}

/** The URL with its credentials (user:password, secret-looking query parameters) redacted by the one redaction function. */
export function safeUrl(raw: string): string {
  return redactText(new URL(raw).toString());
}

/** Maps a socket-level error to a check outcome. */
export function networkFailure(error: unknown, what: string): CheckOutcome {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = errorMessage(error);
  if (code === 'ECONNREFUSED') return { ok: false, error_code: 'HEALTH_CONNECT_REFUSED', message: `${what}: connection refused`, details: { errno: code } };
  if (code && TLS_ERRORS.test(code)) return { ok: false, error_code: 'HEALTH_TLS', message: `${what}: TLS verification failed: ${message}`, details: { errno: code } };
  return { ok: false, error_code: 'HEALTH_CONNECT_FAILED', message: `${what}: ${message}`, details: code ? { errno: code } : {} };
}

const TLS_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|ERR_SSL|HOSTNAME|ALTNAME/;

function httpRunner(check: CheckOf<'http'>, ctx: RunnerContext): CheckRunner {
  const url = new URL(check.url);
  const isHttps = url.protocol === 'https:';
  let ca: Buffer | undefined;
  return async (signal) => {
    if (isHttps && check.ca_file && !ca) ca = await readFile(check.ca_file);
    const response = await new Promise<{ status: number; body: string; truncated: boolean; cert?: { valid_to: string; subject?: string } }>((resolve, reject) => {
      const options: https.RequestOptions = {
        method: check.method,
        headers: check.headers,
        signal,
        agent: false,
        ...(isHttps ? { rejectUnauthorized: check.tls_verify, ...(ca ? { ca } : {}) } : {}),
      };
      const req = (isHttps ? https : http).request(url, options, (res) => {
        let cert: { valid_to: string; subject?: string } | undefined;
        if (isHttps) {
          const peer = (res.socket as TLSSocket).getPeerCertificate?.();
          if (peer && peer.valid_to) cert = { valid_to: peer.valid_to, subject: String(peer.subject?.CN ?? '') };
        }
        const chunks: Buffer[] = [];
        let size = 0;
        let truncated = false;
        const answer = (): void => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), truncated, cert });
        res.on('data', (chunk: Buffer) => {
          const room = MAX_BODY_BYTES - size;
          chunks.push(room < chunk.length ? chunk.subarray(0, room) : chunk);
          size += Math.min(room, chunk.length);
          if (size < MAX_BODY_BYTES) return;
          // Enough to judge: answer with the first MAX_BODY_BYTES and close the connection rather than read an endless body.
          truncated = true;
          answer();
          res.destroy();
        });
        res.on('end', answer);
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(check.body);
    }).catch((error: unknown) => {
      if (signal.aborted) throw error;
      return networkFailure(error, `${check.method} ${safeUrl(check.url)}`);
    });
    if ('ok' in response) return response;

    const details: Record<string, unknown> = { http_status: response.status, ...(response.truncated ? { body_truncated_at: MAX_BODY_BYTES } : {}) };
    const expected = check.expect_status.some((spec) => (typeof spec === 'number' ? spec === response.status : spec[0] === String(response.status)[0]));
    if (!expected) {
      return { ok: false, error_code: 'HEALTH_HTTP_STATUS', message: `HTTP ${response.status}, expected ${check.expect_status.join(', ')}`, details };
    }
    const bodyProblem = checkBody(check, response.body);
    if (bodyProblem) return { ok: false, error_code: 'HEALTH_HTTP_BODY', message: bodyProblem, details };

    if (response.cert) {
      const expires = Date.parse(response.cert.valid_to);
      const daysLeft = Math.floor(((expires - ctx.now()) / DAY_MS) * 10) / 10;
      details.cert_days_left = daysLeft;
      details.cert_expires_at = new Date(expires).toISOString();
      if (expires <= ctx.now()) {
        return { ok: false, error_code: 'HEALTH_CERT_EXPIRED', message: `certificate expired on ${details.cert_expires_at as string}`, details };
      }
      if (check.cert_expiry_warning > 0 && expires - ctx.now() <= check.cert_expiry_warning) {
        return { ok: true, warning: true, error_code: 'HEALTH_CERT_EXPIRING', message: `certificate expires in ${daysLeft} days (${details.cert_expires_at as string})`, details };
      }
    }
    return { ok: true, message: `HTTP ${response.status}`, details };
  };
}

/** Why the body does not satisfy the check's body conditions, or undefined when it does. */
export function checkBody(check: Pick<CheckOf<'http'>, 'body_contains' | 'body_matches' | 'json'>, body: string): string | undefined {
  if (check.body_contains !== undefined && !body.includes(check.body_contains)) return `response body does not contain ${JSON.stringify(check.body_contains)}`;
  if (check.body_matches !== undefined && !new RegExp(check.body_matches).test(body)) return `response body does not match /${check.body_matches}/`;
  if (check.json !== undefined) {
    let document: unknown;
    try {
      document = JSON.parse(body);
    } catch {
      return 'response body is not JSON';
    }
    for (const [jsonPath, expected] of Object.entries(check.json)) {
      const actual = valueAt(document, jsonPath);
      if (!isDeepStrictEqual(actual, expected)) {
        return `JSON ${jsonPath} is ${actual === undefined ? 'missing' : JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`;
      }
    }
  }
  return undefined;
}

/** The value at a dotted path (`checks.0.status`); array elements by index. */
export function valueAt(document: unknown, dottedPath: string): unknown {
  let node = document;
  for (const segment of dottedPath.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return node;
}

function tcpRunner(check: CheckOf<'tcp'>): CheckRunner {
  return (signal) =>
    new Promise<CheckOutcome>((resolve) => {
      const socket = connect({ host: check.host, port: check.port, signal });
      socket.once('connect', () => {
        socket.destroy();
        resolve({ ok: true, message: `connected to ${check.host}:${check.port}` });
      });
      socket.once('error', (error) => {
        socket.destroy();
        resolve(networkFailure(error, `${check.host}:${check.port}`));
      });
    });
}

/** Last characters of a child's output kept for the failure message. */
const OUTPUT_TAIL = 300;

function execRunner(check: CheckOf<'exec'>): CheckRunner {
  return (signal) =>
    new Promise<CheckOutcome>((resolve) => {
      const [program, ...args] = Array.isArray(check.command) ? check.command : [check.command];
      const child = check.shell
        ? spawn(Array.isArray(check.command) ? check.command.join(' ') : check.command, { shell: true, cwd: check.cwd, env: { ...process.env, ...check.env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn(program, args, { cwd: check.cwd, env: { ...process.env, ...check.env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      const keep = (chunk: Buffer): void => {
        output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
      };
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      // detached: the child leads its own process group, so a timeout kills it and everything it started.
      const kill = (): void => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      };
      signal.addEventListener('abort', kill, { once: true });
      child.once('error', (error) => {
        signal.removeEventListener('abort', kill);
        resolve({ ok: false, error_code: 'HEALTH_EXEC_FAILED', message: `${program}: ${error.message}` });
      });
      child.once('close', (code, sig) => {
        signal.removeEventListener('abort', kill);
        if (code === 0) resolve({ ok: true, message: `${program} exited 0`, details: { exit_code: 0 } });
        else {
          const tail = output.trim();
          resolve({
            ok: false,
            error_code: 'HEALTH_EXEC_FAILED',
            message: `${program} ${sig ? `was killed by ${sig}` : `exited ${code}`}${tail ? `: ${tail}` : ''}`,
            details: { exit_code: code, signal: sig },
          });
        }
      });
    });
}

function processRunner(check: CheckOf<'process'>): CheckRunner {
  return async () => {
    if (check.pid_file !== undefined) {
      let text: string;
      try {
        text = await readFile(check.pid_file, 'utf8');
      } catch (error) {
        return { ok: false, error_code: 'HEALTH_PROCESS', message: `cannot read pid file ${check.pid_file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
      }
      const pid = Number(text.trim());
      if (!Number.isInteger(pid) || pid <= 0) return { ok: false, error_code: 'HEALTH_PROCESS', message: `pid file ${check.pid_file} does not hold a process id` };
      return isAlive(pid)
        ? { ok: true, message: `process ${pid} is alive`, details: { pid } }
        : { ok: false, error_code: 'HEALTH_PROCESS', message: `process ${pid} (from ${check.pid_file}) is not running`, details: { pid } };
    }
    const name = check.process_name as string;
    const pids = findProcesses(name);
    return pids.length > 0
      ? { ok: true, message: `${pids.length} process(es) named ${name}`, details: { pids: pids.slice(0, 10) } }
      : { ok: false, error_code: 'HEALTH_PROCESS', message: `no process named ${name} is running` };
  };
}

/** True when /proc has the process and it is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** PIDs of live processes whose comm (first 15 characters of the name) or program name is `name`. */
export function findProcesses(name: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      let match = comm === name || (name.length > 15 && comm === name.slice(0, 15));
      if (!match) {
        const argv0 = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')[0];
        match = argv0 !== '' && path.basename(argv0) === name;
      }
      if (match && isAlive(pid)) found.push(pid);
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

function dnsRunner(check: CheckOf<'dns'>): CheckRunner {
  return async () => {
    let answers: { address: string; family: number }[];
    try {
      answers = await lookup(check.hostname, { all: true, ...(check.family ? { family: check.family } : {}) });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return { ok: false, error_code: 'HEALTH_DNS', message: `${check.hostname} does not resolve${code ? ` (${code})` : ''}` };
    }
    const addresses = answers.map((a) => a.address);
    if (check.expect_address && !check.expect_address.some((a) => addresses.includes(a))) {
      return {
        ok: false,
        error_code: 'HEALTH_DNS',
        message: `${check.hostname} resolves to ${addresses.join(', ')}, expected ${check.expect_address.join(' or ')}`,
        details: { addresses },
      };
    }
    return { ok: true, message: `${check.hostname} resolves to ${addresses.join(', ')}`, details: { addresses } };
  };
}
