/**
 * The whole local setup with OpenZiti's own network in place of the fabric's controller, router and
 * tunneler: the dark app on loopback, the fabric's OIDC IdP (the company IdP), the bootstrap site
 * with its `/__zt/config.json` naming the real controller, and network.ts's controller, router and
 * `ziti tunnel host`. Used by the e2e tier (`npm run test:real`) and `npm run start:real`.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { IdentityConfig } from '../fabric/config.ts';
import { DEFAULT_REDIRECT_URIS } from '../fabric/controller/oidc.ts';
import type { DarkApp } from '../fabric/fabric.ts';
import { IDP_SCOPES, type RunningIdp, startIdp } from '../fabric/idp.ts';
import type { Logger } from '../fabric/log.ts';
import { serveStaticSite } from '../fabric/static-site.ts';
import {
  CALLBACK_PATH,
  CONFIG_PATH,
  OIDC_CALLBACK_PATH,
} from '../shared/config/bootstrap-config.ts';
import { type RunningOpenZiti, startOpenZiti } from './network.ts';

export interface LocalOpenZitiOptions {
  ziti: string;
  dir: string;
  /** Listen and advertise host of every part (loopback). */
  host: string;
  /** Port of the bootstrap site, 0 for a free one. */
  sitePort: number;
  idpPort: number;
  siteRoot: string;
  /** People who log in at the IdP (those with a password), by their external id. */
  people: IdentityConfig[];
  /** The service name; also its role attribute. */
  service: string;
  startApp: (listen: { host: string; port: number; dataDir: string }) => Promise<DarkApp>;
  apiSessionTimeout?: string;
  /** `edge.oidc.accessTokenDuration`, e.g. `1m` (the controller's minimum; default 30m). */
  accessTokenDuration?: string;
  /** config.json's `controllerAuth` (default `auto`: OIDC, which OpenZiti's controller offers). */
  controllerAuth?: 'auto' | 'oidc' | 'legacy';
  log: Logger;
}

export interface LocalOpenZiti {
  network: RunningOpenZiti;
  idp: RunningIdp;
  app: DarkApp;
  site: Server;
  siteUrl: string;
  close(): Promise<void>;
}

export const IDP_CLIENT_ID = 'zt-browser';
export const IDP_AUDIENCE = 'openziti';

export async function startLocalOpenZiti(opts: LocalOpenZitiOptions): Promise<LocalOpenZiti> {
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of closers.reverse())
      await c().catch((err: Error) => opts.log.warn(`shutdown: ${err.message}`));
    closers.length = 0;
  };
  try {
    const app = await opts.startApp({ host: opts.host, port: 0, dataDir: join(opts.dir, 'app') });
    closers.push(() => app.close());

    let controllerUrl = '';
    let markReady!: () => void;
    const ready = new Promise<void>((r) => {
      markReady = r;
    });
    closers.push(async () => markReady());
    const site = await serveStaticSite({
      ready,
      root: opts.siteRoot,
      host: opts.host,
      port: opts.sitePort,
      generated: {
        [CONFIG_PATH]: () => ({
          controller: controllerUrl,
          service: opts.service,
          ...(opts.controllerAuth ? { controllerAuth: opts.controllerAuth } : {}),
        }),
      },
    });
    closers.push(
      () =>
        new Promise<void>((r) => {
          site.close(() => r());
          site.closeAllConnections();
        }),
    );
    const sitePort = (site.address() as AddressInfo).port;
    const siteUrl = `http://${opts.host}:${sitePort}/`;
    const siteHosts = [...new Set([opts.host, 'localhost', '127.0.0.1'])];

    const idp = await startIdp({
      host: opts.host,
      port: opts.idpPort,
      dataDir: join(opts.dir, 'idp'),
      clientId: IDP_CLIENT_ID,
      audience: IDP_AUDIENCE,
      accessTokenTtlSeconds: 3600,
      redirectUris: siteHosts.map((h) => `http://${h}:${sitePort}${CALLBACK_PATH}`),
      users: opts.people,
      log: opts.log.child('idp'),
    });
    closers.push(() => idp.close());

    const network = await startOpenZiti({
      ziti: opts.ziti,
      dir: join(opts.dir, 'openziti'),
      host: opts.host,
      names: {
        signer: 'local-idp',
        issuer: idp.issuer,
        jwksEndpoint: idp.jwksUrl,
        audience: IDP_AUDIENCE,
        claimsProperty: 'sub',
        clientId: IDP_CLIENT_ID,
        scopes: IDP_SCOPES,
        authPolicy: 'browser-users',
        userRole: 'users',
        hostRole: 'hosts',
        service: opts.service,
        intercept: { address: opts.host, port: sitePort },
        host: { address: app.host, port: app.port },
        hostIdentity: 'app-host',
      },
      people: opts.people
        .filter((p) => p.password !== undefined && !p.disabled)
        .map((p) => ({ name: p.name, externalId: p.externalId })),
      apiSessionTimeout: opts.apiSessionTimeout,
      // The bootstrap site's OIDC callback, as an operator lists it in the edge-oidc binding, beside
      // the controller's defaults, which listing any replaces: `ziti tunnel host` logs in through
      // a loopback `/auth/callback` of its own (sdk-golang `edge-apis/oidc.go newLocalRpServer`).
      oidc: {
        redirectUris: [
          ...DEFAULT_REDIRECT_URIS,
          ...siteHosts.map((h) => `http://${h}:${sitePort}${OIDC_CALLBACK_PATH}`),
        ],
        ...(opts.accessTokenDuration ? { accessTokenDuration: opts.accessTokenDuration } : {}),
      },
      log: (line) => opts.log.info(line),
    });
    closers.push(() => network.close());
    controllerUrl = network.controllerUrl;
    markReady();
    return { network, idp, app, site, siteUrl, close };
  } catch (err) {
    await close();
    throw err;
  }
}
