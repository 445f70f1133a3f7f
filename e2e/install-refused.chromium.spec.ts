// What the worker refuses to install without. Playwright intercepts a service worker's own
// requests (its precache, its imported scripts) only in Chromium.
import type { BrowserContext, Page } from '@playwright/test';
import { signInAtIdp } from './support/enter-app.ts';
import { expect, type FabricFixture, test } from './support/fabric.ts';

/** Signs in with `route` answering `pattern`: the worker must not install, and sign-in says so. */
async function expectInstallRefused(
  { context, page, zt }: { context: BrowserContext; page: Page; zt: FabricFixture },
  pattern: string,
  answer: Parameters<BrowserContext['route']>[1],
): Promise<void> {
  let served = 0;
  await context.route(pattern, (route, request) => {
    served++;
    return answer(route, request);
  });
  const appBefore = zt.appRequests.length; // the network is shared by the worker's spec files
  await page.goto(`${zt.siteOrigin}/deep/link`);
  await signInAtIdp(page, zt.user);
  await expect(page.locator('#error')).toContainText('failed to install', { timeout: 30_000 });
  expect(served).toBeGreaterThan(0);
  expect(await page.evaluate(() => navigator.serviceWorker.controller)).toBeNull();
  // Nothing reached the dark app.
  expect(zt.appRequests.slice(appBefore)).toEqual([]);
}

test('a swapped libsodium module is refused: the worker does not install and sign-in says why', async ({
  context,
  page,
  zt,
}) => {
  // What a tampered or misconfigured server might send instead (here: the module, one byte changed).
  await expectInstallRefused({ context, page, zt }, '**/__zt/sodium.wasm', async (route) => {
    const original = await route.fetch();
    const body = await original.body();
    body[body.length - 1]! ^= 1;
    await route.fulfill({ response: original, body });
  });
});

test('a worker part the server cannot give fails the install: sign-in says why, nothing reaches the app', async ({
  context,
  page,
  zt,
}) => {
  // A deployment that forgot /__zt/sw-parts/ (a CDN serving only the old layout).
  await expectInstallRefused({ context, page, zt }, '**/__zt/sw-parts/cookies.*.js', (route) =>
    route.fulfill({ status: 404, contentType: 'text/plain', body: 'not found' }),
  );
});
