import { enterApp } from './support/enter-app.ts';
import { expect, ROUTER_HOSTED_APP, test } from './support/fabric.ts';

// Stopping the router takes the whole path down. On the fabric the router hosts the service itself
// (the in-process tunneler would not survive the restart); OpenZiti's `ziti tunnel host` reconnects.
test.use({
  fabricOverrides: {
    services: [ROUTER_HOSTED_APP],
  },
});

test('router down: requests fail with our error and never go to the open network; router back: the next works', async ({
  page,
  zt,
}) => {
  await enterApp(page, zt, '/before');
  const probe = () =>
    page.evaluate(async () => {
      const r = await fetch('/api/ping', { cache: 'no-store' });
      return {
        status: r.status,
        error: r.headers.get('x-zt-error'),
        body: (await r.text()).slice(0, 200),
      };
    });
  expect((await probe()).status).toBe(200);

  await zt.router.stop();
  const siteBefore = zt.siteRequests.length;
  const appBefore = zt.appRequests.length;
  const down = await probe();
  expect(down.status).toBe(503);
  expect(down.error).toBe('router-unreachable');
  expect(down.body).toContain('secure network cannot be reached');
  // Nothing went to the open network or reached the app some other way. (Firefox checks `/sw.js`
  // for an update right after a navigation, which may land here: the browser's, not the app's.)
  expect(zt.siteRequests.slice(siteBefore).filter((p) => p !== '/sw.js')).toEqual([]);
  expect(zt.appRequests.length).toBe(appBefore);
  // A navigation gets the readable page, not the app and not the bootstrap.
  await page.reload();
  await expect(page.locator('h1')).toHaveText('The secure network cannot be reached');

  await zt.router.start();
  // The next request reconnects by itself (the worker backs off, but a request always gets one try).
  await expect.poll(async () => (await probe()).status, { timeout: 30_000 }).toBe(200);
  await page.reload();
  await expect(page.locator('#probe')).toHaveText('dark /before');
});
