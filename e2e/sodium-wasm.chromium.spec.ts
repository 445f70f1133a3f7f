// Playwright intercepts a service worker's own requests (its precache) only in Chromium.
import { signInAtIdp } from './support/enter-app.ts';
import { expect, test } from './support/fabric.ts';

test('a swapped libsodium module is refused: the worker does not install and sign-in says why', async ({
  context,
  page,
  zt,
}) => {
  // What a tampered or misconfigured server might send instead (here: the module, one byte changed).
  let served = 0;
  await context.route('**/__zt/sodium.wasm', async (route) => {
    const original = await route.fetch();
    const body = await original.body();
    body[body.length - 1]! ^= 1;
    served++;
    await route.fulfill({ response: original, body });
  });
  const appBefore = zt.appRequests.length; // the network is shared by the worker's spec files
  await page.goto(`${zt.siteOrigin}/deep/link`);
  await signInAtIdp(page, zt.user);
  await expect(page.locator('#error')).toContainText('failed to install', { timeout: 30_000 });
  expect(served).toBeGreaterThan(0);
  expect(await page.evaluate(() => navigator.serviceWorker.controller)).toBeNull();
  // Nothing reached the dark app.
  expect(zt.appRequests.slice(appBefore)).toEqual([]);
});
