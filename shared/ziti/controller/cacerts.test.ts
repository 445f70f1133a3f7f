/**
 * The CA bundle decoder against bundles built by independent producers: OpenSSL's `crl2pkcs7` and
 * the dev fabric's controller (@peculiar/x509). Each certificate must come back byte for byte.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caCertsPkcs7Base64, loadOrCreatePki } from '../../../fabric/pki.ts';
import { DerError, DerReader, encode, encodeOid, readOne, Tag } from '../../asn1/der.ts';
import { pemToDer } from '../../asn1/pem.ts';
import { pkcs7CertificatesToPem } from './cacerts.ts';

let dir: string;
const pems: string[] = [];
let bundle: Buffer; // openssl crl2pkcs7 output, DER

const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
const base64 = (der: Uint8Array) =>
  `${Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')}\n`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cacerts-'));
  // Different key types and sizes, and a notAfter past 2049 (GeneralizedTime).
  const keys: [string, string[], string][] = [
    ['ec-root', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], '1'],
    ['rsa-ca', ['-newkey', 'rsa:2048'], '30'],
    ['long-lived', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'], '20000'],
  ];
  for (const [name, key, days] of keys) {
    const out = join(dir, `${name}.pem`);
    openssl(
      'req',
      '-x509',
      ...key,
      '-nodes',
      '-keyout',
      join(dir, `${name}.key`),
      '-days',
      days,
      '-subj',
      `/CN=${name}`,
      '-out',
      out,
    );
    pems.push(readFileSync(out, 'utf8'));
  }
  bundle = openssl(
    'crl2pkcs7',
    '-nocrl',
    ...keys.flatMap(([name]) => ['-certfile', join(dir, `${name}.pem`)]),
    '-outform',
    'DER',
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The parts of the bundle's SignedData, for building variants of it. */
function signedDataParts(der: Uint8Array) {
  const info = new DerReader(readOne(der, 'test', Tag.sequence).value, 'test');
  info.read(Tag.oid);
  const signed = info.enter(0xa0).enter(Tag.sequence);
  return {
    version: signed.read(Tag.integer).raw,
    digestAlgorithms: signed.read(Tag.set).raw,
    encapContentInfo: signed.read(Tag.sequence).raw,
    certificates: signed.optional(0xa0),
    crls: signed.optional(0xa1),
    signerInfos: signed.read(Tag.set).raw,
  };
}

/** The bundle's SignedData rebuilt: `middle` where its certificates and CRLs were, then `tail`. */
const signedData = (
  p: ReturnType<typeof signedDataParts>,
  middle: Uint8Array[],
  tail: Uint8Array[] = [p.signerInfos],
) => encode(Tag.sequence, p.version, p.digestAlgorithms, p.encapContentInfo, ...middle, ...tail);

const contentInfo = (signedData: Uint8Array, type = '1.2.840.113549.1.7.2') =>
  encode(Tag.sequence, encodeOid(type), encode(0xa0, signedData));

describe('pkcs7CertificatesToPem', () => {
  it("returns OpenSSL's crl2pkcs7 certificates byte for byte, in order", () => {
    const out = pkcs7CertificatesToPem(base64(bundle));
    expect(out).toEqual(pems); // same PEM layout as OpenSSL's
    for (const [i, pem] of out.entries())
      expect(Buffer.from(pemToDer(pem))).toEqual(new X509Certificate(pems[i]!).raw);
    // Any line length, or none.
    expect(pkcs7CertificatesToPem(bundle.toString('base64'))).toEqual(pems);
  });

  it("returns the dev fabric controller's bundle byte for byte", async () => {
    const pki = await loadOrCreatePki(join(dir, 'fabric'), {
      trustDomain: 'cacerts.test',
      routerHosts: ['localhost'],
    });
    const out = pkcs7CertificatesToPem(caCertsPkcs7Base64(pki));
    expect(out.map((pem) => pemToDer(pem))).toEqual([
      new Uint8Array(pki.intermediate.rawData),
      new Uint8Array(pki.root.rawData),
    ]);
  });

  it('an empty bundle has no certificates', () => {
    expect(
      pkcs7CertificatesToPem(base64(openssl('crl2pkcs7', '-nocrl', '-outform', 'DER'))),
    ).toEqual([]);
  });

  it('skips other certificate choices and CRLs', () => {
    const p = signedDataParts(bundle);
    const attributeCert = encode(0xa2, encode(Tag.sequence, encodeOid('1.2.3')));
    const certs = encode(0xa0, attributeCert, p.certificates!.value, attributeCert);
    const crls = encode(0xa1, encode(Tag.sequence));
    const der = contentInfo(signedData(p, [certs, crls]));
    expect(pkcs7CertificatesToPem(base64(der))).toEqual(pems);
  });

  const rejects = (der: Uint8Array, message: RegExp) => {
    let err: unknown;
    try {
      pkcs7CertificatesToPem(base64(der));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DerError);
    expect(err).toMatchObject({ code: 'ERR_DER', message: expect.stringMatching(message) });
  };

  it('rejects a truncated bundle', () => {
    rejects(
      bundle.subarray(0, bundle.length - 1),
      /ContentInfo: element at byte 0 runs past the end/,
    );
    rejects(bundle.subarray(0, 1), /ContentInfo: ends inside the length/);
    rejects(new Uint8Array(0), /ContentInfo: ends where an element was expected/);
  });

  it('rejects trailing bytes, after the bundle or inside it', () => {
    rejects(Buffer.concat([bundle, Buffer.from([0])]), /ContentInfo: has 1 trailing bytes/);
    const p = signedDataParts(bundle);
    rejects(
      contentInfo(signedData(p, [p.certificates!.raw], [p.signerInfos, new Uint8Array([5, 0])])),
      /SignedData: has 2 trailing bytes/,
    );
  });

  it('rejects a content type other than signedData', () => {
    const p = signedDataParts(bundle);
    const signed = signedData(p, [p.certificates!.raw]);
    rejects(
      contentInfo(signed, '1.2.840.113549.1.7.1'),
      /content type 1\.2\.840\.113549\.1\.7\.1 is not signedData/,
    );
    expect(pkcs7CertificatesToPem(base64(contentInfo(signed)))).toEqual(pems);
  });

  it('rejects indefinite lengths (BER, not DER)', () => {
    const indefinite = Buffer.concat([
      Buffer.from([0x30, 0x80]),
      readOne(bundle, 't').value,
      Buffer.from([0, 0]),
    ]);
    rejects(indefinite, /ContentInfo: indefinite length at byte 0/);
  });

  it('rejects a SignedData without signerInfos and a certificate that is not one element', () => {
    const p = signedDataParts(bundle);
    rejects(
      contentInfo(signedData(p, [p.certificates!.raw], [])),
      /SignedData: ends where an element was expected/,
    );
    // A certificate SEQUENCE whose length runs past the certificates set.
    const broken = encode(0xa0, new Uint8Array([0x30, 0x05, 0x02, 0x01, 0x00]));
    rejects(
      contentInfo(signedData(p, [broken])),
      /certificates: element at byte 0 runs past the end/,
    );
  });

  it('rejects text that is not base64', () => {
    expect(() => pkcs7CertificatesToPem('<html>not found</html>')).toThrow(/not base64/);
  });
});
