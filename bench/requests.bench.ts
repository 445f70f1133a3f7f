/**
 * Request-level figures of the product in Chromium and Firefox, against the fabric and against
 * OpenZiti's own router and tunneler:
 * - 200 small GETs started at once from the app's page: how the slowest compares with the median
 *   (no request starved behind the others), tunnelled, with the same app opened directly for
 *   comparison; median of ROUNDS interleaved rounds.
 * - resume: a small GET from the page right after the browser stopped the service worker, so the
 *   worker starts again, takes its identity from IndexedDB and reconnects before answering; median
 *   of RESUMES. Chromium stops the worker through DevTools (ServiceWorker.stopAllWorkers, as
 *   e2e/worker-stop.chromium.spec.ts does). Firefox under Playwright has no such call, so it runs
 *   with its idle timeout shortened and the benchmark waits past it: the browser's own stop of an
 *   idle worker. Either way the worker's start time (`/__zt/sw-status`) must change, or the sample
 *   would not be a resume. The note gives the median resume's phases (`start` in sw-status).
 */
import type { Page } from '@playwright/test';
import { PROBE_TITLE } from '../e2e/support/probe-app.ts';
import { type Bench, type BenchResult, median, withGoal } from './harness.ts';
import {
  BENCH_BROWSERS,
  type BenchBrowser,
  launchBrowser,
  signedInPage,
  timedSmallGet,
} from './support/browsers.ts';
import { type BenchNetwork, eachNetwork } from './support/network.ts';

const ROUNDS = 3;
const CONCURRENT = 200;
/** Resumes per browser and network: medians of 5 moved by 15 ms and more from run to run. */
const RESUMES = 9;
/** Firefox's idle timeout for the resume figure (its default is 30 s), and the wait past it. */
const FIREFOX_IDLE_MS = 1000;
const FIREFOX_IDLE_WAIT_MS = 3000;

interface Spread {
  median: number;
  max: number;
}

/** CONCURRENT GETs started in one go; each one's time from its own start to its whole body. */
const concurrentGets = (page: Page, count: number): Promise<Spread> =>
  page.evaluate(async (n) => {
    const times = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const t = performance.now();
        const response = await fetch(`/cookies/echo?i=${i}`, { cache: 'no-store' });
        await response.text();
        if (!response.ok) throw new Error(`status ${response.status}`);
        return performance.now() - t;
      }),
    );
    times.sort((a, b) => a - b);
    return { median: times[Math.floor(n / 2)]!, max: times[n - 1]! };
  }, count);

async function concurrency(name: BenchBrowser, net: BenchNetwork): Promise<BenchResult> {
  const browser = await launchBrowser(name);
  try {
    const tunnel = (await signedInPage(browser, net, '/shell', '#probe')).page;
    if ((await tunnel.title()) !== PROBE_TITLE) throw new Error('not the probe app');
    const direct = await tunnel.context().newPage();
    await direct.goto(`${net.appOrigin}/shell`);
    // A small warm-up batch on each: connections open before the first measured one.
    for (const p of [tunnel, direct]) await concurrentGets(p, 20);
    const rounds: { tunnel: Spread; direct: Spread }[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      if (i % 2 === 0) {
        const t = await concurrentGets(tunnel, CONCURRENT);
        rounds.push({ tunnel: t, direct: await concurrentGets(direct, CONCURRENT) });
      } else {
        const d = await concurrentGets(direct, CONCURRENT);
        rounds.push({ tunnel: await concurrentGets(tunnel, CONCURRENT), direct: d });
      }
    }
    const m = (f: (r: (typeof rounds)[number]) => number) => median(rounds.map(f));
    const ratio = (s: Spread) => s.max / s.median;
    const t = {
      ratio: m((r) => ratio(r.tunnel)),
      med: m((r) => r.tunnel.median),
      max: m((r) => r.tunnel.max),
    };
    const d = {
      ratio: m((r) => ratio(r.direct)),
      med: m((r) => r.direct.median),
      max: m((r) => r.direct.max),
    };
    return withGoal(
      {
        suite: `requests/${net.kind}/${name}`,
        name: `${CONCURRENT} concurrent small GETs, slowest / median, tunnelled`,
        value: t.ratio,
        unit: 'x',
        note: `tunnelled median ${t.med.toFixed(1)} ms, max ${t.max.toFixed(1)} ms; direct ${d.ratio.toFixed(2)}x (median ${d.med.toFixed(1)} ms, max ${d.max.toFixed(1)} ms)`,
      },
      { atMost: 3, text: 'no request > 3x the median' },
    );
  } finally {
    await browser.close();
  }
}

/** The worker's start time, and when its first tunnelled request reached each phase (ms). */
const workerStart = (page: Page) =>
  page.evaluate(
    async () =>
      (await (await fetch('/__zt/sw-status')).json()) as {
        startedAt: number;
        start?: Record<string, number>;
      },
  );
const workerStartedAt = async (page: Page) => (await workerStart(page)).startedAt;

async function resume(name: BenchBrowser, net: BenchNetwork): Promise<BenchResult> {
  const browser = await launchBrowser(name, [], {
    'dom.serviceWorkers.idle_timeout': FIREFOX_IDLE_MS,
  });
  try {
    const page = (await signedInPage(browser, net, '/shell', '#probe')).page;
    const cdp = name === 'chromium' ? await page.context().newCDPSession(page) : undefined;
    await cdp?.send('ServiceWorker.enable');
    const stop = async () => {
      if (cdp) await cdp.send('ServiceWorker.stopAllWorkers');
      else await page.waitForTimeout(FIREFOX_IDLE_WAIT_MS);
    };
    await timedSmallGet(page); // the tunnel is up before the first stop
    const times: number[] = [];
    const phases: Record<string, number>[] = [];
    for (let i = 0; i < RESUMES; i++) {
      const before = await workerStartedAt(page);
      await stop();
      times.push(await timedSmallGet(page));
      const after = await workerStart(page);
      if (after.startedAt === before) throw new Error('the worker was not stopped');
      phases.push(after.start ?? {});
    }
    // Where the median resume's time went, in ms since its worker started (`/__zt/sw-status`).
    const mid = times.indexOf([...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!);
    const where = Object.entries(phases[mid] ?? {})
      .map(([phase, ms]) => `${phase} ${ms}`)
      .join(', ');
    return withGoal(
      {
        suite: `requests/${net.kind}/${name}`,
        name: 'small GET right after the worker was stopped (resume), tunnelled',
        value: median(times),
        unit: 'ms',
        note: `${RESUMES} resumes: ${times.map((x) => x.toFixed(0)).join(', ')} ms${cdp ? '' : ` (stopped by a ${FIREFOX_IDLE_MS} ms idle timeout)`}${where ? `; the median one's worker phases (ms since it started): ${where}` : ''}`,
      },
      { atMost: 100, text: '< 100 ms' },
    );
  } finally {
    await browser.close();
  }
}

const bench: Bench = () =>
  eachNetwork(async (net) => {
    const results: BenchResult[] = [];
    for (const name of BENCH_BROWSERS) {
      results.push(await concurrency(name, net));
      results.push(await resume(name, net));
    }
    return results;
  });

export default bench;
