/**
 * Runs `bench/browser/ceiling.ts` in a dedicated worker of a page, so the ceiling is measured in
 * a worker as the tunnel's crypto runs in one (the service worker), in the same browser and run.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { build } from 'vite';
import type { Ceilings } from '../browser/ceiling.ts';

export type { Ceilings };

let bundle: Promise<string> | undefined;

/** The ceiling module as one classic script defining `ztCeiling`. */
function ceilingScript(): Promise<string> {
  bundle ??= (async () => {
    const out = await build({
      configFile: false,
      logLevel: 'error',
      define: { 'import.meta': '{}' },
      build: {
        outDir: mkdtempSync(join(tmpdir(), 'zt-bench-')),
        write: false,
        lib: {
          entry: join(import.meta.dirname, '../browser/ceiling.ts'),
          name: 'ztCeiling',
          formats: ['iife'],
        },
      },
    });
    const outputs = Array.isArray(out) ? out : [out];
    const chunk = outputs
      .flatMap((o) => ('output' in o ? o.output : []))
      .find((c) => c.type === 'chunk');
    if (chunk?.type !== 'chunk') throw new Error('ceiling bundle not built');
    return chunk.code;
  })();
  return bundle;
}

/** Measures the ceilings (each cipher for `ms`) in a dedicated worker started from `page`. */
export async function ceilingsInWorker(page: Page, ms = 1000): Promise<Ceilings> {
  const code = await ceilingScript();
  return page.evaluate(
    ({ code, ms }) =>
      new Promise<Ceilings>((resolve, reject) => {
        const source = `${code}\nonmessage = (e) => ztCeiling.ceilings(e.data).then((c) => postMessage({ c }), (err) => postMessage({ error: String(err) }));`;
        const worker = new Worker(URL.createObjectURL(new Blob([source])));
        worker.onmessage = (e) => {
          worker.terminate();
          const { c, error } = e.data as { c?: Ceilings; error?: string };
          if (c) resolve(c);
          else reject(new Error(`ceiling worker: ${error}`));
        };
        worker.onerror = (e) => reject(new Error(`ceiling worker: ${e.message}`));
        worker.postMessage(ms);
      }),
    { code, ms },
  );
}
