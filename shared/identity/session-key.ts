import { parseCertificate } from '../asn1/certificate.ts';
import {
  contextTag,
  DerError,
  encode,
  encodeBits,
  encodeOid,
  encodeSmallInteger,
  encodeUtf8String,
  Tag,
} from '../asn1/der.ts';
import { ecdsaSignatureToDer } from '../asn1/ecdsa.ts';
import { derToPem, pemToDer } from '../asn1/pem.ts';

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

const OID = {
  organizationName: '2.5.4.10',
  organizationalUnitName: '2.5.4.11',
  commonName: '2.5.4.3',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
} as const;

/** A fresh ECDSA P-256 key pair whose private key can never be exported from WebCrypto. */
export async function createSessionKey(): Promise<CryptoKeyPair> {
  const keys = await crypto.subtle.generateKey(KEY_ALGORITHM, false, ['sign', 'verify']);
  if (keys.privateKey.extractable) throw new Error('WebCrypto returned an extractable private key');
  return keys;
}

/** DirectoryString: PrintableString when the value allows it (X.680 §41.4), else UTF8String. */
function directoryString(value: string): Uint8Array {
  return /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(value)
    ? encode(Tag.printableString, new TextEncoder().encode(value))
    : encodeUtf8String(value);
}

/** Name (RFC 5280 §4.1.2.4): an RDNSequence with one AttributeTypeAndValue per RDN, in order. */
function name(attributes: [oid: string, value: string][]): Uint8Array {
  return encode(
    Tag.sequence,
    ...attributes.map(([oid, value]) =>
      encode(Tag.set, encode(Tag.sequence, encodeOid(oid), directoryString(value))),
    ),
  );
}

/**
 * A PKCS#10 request (RFC 2986) for an API-session certificate. The controller takes the identity
 * from the API session, not the subject; the subject follows the C SDK's shape.
 */
export async function createCsrPem(keys: CryptoKeyPair, identityId: string): Promise<string> {
  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', keys.publicKey));
  const info = encode(
    Tag.sequence,
    encodeSmallInteger(0),
    name([
      [OID.organizationName, 'OpenZiti'],
      [OID.organizationalUnitName, 'zt-browser'],
      [OID.commonName, `${identityId}-${Date.now()}`],
    ]),
    spki,
    encode(contextTag(0, true)), // attributes [0] IMPLICIT SET OF Attribute: none
  );
  // `encode` allocates its own ArrayBuffer (never a SharedArrayBuffer), as WebCrypto's types require.
  const signed = info as Uint8Array<ArrayBuffer>;
  const raw = new Uint8Array(await crypto.subtle.sign(SIGNING, keys.privateKey, signed));
  const request = encode(
    Tag.sequence,
    info,
    encode(Tag.sequence, encodeOid(OID.ecdsaWithSha256)), // no parameters (RFC 5758 §3.2)
    encodeBits(ecdsaSignatureToDer(raw)),
  );
  return derToPem(request, 'CERTIFICATE REQUEST');
}

/**
 * Splits a PEM bundle into single certificates, leaf first, and reads the leaf's validity window.
 * Throws a `DerError` when there is no certificate or the leaf is not one.
 */
export function parseCertificateChain(pem: string): {
  chain: string[];
  notBefore: number;
  notAfter: number;
} {
  const chain = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (chain.length === 0) throw new DerError('the controller returned no PEM certificate');
  const { notBefore, notAfter } = parseCertificate(pemToDer(chain[0]!));
  return { chain, notBefore: notBefore.getTime(), notAfter: notAfter.getTime() };
}
