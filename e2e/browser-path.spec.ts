import type { Page } from '@playwright/test';
import { expect, test } from './support/fabric.ts';

/** Signs in at the fabric's IdP login page (the real oidc-provider interaction). */
async function signInAtIdp(page: Page, user: { name: string; password: string }): Promise<void> {
  await page.locator('input[name="username"]').fill(user.name);
  await page.locator('input[name="password"]').fill(user.password);
  await page.locator('button[type="submit"]').click();
}

test('a new user opens a deep link, signs in, and the app appears there over the tunnel', async ({
  page,
  zt,
}) => {
  const deepLink = `${zt.siteOrigin}/channels/town-square?view=1#latest`;
  await page.goto(deepLink);
  await signInAtIdp(page, zt.user);
  await page.waitForURL(deepLink, { timeout: 30_000 });
  // The document is the dark app's, with the shim as the first element of <head>.
  await expect(page.locator('head > script').first()).toHaveAttribute('src', '/__zt/shim.js');
  const first = await page.evaluate(() => document.head.firstElementChild?.getAttribute('src'));
  expect(first).toBe('/__zt/shim.js');
  const appSaw = zt.app.requests.filter((r) => r.url.startsWith('/channels/town-square'));
  expect(appSaw.length).toBeGreaterThan(0);
});
