import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ContentType,
  decodeStateClosed,
  EdgeErrorCode,
  getHeaderBool,
  getHeaderBytes,
  getHeaderI32,
  getHeaderString,
  getHeaderU32,
  HeaderId,
  type Message,
  MessageDecoder,
  newMessage,
  RetryHint,
  setHeaderU64,
  ZitiAuthenticationError,
} from '../../shared/ziti/index.ts';
import type { RunningFabric } from '../fabric.ts';
import { ControllerRest } from '../hosting/controller-rest.ts';
import { createLogger } from '../log.ts';
import { issueIdentityCert, signCsr } from '../pki.ts';
import { standardCsr } from '../testing/csr.ts';
import { startTestFabric, TEST_USER } from '../testing/harness.ts';
import {
  type ClientCreds,
  connectInnerTls,
  DialRefusedError,
  dial,
  openClientChannel,
} from '../testing/node-client.ts';
import { startRouter } from './router.ts';

const vectors = JSON.parse(
  readFileSync(
    new URL('../../shared/ziti/_test/openziti-browser-client-frames.json', import.meta.url),
    'utf8',
  ),
) as { frames: { name: string; frameHex: string }[] };
const frame = (name: string) =>
  Buffer.from(vectors.frames.find((f) => f.name === name)!.frameHex, 'hex');

let fabric: RunningFabric;
let clockOffset = 0;

beforeAll(async () => {
  fabric = await startTestFabric(
    {
      identities: [
        { name: 'developer', password: 'zt-dev-password', roleAttributes: ['users'] },
        { name: 'second-user', password: 'second-pass', roleAttributes: ['users'] },
        { name: 'tunneler', password: 'tunneler-dev-password', roleAttributes: ['hosts'] },
      ],
      services: [
        { name: 'demo', roleAttributes: ['demo'], target: 'demo-app', configs: {} },
        { name: 'orphan', roleAttributes: ['plain'], target: 'demo-app', configs: {} },
        {
          name: 'plain',
          roleAttributes: ['plain'],
          encryptionRequired: false,
          hosting: 'router',
          target: 'demo-app',
          configs: {},
        },
      ],
      policies: [
        { type: 'Dial', identityRoles: ['#users'], serviceRoles: ['#demo', '#plain'] },
        { type: 'Bind', identityRoles: ['#hosts'], serviceRoles: ['#demo'] },
      ],
    },
    { now: () => Date.now() + clockOffset },
  );
});
afterAll(() => fabric?.close());

async function loggedIn(user = TEST_USER): Promise<{ rest: ControllerRest; creds: ClientCreds }> {
  const rest = new ControllerRest(fabric.controller.url);
  await rest.loginPassword(user.name, user.password);
  return { rest, creds: await rest.sessionCertificate() };
}

/** Reads frames from a raw socket; `next()` resolves with the next message or null at EOF. */
function frameReader(sock: TLSSocket) {
  const decoder = new MessageDecoder();
  const queue: Message[] = [];
  const waiters: ((m: Message | null) => void)[] = [];
  let ended = false;
  sock.on('data', (chunk: Buffer) => {
    for (const m of decoder.push(new Uint8Array(chunk))) {
      const w = waiters.shift();
      if (w) w(m);
      else queue.push(m);
    }
  });
  const end = () => {
    ended = true;
    for (const w of waiters.splice(0)) w(null);
  };
  sock.on('end', end);
  sock.on('close', end);
  sock.on('error', end);
  return {
    next(timeoutMs = 5000): Promise<Message | null> {
      const m = queue.shift();
      if (m) return Promise.resolve(m);
      if (ended) return Promise.resolve(null);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no frame in time')), timeoutMs);
        waiters.push((x) => {
          clearTimeout(t);
          resolve(x);
        });
      });
    },
  };
}

function helloFrame(token: string): Buffer {
  // The captured hello with its SessionToken swapped: same header order, CallerId and UUID.
  const tokenBytes = Buffer.from(token);
  const callerId = Buffer.from('ws:');
  const uuid = Buffer.alloc(16, 7);
  const hdr = (id: number, v: Buffer) => {
    const b = Buffer.alloc(8);
    b.writeInt32LE(id, 0);
    b.writeUInt32LE(v.length, 4);
    return Buffer.concat([b, v]);
  };
  const headers = Buffer.concat([
    hdr(HeaderId.SessionToken, tokenBytes),
    hdr(HeaderId.CallerId, callerId),
    hdr(HeaderId.UUID, uuid),
  ]);
  const prefix = Buffer.alloc(20);
  Buffer.from([3, 6, 9, 12]).copy(prefix, 0);
  prefix.writeInt32LE(ContentType.Hello, 4);
  prefix.writeInt32LE(-1, 8);
  prefix.writeInt32LE(headers.length, 12);
  prefix.writeInt32LE(0, 16);
  return Buffer.concat([prefix, headers]);
}

/** Sends a hello with `token`, expects the success Result, then whether the router closes. */
async function helloThenClosed(creds: ClientCreds, token: string): Promise<boolean> {
  const sock = await connectInnerTls({ wsUrl: fabric.router.urls.wss! }, creds);
  const r = frameReader(sock);
  sock.write(helloFrame(token));
  const result = await r.next();
  expect(result?.contentType).toBe(ContentType.Result);
  expect(result?.sequence).toBe(-1);
  expect(getHeaderBool(result!, HeaderId.ResultSuccess)).toBe(true);
  // A latency probe: answered if the channel lives, EOF if the router closed it.
  const probe = newMessage(ContentType.Latency);
  probe.sequence = 5;
  setHeaderU64(probe, HeaderId.Reflected, 1n);
  const { encodeMessage } = await import('../../shared/ziti/index.ts');
  sock.write(encodeMessage(probe), () => {});
  const next = await r.next().catch(() => null);
  sock.destroy();
  return next === null;
}

describe('router: replaying the browser client frames (§11)', () => {
  it('accepts the captured Hello, Connect, Data and StateClosed byte for byte', async () => {
    const { creds } = await loggedIn();
    const dev = fabric.state.identityByName('developer')!;
    const api = fabric.state.createApiSession(dev, {
      authMethod: 'ext-jwt',
      token: '3367312a-3876-4a02-8d84-411cb4a8080b',
    });
    // The captured client presented a session certificate: give this API session one.
    const { csrPem, keyPem } = await standardCsr();
    const cert = await signCsr(fabric.pki, csrPem, {
      spiffeId: `spiffe://zt-test/identity/${dev.id}/apiSession/${api.id}/apiSessionCertificate/c1`,
      subject: `CN=${dev.id}`,
      validitySeconds: 600,
    });
    const { certFingerprint } = await import('../pki.ts');
    api.certs.set('c1', {
      id: 'c1',
      fingerprint: certFingerprint(cert),
      certPem: cert.toString('pem'),
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
    });
    const plain = fabric.state.serviceByName('plain')!;
    fabric.state.addSession({
      id: 's1',
      token: '1d9d690b-744f-4fee-8321-0cfaa51c7283',
      type: 'Dial',
      apiSessionId: api.id,
      serviceId: plain.id,
      identityId: dev.id,
    });
    const sock = await connectInnerTls(
      { wsUrl: fabric.router.urls.wss! },
      {
        caPem: creds.caPem,
        keyPem,
        certChainPem: `${cert.toString('pem')}\n${fabric.pki.intermediate.toString('pem')}`,
      },
    );
    expect(sock.getProtocol()).toBe('TLSv1.3');
    const r = frameReader(sock);
    sock.write(frame('Hello'));
    const result = (await r.next())!;
    expect(result.contentType).toBe(ContentType.Result);
    expect(result.sequence).toBe(-1);
    expect(getHeaderI32(result, HeaderId.ReplyFor)).toBe(-1);
    expect(getHeaderBool(result, HeaderId.ResultSuccess)).toBe(true);
    expect(getHeaderString(result, HeaderId.ConnectionId)).toBeTruthy();
    expect(getHeaderString(result, HeaderId.HelloVersion)!.split('|')).toHaveLength(5);
    expect(getHeaderBool(result, HeaderId.SupportsBindSuccess)).toBe(true);
    expect(getHeaderBytes(result, HeaderId.RouterCapabilities)).toBeUndefined();

    sock.write(frame('Connect'));
    const connected = (await r.next())!;
    expect(connected.contentType).toBe(ContentType.StateConnected);
    expect(getHeaderI32(connected, HeaderId.ReplyFor)).toBe(0);
    expect(getHeaderU32(connected, HeaderId.ConnId)).toBe(1);
    expect(getHeaderString(connected, HeaderId.CircuitId)).toBeTruthy();
    // The reflected trace UUID of the Connect comes back.
    expect(Buffer.from(getHeaderBytes(connected, HeaderId.UUID)!).toString('hex')).toBe(
      '856a9fa51a1c46a4abaed4a6d2571f1f',
    );

    sock.write(frame('Data'));
    let text = '';
    while (!text.includes('hello from the dark')) {
      const m = (await r.next())!;
      expect(m.contentType).toBe(ContentType.Data);
      expect(getHeaderU32(m, HeaderId.ConnId)).toBe(1);
      text += Buffer.from(m.body).toString();
    }
    expect(text).toMatch(/^HTTP\/1\.1 200 OK/);
    sock.write(frame('StateClosed'));
    // The channel stays up after one connection closes: a latency probe is still answered.
    const probe = newMessage(ContentType.Latency);
    probe.sequence = 3;
    setHeaderU64(probe, HeaderId.Reflected, 42n);
    const { encodeMessage } = await import('../../shared/ziti/index.ts');
    sock.write(encodeMessage(probe));
    let m = (await r.next())!;
    while (m.contentType === ContentType.Data) m = (await r.next())!;
    expect(m.contentType).toBe(ContentType.Result);
    expect(getHeaderI32(m, HeaderId.ReplyFor)).toBe(3);
    expect(Buffer.from(getHeaderBytes(m, HeaderId.Reflected)!).readBigUInt64LE()).toBe(42n);
    sock.destroy();
  });
});

describe('router strictness (§3.3)', () => {
  it('control: a valid token and the session certificate keep the channel open', async () => {
    const { rest, creds } = await loggedIn();
    expect(await helloThenClosed(creds, rest.token!)).toBe(false);
  });

  it('closes after the hello Result for an unknown API-session token', async () => {
    const { creds } = await loggedIn();
    expect(await helloThenClosed(creds, 'c0ffee00-0000-4000-8000-000000000000')).toBe(true);
    await expect(
      openClientChannel({ wsUrl: fabric.router.urls.wss! }, creds, 'nope'),
    ).rejects.toBeInstanceOf(ZitiAuthenticationError);
  });

  it('closes after the hello Result for an expired (idle) API session', async () => {
    const { rest, creds } = await loggedIn();
    clockOffset += 31 * 60_000;
    try {
      expect(await helloThenClosed(creds, rest.token!)).toBe(true);
    } finally {
      clockOffset -= 31 * 60_000;
    }
  });

  it("refuses a certificate that is not the session's", async () => {
    const a = await loggedIn();
    const b = await loggedIn({ name: 'second-user', password: 'second-pass' });
    expect(await helloThenClosed(a.creds, b.rest.token!)).toBe(true);
    // ... even one with a valid SPIFFE id of another identity, from the fabric CA.
    const other = await issueIdentityCert(fabric.pki, 'id-second-user');
    expect(
      await helloThenClosed(
        {
          caPem: a.creds.caPem,
          keyPem: other.keyPem,
          certChainPem: other.certPem + fabric.pki.intermediate.toString('pem'),
        },
        a.rest.token!,
      ),
    ).toBe(true);
  });

  it("accepts the identity's own SPIFFE certificate and a controller-issued API-session JWT", async () => {
    const a = await loggedIn();
    const own = await issueIdentityCert(fabric.pki, 'id-developer');
    const creds = {
      caPem: a.creds.caPem,
      keyPem: own.keyPem,
      certChainPem: `${own.certPem}${fabric.pki.intermediate.toString('pem')}`,
    };
    expect(await helloThenClosed(creds, a.rest.token!)).toBe(false);
    const api = fabric.state.apiSessionByToken(a.rest.token!)!;
    expect(await helloThenClosed(a.creds, await fabric.state.issueApiSessionJwt(api))).toBe(false);
  });

  it('refuses a connection without a client certificate, or with one from another CA', async () => {
    const { rest, creds } = await loggedIn();
    await expect(
      openClientChannel({ wsUrl: fabric.router.urls.wss! }, { caPem: creds.caPem }, rest.token!),
    ).rejects.toThrow();
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { loadOrCreatePki } = await import('../pki.ts');
    const foreign = await loadOrCreatePki(mkdtempSync(join(tmpdir(), 'zt-foreign-')), {
      trustDomain: 'zt-test',
      routerHosts: ['x'],
    });
    const id = await issueIdentityCert(foreign, 'id-developer');
    await expect(
      openClientChannel(
        { wsUrl: fabric.router.urls.wss! },
        {
          caPem: creds.caPem,
          keyPem: id.keyPem,
          certChainPem: id.certPem + foreign.intermediate.toString('pem'),
        },
        rest.token!,
      ),
    ).rejects.toThrow();
  });

  it('closes the channel when the API session logs out', async () => {
    const { rest, creds } = await loggedIn();
    const { channel } = await openClientChannel(
      { wsUrl: fabric.router.urls.wss! },
      creds,
      rest.token!,
    );
    await rest.call('DELETE', '/current-api-session');
    const info = await channel.closed;
    expect(info.initiator).not.toBe('local');
  });

  it('Connect without PublicKey to an encryptionRequired service: StateClosed EncryptionDataMissing', async () => {
    const { rest, creds } = await loggedIn();
    const svc = (await rest.services()).find((s) => s.name === 'demo')!;
    const session = await rest.createSession(svc.id, 'Dial');
    const { channel } = await openClientChannel(
      { wsUrl: fabric.router.urls.wss! },
      creds,
      rest.token!,
    );
    const err = await dial(channel, {
      sessionToken: session.token,
      encrypt: false,
      onData: () => {},
    }).catch((e) => e);
    expect(err).toBeInstanceOf(DialRefusedError);
    const info = (err as DialRefusedError).info;
    expect(info.errorCode).toBe(EdgeErrorCode.EncryptionDataMissing);
    expect(info.structuredError?.code).toBe(EdgeErrorCode.EncryptionDataMissing);
    expect(info.structuredError?.retryHint).toBe(RetryHint.NotRetriable);
    expect(info.reason).toMatch(/encryption required/);
    await channel.close();
  });

  it('Connect with an unknown session token or one of another API session: StateClosed InvalidSession', async () => {
    const a = await loggedIn();
    const b = await loggedIn({ name: 'second-user', password: 'second-pass' });
    const svc = (await b.rest.services()).find((s) => s.name === 'plain')!;
    const bSession = await b.rest.createSession(svc.id, 'Dial');
    const { channel } = await openClientChannel(
      { wsUrl: fabric.router.urls.wss! },
      a.creds,
      a.rest.token!,
    );
    for (const token of ['not-a-session', bSession.token]) {
      const err = await dial(channel, {
        sessionToken: token,
        encrypt: false,
        onData: () => {},
      }).catch((e) => e);
      expect((err as DialRefusedError).info.errorCode).toBe(EdgeErrorCode.InvalidSession);
    }
    await channel.close();
  });

  it('a repeated POST /sessions answers with a token no dial accepts (as OpenZiti 1.7); after DELETE /sessions/{id} a new one works', async () => {
    const { rest, creds } = await loggedIn();
    const svc = (await rest.services()).find((s) => s.name === 'plain')!;
    const first = await rest.createSession(svc.id, 'Dial');
    const again = await rest.createSession(svc.id, 'Dial');
    // The controller keeps the first session: same id, but a token for an id it never stored.
    expect(again.id).toBe(first.id);
    expect(again.token).not.toBe(first.token);
    const { channel } = await openClientChannel(
      { wsUrl: fabric.router.urls.wss! },
      creds,
      rest.token!,
    );
    const refused = await dial(channel, {
      sessionToken: again.token,
      encrypt: false,
      onData: () => {},
    }).catch((e) => e);
    expect((refused as DialRefusedError).info.reason).toBe('invalid session');
    const ok = await dial(channel, { sessionToken: first.token, encrypt: false, onData: () => {} });
    await ok.close();

    await rest.call('DELETE', `/sessions/${first.id}`);
    const fresh = await rest.createSession(svc.id, 'Dial');
    expect(fresh.id).not.toBe(first.id);
    const conn = await dial(channel, {
      sessionToken: fresh.token,
      encrypt: false,
      onData: () => {},
    });
    await conn.close();
    const gone = await rest.call('DELETE', `/sessions/${first.id}`).catch((e: Error) => e);
    expect(String(gone)).toMatch(/404|NOT_FOUND/);
    await channel.close();
  });

  it('Connect to a service nobody hosts: StateClosed InvalidTerminator', async () => {
    const { rest, creds } = await loggedIn();
    const svc = (await rest.services()).find((s) => s.name === 'orphan')!;
    const session = await rest.createSession(svc.id, 'Dial');
    const { channel } = await openClientChannel(
      { wsUrl: fabric.router.urls.wss! },
      creds,
      rest.token!,
    );
    const err = await dial(channel, {
      sessionToken: session.token,
      encrypt: true,
      onData: () => {},
    }).catch((e) => e);
    expect((err as DialRefusedError).info.errorCode).toBe(EdgeErrorCode.InvalidTerminator);
    expect((err as DialRefusedError).info.reason).toContain('no terminators');
    // The channel survives a refused dial.
    expect(channel.isClosed).toBe(false);
    await channel.close();
  });

  it('refuses a Bind with a Dial session, as a StateClosed reply', async () => {
    const { rest, creds } = await loggedIn();
    const svc = (await rest.services()).find((s) => s.name === 'demo')!;
    const session = await rest.createSession(svc.id, 'Dial');
    const { channel } = await openClientChannel(
      { tlsUrl: fabric.router.urls.tls! },
      creds,
      rest.token!,
    );
    const { encodeBind } = await import('../../shared/ziti/index.ts');
    const reply = await channel.request(encodeBind({ connId: 9, sessionToken: session.token }));
    expect(reply.contentType).toBe(ContentType.StateClosed);
    expect(decodeStateClosed(reply).errorCode).toBe(EdgeErrorCode.WrongSessionType);
    await channel.close();
  });

  it('serves browsers over wss:// only: outer TLS with a fabric-CA certificate, no plain ws', async () => {
    const { rest, creds } = await loggedIn();
    expect(Object.keys(fabric.router.urls).sort()).toEqual(['tls', 'wss']);
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(`${fabric.router.urls.wss}/ws`, { ca: creds.caPem });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.close();
    // The outer TLS is checked like any HTTPS: without the fabric CA the handshake fails.
    const untrusted = new WebSocket(`${fabric.router.urls.wss}/ws`);
    const err = await new Promise<Error>((resolve) => untrusted.once('error', resolve));
    expect(err.message).toMatch(/certificate/);
    // Over that wss connection the router serves the edge channel itself: inner TLS with the
    // client certificate, then a hello it answers with success (openClientChannel rejects otherwise).
    const { channel, socket } = await openClientChannel(
      { wsUrl: fabric.router.urls.wss! },
      creds,
      rest.token!,
    );
    expect(socket.getProtocol()).toBe('TLSv1.3');
    expect(getHeaderBool(channel.helloResult!, HeaderId.ResultSuccess)).toBe(true);
    expect(channel.isClosed).toBe(false);
    await channel.close();
  });

  it('a plain ws:// listener exists and is advertised only with the dev-only devPlainWsPort', async () => {
    const { rest, creds } = await loggedIn();
    const dev = await startRouter({
      state: fabric.state,
      log: createLogger('silent'),
      name: 'er-dev-plain',
      host: '127.0.0.1',
      advertiseHost: '127.0.0.1',
      wssPort: 0,
      tlsPort: 0,
      devPlainWsPort: 0,
    });
    try {
      expect(dev.urls.ws).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
      const svc = (await rest.services()).find((s) => s.name === 'demo')!;
      const session = await rest.createSession(svc.id, 'Dial');
      expect((session.edgeRouters ?? []).map((r) => Object.keys(r.urls).sort())).toEqual(
        expect.arrayContaining([
          ['tls', 'wss'],
          ['tls', 'ws', 'wss'],
        ]),
      );
      const { channel } = await openClientChannel({ wsUrl: dev.urls.ws! }, creds, rest.token!);
      await channel.close();
    } finally {
      await dev.close();
    }
  });
});
