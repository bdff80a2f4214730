import type { AlertmanagerIntegration } from 'praxis-agent';

type Problem = { path: Array<string | number>; message: string };

/** `slack_configs` keys taken as they are (same name, same meaning). */
const SAME = ['channel', 'username', 'icon_emoji', 'icon_url', 'color', 'title', 'text', 'send_resolved', 'timeout'] as const;

/** Booleans Alertmanager writes out with their default: `false` asks for nothing the sink lacks. */
const FALSE_IS_DEFAULT = ['link_names', 'short_fields', 'update_message'] as const;

/**
 * Alertmanager's defaults (`{{ template "slack.default.title" . }}` and the like) written out: they
 * ask for Alertmanager's default rendering, so they are left out for the sink's own.
 */
const DEFAULT_TEMPLATE = /^\{\{-?\s*template\s+"slack\.default\.[a-z]+"\s+\.\s*-?\}\}$/i;

/** Keys the sink takes as plain text only (Alertmanager renders them as templates too). */
const PLAIN = ['channel', 'username', 'icon_emoji', 'icon_url'];

/** Why some keys have no equivalent, beyond "not supported". */
const WHY: Record<string, string> = {
  proxy_url: 'the slack sink connects directly; a proxy is not supported (reach hooks.slack.com directly, or point api_url at a relay you run)',
  app_token: 'the slack sink posts to incoming webhooks, not to chat.postMessage with an app token',
  app_token_file: 'the slack sink posts to incoming webhooks, not to chat.postMessage with an app token',
  app_url: 'the slack sink posts to incoming webhooks, not to chat.postMessage',
  actions: 'the slack sink sends no interactive buttons',
  callback_id: 'the slack sink sends no interactive messages',
  fields: 'the slack sink lists every alert with its labels instead of fixed fields',
};

/**
 * One `slack_configs` entry of an Alertmanager receiver as the slack sink's config: `api_url` /
 * `api_url_file` (or global `slack_api_url` / `slack_api_url_file`) become `webhook_url` /
 * `webhook_url_file`, `http_config.tls_config.ca_file` becomes `tls.ca_file`, `title` / `text` /
 * `color` templates pass through (the sink's schema compiles them, so one outside the agent's
 * subset is refused at validation with its line:column); every other key Alertmanager knows but
 * the sink cannot honour is a problem naming it.
 */
export const slackAlertmanager: AlertmanagerIntegration = {
  key: 'slack_configs',
  toConfig(entry, { global }) {
    const problems: Problem[] = [];
    const config: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(entry)) {
      if (typeof value === 'string' && DEFAULT_TEMPLATE.test(value.trim())) continue;
      if (PLAIN.includes(key) && typeof value === 'string' && value.includes('{{')) {
        problems.push({ path: [key], message: `${key}: a template is not supported here; write the value itself` });
        continue;
      }
      // Alertmanager's timeout 0 means none; the pipeline's attempt timeout bounds the request anyway.
      if (key === 'timeout' && /^0+(ms|s|m|h)?$/.test(String(value))) continue;
      if ((SAME as readonly string[]).includes(key)) config[key] = value;
      else if ((FALSE_IS_DEFAULT as readonly string[]).includes(key)) {
        if (value !== false) problems.push({ path: [key], message: `${key}: ${value === true ? 'true' : JSON.stringify(value)} has no equivalent in the slack sink (only false, the default)` });
      } else if (key === 'api_url') config.webhook_url = value;
      else if (key === 'api_url_file') config.webhook_url_file = value;
      else if (key !== 'http_config') problems.push({ path: [key], message: `${key} has no equivalent in the slack sink${WHY[key] ? `: ${WHY[key]}` : ''}` });
    }
    if (entry.api_url !== undefined && entry.api_url_file !== undefined) problems.push({ path: ['api_url_file'], message: 'at most one of api_url and api_url_file' });
    if (entry.api_url === undefined && entry.api_url_file === undefined) {
      if (global.slack_api_url !== undefined) config.webhook_url = global.slack_api_url;
      else if (global.slack_api_url_file !== undefined) config.webhook_url_file = global.slack_api_url_file;
      else problems.push({ path: ['api_url'], message: 'missing: no api_url or api_url_file here, and no global slack_api_url or slack_api_url_file' });
    }
    // Alertmanager gives a receiver the global http_config when it has none of its own.
    const fromGlobal = entry.http_config === undefined;
    const http = fromGlobal ? global.http_config : entry.http_config;
    if (http !== undefined) {
      const mapped = httpConfig(http, fromGlobal ? ['http_config', '(global)'] : ['http_config']);
      problems.push(...mapped.problems);
      if (mapped.caFile !== undefined) config.tls = { ca_file: mapped.caFile };
    }
    return problems.length > 0 ? { problems } : { config };
  },
};

function httpConfig(value: unknown, at: Array<string | number>): { caFile?: string; problems: Problem[] } {
  // Problems inside the global http_config are reported at the entry's http_config: the entry inherits them.
  const path = (key: string): Array<string | number> => [at[0], key];
  const label = at.length > 1 ? 'global http_config' : 'http_config';
  if (!isRecord(value)) return { problems: [{ path: [at[0]], message: `${label}: expected a mapping` }] };
  const problems: Problem[] = [];
  let caFile: string | undefined;
  for (const [key, v] of Object.entries(value)) {
    if (key === 'follow_redirects' && typeof v === 'boolean') continue; // the sink never follows one: a redirect is a permanent failure
    if (key === 'enable_http2' && v === true) continue; // a default that asks for nothing
    if (key === 'tls_config') {
      if (!isRecord(v)) {
        problems.push({ path: path(key), message: `${label}.tls_config: expected a mapping` });
        continue;
      }
      for (const [tlsKey, tlsValue] of Object.entries(v)) {
        if (tlsKey === 'ca_file' && typeof tlsValue === 'string') caFile = tlsValue;
        else if (tlsKey === 'insecure_skip_verify' && tlsValue === false) continue;
        else problems.push({ path: [at[0], key, tlsKey], message: `${label}.tls_config.${tlsKey} has no equivalent in the slack sink (only ca_file)` });
      }
      continue;
    }
    problems.push({ path: path(key), message: `${label}.${key} has no equivalent in the slack sink${WHY[key] ? `: ${WHY[key]}` : ' (only tls_config.ca_file)'}` });
  }
  return { ...(caFile !== undefined && { caFile }), problems };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
