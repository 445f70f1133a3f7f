/**
 * Who the server is: its certificate's purpose (extendedKeyUsage serverAuth) and name
 * (subjectAltName, RFC 6125), checked against a Node (OpenSSL) server presenting each certificate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Certificate, parseCertificate } from '../asn1/certificate.ts';
import { ExtendedKeyUsage } from '../x509.ts';
import { connectNode, type Listening, startNodeTlsServer } from './_test/node-peer.ts';
import { createPki, type Issued, issueLeaf, type TestPki } from './_test/pki.ts';
import { matchesServerName, parseIpLiteral } from './certificate.ts';
import { connectTls, type TlsClientOptions, TlsError } from './index.ts';

let pki: TestPki;
/** A person's client certificate of the same CA: clientAuth only, as OpenZiti issues them. */
let clientOnly: Issued;
/** A router certificate as OpenZiti enrolls one: serverAuth, SANs localhost and 127.0.0.1. */
let router: Issued;
/** The same SANs, serverAuth and clientAuth (the dev fabric's router). */
let routerBoth: Issued;
/** serverAuth, for another host only. */
let otherRouter: Issued;
const servers: Listening[] = [];
const sni: (string | false | null)[] = [];

beforeAll(async () => {
  pki = await createPki();
  const sans = [
    { type: 'dns' as const, value: 'localhost' },
    { type: 'ip' as const, value: '127.0.0.1' },
  ];
  clientOnly = await issueLeaf(pki.intermediate, {
    subject: 'CN=api-session',
    names: sans,
    eku: [ExtendedKeyUsage.clientAuth],
  });
  router = await issueLeaf(pki.intermediate, {
    subject: 'CN=er1',
    names: sans,
    eku: [ExtendedKeyUsage.serverAuth],
  });
  routerBoth = await issueLeaf(pki.intermediate, {
    subject: 'CN=er1 both',
    names: sans,
    eku: [ExtendedKeyUsage.serverAuth, ExtendedKeyUsage.clientAuth],
  });
  otherRouter = await issueLeaf(pki.intermediate, {
    subject: 'CN=er2',
    names: [{ type: 'dns', value: 'er2.example.com' }],
    eku: [ExtendedKeyUsage.serverAuth],
  });
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const serve = async (leaf: Issued) => {
  const s = await startNodeTlsServer({
    key: leaf.keyPem!,
    cert: leaf.pem + pki.intermediate.pem,
    clientCa: pki.root.pem,
    onSecureConnection: (socket) => {
      sni.push(socket.servername);
      socket.pipe(socket);
    },
  });
  servers.push(s);
  return s.port;
};

const options = (extra: Partial<TlsClientOptions>): TlsClientOptions => ({
  trustedCertificates: [pki.root.der],
  clientCertificateChain: [pki.client.der],
  clientKey: pki.client.keys.privateKey,
  ...extra,
});

const connect = async (port: number, extra: Partial<TlsClientOptions>) =>
  connectTls(await connectNode(port), options(extra));

const refusal = async (port: number, extra: Partial<TlsClientOptions>) => {
  const err = await connect(port, extra).then(
    async (c) => {
      await c.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TlsError);
  return err as TlsError;
};

describe('server certificate purpose (extendedKeyUsage)', () => {
  it('refuses a client certificate of the same CA as a server, whatever the names', async () => {
    const port = await serve(clientOnly);
    for (const extra of [
      {},
      { acceptedServerNames: ['127.0.0.1', 'localhost'] },
      { serverName: 'localhost' },
      { serverName: 'localhost', verifyServerName: false },
    ]) {
      expect(await refusal(port, extra)).toMatchObject({
        code: 'ERR_TLS_CERTIFICATE_PURPOSE',
        alert: 43, // unsupported_certificate
        message: expect.stringMatching(/CN=api-session.*no serverAuth/),
      });
    }
  });

  it('accepts serverAuth alone, serverAuth with clientAuth, and a leaf without the extension', async () => {
    for (const leaf of [router, routerBoth, pki.serverEc]) {
      const conn = await connect(await serve(leaf), { acceptedServerNames: ['127.0.0.1'] });
      await conn.close();
    }
  });
});

describe('server name (subjectAltName)', () => {
  it('refuses a certificate of the CA that is valid for other names only', async () => {
    const port = await serve(otherRouter);
    expect(await refusal(port, { acceptedServerNames: ['127.0.0.1', 'localhost'] })).toMatchObject({
      code: 'ERR_TLS_CERTIFICATE_NAME',
      alert: 42, // bad_certificate
      message: expect.stringMatching(/CN=er2 is not valid for 127\.0\.0\.1 or localhost/),
    });
    expect(await refusal(port, { serverName: 'er1.example.com' })).toMatchObject({
      code: 'ERR_TLS_CERTIFICATE_NAME',
    });
    // An empty list names nothing and so matches nothing (fails closed).
    expect(await refusal(port, { acceptedServerNames: [] })).toMatchObject({
      code: 'ERR_TLS_CERTIFICATE_NAME',
    });
  });

  it('accepts a certificate valid for any one of the accepted names', async () => {
    const port = await serve(router);
    for (const names of [['er1-wss.example.com', 'localhost'], ['127.0.0.1'], ['LOCALHOST.']]) {
      const conn = await connect(port, { acceptedServerNames: names });
      await conn.close();
    }
  });

  it('sends a DNS serverName as SNI, an IP literal never (RFC 6066 §3), and checks both', async () => {
    const port = await serve(router);
    sni.length = 0;
    await (await connect(port, { serverName: 'localhost' })).close();
    await (await connect(port, { serverName: '127.0.0.1' })).close();
    await (await connect(port, { acceptedServerNames: ['localhost'] })).close();
    expect(sni).toEqual(['localhost', false, false]);
    expect(await refusal(port, { serverName: '127.0.0.2' })).toMatchObject({
      code: 'ERR_TLS_CERTIFICATE_NAME',
    });
  });
});

describe('matchesServerName (RFC 6125)', () => {
  let leaf: Certificate;
  beforeAll(async () => {
    const issued = await issueLeaf(pki.root, {
      subject: 'CN=ignored.example.com',
      names: [
        { type: 'dns', value: 'er1.example.com' },
        { type: 'dns', value: '*.wild.example.com' },
        { type: 'dns', value: '*.com' },
        { type: 'dns', value: 'f*.part.example.com' },
        { type: 'dns', value: '10.0.0.9' },
        { type: 'ip', value: '192.0.2.7' },
        { type: 'ip', value: '2001:db8::1' },
      ],
    });
    leaf = parseCertificate(issued.der);
  });

  it.each([
    ['er1.example.com', true],
    ['ER1.Example.COM.', true],
    ['er2.example.com', false],
    ['ignored.example.com', false], // no fallback to the subject's CN
    ['a.wild.example.com', true],
    ['wild.example.com', false], // a wildcard stands for exactly one label
    ['a.b.wild.example.com', false],
    ['example.com', false], // `*.com` is not honoured
    ['fa.part.example.com', false], // only a whole leftmost `*` label is a wildcard
    ['192.0.2.7', true],
    ['192.0.2.8', false],
    ['10.0.0.9', false], // an IP literal matches iPAddress entries only
    ['2001:db8::1', true],
    ['[2001:0db8:0:0:0:0:0:1]', true],
    ['2001:db8::2', false],
  ])('%s -> %s', (host, expected) => {
    expect(matchesServerName(leaf, host)).toBe(expected);
  });

  it('parses IP literals to bytes and leaves DNS names alone', () => {
    expect(parseIpLiteral('127.0.0.1')).toEqual(new Uint8Array([127, 0, 0, 1]));
    expect(parseIpLiteral('[::1]')).toEqual(new Uint8Array([...Array(15).fill(0), 1]));
    expect(parseIpLiteral('::ffff:192.0.2.1')?.slice(10)).toEqual(
      new Uint8Array([0xff, 0xff, 192, 0, 2, 1]),
    );
    for (const notIp of ['localhost', '256.0.0.1', '1.2.3', '1::2::3', '1:2:3:4:5:6:7:8:9', 'a.b'])
      expect(parseIpLiteral(notIp)).toBeUndefined();
  });
});
