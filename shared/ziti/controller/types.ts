/** Shapes of the Edge Client REST API (reference §1), as far as this client reads them. */

/** `{data, meta}` success envelope. */
export interface Envelope<T> {
  data: T;
  meta: {
    pagination?: { limit: number; offset: number; totalCount: number };
    [key: string]: unknown;
  };
}

export interface ApiVersionBinding {
  path: string;
  apiBaseUrls?: string[];
}

/** `GET /version` data (reference §1.3). */
export interface VersionInfo {
  version: string;
  revision?: string;
  buildDate?: string;
  runtimeVersion?: string;
  /** binding (`edge-client`, `edge-oidc`, ...) → `{v1: {path, apiBaseUrls}}` */
  apiVersions: Record<string, Record<string, ApiVersionBinding>>;
  /** Subset of `OIDC_AUTH`, `OIDC_AUTH_WITH_CSR`, `HA_CONTROLLER`. */
  capabilities: string[];
}

/**
 * `GET /external-jwt-signers` item (reference §6.2). A real controller sends no OIDC discovery URL:
 * `externalAuthUrl` is the IdP's issuer, and discovery is under it.
 */
export interface ExternalJwtSigner {
  id: string;
  name: string;
  externalAuthUrl?: string;
  clientId?: string;
  scopes?: string[];
  audience?: string;
  /** Which IdP token to present: the access token or the id token. */
  targetToken?: 'ACCESS' | 'ID';
  enrollToCertEnabled?: boolean;
  enrollToTokenEnabled?: boolean;
}

export interface AuthQuery {
  typeId: string;
  provider?: string;
  [key: string]: unknown;
}

/** `currentApiSessionDetail` (reference §1.4); `token` is what goes in `zt-session`. */
export interface ApiSession {
  id: string;
  token: string;
  identityId?: string;
  identity?: { id: string; name: string; [key: string]: unknown };
  configTypes?: string[];
  authQueries?: AuthQuery[];
  isMfaRequired?: boolean;
  isMfaComplete?: boolean;
  expiresAt?: string;
  expirationSeconds?: number;
  [key: string]: unknown;
}

/** Optional body of `POST /authenticate`. */
export interface AuthenticateBody {
  configTypes?: string[];
  envInfo?: {
    os?: string;
    arch?: string;
    osRelease?: string;
    osVersion?: string;
    domain?: string;
    hostname?: string;
  };
  sdkInfo?: {
    type?: string;
    branch?: string;
    version?: string;
    revision?: string;
    appId?: string;
    appVersion?: string;
  };
}

/** `POST /current-api-session/certificates` data (reference §1.6). */
export interface SessionCertificate {
  id?: string;
  /** PEM chain, leaf first. */
  certificate: string;
  /** PEM CA bundle. */
  cas: string;
}

/** `intercept.v1` config (reference §1.7). */
export interface InterceptV1 {
  protocols: string[];
  addresses: string[];
  portRanges: { low: number; high: number }[];
  dialOptions?: { connectTimeoutSeconds?: number; identity?: string };
  [key: string]: unknown;
}

/** `GET /services` item. */
export interface ZitiService {
  id: string;
  name: string;
  permissions: ('Dial' | 'Bind' | 'Invalid')[];
  encryptionRequired: boolean;
  /** Config JSON keyed by config type name (`intercept.v1`, `host.v1`, ...). */
  config: Record<string, unknown>;
  [key: string]: unknown;
}

/** An edge router as `POST /sessions` and `/services/{id}/edge-routers` list it (reference §1.8). */
export interface EdgeRouterInfo {
  name: string;
  hostname?: string;
  isOnline?: boolean;
  cost?: number;
  noTraversal?: boolean;
  disabled?: boolean;
  syncStatus?: string;
  /** protocol → URL, e.g. `{"wss": "wss://er1:3023"}`. */
  supportedProtocols?: Record<string, string>;
  /** Deprecated copy of `supportedProtocols`. */
  urls?: Record<string, string>;
}

/** `POST /sessions` data. */
export interface ZitiSession {
  id: string;
  token: string;
  type: 'Dial' | 'Bind';
  serviceId: string;
  apiSessionId?: string;
  identityId?: string;
  edgeRouters: EdgeRouterInfo[];
}
