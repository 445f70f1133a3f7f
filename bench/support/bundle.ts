/** Browser code for the benchmarks: one module bundled as a classic script (for a worker). */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'vite';

const bundles = new Map<string, Promise<string>>();

/** `entry` as one IIFE script that defines the global `name` (built once per process). */
export function classicScript(entry: string, name: string): Promise<string> {
  let bundle = bundles.get(entry);
  if (!bundle) {
    bundle = (async () => {
      const out = await build({
        configFile: false,
        logLevel: 'error',
        // libsodium mentions import.meta, which a classic script cannot hold.
        define: { 'import.meta': '{}' },
        build: {
          outDir: mkdtempSync(join(tmpdir(), 'zt-bench-')),
          write: false,
          minify: false,
          lib: { entry, name, formats: ['iife'] },
        },
      });
      const outputs = Array.isArray(out) ? out : [out];
      const chunk = outputs
        .flatMap((o) => ('output' in o ? o.output : []))
        .find((c) => c.type === 'chunk');
      if (chunk?.type !== 'chunk') throw new Error(`${entry} not bundled`);
      return chunk.code;
    })();
    bundles.set(entry, bundle);
  }
  return bundle;
}
