/**
 * What the worker must decide as a browser's network layer would, and where it must fail closed:
 * cross-site requests into the app (CSRF), the return target after login (open redirect), dark
 * sibling hosts (never in clear), and signing out (only when the person asks; the IdP's tokens die).
 */
import type { Page } from '@playwright/test';
import { enterApp, signInAtIdp } from './support/enter-app.ts';
import { expect, ROUTER_HOSTED_APP, test } from './support/fabric.ts';
import type { ProbeRequest } from './support/probe-app.ts';

/** A dark host beside the app, intercepted by its own service (hosted by the router, to the app). */
const SIBLING_HOST = 'sibling.dark.test';

test.use({
  fabricOverrides: {
    services: [
      ROUTER_HOSTED_APP,
      {
        ...ROUTER_HOSTED_APP,
        name: 'sibling',
        configs: {
          'intercept.v1': {
            protocols: ['tcp'],
            addresses: [SIBLING_HOST],
            portRanges: [{ low: 80, high: 80 }],
          },
        },
      },
    ],
  },
});

/** Another site: pages of `http://attacker.test` are answered by the test, never by a network. */
const ATTACKER = 'http://attacker.test';
async function serveAttackerPage(page: Page, html: string): Promise<void> {
  await page.route(`${ATTACKER}/**`, (route) =>
    route.fulfill({ contentType: 'text/html', body: `<!doctype html><html><body>${html}` }),
  );
}

test('a form on another site that POSTs into the app gets no SameSite cookie and its own Origin (CSRF)', async ({
  page,
  zt,
}) => {
  await enterApp(page, zt, '/start');
  await page.evaluate(() => fetch('/cookies/samesite'));
  const received = (path: string) =>
    (zt.appRequests as readonly ProbeRequest[]).find((r) => r.url === path);

  // The app's own POST: every cookie, the app's origin.
  await page.evaluate(() => fetch('/csrf-target?own=1', { method: 'POST', body: 'x' }));
  expect(received('/csrf-target?own=1')).toMatchObject({
    origin: zt.siteOrigin,
    fetchSite: 'same-origin',
  });
  for (const name of ['ss_strict', 'ss_lax', 'ss_none'])
    expect(received('/csrf-target?own=1')?.cookie).toContain(`${name}=1`);

  // Another site's form: only SameSite=None cookies, and the other site named as Origin.
  await serveAttackerPage(
    page,
    `<form method="post" action="${zt.siteOrigin}/csrf-target?evil=1"><input name="a" value="b"></form>
     <script>document.forms[0].submit()</script>`,
  );
  await page.goto(`${ATTACKER}/form`);
  await expect.poll(() => received('/csrf-target?evil=1')).toBeTruthy();
  const evil = received('/csrf-target?evil=1')!;
  expect(evil).toMatchObject({ method: 'POST', origin: ATTACKER, fetchSite: 'cross-site' });
  expect(evil.cookie).toContain('ss_none=1');
  expect(evil.cookie).not.toContain('ss_strict');
  expect(evil.cookie).not.toContain('ss_lax');

  // Another site's link: Lax cookies come along (a top-level GET), Strict ones do not.
  await serveAttackerPage(page, `<a id="go" href="${zt.siteOrigin}/csrf-target?link=1">go</a>`);
  await page.goto(`${ATTACKER}/link`);
  await page.click('#go');
  await expect.poll(() => received('/csrf-target?link=1')).toBeTruthy();
  const link = received('/csrf-target?link=1')!;
  expect(link.cookie).toContain('ss_lax=1');
  expect(link.cookie).not.toContain('ss_strict');
  expect(link.origin).toBe('');
});

test('a deep link whose path names another host signs in and stays on the app (no open redirect)', async ({
  page,
  zt,
}) => {
  const left: string[] = [];
  await page.route('http://evil.example/**', (route) => {
    left.push(route.request().url());
    return route.fulfill({ body: 'phished' });
  });
  await page.goto(`${zt.siteOrigin}//evil.example/phish`);
  await signInAtIdp(page, zt.user);
  await page.waitForURL(`${zt.siteOrigin}/`, { timeout: 30_000 });
  await expect(page.locator('#probe')).toHaveText('dark /');
  expect(left).toEqual([]);
});

test('the app never sees our sign-in callback (its code and state) as a Referer', async ({
  page,
  zt,
}) => {
  const from = zt.appRequests.length;
  await enterApp(page, zt);
  const seen = zt.appRequests.slice(from) as ProbeRequest[];
  expect(seen.length).toBeGreaterThan(0);
  expect(seen.filter((r) => /[?&](code|state)=|\/__zt\//.test(r.referer))).toEqual([]);
  expect(page.url()).not.toMatch(/[?&](code|state)=/);
});

test('a dark sibling host is carried over its service, its WebSocket too, under the same-origin policy', async ({
  page,
  context,
  zt,
}) => {
  // Were anything sent to the open network, this would answer it (Chromium also lists it here;
  // Firefox's routing sees requests that its worker then answers, so only the answers count there).
  await context.route(`http://${SIBLING_HOST}/**`, (route) =>
    route.fulfill({ body: 'LEAKED', headers: { 'access-control-allow-origin': '*' } }),
  );
  await enterApp(page, zt, '/start');
  const before = zt.appRequests.length;
  const answers = await page.evaluate(async (host) => {
    const base = `http://${host}`;
    const noCors = await fetch(`${base}/asset/pixel.png`, { mode: 'no-cors' });
    const refused = await fetch(`${base}/cookies/echo`).then(
      (r) => `read ${r.status}`,
      (e: Error) => e.name,
    );
    const put = await fetch(`${base}/cors/echo`, {
      method: 'PUT',
      headers: { 'X-A': 'b' },
      credentials: 'include',
    });
    const echoed = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(`ws://${host}/ws-echo`);
      ws.onopen = () => ws.send('over the tunnel');
      ws.onmessage = (e) => {
        resolve(String(e.data));
        ws.close();
      };
      ws.onerror = () => reject(new Error('socket failed'));
    });
    return {
      noCors: await noCors.text(),
      refused,
      put: await put.text(),
      hidden: put.headers.get('x-not-exposed'),
      echoed,
    };
  }, SIBLING_HOST);
  expect(answers).toEqual({
    noCors: '', // the browser's opaque answer: nothing for a script to read
    refused: 'TypeError', // no Access-Control-Allow-Origin: a network error, as without us
    put: 'cors ok PUT b',
    hidden: null,
    echoed: 'echo: over the tunnel',
  });
  const seen = zt.appRequests
    .slice(before)
    .map((r) => `${(r as ProbeRequest).host} ${r.method} ${r.url}`);
  expect(seen).toEqual([
    `${SIBLING_HOST} GET /asset/pixel.png`,
    `${SIBLING_HOST} GET /cookies/echo`,
    `${SIBLING_HOST} OPTIONS /cors/echo`,
    `${SIBLING_HOST} PUT /cors/echo`,
    `${SIBLING_HOST} GET /ws-echo`,
  ]);
});

test('a link from another site to sign-out asks first; confirmed, the IdP tokens are revoked and its session ended', async ({
  page,
  zt,
}) => {
  await enterApp(page, zt, '/start');
  const tokens = await page.evaluate(
    () =>
      new Promise<{ refresh: string; endpoint: string; clientId: string; issuer: string }>(
        (resolve, reject) => {
          const open = indexedDB.open('zt');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const get = open.result.transaction('kv').objectStore('kv').get('identity');
            get.onsuccess = () =>
              resolve({
                refresh: get.result.idp.refreshToken,
                endpoint: get.result.idp.tokenEndpoint,
                clientId: get.result.idp.clientId,
                issuer: get.result.idp.issuer,
              });
          };
        },
      ),
  );
  const idpSession = async () =>
    (await page.context().cookies(tokens.issuer)).some((c) => c.name === '_session');
  expect(await idpSession()).toBe(true);
  expect(tokens.refresh).toBeTruthy();
  const refresh = () =>
    page.request.post(tokens.endpoint, {
      form: {
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh,
        client_id: tokens.clientId,
      },
    });
  // A copy of the refresh token works until the sign-out (the fabric's IdP does not rotate them).
  expect((await refresh()).status()).toBe(200);

  await serveAttackerPage(
    page,
    `<a id="go" href="${zt.siteOrigin}/__zt/index.html?logout=1">x</a>`,
  );
  await page.goto(`${ATTACKER}/`);
  await page.click('#go');
  await expect(page.locator('html')).toHaveAttribute('data-zt-state', 'confirm-sign-out');
  // Not signed out by the link: the app is still there.
  await page.goto(`${zt.siteOrigin}/still-here`);
  await expect(page.locator('#probe')).toHaveText('dark /still-here');

  await page.goto(`${zt.siteOrigin}/__zt/index.html?logout=1`);
  await page.getByRole('button', { name: 'Sign out and forget this device' }).click();
  await expect(page.locator('html')).toHaveAttribute('data-zt-state', 'signed-out');
  // Back from the IdP's end-session endpoint, at the bootstrap site.
  expect(new URL(page.url()).origin).toBe(zt.siteOrigin);
  expect(await idpSession()).toBe(false);
  const after = await refresh();
  expect(after.status()).toBe(400);
  expect(await after.json()).toMatchObject({ error: 'invalid_grant' });
});
