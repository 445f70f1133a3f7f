import { expect, type Page } from '@playwright/test';
import type { FabricFixture } from './fabric.ts';
import { PROBE_TITLE } from './probe-app.ts';

/** Signs in at the fabric's IdP login page (the real oidc-provider interaction). */
export async function signInAtIdp(
  page: Page,
  user: { name: string; password: string },
): Promise<void> {
  await page.locator('input[name="username"]').fill(user.name);
  await page.locator('input[name="password"]').fill(user.password);
  await page.locator('button[type="submit"]').click();
}

/** Opens `path` as a new user would and signs in; resolves on the app's page at that URL. */
export async function enterApp(page: Page, zt: FabricFixture, path = '/'): Promise<string> {
  const url = `${zt.siteOrigin}${path}`;
  await page.goto(url);
  await signInAtIdp(page, zt.user);
  await page.waitForURL(url, { timeout: 30_000 });
  await expect(page).toHaveTitle(PROBE_TITLE);
  return url;
}
