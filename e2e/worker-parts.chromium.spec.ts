// Playwright intercepts a service worker's own requests (its imported scripts) only in Chromium.
import { signInAtIdp } from './support/enter-app.ts';
import { expect, test } from './support/fabric.ts';

test('a worker part the server cannot give fails the install: sign-in says why, nothing reaches the app', async ({
  context,
  page,
  zt,
}) => {
  // A deployment that forgot /__zt/sw-parts/ (a CDN serving only the old layout).
  let asked = 0;
  await context.route('**/__zt/sw-parts/cookies.*.js', (route) => {
    asked++;
    return route.fulfill({ status: 404, contentType: 'text/plain', body: 'not found' });
  });
  const appBefore = zt.appRequests.length;
  await page.goto(`${zt.siteOrigin}/deep/link`);
  await signInAtIdp(page, zt.user);
  await expect(page.locator('#error')).toContainText('failed to install', { timeout: 30_000 });
  expect(asked).toBeGreaterThan(0);
  expect(await page.evaluate(() => navigator.serviceWorker.controller)).toBeNull();
  expect(zt.appRequests.slice(appBefore)).toEqual([]);
});
