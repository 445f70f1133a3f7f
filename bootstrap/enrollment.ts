import { type BootstrapConfig, OIDC_CALLBACK_PATH } from '../shared/config/bootstrap-config.ts';
import {
  type ApiSessionKind,
  chooseApiSessionKind,
  login,
} from '../shared/identity/api-session.ts';
import { CONFIG_TYPES } from '../shared/identity/sdk-info.ts';
import {
  createCsrPem,
  createSessionKey,
  parseCertificateChain,
} from '../shared/identity/session-key.ts';
import type { IdpTokens, StoredIdentity } from '../shared/identity/store.ts';
import { ControllerClient, type EdgeRouterInfo, type ZitiService } from '../shared/ziti/index.ts';

export class AccessError extends Error {
  override readonly name = 'AccessError';
  constructor(
    readonly code: 'ERR_NO_SERVICE' | 'ERR_NO_ROUTER',
    message: string,
  ) {
    super(message);
  }
}

/** Finds the configured service among those this identity may dial. */
export async function findDialableService(
  client: ControllerClient,
  name: string,
): Promise<ZitiService> {
  const services = await client.services({
    configTypes: [...CONFIG_TYPES],
    filter: `name="${name.replaceAll('"', '\\"')}"`,
  });
  const service = services.find((s) => s.name === name);
  if (!service?.permissions.includes('Dial')) {
    throw new AccessError(
      'ERR_NO_SERVICE',
      `Your account has no permission to use "${name}". Ask your administrator for access.`,
    );
  }
  return service;
}

/**
 * The service's online edge routers a browser can reach; fails early, with a clear message, when
 * there is none.
 */
export async function requireOnlineRouter(
  client: ControllerClient,
  service: ZitiService,
): Promise<EdgeRouterInfo[]> {
  const routers = await client.serviceEdgeRouters(service.id);
  const usable = routers.filter(
    (r) =>
      r.isOnline !== false &&
      (r.supportedProtocols?.wss || r.supportedProtocols?.ws || r.urls?.wss || r.urls?.ws),
  );
  if (usable.length === 0) {
    throw new AccessError(
      'ERR_NO_ROUTER',
      `No edge router for "${service.name}" is online right now. Try again in a moment.`,
    );
  }
  return usable;
}

/** What enrollment needs and the IdP's token does not: started while the login completes. */
export interface EnrollmentStart {
  keyPair: Promise<CryptoKeyPair>;
  caBundle: Promise<string[]>;
  kind: Promise<ApiSessionKind>;
}

/** Starts the key pair, the CA bundle and the controller's session kind, side by side. */
export function startEnrollment(config: BootstrapConfig): EnrollmentStart {
  const anonymous = new ControllerClient({ baseUrl: config.controller });
  const start = {
    keyPair: createSessionKey(),
    caBundle: anonymous.caBundle(),
    kind: chooseApiSessionKind(config.controllerAuth, anonymous),
  };
  // Awaited by `enroll`, after the login that may fail first.
  for (const p of Object.values(start)) (p as Promise<unknown>).catch(() => {});
  return start;
}

/**
 * Login at the controller with the IdP's token (an OIDC session where the controller offers one,
 * else a legacy API session: `controllerAuth` in config.json), then an API-session certificate for
 * a fresh non-extractable key (reference §1.4-1.6, §8 steps 2-3).
 */
export async function enroll(
  config: BootstrapConfig,
  tokens: IdpTokens,
  start: EnrollmentStart = startEnrollment(config),
): Promise<StoredIdentity> {
  // Independent work goes in parallel: the key pair and the CA bundle need no session; the
  // service check, the certificate and the identity's name each need only the login.
  const { keyPair, caBundle } = start;
  const kind = await start.kind;
  const {
    identityId,
    client,
    apiSession: named,
  } = await login({
    controller: config.controller,
    kind,
    idpToken: tokens.presented,
    redirectUri: new URL(OIDC_CALLBACK_PATH, location.origin).href,
    envInfo: { os: navigator.platform, arch: 'browser' },
  });
  const [issued, ca, key, routers, apiSession] = await Promise.all([
    keyPair.then((key) =>
      createCsrPem(key, identityId).then((csr) => client.createSessionCertificate(csr)),
    ),
    caBundle,
    keyPair,
    findDialableService(client, config.service).then((service) =>
      requireOnlineRouter(client, service),
    ),
    named,
  ]);
  const { chain, notBefore, notAfter } = parseCertificateChain(issued.certificate);
  return {
    version: 1,
    controller: config.controller,
    config,
    apiSession,
    keyPair: key,
    certificates: chain,
    certificateNotBefore: notBefore,
    certificateNotAfter: notAfter,
    caBundle: ca,
    routers,
    idp: tokens,
    enrolledAt: Date.now(),
  };
}
