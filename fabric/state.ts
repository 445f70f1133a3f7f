/**
 * The fabric's shared model: identities, services and policies from the config, plus the live API
 * sessions, their certificates and service sessions. The controller writes it; the router reads it
 * (a real router gets the same facts synced from the controller, §3.3).
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type JWTHeaderParameters, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import type { FabricConfig, HostV1, IdentityConfig, ServiceConfig } from './config.ts';
import { serviceIdFor } from './config.ts';
import type { FabricPki } from './pki.ts';

export type Permission = 'Dial' | 'Bind';

export interface FabricService extends ServiceConfig {
  id: string;
}

export interface ApiSessionCert {
  id: string;
  fingerprint: string;
  certPem: string;
  notBefore: Date;
  notAfter: Date;
}

export interface ApiSession {
  id: string;
  /** The legacy API-session token (a UUID), sent as `zt-session` and in the router hello. */
  token: string;
  identity: IdentityConfig;
  authMethod: 'password' | 'ext-jwt' | 'cert';
  configTypes: string[];
  ipAddress: string;
  createdAt: Date;
  lastActivityAt: Date;
  certs: Map<string, ApiSessionCert>;
}

export interface EdgeSession {
  id: string;
  token: string;
  type: Permission;
  apiSessionId: string;
  serviceId: string;
  identityId: string;
}

export interface RouterInfo {
  name: string;
  hostname: string;
  /** Protocol -> URL, e.g. `{ws: 'ws://localhost:3023', tls: 'tls://localhost:3022'}`. */
  urls: Record<string, string>;
}

/** The JWT issuer the controller uses for its own tokens (session tokens, OIDC-style API sessions). */
export const CONTROLLER_AUDIENCE = 'openziti';
/** The audiences a router takes in an API-session JWT (`common/oidc_tokens.go` ClaimAudienceOpenZiti, ClaimLegacyNative). */
export const API_SESSION_JWT_AUDIENCES = [CONTROLLER_AUDIENCE, 'native'];
/** `z_t` of an OIDC access token and of a service-access token (`common/oidc_tokens.go`). */
export const TOKEN_TYPE_ACCESS = 'a';
export const TOKEN_TYPE_SERVICE_ACCESS = 's';

/** Why a JWT the router was given is refused (the text a v1.7.2 router puts in its error). */
export class TokenError extends Error {
  readonly code = 'ERR_ZITI_TOKEN';
}

/** What a router takes from an API-session access JWT (`router/state/token.go NewApiSessionTokenFromJwt`). */
export interface ApiSessionJwt {
  token: string;
  /** `z_asid`. */
  apiSessionId: string;
  /** `sub`. */
  identityId: string;
  /** `z_cfs`: the certificates bound to the session, by fingerprint. */
  certFingerprints: string[];
  /** `exp`, in ms since the epoch. */
  expiresAt: number;
  jti: string | undefined;
}

/** A service-access JWT as a router reads it (`common/oidc_tokens.go ServiceAccessClaims`). */
export interface ServiceAccessJwt {
  id: string;
  serviceId: string;
  apiSessionId: string;
  identityId: string;
  type: string;
  isLegacy: boolean;
  /** `aud` ∋ openziti|native; the controller checks it when it creates the circuit. */
  audienceOk: boolean;
}

export interface FabricStateEvents {
  apiSessionRemoved: [ApiSession];
}

export class FabricState extends EventEmitter<FabricStateEvents> {
  readonly identities: IdentityConfig[];
  readonly services: FabricService[];
  readonly routers: RouterInfo[] = [];
  readonly issuer: string;
  private readonly apiSessions = new Map<string, ApiSession>();
  private readonly apiSessionsByToken = new Map<string, ApiSession>();
  private readonly sessionsByToken = new Map<string, EdgeSession>();
  /** Fingerprints of long-lived identity certificates (hosting identities), by identity id. */
  private readonly identityCertFingerprints = new Map<string, Set<string>>();
  /**
   * The controller's OIDC revocations, by id: token ids (`jti`), a revoked refresh token also as
   * itself, and a string it cannot read as itself (`controller/oidc_auth/storage.go RevokeToken`).
   * Kept, as v1.7.2 keeps them (it stores an expiry but nothing deletes them).
   */
  private readonly revocations = new Set<string>();

  constructor(
    readonly config: FabricConfig,
    readonly pki: FabricPki,
    /** Injected clock, so idle expiry can be tested without waiting. */
    readonly now: () => number = Date.now,
  ) {
    super();
    this.identities = config.identities;
    this.services = config.services.map((s) => ({ ...s, id: serviceIdFor(s.name) }));
    this.issuer = `ziti-fabric://${config.trustDomain}`;
  }

  identityByName(name: string): IdentityConfig | undefined {
    return this.identities.find((i) => i.name === name);
  }

  serviceById(id: string): FabricService | undefined {
    return this.services.find((s) => s.id === id);
  }

  serviceByName(name: string): FabricService | undefined {
    return this.services.find((s) => s.name === name);
  }

  /** The `host.v1` a service's terminator dials, if it is known yet. */
  hostV1(service: FabricService): HostV1 | undefined {
    return service.configs['host.v1'] as HostV1 | undefined;
  }

  /** Sets `host.v1` for `target: demo-app` services once the app listens. */
  setDemoAppAddress(address: string, port: number): void {
    for (const s of this.services) {
      if (s.target === 'demo-app') s.configs['host.v1'] = { protocol: 'tcp', address, port };
    }
  }

  permissions(identity: IdentityConfig, service: FabricService): Permission[] {
    const matches = (roles: string[], name: string, attrs: string[]) =>
      roles.some(
        (r) =>
          r === '#all' || r === `@${name}` || (r.startsWith('#') && attrs.includes(r.slice(1))),
      );
    const out = new Set<Permission>();
    for (const p of this.config.policies) {
      if (
        matches(p.identityRoles, identity.name, identity.roleAttributes) &&
        matches(p.serviceRoles, service.name, service.roleAttributes)
      ) {
        out.add(p.type);
      }
    }
    return (['Dial', 'Bind'] as const).filter((p) => out.has(p));
  }

  registerRouter(info: RouterInfo): void {
    const i = this.routers.findIndex((r) => r.name === info.name);
    if (i >= 0) this.routers.splice(i, 1);
    this.routers.push(info);
  }

  unregisterRouter(name: string): void {
    const i = this.routers.findIndex((r) => r.name === name);
    if (i >= 0) this.routers.splice(i, 1);
  }

  registerIdentityCert(identityId: string, fingerprint: string): void {
    const set = this.identityCertFingerprints.get(identityId) ?? new Set();
    set.add(fingerprint);
    this.identityCertFingerprints.set(identityId, set);
  }

  identityCertFingerprintsOf(identityId: string): ReadonlySet<string> {
    return this.identityCertFingerprints.get(identityId) ?? new Set();
  }

  createApiSession(
    identity: IdentityConfig,
    opts: {
      authMethod: ApiSession['authMethod'];
      configTypes?: string[];
      ipAddress?: string;
      token?: string;
    },
  ): ApiSession {
    const now = new Date(this.now());
    const s: ApiSession = {
      id: randomUUID(),
      token: opts.token ?? randomUUID(),
      identity,
      authMethod: opts.authMethod,
      configTypes: opts.configTypes ?? [],
      ipAddress: opts.ipAddress ?? '',
      createdAt: now,
      lastActivityAt: now,
      certs: new Map(),
    };
    this.apiSessions.set(s.id, s);
    this.apiSessionsByToken.set(s.token, s);
    return s;
  }

  get apiSessionTimeoutMs(): number {
    return this.config.controller.apiSessionTimeoutSeconds * 1000;
  }

  expiresAt(s: ApiSession): Date {
    return new Date(s.lastActivityAt.getTime() + this.apiSessionTimeoutMs);
  }

  private alive(s: ApiSession | undefined): ApiSession | undefined {
    if (!s) return undefined;
    if (this.expiresAt(s).getTime() <= this.now()) {
      this.removeApiSession(s.id);
      return undefined;
    }
    return s;
  }

  apiSessionByToken(token: string): ApiSession | undefined {
    return this.alive(this.apiSessionsByToken.get(token));
  }

  apiSessionById(id: string): ApiSession | undefined {
    return this.alive(this.apiSessions.get(id));
  }

  /** Removes idle-expired API sessions (their router channels close). */
  sweepExpired(): void {
    for (const s of [...this.apiSessions.values()]) this.alive(s);
  }

  /** Any authenticated call refreshes the idle timer (§1.4). */
  touch(s: ApiSession): void {
    s.lastActivityAt = new Date(this.now());
  }

  removeApiSession(id: string): void {
    const s = this.apiSessions.get(id);
    if (!s) return;
    this.apiSessions.delete(id);
    this.apiSessionsByToken.delete(s.token);
    for (const [token, es] of this.sessionsByToken)
      if (es.apiSessionId === id) this.sessionsByToken.delete(token);
    this.emit('apiSessionRemoved', s);
  }

  /**
   * Creates a service session; its token is a JWT as current controllers issue (§1.8). As an
   * OpenZiti 1.7 controller does for a legacy API session, a second request for the same API
   * session, service and type keeps the stored session and answers with its id but a token signed
   * for a fresh id that is never stored, so every dial with it is refused as an invalid session.
   */
  async createSession(
    api: ApiSession,
    service: FabricService,
    type: Permission,
    /**
     * false when the request came with an OIDC access token: the token then says `z_leg: false`
     * and nothing is stored, as `controller/internal/routes/session_router.go Create` does
     * (`isLegacy := rc.Claims == nil`); the router and the circuit check the JWT alone.
     */
    legacy = true,
  ): Promise<EdgeSession> {
    const existing = !legacy
      ? undefined
      : [...this.sessionsByToken.values()].find(
          (es) => es.apiSessionId === api.id && es.serviceId === service.id && es.type === type,
        );
    const id = randomUUID();
    const token = await new SignJWT({
      z_asid: api.id,
      z_iid: api.identity.id,
      z_st: type,
      z_t: TOKEN_TYPE_SERVICE_ACCESS,
      z_leg: legacy,
    })
      .setProtectedHeader({ alg: 'ES256', kid: this.pki.jwtKey.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setSubject(service.id)
      .setAudience([CONTROLLER_AUDIENCE])
      .setJti(id)
      .setIssuedAt()
      .setExpirationTime('1y')
      .sign(this.pki.jwtKey.privateKey);
    if (existing) return { ...existing, token };
    const session: EdgeSession = {
      id,
      token,
      type,
      apiSessionId: api.id,
      serviceId: service.id,
      identityId: api.identity.id,
    };
    return legacy ? this.addSession(session) : session;
  }

  /** `DELETE /sessions/{id}`: false when the identity has no such session. */
  deleteSession(id: string, identityId: string): boolean {
    let found = false;
    for (const [token, es] of this.sessionsByToken)
      if (es.id === id && es.identityId === identityId) {
        this.sessionsByToken.delete(token);
        found = true;
      }
    return found;
  }

  /**
   * Stores a revocation; false when one with this id exists (the real store's create then fails
   * with "an entity of type revocation already exists with id <id>").
   */
  addRevocation(id: string): boolean {
    if (this.revocations.has(id)) return false;
    this.revocations.add(id);
    return true;
  }

  isRevoked(id: string): boolean {
    return this.revocations.has(id);
  }

  /** Registers a session with a given token (legacy UUID-style session tokens, e.g. replayed frames). */
  addSession(s: EdgeSession): EdgeSession {
    this.sessionsByToken.set(s.token, s);
    return s;
  }

  /**
   * Resolves a service-session token as the router does: the JWT must verify against the
   * controller key, be a session token (`z_t=s`) and still belong to a live API session.
   */
  async resolveSession(token: string): Promise<EdgeSession | undefined> {
    const known = this.sessionsByToken.get(token);
    if (known) return this.apiSessionById(known.apiSessionId) ? known : undefined;
    if (!token.startsWith('ey')) return undefined;
    try {
      const { payload } = await jwtVerify(token, this.pki.jwtKey.publicKey, {
        issuer: this.issuer,
        audience: CONTROLLER_AUDIENCE,
      });
      if (
        payload.z_t !== 's' ||
        typeof payload.z_asid !== 'string' ||
        typeof payload.sub !== 'string'
      )
        return undefined;
      if (payload.z_st !== 'Dial' && payload.z_st !== 'Bind') return undefined;
      if (!this.apiSessionById(payload.z_asid)) return undefined;
      // A legacy session token is only as good as the stored session it names (the controller
      // looks the session up by the token's id when it creates the circuit).
      if (payload.z_leg === true) return undefined;
      return this.addSession({
        id: String(payload.jti),
        token,
        type: payload.z_st,
        apiSessionId: payload.z_asid,
        serviceId: payload.sub,
        identityId: String(payload.z_iid),
      });
    } catch {
      return undefined;
    }
  }

  /** An OIDC-style API-session access token (`z_t=a`), accepted by the router in the hello (§1.5). */
  async issueApiSessionJwt(api: ApiSession, ttlSeconds = 1800): Promise<string> {
    return new SignJWT({
      z_t: 'a',
      z_asid: api.id,
      z_cfs: [...api.certs.values()].map((c) => c.fingerprint),
    })
      .setProtectedHeader({ alg: 'ES256', kid: this.pki.jwtKey.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setSubject(api.identity.id)
      .setAudience([CONTROLLER_AUDIENCE])
      .setIssuedAt()
      .setExpirationTime(Math.floor(this.now() / 1000) + ttlSeconds)
      .sign(this.pki.jwtKey.privateKey);
  }

  /** The key for a JWT's `kid`, as `router/state/manager.go pubKeyLookup` finds it. */
  private readonly keyForKid = async (header: JWTHeaderParameters) => {
    if (header.kid === undefined)
      throw new TokenError('could not lookup JWT signer, kid header missing');
    if (typeof header.kid !== 'string')
      throw new TokenError(`kid header value is not a string, got type ${typeof header.kid}`);
    if (header.kid.trim() !== this.pki.jwtKey.kid) throw new TokenError('public key not found');
    return this.pki.jwtKey.publicKey;
  };

  /** Signature (by `kid`), `exp` and `nbf` at the fabric's clock; the claims. */
  private async verifyControllerJwt(token: string): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(token, this.keyForKid, {
        currentDate: new Date(this.now()),
      });
      return payload;
    } catch (err) {
      if (err instanceof TokenError) throw err;
      throw new TokenError((err as Error).message);
    }
  }

  /**
   * Checks an API-session access JWT exactly as a v1.7.2 router does (`router/state/manager.go
   * ParseApiSessionJwt`): signed by a controller key found by `kid`, not expired (`exp` is read as
   * zero when absent, i.e. expired: `common/oidc_tokens.go AccessClaims.GetExpirationTime`), not
   * before `nbf`, `aud` ∋ openziti|native, `z_t` = access. No issuer check. Throws TokenError.
   */
  async parseApiSessionJwt(token: string): Promise<ApiSessionJwt> {
    const payload = await this.verifyControllerJwt(token);
    if (typeof payload.exp !== 'number') throw new TokenError('"exp" claim timestamp check failed');
    const aud = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
    if (!aud.some((a) => API_SESSION_JWT_AUDIENCES.includes(a))) {
      throw new TokenError(
        `provided an api session token with invalid audience '${aud.join(',')}', expected: ${API_SESSION_JWT_AUDIENCES.join(' or ')}`,
      );
    }
    if (payload.z_t !== TOKEN_TYPE_ACCESS)
      throw new TokenError(
        `provided an api session token with invalid type '${String(payload.z_t ?? '')}'`,
      );
    return {
      token,
      apiSessionId: typeof payload.z_asid === 'string' ? payload.z_asid : '',
      identityId: typeof payload.sub === 'string' ? payload.sub : '',
      certFingerprints: Array.isArray(payload.z_cfs)
        ? payload.z_cfs.filter((f): f is string => typeof f === 'string')
        : [],
      expiresAt: payload.exp * 1000,
      jti: typeof payload.jti === 'string' ? payload.jti : undefined,
    };
  }

  /**
   * Reads a service-access JWT as a v1.7.2 router does for an OIDC channel (`router/state/
   * manager.go ParseServiceSessionJwt`): signature by `kid`, `exp`, `z_t` = "s". Throws TokenError.
   */
  async parseServiceAccessJwt(token: string): Promise<ServiceAccessJwt> {
    const payload = await this.verifyControllerJwt(token);
    if (payload.z_t !== TOKEN_TYPE_SERVICE_ACCESS)
      throw new TokenError(`invalid service session token type: ${String(payload.z_st ?? '')}`);
    const aud = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
    return {
      id: String(payload.jti ?? ''),
      serviceId: typeof payload.sub === 'string' ? payload.sub : '',
      apiSessionId: typeof payload.z_asid === 'string' ? payload.z_asid : '',
      identityId: typeof payload.z_iid === 'string' ? payload.z_iid : '',
      type: typeof payload.z_st === 'string' ? payload.z_st : '',
      isLegacy: payload.z_leg === true,
      audienceOk: aud.some((a) => API_SESSION_JWT_AUDIENCES.includes(a)),
    };
  }

  /**
   * Resolves the hello's SessionToken (§3.3): a JWT (`ey` prefix, `router/xgress_common/edge.go
   * JwtTokenPrefix`) checked as parseApiSessionJwt does, otherwise a legacy API-session token.
   * Beyond the real router, the fabric also needs the JWT's API session live in its model (its
   * idle expiry ends OIDC sessions too) and of the identity `sub` names.
   */
  async resolveApiSessionToken(
    token: string,
  ): Promise<{ session: ApiSession; jwt?: ApiSessionJwt } | undefined> {
    if (!token.startsWith('ey')) {
      const session = this.apiSessionByToken(token);
      return session ? { session } : undefined;
    }
    let jwt: ApiSessionJwt;
    try {
      jwt = await this.parseApiSessionJwt(token);
    } catch {
      return undefined;
    }
    const session = this.apiSessionById(jwt.apiSessionId);
    if (!session || session.identity.id !== jwt.identityId) return undefined;
    return { session, jwt };
  }
}
