/** One measured figure. `baseline` (same unit, same run) makes the table print a ratio. */
export interface BenchResult {
  suite: string;
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  note?: string;
}

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
    r.note ?? '',
  ]);
  const head = ['suite', 'benchmark', 'value', 'ratio', 'note'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
