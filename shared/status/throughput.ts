import type { ThroughputSample } from './protocol.ts';

/** How far back the history reaches. */
export const THROUGHPUT_WINDOW_MS = 5 * 60_000;
/** Samples closer together than this are not kept (the page asks about once a second). */
export const MIN_SAMPLE_SPACING_MS = 900;

export interface Totals {
  bytesIn: number;
  bytesOut: number;
  requests: number;
}

/**
 * Cumulative counters sampled when someone looks (or a circuit opens or closes), never on a timer:
 * a rate is the difference of two samples over their time apart, so a long gap between samples
 * shows as the average over the gap, and idle workers do no work.
 */
export class ThroughputHistory {
  readonly #samples: ThroughputSample[] = [];
  readonly #windowMs: number;

  constructor(windowMs = THROUGHPUT_WINDOW_MS) {
    this.#windowMs = windowMs;
  }

  /** Adds a sample unless the last one is too recent; drops what fell out of the window. */
  sample(at: number, totals: Totals): void {
    const last = this.#samples.at(-1);
    if (last && at - last[0] < MIN_SAMPLE_SPACING_MS) return;
    this.#samples.push([at, totals.bytesIn, totals.bytesOut, totals.requests]);
    // Keep one sample older than the window, so the window's first interval has a start.
    while (this.#samples.length > 2 && this.#samples[1]![0] < at - this.#windowMs)
      this.#samples.shift();
  }

  samples(): ThroughputSample[] {
    return this.#samples.map((s) => [...s] as ThroughputSample);
  }
}

/** One interval between two samples: its end and its rates per second. */
export interface Rate {
  from: number;
  to: number;
  inPerSec: number;
  outPerSec: number;
  requestsPerSec: number;
}

/** Rates between consecutive samples (a counter that went down, e.g. after a reset, counts as 0). */
export function ratesOf(samples: readonly ThroughputSample[]): Rate[] {
  const rates: Rate[] = [];
  for (let i = 1; i < samples.length; i++) {
    const [t0, in0, out0, req0] = samples[i - 1]!;
    const [t1, in1, out1, req1] = samples[i]!;
    const seconds = (t1 - t0) / 1000;
    if (seconds <= 0) continue;
    rates.push({
      from: t0,
      to: t1,
      inPerSec: Math.max(0, in1 - in0) / seconds,
      outPerSec: Math.max(0, out1 - out0) / seconds,
      requestsPerSec: Math.max(0, req1 - req0) / seconds,
    });
  }
  return rates;
}

/** Requests per second over the last `spanMs` of samples (0 without two samples). */
export function recentRequestRate(samples: readonly ThroughputSample[], spanMs = 5000): number {
  const last = samples.at(-1);
  if (!last) return 0;
  let first = last;
  for (let i = samples.length - 2; i >= 0; i--) {
    first = samples[i]!;
    if (last[0] - first[0] >= spanMs) break;
  }
  const seconds = (last[0] - first[0]) / 1000;
  return seconds > 0 ? Math.max(0, last[3] - first[3]) / seconds : 0;
}
