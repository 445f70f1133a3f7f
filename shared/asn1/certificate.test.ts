/**
 * The X.509 parser against real certificates, cross-checked field by field with two independent
 * parsers (Node's OpenSSL-backed `X509Certificate` and @peculiar/x509), and against malformed DER.
 */
import { X509Certificate as NodeX509, verify as nodeVerify } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { concat } from '../tls/_internal/bytes.ts';
import { createPki, type Issued, issueLeaf, type TestPki } from '../tls/_test/pki.ts';
import { parseIpLiteral } from '../tls/certificate.ts';
import * as x509 from '../x509.ts';
import {
  type Certificate,
  parseCertificate,
  unhandledCriticalExtensions,
  verifySignedBy,
} from './certificate.ts';
import { DerError, DerReader, encode, encodeOid, readOne, Tag } from './der.ts';

const bytes = (...b: number[]) => new Uint8Array(b);

/** A certificate split into its TBSCertificate fields, outer algorithm and signature elements. */
interface Parts {
  fields: Uint8Array[];
  algorithm: Uint8Array;
  signature: Uint8Array;
}
const split = (der: Uint8Array): Parts => {
  const outer = new DerReader(readOne(der, 'test', Tag.sequence).value, 'test');
  const tbs = new DerReader(outer.read(Tag.sequence).value, 'test');
  const fields: Uint8Array[] = [];
  while (!tbs.done) fields.push(tbs.read().raw);
  return { fields, algorithm: outer.read().raw, signature: outer.read().raw };
};
const join = (p: Parts) =>
  encode(Tag.sequence, encode(Tag.sequence, ...p.fields), p.algorithm, p.signature);
/** v3 TBSCertificate field positions. */
const F = { version: 0, serial: 1, algorithm: 2, issuer: 3, validity: 4, subject: 5, spki: 6 };
/** `der` with the TBSCertificate field `i` replaced (or removed with `undefined`). */
const withField = (der: Uint8Array, i: number, field: Uint8Array | undefined) => {
  const p = split(der);
  if (field) p.fields[i] = field;
  else p.fields.splice(i, 1);
  return join(p);
};
const extension = (oid: string, critical: boolean, value: Uint8Array) =>
  encode(
    Tag.sequence,
    encodeOid(oid),
    ...(critical ? [encode(Tag.boolean, bytes(0xff))] : []),
    encode(Tag.octetString, value),
  );
const withExtensions = (der: Uint8Array, ...extensions: Uint8Array[]) => {
  const p = split(der);
  p.fields = p.fields.filter((f) => f[0] !== 0xa3);
  p.fields.push(encode(0xa3, encode(Tag.sequence, ...extensions)));
  return join(p);
};

const parseError = (der: Uint8Array) => {
  try {
    parseCertificate(der);
  } catch (e) {
    expect(e).toBeInstanceOf(DerError);
    expect((e as DerError).code).toBe('ERR_DER');
    return (e as DerError).message;
  }
  throw new Error('parsed');
};

let pki: TestPki;
let rich: Issued;
beforeAll(async () => {
  pki = await createPki();
  rich = await issueLeaf(pki.intermediate, {
    subject: 'CN=er1, O=Example Org, OU=Unit, C=US, L=Town, ST=State, DC=example',
    names: [
      { type: 'dns', value: 'er1.example.com' },
      { type: 'dns', value: '*.wild.example.com' },
      { type: 'ip', value: '192.0.2.7' },
      { type: 'ip', value: '2001:db8::1' },
      { type: 'email', value: 'ops@example.com' },
      { type: 'url', value: 'https://example.com/' },
    ],
    eku: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
  });
});

describe('parseCertificate against Node and @peculiar/x509', () => {
  const all = () =>
    [
      pki.root,
      pki.intermediate,
      pki.serverEc,
      pki.serverRsa,
      pki.client,
      pki.otherClient,
      pki.expiredServer,
      rich,
    ].map((issued) => ({
      issued,
      cert: parseCertificate(issued.der),
      node: new NodeX509(issued.der),
    }));

  it('reads subject, validity, SPKI and raw parts as they do', () => {
    for (const { issued, cert, node } of all()) {
      expect(cert.der).toBe(issued.der);
      expect(cert.subject).toBe(issued.cert.subject);
      expect(cert.subject).toBe(node.subject.replace(/\n/g, ', '));
      expect(cert.notBefore).toEqual(issued.cert.notBefore);
      expect(cert.notAfter).toEqual(issued.cert.notAfter);
      expect(cert.notBefore).toEqual(new Date(node.validFrom));
      expect(cert.notAfter).toEqual(new Date(node.validTo));
      expect(cert.spki).toEqual(
        new Uint8Array(node.publicKey.export({ type: 'spki', format: 'der' })),
      );
      expect(cert.spki).toEqual(new Uint8Array(issued.cert.publicKey.rawData));
      expect(cert.signatureAlgorithm).toEqual({ oid: '1.2.840.10045.4.3.2' });
    }
    expect(parseCertificate(pki.serverRsa.der).publicKeyAlgorithm).toEqual({
      oid: '1.2.840.113549.1.1.1',
    });
    expect(parseCertificate(pki.serverEc.der).publicKeyAlgorithm).toEqual({
      oid: '1.2.840.10045.2.1',
      namedCurve: '1.2.840.10045.3.1.7',
    });
  });

  it('reads basicConstraints, extKeyUsage and subjectAltName as they do', () => {
    for (const { issued, cert, node } of all()) {
      expect(cert.basicConstraints?.ca ?? false).toBe(node.ca);
      expect(cert.basicConstraints?.ca).toBe(
        issued.cert.getExtension(x509.BasicConstraintsExtension)?.ca,
      );
      expect(cert.extKeyUsage).toEqual(node.keyUsage);
      expect(cert.extKeyUsage).toEqual(
        issued.cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages.map(String),
      );
      const names =
        issued.cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [];
      expect(cert.subjectAltName?.dnsNames ?? []).toEqual(
        names.filter((n) => n.type === 'dns').map((n) => n.value),
      );
      expect(cert.subjectAltName?.ipAddresses ?? []).toEqual(
        names.filter((n) => n.type === 'ip').map((n) => parseIpLiteral(n.value)),
      );
    }
    const cert = parseCertificate(rich.der);
    expect(cert.subjectAltName).toEqual({
      dnsNames: ['er1.example.com', '*.wild.example.com'],
      ipAddresses: [bytes(192, 0, 2, 7), bytes(0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 1)],
    });
    expect(new NodeX509(rich.der).subjectAltName).toBe(
      'DNS:er1.example.com, DNS:*.wild.example.com, IP Address:192.0.2.7, IP Address:2001:DB8:0:0:0:0:0:1, email:ops@example.com, URI:https://example.com/',
    );
    expect(cert.extKeyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(parseCertificate(pki.root.der).basicConstraints).toEqual({ ca: true });
    expect(parseCertificate(pki.serverEc.der).basicConstraints).toEqual({ ca: false });
    expect(parseCertificate(pki.serverEc.der).extKeyUsage).toBeUndefined();
    expect(parseCertificate(pki.client.der).subjectAltName).toBeUndefined();
  });

  it('keeps every extension by OID with its criticality, and names issuers by raw bytes', () => {
    const root = parseCertificate(pki.root.der);
    const intermediate = parseCertificate(pki.intermediate.der);
    const leaf = parseCertificate(pki.serverEc.der);
    expect([...root.extensions.keys()]).toEqual(['2.5.29.19', '2.5.29.15']);
    expect(root.extensions.get('2.5.29.15')?.critical).toBe(true);
    expect(root.extensions.get('2.5.29.15')?.value).toEqual(
      new Uint8Array(pki.root.cert.getExtension(x509.KeyUsagesExtension)!.value),
    );
    expect(unhandledCriticalExtensions(root)).toEqual([]);
    expect(leaf.issuerRaw).toEqual(intermediate.subjectRaw);
    expect(intermediate.issuerRaw).toEqual(root.subjectRaw);
    expect(root.issuerRaw).toEqual(root.subjectRaw);
    expect(new NodeX509(pki.serverEc.der).checkIssued(new NodeX509(pki.intermediate.der))).toBe(
      true,
    );
    expect(leaf.issuerRaw).not.toEqual(root.subjectRaw);
  });

  it('gives the signed TBSCertificate and signature that Node verifies', () => {
    const leaf = parseCertificate(pki.serverEc.der);
    const issuerKey = new NodeX509(pki.intermediate.der).publicKey;
    expect(nodeVerify('sha256', leaf.tbs, issuerKey, leaf.signature)).toBe(true);
  });
});

describe('verifySignedBy', () => {
  const RSA = { modulusLength: 2048, publicExponent: bytes(1, 0, 1) };
  const kinds: [
    string,
    Algorithm & Record<string, unknown>,
    Algorithm & Record<string, unknown>,
  ][] = [
    [
      'ECDSA P-384 / SHA-384',
      { name: 'ECDSA', namedCurve: 'P-384' },
      { name: 'ECDSA', hash: 'SHA-384' },
    ],
    [
      'ECDSA P-521 / SHA-512',
      { name: 'ECDSA', namedCurve: 'P-521' },
      { name: 'ECDSA', hash: 'SHA-512' },
    ],
    [
      'ECDSA P-256 / SHA-384',
      { name: 'ECDSA', namedCurve: 'P-256' },
      { name: 'ECDSA', hash: 'SHA-384' },
    ],
    [
      'RSA PKCS#1 v1.5 / SHA-256',
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', ...RSA },
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    ],
    [
      'RSA PKCS#1 v1.5 / SHA-384',
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384', ...RSA },
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' },
    ],
    [
      'RSA PKCS#1 v1.5 / SHA-512',
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512', ...RSA },
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512' },
    ],
    [
      'RSA-PSS / SHA-256',
      { name: 'RSA-PSS', hash: 'SHA-256', ...RSA },
      { name: 'RSA-PSS', hash: 'SHA-256', saltLength: 32 },
    ],
    [
      'RSA-PSS / SHA-512',
      { name: 'RSA-PSS', hash: 'SHA-512', ...RSA },
      { name: 'RSA-PSS', hash: 'SHA-512', saltLength: 64 },
    ],
    ['Ed25519', { name: 'Ed25519' }, { name: 'Ed25519' }],
  ];
  const selfSigned = async (keyAlg: Algorithm, signingAlgorithm: Algorithm, name: string) => {
    const keys = (await crypto.subtle.generateKey(keyAlg, false, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      name,
      keys,
      signingAlgorithm,
      notBefore: new Date('2026-01-01T00:00:00Z'),
      notAfter: new Date('2027-01-01T00:00:00Z'),
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
    });
    return new Uint8Array(cert.rawData);
  };

  it.each(kinds)(
    '%s: true for the issuer, false for another key or a changed byte',
    async (_, keyAlg, signAlg) => {
      const der = await selfSigned(keyAlg, signAlg, 'CN=a');
      const other = parseCertificate(await selfSigned(keyAlg, signAlg, 'CN=a'));
      const cert = parseCertificate(der);
      const node = new NodeX509(der);
      expect(node.verify(node.publicKey)).toBe(true);
      expect(await verifySignedBy(cert, cert)).toBe(true);
      expect(await verifySignedBy(cert, other)).toBe(false);
      const flipped = der.slice();
      flipped[flipped.length - 1]! ^= 0x01;
      expect(await verifySignedBy(parseCertificate(flipped), cert)).toBe(false);
      const tbs = new DerReader(readOne(cert.tbs, 'test', Tag.sequence).value, 'test');
      tbs.read();
      const serial = tbs.read(Tag.integer).value;
      const tbsFlipped = der.slice();
      tbsFlipped[serial.byteOffset - der.byteOffset + serial.length - 1]! ^= 0x01;
      expect(await verifySignedBy(parseCertificate(tbsFlipped), cert)).toBe(false);
    },
  );

  it('verifies the EC chain of the test PKI and refuses crossed links', async () => {
    const [root, intermediate, leaf, rsa] = [
      pki.root,
      pki.intermediate,
      pki.serverEc,
      pki.serverRsa,
    ].map((i) => parseCertificate(i.der)) as [Certificate, Certificate, Certificate, Certificate];
    expect(await verifySignedBy(leaf, intermediate)).toBe(true);
    expect(await verifySignedBy(intermediate, root)).toBe(true);
    expect(await verifySignedBy(rsa, root)).toBe(true);
    expect(await verifySignedBy(leaf, root)).toBe(false);
    expect(await verifySignedBy(intermediate, rsa)).toBe(false); // RSA key for an ECDSA signature
  });

  it('is false for an algorithm it does not support (SHA-1) and for parameters that do not belong', async () => {
    const sha1 = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-1' };
    const der = await selfSigned({ ...sha1, ...RSA }, sha1, 'CN=a');
    expect(new NodeX509(der).verify(new NodeX509(der).publicKey)).toBe(true);
    const cert = parseCertificate(der);
    expect(cert.signatureAlgorithm).toEqual({ oid: '1.2.840.113549.1.1.5', params: bytes(5, 0) });
    expect(await verifySignedBy(cert, cert)).toBe(false);
    const ec = parseCertificate(pki.root.der);
    const withParams = {
      ...ec,
      signatureAlgorithm: { oid: ec.signatureAlgorithm.oid, params: bytes(5, 0) },
    };
    expect(await verifySignedBy(ec, ec)).toBe(true);
    expect(await verifySignedBy(withParams, ec)).toBe(false);
  });
});

describe('malformed certificates', () => {
  it('refuses truncation, trailing bytes and non-DER lengths', () => {
    const der = pki.serverEc.der;
    expect(parseError(der.subarray(0, der.length - 1))).toMatch(
      /certificate: element at byte 0 runs past the end/,
    );
    expect(parseError(concat([der, bytes(0)]))).toMatch(/certificate: has 1 trailing bytes/);
    // Indefinite length (BER) for the outer SEQUENCE.
    const body = readOne(der, 'test', Tag.sequence).value;
    expect(parseError(concat([bytes(0x30, 0x80), body, bytes(0, 0)]))).toMatch(/indefinite length/);
    // Length in more bytes than needed.
    expect(
      parseError(concat([bytes(0x30, 0x83, 0, body.length >> 8, body.length & 0xff), body])),
    ).toMatch(/length with a leading zero/);
    const serial = split(der).fields[F.serial]!;
    expect(
      parseError(
        withField(der, F.serial, concat([bytes(0x02, 0x81, serial[1]!), serial.subarray(2)])),
      ),
    ).toMatch(/long form for a short length/);
  });

  it('refuses wrong tags', () => {
    const der = pki.serverEc.der;
    const serial = split(der).fields[F.serial]!.slice();
    serial[0] = Tag.octetString;
    expect(parseError(withField(der, F.serial, serial))).toMatch(
      /tbsCertificate: tag 0x4 .*expected 0x2/,
    );
    const subject = split(der).fields[F.subject]!.slice();
    subject[0] = Tag.set;
    expect(parseError(withField(der, F.subject, subject))).toMatch(/expected 0x30/);
    const p = split(der);
    p.signature = encode(Tag.octetString, p.signature.subarray(2));
    expect(parseError(join(p))).toMatch(/certificate: tag 0x4 .*expected 0x3/);
    expect(parseError(bytes(0x31, 0))).toMatch(/expected 0x30/);
  });

  it('refuses a signatureAlgorithm that differs from the signed one, even in encoding only', () => {
    const p = split(pki.serverEc.der);
    const sha384 = encode(Tag.sequence, encodeOid('1.2.840.10045.4.3.3'));
    expect(parseError(join({ ...p, algorithm: sha384 }))).toMatch(/signatureAlgorithm differs/);
    // Same OID with an explicit NULL: equal in meaning to some decoders, not byte for byte.
    const withNull = encode(Tag.sequence, encodeOid('1.2.840.10045.4.3.2'), bytes(5, 0));
    expect(parseError(join({ ...p, algorithm: withNull }))).toMatch(/signatureAlgorithm differs/);
  });

  it('refuses bad times', () => {
    const der = pki.serverEc.der;
    const validity = (a: string, b: string) =>
      encode(
        Tag.sequence,
        encode(Tag.utcTime, new TextEncoder().encode(a)),
        encode(Tag.utcTime, new TextEncoder().encode(b)),
      );
    expect(
      parseCertificate(withField(der, F.validity, validity('260101000000Z', '491231235959Z')))
        .notAfter,
    ).toEqual(new Date('2049-12-31T23:59:59Z'));
    expect(
      parseError(withField(der, F.validity, validity('260101000000Z', '260230000000Z'))),
    ).toMatch(/not a valid date: 260230000000Z/);
    expect(
      parseError(withField(der, F.validity, validity('2601010000Z', '270101000000Z'))),
    ).toMatch(/not a DER time/);
    expect(
      parseError(withField(der, F.validity, validity('260101000000+0100', '270101000000Z'))),
    ).toMatch(/not a DER time/);
  });

  it('accepts v1 without extensions and v3; refuses v2, an explicit v1 and extensions in v1', () => {
    const der = pki.serverEc.der;
    const p = split(der);
    const v1Fields = p.fields.slice(1, 7);
    const v1Cert = parseCertificate(join({ ...p, fields: v1Fields }));
    expect(v1Cert.extensions.size).toBe(0);
    expect(v1Cert.subject).toBe('CN=localhost');
    expect(parseError(join({ ...p, fields: [...v1Fields, p.fields[7]!] }))).toMatch(
      /extensions in a v1 certificate/,
    );
    const version = (n: number) => encode(0xa0, encode(Tag.integer, bytes(n)));
    expect(parseError(withField(der, F.version, version(1)))).toMatch(/version is not v3/);
    expect(parseError(join({ ...p, fields: [version(0), ...v1Fields] }))).toMatch(
      /version is not v3/,
    );
    expect(parseError(withField(der, F.version, version(3)))).toMatch(/version is not v3/);
  });

  it('refuses duplicate and malformed extensions, accepts an empty list', () => {
    const der = pki.serverEc.der;
    const basic = extension('2.5.29.19', true, encode(Tag.sequence));
    expect(parseError(withExtensions(der, basic, basic))).toMatch(
      /extensions: 2\.5\.29\.19 appears twice/,
    );
    expect(parseCertificate(withExtensions(der)).extensions.size).toBe(0);
    const san = (...names: Uint8Array[]) =>
      extension('2.5.29.17', false, encode(Tag.sequence, ...names));
    expect(parseError(withExtensions(der, san(encode(0x87, bytes(1, 2, 3, 4, 5)))))).toMatch(
      /iPAddress of 5 bytes/,
    );
    expect(parseError(withExtensions(der, san()))).toMatch(/subjectAltName: empty/);
    expect(parseError(withExtensions(der, san(encode(Tag.utf8String, bytes(0x61)))))).toMatch(
      /not a GeneralName/,
    );
    expect(
      parseError(
        withExtensions(der, extension('2.5.29.19', false, encode(Tag.sequence, bytes(1, 1, 1)))),
      ),
    ).toMatch(/BOOLEAN not DER/);
    expect(
      parseError(
        withExtensions(der, extension('2.5.29.37', false, encode(Tag.sequence, bytes(4, 0)))),
      ),
    ).toMatch(/extKeyUsage: tag 0x4/);
    const critical = encode(
      Tag.sequence,
      encodeOid('1.2.3.4'),
      encode(Tag.boolean, bytes(1)),
      encode(Tag.octetString),
    );
    expect(parseError(withExtensions(der, critical))).toMatch(/BOOLEAN not DER/);
  });

  it('decodes the extensions it acts on and keeps the others', () => {
    const der = pki.serverEc.der;
    const otherName = encode(
      0xa0,
      encodeOid('1.2.3'),
      encode(0xa0, encode(Tag.utf8String, bytes(0x78))),
    );
    const cert = parseCertificate(
      withExtensions(
        der,
        extension(
          '2.5.29.19',
          false,
          encode(Tag.sequence, encode(Tag.boolean, bytes(0xff)), encode(Tag.integer, bytes(0))),
        ),
        extension(
          '2.5.29.17',
          true,
          encode(Tag.sequence, otherName, encode(0x82, bytes(0x61)), encode(0x86, bytes(0x75))),
        ),
        extension('2.5.29.37', false, encode(Tag.sequence)),
        extension('1.2.3.4', true, bytes(5, 0)),
        extension('1.2.3.5', false, bytes(1, 2)),
      ),
    );
    expect(cert.basicConstraints).toEqual({ ca: true });
    expect(cert.subjectAltName).toEqual({ dnsNames: ['a'], ipAddresses: [] });
    expect(cert.extKeyUsage).toEqual([]);
    expect(cert.extensions.get('1.2.3.4')).toEqual({ critical: true, value: bytes(5, 0) });
    expect(cert.extensions.get('1.2.3.5')).toEqual({ critical: false, value: bytes(1, 2) });
    expect(unhandledCriticalExtensions(cert)).toEqual(['1.2.3.4']);
    // basicConstraints without cA: not a CA.
    const plain = parseCertificate(
      withExtensions(der, extension('2.5.29.19', false, encode(Tag.sequence))),
    );
    expect(plain.basicConstraints).toEqual({ ca: false });
  });

  it('writes names readably: multi-valued RDNs, other string types, unknown attributes in hex', () => {
    const der = pki.serverEc.der;
    const attr = (oid: string, value: Uint8Array) => encode(Tag.sequence, encodeOid(oid), value);
    const name = encode(
      Tag.sequence,
      encode(
        Tag.set,
        attr('2.5.4.3', encode(0x1e, bytes(0, 0x68, 0, 0xe9))),
        attr('2.5.4.10', encode(Tag.printableString, bytes(0x6f))),
      ),
      encode(Tag.set, attr('1.2.3.4', encode(Tag.octetString, bytes(0xab)))),
      encode(Tag.set, attr('2.5.4.6', encode(Tag.utf8String, new TextEncoder().encode('ü')))),
    );
    expect(parseCertificate(withField(der, F.subject, name)).subject).toBe(
      'CN=hé+O=o, 1.2.3.4=#0401ab, C=ü',
    );
    const empty = encode(Tag.sequence, encode(Tag.set));
    expect(parseError(withField(der, F.subject, empty))).toMatch(
      /subject: ends where an element was expected/,
    );
    const badUtf8 = encode(
      Tag.sequence,
      encode(Tag.set, attr('2.5.4.3', encode(Tag.utf8String, bytes(0xff)))),
    );
    expect(parseError(withField(der, F.subject, badUtf8))).toMatch(/UTF8String not UTF-8/);
  });

  it('refuses an EC key without a named curve and unused bits in the signature', () => {
    const der = pki.serverEc.der;
    const spki = new DerReader(
      readOne(split(der).fields[F.spki]!, 'test', Tag.sequence).value,
      'test',
    );
    spki.read();
    const key = spki.read().raw;
    const noCurve = encode(Tag.sequence, encode(Tag.sequence, encodeOid('1.2.840.10045.2.1')), key);
    expect(parseError(withField(der, F.spki, noCurve))).toMatch(/EC key without a curve/);
    const p = split(der);
    const sig = p.signature.slice();
    sig[2] = 1; // unused-bits count
    expect(parseError(join({ ...p, signature: sig }))).toMatch(/unused bits/);
  });
});
