// Chromium only: CDP's ServiceWorker.stopAllWorkers stops a worker as the browser does when idle.
// (Firefox covers the same resume path with a full browser restart in browser-path.spec.ts.)

import { enterApp } from './support/enter-app.ts';
import { expect, test } from './support/fabric.ts';
import { workerHeapUsed } from './support/worker-heap.ts';

test('the worker stopped by the browser resumes from IndexedDB without a new login', async ({
  page,
  zt,
}) => {
  await enterApp(page, zt);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('ServiceWorker.enable');
  const fetchStatus = () => page.evaluate(async () => (await fetch('/api/after-restart')).status);

  await cdp.send('ServiceWorker.stopAllWorkers');
  expect(await fetchStatus()).toBe(200);

  // Stopped in the middle of a download: the browser ends the worker and with it the response
  // stream the worker was feeding, so the page's next read fails with a network error, short of
  // the end (nothing resumes a response mid-body, and a truncated body must not look complete).
  // The next request starts a new worker and works.
  const total = 64 * 1024 * 1024;
  const download = page.evaluate(async (n) => {
    const progress = window as unknown as { downloaded: number };
    progress.downloaded = 0;
    const reader = (await fetch(`/bytes?n=${n}`)).body!.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return { got: progress.downloaded, error: null };
        progress.downloaded += value.length;
      }
    } catch (err) {
      return { got: progress.downloaded, error: String(err) };
    }
  }, total);
  // Stop it once bytes are flowing (not after a fixed delay, which a slow start would outrun).
  await page.waitForFunction(
    () => ((window as unknown as { downloaded?: number }).downloaded ?? 0) > 0,
  );
  await cdp.send('ServiceWorker.stopAllWorkers');
  const outcome = await download;
  expect(outcome.error).toMatch(/TypeError/);
  expect(outcome.got).toBeGreaterThan(0);
  expect(outcome.got).toBeLessThan(total);
  expect(await fetchStatus()).toBe(200);
  await page.reload();
  await expect(page.locator('#probe')).toHaveText('dark /');
});

test("the worker's parts come from the browser after a stop, imported only when first needed", async ({
  context,
  page,
  zt,
}) => {
  const isPart = (path: string) => path.startsWith('/__zt/sw-parts/');
  const siteBefore = zt.siteRequests.length;
  await enterApp(page, zt);
  // The install fetched each part once (the cookie jar's library and the OAuth library).
  const installed = zt.siteRequests.slice(siteBefore).filter(isPart);
  expect(installed.map((p) => p.replace(/\.[0-9a-f]{16}\.js$/, ''))).toEqual(
    expect.arrayContaining(['/__zt/sw-parts/cookies', '/__zt/sw-parts/oauth']),
  );
  // From now on the network has none of them: a restarted worker must read them from the browser.
  let asked = 0;
  await context.route('**/__zt/sw-parts/**', (route) => {
    asked++;
    return route.abort();
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send('ServiceWorker.enable');
  await cdp.send('ServiceWorker.stopAllWorkers');
  const status = () =>
    page.evaluate(
      async () =>
        (await (await fetch('/__zt/sw-status')).json()) as { startedAt: number; parts: string[] },
    );
  const started = await status();
  expect(started.parts).toEqual([]); // the new worker has parsed none of them yet
  expect(await page.evaluate(async () => (await fetch('/api/after-stop')).status)).toBe(200);
  const after = await status();
  expect(after.startedAt).toBe(started.startedAt);
  expect(after.parts).toEqual(['cookies']); // the request's cookie jar needed its library
  expect(asked).toBe(0);
});

test('a restarted worker whose refresh token the controller refuses refreshes its IdP token and signs in again', async ({
  page,
  zt,
}) => {
  await enterApp(page, zt);
  // The stored API session's access token is due and its refresh token spent; the IdP's token has
  // expired too: the worker must use the IdP's refresh token (the OAuth library, a worker part).
  const idpBefore = await rewriteIdentity(page, 'tokens-spent');
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('ServiceWorker.enable');
  await cdp.send('ServiceWorker.stopAllWorkers');
  expect(await page.evaluate(async () => (await fetch('/api/after-refresh')).status)).toBe(200);
  const status = await page.evaluate(
    async () =>
      (await (await fetch('/__zt/sw-status')).json()) as {
        upkeep: { outcome: string } | null;
        parts: string[];
      },
  );
  expect(status.upkeep?.outcome).toBe('re-authenticated');
  expect(status.parts).toContain('oauth');
  const idpAfter = (await keptFacts(page)).idp;
  expect(idpAfter?.presented).not.toBe(idpBefore);
  expect(idpAfter?.expiresAt).toBeGreaterThan(Date.now());
});

test('the worker heap stays flat while 200 MiB stream through it', async ({
  page,
  zt,
  browser,
}) => {
  test.setTimeout(120_000);
  await enterApp(page, zt);
  const samples: number[] = [await workerHeapUsed(browser)];
  const size = 200 * 1024 * 1024;
  const download = page.evaluate(async (n) => {
    const reader = (await fetch(`/bytes?n=${n}`)).body!.getReader();
    let got = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return got;
      got += value.length;
    }
  }, size);
  let finished = false;
  void download.finally(() => {
    finished = true;
  });
  while (!finished) {
    samples.push(await workerHeapUsed(browser));
    await page.waitForTimeout(250);
  }
  expect(await download).toBe(size);
  const peak = Math.max(...samples);
  console.log(
    `worker heap: start ${(samples[0]! / 1e6).toFixed(1)} MB, peak ${(peak / 1e6).toFixed(1)} MB over ${samples.length} samples`,
  );
  // 200 MiB passed through; the worker may hold a few receive windows and TLS records, not the body.
  expect(peak - samples[0]!).toBeLessThan(48 * 1024 * 1024);
});

/** The worker's kept facts (`sw/tunnel/kept-facts.ts`) and the identity's certificate. */
/** What the worker keeps for its next start (its tunnel facts), with its certificate and IdP token. */
const keptFacts = (page: import('@playwright/test').Page) =>
  page.evaluate(
    () =>
      new Promise<{
        caBundle?: string[];
        sessions?: Record<string, { token: string }>;
        certificate: string;
        idp?: { presented: string; expiresAt: number };
      }>((resolve, reject) => {
        const open = indexedDB.open('zt');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const store = open.result.transaction('kv').objectStore('kv');
          const facts = store.get('tunnel-facts');
          const identity = store.get('identity');
          store.transaction.oncomplete = () =>
            resolve({
              ...facts.result,
              certificate: identity.result.certificates[0],
              idp: identity.result.idp,
            });
          store.transaction.onerror = () => reject(store.transaction.error);
        };
      }),
  );

/**
 * Rewrites the stored identity as the app's own page script (an XSS in it) could, or as time
 * would (`tokens-spent`: the API session's access token due, its refresh token used up, the IdP's
 * token expired). Resolves to the IdP token it left stored.
 */
function rewriteIdentity(
  page: import('@playwright/test').Page,
  change: 'ca-and-service' | 'controller' | 'tokens-spent',
): Promise<string> {
  return page.evaluate(
    (what) =>
      new Promise<string>((resolve, reject) => {
        const open = indexedDB.open('zt');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const store = open.result.transaction('kv', 'readwrite').objectStore('kv');
          const get = store.get('identity');
          get.onsuccess = () => {
            const identity = get.result;
            if (what === 'controller') identity.controller = 'https://evil.example';
            else if (what === 'tokens-spent') {
              identity.apiSession.oidc.expiresAt = identity.apiSession.oidc.receivedAt;
              identity.apiSession.oidc.refreshToken = 'spent';
              identity.idp.expiresAt = 0;
            } else {
              // A certificate that is not the network's CA: routers would no longer verify.
              identity.caBundle = [identity.certificates[0]];
              identity.config = { ...identity.config, service: 'not-the-app' };
              // What the warm worker kept for its next start: the same CA, and Dial sessions whose
              // tokens no router accepts.
              const facts = store.get('tunnel-facts');
              facts.onsuccess = () => {
                const kept = facts.result;
                kept.caBundle = identity.caBundle;
                for (const session of Object.values<{ token: string }>(kept.sessions))
                  session.token = 'forged';
                store.put(kept, 'tunnel-facts');
              };
            }
            store.put(identity, 'identity');
            store.transaction.oncomplete = () => resolve(identity.idp?.presented);
            store.transaction.onerror = () => reject(store.transaction.error);
          };
        };
      }),
    change,
  );
}

test('what page script writes into storage does not steer a restarted worker', async ({
  page,
  zt,
}) => {
  const evil: string[] = [];
  await page.context().route('https://evil.example/**', (route) => {
    evil.push(route.request().url());
    return route.abort();
  });
  await enterApp(page, zt);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('ServiceWorker.enable');

  // A rewritten CA bundle and service: the worker takes both from config.json and the controller.
  // What the worker kept for a quick restart (CA bundle, Dial sessions) is rewritten too.
  await expect
    .poll(async () => Object.keys((await keptFacts(page)).sessions ?? {}).length)
    .toBeGreaterThan(0);
  await rewriteIdentity(page, 'ca-and-service');
  await cdp.send('ServiceWorker.stopAllWorkers');
  expect(await page.evaluate(async () => (await fetch('/api/after-tamper')).status)).toBe(200);
  // The controller's CA bundle and a new Dial session replaced what page script wrote.
  const kept = await keptFacts(page);
  expect(kept.caBundle).not.toContain(kept.certificate);
  expect(Object.values(kept.sessions ?? {}).map((s) => s.token)).not.toContain('forged');

  // A rewritten controller: the identity no longer counts, and the person is enrolled again (here
  // silently, through the IdP's session) at the controller config.json names; nothing goes to the
  // other one.
  await rewriteIdentity(page, 'controller');
  await cdp.send('ServiceWorker.stopAllWorkers');
  await page.goto(`${zt.siteOrigin}/after-tamper`);
  await expect(page.locator('#probe')).toHaveText('dark /after-tamper');
  const stored = await page.evaluate(async () => {
    const config = await (await fetch('/__zt/config.json')).json();
    const controller = await new Promise<string>((resolve, reject) => {
      const open = indexedDB.open('zt');
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const get = open.result.transaction('kv').objectStore('kv').get('identity');
        get.onsuccess = () => resolve(get.result.controller);
      };
    });
    return { controller, expected: config.controller };
  });
  expect(stored.controller).toBe(stored.expected);
  expect(evil).toEqual([]);
});
