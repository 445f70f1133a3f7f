/**
 * The dark app's WebSocket through the product, tunnelled vs direct, in Chromium and Firefox,
 * against the fabric and against OpenZiti's own router and tunneler (e2e/support/probe-app.ts's
 * `/ws-echo`, which echoes binary messages as they are). Tunnelled: the app's page at the site
 * origin, its socket carried by the shim, the service worker and the tunnel (TLS, channel, end-to-end
 * encryption); direct: the same app opened at its own loopback address, the browser's own socket.
 * - echo round trip of a 32-byte message, one at a time: p50 and p99
 * - message throughput: many 1 KiB messages sent at once, until all echoes arrived
 * - bulk: 1 MiB messages echoed, MB/s
 * Every figure is the median of ROUNDS rounds, and each round alternates which of tunnelled and
 * direct goes first. Chromium's own socket under Playwright moves several times fewer bytes than
 * the same Chromium without automation (DevTools is attached to the page), so there the direct
 * throughput is low and the tunnelled/direct ratios flatter the tunnel; Firefox's ratios are the
 * fairer ones.
 */
import type { Page } from '@playwright/test';
import { PROBE_TITLE } from '../e2e/support/probe-app.ts';
import { type Bench, type BenchResult, median, withGoal } from './harness.ts';
import {
  BENCH_BROWSERS,
  type BenchBrowser,
  launchBrowser,
  signedInPage,
} from './support/browsers.ts';
import { type BenchNetwork, eachNetwork } from './support/network.ts';

const ROUNDS = 3;
const SIZES = {
  small: 32,
  warmup: 100,
  echoes: 1000,
  kibMessages: 10_000,
  mibMessages: 16,
};

interface Figures {
  p50: number;
  p99: number;
  msgsPerSec: number;
  mbPerSec: number;
}

/** All three measurements on one socket to the page's own origin (tunnelled when the shim is in). */
const measureSocket = (page: Page): Promise<Figures> =>
  page.evaluate(async (s) => {
    const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/ws-echo`);
    ws.binaryType = 'arraybuffer';
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error('WebSocket failed to open'));
    });
    /** Sends `count` messages at once and resolves when as many echoes (of the same size) arrived. */
    const echoes = (message: Uint8Array, count: number) =>
      new Promise<void>((resolve, reject) => {
        let got = 0;
        ws.onmessage = (e) => {
          if ((e.data as ArrayBuffer).byteLength !== message.length)
            reject(new Error(`echo of ${(e.data as ArrayBuffer).byteLength} bytes`));
          else if (++got === count) resolve();
        };
        for (let i = 0; i < count; i++) ws.send(message);
      });
    const small = new Uint8Array(s.small).fill(120);
    for (let i = 0; i < s.warmup; i++) await echoes(small, 1);
    const rtts: number[] = [];
    for (let i = 0; i < s.echoes; i++) {
      const t = performance.now();
      await echoes(small, 1);
      rtts.push(performance.now() - t);
    }
    rtts.sort((a, b) => a - b);
    const p50 = rtts[Math.floor(rtts.length * 0.5)]!;
    const p99 = rtts[Math.min(rtts.length - 1, Math.floor(rtts.length * 0.99))]!;

    let t = performance.now();
    await echoes(new Uint8Array(1024), s.kibMessages);
    const msgsPerSec = s.kibMessages / ((performance.now() - t) / 1000);

    const mib = new Uint8Array(1024 * 1024);
    t = performance.now();
    await echoes(mib, s.mibMessages);
    const mbPerSec = (s.mibMessages * mib.length) / ((performance.now() - t) / 1000) / 1e6;
    ws.close();
    return { p50, p99, msgsPerSec, mbPerSec };
  }, SIZES);

async function measure(name: BenchBrowser, net: BenchNetwork): Promise<BenchResult[]> {
  const suite = `websocket/${net.kind}/${name}`;
  // Firefox rounds performance.now() to 1 ms by default, too coarse for a sub-millisecond round
  // trip; this pref only changes the clock's resolution.
  const browser = await launchBrowser(name, [], { 'privacy.reduceTimerPrecision': false });
  try {
    const tunnel = (await signedInPage(browser, net, '/shell', '#probe')).page;
    if ((await tunnel.title()) !== PROBE_TITLE) throw new Error('not the probe app');
    const direct = await tunnel.context().newPage();
    await direct.goto(`${net.appOrigin}/shell`);
    // The tunnelled page must carry the socket through the shim, the direct one must not.
    const shimmed = (p: Page) => p.evaluate(() => '__ztShim' in window);
    if (!(await shimmed(tunnel)) || (await shimmed(direct))) throw new Error('shim misplaced');
    // tsx (esbuild keepNames) wraps named inner functions in __name(); give the pages one.
    for (const p of [tunnel, direct]) await p.evaluate('globalThis.__name = (f) => f');
    const rounds: { tunnel: Figures; direct: Figures }[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      if (i % 2 === 0) {
        const t = await measureSocket(tunnel);
        rounds.push({ tunnel: t, direct: await measureSocket(direct) });
      } else {
        const d = await measureSocket(direct);
        rounds.push({ tunnel: await measureSocket(tunnel), direct: d });
      }
    }
    const m = (f: (x: Figures) => number) => ({
      tunnel: median(rounds.map((r) => f(r.tunnel))),
      direct: median(rounds.map((r) => f(r.direct))),
    });
    const p50 = m((x) => x.p50);
    const p99 = m((x) => x.p99);
    const msgs = m((x) => x.msgsPerSec);
    const bulk = m((x) => x.mbPerSec);
    const vsDirect = (value: number) => ({ name: 'direct', value });
    return [
      withGoal(
        {
          suite,
          name: 'WebSocket echo p50 overhead (tunnelled - direct)',
          value: p50.tunnel - p50.direct,
          unit: 'ms',
          note: `${SIZES.small}-byte message; tunnelled ${p50.tunnel.toFixed(3)} ms, direct ${p50.direct.toFixed(3)} ms`,
        },
        { atMost: 1, text: '< 1 ms' },
      ),
      {
        suite,
        name: 'WebSocket echo p99, tunnelled',
        value: p99.tunnel,
        unit: 'ms',
        baseline: vsDirect(p99.direct),
        note: `direct ${p99.direct.toFixed(3)} ms`,
      },
      {
        suite,
        name: `WebSocket ${SIZES.kibMessages} x 1 KiB messages, tunnelled`,
        value: msgs.tunnel,
        unit: 'msg/s',
        baseline: vsDirect(msgs.direct),
        note: `direct ${msgs.direct.toFixed(0)} msg/s`,
      },
      {
        suite,
        name: `WebSocket ${SIZES.mibMessages} x 1 MiB messages, tunnelled`,
        value: bulk.tunnel,
        unit: 'MB/s',
        baseline: vsDirect(bulk.direct),
        note: `direct ${bulk.direct.toFixed(1)} MB/s`,
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
