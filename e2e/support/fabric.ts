/**
 * A whole local OpenZiti fabric in the test process (controller, IdP, router, tunneler, a dark app
 * and the built bootstrap site), on 127.0.0.1 with ephemeral ports, so tests can read its state.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test as base } from '@playwright/test';
import { parseFabricConfig } from '../../fabric/config.ts';
import { startDemoApp } from '../../fabric/demo-app/index.ts';
import { type RunningFabric, startFabric } from '../../fabric/fabric.ts';
import { createLogger } from '../../fabric/log.ts';
import { startProbeApp } from './probe-app.ts';

export interface FabricFixture {
  fabric: RunningFabric;
  /** Every request the dark app received, oldest first. */
  appRequests: readonly { method: string; url: string }[];
  /** The dark app's own loopback origin (for direct-access baselines only). */
  appOrigin: string;
  /** The bootstrap site's origin, e.g. http://127.0.0.1:40123 */
  siteOrigin: string;
  /** Paths the bootstrap site (the open network) was asked for, in order. */
  siteRequests: string[];
  /** IdP credentials of the person trying the app. */
  user: { name: string; password: string };
}

/** `probe`: the browser-path test app; `demo`: the Mattermost-compatible demo app. */
export type DarkAppKind = 'probe' | 'demo';

export async function startE2eFabric(
  kind: DarkAppKind,
  overrides: Record<string, unknown> = {},
): Promise<FabricFixture> {
  const config = parseFabricConfig({
    dataDir: mkdtempSync(join(tmpdir(), 'zt-e2e-')),
    advertiseHost: '127.0.0.1',
    site: { host: '127.0.0.1', port: 0 },
    controller: { host: '127.0.0.1', port: 0 },
    idp: { host: '127.0.0.1', port: 0 },
    router: { name: 'er-e2e', host: '127.0.0.1', wssPort: 0, tlsPort: 0 },
    demoApp: { host: '127.0.0.1', port: 0 },
    ...overrides,
  });
  let appRequests: readonly { method: string; url: string }[] | undefined;
  let appOrigin = '';
  const fabric = await startFabric({
    config,
    log: createLogger((process.env.ZT_TEST_LOG as 'debug' | undefined) ?? 'warn'),
    siteRoot: resolve(import.meta.dirname, '../../dist'),
    startApp: async (listen) => {
      const app = kind === 'demo' ? await startDemoApp(listen) : await startProbeApp(listen.host);
      appRequests = app.requests;
      appOrigin = `http://${listen.host}:${app.port}`;
      return { host: listen.host, port: app.port, close: () => app.close() };
    },
  });
  const user = fabric.devUser;
  if (!appRequests || !fabric.siteUrl || !user?.password) {
    throw new Error('the e2e fabric needs a dark app, the site and a dev user');
  }
  const siteRequests: string[] = [];
  fabric.site?.on('request', (req: { url?: string }) => siteRequests.push(req.url ?? ''));
  return {
    fabric,
    appRequests,
    appOrigin,
    siteRequests,
    siteOrigin: new URL(fabric.siteUrl).origin,
    user: { name: user.name, password: user.password },
  };
}

/**
 * The dark app as a service the edge router hosts itself (it dials the app), with no tunneler: for
 * tests that take the router down or shorten sessions, which a hosting process would not survive.
 */
export const ROUTER_HOSTED_APP = {
  name: 'demo',
  encryptionRequired: true,
  roleAttributes: ['demo'],
  hosting: 'router',
  target: 'demo-app',
  configs: {
    'intercept.v1': {
      protocols: ['tcp'],
      addresses: ['127.0.0.1'],
      portRanges: [{ low: 80, high: 80 }],
    },
  },
};

/** The fabric is started once per worker and shared by a file's tests; `darkApp` picks the app. */
export const test = base.extend<
  object,
  { zt: FabricFixture; darkApp: DarkAppKind; fabricOverrides: Record<string, unknown> }
>({
  darkApp: ['probe', { scope: 'worker', option: true }],
  fabricOverrides: [{}, { scope: 'worker', option: true }],
  zt: [
    async ({ darkApp, fabricOverrides }, use) => {
      const zt = await startE2eFabric(darkApp, fabricOverrides);
      await use(zt);
      await zt.fabric.close();
    },
    { scope: 'worker', timeout: 60_000 },
  ],
});

export { expect } from '@playwright/test';
