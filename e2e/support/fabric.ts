/**
 * A whole local OpenZiti fabric in the test process (controller, IdP, router, tunneler, the demo dark
 * app and the built bootstrap site), on 127.0.0.1 with ephemeral ports, so tests can read its state.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test as base } from '@playwright/test';
import { parseFabricConfig } from '../../fabric/config.ts';
import { type DemoApp, startDemoApp } from '../../fabric/demo-app/index.ts';
import { type RunningFabric, startFabric } from '../../fabric/fabric.ts';
import { createLogger } from '../../fabric/log.ts';

export interface FabricFixture {
  fabric: RunningFabric;
  app: DemoApp;
  /** The bootstrap site's origin, e.g. http://127.0.0.1:40123 */
  siteOrigin: string;
  /** IdP credentials of the person trying the app. */
  user: { name: string; password: string };
}

export async function startE2eFabric(
  overrides: Record<string, unknown> = {},
): Promise<FabricFixture> {
  const config = parseFabricConfig({
    dataDir: mkdtempSync(join(tmpdir(), 'zt-e2e-')),
    advertiseHost: '127.0.0.1',
    site: { host: '127.0.0.1', port: 0 },
    controller: { host: '127.0.0.1', port: 0 },
    idp: { host: '127.0.0.1', port: 0 },
    router: { name: 'er-e2e', host: '127.0.0.1', wsPort: 0, tlsPort: 0 },
    demoApp: { host: '127.0.0.1', port: 0 },
    ...overrides,
  });
  let app: DemoApp | undefined;
  const fabric = await startFabric({
    config,
    log: createLogger((process.env.ZT_TEST_LOG as 'debug' | undefined) ?? 'warn'),
    siteRoot: resolve(import.meta.dirname, '../../dist'),
    startApp: async (listen) => {
      app = await startDemoApp(listen);
      return { host: listen.host, port: app.port, close: () => app!.close() };
    },
  });
  const user = fabric.devUser;
  if (!app || !fabric.siteUrl || !user?.password)
    throw new Error('the e2e fabric needs the demo app, the site and a dev user');
  return {
    fabric,
    app,
    siteOrigin: new URL(fabric.siteUrl).origin,
    user: { name: user.name, password: user.password },
  };
}

/** `fabric` is started once per worker and shared by the tests of a file. */
export const test = base.extend<object, { zt: FabricFixture }>({
  zt: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright fixtures take their dependencies by destructuring.
    async ({}, use) => {
      const zt = await startE2eFabric();
      await use(zt);
      await zt.fabric.close();
    },
    { scope: 'worker', timeout: 60_000 },
  ],
});

export { expect } from '@playwright/test';
