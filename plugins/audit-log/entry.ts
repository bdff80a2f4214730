import { DEFAULT_SECRET_KEY_PATTERNS, isSecretKey, redactSecrets, redactValue, type Event } from 'praxis-agent';
import { normaliseData, type AuditEntry } from './record';

const REDACTED = /^\*\*\*[0-9a-f]{8}$/;

/**
 * The audit entry for an event: metadata plus data with secrets redacted. Values under
 * secret-looking keys are replaced by `redactValue` (`***` + 8 hex of their SHA-256, so a change
 * stays visible); for `config.changed` of a secret-looking key (`file#http.auth_token`) the old and
 * new values themselves are redacted.
 */
export function toAuditEntry(event: Event, extraPatterns: readonly string[] = []): AuditEntry {
  const patterns = extraPatterns.length > 0 ? [...DEFAULT_SECRET_KEY_PATTERNS, ...extraPatterns] : DEFAULT_SECRET_KEY_PATTERNS;
  let data: unknown = redactSecrets(event.data as unknown, patterns);
  if (event.type === 'config.changed') {
    const changed = data as { config_path: string; old_value?: unknown; new_value?: unknown };
    const keyPath = changed.config_path.includes('#') ? changed.config_path.slice(changed.config_path.indexOf('#') + 1) : changed.config_path;
    if (keyPath.split(/[.[\]]/).some((segment) => segment !== '' && isSecretKey(segment, patterns))) {
      data = { ...changed, old_value: redactOnce(changed.old_value), new_value: redactOnce(changed.new_value) };
    }
  }
  const { metadata } = event;
  const normalised = normaliseData(data);
  return {
    timestamp: metadata.timestamp,
    type: event.type,
    event_id: metadata.event_id,
    correlation_id: metadata.correlation_id ?? null,
    source: metadata.source ?? null,
    tags: [...metadata.tags],
    data: normalised.data,
    dataJson: normalised.json,
  };
}

/** Redacts a value unless a producer already did (or it is absent: an added or removed key). */
function redactOnce(value: unknown): unknown {
  if (value === null || value === undefined) return value ?? null;
  return typeof value === 'string' && REDACTED.test(value) ? value : redactValue(value);
}
