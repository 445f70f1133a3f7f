import { OIDC_CALLBACK_PATH } from '../../shared/config/bootstrap-config.ts';
import {
  controllerAuth,
  login,
  refreshApiSession,
  tokenRefreshDue,
} from '../../shared/identity/api-session.ts';
import { refreshTokens } from '../../shared/identity/idp-refresh.ts';
import { createCsrPem, parseCertificateChain } from '../../shared/identity/session-key.ts';
import { type StoredIdentity, saveIdentity } from '../../shared/identity/store.ts';
import { ZitiOidcError } from '../../shared/ziti/controller/oidc-session.ts';
import {
  ControllerClient,
  ZitiApiError,
  ZitiApiResponseError,
  ZitiControllerUnreachableError,
} from '../../shared/ziti/index.ts';

/** The controller's idle timeout is 30 min (reference §1.4); touch the session well inside it. */
export const KEEP_ALIVE_MS = 5 * 60_000;
/** Session certificates are renewed at 2/3 of their life, as the C SDK does (reference §1.6). */
export const RENEW_AT_FRACTION = 2 / 3;

export type LifecycleOutcome =
  | 'fresh'
  /** A new OIDC access token for the same API session (open channels must be told it). */
  | 'refreshed-token'
  | 'renewed-certificate'
  | 're-authenticated'
  | 'expired';

/** When the next certificate renewal is due for this identity (epoch ms). */
export const renewalDue = (identity: StoredIdentity) =>
  identity.certificateNotBefore +
  (identity.certificateNotAfter - identity.certificateNotBefore) * RENEW_AT_FRACTION;

/** When the identity next needs work: its access token's refresh or its certificate's renewal. */
export const maintenanceDue = (identity: StoredIdentity) =>
  Math.min(renewalDue(identity), tokenRefreshDue(identity.apiSession));

/**
 * The controller cannot answer now: unreachable, or a 5xx (a proxy before it, a restart). That is
 * "try later", never a reason for a new login or for sending the person to log in again. The
 * OpenID provider itself refuses with 400 (401 for `invalid_client`) whatever the reason
 * (zitadel/oidc v3.45 `op/error.go RequestError`, used by ziti v1.7.2's `op.NewProvider`), so a
 * 5xx from the token endpoint is never its refusal.
 */
const tryLater = (err: unknown) =>
  err instanceof ZitiControllerUnreachableError ||
  ((err instanceof ZitiOidcError ||
    err instanceof ZitiApiError ||
    err instanceof ZitiApiResponseError) &&
    (err.status ?? 0) >= 500);

async function newCertificate(
  client: ControllerClient,
  keyPair: StoredIdentity['keyPair'],
  identityId: string,
): Promise<Pick<StoredIdentity, 'certificates' | 'certificateNotBefore' | 'certificateNotAfter'>> {
  const csr = await createCsrPem(keyPair, identityId);
  const issued = await client.createSessionCertificate(csr);
  const { chain, notBefore, notAfter } = parseCertificateChain(issued.certificate);
  return { certificates: chain, certificateNotBefore: notBefore, certificateNotAfter: notAfter };
}

/**
 * A new API session of the same kind from the stored IdP token (refreshed first if it expired),
 * with a new certificate (the old one names the old API session). Throws why it cannot.
 */
async function reauthenticate(identity: StoredIdentity): Promise<StoredIdentity> {
  let tokens = identity.idp;
  if (!tokens) throw new Error('no IdP token was kept to sign in again with');
  if (tokens.expiresAt < Date.now() + 30_000) {
    const refreshed = await refreshTokens(tokens).catch((err: unknown) => {
      throw new Error(`the IdP did not refresh its token: ${(err as Error).message}`, {
        cause: err,
      });
    });
    if (!refreshed) throw new Error('the IdP token expired and the IdP gave no refresh token');
    tokens = refreshed;
  }
  const { identityId, client, apiSession } = await login({
    controller: identity.controller,
    kind: identity.apiSession.oidc ? 'oidc' : 'legacy',
    idpToken: tokens.presented,
    redirectUri: new URL(OIDC_CALLBACK_PATH, location.origin).href,
  });
  // The certificate needs the new session's identity id, not its name: both are asked at once.
  const [session, certificate] = await Promise.all([
    apiSession,
    newCertificate(client, identity.keyPair, identityId),
  ]);
  return { ...identity, apiSession: session, idp: tokens, ...certificate };
}

/** What `maintainIdentity` did; `why` says what ended the identity when it `expired`. */
export interface LifecycleResult {
  outcome: LifecycleOutcome;
  identity: StoredIdentity;
  why?: string;
}

/**
 * Re-authenticates; `expired` when that is impossible (a person has to log in again). A controller
 * that cannot answer now throws instead (try later).
 */
async function reauthenticated(identity: StoredIdentity): Promise<LifecycleResult> {
  let renewed: StoredIdentity;
  try {
    renewed = await reauthenticate(identity);
  } catch (err) {
    if (tryLater(err)) throw err;
    return { outcome: 'expired', identity, why: (err as Error).message };
  }
  await saveIdentity(renewed);
  return { outcome: 're-authenticated', identity: renewed };
}

/**
 * Keeps an identity usable and persists every change:
 * - a legacy API session is touched (it expires when idle) and re-created with the IdP token when
 *   the controller no longer knows it;
 * - an OIDC access token is refreshed at 2/3 of its life; a refused refresh token means a new
 *   login with the IdP token;
 * - the certificate is renewed at 2/3 of its life.
 * An unreachable controller, or one answering 5xx, throws (try again later), also during a new
 * login. `expired` means a person has to log in.
 */
export async function maintainIdentity(
  identity: StoredIdentity,
  now = Date.now(),
  /** A router or the controller just refused the session: an OIDC token is refreshed now. */
  refused = false,
): Promise<LifecycleResult> {
  let current = identity;
  let outcome: LifecycleOutcome = 'fresh';
  if (identity.apiSession.oidc) {
    if (refused || now >= tokenRefreshDue(identity.apiSession)) {
      try {
        current = {
          ...identity,
          apiSession: await refreshApiSession(identity.controller, identity.apiSession),
        };
      } catch (err) {
        if (!(err instanceof ZitiOidcError) || tryLater(err)) throw err;
        return reauthenticated(identity);
      }
      await saveIdentity(current);
      outcome = 'refreshed-token';
    }
  } else {
    try {
      await clientFor(identity).currentApiSession();
    } catch (err) {
      if (!(err instanceof ZitiApiError && err.status === 401)) throw err;
      return reauthenticated(identity);
    }
  }
  if (now < renewalDue(current)) return { outcome, identity: current };
  let renewed: StoredIdentity;
  try {
    renewed = {
      ...current,
      ...(await newCertificate(clientFor(current), current.keyPair, current.apiSession.identityId)),
    };
  } catch (err) {
    // The refresh spent the old refresh token: the caller must get the new one (it is saved)
    // rather than an error; the renewal stays due and is retried on the next run.
    if (outcome === 'refreshed-token') return { outcome, identity: current };
    throw err;
  }
  await saveIdentity(renewed);
  return { outcome: 'renewed-certificate', identity: renewed };
}

const clientFor = (identity: StoredIdentity) =>
  new ControllerClient({ baseUrl: identity.controller, ...controllerAuth(identity.apiSession) });
