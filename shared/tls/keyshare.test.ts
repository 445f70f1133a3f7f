/**
 * An engine whose WebCrypto has no X25519 offers P-256 alone (shares and supported_groups) and still
 * connects; this file's module state starts fresh, so the refusal is the first X25519 attempt.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ByteReader } from './_internal/bytes.ts';
import { connectNode, type Listening, startNodeTlsServer } from './_test/node-peer.ts';
import { createPki, type TestPki } from './_test/pki.ts';
import { ExtensionType, NamedGroup } from './constants.ts';
import { connectTls } from './index.ts';
import { generateKeyShare, x25519Available } from './keyshare.ts';

let pki: TestPki;
let server: Listening;

beforeAll(async () => {
  pki = await createPki();
  server = await startNodeTlsServer({
    key: pki.serverEc.keyPem!,
    cert: pki.serverEc.chainPem,
    ecdhCurve: 'X25519:P-256',
  });
});
afterAll(async () => {
  vi.restoreAllMocks();
  await server.close();
});

/** The groups of a ClientHello record's supported_groups and key_share extensions. */
function helloGroups(record: Uint8Array): { supported: number[]; shares: number[] } {
  const r = new ByteReader(record.subarray(5 + 4), 'ClientHello');
  r.u16();
  r.bytes(32);
  r.vector(1);
  r.vector(2);
  r.vector(1);
  const ext = r.sub(2);
  const out = { supported: [] as number[], shares: [] as number[] };
  while (ext.remaining > 0) {
    const type = ext.u16();
    const data = new ByteReader(ext.vector(2), 'extension');
    if (type === ExtensionType.supportedGroups) {
      const list = data.sub(2);
      while (list.remaining > 0) out.supported.push(list.u16());
    } else if (type === ExtensionType.keyShare) {
      const list = data.sub(2);
      while (list.remaining > 0) {
        out.shares.push(list.u16());
        list.vector(2);
      }
    }
  }
  return out;
}

describe('without WebCrypto X25519', () => {
  it('offers only P-256 and completes the handshake with it', async () => {
    const generateKey = crypto.subtle.generateKey.bind(crypto.subtle);
    vi.spyOn(crypto.subtle, 'generateKey').mockImplementation(((
      algorithm: AlgorithmIdentifier,
      ...rest: [boolean, KeyUsage[]]
    ) =>
      (typeof algorithm === 'string' ? algorithm : algorithm.name) === 'X25519'
        ? Promise.reject(new DOMException('Unrecognized name', 'NotSupportedError'))
        : generateKey(algorithm, ...rest)) as typeof crypto.subtle.generateKey);

    expect(await generateKeyShare('x25519')).toBeUndefined();
    expect(x25519Available()).toBe(false);
    expect((await generateKeyShare('secp256r1'))?.group).toBe('secp256r1');

    const transport = await connectNode(server.port);
    const written: Uint8Array[] = [];
    const writer = transport.writable.getWriter();
    const conn = await connectTls(
      {
        readable: transport.readable,
        writable: new WritableStream({
          write: (chunk) => {
            written.push(chunk.slice());
            return writer.write(chunk);
          },
          close: () => writer.close(),
          abort: (reason) => writer.abort(reason),
        }),
      },
      { trustedCertificates: [pki.root.der], acceptedServerNames: ['localhost'] },
    );
    expect(conn.group).toBe('secp256r1');
    expect(helloGroups(written[0]!)).toEqual({
      supported: [NamedGroup.secp256r1],
      shares: [NamedGroup.secp256r1],
    });
    await conn.close();
  });

  it('refuses a handshake asked to offer only x25519', async () => {
    await expect(
      connectTls(await connectNode(server.port), {
        trustedCertificates: [pki.root.der],
        acceptedServerNames: ['localhost'],
        keyShares: ['x25519'],
      }),
    ).rejects.toMatchObject({ code: 'ERR_TLS_INVALID_OPTIONS' });
  });
});
