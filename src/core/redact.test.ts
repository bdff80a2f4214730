import { isSecretKey, redactSecrets, redactText, redactValue } from './redact';

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

  it('covers pass, passwd, auth, apikey, dsn, cookie and private_key keys at any depth', () => {
    const secrets = { pass: 'p1', passwd: 'p2', Authorization: 'Bearer p3', apikey: 'p4', SENTRY_DSN: 'p5', cookie: 'p6', private_key: 'p7', auth: { user: 'u', pw: 'p8' } };
    let deep: unknown = secrets;
    for (let i = 0; i < 50; i++) deep = { level: i, nested: [deep] };
    const text = JSON.stringify(redactSecrets(deep));
    expect(text).not.toMatch(/p[1-8]/);
    expect(text).toContain('"level":49');
  });

  it('redacts credentials in URL values: userinfo and secret-looking query parameters', () => {
    const out = redactSecrets({ DB_URL: 'postgres://u:pw@h:5432/db', hook: 'see https://api.test/x?page=2&token=abc&sig=ok', note: 'mailto at@example.com' });
    expect(out.DB_URL).toMatch(/^postgres:\/\/\*\*\*[0-9a-f]{8}@h:5432\/db$/);
    expect(out.hook).toMatch(/^see https:\/\/api\.test\/x\?page=2&token=\*\*\*[0-9a-f]{8}&sig=ok$/);
    expect(out.note).toBe('mailto at@example.com');
    // A password holding "@" is covered whole; a changed password stays visible as a changed hash.
    expect(redactText('amqp://guest:p@ss@rabbit/vhost')).not.toMatch(/p@ss|ss@/);
    expect(redactText('postgres://u:one@h/db')).not.toBe(redactText('postgres://u:two@h/db'));
  });

  it('is idempotent, never modifies its input and shares what it does not change', () => {
    const clean = { a: { b: [1, 2, 'x'] } };
    expect(redactSecrets(clean)).toBe(clean);
    const input = { a: { token: 't' }, b: { c: 1 }, url: 'redis://:pw@r/0' };
    const frozen = JSON.stringify(input);
    const once = redactSecrets(input);
    expect(JSON.stringify(input)).toBe(frozen);
    expect(once.b).toBe(input.b);
    expect(redactSecrets(once)).toEqual(once);
  });

  it('handles data nested 100,000 deep and cycles without a stack overflow', () => {
    let deep: unknown = { password: 'deep-secret' };
    for (let i = 0; i < 100_000; i++) deep = [deep];
    let out = redactSecrets(deep) as unknown;
    for (let i = 0; i < 100_000; i++) out = (out as unknown[])[0];
    expect(out).toEqual({ password: expect.stringMatching(/^\*\*\*[0-9a-f]{8}$/) });
    const cyclic: Record<string, unknown> = { token: 'x', name: 'n' };
    cyclic.self = cyclic;
    expect(redactSecrets(cyclic)).toEqual({ token: expect.stringMatching(/^\*\*\*/), name: 'n', self: '[Circular]' });
    expect(redactValue(deep)).toMatch(/^\*\*\*[0-9a-f]{8}$/);
  });

  it('keeps a __proto__ key as data', () => {
    const input = JSON.parse('{"__proto__": {"secret": "s"}, "x": 1}') as Record<string, unknown>;
    const out = redactSecrets(input);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['__proto__', 'x']);
    expect(JSON.stringify(out)).not.toContain('"s"');
  });

  it('makes a change visible without revealing either value', () => {
    expect(redactValue('a')).not.toBe(redactValue('b'));
    expect(redactValue('a')).toBe(redactValue('a'));
    expect(redactValue(null)).toBe('***');
  });
});

describe('redactSecrets across realms', () => {
  it('walks plain objects made in another realm (structuredClone, a vm context) like its own', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fromVm = (require('node:vm') as typeof import('node:vm')).runInNewContext('({ a: { password: "hunter2" } })') as object;
    for (const value of [structuredClone({ a: { password: 'hunter2' } }), fromVm]) {
      expect(JSON.stringify(redactSecrets(value))).not.toContain('hunter2');
    }
    class Holder {
      password = 'kept';
    }
    expect(redactSecrets({ h: new Holder() }).h).toBeInstanceOf(Holder);
  });
});
