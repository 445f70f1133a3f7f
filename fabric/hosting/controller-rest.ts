/**
 * A minimal edge client API caller for Node-side fabric processes (the tunneler, tests): password
 * or ext-jwt login, session certificate from a fresh P-256 key, services, sessions. The product's
 * own client lives in shared/ziti/controller; this one exists so hosting does not depend on it.
 */
import { webcrypto } from 'node:crypto';
import * as x509 from '../_internal/x509.ts';

export class ControllerRestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface SessionCredentials {
  token: string;
  apiSessionId: string;
  identityId: string;
  /** PEM: leaf first, then the intermediate. */
  certChainPem: string;
  keyPem: string;
  caPem: string;
}

export class ControllerRest {
  token: string | undefined;

  constructor(readonly baseUrl: string) {}

  async call<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const res = await fetch(`${this.baseUrl}/edge/client/v1${path}`, {
      method,
      headers: {
        accept: 'application/json',
        'content-type': 'application/json',
        ...(this.token ? { 'zt-session': this.token } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as {
      data?: T;
      error?: { code: string; causeMessage?: string; message: string };
    };
    if (!res.ok || json.error) {
      throw new ControllerRestError(
        res.status,
        json.error?.code ?? 'UNKNOWN',
        `${method} ${path}: ${res.status} ${json.error?.code}: ${json.error?.causeMessage || json.error?.message}`,
      );
    }
    return json.data as T;
  }

  async loginPassword(
    username: string,
    password: string,
  ): Promise<{ id: string; token: string; identityId: string }> {
    const s = await this.call<{ id: string; token: string; identityId: string }>(
      'POST',
      '/authenticate?method=password',
      { username, password, configTypes: ['intercept.v1', 'host.v1'] },
    );
    this.token = s.token;
    return s;
  }

  async loginExtJwt(jwt: string): Promise<{ id: string; token: string; identityId: string }> {
    const s = await this.call<{ id: string; token: string; identityId: string }>(
      'POST',
      '/authenticate?method=ext-jwt',
      { configTypes: ['intercept.v1', 'host.v1'] },
      { authorization: `Bearer ${jwt}` },
    );
    this.token = s.token;
    return s;
  }

  /** Makes a key pair and CSR, and gets the API-session certificate (§1.6). */
  async sessionCertificate(): Promise<{ certChainPem: string; keyPem: string; caPem: string }> {
    const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'O=OpenZiti, OU=zt-fabric',
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    });
    const res = await this.call<{ certificate: string; cas: string }>(
      'POST',
      '/current-api-session/certificates',
      {
        csr: csr.toString('pem'),
      },
    );
    const keyPem = x509.PemConverter.encode(
      await webcrypto.subtle.exportKey('pkcs8', keys.privateKey),
      'PRIVATE KEY',
    );
    return { certChainPem: res.certificate, keyPem, caPem: res.cas };
  }

  services(): Promise<
    {
      id: string;
      name: string;
      permissions: string[];
      encryptionRequired: boolean;
      config: Record<string, unknown>;
    }[]
  > {
    return this.call('GET', '/services?limit=500&configTypes=all');
  }

  createSession(
    serviceId: string,
    type: 'Dial' | 'Bind',
  ): Promise<{
    id: string;
    token: string;
    edgeRouters: { urls: Record<string, string> }[] | null;
  }> {
    return this.call('POST', '/sessions', { serviceId, type });
  }
}
