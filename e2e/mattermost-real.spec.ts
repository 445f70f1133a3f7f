/**
 * The mattermost-tunnel flows against Mattermost's own server (PostgreSQL + `mattermost` built by
 * mattermost/build-mattermost.sh, the demo chat UI as its webapp, strict CSRF), through the tunnel
 * on the fabric and on OpenZiti's network (`npm run test:e2e` and `test:real` build it first). The
 * expectations are those of mattermost-tunnel.spec.ts against fabric/demo-app, which imitates this
 * server (mattermost/README.md lists what it imitates and what differs).
 */
import type { BrowserContext, Page } from '@playwright/test';
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
} from './mattermost/flows.ts';
import { signInAtIdp } from './support/enter-app.ts';
import { expect, type FabricFixture, test } from './support/fabric.ts';
import { mattermostUnavailable } from './support/mattermost.ts';

test.use({ darkApp: 'mattermost' });
test.beforeAll(() => {
  const unavailable = mattermostUnavailable();
  if (unavailable) throw new Error(unavailable);
});

async function tunnelledPage(context: BrowserContext, zt: FabricFixture): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${zt.siteOrigin}/login`);
  await signInAtIdp(page, zt.user);
  await page.waitForURL(`${zt.siteOrigin}/login`);
  await expect(page.locator('#login-view')).toBeVisible();
  return page;
}

const leaked = (zt: FabricFixture, from: number) =>
  zt.siteRequests.slice(from).filter((p) => !p.startsWith('/__zt/') && p !== '/sw.js');

test('real Mattermost: two users chat over the tunnel via the websocket (Origin = Site URL)', async ({
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

test('real Mattermost: CSRF header sent by the app and required by the server', async ({
  context,
  zt,
}) => {
  const page = await tunnelledPage(context, zt);
  await loginViaUi(page, zt.siteOrigin, ALICE);
  // e2e/support/mattermost.ts turns ExperimentalStrictCSRFEnforcement on.
  const result = await csrfIsSentAndRequired(page, zt.siteOrigin, { strictCsrf: true });
  expect(result.refusedStatus).toBe(401);
});

test('real Mattermost: cookies over the tunnel, reload keeps the session, logout expires it', async ({
  context,
  zt,
}) => {
  const page = await tunnelledPage(context, zt);
  const docs = recordDocuments(context);
  await loginViaUi(page, zt.siteOrigin, ALICE);
  await cookiesReloadLogout(page, zt.siteOrigin, { browserCookieStore: false });
  expect(await assertAppCsp(docs)).toBeGreaterThanOrEqual(2);
});

test('real Mattermost: upload with progress, download with Range resume, over the tunnel', async ({
  context,
  zt,
}) => {
  test.setTimeout(300_000);
  const page = await tunnelledPage(context, zt);
  await loginViaUi(page, zt.siteOrigin, ALICE);
  const result = await bigFileRoundTrip(page, zt.siteOrigin, 64 * 1024 * 1024);
  expect(result.downloadedHash).toBe(result.generatedHash);
  expect(result.resumeStatus).toBe(206);
  expect(result.progressValues.length).toBeGreaterThan(3);
});

test('real Mattermost: image thumbnail and profile image over the tunnel', async ({
  context,
  zt,
}) => {
  const page = await tunnelledPage(context, zt);
  await loginViaUi(page, zt.siteOrigin, ALICE);
  expect(await imageThumbnailAndProfile(page)).toEqual({
    thumbnail: [120, 90],
    profile: [128, 128],
  });
});

test('real Mattermost: its CSP arrives unchanged on every tunnelled HTML response', async ({
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
