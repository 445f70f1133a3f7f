import { describe, expect, it } from 'vitest';
import { formatTable, goalSummary, median, withGoal } from './harness.ts';

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

describe('goals', () => {
  it('judges a ratio against its baseline, and a plain value against its bound', () => {
    const ratio = withGoal(
      { suite: 's', name: 'down', value: 60, unit: 'MB/s', baseline: { name: 'c', value: 100 } },
      { atLeast: 0.7, text: '>= 0.7x ceiling' },
    );
    expect(ratio.met).toBe(false);
    const plain = withGoal(
      { suite: 's', name: 'visit', value: 1200, unit: 'ms' },
      { atMost: 1500, text: '< 1500 ms' },
    );
    expect(plain.met).toBe(true);
    expect(withGoal({ ...plain, value: Number.NaN }, { atMost: 1, text: 'x' }).met).toBe(false);
    expect(goalSummary([ratio, plain, { suite: 's', name: 'n', value: 1, unit: 'ms' }])).toBe(
      'goals met: 1 of 2 (missed: s down)',
    );
    expect(formatTable([ratio])).toContain('MISSED: >= 0.7x ceiling');
  });

  it('takes the median of repeated samples', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(() => median([])).toThrow();
  });
});
