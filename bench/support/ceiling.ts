/**
 * Runs `bench/browser/ceiling.ts` in a dedicated worker of a page, so the ceiling is measured in
 * a worker as the tunnel's crypto runs in one (the service worker), in the same browser and run.
 */
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import type { Ceilings } from '../browser/ceiling.ts';
import { classicScript } from './bundle.ts';

export type { Ceilings };

/** Measures the ceilings (each cipher for `ms`) in a dedicated worker started from `page`. */
export async function ceilingsInWorker(page: Page, ms = 1000): Promise<Ceilings> {
  const code = await classicScript(join(import.meta.dirname, '../browser/ceiling.ts'), 'ztCeiling');
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
