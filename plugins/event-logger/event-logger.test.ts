import { PassThrough } from 'node:stream';
import pino from 'pino';
import { createPluginHarness, runPluginConformance, sampleEvents } from 'praxis-agent/testing';
import eventLogger from './index';

runPluginConformance(eventLogger);

function capture(): { logger: pino.Logger; lines: () => Record<string, unknown>[] } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  return {
    logger: pino({ level: 'debug' }, stream),
    lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('event-logger', () => {
  it('logs matching events with the plugin name, and only those', async () => {
    const { logger, lines } = capture();
    const h = createPluginHarness(eventLogger, { name: 'events-log', logger, config: { types: ['system.*'], level: 'warn' } });
    await h.start();
    await h.bus.publish('system.error', sampleEvents['system.error'], { correlation_id: 'req-1' });
    await h.bus.publish('config.changed', sampleEvents['config.changed']);
    await h.stop();
    await new Promise((resolve) => setImmediate(resolve));
    const logged = lines().filter((l) => l.event !== undefined);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      level: 40,
      plugin: 'events-log',
      event: 'system.error',
      correlation_id: 'req-1',
      data: { message: 'disk full' },
    });
  });

  it('omits data when include_data is false', async () => {
    const { logger, lines } = capture();
    const h = createPluginHarness(eventLogger, { logger, config: { include_data: false } });
    await h.start();
    await h.bus.publish('service.status', sampleEvents['service.status']);
    await h.stop();
    await new Promise((resolve) => setImmediate(resolve));
    const logged = lines().find((l) => l.event === 'service.status');
    expect(logged).toBeDefined();
    expect(logged).not.toHaveProperty('data');
  });

  it('logs an event once when patterns overlap, redacts secrets at any depth, and refuses unknown exact types', async () => {
    const { logger, lines } = capture();
    const h = createPluginHarness(eventLogger, { logger, config: { types: ['*', 'config.*', 'config.changed'] } });
    await h.start();
    await h.bus.publish('config.changed', { config_path: 'app.yaml#db', old_value: { host: 'a', login: { password: 'hunter2' } }, new_value: { host: 'b', login: { password: 'swordfish' } } });
    await h.stop();
    await new Promise((resolve) => setImmediate(resolve));
    const logged = lines().filter((l) => l.event === 'config.changed');
    expect(logged).toHaveLength(1);
    expect(JSON.stringify(logged[0])).not.toMatch(/hunter2|swordfish/);
    expect(logged[0]).toMatchObject({ data: { old_value: { host: 'a', login: { password: expect.stringMatching(/^\*\*\*/) } } } });

    const typo = createPluginHarness(eventLogger, { config: { types: ['system.eror'] } });
    await expect(typo.start()).rejects.toThrow(/system\.eror/);
  });

  it('rejects an invalid pattern in its config', () => {
    expect(eventLogger.configSchema.safeParse({ types: ['sys*'] }).success).toBe(false);
  });
});

describe('event-logger as a sink', () => {
  it('logs one line per notification and answers delivered', async () => {
    const { logger, lines } = capture();
    const h = createPluginHarness(eventLogger, { name: 'events-log', logger, config: { types: ['system.error'], level: 'info' } });
    await h.start();
    const sink = h.instance as unknown as import('praxis-agent').Notifier;
    const result = await sink.send(
      {
        receiver: 'ops',
        groupKey: '{}:{alertname="DISK_FULL"}',
        groupLabels: { alertname: 'DISK_FULL' },
        commonLabels: { alertname: 'DISK_FULL' },
        commonAnnotations: {},
        status: 'firing',
        alerts: [{ status: 'firing', labels: { alertname: 'DISK_FULL' }, annotations: { summary: 'disk full on https://backup:hunter2@db.internal' }, startsAt: '2026-11-30T12:00:00.000Z', fingerprint: '0123456789abcdef' }],
        truncatedAlerts: 2,
        reminder: true,
        reason: 'repeat_interval_elapsed',
        timestamp: '2026-11-30T12:00:30.000Z',
        recentChanges: [{ at: '2026-11-30T11:59:00.000Z', config_path: 'agent.config.yaml#http.port', old_value: 1, new_value: 2 }],
      },
      new AbortController().signal,
    );
    await h.stop();
    expect(result).toEqual({ outcome: 'delivered' });
    const line = lines().find((l) => l.receiver === 'ops');
    expect(line).toMatchObject({ level: 30, msg: 'notification to ops: FIRING 3 alerts (alertname=DISK_FULL), reminder', truncated_alerts: 2, recent_changes: ['agent.config.yaml#http.port'], alerts: [{ alertname: 'DISK_FULL', summary: expect.stringMatching(/^disk full on https:\/\/\*\*\*[0-9a-f]{8}@db\.internal$/), fingerprint: '0123456789abcdef' }] });
    expect(JSON.stringify(lines())).not.toContain('hunter2');
  });
});
