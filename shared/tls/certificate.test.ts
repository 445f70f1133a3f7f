/**
 * verifyServerChain on chains the TLS tests do not make: critical extensions it does not act on,
 * issuer names equal as text but not as bytes, certificates it cannot parse.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../asn1/certificate.ts';
import { DerReader, encode, encodeOid, readOne, Tag } from '../asn1/der.ts';
import { ecdsaSignatureToDer } from '../asn1/ecdsa.ts';
import * as x509 from '../x509.ts';
import { createPki, type Issued, type TestPki } from './_test/pki.ts';
import { verifyServerChain } from './certificate.ts';

let pki: TestPki;
beforeAll(async () => {
  pki = await createPki();
});

const now = () => new Date();
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A certificate of `issuer` with `extensions` and basicConstraints (cA = `ca`, critical). */
const issue = async (
  issuer: Issued,
  subject: string,
  ca: boolean,
  extensions: x509.Extension[] = [],
): Promise<Issued> => {
  const keys = (await crypto.subtle.generateKey(EC, false, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    subject,
    issuer: issuer.cert.subject,
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm: EC,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    extensions: [new x509.BasicConstraintsExtension(ca, undefined, true), ...extensions],
  });
  return { cert, der: new Uint8Array(cert.rawData), pem: cert.toString('pem'), keys };
};

const unknown = (critical: boolean) =>
  new x509.Extension('1.3.6.1.4.1.99999.1', critical, new Uint8Array([5, 0]));
const nameConstraints = () =>
  new x509.Extension(
    '2.5.29.30',
    true,
    new Uint8Array(encode(Tag.sequence, encode(0xa0, encode(Tag.sequence, encode(0x82))))),
  );

describe('critical extensions (RFC 5280 §4.2)', () => {
  it('refuses a leaf, an intermediate or a trust anchor with a critical extension it does not act on', async () => {
    const leaf = await issue(pki.intermediate, 'CN=leaf', false, [unknown(true)]);
    await expect(
      verifyServerChain([leaf.der, pki.intermediate.der], [pki.root.der], now()),
    ).rejects.toMatchObject({
      code: 'ERR_TLS_CERTIFICATE_UNTRUSTED',
      alert: 48,
      message: 'certificate CN=leaf has unhandled critical extension 1.3.6.1.4.1.99999.1',
    });

    const intermediate = await issue(pki.root, 'CN=constrained', true, [nameConstraints()]);
    const below = await issue(intermediate, 'CN=below', false);
    await expect(
      verifyServerChain([below.der, intermediate.der], [pki.root.der], now()),
    ).rejects.toMatchObject({
      code: 'ERR_TLS_CERTIFICATE_UNTRUSTED',
      message: 'certificate CN=constrained has unhandled critical extension 2.5.29.30',
    });
    // The same certificate as trust anchor.
    await expect(verifyServerChain([below.der], [intermediate.der], now())).rejects.toMatchObject({
      code: 'ERR_TLS_CERTIFICATE_UNTRUSTED',
      message: /CN=constrained has unhandled critical extension/,
    });
  });

  it('accepts the same extension non-critical, and critical keyUsage and basicConstraints', async () => {
    const leaf = await issue(pki.intermediate, 'CN=leaf', false, [unknown(false)]);
    const verified = await verifyServerChain(
      [leaf.der, pki.intermediate.der],
      [pki.root.der],
      now(),
    );
    expect(verified.subject).toBe('CN=leaf');
    expect(verified.extensions.get('1.3.6.1.4.1.99999.1')?.critical).toBe(false);
  });
});

describe('issuer matching', () => {
  /** `der` with its issuer Name replaced by `issuer` and signed again by `key`. */
  const reissue = async (der: Uint8Array, issuer: Uint8Array, key: CryptoKey) => {
    const outer = new DerReader(readOne(der, 'test', Tag.sequence).value, 'test');
    const tbs = new DerReader(outer.read(Tag.sequence).value, 'test');
    const fields: Uint8Array[] = [];
    while (!tbs.done) fields.push(tbs.read().raw);
    fields[3] = issuer;
    const body = new Uint8Array(encode(Tag.sequence, ...fields));
    const raw = new Uint8Array(
      await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, body),
    );
    return encode(
      Tag.sequence,
      body,
      outer.read().raw,
      encode(Tag.bitString, new Uint8Array([0]), ecdsaSignatureToDer(raw)),
    );
  };
  const cnName = (tag: number, cn: string) =>
    encode(
      Tag.sequence,
      encode(
        Tag.set,
        encode(Tag.sequence, encodeOid('2.5.4.3'), encode(tag, new TextEncoder().encode(cn))),
      ),
    );

  it('compares the issuer and subject Names byte for byte, as Go does', async () => {
    const leaf = await issue(pki.intermediate, 'CN=leaf', false);
    const intermediateKey = pki.intermediate.keys.privateKey;
    const issuerName = parseCertificate(pki.intermediate.der).subjectRaw;
    const cn = 'zt test intermediate';
    expect(issuerName).toEqual(cnName(Tag.printableString, cn));
    // Re-signed unchanged: still verifies (the re-signing itself is sound).
    const same = await reissue(leaf.der, issuerName, intermediateKey);
    await expect(
      verifyServerChain([same, pki.intermediate.der], [pki.root.der], now()),
    ).resolves.toBeDefined();
    // Same text as a UTF8String: equal as text, a different Name for chain building.
    const utf8 = await reissue(leaf.der, cnName(Tag.utf8String, cn), intermediateKey);
    await expect(
      verifyServerChain([utf8, pki.intermediate.der], [pki.root.der], now()),
    ).rejects.toMatchObject({
      code: 'ERR_TLS_CERTIFICATE_UNTRUSTED',
      message: 'no trusted issuer for CN=leaf',
    });
  });
});

describe('unparseable certificates', () => {
  it('refuses them with ERR_TLS_BAD_CERTIFICATE, the DER problem as cause', async () => {
    const der = pki.serverEc.der;
    const trailing = new Uint8Array([...der, 0]);
    await expect(verifyServerChain([trailing], [pki.root.der], now())).rejects.toMatchObject({
      code: 'ERR_TLS_BAD_CERTIFICATE',
      alert: 42,
      message: 'cannot parse server certificate 0',
      cause: { code: 'ERR_DER', message: 'certificate: has 1 trailing bytes' },
    });
    await expect(verifyServerChain([der], [der.subarray(0, 50)], now())).rejects.toMatchObject({
      code: 'ERR_TLS_BAD_CERTIFICATE',
      message: 'cannot parse trusted certificate 0',
    });
  });
});
