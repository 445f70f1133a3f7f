/**
 * External-JWT authentication exactly as §6.2: a `kid` is required, the signer is found by kid then
 * by exact issuer, the signature and time claims verify, `iss` equals and `aud` contains the
 * signer's values, and the identity comes from `claimsProperty` (a JSON pointer), by externalId
 * when `useExternalId`.
 */
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import type { IdentityConfig } from '../config.ts';
import { ApiError } from './envelope.ts';

export interface ExtJwtSigner {
  id: string;
  name: string;
  issuer: string;
  audience: string;
  jwksEndpoint: string;
  /** JSON pointer to the identity claim; a name without a leading `/` gets one. */
  claimsProperty: string;
  useExternalId: boolean;
  enabled: boolean;
  /**
   * Shown to clients (`GET /external-jwt-signers`). `externalAuthUrl` is the IdP's issuer: clients
   * derive OIDC discovery from it, as a real controller sends no discovery URL (§6.2).
   */
  externalAuthUrl: string;
  clientId: string;
  scopes: string[];
  targetToken: 'ACCESS' | 'ID';
}

/** The signer is configuration, not a stored entity: it has existed since the fabric started. */
const SIGNER_TIMESTAMP = new Date().toISOString();

/**
 * What `GET /external-jwt-signers` shows: exactly the keys ziti 1.7 sends (base entity fields and
 * the client fields of §6.2; no secrets, no keys, no discovery URL). 2.x controllers add
 * `enrollToCertEnabled` and `enrollToTokenEnabled` (§6.2). e2e/openziti-conformance.spec.ts
 * compares the key set with a real controller's.
 */
export function publicSignerView(s: ExtJwtSigner): Record<string, unknown> {
  return {
    id: s.id,
    name: s.name,
    externalAuthUrl: s.externalAuthUrl,
    clientId: s.clientId,
    scopes: s.scopes,
    audience: s.audience,
    targetToken: s.targetToken,
    createdAt: SIGNER_TIMESTAMP,
    updatedAt: SIGNER_TIMESTAMP,
    tags: {},
    _links: { self: { href: `./external-jwt-signers/${s.id}` } },
  };
}

function readPointer(payload: JWTPayload, pointer: string): unknown {
  const p = pointer.startsWith('/') ? pointer : `/${pointer}`;
  let cur: unknown = payload;
  for (const raw of p.slice(1).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

export class ExtJwtVerifier {
  private readonly keySets = new Map<string, JWTVerifyGetKey>();

  constructor(
    readonly signers: ExtJwtSigner[],
    private readonly identities: IdentityConfig[],
    /** Injected so tests and in-process setups can skip the HTTP fetch of the JWKS. */
    private readonly keySetFor: (s: ExtJwtSigner) => JWTVerifyGetKey = (s) =>
      createRemoteJWKSet(new URL(s.jwksEndpoint), { cooldownDuration: 5_000 }),
  ) {}

  private keySet(s: ExtJwtSigner): JWTVerifyGetKey {
    let ks = this.keySets.get(s.id);
    if (!ks) {
      ks = this.keySetFor(s);
      this.keySets.set(s.id, ks);
    }
    return ks;
  }

  /** Returns the identity the token authenticates, or throws a 401 ApiError saying why. */
  async verify(token: string): Promise<{ identity: IdentityConfig; signer: ExtJwtSigner }> {
    const fail = (why: string, cause?: unknown) =>
      new ApiError(401, 'INVALID_AUTH', why, { cause });
    let kid: string | undefined;
    let iss: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
      iss = decodeJwt(token).iss;
    } catch (err) {
      throw fail('the bearer token is not a JWT', err);
    }
    if (!kid) throw fail('the JWT has no kid header');
    const signer = this.signers.find((s) => s.issuer === iss);
    if (!signer) throw fail(`no external JWT signer for issuer "${iss ?? ''}"`);
    if (!signer.enabled) throw fail(`external JWT signer "${signer.name}" is disabled`);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keySet(signer), {
        issuer: signer.issuer,
        audience: signer.audience,
      }));
    } catch (err) {
      throw fail(`JWT rejected: ${(err as Error).message}`, err);
    }
    const claim = readPointer(payload, signer.claimsProperty);
    if (typeof claim !== 'string' || claim === '') {
      throw fail(`the JWT has no identity claim at ${signer.claimsProperty}`);
    }
    const identity = signer.useExternalId
      ? this.identities.find((i) => i.externalId === claim)
      : this.identities.find((i) => i.id === claim);
    if (!identity)
      throw fail(`no identity for ${signer.useExternalId ? 'externalId' : 'id'} "${claim}"`);
    if (identity.disabled) throw fail(`identity "${identity.name}" is disabled`);
    return { identity, signer };
  }
}
