/**
 * Against a Go crypto/tls server (what OpenZiti routers run) with RequireAndVerifyClientCert.
 *
 * The refusal alerts asserted below are those of Go 1.21 and later (crypto/tls
 * processCertsFromClient): unknown_ca (48) for a client certificate from a CA not in ClientCAs,
 * certificate_expired (45) for an expired one, certificate_required (116) for none under TLS 1.3,
 * bad_certificate (42) for any other verification failure. Go 1.20 and older sent
 * bad_certificate for all of these (golang/go#52113, Go 1.21 release notes), so an older `go`
 * first in PATH is refused up front rather than producing misleading alert mismatches.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempFiles } from './_test/files.ts';
import { connectNode } from './_test/node-peer.ts';
import { createPki, type TestPki } from './_test/pki.ts';
import type { CipherSuiteName } from './constants.ts';
import {
  connectTls,
  TlsClientCertificateRefusedError,
  type TlsClientOptions,
  TlsError,
} from './index.ts';

let pki: TestPki;
const files = tempFiles('zt-tls-go');
let binary = '';
const children: ChildProcessWithoutNullStreams[] = [];

beforeAll(async () => {
  pki = await createPki();
  binary = join(files.dir, 'goserver');
  const goVersion = execFileSync('go', ['env', 'GOVERSION'], { encoding: 'utf8' }).trim();
  const [, major, minor] = goVersion.match(/^go(\d+)\.(\d+)/) ?? [];
  if (!(Number(major) > 1 || (Number(major) === 1 && Number(minor) >= 21))) {
    throw new Error(`go-server tests need Go 1.21 or later first in PATH, found ${goVersion}`);
  }
  // Standard library only, so this builds offline; caches stay in the temp dir.
  execFileSync('go', ['build', '-o', binary, 'main.go'], {
    cwd: join(import.meta.dirname, '_test', 'goserver'),
    env: {
      ...process.env,
      GOFLAGS: '-mod=mod',
      GO111MODULE: 'off',
      GOCACHE: join(files.dir, 'gocache'),
      GOPATH: join(files.dir, 'gopath'),
    },
    stdio: 'pipe',
  });
}, 120_000);

afterAll(() => {
  for (const c of children) c.kill();
  files.cleanup();
});

async function startGoServer(kind: 'EC' | 'RSA', curves: string, extra: string[] = []) {
  const cert = kind === 'EC' ? pki.serverEc : pki.serverRsa;
  const child = spawn(binary, [
    '-cert',
    files.write(`${kind}-chain.pem`, kind === 'EC' ? pki.serverEc.chainPem : cert.pem),
    '-key',
    files.write(`${kind}.key`, cert.keyPem!),
    '-clientca',
    files.write('root.pem', pki.root.pem),
    '-curves',
    curves,
    ...extra,
  ]);
  children.push(child);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d) => {
    out += d;
  });
  const port = await new Promise<number>((resolve, reject) => {
    const started = Date.now();
    const check = () => {
      const m = out.match(/LISTEN (\d+)/);
      if (m) return resolve(Number(m[1]));
      if (Date.now() - started > 5000) return reject(new Error(`go server did not start: ${out}`));
      setTimeout(check, 10);
    };
    check();
  });
  return { port, output: () => out };
}

const options = (extra: Partial<TlsClientOptions> = {}): TlsClientOptions => ({
  serverName: 'localhost',
  trustedCertificates: [pki.root.der],
  clientCertificateChain: [pki.client.der],
  clientKey: pki.client.keys.privateKey,
  ...extra,
});

async function roundTrip(
  conn: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> },
  size: number,
) {
  const payload = new Uint8Array(randomBytes(size));
  const writer = conn.writable.getWriter();
  const reader = conn.readable.getReader();
  await writer.write(payload);
  const got = new Uint8Array(size);
  let n = 0;
  while (n < size) {
    const { value, done } = await reader.read();
    if (done) throw new Error('ended early');
    got.set(value, n);
    n += value.length;
  }
  writer.releaseLock();
  reader.releaseLock();
  expect(got).toEqual(payload);
}

const suites: CipherSuiteName[] = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
];

describe('Go crypto/tls server, RequireAndVerifyClientCert', () => {
  for (const kind of ['EC', 'RSA'] as const) {
    for (const [curves, group] of [
      ['X25519', 'x25519'],
      ['P256', 'secp256r1'],
    ] as const) {
      it(`${kind} certificate, ${group}, every suite`, async () => {
        const server = await startGoServer(kind, curves);
        for (const suite of suites) {
          const conn = await connectTls(
            await connectNode(server.port),
            options({ cipherSuites: [suite] }),
          );
          expect(conn.cipherSuite).toBe(suite);
          expect(conn.group).toBe(group);
          await roundTrip(conn, 100_000);
          await conn.close();
        }
        expect(server.output()).not.toMatch(/ERROR/);
        expect(server.output().match(/CONNECTED \S+ 1/g)).toHaveLength(3);
      });
    }
  }

  it('answers a HelloRetryRequest from Go (share for P-256 only, Go wants X25519)', async () => {
    const server = await startGoServer('EC', 'X25519');
    const conn = await connectTls(
      await connectNode(server.port),
      options({ keyShares: ['secp256r1'] }),
    );
    expect(conn.group).toBe('x25519');
    await roundTrip(conn, 10_000);
    await conn.close();
  });

  it('rejects a CertificateVerify with a bad signature (ERR_TLS_BAD_SIGNATURE)', async () => {
    const server = await startGoServer('EC', 'X25519', ['-badsig']);
    const err = await connectTls(await connectNode(server.port), options()).catch((e) => e);
    expect(err).toBeInstanceOf(TlsError);
    expect(err).toMatchObject({ code: 'ERR_TLS_BAD_SIGNATURE', alert: 51 });
  });

  it('reports a refused client certificate (ERR_TLS_CLIENT_CERTIFICATE_REFUSED)', async () => {
    const server = await startGoServer('EC', 'X25519');
    const conn = await connectTls(
      await connectNode(server.port),
      options({
        clientCertificateChain: [pki.otherClient.der],
        clientKey: pki.otherClient.keys.privateKey,
      }),
    );
    const err = await conn.readable
      .getReader()
      .read()
      .catch((e) => e);
    // Go sends unknown_ca for a chain it cannot anchor in ClientCAs (otherClient is issued by
    // otherRoot); bad_certificate is only for other verification failures.
    expect(err).toBeInstanceOf(TlsClientCertificateRefusedError);
    expect(err).toMatchObject({ code: 'ERR_TLS_CLIENT_CERTIFICATE_REFUSED', alert: 48 });
    expect(err.message).toBe('server refused the client certificate: unknownCa (48)');
  });

  it('reports a missing client certificate (certificate_required)', async () => {
    const server = await startGoServer('EC', 'X25519');
    const conn = await connectTls(
      await connectNode(server.port),
      options({ clientCertificateChain: [], clientKey: undefined }),
    );
    const err = await conn.readable
      .getReader()
      .read()
      .catch((e) => e);
    // TLS 1.3 with no client certificate: Go sends certificate_required (RFC 8446 §4.4.2.4).
    expect(err).toBeInstanceOf(TlsClientCertificateRefusedError);
    expect(err).toMatchObject({ code: 'ERR_TLS_CLIENT_CERTIFICATE_REFUSED', alert: 116 });
    expect(err.message).toBe('server refused the client certificate: certificateRequired (116)');
  });
});
