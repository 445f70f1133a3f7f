/**
 * HTTP Basic authentication inside the tunnel (sw/http-auth.ts): a 401 the worker receives never
 * reaches the browser's network layer, so the worker asks with its own page, keeps what was
 * entered in its memory and sends it as a browser would. The probe app's `/basic/*` pages want
 * `alice` / `wonderland` for the realm "probe"; `/basic/logout` always answers 401.
 */
import type { IncomingMessage } from 'node:http';
import type { Page } from '@playwright/test';
import { enterApp } from './support/enter-app.ts';
import { expect, test } from './support/fabric.ts';
import {
  BASIC_PASSWORD,
  BASIC_REALM,
  BASIC_USER,
  PROBE_TITLE,
  type ProbeRequest,
} from './support/probe-app.ts';

const AUTHORIZATION = `Basic ${Buffer.from(`${BASIC_USER}:${BASIC_PASSWORD}`).toString('base64')}`;

/** Our sign-in page is showing, for the probe realm at the site's host. */
async function expectSignInPage(page: Page, siteOrigin: string): Promise<void> {
  await page.waitForURL((u) => u.pathname === '/__zt/http-auth', { timeout: 15_000 });
  await expect(page.locator('#realm')).toHaveText(BASIC_REALM);
  await expect(page.locator('#host')).toHaveText(new URL(siteOrigin).host);
}

async function signIn(page: Page, user: string, password: string): Promise<void> {
  await page.locator('#user').fill(user);
  await page.locator('#password').fill(password);
  await page.locator('#submit').click();
}

test('Basic authentication: our sign-in page, a refused password, the app page, subresources, the app logout and sign-out; nothing of it reaches the static site', async ({
  page,
  zt,
}) => {
  // Everything the static site receives, headers included (the fabric network only; the path list
  // covers the others).
  const siteHeaders: string[] = [];
  zt.fabric?.site?.on('request', (req: IncomingMessage) =>
    siteHeaders.push(`${req.url} ${JSON.stringify(req.headers)}`),
  );
  const requests = () => zt.appRequests as readonly ProbeRequest[];
  await enterApp(page, zt, '/');

  await test.step('a navigation answered 401 Basic shows our page, naming realm and host', async () => {
    await page.goto(`${zt.siteOrigin}/basic/page`);
    await expectSignInPage(page, zt.siteOrigin);
    await expect(page.locator('#error')).toHaveText('');
    // The app was asked without credentials first.
    expect(requests().find((r) => r.url === '/basic/page')?.authorization).toBe('');
  });

  await test.step('a wrong password shows the page again, saying it was not accepted', async () => {
    await signIn(page, BASIC_USER, 'not-the-password');
    await page.waitForURL((u) => u.searchParams.get('failed') === '1', { timeout: 15_000 });
    await expectSignInPage(page, zt.siteOrigin);
    await expect(page.locator('#error')).toContainText('not accepted');
  });

  await test.step('the right password shows the app page', async () => {
    const before = requests().length;
    await signIn(page, BASIC_USER, BASIC_PASSWORD);
    await page.waitForURL(`${zt.siteOrigin}/basic/page`, { timeout: 15_000 });
    await expect(page).toHaveTitle(PROBE_TITLE);
    await expect(page.locator('#probe')).toHaveText('basic /basic/page');
    const sent = requests()
      .slice(before)
      .find((r) => r.url === '/basic/page');
    expect(sent?.authorization).toBe(AUTHORIZATION);
  });

  await test.step('a subresource under /basic/ carries them; credentials: omit does not', async () => {
    const before = requests().length;
    const answers = await page.evaluate(async () => {
      const data = await fetch('/basic/data');
      const omitted = await fetch('/basic/data?omit', { credentials: 'omit' });
      const own = await fetch('/basic/data?own', { headers: { Authorization: 'Bearer page' } });
      return [data.status, await data.json(), omitted.status, own.status];
    });
    expect(answers).toEqual([200, { user: BASIC_USER }, 401, 401]);
    const seen = requests().slice(before);
    expect(seen.find((r) => r.url === '/basic/data')?.authorization).toBe(AUTHORIZATION);
    expect(seen.find((r) => r.url === '/basic/data?omit')?.authorization).toBe('');
    // The page's own Authorization goes as the page set it, and its 401 is the page's to handle.
    expect(seen.filter((r) => r.url === '/basic/data?own').map((r) => r.authorization)).toEqual([
      'Bearer page',
    ]);
    // Outside the protection space nothing is sent unasked.
    await page.evaluate(() => fetch('/elsewhere'));
    expect(requests().find((r) => r.url === '/elsewhere')?.authorization).toBe('');
  });

  await test.step("the app's logout URL (a 401 to a request that carried them) clears them", async () => {
    const response = await page.goto(`${zt.siteOrigin}/basic/logout`);
    expect(response?.status()).toBe(401);
    await expect(page.locator('#probe')).toHaveText('logged out');
    expect(requests().findLast((r) => r.url === '/basic/logout')?.authorization).toBe(
      AUTHORIZATION,
    );
    await page.goto(`${zt.siteOrigin}/basic/page`);
    await expectSignInPage(page, zt.siteOrigin);
    await expect(page.locator('#error')).toHaveText('');
  });

  await test.step('sign-out wipes them: after a new login the app asks again', async () => {
    await signIn(page, BASIC_USER, BASIC_PASSWORD);
    await page.waitForURL(`${zt.siteOrigin}/basic/page`, { timeout: 15_000 });
    await expect(page.locator('#probe')).toHaveText('basic /basic/page');
    await page.goto(`${zt.siteOrigin}/__zt/index.html?logout=1`);
    await page.getByRole('button', { name: 'Sign out and forget this device' }).click();
    await expect(page.locator('html')).toHaveAttribute('data-zt-state', 'signed-out');
    await enterApp(page, zt, '/');
    const before = requests().length;
    await page.goto(`${zt.siteOrigin}/basic/page`);
    await expectSignInPage(page, zt.siteOrigin);
    expect(
      requests()
        .slice(before)
        .filter((r) => r.url === '/basic/page')
        .map((r) => r.authorization),
    ).toEqual(['']);
  });

  await test.step('nothing of the credentials ever reached the static site', async () => {
    const leaks = (text: string) =>
      text.includes(BASIC_PASSWORD) ||
      text.includes('not-the-password') ||
      text.includes(AUTHORIZATION.slice('Basic '.length)) ||
      /authorization/i.test(text);
    expect(zt.siteRequests.filter(leaks)).toEqual([]);
    expect(siteHeaders.filter(leaks)).toEqual([]);
    // Neither did the app's pages: only our own files came from the site.
    expect(zt.siteRequests.filter((p) => p.startsWith('/basic/'))).toEqual([]);
  });
});
