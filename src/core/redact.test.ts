import { isSecretKey, redactSecrets, redactValue } from './redact';

describe('redaction', () => {
  it('recognises secret-looking keys case-insensitively', () => {
    expect(['db_password', 'API_TOKEN', 'slack_webhook_url', 'routing_key', 'aws_credentials', 'client_secret'].filter((k) => isSecretKey(k))).toHaveLength(6);
    expect(isSecretKey('hostname')).toBe(false);
    expect(isSecretKey('hostname', ['host'])).toBe(true);
  });

  it('replaces secret values deep inside objects and arrays, keeping the rest', () => {
    const input = { db: { host: 'pg', password: 'hunter2' }, sinks: [{ webhook_url: 'https://hooks.example/T/B/x', channel: '#ops' }] };
    const out = redactSecrets(input);
    expect(out.db.host).toBe('pg');
    expect(out.sinks[0].channel).toBe('#ops');
    expect(out.db.password).toMatch(/^\*\*\*[0-9a-f]{8}$/);
    expect(JSON.stringify(out)).not.toContain('hunter2');
    expect(JSON.stringify(out)).not.toContain('hooks.example');
    expect(input.db.password).toBe('hunter2');
  });

  it('makes a change visible without revealing either value', () => {
    expect(redactValue('a')).not.toBe(redactValue('b'));
    expect(redactValue('a')).toBe(redactValue('a'));
    expect(redactValue(null)).toBe('***');
  });
});
