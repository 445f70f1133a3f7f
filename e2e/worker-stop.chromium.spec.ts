// Chromium only: CDP's ServiceWorker.stopAllWorkers stops a worker as the browser does when idle.
// (Firefox covers the same resume path with a full browser restart in browser-path.spec.ts.)

import { enterApp } from './support/enter-app.ts';
import { expect, test } from './support/fabric.ts';
import { workerHeapUsed } from './support/worker-heap.ts';

test('the worker stopped by the browser resumes from IndexedDB without a new login', async ({
  page,
  zt,
}) => {
  await enterApp(page, zt);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('ServiceWorker.enable');
  const fetchStatus = () => page.evaluate(async () => (await fetch('/api/after-restart')).status);

  await cdp.send('ServiceWorker.stopAllWorkers');
  expect(await fetchStatus()).toBe(200);

  // Stopped in the middle of a download: that download breaks, the next request works.
  const download = page.evaluate(async () => {
    const response = await fetch('/bytes?n=67108864');
    const reader = response.body!.getReader();
    let got = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return { got, broke: false };
        got += value.length;
      }
    } catch {
      return { got, broke: true };
    }
  });
  await page.waitForTimeout(50);
  await cdp.send('ServiceWorker.stopAllWorkers');
  const outcome = await download;
  expect(outcome.got).toBeGreaterThan(0);
  expect(await fetchStatus()).toBe(200);
  await page.reload();
  await expect(page.locator('#probe')).toHaveText('dark /');
});

test('the worker heap stays flat while 200 MiB stream through it', async ({
  page,
  zt,
  browser,
}) => {
  test.setTimeout(120_000);
  await enterApp(page, zt);
  const samples: number[] = [await workerHeapUsed(browser)];
  const size = 200 * 1024 * 1024;
  const download = page.evaluate(async (n) => {
    const reader = (await fetch(`/bytes?n=${n}`)).body!.getReader();
    let got = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return got;
      got += value.length;
    }
  }, size);
  let finished = false;
  void download.finally(() => {
    finished = true;
  });
  while (!finished) {
    samples.push(await workerHeapUsed(browser));
    await page.waitForTimeout(250);
  }
  expect(await download).toBe(size);
  const peak = Math.max(...samples);
  console.log(
    `worker heap: start ${(samples[0]! / 1e6).toFixed(1)} MB, peak ${(peak / 1e6).toFixed(1)} MB over ${samples.length} samples`,
  );
  // 200 MiB passed through; the worker may hold a few receive windows and TLS records, not the body.
  expect(peak - samples[0]!).toBeLessThan(48 * 1024 * 1024);
});
