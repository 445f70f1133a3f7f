/**
 * Server certificate checks (chain to the caller's CA bundle, validity, name) on our own X.509
 * parser (`shared/asn1/certificate.ts`), and CertificateVerify signatures with WebCrypto
 * (RFC 8446 §4.4.2-4.4.3).
 */

import {
  type Certificate,
  parseCertificate,
  unhandledCriticalExtensions,
  verifySignedBy,
} from '../asn1/certificate.ts';
import { ecdsaSignatureToDer, ecdsaSignatureToRaw } from '../asn1/ecdsa.ts';
import { equalBytes } from './_internal/bytes.ts';
import { AlertDescription, SignatureScheme } from './constants.ts';
import { TlsCertificateError } from './errors.ts';

const MAX_CHAIN_DEPTH = 8;

const untrusted = (message: string, cause?: unknown) =>
  new TlsCertificateError('ERR_TLS_CERTIFICATE_UNTRUSTED', message, {
    alert: AlertDescription.unknownCa,
    cause,
  });

const parse = (der: Uint8Array, what: string) => {
  try {
    return parseCertificate(der);
  } catch (cause) {
    throw new TlsCertificateError('ERR_TLS_BAD_CERTIFICATE', `cannot parse ${what}`, {
      alert: AlertDescription.badCertificate,
      cause,
    });
  }
};

const checkValidity = (cert: Certificate, now: Date) => {
  if (now < cert.notBefore || now > cert.notAfter) {
    throw new TlsCertificateError(
      'ERR_TLS_CERTIFICATE_EXPIRED',
      `certificate ${cert.subject} is valid only from ${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()}`,
      { alert: AlertDescription.certificateExpired },
    );
  }
};

/**
 * A certificate of the path with a critical extension we do not act on is not trusted (RFC 5280
 * §4.2; Go's crypto/x509 and browsers likewise), whether leaf, intermediate or trust anchor.
 */
const checkCriticalExtensions = (cert: Certificate) => {
  const unhandled = unhandledCriticalExtensions(cert);
  if (unhandled.length > 0)
    throw untrusted(
      `certificate ${cert.subject} has unhandled critical extension ${unhandled.join(', ')}`,
    );
};

const isCa = (cert: Certificate) => cert.basicConstraints?.ca === true;

/** Issuer by name (the raw DER, as Go's crypto/x509 compares), then by signature. */
const signedBy = (cert: Certificate, issuer: Certificate) =>
  equalBytes(cert.issuerRaw, issuer.subjectRaw) ? verifySignedBy(cert, issuer) : false;

const parseIpv4 = (s: string): number[] | undefined => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  const bytes = m?.slice(1).map(Number);
  return bytes?.every((b) => b <= 255) ? bytes : undefined;
};

const parseIpv6 = (s: string): number[] | undefined => {
  if (!/^[0-9a-f:.]+$/i.test(s)) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const words = (part: string, last: boolean): number[] | undefined => {
    const out: number[] = [];
    const groups = part === '' ? [] : part.split(':');
    for (const [i, g] of groups.entries()) {
      if (g.includes('.')) {
        const v4 = last && i === groups.length - 1 ? parseIpv4(g) : undefined;
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-f]{1,4}$/i.test(g)) {
        out.push(Number.parseInt(g, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = words(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? words(halves[1]!, true) : [];
  if (!head || !tail) return undefined;
  const zeros = 8 - head.length - tail.length;
  if (halves.length === 1 ? zeros !== 0 : zeros < 1) return undefined;
  return [...head, ...Array<number>(zeros).fill(0), ...tail].flatMap((w) => [w >> 8, w & 0xff]);
};

/**
 * The bytes of an IPv4 (dotted quad) or IPv6 literal (brackets allowed, as in a URL's host), or
 * undefined when `host` is not one (then it is a DNS name).
 */
export const parseIpLiteral = (host: string): Uint8Array | undefined => {
  const bytes = parseIpv4(host) ?? parseIpv6(host.replace(/^\[(.*)\]$/, '$1'));
  return bytes ? new Uint8Array(bytes) : undefined;
};

/**
 * RFC 6125 DNS-ID match: exact (case-insensitive, trailing dot ignored), or a wildcard that is the
 * whole leftmost label (`*.example.com`) and stands for exactly one label (§6.4.3). A wildcard over
 * a single remaining label (`*.com`) or anywhere else in the pattern matches nothing.
 */
const dnsNameMatches = (pattern: string, host: string) => {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  if (p === host) return true;
  if (!p.startsWith('*.')) return false;
  const suffix = p.slice(2);
  if (suffix.includes('*') || !suffix.includes('.')) return false;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === suffix;
};

/**
 * RFC 6125 host name match against the leaf's subjectAltName, with no fallback to the subject's CN:
 * an IP literal only against iPAddress entries (byte for byte, so any spelling of an IPv6 address
 * works), a DNS name only against dNSName entries.
 */
export const matchesServerName = (leaf: Certificate, serverName: string) => {
  const san = leaf.subjectAltName;
  const host = serverName.toLowerCase().replace(/\.$/, '');
  const ip = parseIpLiteral(host);
  if (ip) return san?.ipAddresses.some((a) => equalBytes(a, ip)) ?? false;
  return san?.dnsNames.some((pattern) => dnsNameMatches(pattern, host)) ?? false;
};

/** id-kp-serverAuth (RFC 5280 §4.2.1.12). */
export const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
/** anyExtendedKeyUsage: no restriction, as if the extension were absent. */
const EKU_ANY = '2.5.29.37.0';

/**
 * The leaf must be meant for a TLS server: when it has an extendedKeyUsage extension, that must list
 * serverAuth (or anyExtendedKeyUsage). A leaf without the extension is unrestricted (RFC 5280
 * §4.2.1.12) and passes, as in browsers and Go's crypto/x509.
 */
export const checkServerPurpose = (leaf: Certificate) => {
  const usages = leaf.extKeyUsage;
  if (usages === undefined || usages.includes(EKU_SERVER_AUTH) || usages.includes(EKU_ANY)) return;
  throw new TlsCertificateError(
    'ERR_TLS_CERTIFICATE_PURPOSE',
    `certificate ${leaf.subject} is not for TLS servers (extendedKeyUsage ${usages.join(', ') || 'empty'}, no serverAuth)`,
    { alert: AlertDescription.unsupportedCertificate },
  );
};

/**
 * Verifies that `chain` (leaf first, as sent) leads to one of `trusted`, every link signed by the
 * next, every certificate valid at `now`, every issuer a CA, and the leaf meant for a TLS server
 * (`checkServerPurpose`). With `serverNames`, the leaf must also be valid for at least one of them.
 * Returns the parsed leaf.
 */
export const verifyServerChain = async (
  chain: readonly Uint8Array[],
  trusted: readonly Uint8Array[],
  now: Date,
  serverNames?: string | readonly string[],
): Promise<Certificate> => {
  if (chain.length === 0) {
    throw new TlsCertificateError('ERR_TLS_BAD_CERTIFICATE', 'server sent no certificate', {
      alert: AlertDescription.decodeError,
    });
  }
  const sent = chain.map((der, i) => parse(der, `server certificate ${i}`));
  const anchors = trusted.map((der, i) => ({ der, cert: parse(der, `trusted certificate ${i}`) }));
  const leaf = sent[0]!;
  checkValidity(leaf, now);
  checkCriticalExtensions(leaf);

  let current = leaf;
  let currentDer = chain[0]!;
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
    if (anchors.some((a) => equalBytes(a.der, currentDer))) break;
    let next: { cert: Certificate; der: Uint8Array } | undefined;
    for (const a of anchors) {
      if (await signedBy(current, a.cert)) {
        next = a;
        break;
      }
    }
    if (next) {
      checkValidity(next.cert, now);
      checkCriticalExtensions(next.cert);
      if (!isCa(next.cert)) throw untrusted(`trusted ${next.cert.subject} is not a CA`);
      break;
    }
    for (let i = 1; i < sent.length; i++) {
      const candidate = sent[i]!;
      if (candidate !== current && isCa(candidate) && (await signedBy(current, candidate))) {
        next = { cert: candidate, der: chain[i]! };
        break;
      }
    }
    if (!next) throw untrusted(`no trusted issuer for ${current.subject}`);
    checkValidity(next.cert, now);
    checkCriticalExtensions(next.cert);
    current = next.cert;
    currentDer = next.der;
    if (depth === MAX_CHAIN_DEPTH - 1) throw untrusted('certificate chain too long');
  }

  checkServerPurpose(leaf);
  if (serverNames !== undefined) {
    const names = typeof serverNames === 'string' ? [serverNames] : serverNames;
    if (!names.some((name) => matchesServerName(leaf, name))) {
      throw new TlsCertificateError(
        'ERR_TLS_CERTIFICATE_NAME',
        `server certificate ${leaf.subject} is not valid for ${names.join(' or ') || '(no name)'}`,
        { alert: AlertDescription.badCertificate },
      );
    }
  }
  return leaf;
};

type VerifyParams = {
  importAlg: RsaHashedImportParams | EcKeyImportParams | Algorithm;
  verifyAlg: RsaPssParams | EcdsaParams | Algorithm;
  ecSize?: number;
};

const SCHEME_PARAMS: Record<number, VerifyParams> = {
  [SignatureScheme.ecdsa_secp256r1_sha256]: {
    importAlg: { name: 'ECDSA', namedCurve: 'P-256' },
    verifyAlg: { name: 'ECDSA', hash: 'SHA-256' },
    ecSize: 32,
  },
  [SignatureScheme.ecdsa_secp384r1_sha384]: {
    importAlg: { name: 'ECDSA', namedCurve: 'P-384' },
    verifyAlg: { name: 'ECDSA', hash: 'SHA-384' },
    ecSize: 48,
  },
  [SignatureScheme.rsa_pss_rsae_sha256]: {
    importAlg: { name: 'RSA-PSS', hash: 'SHA-256' },
    verifyAlg: { name: 'RSA-PSS', saltLength: 32 },
  },
  [SignatureScheme.rsa_pss_rsae_sha384]: {
    importAlg: { name: 'RSA-PSS', hash: 'SHA-384' },
    verifyAlg: { name: 'RSA-PSS', saltLength: 48 },
  },
  [SignatureScheme.rsa_pss_rsae_sha512]: {
    importAlg: { name: 'RSA-PSS', hash: 'SHA-512' },
    verifyAlg: { name: 'RSA-PSS', saltLength: 64 },
  },
  [SignatureScheme.ed25519]: { importAlg: { name: 'Ed25519' }, verifyAlg: { name: 'Ed25519' } },
};

/** The schemes we accept from a server, in preference order. */
export const SUPPORTED_SIGNATURE_SCHEMES = [
  SignatureScheme.ecdsa_secp256r1_sha256,
  SignatureScheme.ecdsa_secp384r1_sha384,
  SignatureScheme.rsa_pss_rsae_sha256,
  SignatureScheme.rsa_pss_rsae_sha384,
  SignatureScheme.rsa_pss_rsae_sha512,
  SignatureScheme.ed25519,
];

const badSignature = (message: string, cause?: unknown) =>
  new TlsCertificateError('ERR_TLS_BAD_SIGNATURE', message, {
    alert: AlertDescription.decryptError,
    cause,
  });

/** Checks the server's CertificateVerify signature over `content` with the leaf's key. */
export const verifyCertificateSignature = async (
  leaf: Certificate,
  scheme: number,
  signature: Uint8Array,
  content: Uint8Array,
) => {
  const params = SCHEME_PARAMS[scheme];
  if (!params) {
    throw new TlsCertificateError(
      'ERR_TLS_BAD_SIGNATURE',
      `signature scheme ${scheme} not offered`,
      {
        alert: AlertDescription.illegalParameter,
      },
    );
  }
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey(
      'spki',
      new Uint8Array(leaf.spki),
      params.importAlg,
      false,
      ['verify'],
    );
  } catch (cause) {
    throw new TlsCertificateError(
      'ERR_TLS_BAD_SIGNATURE',
      `server key does not fit signature scheme 0x${scheme.toString(16)}`,
      { alert: AlertDescription.illegalParameter, cause },
    );
  }
  let sig: Uint8Array;
  try {
    sig = params.ecSize ? ecdsaSignatureToRaw(signature, params.ecSize) : signature;
  } catch (cause) {
    throw badSignature('malformed server signature', cause);
  }
  const ok = await crypto.subtle.verify(
    params.verifyAlg,
    key,
    new Uint8Array(sig),
    new Uint8Array(content),
  );
  if (!ok) throw badSignature('server CertificateVerify signature is invalid');
};

/** Signs our CertificateVerify with the (non-extractable) ECDSA P-256 key; DER as TLS wants. */
export const signClientCertificateVerify = async (key: CryptoKey, content: Uint8Array) =>
  ecdsaSignatureToDer(
    new Uint8Array(
      await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, new Uint8Array(content)),
    ),
  );
