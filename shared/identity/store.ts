import { clear, createStore, del, get, set, type UseStore } from 'idb-keyval';
import type { AuthorizationServer } from 'oauth4webapi';
import type { BootstrapConfig } from '../config/bootstrap-config.ts';
import type { EdgeRouterInfo, ExternalJwtSigner } from '../ziti/controller/types.ts';

/** Tokens from the company IdP, kept so they can be refreshed and presented to the controller again. */
export interface IdpTokens {
  /** The token the controller's signer wants (`targetToken`: the access or the id token). */
  presented: string;
  accessToken: string;
  idToken?: string;
  refreshToken?: string;
  /** Epoch ms at which `presented` expires. */
  expiresAt: number;
  issuer: string;
  clientId: string;
  tokenEndpoint: string;
  targetToken: 'ACCESS' | 'ID';
  /**
   * The algorithms the IdP's metadata said it signs ID tokens with
   * (`id_token_signing_alg_values_supported`): a refreshed ID token is held to them too.
   */
  idTokenAlgs?: string[];
}

/** The OIDC side of an API session (the access token is `apiSession.token`). */
export interface OidcTokens {
  /** Single use: each refresh returns the next one. */
  refreshToken: string;
  /** Epoch ms, on this browser's clock, at which the access token was received and expires. */
  receivedAt: number;
  expiresAt: number;
}

/**
 * Everything the service worker needs to reach the dark app, persisted in IndexedDB (never
 * localStorage or cookies) so that a restarted service worker resumes without a new login.
 */
export interface StoredIdentity {
  version: 1;
  controller: string;
  /** The bootstrap config this identity was enrolled for (so a restarted worker needs no fetch). */
  config: BootstrapConfig;
  /**
   * The API session: for a legacy one `token` is the `zt-session` token; for an OIDC one it is the
   * access token (a JWT, sent as `Authorization: Bearer` and in the router hello) and `oidc` holds
   * the rest (api-session.ts).
   */
  apiSession: {
    token: string;
    id: string;
    identityId: string;
    identityName: string;
    oidc?: OidcTokens;
  };
  /** ECDSA P-256; the private key is non-extractable and only ever used through WebCrypto. */
  keyPair: CryptoKeyPair;
  /** API-session certificate chain, PEM, leaf first. */
  certificates: string[];
  /** Epoch ms of the leaf's validity window. */
  certificateNotBefore: number;
  certificateNotAfter: number;
  /** The network's CA bundle (PEM) from `/.well-known/est/cacerts`: trust anchors for routers. */
  caBundle: string[];
  idp?: IdpTokens;
  /** The controller's external-JWT signer the person logged in with. */
  signer?: string;
  /**
   * The service's edge routers a browser can reach, as enrollment found them: a worker without a
   * kept Dial session opens its router channel beside creating one instead of after it.
   */
  routers?: EdgeRouterInfo[];
  enrolledAt: number;
}

/** Login in progress across the IdP redirect. */
export interface PendingLogin {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** Path, query and hash the person first asked for. */
  returnTo: string;
  signerName: string;
  startedAt: number;
  /** The IdP was asked to authenticate again (after a sign-out). */
  forcedLogin: boolean;
  /**
   * The signer and the IdP's discovery document as the login began with them (checked then), so
   * the callback page need not ask the controller and the IdP again. Absent in older rows.
   */
  idp?: {
    authorizationServer: AuthorizationServer;
    signer: Pick<ExternalJwtSigner, 'name' | 'scopes' | 'targetToken' | 'audience'> & {
      clientId: string;
      externalAuthUrl: string;
    };
  };
  /** The site's configuration the login began with, so the callback page need not read it again. */
  config?: BootstrapConfig;
}

const IDENTITY = 'identity';
const PENDING = 'pending-login';
const SIGNED_OUT = 'signed-out';

let storeHandle: UseStore | undefined;
/** One database, one object store: key/value rows for the identity, pending login and cookie jar. */
export function ztStore(): UseStore {
  storeHandle ??= createStore('zt', 'kv');
  return storeHandle;
}

export const loadIdentity = () => get<StoredIdentity>(IDENTITY, ztStore());
export const saveIdentity = (identity: StoredIdentity) => set(IDENTITY, identity, ztStore());
export const loadPendingLogin = () => get<PendingLogin>(PENDING, ztStore());
export const savePendingLogin = (pending: PendingLogin) => set(PENDING, pending, ztStore());
export const clearPendingLogin = () => del(PENDING, ztStore());

/**
 * Wipes every row (identity, keys, tokens, pending login, cookie jar) and remembers only that this
 * browser signed out, so the next login asks the IdP for a fresh authentication (`prompt=login`)
 * instead of silently reusing the IdP's own session.
 */
export async function wipeStore(): Promise<void> {
  await clear(ztStore());
  await set(SIGNED_OUT, true, ztStore());
}

export const wasSignedOut = async () => (await get<boolean>(SIGNED_OUT, ztStore())) === true;
export const clearSignedOut = () => del(SIGNED_OUT, ztStore());
