/** One measured figure. `baseline` (same unit, same run) makes the table print a ratio. */
export interface BenchResult {
  suite: string;
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  note?: string;
  /** The figure's goal in words (`>= 0.7x crypto ceiling`), and whether this run met it. */
  goal?: string;
  met?: boolean;
}

/**
 * A row with a goal: `atMost`/`atLeast` bound the value, or with a baseline the ratio
 * (`value / baseline`), so the goal reads as the issue states it.
 */
export function withGoal(
  result: BenchResult,
  goal: { atMost?: number; atLeast?: number; text: string },
): BenchResult {
  const x = result.baseline ? result.value / result.baseline.value : result.value;
  const met =
    Number.isFinite(x) &&
    (goal.atMost === undefined || x <= goal.atMost) &&
    (goal.atLeast === undefined || x >= goal.atLeast);
  return { ...result, goal: goal.text, met };
}

/** One line: how many goals this run met, and which it missed. */
export function goalSummary(results: BenchResult[]): string {
  const goals = results.filter((r) => r.goal !== undefined);
  const missed = goals.filter((r) => !r.met);
  const list = missed.map((r) => `${r.suite} ${r.name}`).join('; ');
  return `goals met: ${goals.length - missed.length} of ${goals.length}${missed.length ? ` (missed: ${list})` : ''}`;
}

/** The median of repeated samples (the upper one of an even count). */
export const median = (xs: number[]): number => {
  if (xs.length === 0) throw new Error('median of no samples');
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
};

/** A benchmark module (`bench/*.bench.ts`) default-exports one of these. */
export type Bench = () => Promise<BenchResult[]>;

/** Runs `fn` repeatedly for at least `minMs` and returns the throughput in MB/s (10^6 bytes). */
export async function throughput(
  bytesPerCall: number,
  fn: () => unknown,
  minMs = 1000,
): Promise<number> {
  await fn(); // warm-up
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    await fn();
    calls++;
    elapsed = performance.now() - start;
  }
  return (bytesPerCall * calls) / (elapsed / 1000) / 1e6;
}

export function formatTable(results: BenchResult[]): string {
  const rows = results.map((r) => [
    r.suite,
    r.name,
    `${r.value.toFixed(r.value < 10 ? 2 : 1)} ${r.unit}`,
    r.baseline ? `${(r.value / r.baseline.value).toFixed(2)}x ${r.baseline.name}` : '',
    r.goal ? `${r.met ? 'met' : 'MISSED'}: ${r.goal}` : '',
    r.note ?? '',
  ]);
  const head = ['suite', 'benchmark', 'value', 'ratio', 'goal', 'note'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** How long one benchmark step may take before the run fails instead of hanging. */
export const STEP_TIMEOUT_MS = 180_000;

/** Awaits one step of a benchmark, logging it to stderr, and fails it after `STEP_TIMEOUT_MS`. */
export async function step<T>(what: string, work: Promise<T>): Promise<T> {
  process.stderr.write(`  ${what}…\n`);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${what}: no result in ${STEP_TIMEOUT_MS / 1000} s`)),
          STEP_TIMEOUT_MS,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
