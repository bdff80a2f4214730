import { compileTemplate, TemplateError, type AlertmanagerIntegration } from 'praxis-agent';

/**
 * An Alertmanager `email_configs` entry as the email sink's config (see README "Alertmanager
 * mapping"), plus `send_resolved`, which belongs to the plugin entry's `delivery:` (the core
 * pipeline drops resolved alerts for a sink), not to the sink's own config: the importer moves it.
 * Alertmanager's defaults are kept where they differ from the sink's own: send_resolved false,
 * require_tls true, implicit TLS on port 465. `html`, `text` and `headers.Subject` are Go
 * templates: they become the sink's templates, compiled here so that one outside the supported
 * subset is a problem at its own key (with the template's line:column); Alertmanager's defaults
 * (`{{ template "email.default.html" . }}`, `... "email.default.subject" ...`) become the sink's
 * own rendering.
 */

type Problem = { path: Array<string | number>; message: string };

/** Entry fields with no equivalent, and what to do instead. */
const REFUSED: Record<string, string> = {
  hello: 'the agent does not set the EHLO name; remove hello',
  auth_secret: 'CRAM-MD5 (auth_secret) is not supported; use auth_password or auth_password_file (AUTH PLAIN/LOGIN)',
  auth_secret_file: 'CRAM-MD5 (auth_secret_file) is not supported; use auth_password or auth_password_file (AUTH PLAIN/LOGIN)',
  threading: 'mail threading is not supported; each notification is a separate mail; remove threading',
};

/** Global smtp_* keys with no equivalent. */
const REFUSED_GLOBAL: Record<string, string> = {
  smtp_hello: 'the agent does not set the EHLO name; remove global.smtp_hello',
  smtp_auth_secret: 'CRAM-MD5 is not supported; use global.smtp_auth_password',
  smtp_auth_secret_file: 'CRAM-MD5 is not supported; use global.smtp_auth_password_file',
};

/** Alertmanager's default templates, which name its own template files: the sink's rendering stands for them. */
const DEFAULT_SUBJECT = /^\s*\{\{-?\s*template\s+"email\.default\.subject"\s+\.\s*-?\}\}\s*$/;
const DEFAULT_HTML = /^\s*\{\{-?\s*template\s+"email\.default\.html"\s+\.\s*-?\}\}\s*$/;

const TLS_KEYS = new Set(['ca_file', 'insecure_skip_verify', 'server_name']);

export const emailAlertmanagerIntegration: AlertmanagerIntegration = {
  key: 'email_configs',
  toConfig(entry, { global }) {
    const problems: Problem[] = [];
    const known = new Set(['send_resolved', 'to', 'from', 'smarthost', 'auth_username', 'auth_password', 'auth_password_file', 'auth_identity', 'headers', 'html', 'text', 'require_tls', 'tls_config', 'force_implicit_tls']);
    for (const key of Object.keys(entry)) {
      if (REFUSED[key] !== undefined) problems.push({ path: [key], message: `${key} has no equivalent: ${REFUSED[key]}` });
      else if (!known.has(key)) problems.push({ path: [key], message: `${key} is not an email_configs field the agent knows; remove it (see plugins/email/README.md, "Alertmanager mapping")` });
    }
    for (const key of Object.keys(global)) {
      if (REFUSED_GLOBAL[key] !== undefined && global[key] !== undefined && global[key] !== '') problems.push({ path: [], message: `global.${key} has no equivalent: ${REFUSED_GLOBAL[key]}` });
    }

    const pick = (key: string, globalKey?: string): unknown => entry[key] ?? (globalKey === undefined ? undefined : global[globalKey]);
    const text = (key: string, value: unknown, where: Array<string | number> = [key]): string | undefined => {
      if (value === undefined || value === null || value === '') return undefined;
      if (typeof value === 'string') return value;
      problems.push({ path: where, message: 'expected a string' });
      return undefined;
    };
    const flag = (key: string, value: unknown): boolean | undefined => {
      if (value === undefined || value === null) return undefined;
      if (typeof value === 'boolean') return value;
      problems.push({ path: [key], message: 'expected true or false' });
      return undefined;
    };

    /** The template as the sink's, undefined for Alertmanager's default; a problem when it does not compile. */
    const template = (source: string, where: Array<string | number>, alertmanagerDefault?: RegExp): string | undefined => {
      if (alertmanagerDefault?.test(source)) return undefined;
      try {
        compileTemplate(source);
        return source;
      } catch (error) {
        if (!(error instanceof TemplateError)) throw error;
        problems.push({ path: where, message: `template ${error.message}` });
        return undefined;
      }
    };

    const config: Record<string, unknown> = {};
    const smarthost = text('smarthost', pick('smarthost', 'smtp_smarthost'));
    if (smarthost === undefined) problems.push({ path: ['smarthost'], message: 'missing: set smarthost ("host:port") here or global.smtp_smarthost' });
    else config.smarthost = smarthost;
    const from = text('from', pick('from', 'smtp_from'));
    if (from === undefined) problems.push({ path: ['from'], message: 'missing: set from here or global.smtp_from' });
    else config.from = from;
    const to = text('to', entry.to);
    if (to === undefined) problems.push({ path: ['to'], message: 'missing: the recipient address(es), comma-separated' });
    else config.to = to.split(',').map((a) => a.trim()).filter(Boolean);

    config.send_resolved = flag('send_resolved', entry.send_resolved) ?? false;
    config.require_tls = flag('require_tls', entry.require_tls) ?? flag('require_tls', global.smtp_require_tls) ?? true;
    const implicit = flag('force_implicit_tls', pick('force_implicit_tls', 'smtp_force_implicit_tls'));
    if (implicit !== undefined) config.secure = implicit;

    const username = text('auth_username', pick('auth_username', 'smtp_auth_username'));
    // The entry's password (or file) wins over the global pair as a whole, as in Alertmanager.
    const ownSecret = entry.auth_password !== undefined || entry.auth_password_file !== undefined;
    const password = text('auth_password', ownSecret ? entry.auth_password : global.smtp_auth_password);
    const passwordFile = text('auth_password_file', ownSecret ? entry.auth_password_file : global.smtp_auth_password_file);
    if (password !== undefined && passwordFile !== undefined) problems.push({ path: ['auth_password'], message: 'set auth_password or auth_password_file, not both' });
    if (username !== undefined) {
      if (password === undefined && passwordFile === undefined) problems.push({ path: ['auth_username'], message: 'auth_username needs auth_password or auth_password_file (here or in global)' });
      else config.auth = { username, ...(password !== undefined ? { password } : { password_file: passwordFile }) };
    } else if (password !== undefined || passwordFile !== undefined) {
      problems.push({ path: ['auth_username'], message: 'missing: auth_password is set but auth_username is not (here or in global)' });
    }
    // PLAIN's authorization identity: the agent always authorises as the user name itself.
    const identity = text('auth_identity', pick('auth_identity', 'smtp_auth_identity'));
    if (identity !== undefined && identity !== username) {
      problems.push({ path: ['auth_identity'], message: 'auth_identity (an authorization identity other than auth_username) is not supported; remove it to log in as auth_username' });
    }

    const tlsConfig = entry.tls_config ?? global.smtp_tls_config;
    if (tlsConfig !== undefined && tlsConfig !== null) {
      if (typeof tlsConfig !== 'object' || Array.isArray(tlsConfig)) problems.push({ path: ['tls_config'], message: 'expected a mapping' });
      else {
        const t = tlsConfig as Record<string, unknown>;
        const tls: Record<string, unknown> = {};
        for (const key of Object.keys(t)) {
          if (!TLS_KEYS.has(key)) problems.push({ path: ['tls_config', key], message: `tls_config.${key} has no equivalent: only ca_file, insecure_skip_verify and server_name are supported (client certificates and TLS versions are not)` });
        }
        const ca = text('tls_config.ca_file', t.ca_file, ['tls_config', 'ca_file']);
        if (ca !== undefined) tls.ca_file = ca;
        const skip = flag('tls_config.insecure_skip_verify', t.insecure_skip_verify);
        if (skip !== undefined) tls.reject_unauthorized = !skip;
        const name = text('tls_config.server_name', t.server_name, ['tls_config', 'server_name']);
        if (name !== undefined) tls.server_name = name;
        config.tls = tls;
      }
    }

    const headers = entry.headers;
    if (headers !== undefined && headers !== null) {
      if (typeof headers !== 'object' || Array.isArray(headers)) problems.push({ path: ['headers'], message: 'expected a mapping of header names to values' });
      else {
        const out: Record<string, string> = {};
        for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
          const lower = name.toLowerCase();
          if (lower === 'to' || lower === 'from') problems.push({ path: ['headers', name], message: `set ${lower} instead of the header` });
          else if (typeof value !== 'string') problems.push({ path: ['headers', name], message: 'expected a string' });
          else if (lower === 'subject') {
            const subject = template(value, ['headers', name], DEFAULT_SUBJECT);
            if (subject !== undefined) config.subject = subject;
          } else if (value.includes('{{')) problems.push({ path: ['headers', name], message: 'a Go template, but only the Subject header is rendered: write a fixed value' });
          else out[name] = value;
        }
        config.headers = out;
      }
    }
    for (const key of ['html', 'text'] as const) {
      const value = text(key, entry[key]);
      const mapped = value === undefined ? undefined : template(value, [key], key === 'html' ? DEFAULT_HTML : undefined);
      if (mapped !== undefined) config[key] = mapped;
    }
    return problems.length > 0 ? { problems } : { config };
  },
};
