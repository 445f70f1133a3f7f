/**
 * The legacy API session stays for controllers without OIDC (the fabric's `controller.oidc:
 * false`) and where config.json forces it (`controllerAuth: "legacy"`, here on OpenZiti's
 * controller, which offers both).
 */
import { enterApp } from './support/enter-app.ts';
import { expect, test } from './support/fabric.ts';
import { storedSession } from './support/oidc.ts';

test.use({
  fabricOverrides: { controller: { host: '127.0.0.1', port: 0, oidc: false } },
  openzitiOptions: { controllerAuth: 'legacy' },
});

test('oidc: without it the browser takes a legacy API session and the app works', async ({
  page,
  zt,
}) => {
  await enterApp(page, zt, '/start');
  const session = await storedSession(page);
  expect(session.oidc).toBe(false);
  expect(session.token).not.toMatch(/^ey/);
  expect(await page.evaluate(async () => (await fetch('/start')).status)).toBe(200);
});
