/**
 * Edge Client API client (reference §1). Each method pairs a builder from requests.ts with a
 * processor from responses.ts around one `fetch`; `fetch` is injectable. The client holds the
 * current credentials: after `authenticate*` it sends `zt-session` (legacy) on later calls; set
 * `accessToken` instead for OIDC sessions (`Authorization: Bearer`).
 */
import { ZitiControllerUnreachableError } from '../errors.ts';
import {
  authenticateExtJwtRequest,
  authenticatePasswordRequest,
  type ControllerAuth,
  caCertsRequest,
  createSessionCertificateRequest,
  createSessionRequest,
  currentApiSessionRequest,
  currentIdentityRequest,
  deleteApiSessionRequest,
  deleteSessionRequest,
  endpointOf,
  externalJwtSignersRequest,
  type ServicesQuery,
  serviceEdgeRoutersRequest,
  servicesRequest,
  versionRequest,
} from './requests.ts';
import {
  processApiSessionResponse,
  processCaCertsResponse,
  processCurrentIdentityResponse,
  processEmptyResponse,
  processExternalJwtSignersResponse,
  processServiceEdgeRoutersResponse,
  processServicesResponse,
  processSessionCertificateResponse,
  processSessionResponse,
  processVersionResponse,
} from './responses.ts';
import type {
  ApiSession,
  AuthenticateBody,
  EdgeRouterInfo,
  ExternalJwtSigner,
  SessionCertificate,
  VersionInfo,
  ZitiService,
  ZitiSession,
} from './types.ts';

/** Page size for `/services` (the controller caps `limit` at 500). */
export const SERVICES_PAGE_SIZE = 100;
/** Stop paging after this many services (a runaway totalCount must not loop forever). */
export const MAX_SERVICES = 10_000;

export interface ControllerClientOptions {
  /** Controller origin, e.g. `https://ctrl.example:1280` (the client API is under /edge/client/v1). */
  baseUrl: string | URL;
  /** Injectable fetch (tests, service worker); default the global fetch. */
  fetch?: typeof fetch;
  /** Legacy API session token: sent as `zt-session`. */
  sessionToken?: string;
  /** OIDC access token: sent as `Authorization: Bearer`. */
  accessToken?: string;
}

export class ControllerClient {
  readonly baseUrl: string | URL;
  /** Credentials sent on authenticated calls; updated by `authenticate*` and `deleteApiSession`. */
  auth: ControllerAuth;
  readonly #fetch: typeof fetch;

  constructor(options: ControllerClientOptions) {
    this.baseUrl = options.baseUrl;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.auth = { sessionToken: options.sessionToken, accessToken: options.accessToken };
  }

  version(): Promise<VersionInfo> {
    return this.#call(versionRequest(this.baseUrl), processVersionResponse);
  }

  externalJwtSigners(): Promise<ExternalJwtSigner[]> {
    return this.#call(externalJwtSignersRequest(this.baseUrl), processExternalJwtSignersResponse);
  }

  /** `method=ext-jwt` with the IdP JWT; keeps the returned token as `zt-session`. */
  async authenticateExtJwt(jwt: string, body?: AuthenticateBody): Promise<ApiSession> {
    const session = await this.#call(
      authenticateExtJwtRequest(this.baseUrl, jwt, body),
      processApiSessionResponse,
    );
    this.auth = { sessionToken: session.token };
    return session;
  }

  /** `method=password`; keeps the returned token as `zt-session`. */
  async authenticatePassword(
    username: string,
    password: string,
    body?: AuthenticateBody,
  ): Promise<ApiSession> {
    const session = await this.#call(
      authenticatePasswordRequest(this.baseUrl, username, password, body),
      processApiSessionResponse,
    );
    this.auth = { sessionToken: session.token };
    return session;
  }

  /** Also the keep-alive: any authenticated call refreshes the 30-minute idle timeout. */
  currentApiSession(): Promise<ApiSession> {
    return this.#call(currentApiSessionRequest(this.baseUrl, this.auth), processApiSessionResponse);
  }

  currentIdentity(): Promise<{ id: string; name: string }> {
    return this.#call(
      currentIdentityRequest(this.baseUrl, this.auth),
      processCurrentIdentityResponse,
    );
  }

  async deleteApiSession(): Promise<void> {
    await this.#call(deleteApiSessionRequest(this.baseUrl, this.auth), processEmptyResponse);
    this.auth = {};
  }

  createSessionCertificate(csrPem: string): Promise<SessionCertificate> {
    return this.#call(
      createSessionCertificateRequest(this.baseUrl, this.auth, csrPem),
      processSessionCertificateResponse,
    );
  }

  /** Every service visible to the identity, all pages (`limit`/`offset`). */
  async services(query: Omit<ServicesQuery, 'limit' | 'offset'> = {}): Promise<ZitiService[]> {
    const all: ZitiService[] = [];
    for (let offset = 0; ; ) {
      const page = await this.#call(
        servicesRequest(this.baseUrl, this.auth, { ...query, limit: SERVICES_PAGE_SIZE, offset }),
        processServicesResponse,
      );
      all.push(...page.services);
      offset += page.services.length;
      const total = page.totalCount;
      if (page.services.length === 0 || offset >= MAX_SERVICES) break;
      if (total === undefined ? page.services.length < SERVICES_PAGE_SIZE : offset >= total) break;
    }
    return all;
  }

  createSession(serviceId: string, type: 'Dial' | 'Bind'): Promise<ZitiSession> {
    return this.#call(
      createSessionRequest(this.baseUrl, this.auth, serviceId, type),
      processSessionResponse,
    );
  }

  async deleteSession(sessionId: string): Promise<void> {
    await this.#call(
      deleteSessionRequest(this.baseUrl, this.auth, sessionId),
      processEmptyResponse,
    );
  }

  serviceEdgeRouters(serviceId: string): Promise<EdgeRouterInfo[]> {
    return this.#call(
      serviceEdgeRoutersRequest(this.baseUrl, this.auth, serviceId),
      processServiceEdgeRoutersResponse,
    );
  }

  /** The network's CA certificates as PEM strings. */
  caBundle(): Promise<string[]> {
    return this.#call(caCertsRequest(this.baseUrl), processCaCertsResponse);
  }

  async #call<T>(
    request: Request,
    process: (res: Response, endpoint: string) => Promise<T>,
  ): Promise<T> {
    const endpoint = endpointOf(request);
    let response: Response;
    try {
      response = await this.#fetch(request);
    } catch (cause) {
      throw new ZitiControllerUnreachableError(endpoint, { cause });
    }
    return process(response, endpoint);
  }
}
