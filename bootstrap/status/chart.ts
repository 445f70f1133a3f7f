/**
 * The throughput chart: two polylines (in, out) over the last five minutes, as plain SVG numbers.
 * Pure: the page turns the result into SVG elements.
 */
import type { ThroughputSample } from '../../shared/status/protocol.ts';
import { ratesOf, THROUGHPUT_WINDOW_MS } from '../../shared/status/throughput.ts';

export interface ChartGeometry {
  width: number;
  height: number;
  /** `points` attributes, "x,y x,y …", oldest first. */
  inPoints: string;
  outPoints: string;
  /** The top of the y axis in bytes per second (a rounded-up maximum). */
  maxPerSec: number;
}

/** 1, 2 or 5 times a power of ten, at least `n` (and at least 1 KiB/s, so idle looks idle). */
export function niceMax(n: number): number {
  const floor = 1024;
  if (!(n > floor)) return floor;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

const round = (n: number) => Math.round(n * 10) / 10;

/**
 * Each interval between samples is drawn as a step at its rate, so a long gap reads as its average.
 * The x axis ends at `now` and spans `windowMs`; the y axis is flipped (SVG grows downward).
 */
export function chartGeometry(
  samples: readonly ThroughputSample[],
  now: number,
  options: { width?: number; height?: number; windowMs?: number } = {},
): ChartGeometry {
  const width = options.width ?? 300;
  const height = options.height ?? 80;
  const windowMs = options.windowMs ?? THROUGHPUT_WINDOW_MS;
  const start = now - windowMs;
  const rates = ratesOf(samples).filter((r) => r.to > start);
  const maxPerSec = niceMax(Math.max(0, ...rates.map((r) => Math.max(r.inPerSec, r.outPerSec))));
  const x = (t: number) => round(((Math.min(now, Math.max(start, t)) - start) / windowMs) * width);
  const y = (v: number) => round(height - (v / maxPerSec) * height);
  const line = (pick: (r: (typeof rates)[number]) => number) => {
    const points: string[] = [`0,${height}`];
    let lastX = 0;
    for (const r of rates) {
      const from = x(r.from);
      const to = x(r.to);
      if (from > lastX) points.push(`${from},${height}`);
      points.push(`${from},${y(pick(r))}`, `${to},${y(pick(r))}`);
      lastX = to;
    }
    // After the last sample: nothing measured yet, drawn as zero up to now.
    points.push(`${lastX},${height}`, `${width},${height}`);
    return points.join(' ');
  };
  return {
    width,
    height,
    inPoints: line((r) => r.inPerSec),
    outPoints: line((r) => r.outPerSec),
    maxPerSec,
  };
}
