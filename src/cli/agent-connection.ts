import { existsSync, readFileSync } from 'node:fs';
import { readSecretFile } from '../core/config-files';
import path from 'node:path';
import { Document, parseDocument, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { substituteEnv } from '../config/env-substitution';
import { httpSectionSchema } from '../config/schema';
import { AgentError, errorMessage } from '../core/errors';
import { adminUrlFor } from '../http/admin-server';

/**
 * How the CLI's client commands (`emit`, `alert list`, `alert silence ...`) find a running agent:
 * the admin URL from `--url`, `$PRAXIS_URL` or the config file's `http` section, the bearer token
 * from `--token-file` or `$PRAXIS_TOKEN` (never the command line, where `ps` would show it).
 */

/** The options every client command takes. */
export interface ConnectionOptions {
  url?: string;
  tokenFile?: string;
  config: string;
}

/** The admin URL: --url, then $PRAXIS_URL, then the config file's http section, then the default. */
export function adminUrl(options: ConnectionOptions): string {
  if (options.url) return options.url;
  if (process.env.PRAXIS_URL) return process.env.PRAXIS_URL;
  const { host, port } = httpSectionOf(options.config) ?? httpSectionSchema.parse({});
  return adminUrlFor(host, port);
}

/**
 * The bearer token: the content of --token-file (trimmed), else $PRAXIS_TOKEN, else none.
 * @throws Error naming the file when it cannot be read.
 */
export function bearerToken(options: ConnectionOptions): string | undefined {
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
