import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as x509 from './_internal/x509.ts';
import {
  CsrError,
  caCertsPkcs7Base64,
  certFingerprint,
  type FabricPki,
  issueIdentityCert,
  loadOrCreatePki,
  signCsr,
} from './pki.ts';
import { browzerStyleCsr, standardCsr } from './testing/csr.ts';

describe('fabric PKI', () => {
  let dir = '';
  let pki: FabricPki;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'zt-pki-'));
    pki = await loadOrCreatePki(dir, {
      trustDomain: 'zt-test',
      routerHosts: ['localhost', '127.0.0.1'],
    });
  });

  it('keeps the CA across restarts and re-issues the router cert when its hosts change', async () => {
    const again = await loadOrCreatePki(dir, {
      trustDomain: 'zt-test',
      routerHosts: ['127.0.0.1', 'localhost'],
    });
    expect(again.root.serialNumber).toBe(pki.root.serialNumber);
    expect(again.router.cert.serialNumber).toBe(pki.router.cert.serialNumber);
    expect(again.jwtKey.kid).toBe(pki.jwtKey.kid);
    const moved = await loadOrCreatePki(dir, {
      trustDomain: 'zt-test',
      routerHosts: ['er.example'],
    });
    expect(moved.root.serialNumber).toBe(pki.root.serialNumber);
    expect(moved.router.cert.serialNumber).not.toBe(pki.router.cert.serialNumber);
    const san = moved.router.cert.getExtension(x509.SubjectAlternativeNameExtension);
    expect(san?.names.items.map((n) => n.value)).toEqual(['er.example']);
    // Put the original back for the other tests.
    await loadOrCreatePki(dir, { trustDomain: 'zt-test', routerHosts: ['localhost', '127.0.0.1'] });
  });

  it('builds a chain that OpenSSL verifies, for the router and an identity', async () => {
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, readFileSync(join(dir, 'root.cert.pem')));
    const untrusted = join(dir, 'inter.pem');
    writeFileSync(untrusted, readFileSync(join(dir, 'intermediate.cert.pem')));
    const leaf = join(dir, 'leaf.pem');
    writeFileSync(leaf, pki.router.certPem);
    const out = execFileSync('openssl', [
      'verify',
      '-CAfile',
      ca,
      '-untrusted',
      untrusted,
      leaf,
    ]).toString();
    expect(out).toContain('OK');
    const id = await issueIdentityCert(pki, 'id-x');
    writeFileSync(leaf, id.certPem);
    expect(
      execFileSync('openssl', ['verify', '-CAfile', ca, '-untrusted', untrusted, leaf]).toString(),
    ).toContain('OK');
  });

  it('signs the browser client CSR (P-521, empty subject, version 2) with a SPIFFE SAN', async () => {
    const { csrPem } = await browzerStyleCsr();
    const cert = await signCsr(pki, csrPem, {
      spiffeId: 'spiffe://zt-test/identity/id-a/apiSession/s1/apiSessionCertificate/c1',
      subject: 'CN=id-a',
      validitySeconds: 60,
    });
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    expect(san?.names.items[0]?.value).toBe(
      'spiffe://zt-test/identity/id-a/apiSession/s1/apiSessionCertificate/c1',
    );
    expect(cert.notAfter.getTime() - Date.now()).toBeLessThanOrEqual(60_000);
    expect((cert.publicKey.algorithm as EcKeyAlgorithm).namedCurve).toBe('P-521');
    expect(await cert.verify({ publicKey: pki.intermediate.publicKey, signatureOnly: true })).toBe(
      true,
    );
  });

  it('signs a standard CSR and rejects garbage or a bad signature', async () => {
    const { csrPem } = await standardCsr();
    const signed = await signCsr(pki, csrPem, {
      spiffeId: 'spiffe://x/identity/a',
      subject: 'CN=a',
      validitySeconds: 5,
    });
    expect(signed.subject).toBe('CN=a');
    expect(signed.issuer).toBe(pki.intermediate.subject);
    await expect(
      signCsr(pki, 'not a csr', {
        spiffeId: 'spiffe://x/identity/a',
        subject: 'CN=a',
        validitySeconds: 5,
      }),
    ).rejects.toBeInstanceOf(CsrError);
    const bad = await browzerStyleCsr({ corruptSignature: true });
    await expect(
      signCsr(pki, bad.csrPem, {
        spiffeId: 'spiffe://x/identity/a',
        subject: 'CN=a',
        validitySeconds: 5,
      }),
    ).rejects.toThrow(/signature/);
  });

  it('serves the CAs as a base64 PKCS#7 that OpenSSL reads', () => {
    const b64 = caCertsPkcs7Base64(pki);
    expect(b64.split('\n').every((l) => l.length <= 64)).toBe(true);
    const der = join(dir, 'p7.der');
    writeFileSync(der, Buffer.from(b64, 'base64'));
    const out = execFileSync('openssl', [
      'pkcs7',
      '-inform',
      'DER',
      '-in',
      der,
      '-print_certs',
    ]).toString();
    expect(out).toContain('zt-test root CA');
    expect(out).toContain('zt-test intermediate CA');
  });

  it('fingerprints as lowercase hex SHA-1 of the DER', () => {
    const fp = certFingerprint(pki.router.cert);
    const der = join(dir, 'r.der');
    writeFileSync(der, new Uint8Array(pki.router.cert.rawData));
    const out = execFileSync('openssl', [
      'x509',
      '-inform',
      'DER',
      '-in',
      der,
      '-noout',
      '-fingerprint',
      '-sha1',
    ])
      .toString()
      .split('=')[1]!
      .trim()
      .replaceAll(':', '')
      .toLowerCase();
    expect(fp).toBe(out);
  });
});

describe('fabric PKI shared by processes starting together', () => {
  it('creates one consistent CA when several loaders race on a fresh directory', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'zt-pki-race-'));
    const all = await Promise.all(
      Array.from({ length: 4 }, () =>
        loadOrCreatePki(fresh, { trustDomain: 'zt-race', routerHosts: ['localhost'] }),
      ),
    );
    expect(new Set(all.map((p) => p.root.serialNumber)).size).toBe(1);
    expect(new Set(all.map((p) => p.router.cert.serialNumber)).size).toBe(1);
    for (const p of all) {
      expect(
        await p.router.cert.verify({ publicKey: p.intermediate.publicKey, signatureOnly: true }),
      ).toBe(true);
    }
  });
});
