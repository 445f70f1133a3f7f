import { describe, expect, it } from 'vitest';
import { chartGeometry, niceMax } from './chart.ts';

const points = (s: string) => s.split(' ').map((p) => p.split(',').map(Number) as [number, number]);

describe('niceMax', () => {
  it('rounds up to 1, 2 or 5 times a power of ten, at least 1 KiB/s', () => {
    expect(niceMax(0)).toBe(1024);
    expect(niceMax(1500)).toBe(2000);
    expect(niceMax(3000)).toBe(5000);
    expect(niceMax(7000)).toBe(10_000);
    expect(niceMax(10_000)).toBe(10_000);
  });
});

describe('chartGeometry', () => {
  it('draws each interval as a step at its rate, ending at now', () => {
    const now = 300_000;
    const g = chartGeometry(
      [
        [240_000, 0, 0, 0],
        [270_000, 30_000 * 10, 0, 0], // 10 kB/s in
        [300_000, 30_000 * 10, 0, 0], // idle
      ],
      now,
      { width: 300, height: 100 },
    );
    expect(g.maxPerSec).toBe(10_000);
    const p = points(g.inPoints);
    expect(p[0]).toEqual([0, 100]);
    expect(p).toContainEqual([240, 0]); // full height from 240 s to 270 s
    expect(p).toContainEqual([270, 0]);
    expect(p).toContainEqual([270, 100]);
    expect(p.at(-1)).toEqual([300, 100]);
    expect(points(g.outPoints).every(([, y]) => y === 100)).toBe(true);
  });

  it('moves left as time passes', () => {
    const samples: [number, number, number, number][] = [
      [0, 0, 0, 0],
      [10_000, 100_000, 0, 0],
    ];
    const a = chartGeometry(samples, 20_000);
    const b = chartGeometry(samples, 50_000);
    expect(a.inPoints).not.toBe(b.inPoints);
  });

  it('clips intervals that started before the window', () => {
    const g = chartGeometry(
      [
        [0, 0, 0, 0],
        [600_000, 600_000 * 2048, 0, 0],
      ],
      600_000,
    );
    expect(points(g.inPoints).every(([x]) => x >= 0 && x <= 300)).toBe(true);
  });
});
