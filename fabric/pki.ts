/**
 * The fabric PKI: a root CA, an intermediate that signs everything else, the router's server
 * certificate and the controller's JWT signing key. Generated on first start into the data
 * directory and reused afterwards, so browsers and tests can keep trusting the same CA.
 */
import { createHash, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { withDirLock } from './_internal/dir-lock.ts';
import * as x509 from './_internal/x509.ts';

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN_ALG = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 3600 * 1000;

export interface IssuedCert {
  cert: x509.X509Certificate;
  certPem: string;
  keyPem: string;
}

export interface FabricPki {
  root: x509.X509Certificate;
  intermediate: x509.X509Certificate;
  intermediateKey: CryptoKey;
  /** Root + intermediate, PEM: what a client trusts (and what est/cacerts carries). */
  caBundlePem: string;
  /** The router's server certificate (leaf + intermediate chain) and key. */
  router: IssuedCert & { chainPem: string };
  /** The controller's ES256 key for session/API-session JWTs, and its `kid`. */
  jwtKey: { privateKey: CryptoKey; publicKey: CryptoKey; kid: string };
  trustDomain: string;
}

export class CsrError extends Error {
  readonly code = 'ERR_CSR';
}

/** Lowercase hex SHA-1 of the DER, as OpenZiti fingerprints certificates (§3.3). */
export function certFingerprint(cert: x509.X509Certificate | Uint8Array): string {
  const der = cert instanceof Uint8Array ? cert : new Uint8Array(cert.rawData);
  return createHash('sha1').update(der).digest('hex');
}

function randomSerial(): string {
  // Positive, 16 bytes.
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0]! & 0x7f) | 0x01;
  return Buffer.from(b).toString('hex');
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importKeyPem(pem: string, usages: KeyUsage[] = ['sign']): Promise<CryptoKey> {
  const der = x509.PemConverter.decodeFirst(pem);
  return webcrypto.subtle.importKey('pkcs8', der, EC_P256, true, usages);
}

async function newKeyPair(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

async function caCert(
  name: string,
  keys: CryptoKeyPair,
  issuer: { cert: x509.X509Certificate; key: CryptoKey } | null,
  pathLen: number,
): Promise<x509.X509Certificate> {
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(true, pathLen, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.keyCertSign |
        x509.KeyUsageFlags.cRLSign |
        x509.KeyUsageFlags.digitalSignature,
      true,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 10 * 365 * DAY_MS);
  if (!issuer) {
    return x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name,
      keys,
      notBefore,
      notAfter,
      signingAlgorithm: SIGN_ALG,
      extensions,
    });
  }
  extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuer.cert));
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: name,
    issuer: issuer.cert.subject,
    publicKey: keys.publicKey,
    signingKey: issuer.key,
    notBefore,
    notAfter,
    signingAlgorithm: SIGN_ALG,
    extensions,
  });
}

/** Issues a leaf certificate for `publicKey`, signed by the intermediate. */
export async function issueLeafCert(
  pki: Pick<FabricPki, 'intermediate' | 'intermediateKey'>,
  params: {
    publicKey: x509.PublicKeyType;
    subject: string;
    validitySeconds: number;
    server?: boolean;
    dnsNames?: string[];
    ipAddresses?: string[];
    uris?: string[];
  },
): Promise<x509.X509Certificate> {
  const names: x509.JsonGeneralName[] = [
    ...(params.dnsNames ?? []).map((v) => ({ type: 'dns' as const, value: v })),
    ...(params.ipAddresses ?? []).map((v) => ({ type: 'ip' as const, value: v })),
    ...(params.uris ?? []).map((v) => ({ type: 'url' as const, value: v })),
  ];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement,
      true,
    ),
    new x509.ExtendedKeyUsageExtension(
      params.server
        ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]
        : [x509.ExtendedKeyUsage.clientAuth],
    ),
    await x509.AuthorityKeyIdentifierExtension.create(pki.intermediate),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: params.subject,
    issuer: pki.intermediate.subject,
    publicKey: params.publicKey,
    signingKey: pki.intermediateKey,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + params.validitySeconds * 1000),
    signingAlgorithm: SIGN_ALG,
    extensions,
  });
}

/** Issues a client certificate plus a fresh key (used for the tunneler's and tests' identities). */
export async function issueIdentityCert(
  pki: FabricPki,
  identityId: string,
  validitySeconds = 365 * 24 * 3600,
): Promise<IssuedCert> {
  const keys = await newKeyPair();
  const cert = await issueLeafCert(pki, {
    publicKey: keys.publicKey,
    subject: `CN=${identityId}`,
    validitySeconds,
    uris: [`spiffe://${pki.trustDomain}/identity/${identityId}`],
  });
  return {
    cert,
    certPem: `${cert.toString('pem')}\n`,
    keyPem: await exportKeyPem(keys.privateKey),
  };
}

/**
 * Signs a CSR as the controller does for API-session certificates (§1.6). Any subject, any key
 * type and the version-2 CSRs that OpenZiti's browser client sends (§11) are accepted; the
 * signature must verify. The identity comes from the API session, never the CSR.
 */
export async function signCsr(
  pki: FabricPki,
  csrPem: string,
  params: { spiffeId: string; subject: string; validitySeconds: number },
): Promise<x509.X509Certificate> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new CsrError(`cannot parse CSR: ${(err as Error).message}`, { cause: err });
  }
  let ok = false;
  try {
    ok = await csr.verify();
  } catch (err) {
    throw new CsrError(`cannot verify CSR signature: ${(err as Error).message}`, { cause: err });
  }
  if (!ok) throw new CsrError('CSR signature does not verify');
  return issueLeafCert(pki, {
    publicKey: csr.publicKey,
    subject: params.subject,
    validitySeconds: params.validitySeconds,
    uris: [params.spiffeId],
  });
}

/** The CA bundle as `/.well-known/est/cacerts` serves it: base64 of a degenerate PKCS#7, 64-char lines. */
export function caCertsPkcs7Base64(pki: FabricPki): string {
  const der = new x509.X509Certificates([pki.intermediate, pki.root]).export('raw');
  const b64 = Buffer.from(der).toString('base64');
  return `${b64.match(/.{1,64}/g)!.join('\n')}\n`;
}

function pemOf(cert: x509.X509Certificate): string {
  return `${cert.toString('pem')}\n`;
}

/**
 * Loads the PKI from `dir`, creating whatever is missing. The router certificate is re-issued when
 * its host names change or it is about to expire; the CAs and JWT key are kept.
 */
export async function loadOrCreatePki(
  dir: string,
  opts: { trustDomain: string; routerHosts: string[] },
): Promise<FabricPki> {
  mkdirSync(dir, { recursive: true });
  return withDirLock(dir, () => loadOrCreateLocked(dir, opts));
}

async function loadOrCreateLocked(
  dir: string,
  opts: { trustDomain: string; routerHosts: string[] },
): Promise<FabricPki> {
  const file = (n: string) => join(dir, n);
  const read = (n: string) => readFileSync(file(n), 'utf8');
  const write = (n: string, s: string) => writeFileSync(file(n), s, { mode: 0o600 });

  if (!existsSync(file('root.key.pem')) || !existsSync(file('intermediate.key.pem'))) {
    const rootKeys = await newKeyPair();
    const root = await caCert(
      `CN=${opts.trustDomain} root CA, O=zt-browser dev fabric`,
      rootKeys,
      null,
      1,
    );
    const interKeys = await newKeyPair();
    const inter = await caCert(
      `CN=${opts.trustDomain} intermediate CA, O=zt-browser dev fabric`,
      interKeys,
      { cert: root, key: rootKeys.privateKey },
      0,
    );
    write('root.cert.pem', pemOf(root));
    write('root.key.pem', await exportKeyPem(rootKeys.privateKey));
    write('intermediate.cert.pem', pemOf(inter));
    write('intermediate.key.pem', await exportKeyPem(interKeys.privateKey));
  }
  const root = new x509.X509Certificate(read('root.cert.pem'));
  const intermediate = new x509.X509Certificate(read('intermediate.cert.pem'));
  const intermediateKey = await importKeyPem(read('intermediate.key.pem'));

  if (!existsSync(file('jwt.key.pem'))) {
    write('jwt.key.pem', await exportKeyPem((await newKeyPair()).privateKey));
  }
  const jwtPrivate = await importKeyPem(read('jwt.key.pem'));
  const jwk = await webcrypto.subtle.exportKey('jwk', jwtPrivate);
  const { d: _d, ...pubJwk } = jwk;
  const jwtPublic = await webcrypto.subtle.importKey(
    'jwk',
    { ...pubJwk, key_ops: ['verify'] },
    EC_P256,
    true,
    ['verify'],
  );
  const kid = createHash('sha1').update(`${pubJwk.x}.${pubJwk.y}`).digest('hex');

  const hosts = [...new Set(opts.routerHosts)].sort();
  let router: (IssuedCert & { chainPem: string }) | null = null;
  if (existsSync(file('router.cert.pem')) && existsSync(file('router.json'))) {
    const meta = JSON.parse(read('router.json')) as { hosts: string[] };
    const cert = new x509.X509Certificate(read('router.cert.pem'));
    const fresh = cert.notAfter.getTime() - Date.now() > 7 * DAY_MS;
    if (
      fresh &&
      JSON.stringify(meta.hosts) === JSON.stringify(hosts) &&
      cert.issuer === intermediate.subject
    ) {
      router = {
        cert,
        certPem: pemOf(cert),
        keyPem: read('router.key.pem'),
        chainPem: pemOf(cert) + pemOf(intermediate),
      };
    }
  }
  if (!router) {
    const keys = await newKeyPair();
    const cert = await issueLeafCert(
      { intermediate, intermediateKey },
      {
        publicKey: keys.publicKey,
        subject: `CN=router, O=zt-browser dev fabric`,
        validitySeconds: 365 * 24 * 3600,
        server: true,
        dnsNames: hosts.filter((h) => isIP(h) === 0),
        ipAddresses: hosts.filter((h) => isIP(h) !== 0),
      },
    );
    const keyPem = await exportKeyPem(keys.privateKey);
    write('router.cert.pem', pemOf(cert));
    write('router.key.pem', keyPem);
    write('router.json', JSON.stringify({ hosts }));
    router = { cert, certPem: pemOf(cert), keyPem, chainPem: pemOf(cert) + pemOf(intermediate) };
  }

  return {
    root,
    intermediate,
    intermediateKey,
    caBundlePem: pemOf(intermediate) + pemOf(root),
    router,
    jwtKey: { privateKey: jwtPrivate, publicKey: jwtPublic, kid },
    trustDomain: opts.trustDomain,
  };
}
