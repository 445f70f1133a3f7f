/**
 * The browser path, tunnelled vs direct, in Chromium and Firefox against the in-process fabric:
 * first visit (URL to app painted, IdP login included), warm load of an app shell, bulk download and
 * upload (beside the crypto ceiling of the same browser and run), and the per-request overhead of a
 * small GET. "Direct" is the same dark app opened at its own loopback address in the same browser.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, firefox, type Page } from '@playwright/test';
import { build } from 'vite';
import { acceptFabricCert, browsers, chromiumArgs } from '../e2e/browsers.ts';
import { signInAtIdp } from '../e2e/support/enter-app.ts';
import { type FabricFixture, startE2eFabric } from '../e2e/support/fabric.ts';
import { PROBE_TITLE } from '../e2e/support/probe-app.ts';
import type { Bench, BenchResult } from './harness.ts';

const BULK = 64 * 1024 * 1024;
const WARM_LOADS = 8;
const SMALL_GETS = 200;

async function ceilingScript(): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), 'zt-bench-'));
  const out = await build({
    configFile: false,
    logLevel: 'warn',
    build: {
      outDir,
      write: false,
      lib: {
        entry: join(import.meta.dirname, 'browser/ceiling-entry.ts'),
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
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Average `loadEventEnd` of warm reloads (connections and the worker already up). */
async function warmLoadMs(page: Page, url: string): Promise<number> {
  await page.goto(url);
  const times: number[] = [];
  for (let i = 0; i < WARM_LOADS; i++) {
    await page.reload({ waitUntil: 'load' });
    times.push(
      await page.evaluate(
        () =>
          (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming)
            .loadEventEnd,
      ),
    );
  }
  return median(times);
}

const downloadMBps = (page: Page) =>
  page.evaluate(async (n) => {
    const started = performance.now();
    const reader = (await fetch(`/bytes?n=${n}`)).body!.getReader();
    let got = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      got += value.length;
    }
    if (got !== n) throw new Error(`got ${got} of ${n}`);
    return n / ((performance.now() - started) / 1000) / 1e6;
  }, BULK);

const uploadMBps = (page: Page) =>
  page.evaluate(async (n) => {
    const body = new Blob([new Uint8Array(n)]);
    const started = performance.now();
    const result = (await (await fetch('/upload', { method: 'POST', body })).json()) as {
      length: number;
    };
    if (result.length !== n) throw new Error(`server got ${result.length} of ${n}`);
    return n / ((performance.now() - started) / 1000) / 1e6;
  }, BULK);

const smallGetP50 = (page: Page) =>
  page.evaluate(async (count) => {
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      await (await fetch('/cookies/echo', { cache: 'no-store' })).text();
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)]!;
  }, SMALL_GETS);

async function measure(
  name: 'chromium' | 'firefox',
  browser: Browser,
  zt: FabricFixture,
  ceilingCode: string,
): Promise<BenchResult[]> {
  const suite = `browser-path/${name}`;
  const context = await browser.newContext(acceptFabricCert);
  const page = await context.newPage();

  const t0 = Date.now();
  await page.goto(`${zt.siteOrigin}/shell`);
  await signInAtIdp(page, zt.user);
  await page.waitForURL(`${zt.siteOrigin}/shell`);
  await page.locator('#probe').waitFor();
  const firstVisit = Date.now() - t0;
  await page.title().then((t) => {
    if (t !== PROBE_TITLE) throw new Error(`unexpected page ${t}`);
  });

  const direct = await context.newPage();
  const tunnelWarm = await warmLoadMs(page, `${zt.siteOrigin}/shell`);
  const directWarm = await warmLoadMs(direct, `${zt.appOrigin}/shell`);
  const tunnelDown = await downloadMBps(page);
  const directDown = await downloadMBps(direct);
  const tunnelUp = await uploadMBps(page);
  const directUp = await uploadMBps(direct);
  const tunnelGet = await smallGetP50(page);
  const directGet = await smallGetP50(direct);
  await direct.addScriptTag({ content: ceilingCode });
  const ceiling = await direct.evaluate(() =>
    (
      globalThis as unknown as {
        ztCeiling: { ceilings(ms: number): Promise<{ aesGcm: number; secretstream: number }> };
      }
    ).ztCeiling.ceilings(1500),
  );
  await context.close();

  const cryptoCeiling = Math.min(ceiling.aesGcm, ceiling.secretstream);
  const ceilingRef = { name: 'crypto ceiling', value: cryptoCeiling };
  return [
    {
      suite,
      name: 'first visit, URL to app painted (IdP login included)',
      value: firstVisit,
      unit: 'ms',
      note: 'goal < 1500 ms',
    },
    {
      suite,
      name: 'warm load of an app shell, tunnelled',
      value: tunnelWarm,
      unit: 'ms',
      baseline: { name: 'direct', value: directWarm },
      note: 'goal <= 1.15x',
    },
    { suite, name: 'warm load of an app shell, direct', value: directWarm, unit: 'ms' },
    {
      suite,
      name: `download ${BULK >> 20} MiB, tunnelled`,
      value: tunnelDown,
      unit: 'MB/s',
      baseline: ceilingRef,
      note: `goal >= 0.7x; ${(tunnelDown / directDown).toFixed(2)}x direct`,
    },
    { suite, name: `download ${BULK >> 20} MiB, direct`, value: directDown, unit: 'MB/s' },
    {
      suite,
      name: `upload ${BULK >> 20} MiB, tunnelled`,
      value: tunnelUp,
      unit: 'MB/s',
      baseline: ceilingRef,
      note: `goal >= 0.7x; ${(tunnelUp / directUp).toFixed(2)}x direct`,
    },
    { suite, name: `upload ${BULK >> 20} MiB, direct`, value: directUp, unit: 'MB/s' },
    {
      suite,
      name: 'small GET p50 overhead (tunnelled - direct)',
      value: tunnelGet - directGet,
      unit: 'ms',
      note: `goal < 3 ms; tunnelled ${tunnelGet.toFixed(2)} ms, direct ${directGet.toFixed(2)} ms`,
    },
    {
      suite,
      name: 'crypto ceiling: AES-128-GCM 16 KiB x8 in flight',
      value: ceiling.aesGcm,
      unit: 'MB/s',
    },
    {
      suite,
      name: 'crypto ceiling: secretstream 32 KiB',
      value: ceiling.secretstream,
      unit: 'MB/s',
    },
  ];
}

const bench: Bench = async () => {
  const ceilingCode = await ceilingScript();
  const results: BenchResult[] = [];
  for (const name of ['chromium', 'firefox'] as const) {
    const zt = await startE2eFabric('probe');
    const browser =
      name === 'chromium'
        ? await chromium.launch({ executablePath: browsers.chromium.path, args: chromiumArgs })
        : await firefox.launch({ channel: 'moz-firefox', executablePath: browsers.firefox.path });
    try {
      results.push(...(await measure(name, browser, zt, ceilingCode)));
    } finally {
      await browser.close();
      await zt.close();
    }
  }
  return results;
};

export default bench;
