import { BUILD_VERSION } from '../shared/version.ts';
import { enterApp } from './support/enter-app.ts';
import { expect, test } from './support/fabric.ts';

test('the service worker registers, takes control and answers fetches itself', async ({
  page,
  zt,
}) => {
  await enterApp(page, zt, '/some/deep/link?q=1');
  const result = await page.evaluate(async () => {
    const response = await fetch('/__zt/sw-status');
    return {
      controlled: navigator.serviceWorker.controller?.scriptURL ?? null,
      header: response.headers.get('x-zt-sw'),
      body: (await response.json()) as { scope: string },
    };
  });
  expect(result.controlled).toMatch(/\/sw\.js$/);
  // The worker answered this itself, and says which build it is.
  expect(result.header).toBe(BUILD_VERSION);
  expect(new URL(result.body.scope).pathname).toBe('/');

  // The site itself has no such path: without the service worker it answers with the bootstrap page.
  const direct = await page.request.get(`${zt.siteOrigin}/__zt/sw-status`);
  expect(direct.headers()['x-zt-sw']).toBeUndefined();
});
