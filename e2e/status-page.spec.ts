import { enterApp } from './support/enter-app.ts';
import { expect, test } from './support/fabric.ts';

/** Tokens this run's worker holds, read from IndexedDB (same origin as the status page). */
async function storedSecrets(page: import('@playwright/test').Page): Promise<string[]> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open('zt');
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const identity = await new Promise<Record<string, unknown> | undefined>((resolve, reject) => {
      const get = db.transaction('kv').objectStore('kv').get('identity');
      get.onsuccess = () => resolve(get.result as Record<string, unknown> | undefined);
      get.onerror = () => reject(get.error);
    });
    db.close();
    const session = identity?.apiSession as
      | { token: string; oidc?: { refreshToken: string } }
      | undefined;
    const idp = identity?.idp as Record<string, string | undefined> | undefined;
    return [
      session?.token,
      session?.oidc?.refreshToken,
      idp?.presented,
      idp?.accessToken,
      idp?.idToken,
      idp?.refreshToken,
    ].filter((s): s is string => typeof s === 'string' && s.length > 0);
  });
}

test('the status page shows the router with a latency, growing circuits, a moving chart, and a report without secrets', async ({
  page,
  context,
  zt,
}, testInfo) => {
  await enterApp(page, zt, '/');
  // Cookies (one HttpOnly) and steady traffic from the app's tab, as a person using the app makes.
  await page.evaluate(async () => {
    await fetch('/cookies/set');
    let i = 0;
    setInterval(() => void fetch(`/bytes?n=20000&i=${i++}`).then((r) => r.arrayBuffer()), 150);
  });

  const status = await context.newPage();
  await status.goto(`${zt.siteOrigin}/__zt/status`);
  await expect(status.locator('#state')).toHaveAttribute('data-state', 'live');
  await expect(status.locator('[data-field="identity"]')).not.toBeEmpty();
  // Both networks' controllers offer OIDC sessions, which the browser then takes.
  await expect(status.locator('[data-field="session"]')).toHaveText(/^OIDC/);

  // The router, connected, with a measured latency.
  const router = status.locator('#routers tbody tr[data-state="connected"]').first();
  await expect(router).toBeVisible();
  await expect(router.locator('.latency')).toHaveText(/^\d+ ms/);

  // A circuit whose byte counts grow while the app keeps using it.
  const circuit = status.locator('#circuits tbody tr[data-conn]').first();
  await expect(circuit).toBeVisible();
  // The worker's dials keep the plain edge protocol (no UseXgressToSdk: docs/production.md).
  await expect(circuit).not.toContainText('(flow control)');
  const bytesOf = async (connId: string) =>
    Number(
      await status
        .locator(`#circuits tbody tr[data-conn="${connId}"] .bytes-in`)
        .getAttribute('data-bytes', { timeout: 2000 })
        .catch(() => '-1'),
    );
  await expect
    .poll(
      async () => {
        const connId = (await circuit.getAttribute('data-conn')) ?? '';
        const first = await bytesOf(connId);
        await status.waitForTimeout(1500);
        const later = await bytesOf(connId);
        return first >= 0 && later > first;
      },
      { timeout: 20_000 },
    )
    .toBe(true);
  await expect(status.locator('[data-field="requests"]')).not.toHaveText('0.0/s');

  // The chart moves.
  const line = status.locator('#chart polyline.in');
  const before = await line.getAttribute('points');
  await expect.poll(() => line.getAttribute('points'), { timeout: 10_000 }).not.toBe(before);
  expect(before).toMatch(/^0,80 /);

  // Kept as artifacts: the page as it is, and narrow in dark mode.
  const shot = testInfo.outputPath('status-page.png');
  await status.screenshot({ path: shot, fullPage: true });
  await testInfo.attach('status-page', { path: shot, contentType: 'image/png' });
  await status.setViewportSize({ width: 360, height: 800 });
  await status.emulateMedia({ colorScheme: 'dark' });
  const narrow = testInfo.outputPath('status-page-narrow-dark.png');
  await status.screenshot({ path: narrow, fullPage: true });
  await testInfo.attach('status-page-narrow-dark', { path: narrow, contentType: 'image/png' });
  // Nothing wider than the window: tables scroll inside their own box.
  expect(await status.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
    360,
  );
  await status.emulateMedia({ colorScheme: 'light' });
  await status.setViewportSize({ width: 1280, height: 720 });

  // The diagnostics report: useful, and without a token, cookie value or key.
  await status.locator('#copy').click();
  const report = (await status.locator('#diagnostics').textContent()) ?? '';
  const parsed = JSON.parse(report);
  expect(parsed.worker.routers.length).toBeGreaterThan(0);
  expect(parsed.worker.identity.name).toBeTruthy();
  const secrets = await storedSecrets(status);
  expect(secrets.length).toBeGreaterThan(0);
  for (const secret of [...secrets, 'secret-value', 'probe_session']) {
    expect(report).not.toContain(secret);
  }
  expect(report).not.toMatch(/eyJ[A-Za-z0-9_-]{4,}\./);
  expect(report).not.toMatch(/BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)/);

  // Offline: the page says so and keeps showing the last state.
  await context.setOffline(true);
  await expect(status.locator('#state')).toHaveAttribute('data-state', /offline|stale/);
  await expect(status.locator('#notice')).toContainText('offline');
  await expect(status.locator('#routers tbody tr').first()).toBeVisible();
  await context.setOffline(false);
});

test('the bootstrap page links to the status page', async ({ page, zt }) => {
  await page.goto(`${zt.siteOrigin}/__zt/index.html?logout=1`);
  await expect(page.locator('#status-link')).toHaveAttribute('href', '/__zt/status');
});
