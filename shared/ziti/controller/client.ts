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
  constructor(readonly options: ControllerClientOptions) {}
  version(): Promise<VersionInfo> {
    throw new Error('not implemented yet');
  }
  externalJwtSigners(): Promise<ExternalJwtSigner[]> {
    throw new Error('not implemented yet');
  }
  authenticateExtJwt(_jwt: string, _body?: AuthenticateBody): Promise<ApiSession> {
    throw new Error('not implemented yet');
  }
  authenticatePassword(_u: string, _p: string, _body?: AuthenticateBody): Promise<ApiSession> {
    throw new Error('not implemented yet');
  }
  currentApiSession(): Promise<ApiSession> {
    throw new Error('not implemented yet');
  }
  deleteApiSession(): Promise<void> {
    throw new Error('not implemented yet');
  }
  createSessionCertificate(_csrPem: string): Promise<SessionCertificate> {
    throw new Error('not implemented yet');
  }
  services(_q?: { configTypes?: string[]; filter?: string }): Promise<ZitiService[]> {
    throw new Error('not implemented yet');
  }
  createSession(_serviceId: string, _type: 'Dial' | 'Bind'): Promise<ZitiSession> {
    throw new Error('not implemented yet');
  }
  serviceEdgeRouters(_serviceId: string): Promise<EdgeRouterInfo[]> {
    throw new Error('not implemented yet');
  }
  caBundle(): Promise<string[]> {
    throw new Error('not implemented yet');
  }
}
