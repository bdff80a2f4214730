import { PassThrough } from 'node:stream';
import { createLogger, type LoggerOptions } from './logger';

/** Logs through a real logger into a stream and returns what was written. */
async function written(format: LoggerOptions['format'], log: (logger: ReturnType<typeof createLogger>) => void): Promise<string> {
  const destination = new PassThrough();
  const chunks: Buffer[] = [];
  destination.on('data', (chunk: Buffer) => chunks.push(chunk));
  const logger = createLogger({ level: 'info', format, destination });
  log(logger);
  logger.flush();
  await new Promise((resolve) => setImmediate(resolve));
  return Buffer.concat(chunks).toString('utf8');
}

describe('createLogger', () => {
  it('writes JSON lines; a plugin child names its plugin on every line', async () => {
    const text = await written('json', (logger) => {
      const child = logger.child({ plugin: 'events-log' });
      child.info('one');
      child.warn({ n: 2 }, 'two');
    });
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([expect.objectContaining({ plugin: 'events-log', msg: 'one', level: 30 }), expect.objectContaining({ plugin: 'events-log', msg: 'two', n: 2, level: 40 })]);
  });

  it('writes readable (non-JSON) lines with format pretty, still naming the plugin', async () => {
    const text = await written('pretty', (logger) => logger.child({ plugin: 'events-log' }).info('hello there'));
    expect(text).toContain('hello there');
    expect(text).toContain('events-log');
    expect(() => JSON.parse(text.trim().split('\n')[0])).toThrow();
  });

  it.each([
    [false, 'JSON'],
    [true, 'readable lines'],
  ])('with format auto and stdout.isTTY %s, writes %s', async (isTTY, _kind) => {
    const tty = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
    Object.defineProperty(process.stdout, 'isTTY', { value: isTTY, configurable: true });
    try {
      const text = await written('auto', (logger) => logger.info('auto'));
      expect(text).toContain('auto');
      const parsed = ((): unknown => {
        try {
          return JSON.parse(text.trim());
        } catch {
          return undefined;
        }
      })();
      if (isTTY) expect(parsed).toBeUndefined();
      else expect(parsed).toMatchObject({ msg: 'auto' });
    } finally {
      if (tty) Object.defineProperty(process.stdout, 'isTTY', tty);
      else delete (process.stdout as { isTTY?: boolean }).isTTY;
    }
  });

  it('redacts secrets wherever they appear in a logged object', async () => {
    const text = await written('json', (logger) => logger.info({ http: { auth_token: 's3cret-token' }, headers: { authorization: 'Bearer s3cret-token' } }, 'config'));
    expect(text).not.toContain('s3cret-token');
    expect(text).toMatch(/"auth_token":"\*\*\*[0-9a-f]{8}"/);
  });

  it('redacts with the one function at any depth, in bindings, errors and the message, in both formats', async () => {
    let deep: Record<string, unknown> = { db: { passwd: 'pw-deep', dsn: 'pw-dsn' } };
    for (let i = 0; i < 12; i++) deep = { nested: deep };
    for (const format of ['json', 'pretty'] as const) {
      const text = await written(format, (logger) => {
        logger.info(deep, 'deep');
        logger.child({ plugin: 'p', cookie: 'pw-cookie' }).info({ url: 'postgres://u:pw-url@h/db' }, 'connecting to mysql://root:pw-msg@db/x?apikey=pw-query');
        logger.error({ err: new Error('connect failed: amqp://guest:pw-err@rabbit') }, 'failed');
      });
      expect(text).toContain('connecting to mysql://');
      expect(text).not.toMatch(/pw-/);
    }
    const input = { token: 'pw-input' };
    await written('json', (logger) => logger.info(input, 'x'));
    expect(input.token).toBe('pw-input');
  });
});
