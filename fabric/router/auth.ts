/**
 * Router authentication of a client channel (§3.3): the hello must carry a SessionToken that names
 * a live API session, and the inner-TLS client certificate must belong to it.
 *
 * - Legacy token (a UUID): its SHA-1 fingerprint is one of the session's certificates (API-session
 *   certs, identity certs), or its SPIFFE id names the session's identity (and, if present, this
 *   API session). Expired session certs are refused.
 * - OIDC access JWT (FabricState.parseApiSessionJwt): as a v1.7.2 router does
 *   (`router/xgress_edge/connections.go validateApiSession`): the SPIFFE id is
 *   `/identity/<any>/apiSession/<z_asid>[/apiSessionCertificate/<any>]` (`verifySpiffId`), or the
 *   fingerprint is one of `z_cfs` (`validateByFingerprint`).
 */
import type { PeerCertificate } from 'node:tls';
import { getHeaderString, HeaderId, type Message } from '../../shared/ziti/index.ts';
import type { ApiSession, ApiSessionJwt, FabricState } from '../state.ts';

export class ChannelAuthError extends Error {
  readonly code = 'ERR_ROUTER_AUTH';
}

function spiffeUris(cert: PeerCertificate): string[] {
  const san = cert.subjectaltname ?? '';
  return san
    .split(/,\s*/)
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
}

/** Accepts `/identity/<id>` or `/identity/<id>/apiSession/<asid>[/apiSessionCertificate/<cid>]`. */
export function spiffeMatches(uri: string, trustDomain: string, session: ApiSession): boolean {
  const prefix = `spiffe://${trustDomain}/`;
  if (!uri.startsWith(prefix)) return false;
  const parts = uri.slice(prefix.length).split('/');
  if (parts[0] !== 'identity' || parts[1] !== session.identity.id) return false;
  if (parts.length === 2) return true;
  if (parts[2] !== 'apiSession' || parts[3] !== session.id) return false;
  if (parts.length === 4) return true;
  if (parts.length !== 6 || parts[4] !== 'apiSessionCertificate') return false;
  // A session-certificate SPIFFE id must name a certificate this session still has.
  return session.certs.has(parts[5]!);
}

/** `router/xgress_edge/connections.go verifySpiffId`: neither the trust domain nor the identity is compared. */
export function verifySpiffeId(uri: string, expectedApiSessionId: string): boolean {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return false;
  }
  if (u.protocol !== 'spiffe:') return false;
  const parts = u.pathname.replace(/^\//, '').split('/');
  if (parts.length !== 4 && parts.length !== 6) return false;
  if (parts[0] !== 'identity' || parts[2] !== 'apiSession') return false;
  if (parts.length === 6 && parts[4] !== 'apiSessionCertificate') return false;
  return parts[3] === expectedApiSessionId;
}

export interface AuthenticatedChannel {
  session: ApiSession;
  /** Set when the hello carried an OIDC access token. */
  jwt?: ApiSessionJwt;
}

/** Validates the hello of an accepted channel; throws ChannelAuthError with the router's reason. */
export async function authenticateChannel(
  state: FabricState,
  hello: Message,
  peer: { cert: PeerCertificate | undefined; fingerprint: string | undefined },
): Promise<AuthenticatedChannel> {
  const token = getHeaderString(hello, HeaderId.SessionToken);
  if (!token) throw new ChannelAuthError('no token attribute provided');
  if (!peer.cert || !peer.fingerprint)
    throw new ChannelAuthError('no client certificates provided');
  const found = await state.resolveApiSessionToken(token);
  if (!found) throw new ChannelAuthError('invalid api session token');
  const { session, jwt } = found;
  if (jwt) {
    // SPIFFE id first, then fingerprint, as the real router orders them.
    if (spiffeUris(peer.cert).some((u) => verifySpiffeId(u, jwt.apiSessionId))) return found;
    if (jwt.certFingerprints.includes(peer.fingerprint)) return found;
    throw new ChannelAuthError('invalid client certificate for api session');
  }
  const now = state.now();
  const certOfSession = [...session.certs.values()].find((c) => c.fingerprint === peer.fingerprint);
  if (certOfSession) {
    if (certOfSession.notAfter.getTime() <= now)
      throw new ChannelAuthError('api session certificate expired');
    return found;
  }
  if (state.identityCertFingerprintsOf(session.identity.id).has(peer.fingerprint)) return found;
  const validTo = Date.parse(peer.cert.valid_to);
  if (
    Number.isFinite(validTo) &&
    validTo > now &&
    spiffeUris(peer.cert).some((u) => spiffeMatches(u, state.pki.trustDomain, session))
  ) {
    return found;
  }
  throw new ChannelAuthError('client certificate is not valid for this api session');
}
