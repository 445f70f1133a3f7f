/**
 * `npm run bench [filter]`: runs every `bench/*.bench.ts` (or those whose name contains the filter),
 * prints one table and writes `bench/results.json`.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Bench, type BenchResult, formatTable, goalSummary } from './harness.ts';

const filter = process.argv[2] ?? '';
const files = readdirSync(import.meta.dirname)
  .filter((f) => f.endsWith('.bench.ts') && f.includes(filter))
  .sort();
if (files.length === 0) {
  console.error(`no benchmarks match "${filter}"`);
  process.exit(1);
}

const results: BenchResult[] = [];
for (const file of files) {
  console.error(`running ${file}…`);
  const bench = (await import(join(import.meta.dirname, file))).default as Bench;
  results.push(...(await bench()));
}
console.log(formatTable(results));
const out = join(import.meta.dirname, 'results.json');
writeFileSync(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, null, 2)}\n`,
);
console.error(`wrote ${out}`);
console.log(goalSummary(results));
