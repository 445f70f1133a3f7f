// Chromium only: Playwright sees the requests a service worker makes in Chromium, not in Firefox.

import { enterApp } from './support/enter-app.ts';
import { expect, test } from './support/fabric.ts';

test('every page load takes the shim from the worker precache: no request to the origin for it', async ({
  page,
  zt,
}) => {
  await enterApp(page, zt);
  const shimPath = '/__zt/shim.js';
  const fromWorker: string[] = [];
  const fromPage: boolean[] = [];
  page.context().on('request', (request) => {
    if (new URL(request.url()).pathname !== shimPath) return;
    if (request.serviceWorker()) fromWorker.push(request.url());
  });
  page.on('response', (response) => {
    if (new URL(response.url()).pathname === shimPath) fromPage.push(response.fromServiceWorker());
  });
  for (let i = 0; i < 3; i++) {
    await page.reload();
    await expect(page).toHaveTitle(/.+/);
  }
  // Each load ran the shim, answered by the worker, which asked the network for none of them.
  expect(fromPage).toEqual([true, true, true]);
  expect(fromWorker).toEqual([]);
});
