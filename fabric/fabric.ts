/**
 * Starts the whole local fabric in one process: PKI, dark app, bootstrap site, OIDC IdP,
 * controller, edge router and hosting tunneler, wired together from one FabricConfig. Each part
 * can also be started alone from its own module; this is the order they depend on each other.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import {
  CALLBACK_PATH,
  CONFIG_PATH,
  OIDC_CALLBACK_PATH,
} from '../shared/config/bootstrap-config.ts';
import type { FabricConfig, IdentityConfig, ServiceConfig } from './config.ts';
import { type ExtJwtSigner, ExtJwtVerifier } from './controller/ext-jwt.ts';
import { type RunningController, startController } from './controller/server.ts';
import { type RunningTunneler, startTunneler } from './hosting/tunneler.ts';
import { IDP_SCOPES, type RunningIdp, startIdp } from './idp.ts';
import { createLogger, type Logger } from './log.ts';
import { type FabricPki, loadOrCreatePki } from './pki.ts';
import { type RunningRouter, startRouter } from './router/router.ts';
import { FabricState } from './state.ts';
import { serveStaticSite } from './static-site.ts';

/** A dark app the fabric starts and hosts (the demo app, or a test app). */
export interface DarkApp {
  /** Loopback address the terminator dials. */
  host: string;
  port: number;
  close(): Promise<void>;
}

export interface StartFabricOptions {
  config: FabricConfig;
  /** Relative `dataDir` is resolved against this (the config file's folder); default cwd. */
  baseDir?: string;
  log?: Logger;
  /** The built bootstrap site to serve; omit for no site. */
  siteRoot?: string;
  /** Starts the app behind `target: demo-app` services. */
  startApp?: (listen: { host: string; port: number; dataDir: string }) => Promise<DarkApp>;
  /** Start the hosting tunneler (default: when a service is tunneler-hosted). */
  tunneler?: boolean;
  /** Clock for API-session expiry (tests). */
  now?: () => number;
}

export interface RunningFabric {
  config: FabricConfig;
  state: FabricState;
  pki: FabricPki;
  idp: RunningIdp;
  controller: RunningController;
  router: RunningRouter;
  tunneler: RunningTunneler | undefined;
  app: DarkApp | undefined;
  site: Server | undefined;
  siteUrl: string | undefined;
  signer: ExtJwtSigner;
  /** The first identity with a password and Dial permission: the person trying the demo. */
  devUser: IdentityConfig | undefined;
  /** The service `/__zt/config.json` names: the first `target: demo-app` one, else the first. */
  siteService: ServiceConfig | undefined;
  close(): Promise<void>;
}

export async function startFabric(opts: StartFabricOptions): Promise<RunningFabric> {
  const { config } = opts;
  const log = opts.log ?? createLogger();
  const dataDir = isAbsolute(config.dataDir)
    ? config.dataDir
    : resolve(opts.baseDir ?? process.cwd(), config.dataDir);
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const c of closers.reverse())
      await c().catch((err: Error) => log.warn(`shutdown: ${err.message}`));
    closers.length = 0;
  };

  try {
    const routerHosts = [
      ...new Set([config.advertiseHost, config.router.host, 'localhost', '127.0.0.1']),
    ];
    const pki = await loadOrCreatePki(resolve(dataDir, 'pki'), {
      trustDomain: config.trustDomain,
      routerHosts,
    });
    const state = new FabricState(config, pki, opts.now);
    const sweep = setInterval(() => state.sweepExpired(), 5_000);
    sweep.unref();
    closers.push(async () => clearInterval(sweep));

    let app: DarkApp | undefined;
    if (config.services.some((s) => s.target === 'demo-app')) {
      if (!opts.startApp)
        throw new Error('a service has target "demo-app" but no app to start was given');
      app = await opts.startApp({
        host: config.demoApp.host,
        port: config.demoApp.port,
        dataDir: resolve(dataDir, 'app'),
      });
      closers.push(() => app!.close());
      state.setDemoAppAddress(app.host, app.port);
      log
        .child('app')
        .info(
          `dark app listening on ${app.host}:${app.port} (loopback only, reached through the fabric)`,
        );
    }

    let controllerUrl = '';
    const defaultService =
      config.services.find((s) => s.target === 'demo-app') ?? config.services[0];
    let site: Server | undefined;
    let siteUrl: string | undefined;
    let sitePort = config.site.port;
    let markReady!: () => void;
    const ready = new Promise<void>((r) => {
      markReady = r;
    });
    closers.push(async () => markReady());
    if (opts.siteRoot) {
      site = await serveStaticSite({
        ready,
        root: opts.siteRoot,
        host: config.site.host,
        port: config.site.port,
        generated: {
          [CONFIG_PATH]: () => ({
            controller: controllerUrl,
            service: defaultService?.name ?? '',
            // Only with the dev-only plain ws listener: the browser may then use the `ws` URL.
            ...(config.router.devPlainWsPort !== null ? { devAllowPlainWs: true } : {}),
          }),
        },
      });
      sitePort = (site.address() as AddressInfo).port;
      siteUrl = `http://${config.advertiseHost}:${sitePort}/`;
      const s = site;
      closers.push(
        () =>
          new Promise<void>((r) => {
            s.close(() => r());
            s.closeAllConnections();
          }),
      );
    }

    const siteHosts = [
      ...new Set([config.advertiseHost, config.site.host, 'localhost', '127.0.0.1']),
    ];
    const idp = await startIdp({
      host: config.idp.host,
      port: config.idp.port,
      issuerHost: config.advertiseHost,
      dataDir: resolve(dataDir, 'idp'),
      clientId: config.idp.clientId,
      audience: config.idp.audience,
      accessTokenTtlSeconds: config.idp.accessTokenTtlSeconds,
      redirectUris: siteHosts.map((h) => `http://${h}:${sitePort}${CALLBACK_PATH}`),
      users: config.identities,
      log: log.child('idp'),
    });
    closers.push(() => idp.close());

    const signer: ExtJwtSigner = {
      id: 'fabric-idp',
      name: 'fabric-idp',
      issuer: idp.issuer,
      audience: config.idp.audience,
      jwksEndpoint: idp.jwksUrl,
      claimsProperty: 'sub',
      useExternalId: true,
      enabled: true,
      // The issuer itself: the browser finds the IdP's discovery document under it (§6.2).
      externalAuthUrl: idp.issuer,
      clientId: config.idp.clientId,
      scopes: IDP_SCOPES,
      targetToken: 'ACCESS',
    };
    const controller = await startController({
      host: config.controller.host,
      port: config.controller.port,
      state,
      extJwt: new ExtJwtVerifier([signer], config.identities),
      log: log.child('controller'),
      // The bootstrap site's OIDC callback, as an operator lists it in the edge-oidc binding.
      oidc: {
        redirectUris: siteHosts.map((h) => `http://${h}:${sitePort}${OIDC_CALLBACK_PATH}`),
        accessTokenSeconds: config.controller.oidcAccessTokenSeconds,
      },
    });
    controllerUrl = controller.url;
    closers.push(() => controller.close());

    const router = await startRouter({
      state,
      log: log.child('router'),
      name: config.router.name,
      host: config.router.host,
      advertiseHost: config.advertiseHost,
      wssPort: config.router.wssPort,
      tlsPort: config.router.tlsPort,
      devPlainWsPort: config.router.devPlainWsPort,
    });
    closers.push(() => router.close());

    let tunneler: RunningTunneler | undefined;
    const wantTunneler = opts.tunneler ?? config.services.some((s) => s.hosting === 'tunneler');
    if (wantTunneler) {
      const who = state.identityByName(config.tunnelerIdentity);
      if (!who?.password)
        throw new Error(`tunneler identity "${config.tunnelerIdentity}" needs a password`);
      tunneler = await startTunneler({
        controllerUrl: controller.url,
        username: who.name,
        password: who.password,
        services: config.services.filter((s) => s.hosting === 'tunneler').map((s) => s.name),
        log: log.child('tunneler'),
      });
      const t = tunneler;
      closers.push(() => t.close());
    }

    markReady();
    const devUser = config.identities.find(
      (i) =>
        i.password !== undefined &&
        !i.disabled &&
        state.services.some((s) => state.permissions(i, s).includes('Dial')),
    );
    return {
      config,
      state,
      pki,
      idp,
      controller,
      router,
      tunneler,
      app,
      site,
      siteUrl,
      signer,
      devUser,
      siteService: defaultService,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
