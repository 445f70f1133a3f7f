import type { Page } from '@playwright/test';
import { enterApp } from './support/enter-app.ts';
import { expect, ROUTER_HOSTED_APP, test } from './support/fabric.ts';

// Session certificates that live 24 s (renewal due at 2/3: 16 s) and API sessions that expire after
// 8 s of idleness, so the whole lifecycle plays out within a test. The router hosts the service, so
// the short sessions apply to the browser alone.
test.use({
  fabricOverrides: {
    controller: {
      host: '127.0.0.1',
      port: 0,
      sessionCertValiditySeconds: 24,
      apiSessionTimeoutSeconds: 8,
    },
    services: [ROUTER_HOSTED_APP],
  },
  // The legacy API session's lifecycle: OpenZiti's controller would otherwise give an OIDC one
  // (whose refreshes oidc-session.spec.ts follows), which the management API does not list.
  openzitiOptions: { controllerAuth: 'legacy' },
});

interface WorkerStatus {
  tunnel: { certificateNotAfter: string } | null;
}

/** The worker's status, and a request to the dark app: 200 or what came back instead. */
function probes(page: Page) {
  return {
    status: () =>
      page.evaluate(async () => (await (await fetch('/__zt/sw-status')).json()) as WorkerStatus),
    get: () =>
      page.evaluate(async () => {
        const response = await fetch('/api/lifecycle', { cache: 'no-store' });
        return response.status === 200 ? 200 : `${response.status} ${await response.text()}`;
      }),
  };
}

test('the worker renews its certificate and its API session by itself; the person never logs in again @fabric-only', async ({
  page,
  zt,
}) => {
  test.setTimeout(90_000);
  await enterApp(page, zt, '/start');
  const { status, get } = probes(page);
  const firstNotAfter = (await status()).tunnel!.certificateNotAfter;

  // Idle past the API session's 8 s: the controller forgets it and the router drops the channel.
  // Past 16 s the certificate is also due for renewal. The next request must still just work.
  await page.waitForTimeout(17_000);
  expect(await get()).toBe(200);
  await expect
    .poll(async () => (await status()).tunnel?.certificateNotAfter, { timeout: 20_000 })
    .not.toBe(firstNotAfter);
  expect(await get()).toBe(200);
  await page.reload();
  await expect(page.locator('#probe')).toHaveText('dark /start');
});

test('OpenZiti ends the API session: the worker authenticates again, gets a new certificate, and the person never logs in again @openziti-only', async ({
  page,
  zt,
}) => {
  // A real controller's API sessions idle out after at least a minute and its session certificates
  // live 12 h, too long to wait for; the administrator ending the session has the same effect: the
  // controller forgets it, the router drops the channel and the certificate no longer authenticates.
  const openziti = zt.openziti!;
  await enterApp(page, zt, '/start');
  const { status, get } = probes(page);
  expect(await get()).toBe(200);
  const firstNotAfter = (await status()).tunnel!.certificateNotAfter;
  // The person's API sessions (the management API cannot filter them by identity name).
  const apiSessions = async () =>
    (
      (await openziti.controllerJson('/edge/management/v1/api-sessions?limit=500')) as {
        data: { id: string; identity: { name: string } }[];
      }
    ).data
      .filter((s) => s.identity.name === zt.user.name)
      .map((s) => s.id);
  const ended = await apiSessions();
  expect(ended.length).toBeGreaterThan(0);
  for (const id of ended) await openziti.cli(['edge', 'delete', 'api-session', id]);

  expect(await get()).toBe(200);
  await expect
    .poll(async () => (await status()).tunnel?.certificateNotAfter, { timeout: 20_000 })
    .not.toBe(firstNotAfter);
  const renewed = await apiSessions();
  expect(renewed.length).toBeGreaterThan(0);
  for (const id of ended) expect(renewed).not.toContain(id);
  await page.reload();
  await expect(page.locator('#probe')).toHaveText('dark /start');
});
