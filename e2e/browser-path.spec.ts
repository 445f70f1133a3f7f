import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acceptFabricCert } from './browsers.ts';
import { enterApp } from './support/enter-app.ts';
import { expect, test } from './support/fabric.ts';

/** Our own files: the only paths the open network may be asked for on the app's origin. */
const isOwnPath = (path: string) => path.startsWith('/__zt/') || path === '/sw.js';

test('a new user opens a deep link, signs in, and the app appears there over the tunnel', async ({
  page,
  zt,
}) => {
  const deepPath = '/channels/town-square?view=1#latest';
  const before = zt.siteRequests.length;
  await enterApp(page, zt, deepPath);

  // The document is the dark app's, with the shim as the first element of <head>.
  const first = await page.evaluate(() => document.head.firstElementChild?.getAttribute('src'));
  expect(first).toBe('/__zt/shim.js');
  await expect(page.locator('#probe')).toHaveText('dark /channels/town-square');
  expect(zt.appRequests.some((r) => r.url === '/channels/town-square?view=1')).toBe(true);

  // The open network saw the first visit (answered with the bootstrap page) and our own files only.
  const site = zt.siteRequests.slice(before);
  expect(site[0]).toBe('/channels/town-square?view=1');
  expect(site.slice(1).filter((p) => !isOwnPath(p))).toEqual([]);
});

test('the sign-in callback asks again for nothing the login began with: configuration, signer, IdP metadata', async ({
  page,
  zt,
}) => {
  const asked: string[] = [];
  page.on('request', (request) => {
    if (!request.isNavigationRequest() && request.frame().url().includes('/__zt/callback'))
      asked.push(new URL(request.url()).pathname);
  });
  await enterApp(page, zt, '/start');
  // What the callback must ask: the IdP's token, the controller's certificate.
  expect(asked).toEqual(
    expect.arrayContaining(['/token', '/edge/client/v1/current-api-session/certificates']),
  );
  // What the first page already read and kept with the pending login.
  for (const kept of [
    '/__zt/config.json',
    '/edge/client/v1/external-jwt-signers',
    '/.well-known/openid-configuration',
  ])
    expect(asked).not.toContain(kept);
});

test('page loads take the shim from the worker precache, without asking the origin for it', async ({
  page,
  zt,
}) => {
  await enterApp(page, zt, '/start');
  const before = zt.siteRequests.length;
  for (let i = 0; i < 3; i++) {
    await page.reload();
    await expect(page.locator('#probe')).toHaveText('dark /start');
    // The worker's answer: the shim with the routing context it writes in front of it.
    expect(await page.evaluate(() => '__ztRoutes' in window)).toBe(true);
  }
  expect(zt.siteRequests.slice(before).filter((p) => p.startsWith('/__zt/shim.js'))).toEqual([]);
});

test('every app request after login goes through the tunnel, none to the open network', async ({
  page,
  zt,
}) => {
  await enterApp(page, zt, '/start');
  const before = zt.siteRequests.length;
  const appBefore = zt.appRequests.length;
  const statuses = await page.evaluate(async () => {
    const paths = ['/api/a', '/api/b?x=1', '/static/app.js', '/'];
    const out: number[] = [];
    for (const p of paths)
      out.push(
        (await fetch(p, { method: p === '/' ? 'POST' : 'GET', body: p === '/' ? 'x' : null }))
          .status,
      );
    return out;
  });
  expect(statuses).toEqual([200, 200, 200, 200]);
  await page.reload();
  await expect(page.locator('#probe')).toHaveText('dark /start');
  expect(zt.siteRequests.slice(before).filter((p) => !isOwnPath(p))).toEqual([]);
  const seen = zt.appRequests.slice(appBefore).map((r) => `${r.method} ${r.url}`);
  expect(seen).toEqual(
    expect.arrayContaining([
      'GET /api/a',
      'GET /api/b?x=1',
      'GET /static/app.js',
      'POST /',
      'GET /start',
    ]),
  );
});

test('HttpOnly cookies stay in the worker; others are visible to the page', async ({
  page,
  zt,
}) => {
  await enterApp(page, zt);
  const result = await page.evaluate(async () => {
    await fetch('/cookies/set');
    const echoed = await (await fetch('/cookies/echo')).text();
    return { echoed, documentCookie: document.cookie };
  });
  expect(result.echoed).toContain('probe_session=secret-value');
  expect(result.echoed).toContain('probe_visible=hello');
  expect(result.documentCookie).toContain('probe_visible=hello');
  expect(result.documentCookie).not.toContain('probe_session');
});

test('absolute redirects to the dark host come back pointing at the public origin', async ({
  page,
  zt,
}) => {
  await enterApp(page, zt);
  await page.goto(`${zt.siteOrigin}/redirect`);
  await page.waitForURL(`${zt.siteOrigin}/landing?from=redirect`);
  await expect(page.locator('#probe')).toHaveText('dark /landing');
});

const MiB = 1024 * 1024;

test('a 100 MiB upload and a 200 MiB download stream through with matching content', async ({
  page,
  zt,
}) => {
  test.setTimeout(180_000);
  await enterApp(page, zt);
  const upload = await page.evaluate(async (size) => {
    // The xorshift stream, built in 1 MiB parts, sent as one Blob body.
    const parts: Uint32Array[] = [];
    let x = 1;
    for (let done = 0; done < size; done += 1024 * 1024) {
      const words = new Uint32Array(Math.min(1024 * 1024, size - done) / 4);
      for (let i = 0; i < words.length; i++) {
        x ^= x << 13;
        x >>>= 0;
        x ^= x >>> 17;
        x ^= x << 5;
        x >>>= 0;
        words[i] = x;
      }
      parts.push(words);
    }
    const body = new Blob(parts as BlobPart[]);
    const response = await fetch('/upload', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/octet-stream' },
    });
    return (await response.json()) as { length: number; matches: boolean };
  }, 100 * MiB);
  expect(upload).toEqual(expect.objectContaining({ length: 100 * MiB, matches: true }));

  const download = await page.evaluate(async (size) => {
    // Saved as a download would be (the browser consumes at its own pace), then checked.
    const response = await fetch(`/bytes?n=${size}`);
    const blob = await response.blob();
    const reader = blob.stream().getReader();
    let x = 1;
    let mismatches = 0;
    let carry = new Uint8Array(0);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      let bytes = value;
      if (carry.length) {
        bytes = new Uint8Array(carry.length + value.length);
        bytes.set(carry);
        bytes.set(value, carry.length);
      }
      const usable = bytes.length & ~3;
      const words = new Uint32Array(
        bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + usable),
      );
      for (let i = 0; i < words.length; i++) {
        x ^= x << 13;
        x >>>= 0;
        x ^= x >>> 17;
        x ^= x << 5;
        x >>>= 0;
        if (words[i] !== x) mismatches++;
      }
      carry = bytes.slice(usable);
    }
    return { length: blob.size, mismatches, contentLength: response.headers.get('content-length') };
  }, 200 * MiB);
  expect(download).toEqual({ length: 200 * MiB, mismatches: 0, contentLength: String(200 * MiB) });
});

test('signing out wipes the device; the next visit needs a new login', async ({ page, zt }) => {
  await enterApp(page, zt);
  await page.goto(`${zt.siteOrigin}/__zt/index.html?logout=1`);
  await page.getByRole('button', { name: 'Sign out and forget this device' }).click();
  await expect(page.locator('html')).toHaveAttribute('data-zt-state', 'signed-out');
  const left = await page.evaluate(async () => ({
    registrations: (await navigator.serviceWorker.getRegistrations()).length,
    caches: (await caches.keys()).length,
  }));
  expect(left).toEqual({ registrations: 0, caches: 0 });
  await page.goto(`${zt.siteOrigin}/again`);
  await expect(page.locator('input[name="username"]')).toBeVisible();
});

test('after a browser restart the app comes back from IndexedDB without a new login', async ({
  playwright,
  browserName,
  zt,
}, testInfo) => {
  const browserType = playwright[browserName];
  // A persistent profile, closed and reopened: the service worker starts from nothing but its
  // IndexedDB state (key, certificate, tokens, cookies), as after the browser stopped it.
  const profile = mkdtempSync(join(tmpdir(), 'zt-profile-'));
  const launch = {
    ...testInfo.project.use.launchOptions,
    ...acceptFabricCert,
    serviceWorkers: 'allow' as const,
  };
  let context = await browserType.launchPersistentContext(profile, launch);
  const page = context.pages()[0] ?? (await context.newPage());
  await enterApp(page, zt, '/before-restart');
  await page.evaluate(() => fetch('/cookies/set'));
  await context.close();

  context = await browserType.launchPersistentContext(profile, launch);
  const again = context.pages()[0] ?? (await context.newPage());
  const appBefore = zt.appRequests.length;
  await again.goto(`${zt.siteOrigin}/after-restart`);
  await expect(again.locator('#probe')).toHaveText('dark /after-restart');
  const echoed = await again.evaluate(async () => (await fetch('/cookies/echo')).text());
  expect(echoed).toContain('probe_session=secret-value');
  expect(zt.appRequests.slice(appBefore).map((r) => r.url)).toContain('/after-restart');
  // The cookie jar's library came from the part the browser kept with the worker.
  const parts = await again.evaluate(
    async () => ((await (await fetch('/__zt/sw-status')).json()) as { parts: string[] }).parts,
  );
  expect(parts).toContain('cookies');
  await context.close();
});
