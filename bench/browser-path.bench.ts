/**
 * The browser path through the product, tunnelled vs direct, in Chromium and Firefox, against the
 * fabric and against OpenZiti's own router and tunneler (each network in a process of its own):
 * first visit (URL to app painted, IdP login included), warm load of an app shell, bulk download
 * and upload beside the crypto ceiling (measured in a worker of the same browser, in every round),
 * and the per-request overhead of a small GET. "Direct" is the same dark app opened at its own
 * loopback address in the same browser. Every figure is the median of ROUNDS rounds, and each round
 * alternates which of tunnelled and direct goes first.
 */
import type { Page } from '@playwright/test';
import { PROBE_TITLE } from '../e2e/support/probe-app.ts';
import { type Bench, type BenchResult, median, step, withGoal } from './harness.ts';
import {
  BENCH_BROWSERS,
  type BenchBrowser,
  launchBrowser,
  signedInPage,
} from './support/browsers.ts';
import { ceilingsInWorker } from './support/ceiling.ts';
import { type BenchNetwork, eachNetwork } from './support/network.ts';

const BULK = 64 * 1024 * 1024;
const ROUNDS = 3;
const WARM_LOADS = 5;
const SMALL_GETS = 100;

/** Median `loadEventEnd` of warm reloads (connections and the worker already up). */
async function warmLoadMs(page: Page): Promise<number> {
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

interface Round {
  warm: [number, number];
  down: [number, number];
  up: [number, number];
  get: [number, number];
  ceilingDown: number;
  ceilingUp: number;
}

/** One round: each measurement tunnelled and direct, in the order `first` says. */
async function round(tunnel: Page, direct: Page, tunnelFirst: boolean): Promise<Round> {
  const pair = async (what: string, f: (p: Page) => Promise<number>): Promise<[number, number]> => {
    const run = (p: Page) => step(`${what} ${p === tunnel ? 'tunnelled' : 'direct'}`, f(p));
    if (tunnelFirst) {
      const t = await run(tunnel);
      return [t, await run(direct)];
    }
    const d = await run(direct);
    return [await run(tunnel), d];
  };
  const warm = await pair('warm load', warmLoadMs);
  const down = await pair('download', downloadMBps);
  const up = await pair('upload', uploadMBps);
  const get = await pair('small GETs', smallGetP50);
  const c = await step('crypto ceiling', ceilingsInWorker(direct));
  return { warm, down, up, get, ceilingDown: c.download, ceilingUp: c.upload };
}

async function measure(name: BenchBrowser, net: BenchNetwork): Promise<BenchResult[]> {
  const suite = `browser-path/${net.kind}/${name}`;
  const browser = await launchBrowser(name);
  try {
    const signedIn = await step(
      `${suite}: first visit`,
      signedInPage(browser, net, '/shell', '#probe'),
    );
    const tunnel = signedIn.page;
    if ((await tunnel.title()) !== PROBE_TITLE) throw new Error('not the probe app');
    const direct = await tunnel.context().newPage();
    await direct.goto(`${net.appOrigin}/shell`);
    const rounds: Round[] = [];
    for (let i = 0; i < ROUNDS; i++) rounds.push(await round(tunnel, direct, i % 2 === 0));
    const m = (f: (r: Round) => number) => median(rounds.map(f));
    const down = { tunnel: m((r) => r.down[0]), direct: m((r) => r.down[1]) };
    const up = { tunnel: m((r) => r.up[0]), direct: m((r) => r.up[1]) };
    const warm = { tunnel: m((r) => r.warm[0]), direct: m((r) => r.warm[1]) };
    const get = { tunnel: m((r) => r.get[0]), direct: m((r) => r.get[1]) };
    const ceilingDown = m((r) => r.ceilingDown);
    const ceilingUp = m((r) => r.ceilingUp);
    const mib = BULK >> 20;
    return [
      withGoal(
        {
          suite,
          name: 'first visit, URL to app painted (IdP login)',
          value: signedIn.ms,
          unit: 'ms',
          note: Object.entries(signedIn.phases)
            .map(([phase, ms]) => `${phase} ${ms} ms`)
            .join(', '),
        },
        { atMost: 1500, text: '< 1500 ms' },
      ),
      withGoal(
        {
          suite,
          name: 'warm load of an app shell, tunnelled',
          value: warm.tunnel,
          unit: 'ms',
          baseline: { name: 'direct', value: warm.direct },
        },
        { atMost: 1.15, text: '<= 1.15x direct' },
      ),
      { suite, name: 'warm load of an app shell, direct', value: warm.direct, unit: 'ms' },
      withGoal(
        {
          suite,
          name: `download ${mib} MiB, tunnelled`,
          value: down.tunnel,
          unit: 'MB/s',
          baseline: { name: 'crypto ceiling', value: ceilingDown },
          note: `${(down.tunnel / down.direct).toFixed(2)}x direct`,
        },
        { atLeast: 0.7, text: '>= 0.7x crypto ceiling' },
      ),
      { suite, name: `download ${mib} MiB, direct`, value: down.direct, unit: 'MB/s' },
      withGoal(
        {
          suite,
          name: `upload ${mib} MiB, tunnelled`,
          value: up.tunnel,
          unit: 'MB/s',
          baseline: { name: 'crypto ceiling', value: ceilingUp },
          note: `${(up.tunnel / up.direct).toFixed(2)}x direct`,
        },
        { atLeast: 0.7, text: '>= 0.7x crypto ceiling' },
      ),
      { suite, name: `upload ${mib} MiB, direct`, value: up.direct, unit: 'MB/s' },
      withGoal(
        {
          suite,
          name: 'small GET p50 overhead (tunnelled - direct)',
          value: get.tunnel - get.direct,
          unit: 'ms',
          note: `tunnelled ${get.tunnel.toFixed(2)} ms, direct ${get.direct.toFixed(2)} ms`,
        },
        { atMost: 3, text: '< 3 ms' },
      ),
      {
        suite,
        name: 'crypto ceiling, download (AES-GCM open + secretstream pull)',
        value: ceilingDown,
        unit: 'MB/s',
      },
      {
        suite,
        name: 'crypto ceiling, upload (AES-GCM seal + secretstream push)',
        value: ceilingUp,
        unit: 'MB/s',
      },
    ];
  } finally {
    await browser.close();
  }
}

const bench: Bench = () =>
  eachNetwork(async (net) => {
    const results: BenchResult[] = [];
    for (const name of BENCH_BROWSERS) results.push(...(await measure(name, net)));
    return results;
  });

export default bench;
