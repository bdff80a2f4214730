import { z } from 'zod';
import { durationSchema } from './schema';
import { toPathIssues } from './issues';

function issuesFor(schema: z.ZodType, input: unknown) {
  const result = schema.safeParse(input);
  if (result.success) throw new Error('expected a validation error');
  return toPathIssues(result.error, { schema, input, prefix: ['plugins', 0, 'config'] });
}

describe('toPathIssues', () => {
  const schema = z.strictObject({ window: durationSchema, name: z.string() });

  it('reports an absent duration (a union) as a missing key, anchored at the parent map', () => {
    expect(issuesFor(schema, { name: 'x' })).toEqual([
      { path: ['plugins', 0, 'config', 'window'], code: 'CONFIG_MISSING_KEY', anchor: 'parent', message: 'missing required key "window" (expected number or string)' },
    ]);
  });

  it('reports a present duration of the wrong type as an invalid value', () => {
    expect(issuesFor(schema, { name: 'x', window: true })).toEqual([
      { path: ['plugins', 0, 'config', 'window'], code: 'CONFIG_INVALID_VALUE', anchor: 'value', message: 'expected number or string, received boolean' },
    ]);
  });
});
