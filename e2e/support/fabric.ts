/**
 * The network a spec runs against, on 127.0.0.1 with ephemeral ports: by default the whole local
 * fabric in the test process (controller, IdP, router, tunneler, a dark app and the built bootstrap
 * site), so tests can read its state; with the `network: 'openziti'` option (the `*-openziti`
 * projects), OpenZiti's own controller, router and tunneler behind the same site, IdP and apps
 * (e2e/support/openziti.ts).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test as base } from '@playwright/test';
import { parseFabricConfig } from '../../fabric/config.ts';
import { startDemoApp } from '../../fabric/demo-app/index.ts';
import { type RunningFabric, startFabric } from '../../fabric/fabric.ts';
import { createLogger } from '../../fabric/log.ts';
import { startRouter } from '../../fabric/router/router.ts';
import type { RunningOpenZiti } from '../../openziti/network.ts';
import { startE2eMattermost } from './mattermost.ts';
import { type OpenZitiOptions, startE2eOpenZiti } from './openziti.ts';
import { startProbeApp } from './probe-app.ts';
import { startStrangeApp } from './strange-app.ts';

/** `fabric`: our in-process imitation; `openziti`: OpenZiti's own binaries. */
export type NetworkKind = 'fabric' | 'openziti';

export interface FabricFixture {
  network: NetworkKind;
  /** The fabric, when `network` is `fabric`. */
  fabric?: RunningFabric;
  /** OpenZiti's own network, when `network` is `openziti`. */
  openziti?: RunningOpenZiti;
  /** Takes the edge router down and brings it back on the same ports. */
  router: { stop(): Promise<void>; start(): Promise<void> };
  close(): Promise<void>;
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

/**
 * `probe`: the browser-path test app; `demo`: the Mattermost-compatible demo app; `mattermost`:
 * Mattermost's own server with the demo UI (e2e/support/mattermost.ts; needs the cached build);
 * `strange`: an app doing what real apps do at the edges of HTTP (e2e/support/strange-app.ts).
 */
export type DarkAppKind = 'probe' | 'demo' | 'mattermost' | 'strange';

/** Starts the dark app of `kind`; `siteOrigin` must be called once the site's origin is known. */
export async function startE2eDarkApp(
  kind: DarkAppKind,
  listen: { host: string; dataDir: string },
): Promise<{
  port: number;
  requests: readonly { method: string; url: string }[];
  siteOrigin(origin: string): Promise<void>;
  close(): Promise<void>;
}> {
  if (kind === 'mattermost') {
    const app = await startE2eMattermost(listen);
    return { ...app, siteOrigin: (origin) => app.setSiteUrl(origin) };
  }
  if (kind === 'demo') {
    // As Mattermost is configured in production: its Site URL is the public origin.
    const app = await startDemoApp({ host: listen.host, port: 0, dataDir: listen.dataDir });
    return { ...app, siteOrigin: async (origin) => app.setSiteUrl(origin) };
  }
  if (kind === 'strange') {
    const app = await startStrangeApp(listen.host);
    return { ...app, siteOrigin: async () => {} };
  }
  const app = await startProbeApp(listen.host);
  return { ...app, port: app.port, siteOrigin: async () => {}, close: () => app.close() };
}

export async function startE2eNetwork(
  network: NetworkKind,
  kind: DarkAppKind,
  overrides: Record<string, unknown>,
  openzitiOptions: OpenZitiOptions,
): Promise<FabricFixture> {
  // `fabricOverrides` shape the fabric only; OpenZiti's network is configured as in production.
  if (network === 'fabric') return startE2eFabric(kind, overrides);
  const { local, appRequests, appOrigin, user } = await startE2eOpenZiti(kind, openzitiOptions);
  const siteRequests: string[] = [];
  local.site.on('request', (req: { url?: string }) => siteRequests.push(req.url ?? ''));
  return {
    network,
    openziti: local.network,
    router: { stop: () => local.network.stopRouter(), start: () => local.network.startRouter() },
    close: () => local.close(),
    appRequests,
    appOrigin,
    siteRequests,
    siteOrigin: new URL(local.siteUrl).origin,
    user,
  };
}

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
  let setAppSiteOrigin = async (_origin: string) => {};
  const fabric = await startFabric({
    config,
    log: createLogger((process.env.ZT_TEST_LOG as 'debug' | undefined) ?? 'warn'),
    siteRoot: resolve(import.meta.dirname, '../../dist'),
    startApp: async (listen) => {
      const app = await startE2eDarkApp(kind, listen);
      appRequests = app.requests;
      appOrigin = `http://${listen.host}:${app.port}`;
      setAppSiteOrigin = (origin) => app.siteOrigin(origin);
      return { host: listen.host, port: app.port, close: () => app.close() };
    },
  });
  const user = fabric.devUser;
  if (!appRequests || !fabric.siteUrl || !user?.password) {
    throw new Error('the e2e fabric needs a dark app, the site and a dev user');
  }
  await setAppSiteOrigin(new URL(fabric.siteUrl).origin);
  const siteRequests: string[] = [];
  fabric.site?.on('request', (req: { url?: string }) => siteRequests.push(req.url ?? ''));
  let router = fabric.router;
  const ports = Object.fromEntries(
    Object.entries(router.urls).map(([proto, url]) => [proto, Number(new URL(url).port)]),
  );
  return {
    network: 'fabric',
    fabric,
    router: {
      stop: () => router.close(),
      start: async () => {
        router = await startRouter({
          state: fabric.state,
          log: createLogger('warn'),
          name: config.router.name,
          host: config.router.host,
          advertiseHost: config.advertiseHost,
          wssPort: ports.wss ?? 0,
          tlsPort: ports.tls ?? 0,
          devPlainWsPort: null,
        });
      },
    },
    close: async () => {
      await fabric.close();
      if (router !== fabric.router) await router.close();
    },
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

/** Options a project or a spec sets (`test.use`). */
export interface NetworkOptions {
  network: NetworkKind;
  darkApp: DarkAppKind;
  fabricOverrides: Record<string, unknown>;
  /** What the `*-openziti` projects change about OpenZiti's network. */
  openzitiOptions: OpenZitiOptions;
}

/**
 * The network is started once per worker and shared by a file's tests; `darkApp` picks the app,
 * `network` (set by the project) the network.
 */
export const test = base.extend<object, { zt: FabricFixture } & NetworkOptions>({
  network: ['fabric', { scope: 'worker', option: true }],
  darkApp: ['probe', { scope: 'worker', option: true }],
  fabricOverrides: [{}, { scope: 'worker', option: true }],
  openzitiOptions: [{}, { scope: 'worker', option: true }],
  zt: [
    async ({ network, darkApp, fabricOverrides, openzitiOptions }, use) => {
      const zt = await startE2eNetwork(network, darkApp, fabricOverrides, openzitiOptions);
      await use(zt);
      await zt.close();
    },
    // A cold OpenZiti network (PKI, controller, router enrollment, tunneler) takes ~15 s.
    { scope: 'worker', timeout: 90_000 },
  ],
});

export { expect } from '@playwright/test';
