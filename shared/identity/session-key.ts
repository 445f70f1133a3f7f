import * as x509 from '../x509.ts';

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A fresh ECDSA P-256 key pair whose private key can never be exported from WebCrypto. */
export async function createSessionKey(): Promise<CryptoKeyPair> {
  const keys = await crypto.subtle.generateKey(KEY_ALGORITHM, false, ['sign', 'verify']);
  if (keys.privateKey.extractable) throw new Error('WebCrypto returned an extractable private key');
  return keys;
}

/**
 * A PKCS#10 request for an API-session certificate. The controller takes the identity from the API
 * session, not the subject; the subject follows the C SDK's shape.
 */
export async function createCsrPem(keys: CryptoKeyPair, identityId: string): Promise<string> {
  x509.cryptoProvider.set(crypto);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `O=OpenZiti, OU=zt-browser, CN=${identityId}-${Date.now()}`,
    keys,
    signingAlgorithm: SIGNING,
  });
  return csr.toString('pem');
}

/** Splits a PEM bundle into single certificates, leaf first, and reads the leaf's validity window. */
export function parseCertificateChain(pem: string): {
  chain: string[];
  notBefore: number;
  notAfter: number;
} {
  const chain = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (chain.length === 0) throw new Error('the controller returned no certificate');
  const leaf = new x509.X509Certificate(chain[0]!);
  return { chain, notBefore: leaf.notBefore.getTime(), notAfter: leaf.notAfter.getTime() };
}
