/** Signing out of an OIDC session ends it at the controller, not only in this browser. */
import { enterApp } from './support/enter-app.ts';
import { expect, test } from './support/fabric.ts';
import { storedSession } from './support/oidc.ts';

test('oidc: sign-out revokes the refresh token at the controller', async ({ page, zt }) => {
  await enterApp(page, zt, '/start');
  const session = await storedSession(page);
  expect(session.oidc).toBe(true);
  await page.goto(`${zt.siteOrigin}/__zt/index.html?logout=1`);
  await page.getByRole('button', { name: 'Sign out and forget this device' }).click();
  await expect(page.locator('html')).toHaveAttribute('data-zt-state', 'signed-out');
  // The tokens live 30 minutes here and the worker did not need to refresh: without the
  // revocation this refresh token would still give a new access token.
  const refresh = await page.request.post(`${session.controller}/oidc/oauth/token`, {
    form: {
      grant_type: 'refresh_token',
      refresh_token: session.refreshToken!,
      client_id: 'openziti',
    },
  });
  expect(refresh.status()).toBe(400);
});
