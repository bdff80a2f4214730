import type { AlertmanagerIntegration } from 'praxis-agent';
import { SEVERITIES } from './config';

/**
 * An entry of an Alertmanager receiver's `pagerduty_configs` as this sink's config. Texts map one to
 * one, templates included (the sink's schema compiles them, so one outside the supported subset is
 * refused at validation with its line:column). Alertmanager's default templates
 * (`{{ template "pagerduty.default.description" . }}` and the like, and the default four `details`)
 * are dropped: the sink's own defaults say the same. A severity read from a label
 * (`{{ .CommonLabels.severity }}`) becomes the sink's label mode, which also works when the alerts
 * of a group differ in it. Fields without an equivalent are problems naming the field.
 */

type Problem = { path: Array<string | number>; message: string };

const DEFAULT_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

/** Alertmanager's defaults for these fields: the sink's own defaults say the same. */
const DEFAULT_TEMPLATES: Readonly<Record<string, RegExp>> = {
  description: /^\{\{\s*template\s+"pagerduty\.default\.description"\s+\.\s*\}\}$/,
  client: /^\{\{\s*template\s+"pagerduty\.default\.client"\s+\.\s*\}\}$/,
  client_url: /^\{\{\s*template\s+"pagerduty\.default\.clientURL"\s+\.\s*\}\}$/,
};

/** Alertmanager's default `details`, which the sink's custom_details already carry (the alerts, firing and resolved). */
const DEFAULT_DETAILS: Readonly<Record<string, string>> = {
  firing: '{{ .Alerts.Firing | toJson }}',
  resolved: '{{ .Alerts.Resolved | toJson }}',
  num_firing: '{{ .Alerts.Firing | len }}',
  num_resolved: '{{ .Alerts.Resolved | len }}',
};

const LABEL_TEMPLATE = /^\{\{\s*\.CommonLabels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}$/;

const TEXT_FIELDS = ['client', 'source', 'class', 'component', 'group'] as const;

export const toConfig: AlertmanagerIntegration['toConfig'] = (entry, { global }) => {
  const problems: Problem[] = [];
  const config: Record<string, unknown> = {};
  const problem = (path: Array<string | number>, message: string): void => void problems.push({ path, message });
  const isTemplate = (value: unknown): boolean => typeof value === 'string' && value.includes('{{');
  const isDefault = (key: string, value: unknown): boolean => typeof value === 'string' && DEFAULT_TEMPLATES[key]?.test(value.trim()) === true;

  for (const [key, value] of Object.entries(entry)) {
    switch (key) {
      case 'routing_key':
      case 'routing_key_file':
      case 'send_resolved':
      case 'links':
      case 'images':
        // send_resolved is returned for the loader, which makes it the instance's delivery setting.
        config[key] = value;
        break;
      case 'service_key':
      case 'service_key_file':
        problem([key], `${key} is PagerDuty's Events API v1, which this sink does not support: use routing_key (an Events API v2 integration key)`);
        break;
      case 'url':
        setServer(value, [key]);
        break;
      case 'severity':
        if (typeof value === 'string' && (SEVERITIES as readonly string[]).includes(value)) config.severity = value;
        else if (typeof value === 'string' && LABEL_TEMPLATE.test(value.trim())) config.severity = { label: LABEL_TEMPLATE.exec(value.trim())?.[1] };
        else if (isTemplate(value)) config.severity = { template: value };
        else problem([key], `severity: expected critical, error, warning, info or a template rendering one of them, got ${JSON.stringify(value)}`);
        break;
      case 'description':
        if (!isDefault(key, value)) config.summary = value;
        break;
      case 'client_url':
        if (isDefault(key, value)) break;
        if (isTemplate(value)) problem([key], 'client_url: a template is not supported here; write the URL (the default links nowhere: the agent has no external URL)');
        else config.client_url = value;
        break;
      case 'details':
        mapDetails(value);
        break;
      case 'http_config':
        mapHttpConfig(value);
        break;
      default:
        if ((TEXT_FIELDS as readonly string[]).includes(key)) {
          if (!isDefault(key, value)) config[key] = value;
        } else {
          problem([key], `pagerduty_configs field "${key}" has no equivalent in the pagerduty sink; supported: routing_key, routing_key_file, url, severity, description, details, client, client_url, source, class, component, group, links, images, send_resolved, http_config.tls_config (ca_file, insecure_skip_verify)`);
        }
    }
  }
  if (entry.url === undefined && global.pagerduty_url !== undefined) setServer(global.pagerduty_url, ['url'], 'global.pagerduty_url');
  return problems.length > 0 ? { problems } : { config };

  function setServer(value: unknown, path: Array<string | number>, what = 'url'): void {
    let url: URL;
    try {
      url = new URL(String(value));
    } catch {
      return problem(path, `${what}: not a URL: ${JSON.stringify(value)}`);
    }
    if (url.protocol !== 'https:') return problem(path, `${what}: the PagerDuty client speaks https only, got ${url.protocol}//`);
    if (!['', '/', '/v2/enqueue'].includes(url.pathname) || url.search || url.username || url.password) {
      return problem(path, `${what}: only the Events API v2 endpoint of a host is supported (https://HOST[:PORT]/v2/enqueue), got path ${JSON.stringify(url.pathname)}`);
    }
    if (url.href !== DEFAULT_EVENTS_URL) config.server = url.host;
  }

  function mapDetails(value: unknown): void {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return problem(['details'], 'details: expected a map of names to texts');
    const details: Record<string, string> = {};
    for (const [name, text] of Object.entries(value)) {
      if (DEFAULT_DETAILS[name] !== undefined && typeof text === 'string' && text.replace(/\s+/g, ' ').trim() === DEFAULT_DETAILS[name]) continue;
      details[name] = typeof text === 'string' ? text : JSON.stringify(text);
    }
    if (Object.keys(details).length > 0) config.details = details;
  }

  function mapHttpConfig(value: unknown): void {
    if (typeof value !== 'object' || value === null) return problem(['http_config'], 'http_config: expected a map');
    for (const [key, inner] of Object.entries(value)) {
      if (key !== 'tls_config') {
        problem(['http_config', key], `http_config.${key} has no equivalent in the pagerduty sink (only tls_config.ca_file and tls_config.insecure_skip_verify)`);
        continue;
      }
      if (typeof inner !== 'object' || inner === null) {
        problem(['http_config', 'tls_config'], 'http_config.tls_config: expected a map');
        continue;
      }
      const tls: Record<string, unknown> = {};
      for (const [tlsKey, tlsValue] of Object.entries(inner)) {
        if (tlsKey === 'ca_file' || tlsKey === 'insecure_skip_verify') tls[tlsKey] = tlsValue;
        else problem(['http_config', 'tls_config', tlsKey], `http_config.tls_config.${tlsKey} has no equivalent in the pagerduty sink (only ca_file and insecure_skip_verify)`);
      }
      if (Object.keys(tls).length > 0) config.tls = tls;
    }
  }
};
