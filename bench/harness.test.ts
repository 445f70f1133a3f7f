import { describe, expect, it } from 'vitest';
import { formatTable } from './harness.ts';

describe('formatTable', () => {
  it('prints a ratio against the baseline of the same run', () => {
    const table = formatTable([
      {
        suite: 's',
        name: 'tunnel',
        value: 50,
        unit: 'MB/s',
        baseline: { name: 'direct', value: 100 },
      },
    ]);
    expect(table).toContain('0.50x direct');
    expect(table.split('\n')).toHaveLength(3);
  });
});
