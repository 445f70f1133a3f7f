import { refreshTokens } from '../../shared/identity/idp-refresh.ts';
import { CONFIG_TYPES, SDK_INFO } from '../../shared/identity/sdk-info.ts';
import { createCsrPem, parseCertificateChain } from '../../shared/identity/session-key.ts';
import { type StoredIdentity, saveIdentity } from '../../shared/identity/store.ts';
import { ControllerClient, ZitiApiError } from '../../shared/ziti/index.ts';

/** The controller's idle timeout is 30 min (reference §1.4); touch the session well inside it. */
export const KEEP_ALIVE_MS = 5 * 60_000;
/** Session certificates are renewed at 2/3 of their life, as the C SDK does (reference §1.6). */
export const RENEW_AT_FRACTION = 2 / 3;

export type LifecycleOutcome = 'fresh' | 'renewed-certificate' | 're-authenticated' | 'expired';

/** When the next renewal is due for this identity (epoch ms). */
export const renewalDue = (identity: StoredIdentity) =>
  identity.certificateNotBefore +
  (identity.certificateNotAfter - identity.certificateNotBefore) * RENEW_AT_FRACTION;

async function newCertificate(
  client: ControllerClient,
  identity: StoredIdentity,
): Promise<Pick<StoredIdentity, 'certificates' | 'certificateNotBefore' | 'certificateNotAfter'>> {
  const csr = await createCsrPem(identity.keyPair, identity.apiSession.identityId);
  const issued = await client.createSessionCertificate(csr);
  const { chain, notBefore, notAfter } = parseCertificateChain(issued.certificate);
  return { certificates: chain, certificateNotBefore: notBefore, certificateNotAfter: notAfter };
}

/** A new API session from the stored IdP token (refreshed first if it expired), with a new certificate. */
async function reauthenticate(identity: StoredIdentity): Promise<StoredIdentity | undefined> {
  let tokens = identity.idp;
  if (!tokens) return undefined;
  if (tokens.expiresAt < Date.now() + 30_000)
    tokens = await refreshTokens(tokens).catch(() => undefined);
  if (!tokens) return undefined;
  const anonymous = new ControllerClient({ baseUrl: identity.controller });
  const session = await anonymous.authenticateExtJwt(tokens.presented, {
    configTypes: [...CONFIG_TYPES],
    sdkInfo: SDK_INFO,
  });
  const client = new ControllerClient({
    baseUrl: identity.controller,
    sessionToken: session.token,
  });
  const apiSession = { ...identity.apiSession, token: session.token, id: session.id };
  const renewed = { ...identity, apiSession, idp: tokens };
  return { ...renewed, ...(await newCertificate(client, renewed)) };
}

/**
 * Keeps an identity usable: touches the API session, renews the certificate at 2/3 of its life, and
 * re-authenticates with the IdP token (refreshing it where the IdP allows) when the API session is
 * gone. Persists every change. `expired` means a person has to log in again.
 */
export async function maintainIdentity(
  identity: StoredIdentity,
  now = Date.now(),
): Promise<{ outcome: LifecycleOutcome; identity: StoredIdentity }> {
  const client = new ControllerClient({
    baseUrl: identity.controller,
    sessionToken: identity.apiSession.token,
  });
  try {
    await client.currentApiSession();
  } catch (err) {
    if (!(err instanceof ZitiApiError && err.status === 401)) throw err; // unreachable controller: try later
    const renewed = await reauthenticate(identity).catch(() => undefined);
    if (!renewed) return { outcome: 'expired', identity };
    await saveIdentity(renewed);
    return { outcome: 're-authenticated', identity: renewed };
  }
  if (now < renewalDue(identity)) return { outcome: 'fresh', identity };
  const renewed = { ...identity, ...(await newCertificate(client, identity)) };
  await saveIdentity(renewed);
  return { outcome: 'renewed-certificate', identity: renewed };
}
