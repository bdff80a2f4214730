import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Document, parseDocument, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { substituteEnv } from '../config/env-substitution';
import { httpSectionSchema } from '../config/schema';
import { readSecretFile } from '../core/config-files';
import { AgentError, errorMessage } from '../core/errors';

/**
 * How a command finds the running agent, the core's client commands (`emit`, `alert list`,
 * `alert silence ...`) and plugins' CLI commands (`fleet status`) alike: the admin URL from
 * `--url`, `$PRAXIS_URL` or the config file's `http` section, the bearer token from
 * `--token-file` or `$PRAXIS_TOKEN` (never the command line, where `ps` would show it). Part of the
 * plugin SDK; pass the result to {@link AgentClient} or to `fetch`.
 */

/** The options every client command takes (`--url`, `--token-file`, `--config`). */
export interface AgentConnectionOptions {
  url?: string;
  tokenFile?: string;
  config: string;
}

/** The URL a client reaches an admin server bound to `host:port` at: a wildcard host means loopback; IPv6 goes in brackets. */
export function adminUrlFor(host: string, port: number): string {
  const wildcard = host === '0.0.0.0' || host === '::';
  return `http://${wildcard ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The admin URL: --url, then $PRAXIS_URL, then the config file's http section, then the default. */
export function agentAdminUrl(options: AgentConnectionOptions): string {
  if (options.url) return options.url;
  if (process.env.PRAXIS_URL) return process.env.PRAXIS_URL;
  const { host, port } = httpSectionOf(options.config) ?? httpSectionSchema.parse({});
  return adminUrlFor(host, port);
}

/**
 * The bearer token: the content of --token-file (trimmed), else $PRAXIS_TOKEN, else none.
 * @throws Error naming the file when it cannot be read.
 */
export function agentBearerToken(options: AgentConnectionOptions): string | undefined {
  if (!options.tokenFile) return process.env.PRAXIS_TOKEN || undefined;
  try {
    return readSecretFile(options.tokenFile, { key: '--token-file' }).trim();
  } catch (error) {
    // The reader's message already names the option and the file: "--token-file: cannot read F (no such file)".
    throw new Error(error instanceof AgentError ? error.message : `--token-file: cannot read ${options.tokenFile}: ${errorMessage(error)}`);
  }
}

/**
 * The `http` section of a config file, read without the rest of the file (no plugin module is
 * loaded, no other `${...}` is read); undefined when it cannot be read or is invalid, so that the
 * client commands still work with the default.
 */
function httpSectionOf(file: string): z.output<typeof httpSectionSchema> | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const doc = parseDocument(readFileSync(file, 'utf8'));
    const http = new Document();
    http.contents = (doc.get('http', true) as YamlNode | undefined) ?? null;
    if (substituteEnv(http, { env: process.env, baseDir: path.dirname(path.resolve(file)) }).problems.length > 0) return undefined;
    const parsed = httpSectionSchema.safeParse(http.toJS() ?? {});
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
