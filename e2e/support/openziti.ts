/**
 * The e2e fixture's second network: OpenZiti's own controller, router and `ziti tunnel host`
 * (openziti/local.ts) behind the same bootstrap site, IdP and dark apps as the fabric, so the same
 * specs run against both. The `ziti` binary comes from openziti/build-ziti.sh (cached).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseFabricConfig } from '../../fabric/config.ts';
import { createLogger } from '../../fabric/log.ts';
import { type LocalOpenZiti, startLocalOpenZiti } from '../../openziti/local.ts';
import { zitiBinary } from '../../openziti/network.ts';
import { type DarkAppKind, startE2eDarkApp } from './fabric.ts';

const ROOT = resolve(import.meta.dirname, '../..');

export interface OpenZitiFixtureParts {
  local: LocalOpenZiti;
  appRequests: readonly { method: string; url: string }[];
  appOrigin: string;
  user: { name: string; password: string };
}

/** What a spec may change about OpenZiti's network (`test.use({ openzitiOptions })`). */
export interface OpenZitiOptions {
  /** `edge.oidc.accessTokenDuration`, e.g. `1m` (the controller's minimum). */
  accessTokenDuration?: string;
  /** config.json's `controllerAuth` (default `auto`, which takes OIDC here). */
  controllerAuth?: 'auto' | 'oidc' | 'legacy';
}

export async function startE2eOpenZiti(
  kind: DarkAppKind,
  options: OpenZitiOptions = {},
): Promise<OpenZitiFixtureParts> {
  // The same people as the fabric's defaults (the IdP login `developer`).
  const { identities } = parseFabricConfig({});
  const person = identities.find((i) => i.name === 'developer');
  if (!person?.password) throw new Error('the default fabric config has no developer login');
  let appRequests: readonly { method: string; url: string }[] = [];
  let appOrigin = '';
  let setAppSiteOrigin = async (_origin: string) => {};
  const local = await startLocalOpenZiti({
    ziti: zitiBinary(),
    dir: mkdtempSync(join(tmpdir(), 'zt-e2e-openziti-')),
    host: '127.0.0.1',
    sitePort: 0,
    idpPort: 0,
    siteRoot: join(ROOT, 'dist'),
    people: [person],
    service: 'demo',
    ...options,
    log: createLogger((process.env.ZT_TEST_LOG as 'debug' | undefined) ?? 'warn'),
    startApp: async (listen) => {
      const app = await startE2eDarkApp(kind, listen);
      setAppSiteOrigin = (origin) => app.siteOrigin(origin);
      appRequests = app.requests;
      appOrigin = `http://${listen.host}:${app.port}`;
      return { host: listen.host, port: app.port, close: () => app.close() };
    },
  });
  await setAppSiteOrigin(new URL(local.siteUrl).origin);
  return { local, appRequests, appOrigin, user: { name: person.name, password: person.password } };
}
