/**
 * X.509 certificates (RFC 5280 §4.1), strictly: the fields TLS server authentication needs, the
 * extensions it acts on decoded, every other extension kept raw. Signatures checked with WebCrypto.
 */
import {
  checkInteger,
  contextTag,
  DerError,
  DerReader,
  decodeBoolean,
  decodeOctetAlignedBits,
  decodeOid,
  decodeSmallInteger,
  decodeTime,
  readOne,
  Tag,
  type Tlv,
} from './der.ts';
import { ecdsaSignatureToRaw } from './ecdsa.ts';

const equalDer = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

export interface AlgorithmIdentifier {
  oid: string;
  /** The raw parameters element, when present. */
  params?: Uint8Array;
}

export interface Extension {
  critical: boolean;
  /** Contents of extnValue (the extension's own DER). */
  value: Uint8Array;
}

export interface SubjectAltName {
  dnsNames: string[];
  /** 4 bytes (IPv4) or 16 (IPv6). */
  ipAddresses: Uint8Array[];
}

export interface Certificate {
  der: Uint8Array;
  /** The signed TBSCertificate, tag and length included. */
  tbs: Uint8Array;
  signatureAlgorithm: AlgorithmIdentifier;
  signature: Uint8Array;
  issuerRaw: Uint8Array;
  subjectRaw: Uint8Array;
  /** For messages: `CN=x, O=y` in encoded order. */
  subject: string;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo, tag and length included (WebCrypto `importKey('spki')`). */
  spki: Uint8Array;
  publicKeyAlgorithm: { oid: string; namedCurve?: string };
  /** By extension OID. */
  extensions: ReadonlyMap<string, Extension>;
  /** Undefined when the extension is absent. */
  basicConstraints?: { ca: boolean };
  /** Key purpose OIDs; undefined when the extension is absent (then unrestricted). */
  extKeyUsage?: string[];
  subjectAltName?: SubjectAltName;
}

const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ed25519: '1.3.101.112',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
} as const;

/**
 * Extensions whose meaning is honoured when critical: the three decoded here, keyUsage (a CA's
 * keyCertSign is not required, as in Go's crypto/x509), and the two key identifiers, which only
 * help find issuers. Any other critical extension (nameConstraints, policies...) makes a chain
 * untrusted (RFC 5280 §4.2), as in Go and browsers.
 */
const HANDLED_EXTENSIONS: ReadonlySet<string> = new Set([
  OID.basicConstraints,
  OID.extKeyUsage,
  OID.subjectAltName,
  OID.keyUsage,
  OID.subjectKeyIdentifier,
  OID.authorityKeyIdentifier,
]);

/** The OIDs of critical extensions this module does not act on. */
export const unhandledCriticalExtensions = (cert: Certificate): string[] =>
  [...cert.extensions]
    .filter(([oid, e]) => e.critical && !HANDLED_EXTENSIONS.has(oid))
    .map(([oid]) => oid);

const ATTRIBUTE_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '0.9.2342.19200300.100.1.25': 'DC',
};

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/** A DirectoryString (or IA5String, as DC uses) as text; other types as `#` and hex of the element. */
function attributeValue(tlv: Tlv): string {
  const v = tlv.value;
  switch (tlv.tag) {
    case Tag.utf8String:
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(v);
      } catch {
        throw new DerError('UTF8String not UTF-8');
      }
    case Tag.printableString:
    case Tag.ia5String:
    case 0x12: // NumericString
    case 0x14: // TeletexString, read as Latin-1 as most decoders do
      return String.fromCharCode(...v);
    case 0x1e: // BMPString: UTF-16BE
      if (v.length % 2) throw new DerError('BMPString of odd length');
      return String.fromCharCode(
        ...Array.from({ length: v.length / 2 }, (_, i) => (v[2 * i]! << 8) | v[2 * i + 1]!),
      );
    case 0x1c: // UniversalString: UTF-32BE
      if (v.length % 4) throw new DerError('UniversalString length not a multiple of 4');
      return String.fromCodePoint(
        ...Array.from({ length: v.length / 4 }, (_, i) =>
          new DataView(v.buffer, v.byteOffset + 4 * i, 4).getUint32(0),
        ),
      );
    default:
      return `#${hex(tlv.raw)}`;
  }
}

/** Name ::= SEQUENCE OF SET SIZE (1..MAX) OF SEQUENCE { type OID, value ANY }, as text. */
function readName(tlv: Tlv, what: string): string {
  const rdns = new DerReader(tlv.value, what);
  const parts: string[] = [];
  while (!rdns.done) {
    const set = rdns.enter(Tag.set);
    const attributes: string[] = [];
    do {
      const attribute = set.enter(Tag.sequence);
      const oid = decodeOid(attribute.read(Tag.oid).value);
      const value = attributeValue(attribute.read());
      attribute.end();
      attributes.push(`${ATTRIBUTE_NAMES[oid] ?? oid}=${value}`);
    } while (!set.done);
    parts.push(attributes.join('+'));
  }
  return parts.join(', ');
}

function readAlgorithm(
  reader: DerReader,
  what: string,
): { id: AlgorithmIdentifier; raw: Uint8Array } {
  const tlv = reader.read(Tag.sequence);
  const r = new DerReader(tlv.value, what);
  const oid = decodeOid(r.read(Tag.oid).value);
  const params = r.done ? undefined : r.read().raw;
  r.end();
  return { id: params ? { oid, params } : { oid }, raw: tlv.raw };
}

const EXTENSIONS = contextTag(3, true);
const ISSUER_UID = contextTag(1, false);
const SUBJECT_UID = contextTag(2, false);
const DNS_NAME = contextTag(2, false);
const IP_ADDRESS = contextTag(7, false);

function decodeBasicConstraints(value: Uint8Array): { ca: boolean } {
  const r = new DerReader(
    readOne(value, 'basicConstraints', Tag.sequence).value,
    'basicConstraints',
  );
  const caTlv = r.optional(Tag.boolean);
  // An explicit FALSE is not DER, but old encoders wrote it and Go and browsers accept it.
  const ca = caTlv ? decodeBoolean(caTlv.value) : false;
  const pathLen = r.optional(Tag.integer);
  if (pathLen) decodeSmallInteger(pathLen.value);
  r.end();
  return { ca };
}

function decodeExtKeyUsage(value: Uint8Array): string[] {
  const r = new DerReader(readOne(value, 'extKeyUsage', Tag.sequence).value, 'extKeyUsage');
  const out: string[] = [];
  while (!r.done) out.push(decodeOid(r.read(Tag.oid).value));
  return out;
}

function decodeSubjectAltName(value: Uint8Array): SubjectAltName {
  const r = new DerReader(readOne(value, 'subjectAltName', Tag.sequence).value, 'subjectAltName');
  if (r.done) throw new DerError('subjectAltName: empty');
  const out: SubjectAltName = { dnsNames: [], ipAddresses: [] };
  while (!r.done) {
    const name = r.read();
    // GeneralName is a CHOICE of context-specific tags [0]..[8].
    if ((name.tag & 0xc0) !== 0x80 || (name.tag & 0x1f) > 8)
      throw new DerError(`subjectAltName: tag 0x${name.tag.toString(16)} is not a GeneralName`);
    if (name.tag === DNS_NAME) {
      if (name.value.some((b) => b > 0x7f))
        throw new DerError('subjectAltName: dNSName not IA5String');
      out.dnsNames.push(String.fromCharCode(...name.value));
    } else if (name.tag === IP_ADDRESS) {
      if (name.value.length !== 4 && name.value.length !== 16)
        throw new DerError(`subjectAltName: iPAddress of ${name.value.length} bytes`);
      out.ipAddresses.push(name.value);
    }
  }
  return out;
}

/**
 * Parses a DER certificate. Throws `DerError` on anything malformed: bad DER, trailing bytes,
 * signatureAlgorithm differing from the TBSCertificate's (§4.1.1.2), a version other than v3 (or
 * v1 without extensions), a duplicate or malformed extension the module decodes.
 */
export function parseCertificate(der: Uint8Array): Certificate {
  const outer = new DerReader(readOne(der, 'certificate', Tag.sequence).value, 'certificate');
  const tbsTlv = outer.read(Tag.sequence);
  const outerAlgorithm = readAlgorithm(outer, 'certificate signatureAlgorithm');
  const signature = decodeOctetAlignedBits(outer.read(Tag.bitString).value);
  outer.end();

  const tbs = new DerReader(tbsTlv.value, 'tbsCertificate');
  const versionTlv = tbs.optional(contextTag(0, true));
  // DER omits the DEFAULT v1, so an explicit version must be v3 (2); v2 is refused.
  if (
    versionTlv &&
    decodeSmallInteger(readOne(versionTlv.value, 'version', Tag.integer).value) !== 2
  )
    throw new DerError('tbsCertificate: version is not v3');
  const v3 = versionTlv !== undefined;
  checkInteger(tbs.read(Tag.integer).value, 'serialNumber', false);
  const innerAlgorithm = readAlgorithm(tbs, 'tbsCertificate signature');
  if (!equalDer(innerAlgorithm.raw, outerAlgorithm.raw))
    throw new DerError('certificate: signatureAlgorithm differs from tbsCertificate signature');
  const issuer = tbs.read(Tag.sequence);
  readName(issuer, 'issuer');
  const validity = tbs.enter(Tag.sequence, 'validity');
  const notBefore = decodeTime(validity.read());
  const notAfter = decodeTime(validity.read());
  validity.end();
  const subject = tbs.read(Tag.sequence);
  const subjectText = readName(subject, 'subject');
  const spkiTlv = tbs.read(Tag.sequence);
  const spki = new DerReader(spkiTlv.value, 'subjectPublicKeyInfo');
  const keyAlgorithm = readAlgorithm(spki, 'subjectPublicKeyInfo algorithm').id;
  decodeOctetAlignedBits(spki.read(Tag.bitString).value);
  spki.end();
  const publicKeyAlgorithm: Certificate['publicKeyAlgorithm'] = { oid: keyAlgorithm.oid };
  if (keyAlgorithm.oid === OID.ecPublicKey) {
    // Named curves only (RFC 5480 §2.1.1.1: implicit and specified curves are not allowed).
    if (!keyAlgorithm.params) throw new DerError('subjectPublicKeyInfo: EC key without a curve');
    publicKeyAlgorithm.namedCurve = decodeOid(
      readOne(keyAlgorithm.params, 'EC parameters', Tag.oid).value,
    );
  }

  if (v3) {
    tbs.optional(ISSUER_UID);
    tbs.optional(SUBJECT_UID);
  }
  const extensions = new Map<string, Extension>();
  const extensionsTlv = tbs.optional(EXTENSIONS);
  tbs.end();
  if (extensionsTlv) {
    if (!v3) throw new DerError('tbsCertificate: extensions in a v1 certificate');
    const list = new DerReader(
      readOne(extensionsTlv.value, 'extensions', Tag.sequence).value,
      'extensions',
    );
    // SIZE (1..MAX), but an empty list is written by some generators (@peculiar/x509 among
    // them) and accepted by Go and OpenSSL; it means no extensions.
    while (!list.done) {
      const ext = list.enter(Tag.sequence, 'extension');
      const oid = decodeOid(ext.read(Tag.oid).value);
      const criticalTlv = ext.optional(Tag.boolean);
      // An explicit FALSE is accepted, as in basicConstraints.
      const critical = criticalTlv ? decodeBoolean(criticalTlv.value) : false;
      const value = ext.read(Tag.octetString).value;
      ext.end();
      if (extensions.has(oid)) throw new DerError(`extensions: ${oid} appears twice`);
      extensions.set(oid, { critical, value });
    }
  }
  const basic = extensions.get(OID.basicConstraints);
  const eku = extensions.get(OID.extKeyUsage);
  const san = extensions.get(OID.subjectAltName);

  const cert: Certificate = {
    der,
    tbs: tbsTlv.raw,
    signatureAlgorithm: outerAlgorithm.id,
    signature,
    issuerRaw: issuer.raw,
    subjectRaw: subject.raw,
    subject: subjectText,
    notBefore,
    notAfter,
    spki: spkiTlv.raw,
    publicKeyAlgorithm,
    extensions,
  };
  if (basic) cert.basicConstraints = decodeBasicConstraints(basic.value);
  if (eku) cert.extKeyUsage = decodeExtKeyUsage(eku.value);
  if (san) cert.subjectAltName = decodeSubjectAltName(san.value);
  return cert;
}

const CURVES: Record<string, { name: string; size: number }> = {
  '1.2.840.10045.3.1.7': { name: 'P-256', size: 32 },
  '1.3.132.0.34': { name: 'P-384', size: 48 },
  '1.3.132.0.35': { name: 'P-521', size: 66 },
};

const ECDSA_HASHES: Record<string, string> = {
  '1.2.840.10045.4.3.2': 'SHA-256',
  '1.2.840.10045.4.3.3': 'SHA-384',
  '1.2.840.10045.4.3.4': 'SHA-512',
};

const RSA_PKCS1_HASHES: Record<string, string> = {
  '1.2.840.113549.1.1.11': 'SHA-256',
  '1.2.840.113549.1.1.12': 'SHA-384',
  '1.2.840.113549.1.1.13': 'SHA-512',
};

const RSASSA_PSS = '1.2.840.113549.1.1.10';
const MGF1 = '1.2.840.113549.1.1.8';
const HASHES: Record<string, string> = {
  '2.16.840.1.101.3.4.2.1': 'SHA-256',
  '2.16.840.1.101.3.4.2.2': 'SHA-384',
  '2.16.840.1.101.3.4.2.3': 'SHA-512',
};
const NULL = new Uint8Array([Tag.null, 0]);

/** A hash AlgorithmIdentifier (parameters absent or NULL) → its WebCrypto name. */
function hashOf(tlv: Uint8Array): string {
  const r = new DerReader(readOne(tlv, 'hash algorithm', Tag.sequence).value, 'hash algorithm');
  const hash = HASHES[decodeOid(r.read(Tag.oid).value)];
  r.optional(Tag.null);
  r.end();
  if (!hash) throw new DerError('unsupported hash');
  return hash;
}

/**
 * RSASSA-PSS-params (RFC 4055 §3.1) with SHA-256/384/512 and MGF1 over the same hash (all WebCrypto
 * does); the SHA-1 defaults are refused.
 */
function pssParams(params: Uint8Array | undefined): RsaPssParams & { hash: string } {
  if (!params) throw new DerError('RSASSA-PSS without parameters');
  const r = new DerReader(
    readOne(params, 'RSASSA-PSS-params', Tag.sequence).value,
    'RSASSA-PSS-params',
  );
  const hashTlv = r.read(contextTag(0, true));
  const hash = hashOf(readOne(hashTlv.value, 'hashAlgorithm').raw);
  const mgf = new DerReader(
    readOne(r.read(contextTag(1, true)).value, 'maskGenAlgorithm', Tag.sequence).value,
    'maskGenAlgorithm',
  );
  if (decodeOid(mgf.read(Tag.oid).value) !== MGF1)
    throw new DerError('RSASSA-PSS: mask generation not MGF1');
  if (hashOf(mgf.read(Tag.sequence).raw) !== hash)
    throw new DerError('RSASSA-PSS: MGF1 hash differs');
  mgf.end();
  const salt = r.optional(contextTag(2, true));
  const saltLength = salt
    ? decodeSmallInteger(readOne(salt.value, 'saltLength', Tag.integer).value)
    : 20;
  const trailer = r.optional(contextTag(3, true));
  if (
    trailer &&
    decodeSmallInteger(readOne(trailer.value, 'trailerField', Tag.integer).value) !== 1
  )
    throw new DerError('RSASSA-PSS: trailerField not 1');
  r.end();
  return { name: 'RSA-PSS', hash, saltLength };
}

/**
 * Whether `issuer`'s key made `cert`'s signature: ECDSA (P-256/384/521) with SHA-256/384/512,
 * RSASSA-PKCS1-v1_5 and RSASSA-PSS with SHA-256/384/512, Ed25519. Anything else (SHA-1, unknown
 * algorithms, a key that does not fit) is false. Names are not compared here.
 */
export async function verifySignedBy(cert: Certificate, issuer: Certificate): Promise<boolean> {
  try {
    const { oid, params } = cert.signatureAlgorithm;
    const keyOid = issuer.publicKeyAlgorithm.oid;
    let importAlg: AlgorithmIdentifierParams;
    let verifyAlg: AlgorithmIdentifierParams;
    let signature = cert.signature;
    if (ECDSA_HASHES[oid]) {
      const curve = CURVES[issuer.publicKeyAlgorithm.namedCurve ?? ''];
      if (params || keyOid !== OID.ecPublicKey || !curve) return false;
      importAlg = { name: 'ECDSA', namedCurve: curve.name };
      verifyAlg = { name: 'ECDSA', hash: ECDSA_HASHES[oid] };
      signature = ecdsaSignatureToRaw(signature, curve.size);
    } else if (RSA_PKCS1_HASHES[oid]) {
      if ((params && !equalDer(params, NULL)) || keyOid !== OID.rsaEncryption) return false;
      importAlg = { name: 'RSASSA-PKCS1-v1_5', hash: RSA_PKCS1_HASHES[oid] };
      verifyAlg = { name: 'RSASSA-PKCS1-v1_5' };
    } else if (oid === RSASSA_PSS) {
      if (keyOid !== OID.rsaEncryption) return false;
      const pss = pssParams(params);
      importAlg = { name: 'RSA-PSS', hash: pss.hash };
      verifyAlg = { name: 'RSA-PSS', saltLength: pss.saltLength };
    } else if (oid === OID.ed25519) {
      if (params || keyOid !== OID.ed25519) return false;
      importAlg = verifyAlg = { name: 'Ed25519' };
    } else {
      return false;
    }
    const key = await crypto.subtle.importKey(
      'spki',
      new Uint8Array(issuer.spki),
      importAlg,
      false,
      ['verify'],
    );
    return await crypto.subtle.verify(
      verifyAlg,
      key,
      new Uint8Array(signature),
      new Uint8Array(cert.tbs),
    );
  } catch {
    return false;
  }
}

type AlgorithmIdentifierParams = Algorithm & Record<string, unknown>;
