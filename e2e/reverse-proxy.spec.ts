import { expect, test } from '@playwright/test';
import { signInAtIdp } from './support/enter-app.ts';
import { type NginxFabric, startNginxFabric } from './support/nginx.ts';
import { PROBE_TITLE } from './support/probe-app.ts';

/** Our own files: all nginx may serve once the first navigation got the bootstrap page. */
const isOwnPath = (uri: string) => uri.startsWith('/__zt/') || uri === '/sw.js';
const uriOf = (line: string) => line.split(' ')[1] ?? '';

let proxy: NginxFabric | undefined;
test.afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

test('behind nginx, a new user opens a deep link, signs in, and the app runs over the tunnel', async ({
  page,
}) => {
  proxy = await startNginxFabric('dark');
  const url = `${proxy.origin}/channels/town-square?view=1`;
  await page.goto(url);
  await signInAtIdp(page, proxy.user);
  await page.waitForURL(url, { timeout: 30_000 });
  await expect(page).toHaveTitle(PROBE_TITLE);
  await expect(page.locator('#probe')).toHaveText('dark /channels/town-square');

  // The document is the dark app's, rewritten by our worker (shim first), not nginx's.
  const doc = await page.evaluate(() => ({
    first: document.head.firstElementChild?.getAttribute('src'),
    injected: document.querySelector('script[src="/__zt/bootstrap.js"]') !== null,
    controlled: navigator.serviceWorker.controller?.scriptURL,
  }));
  expect(doc).toEqual({
    first: '/__zt/shim.js',
    injected: false,
    controlled: `${proxy.origin}/sw.js`,
  });

  const statuses = await page.evaluate(async () => {
    const out: number[] = [];
    for (const p of ['/api/a', '/static/app.js']) out.push((await fetch(p)).status);
    return out;
  });
  expect(statuses).toEqual([200, 200]);
  const seen = proxy.appRequests.map((r) => `${r.method} ${r.url}`);
  expect(seen).toEqual(
    expect.arrayContaining([
      'GET /channels/town-square?view=1',
      'GET /api/a',
      'GET /static/app.js',
    ]),
  );
  // Every request the app saw came through the tunnel, with the public host nginx answers for.
  expect(proxy.appRequests.every((r) => r.host === new URL(proxy!.origin).host)).toBe(true);

  // nginx saw the first visit (answered with the bootstrap page, our script injected into it) and
  // otherwise only our own static files. Not by line order: nginx writes a line when it finishes a
  // request, and on a loaded machine the first visit's line was seen after /__zt/config.json's.
  const log = proxy.accessLog();
  expect(log.filter((l) => !isOwnPath(uriOf(l)))).toEqual(['GET /channels/town-square?view=1 200']);
  expect(log.map(uriOf)).toContain('/__zt/bootstrap.js');
  expect(log.map(uriOf)).toContain('/__zt/config.json');

  // A reload stays on the tunnel: nginx sees no app path.
  const before = proxy.accessLog().length;
  await page.reload();
  await expect(page.locator('#probe')).toHaveText('dark /channels/town-square');
  expect(
    proxy
      .accessLog()
      .slice(before)
      .filter((l) => !isOwnPath(uriOf(l))),
  ).toEqual([]);
});

test('injected into a still-reachable app page, bootstrap.js moves the user onto the tunnel and back to that URL', async ({
  page,
}) => {
  proxy = await startNginxFabric('migrate');
  const url = `${proxy.origin}/legacy/page?x=1#frag`;
  await page.goto(url);
  // The app's own page came through nginx with our script injected; it sent the browser to sign in.
  await signInAtIdp(page, proxy.user);
  await page.waitForURL(url, { timeout: 30_000 });
  await expect(page.locator('#probe')).toHaveText('dark /legacy/page');
  const doc = await page.evaluate(() => ({
    first: document.head.firstElementChild?.getAttribute('src'),
    injected: document.querySelector('script[src="/__zt/bootstrap.js"]') !== null,
  }));
  // Now the document came over the tunnel: our shim, and no nginx injection.
  expect(doc).toEqual({ first: '/__zt/shim.js', injected: false });

  // nginx logs a request when its response ends, so the injected script's own requests can be
  // logged before the page that carried it: check what was served, not the order of the lines.
  const log = proxy.accessLog();
  expect(log).toContain('GET /__zt/bootstrap.js 200');
  expect(log.map(uriOf)).toContain(
    `/__zt/index.html?return=${encodeURIComponent('/legacy/page?x=1#frag')}`,
  );
  // The only app path nginx ever served is that first page; everything after came over the tunnel.
  expect(log.filter((l) => !isOwnPath(uriOf(l)))).toEqual(['GET /legacy/page?x=1 200']);
  const viaTunnel = proxy.appRequests.filter((r) => r.host === new URL(proxy!.origin).host);
  expect(viaTunnel.map((r) => r.url)).toContain('/legacy/page?x=1');
});
