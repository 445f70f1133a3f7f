/**
 * Test helper: CSRs shaped like the ones real clients send. `browzerStyleCsr` reproduces what
 * OpenZiti's own browser client sends (§11): an EC P-521 key signed with ecdsa-with-SHA256, an
 * empty subject and version field 2 (PKCS#10 requires 0), no extensions.
 */
import { KeyObject, sign, webcrypto } from 'node:crypto';
import { Attributes, CertificationRequest, CertificationRequestInfo } from '@peculiar/asn1-csr';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Name } from '@peculiar/asn1-x509';
import * as x509 from '../_internal/x509.ts';

export interface CsrAndKey {
  csrPem: string;
  keyPem: string;
  privateKey: CryptoKey;
}

async function keyPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/** A conventional PKCS#10 CSR (P-256, version 0, with a subject). */
export async function standardCsr(subject = 'CN=test-client'): Promise<CsrAndKey> {
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subject,
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
  });
  return {
    csrPem: csr.toString('pem'),
    keyPem: await keyPem(keys.privateKey),
    privateKey: keys.privateKey,
  };
}

/** The browser client's CSR: P-521, empty subject, version 2, signed ecdsa-with-SHA256. */
export async function browzerStyleCsr(
  opts: { corruptSignature?: boolean } = {},
): Promise<CsrAndKey> {
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-521' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const base = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=x',
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
  });
  const req = AsnConvert.parse(base.rawData, CertificationRequest);
  const info = new CertificationRequestInfo({
    version: 2,
    subject: new Name(),
    subjectPKInfo: req.certificationRequestInfo.subjectPKInfo,
    attributes: new Attributes(),
  });
  const infoDer = new Uint8Array(AsnConvert.serialize(info));
  const signature = sign('sha256', infoDer, {
    key: KeyObject.from(keys.privateKey),
    dsaEncoding: 'der',
  });
  if (opts.corruptSignature) signature[signature.length - 1]! ^= 0x01;
  const out = new CertificationRequest({
    certificationRequestInfo: info,
    signatureAlgorithm: req.signatureAlgorithm,
    signature: new Uint8Array(signature).buffer,
  });
  const pem = x509.PemConverter.encode(AsnConvert.serialize(out), 'CERTIFICATE REQUEST');
  return { csrPem: pem, keyPem: await keyPem(keys.privateKey), privateKey: keys.privateKey };
}
