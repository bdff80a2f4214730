import { PassThrough } from 'node:stream';
import pino from 'pino';
import { FakeClock } from 'praxis-agent/testing';
import { CUT_SUMMARY_MS, SlowCutLog } from './slow-cuts';

function logged(): { log: SlowCutLog; clock: FakeClock; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => out.push(...chunk.toString().split('\n').filter((l) => l.length > 0)));
  const clock = new FakeClock();
  // pino writes to the stream synchronously; 'data' fires on the next tick.
  const log = new SlowCutLog(pino({ level: 'info' }, stream), clock);
  return { log, clock, lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('SlowCutLog', () => {
  it('logs the first cut of an episode with its details, then one line per second counting the cuts since; a quiet second ends the episode', async () => {
    const { log, clock, lines } = logged();
    for (let i = 0; i < 500; i++) log.cut({ connection: `c${i}`, lag_ms: 2100 }, 'websocket client too slow: disconnected (max_lag)');
    await tick();
    expect(lines()).toEqual([expect.objectContaining({ level: 40, connection: 'c0', lag_ms: 2100, msg: 'websocket client too slow: disconnected (max_lag)' })]);
    await clock.advance(CUT_SUMMARY_MS);
    for (let i = 0; i < 7; i++) log.cut({ connection: `d${i}` }, 'websocket client too slow: disconnected (max_lag)');
    await tick();
    expect(lines().slice(1)).toEqual([expect.objectContaining({ level: 40, disconnected: 499, disconnected_in_episode: 500, msg: 'websocket clients too slow: 499 more disconnected (1013) in the last 1 s' })]);
    await clock.advance(CUT_SUMMARY_MS);
    await tick();
    expect(lines().slice(2)).toEqual([expect.objectContaining({ disconnected: 7, disconnected_in_episode: 507 })]);
    await clock.advance(CUT_SUMMARY_MS); // a second without a cut: the episode ends, nothing logged
    await tick();
    expect(lines()).toHaveLength(3);
    expect(clock.pending).toBe(0);
    log.cut({ connection: 'e0' }, 'websocket client too slow: disconnected (max_buffered_bytes)');
    await tick();
    expect(lines().slice(3)).toEqual([expect.objectContaining({ connection: 'e0', msg: 'websocket client too slow: disconnected (max_buffered_bytes)' })]);
  });

  it('flush() logs the cuts not yet counted and cancels its timer (stop)', async () => {
    const { log, clock, lines } = logged();
    log.cut({ connection: 'a' }, 'first');
    log.cut({ connection: 'b' }, 'second');
    log.flush();
    await tick();
    expect(lines().map((l) => l.disconnected ?? l.connection)).toEqual(['a', 1]);
    expect(clock.pending).toBe(0);
  });
});
