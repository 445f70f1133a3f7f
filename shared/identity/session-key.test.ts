/**
 * The session key's CSR and the issued chain's validity, checked with independent tools: OpenSSL,
 * @peculiar/x509 and Node's X509Certificate.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as x509 from '../../fabric/_internal/x509.ts';
import { DerError, DerReader, readOne, Tag } from '../asn1/der.ts';
import { derToPem, pemToDer } from '../asn1/pem.ts';
import { createCsrPem, createSessionKey, parseCertificateChain } from './session-key.ts';

const NOW = 1_796_300_000_000;
afterEach(() => vi.restoreAllMocks());

/** `openssl req -verify -text` on a PEM request: its exit status and its output. */
function opensslReq(pem: string, ...args: string[]) {
  const r = spawnSync('openssl', ['req', '-in', '-', '-noout', ...args], { input: pem });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

describe('createSessionKey', () => {
  it('gives a P-256 pair whose private key cannot be exported', async () => {
    const keys = await createSessionKey();
    expect(keys.privateKey.extractable).toBe(false);
    expect(keys.privateKey.algorithm).toMatchObject({ name: 'ECDSA', namedCurve: 'P-256' });
    await expect(crypto.subtle.exportKey('pkcs8', keys.privateKey)).rejects.toThrow();
    await expect(crypto.subtle.exportKey('jwk', keys.privateKey)).rejects.toThrow();
  });
});

describe('createCsrPem', () => {
  it('OpenSSL verifies the request and reads the subject and the P-256 key', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(NOW);
    const keys = await createSessionKey();
    const pem = await createCsrPem(keys, 'AbC.1-x');
    expect(pem).toMatch(
      /^-----BEGIN CERTIFICATE REQUEST-----\n[\s\S]+\n-----END CERTIFICATE REQUEST-----\n$/,
    );
    const { ok, out } = opensslReq(pem, '-verify', '-text');
    expect(ok).toBe(true);
    expect(out).toContain('self-signature verify OK');
    expect(out).toContain(`Subject: O = OpenZiti, OU = zt-browser, CN = AbC.1-x-${NOW}`);
    expect(out).toContain('Public Key Algorithm: id-ecPublicKey');
    expect(out).toContain('Public-Key: (256 bit)');
    expect(out).toContain('ASN1 OID: prime256v1');
    expect(out).toContain('Signature Algorithm: ecdsa-with-SHA256');
    expect(keys.privateKey.extractable).toBe(false);
  });

  it('OpenSSL rejects the request once a signed byte changes', async () => {
    const pem = await createCsrPem(await createSessionKey(), 'identity');
    const der = pemToDer(pem, 'CERTIFICATE REQUEST');
    const i = Buffer.from(der).indexOf('zt-browser');
    der[i] = 'Z'.charCodeAt(0);
    // OpenSSL 3.0 reports the failure but exits 0, so the message is what is checked.
    const { out } = opensslReq(derToPem(der, 'CERTIFICATE REQUEST'), '-verify');
    expect(out).toContain('self-signature verify failure');
    expect(out).not.toContain('verify OK');
  });

  it('@peculiar/x509 verifies it and reads the subject and the exported public key', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(NOW);
    const keys = await createSessionKey();
    const request = new x509.Pkcs10CertificateRequest(await createCsrPem(keys, 'id-1'));
    expect(await request.verify()).toBe(true);
    expect(request.subject).toBe(`O=OpenZiti, OU=zt-browser, CN=id-1-${NOW}`);
    expect(request.signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-256' } });
    expect(Buffer.from(request.publicKey.rawData)).toEqual(
      Buffer.from(await crypto.subtle.exportKey('spki', keys.publicKey)),
    );
  });

  it('has the DER layout RFC 2986 and RFC 5758 ask for', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(NOW);
    const keys = await createSessionKey();
    const der = pemToDer(await createCsrPem(keys, 'id_2'), 'CERTIFICATE REQUEST');
    const request = new DerReader(readOne(der, 'csr', Tag.sequence).value, 'csr');
    const info = request.enter();
    expect([...info.read(Tag.integer).value]).toEqual([0]);
    const subject = info.enter();
    const values: [number, string][] = [];
    while (!subject.done) {
      const rdn = subject.enter(Tag.set);
      const atv = rdn.enter();
      rdn.end(); // one AttributeTypeAndValue per RDN
      atv.read(Tag.oid);
      const value = atv.read();
      values.push([value.tag, new TextDecoder().decode(value.value)]);
    }
    // PrintableString where the value allows it; `_` does not (X.680 §41.4), so UTF8String.
    expect(values).toEqual([
      [Tag.printableString, 'OpenZiti'],
      [Tag.printableString, 'zt-browser'],
      [Tag.utf8String, `id_2-${NOW}`],
    ]);
    expect(Buffer.from(info.read(Tag.sequence).raw)).toEqual(
      Buffer.from(await crypto.subtle.exportKey('spki', keys.publicKey)),
    );
    expect([...info.read().raw]).toEqual([0xa0, 0x00]); // no attributes
    info.end();
    // ecdsa-with-SHA256 without parameters
    expect(Buffer.from(request.read(Tag.sequence).raw).toString('hex')).toBe(
      '300a06082a8648ce3d040302',
    );
    expect(request.read(Tag.bitString).value[0]).toBe(0);
    request.end();
  });
});

describe('parseCertificateChain', () => {
  let dir: string;
  let ca: string; // v3, UTCTime
  let leaf: string; // v1 (no version field), notAfter past 2049: GeneralizedTime
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'session-key-'));
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    openssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-subj',
      '/CN=ca',
      '-days',
      '2',
      '-out',
      'ca.pem',
    );
    openssl('req', ...ec, '-keyout', 'leaf.key', '-subj', '/CN=leaf', '-out', 'leaf.csr');
    openssl(
      'x509',
      '-req',
      '-in',
      'leaf.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-days',
      '20000',
      '-out',
      'leaf.pem',
    );
    ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
    leaf = readFileSync(join(dir, 'leaf.pem'), 'utf8');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const validity = (pem: string) => {
    const c = new X509Certificate(pem);
    return { notBefore: Date.parse(c.validFrom), notAfter: Date.parse(c.validTo) };
  };

  it("splits the chain and reads the leaf's validity as Node does", () => {
    const parsed = parseCertificateChain(`${leaf}${ca}`);
    expect(parsed.chain).toEqual([leaf.trim(), ca.trim()]);
    expect(parsed).toMatchObject(validity(leaf));
    expect(new Date(parsed.notAfter).getUTCFullYear()).toBeGreaterThan(2049);
    expect(parseCertificateChain(ca)).toMatchObject(validity(ca));
    expect(validity(ca)).not.toEqual(validity(leaf));
  });

  it('throws a DerError saying what is wrong on anything else', () => {
    const fails = (pem: string, message: RegExp) => {
      expect(() => parseCertificateChain(pem)).toThrow(DerError);
      expect(() => parseCertificateChain(pem)).toThrow(message);
    };
    fails('', /no PEM certificate/);
    fails('<html>502 Bad Gateway</html>', /no PEM certificate/);
    fails('-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----', /not base64/);
    const der = pemToDer(leaf);
    fails(derToPem(der.subarray(0, der.length - 1)), /certificate: element at byte 0 runs past/);
    fails(derToPem(Buffer.concat([der, Buffer.from([0])])), /certificate: has 1 trailing bytes/);
    // A certificate request is no certificate.
    const csr = readFileSync(join(dir, 'leaf.csr'), 'utf8').replace(
      /CERTIFICATE REQUEST/g,
      'CERTIFICATE',
    );
    fails(csr, /tbsCertificate signature: tag 0x31 at byte 0, expected 0x6/);
  });
});
