/**
 * WebSocket through the page shim, the service-worker bridge and our RFC 6455 client, against the
 * browser's own WebSocket to the same `ws` echo server, in Chromium (fixture:
 * e2e/websocket/fixture.ts; the tunnelled path has no OpenZiti here, just a raw-TCP relay, so the
 * figures are the cost of shim + MessagePort + SW + codec).
 * - echo round trip of a 32-byte message, one at a time: p50 and p99
 * - message throughput: 20,000 1 KiB messages sent at once, until all echoes arrived
 * - bulk: 64 x 1 MiB messages echoed, MB/s
 */
import { chromium, type Page } from '@playwright/test';
import { browsers, chromiumArgs } from '../e2e/browsers.ts';
import { startWebSocketFixture } from '../e2e/websocket/fixture.ts';
import type { Bench, BenchResult } from './harness.ts';

interface Figures {
  p50: number;
  p99: number;
  msgsPerSec: number;
  mbPerSec: number;
}

async function measure(page: Page, base: string): Promise<Figures> {
  // tsx (esbuild keepNames) wraps named inner functions in __name(); give the page one.
  await page.evaluate('globalThis.__name = (f) => f');
  return page.evaluate(async (base: string) => {
    const ws = new WebSocket(`${base}/echo`);
    ws.binaryType = 'arraybuffer';
    await new Promise((r) => {
      ws.onopen = r;
    });
    const echo = (data: string | Uint8Array) =>
      new Promise<void>((r) => {
        ws.onmessage = () => r();
        ws.send(data);
      });
    const small = 'x'.repeat(32);
    for (let i = 0; i < 200; i++) await echo(small);
    const rtts: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t = performance.now();
      await echo(small);
      rtts.push(performance.now() - t);
    }
    rtts.sort((a, b) => a - b);
    const pct = (p: number) =>
      rtts[Math.min(rtts.length - 1, Math.floor((rtts.length * p) / 100))]!;

    const n = 20_000;
    const kib = new Uint8Array(1024);
    let t = performance.now();
    await new Promise<void>((r) => {
      let got = 0;
      ws.onmessage = () => {
        if (++got === n) r();
      };
      for (let i = 0; i < n; i++) ws.send(kib);
    });
    const msgsPerSec = n / ((performance.now() - t) / 1000);

    const mib = new Uint8Array(1024 * 1024);
    const m = 64;
    t = performance.now();
    await new Promise<void>((r) => {
      let got = 0;
      ws.onmessage = () => {
        if (++got === m) r();
      };
      for (let i = 0; i < m; i++) ws.send(mib);
    });
    const mbPerSec = (m * mib.length) / ((performance.now() - t) / 1000) / 1e6;
    ws.close();
    return { p50: pct(50), p99: pct(99), msgsPerSec, mbPerSec };
  }, base);
}

const bench: Bench = async () => {
  const fx = await startWebSocketFixture();
  const browser = await chromium.launch({
    executablePath: browsers.chromium.path,
    args: chromiumArgs,
  });
  try {
    const page = await browser.newPage();
    await page.goto(`${fx.origin}/setup.html`);
    await page.waitForSelector('html[data-ready="1"]');
    await page.goto(`${fx.origin}/app.html`);
    await page.waitForFunction(() => !!navigator.serviceWorker.controller && '__ztShim' in window);
    const direct = await measure(page, `ws://localhost:${fx.port}`);
    const ours = await measure(page, `ws://127.0.0.1:${fx.port}`);
    const suite = 'websocket (chromium)';
    const r = (
      name: string,
      value: number,
      unit: string,
      base: number,
      note?: string,
    ): BenchResult => ({
      suite,
      name,
      value,
      unit,
      baseline: { name: 'direct', value: base },
      ...(note ? { note } : {}),
    });
    return [
      r(
        'echo RTT p50, tunnelled',
        ours.p50,
        'ms',
        direct.p50,
        `overhead ${(ours.p50 - direct.p50).toFixed(3)} ms`,
      ),
      r('echo RTT p99, tunnelled', ours.p99, 'ms', direct.p99),
      r('1 KiB messages, tunnelled', ours.msgsPerSec, 'msg/s', direct.msgsPerSec),
      r('1 MiB messages, tunnelled', ours.mbPerSec, 'MB/s', direct.mbPerSec),
    ];
  } finally {
    await browser.close();
    await fx.close();
  }
};
export default bench;
