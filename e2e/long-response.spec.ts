/**
 * A response body that streams longer than the browser lets an idle service worker live. The
 * worker answers at once and then streams; a browser may stop a worker about 30 s after its last
 * event, and Firefox then ends the body cleanly, short and without an error. The worker keeps the
 * fetch event open until the body is delivered (sw/tunnel/delivery.ts). In Firefox this spec
 * shortens the idle timeout to 2 s (a real browser's 30 s, scaled down), so a body that streams
 * for about 8 s would arrive cut short without that.
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
                'dom.serviceWorkers.idle_timeout': 2000,
                'dom.serviceWorkers.idle_extended_timeout': 60_000,
              },
            }
          : { executablePath: browsers.chromium.path, args: chromiumArgs },
      ),
    { scope: 'worker' },
  ],
});

test('a body that streams for longer than an idle worker lives arrives whole', async ({
  page,
  zt,
}) => {
  await enterApp(page, zt);
  const size = 16 * 64 * 1024; // 16 chunks of 64 KiB, 500 ms apart: about 8 s
  const got = await page.evaluate(async (n) => {
    const started = performance.now();
    const response = await fetch(`/bytes?n=${n}&pauseMs=500`);
    const blob = await response.blob();
    return {
      length: blob.size,
      contentLength: response.headers.get('content-length'),
      seconds: Math.round((performance.now() - started) / 1000),
    };
  }, size);
  expect({ length: got.length, contentLength: got.contentLength }).toEqual({
    length: size,
    contentLength: String(size),
  });
  // It did stream past the idle timeout (else this proves nothing).
  expect(got.seconds).toBeGreaterThanOrEqual(7);
});
