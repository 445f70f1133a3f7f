/**
 * A body that streams longer than Firefox lets a worker live with a pending `waitUntil`. There a
 * worker gets `idle_timeout` after its last event and then `idle_extended_timeout` more for pending
 * promises (30 s + 30 s in ESR 153), so a one-minute download ended short until the worker began
 * asking the app's pages for keep-alive messages while bodies stream (sw/tunnel/delivery.ts).
 * Scaled down here: 6 s + 2 s, a body that streams for about 16 s and an answer that takes 12 s to
 * begin (a long upload or a slow server). Chromium runs it too
 * (its limits are longer; the body must arrive whole there as well).
 */
import { browsers, chromiumArgs } from './browsers.ts';
import { enterApp } from './support/enter-app.ts';
import { expect, test } from './support/fabric.ts';

test.use({
  launchOptions: [
    async ({ browserName }, use) =>
      use(
        browserName === 'firefox'
          ? {
              executablePath: browsers.firefox.path,
              firefoxUserPrefs: {
                'dom.serviceWorkers.idle_timeout': 6000,
                'dom.serviceWorkers.idle_extended_timeout': 2000,
              },
            }
          : { executablePath: browsers.chromium.path, args: chromiumArgs },
      ),
    { scope: 'worker' },
  ],
});

test('a body streaming past the idle and extended timeouts together arrives whole', async ({
  page,
  zt,
}) => {
  test.setTimeout(60_000);
  await enterApp(page, zt);
  const size = 32 * 64 * 1024; // 32 chunks of 64 KiB, 500 ms apart: about 16 s
  const got = await page.evaluate(async (n) => {
    const started = performance.now();
    const response = await fetch(`/bytes?n=${n}&pauseMs=500`);
    const blob = await response.blob();
    return { length: blob.size, seconds: Math.round((performance.now() - started) / 1000) };
  }, size);
  expect(got.length).toBe(size);
  // It did stream past both timeouts together (else this proves nothing).
  expect(got.seconds).toBeGreaterThanOrEqual(14);
});

test('a response head that comes after the idle and extended timeouts together still arrives', async ({
  page,
  zt,
}) => {
  test.setTimeout(60_000);
  await enterApp(page, zt);
  // 12 s before the server answers: the time a long upload or a slow server takes, during which
  // no body streams yet.
  const got = await page.evaluate(async () => {
    const started = performance.now();
    const response = await fetch('/bytes?n=65536&headDelayMs=12000');
    const blob = await response.blob();
    return { length: blob.size, seconds: Math.round((performance.now() - started) / 1000) };
  });
  expect(got).toEqual({ length: 65536, seconds: expect.any(Number) });
  expect(got.seconds).toBeGreaterThanOrEqual(11);
});
