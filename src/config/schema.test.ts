import { DEFAULT_BUS_OPTIONS } from '../bus/event-bus';
import { DEFAULT_STORE_OPTIONS } from '../store/sqlite-event-store';
import { agentConfigSchema, durationSchema } from './schema';

describe('defaults', () => {
  it('are declared once: the bus and the store take theirs from the config schema', () => {
    const { bus, store } = agentConfigSchema.parse({});
    expect(DEFAULT_BUS_OPTIONS).toEqual(bus);
    const { enabled: _enabled, data_dir: _dataDir, ...storeOptions } = store;
    expect(DEFAULT_STORE_OPTIONS).toEqual(storeOptions);
  });
});

describe('durationSchema', () => {
  it.each([
    [1500, 1500],
    [0, 0],
    ['250ms', 250],
    ['10s', 10_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['14d', 14 * 86_400_000],
  ])('parses %p to %p ms', (input, ms) => {
    expect(durationSchema.parse(input)).toBe(ms);
  });

  it.each([
    ['10 seconds', 'expected a duration like 500ms, 10s, 5m or 1h'],
    ['1w', 'expected a duration like 500ms, 10s, 5m or 1h'],
    [-1, 'Too small: expected number to be >=0'],
    [1.5, 'expected a duration like 500ms, 10s, 5m, 1h or 14d, or milliseconds'],
    [true, 'expected a duration like 500ms, 10s, 5m, 1h or 14d, or milliseconds'],
    [undefined, 'missing: expected a duration like 10s, 5m, 1h or 14d'],
  ])('rejects %p with a helpful message', (input, message) => {
    const result = durationSchema.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0].message).toBe(message);
  });
});
