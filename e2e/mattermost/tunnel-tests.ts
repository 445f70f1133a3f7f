/**
 * The Mattermost flows through the tunnel (bootstrap login at the IdP, then the app over OpenZiti),
 * declared once for both dark apps: fabric/demo-app (mattermost-tunnel.spec.ts) and Mattermost's
 * own server (mattermost-real.spec.ts). The demo app imitates the server, so the expectations are
 * the same; mattermost/README.md lists what it imitates and what still differs.
 */
import type { BrowserContext, Page } from '@playwright/test';
import { signInAtIdp } from '../support/enter-app.ts';
import { expect, type FabricFixture, test } from '../support/fabric.ts';
import {
  ALICE,
  assertAppCsp,
  bigFileRoundTrip,
  cookiesReloadLogout,
  csrfIsSentAndRequired,
  imageThumbnailAndProfile,
  loginViaUi,
  recordDocuments,
  twoUsersChat,
} from './flows.ts';

/** A page that went through the bootstrap (IdP login, enrollment) and now runs the app over the tunnel. */
export async function tunnelledPage(context: BrowserContext, zt: FabricFixture): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${zt.siteOrigin}/login`);
  await signInAtIdp(page, zt.user);
  await page.waitForURL(`${zt.siteOrigin}/login`);
  await expect(page.locator('#login-view')).toBeVisible();
  return page;
}

/** Every app path the open network was asked for since `from`: must be none. */
const leaked = (zt: FabricFixture, from: number) =>
  zt.siteRequests.slice(from).filter((p) => !p.startsWith('/__zt/') && p !== '/sw.js');

/** Declares the tunnel tests under `server` (which dark app); `bigFileBytes` sizes the upload. */
export function tunnelTests({ server, bigFileBytes }: { server: string; bigFileBytes: number }) {
  test.describe(server, () => defineTests(bigFileBytes));
}

function defineTests(bigFileBytes: number) {
  test(`two users chat over the tunnel: each sees the other within 1 s via the websocket`, async ({
    browser,
    zt,
  }) => {
    const contexts = [await browser.newContext(), await browser.newContext()];
    const [alice, bob] = await Promise.all(contexts.map((c) => tunnelledPage(c, zt)));
    const from = zt.siteRequests.length;
    const docs = contexts.map((c) => recordDocuments(c));
    const latency = await twoUsersChat(alice!, bob!, zt.siteOrigin);
    test.info().annotations.push({ type: 'latency', description: JSON.stringify(latency) });
    expect(latency.aliceToBobMs).toBeLessThan(1000);
    expect(latency.bobToAliceMs).toBeLessThan(1000);
    await assertAppCsp(docs.flat());
    expect(leaked(zt, from)).toEqual([]);
    const upgrades = (
      zt.appRequests as unknown as {
        url: string;
        upgrade?: boolean;
        headers?: Record<string, string>;
      }[]
    ).filter((r) => r.upgrade && r.url.startsWith('/api/v4/websocket'));
    expect(upgrades.length).toBeGreaterThanOrEqual(2);
    // Mattermost refuses (403) any Origin but its Site URL's, which is the site's origin.
    for (const u of upgrades) expect(u.headers?.origin).toBe(zt.siteOrigin);
    await Promise.all(contexts.map((c) => c.close()));
  });

  test(`CSRF header is sent by the app and required by the server, over the tunnel`, async ({
    context,
    zt,
  }) => {
    const page = await tunnelledPage(context, zt);
    await loginViaUi(page, zt.siteOrigin, ALICE);
    // Strict CSRF: the demo app's default, and what e2e/support/mattermost.ts turns on in Mattermost.
    const result = await csrfIsSentAndRequired(page, zt.siteOrigin, { strictCsrf: true });
    expect(result.refusedStatus).toBe(401);
  });

  test(`cookies over the tunnel: MMAUTHTOKEN hidden from script, reload keeps the session, logout expires it`, async ({
    context,
    zt,
  }) => {
    const page = await tunnelledPage(context, zt);
    const docs = recordDocuments(context);
    await loginViaUi(page, zt.siteOrigin, ALICE);
    await cookiesReloadLogout(page, zt.siteOrigin, { browserCookieStore: false });
    expect(await assertAppCsp(docs)).toBeGreaterThanOrEqual(2);
  });

  test(`upload with progress, download with Range resume, over the tunnel`, async ({
    context,
    zt,
  }) => {
    test.setTimeout(300_000);
    const page = await tunnelledPage(context, zt);
    await loginViaUi(page, zt.siteOrigin, ALICE);
    const result = await bigFileRoundTrip(page, zt.siteOrigin, bigFileBytes);
    expect(result.downloadedHash).toBe(result.generatedHash);
    expect(result.resumeStatus).toBe(206);
    // Upload progress events fire although the worker answers the XHR (re-emitted by the shim).
    expect(result.progressValues.length).toBeGreaterThan(3);
    test.info().annotations.push({
      type: 'big-file',
      description: JSON.stringify({
        bytes: bigFileBytes,
        uploadMs: Math.round(result.uploadMs),
        downloadMs: Math.round(result.downloadMs),
      }),
    });
  });

  test(`image thumbnail and profile image over the tunnel`, async ({ context, zt }) => {
    const page = await tunnelledPage(context, zt);
    await loginViaUi(page, zt.siteOrigin, ALICE);
    expect(await imageThumbnailAndProfile(page)).toEqual({
      thumbnail: [120, 90],
      profile: [128, 128],
    });
  });

  test(`the app CSP arrives unchanged on every tunnelled HTML response`, async ({
    context,
    zt,
  }) => {
    const page = await tunnelledPage(context, zt);
    const docs = recordDocuments(context);
    for (const path of ['/', '/login', '/demo/channels/town-square', '/some/deep/link?x=1']) {
      await page.goto(`${zt.siteOrigin}${path}`);
    }
    expect(await assertAppCsp(docs)).toBe(4);
  });
}
