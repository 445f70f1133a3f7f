import { describe, expect, it } from 'vitest';
import { ratesOf, recentRequestRate, ThroughputHistory } from './throughput.ts';

const totals = (bytesIn: number, bytesOut = 0, requests = 0) => ({ bytesIn, bytesOut, requests });

describe('ThroughputHistory', () => {
  it('keeps samples at least about a second apart', () => {
    const h = new ThroughputHistory();
    h.sample(1000, totals(1));
    h.sample(1500, totals(2));
    h.sample(2000, totals(3));
    expect(h.samples()).toEqual([
      [1000, 1, 0, 0],
      [2000, 3, 0, 0],
    ]);
  });

  it('drops samples older than the window but keeps one before it', () => {
    const h = new ThroughputHistory(10_000);
    for (let t = 0; t <= 30_000; t += 1000) h.sample(t, totals(t));
    const times = h.samples().map((s) => s[0]);
    expect(times[0]).toBe(19_000);
    expect(times[1]).toBe(20_000);
    expect(times.at(-1)).toBe(30_000);
  });

  it('returns copies', () => {
    const h = new ThroughputHistory();
    h.sample(0, totals(5));
    h.samples()[0]![1] = 99;
    expect(h.samples()[0]![1]).toBe(5);
  });
});

describe('ratesOf', () => {
  it('divides differences by the time between samples', () => {
    const rates = ratesOf([
      [0, 0, 0, 0],
      [2000, 4096, 1024, 10],
      [12_000, 4096 + 10_240, 1024, 10],
    ]);
    expect(rates).toEqual([
      { from: 0, to: 2000, inPerSec: 2048, outPerSec: 512, requestsPerSec: 5 },
      { from: 2000, to: 12_000, inPerSec: 1024, outPerSec: 0, requestsPerSec: 0 },
    ]);
  });

  it('counts a counter that went down (a reset) as zero', () => {
    expect(
      ratesOf([
        [0, 100, 100, 5],
        [1000, 0, 0, 0],
      ])[0],
    ).toMatchObject({
      inPerSec: 0,
      outPerSec: 0,
      requestsPerSec: 0,
    });
  });
});

describe('recentRequestRate', () => {
  it('averages the requests of about the last five seconds', () => {
    const samples = Array.from(
      { length: 11 },
      (_, i) => [i * 1000, 0, 0, i * 3] as [number, number, number, number],
    );
    expect(recentRequestRate(samples)).toBe(3);
    expect(recentRequestRate([])).toBe(0);
    expect(recentRequestRate([[0, 0, 0, 5]])).toBe(0);
  });
});
