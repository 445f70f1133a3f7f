import { expect, test } from '@playwright/test';

test('the service worker registers, takes control and answers fetches', async ({ page }) => {
  await page.goto('/some/deep/link?q=1#frag');
  // The bootstrap page marks itself ready only once a service worker controls it.
  await expect(page.locator('html')).toHaveAttribute('data-zt-ready', /.+/);

  const result = await page.evaluate(async () => {
    const response = await fetch('/__zt/sw-status');
    return {
      controlled: navigator.serviceWorker.controller?.scriptURL ?? null,
      header: response.headers.get('x-zt-sw'),
      body: (await response.json()) as { scope: string },
    };
  });
  expect(result.controlled).toMatch(/\/sw\.js$/);
  expect(result.header).toBeTruthy();
  expect(new URL(result.body.scope).pathname).toBe('/');

  // The static server has no such path: without the service worker it would get the bootstrap HTML.
  const direct = await page.request.get('/__zt/sw-status');
  expect(direct.headers()['x-zt-sw']).toBeUndefined();
});
