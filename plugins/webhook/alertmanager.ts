import type { AlertmanagerIntegration } from 'praxis-agent';

type Problem = { path: Array<string | number>; message: string };

/**
 * An entry of an Alertmanager receiver's `webhook_configs` as this sink's config. Mapped:
 * `url`, `url_file`, `send_resolved`, `max_alerts`, `timeout` (Alertmanager ≥ 0.28) and of
 * `http_config` (the entry's, else `global.http_config`, as Alertmanager does): `tls_config`
 * (`ca_file`, `cert_file`, `key_file`, `server_name`, `insecure_skip_verify`), `authorization`,
 * `bearer_token` / `bearer_token_file` (as `authorization`), `basic_auth`, and the transport
 * switches the sink already behaves as (`follow_redirects: false`, `enable_http2`). Anything
 * else, `proxy_url` included, is a problem naming the field. Pure: file paths are passed on.
 */
export const webhookAlertmanager: AlertmanagerIntegration = {
  key: 'webhook_configs',
  toConfig(entry, context) {
    const problems: Problem[] = [];
    const config: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(entry)) {
      switch (key) {
        case 'url':
        case 'url_file':
        case 'send_resolved':
        case 'max_alerts':
        case 'timeout':
          config[key] = value;
          break;
        case 'http_config':
          break;
        default:
          problems.push({ path: [key], message: `webhook_configs field "${key}" has no equivalent in the webhook sink; supported: url, url_file, send_resolved, max_alerts, timeout, http_config` });
      }
    }
    const own = entry.http_config !== undefined;
    const httpConfig = own ? entry.http_config : context.global.http_config;
    if (httpConfig !== undefined && httpConfig !== null) {
      // A problem in global.http_config is reported at the entry's http_config: the entry is what is being mapped.
      const mapped = mapHttpConfig(httpConfig, ['http_config'], problems, own ? '' : ' (from global.http_config)');
      if (Object.keys(mapped).length > 0) config.http_config = mapped;
    }
    return problems.length > 0 ? { problems } : { config };
  },
};

function mapHttpConfig(value: unknown, path: string[], problems: Problem[], origin: string): Record<string, unknown> {
  if (!isRecord(value)) {
    problems.push({ path, message: `expected a mapping${origin}` });
    return {};
  }
  const out: Record<string, unknown> = {};
  const unsupported = (key: string, why: string): void => {
    problems.push({ path: [...path, key], message: `http_config.${key}${origin} ${why}` });
  };
  for (const [key, v] of Object.entries(value)) {
    switch (key) {
      case 'tls_config': {
        if (!isRecord(v)) {
          unsupported(key, 'must be a mapping');
          break;
        }
        const tls: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) {
          if (['ca_file', 'cert_file', 'key_file', 'server_name', 'insecure_skip_verify'].includes(k)) tls[k] = x;
          else problems.push({ path: [...path, key, k], message: `http_config.tls_config.${k}${origin} has no equivalent in the webhook sink; supported: ca_file, cert_file, key_file, server_name, insecure_skip_verify` });
        }
        out.tls_config = tls;
        break;
      }
      case 'authorization':
      case 'basic_auth':
        out[key] = v;
        break;
      case 'bearer_token':
        out.authorization = { type: 'Bearer', credentials: v };
        break;
      case 'bearer_token_file':
        out.authorization = { type: 'Bearer', credentials_file: v };
        break;
      case 'follow_redirects':
        if (v !== false) unsupported(key, 'is not supported: the webhook sink does not follow redirects (a 3xx answer is a permanent failure); set it to false or point url at the final address');
        break;
      case 'enable_http2':
        break; // a transport detail: the sink speaks HTTP/1.1, which every webhook server takes
      case 'proxy_url':
        unsupported(key, 'is not supported yet: the webhook sink connects directly (Node\'s HTTP client takes no proxy without an extra library)');
        break;
      default:
        unsupported(key, 'has no equivalent in the webhook sink; supported: tls_config, authorization, bearer_token, bearer_token_file, basic_auth, follow_redirects: false, enable_http2');
    }
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
