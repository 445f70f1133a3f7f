/**
 * The installable, offline-capable side: our manifest and icons, the precached shell, the app's
 * immutable assets and documents kept as they pass, a reload without network showing the app with an
 * offline banner, and the way back online without a new login.
 */
import type { Page } from '@playwright/test';
import { ALICE, loginViaUi } from './mattermost/flows.ts';
import { signInAtIdp } from './support/enter-app.ts';
import { expect, type FabricFixture, test } from './support/fabric.ts';

test.use({ darkApp: 'demo' });

async function tunnelledApp(page: Page, zt: FabricFixture): Promise<void> {
  await page.goto(`${zt.siteOrigin}/login`);
  await signInAtIdp(page, zt.user);
  await page.waitForURL(`${zt.siteOrigin}/login`);
  await loginViaUi(page, zt.siteOrigin, ALICE);
}

/** Keys of our caches, by cache name (read from the page: same origin as the worker). */
const cacheKeys = (page: Page) =>
  page.evaluate(async () => {
    const out: Record<string, string[]> = {};
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      out[name] = (await cache.keys()).map((r) => new URL(r.url).pathname);
    }
    return out;
  });

test('installable: the bootstrap page links a valid manifest whose icons load, and our worker controls the app', async ({
  page,
  zt,
}) => {
  await tunnelledApp(page, zt);
  const result = await page.evaluate(async () => {
    const html = await (await fetch('/__zt/index.html')).text();
    const doc = new DOMParser().parseFromString(html, 'text/html');
    const href = doc.querySelector('link[rel="manifest"]')?.getAttribute('href') ?? '';
    const res = await fetch(href);
    const manifest = await res.json();
    const icons: { src: string; sizes: string; type: string; purpose?: string; size: string }[] =
      [];
    for (const icon of manifest.icons) {
      const blob = await (await fetch(icon.src)).blob();
      let size = 'any';
      if (icon.type === 'image/png') {
        const bitmap = await createImageBitmap(blob);
        size = `${bitmap.width}x${bitmap.height}`;
      }
      icons.push({ ...icon, size });
    }
    return {
      href,
      contentType: res.headers.get('content-type'),
      manifest,
      icons,
      controller: navigator.serviceWorker.controller?.scriptURL,
      // The app's own manifest link keeps working: it is the app's, untouched.
      appManifest: document.querySelector('link[rel="manifest"]')?.getAttribute('href'),
    };
  });
  expect(result.href).toBe('/__zt/manifest.webmanifest');
  expect(result.manifest).toMatchObject({
    name: expect.any(String),
    short_name: expect.any(String),
    start_url: '/',
    scope: '/',
    display: 'standalone',
    theme_color: expect.stringMatching(/^#[0-9a-f]{6}$/i),
    background_color: expect.stringMatching(/^#[0-9a-f]{6}$/i),
  });
  for (const icon of result.icons.filter((i) => i.type === 'image/png'))
    expect(icon.size).toBe(icon.sizes);
  const pngs = result.icons.filter((i) => i.type === 'image/png');
  expect(pngs.map((i) => `${i.sizes} ${i.purpose}`)).toEqual(
    expect.arrayContaining(['192x192 any', '512x512 any', '512x512 maskable']),
  );
  expect(result.controller).toBe(`${zt.siteOrigin}/sw.js`);
  expect(result.appManifest).toBe('/static/manifest.json');

  // Our shell is precached with revisions (served from the cache whatever the query).
  const keys = await cacheKeys(page);
  const precached = Object.entries(keys).find(([name]) => name.startsWith('zt-precache'))?.[1];
  expect(precached).toEqual(
    expect.arrayContaining([
      '/__zt/index.html',
      '/__zt/shim.js',
      '/__zt/bootstrap.js',
      '/__zt/offline.js',
      '/__zt/manifest.webmanifest',
      '/__zt/icon-192.png',
    ]),
  );
});

test('offline: a reload shows the app from cache with a banner; back online it reconnects without a new login', async ({
  page,
  context,
  zt,
  browserName,
}) => {
  await tunnelledApp(page, zt);
  const appPath = new URL(page.url()).pathname;
  await page.reload();
  await expect(page.locator('#ws-status')).toHaveText('live');

  // The document and the app's hashed assets were kept as they passed; no API answer was.
  await expect
    .poll(async () => (await cacheKeys(page))['zt-app-v1'] ?? [], { timeout: 10_000 })
    .toEqual(
      expect.arrayContaining([appPath, expect.stringMatching(/^\/static\/assets\/index-.*\.js$/)]),
    );
  const kept = (await cacheKeys(page))['zt-app-v1'] ?? [];
  expect(kept.filter((p) => p.startsWith('/api/'))).toEqual([]);

  const idpBefore = zt.siteRequests.length;
  await context.setOffline(true);
  await page.reload();
  await expect(page).toHaveTitle('Demo Chat');
  if (browserName === 'chromium') {
    // Chromium's offline mode reaches the worker: the tunnel is gone, the cached document is served
    // with our banner, and the app's own code (from the cache) shows its own offline state.
    await expect(page.locator('#zt-offline-banner')).toBeVisible();
    await expect(page.locator('#zt-offline-banner')).toContainText('offline');
    await expect(page.locator('#ws-status')).not.toHaveText('live');
    // What was not kept fails at once with our error, instead of waiting for the tunnel.
    const uncached = await page.evaluate(async () => {
      const r = await fetch('/static/icon.svg?offline=1');
      return [r.status, r.headers.get('x-zt-error')];
    });
    expect(uncached).toEqual([503, 'router-unreachable']);
  } else {
    // Firefox's offline emulation does not reach the worker's open router WebSocket (measured): the
    // reload is still carried by the tunnel. The shell renders either way.
    await expect(page.locator('#chat-view')).toBeVisible();
  }

  await context.setOffline(false);
  // offline.js reloads on `online`; the app comes back over the tunnel, still signed in.
  if (browserName !== 'chromium') await page.reload();
  await expect(page.locator('#zt-offline-banner')).toHaveCount(0, { timeout: 30_000 });
  await expect(page.locator('#chat-view')).toBeVisible({ timeout: 30_000 });
  await expect(page.locator('#ws-status')).toHaveText('live', { timeout: 30_000 });
  expect(new URL(page.url()).origin).toBe(zt.siteOrigin);
  expect(zt.siteRequests.slice(idpBefore).filter((p) => p.startsWith('/__zt/callback'))).toEqual(
    [],
  );
});
