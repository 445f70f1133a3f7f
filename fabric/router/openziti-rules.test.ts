/**
 * The fabric router against rules of real OpenZiti that clients depend on (§2.3, §2.2, §3.4, §11):
 * channel sequences from 1, the hello Result reflecting header 128, a dialer's StateClosed body
 * consumed by the router, and TerminatorIdentity selecting terminators. The hosts here are our own
 * `bindService` listeners that echo, so the test sees exactly what a host receives.
 */
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bindService,
  type Channel,
  ContentType,
  clientSessionKeys,
  decodeStateConnected,
  dialService,
  type EdgeCloseInfo,
  EdgeErrorCode,
  type EdgeListener,
  e2eReady,
  encodeConnect,
  encodeData,
  encodeHello,
  encodeMessage,
  encodeStateClosed,
  generateKxKeyPair,
  getHeaderI32,
  getHeaderU32,
  HeaderId,
  type Message,
  MessageDecoder,
  SecretStreamDecryptor,
  SecretStreamEncryptor,
  ZitiDialError,
} from '../../shared/ziti/index.ts';
import type { RunningFabric } from '../fabric.ts';
import { ControllerRest } from '../hosting/controller-rest.ts';
import { startTestFabric, TEST_USER } from '../testing/harness.ts';
import { connectInnerTls, openClientChannel } from '../testing/node-client.ts';
import { instanceMatchRank } from './terminators.ts';

const HOST_USER = { name: 'host-id', password: 'host-pass' };
const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

let fabric: RunningFabric;
const channels: Channel[] = [];

beforeAll(async () => {
  fabric = await startTestFabric(
    {
      identities: [
        { name: TEST_USER.name, password: TEST_USER.password, roleAttributes: ['users'] },
        { ...HOST_USER, roleAttributes: ['hosts'] },
      ],
      services: ['secure', 'cleartext', 'addressable'].map((name) => ({
        name,
        roleAttributes: ['sdk-hosted'],
        encryptionRequired: name !== 'cleartext',
        target: 'demo-app',
        configs: {},
      })),
      policies: [
        { type: 'Dial', identityRoles: ['#users'], serviceRoles: ['#sdk-hosted'] },
        { type: 'Bind', identityRoles: ['#hosts'], serviceRoles: ['#sdk-hosted'] },
      ],
      tunnelerIdentity: HOST_USER.name,
    },
    { tunneler: false }, // our own listeners host every service
  );
});
afterAll(async () => {
  for (const ch of channels) await ch.close();
  await fabric?.close();
});

const tlsUrl = () => ({ tlsUrl: fabric.router.urls.tls! });

async function login(user: { name: string; password: string }) {
  const rest = new ControllerRest(fabric.controller.url);
  await rest.loginPassword(user.name, user.password);
  return { rest, creds: await rest.sessionCertificate() };
}

async function sessionFor(rest: ControllerRest, service: string, type: 'Dial' | 'Bind') {
  const svc = (await rest.services()).find((s) => s.name === service)!;
  return rest.createSession(svc.id, type);
}

/** Hosts `service` with our SDK listener: echoes every connection, records how each one ended. */
async function host(
  service: string,
  opts: { terminatorIdentity?: string } = {},
): Promise<{ listener: EdgeListener; ends: Promise<EdgeCloseInfo>[] }> {
  const { rest, creds } = await login(HOST_USER);
  const { channel } = await openClientChannel(tlsUrl(), creds, rest.token!);
  channels.push(channel);
  const session = await sessionFor(rest, service, 'Bind');
  const listener = await bindService(channel, {
    sessionToken: session.token,
    encryption: service !== 'cleartext',
    terminatorIdentity: opts.terminatorIdentity,
  });
  await listener.bound;
  const ends: Promise<EdgeCloseInfo>[] = [];
  void (async () => {
    for await (const conn of listener) {
      ends.push(conn.closed);
      void conn.readable.pipeTo(conn.writable).catch(() => {});
    }
  })().catch(() => {});
  return { listener, ends };
}

/** Frames from a raw socket, in order. */
function frames(sock: TLSSocket): { next(): Promise<Message> } {
  const decoder = new MessageDecoder();
  const queue: Message[] = [];
  const waiters: ((m: Message) => void)[] = [];
  sock.on('data', (chunk: Buffer) => {
    for (const m of decoder.push(new Uint8Array(chunk))) {
      const w = waiters.shift();
      if (w) w(m);
      else queue.push(m);
    }
  });
  return {
    next: () => {
      const m = queue.shift();
      return m ? Promise.resolve(m) : new Promise((resolve) => waiters.push(resolve));
    },
  };
}

describe('a client that follows OpenZiti browser client rules (§11)', () => {
  it('gets the hello UUID back, router sequences from 1, and an encrypted round trip', async () => {
    const { ends } = await host('secure');
    const { rest, creds } = await login(TEST_USER);
    const session = await sessionFor(rest, 'secure', 'Dial');
    // Its router choice: `urls.ws` if offered, else `urls.wss`, the scheme forced to wss, then
    // `/ws`. The fabric offers no ws URL (a real router cannot listen on ws), so it takes wss.
    const urls = session.edgeRouters![0]!.urls;
    expect(urls.ws).toBeUndefined();
    const wsUrl = (urls.ws ?? urls.wss)!.replace(/^wss?:/, 'wss:');
    const sock = await connectInnerTls({ wsUrl }, creds);
    const rx = frames(sock);
    const uuid = () => crypto.getRandomValues(new Uint8Array(16));
    const send = (msg: Message, sequence: number) =>
      sock.write(encodeMessage({ ...msg, sequence }));

    // Hello: sequence -1, SessionToken, CallerId "ws:", UUID.
    const helloUuid = uuid();
    send(encodeHello({ sessionToken: rest.token!, callerId: 'ws:', uuid: helloUuid }), -1);
    const result = await rx.next();
    expect(result.contentType).toBe(ContentType.Result);
    expect(result.sequence).toBe(-1);
    expect(result.headers.get(HeaderId.Reflected)).toEqual(helloUuid);

    // Connect: sequence 0 = the connection's Seq 0; AppData, PublicKey, no CryptoMethod.
    await e2eReady();
    const kx = await generateKxKeyPair();
    const connect = encodeConnect({
      connId: 1,
      seq: 0,
      uuid: uuid(),
      appData: '{"dst_protocol":"tcp","dst_port":"80","dst_hostname":"secure.ziti"}',
      publicKey: kx.publicKey,
      sessionToken: session.token,
    });
    connect.headers.delete(HeaderId.CryptoMethod);
    send(connect, 0);

    // The router's first message after the hello: sequence 1 (a Go channel increments first).
    const connected = await rx.next();
    expect(connected.contentType).toBe(ContentType.StateConnected);
    expect(connected.sequence).toBe(1);
    expect(getHeaderI32(connected, HeaderId.ReplyFor)).toBe(0);
    expect(getHeaderU32(connected, HeaderId.ConnId)).toBe(1);
    const hostKey = decodeStateConnected(connected).publicKey!;
    expect(hostKey).toHaveLength(32);

    // Data: channel sequence = the connection's Seq, from 1; the first one is our stream header.
    const keys = await clientSessionKeys(kx, hostKey);
    const encryptor = new SecretStreamEncryptor(keys.tx);
    const ourHeaderSequence = 1;
    send(encodeData({ connId: 1, seq: 1, uuid: uuid(), body: encryptor.header }), 1);

    // The host's stream header is the router's next message, sequence 2. The browser client pairs
    // it with its own header Data by `router sequence - 1`.
    const hostHeader = await rx.next();
    expect(hostHeader.contentType).toBe(ContentType.Data);
    expect(hostHeader.sequence).toBe(2);
    expect(hostHeader.sequence - 1).toBe(ourHeaderSequence);
    const decryptor = new SecretStreamDecryptor(hostHeader.body, keys.rx);

    send(encodeData({ connId: 1, seq: 2, uuid: uuid(), body: encryptor.push(text('ping')) }), 2);
    const echoed = await rx.next();
    expect(echoed.contentType).toBe(ContentType.Data);
    expect(echoed.sequence).toBe(3);
    expect(str(decryptor.pull(echoed.body))).toBe('ping');

    // StateClosed: its body is the Dial session token; the router must keep it to itself.
    send(encodeStateClosed({ connId: 1, seq: 3, uuid: uuid(), reason: session.token }), 3);
    const end = await ends[0]!;
    expect(end.initiator).toBe('remote');
    expect(end.reason).not.toContain(session.token);
    sock.destroy();
  });
});

describe('StateClosed from the dialer (§3.4)', () => {
  it('never reaches the host with its body, on a service without E2E either', async () => {
    const { ends } = await host('cleartext');
    const { rest, creds } = await login(TEST_USER);
    const session = await sessionFor(rest, 'cleartext', 'Dial');
    const { channel } = await openClientChannel(tlsUrl(), creds, rest.token!);
    channels.push(channel);
    const conn = await dialService(channel, {
      sessionToken: session.token,
      encryptionRequired: false,
    });
    expect(conn.encrypted).toBe(false);
    const writer = conn.writable.getWriter();
    await writer.write(text('hi'));
    const reader = conn.readable.getReader();
    expect(str((await reader.read()).value!)).toBe('hi');
    reader.releaseLock();
    writer.releaseLock();
    await conn.close(session.token);
    const end = await ends[0]!;
    expect(end.initiator).toBe('remote');
    expect(end.reason).not.toContain(session.token);
  });
});

describe('TerminatorIdentity (§3.4, addressable terminators)', () => {
  it('reaches only a terminator bound with that identity; otherwise StateClosed', async () => {
    await host('addressable', { terminatorIdentity: 'Host-A' });
    const { rest, creds } = await login(TEST_USER);
    const session = await sessionFor(rest, 'addressable', 'Dial');
    const { channel } = await openClientChannel(tlsUrl(), creds, rest.token!);
    channels.push(channel);
    const dial = (terminatorIdentity?: string) =>
      dialService(channel, {
        sessionToken: session.token,
        encryptionRequired: true,
        terminatorIdentity,
      });

    for (const wrong of ['host-b', undefined]) {
      const err = await dial(wrong).catch((e) => e);
      expect(err).toBeInstanceOf(ZitiDialError);
      expect((err as ZitiDialError).errorCode).toBe(EdgeErrorCode.InvalidTerminator);
      expect((err as Error).message).toContain('no terminators');
    }
    expect(channel.isClosed).toBe(false);

    const conn = await dial('host-a'); // matched case-insensitively, as the controller does
    expect(conn.encrypted).toBe(true);
    const writer = conn.writable.getWriter();
    await writer.write(text('addressed'));
    const reader = conn.readable.getReader();
    expect(str((await reader.read()).value!)).toBe('addressed');
    reader.releaseLock();
    writer.releaseLock();
    await conn.close();
  });

  it('matches instance ids as the controller does', () => {
    expect(instanceMatchRank('', '')).toBe(0);
    expect(instanceMatchRank('', 'a')).toBe(-1);
    expect(instanceMatchRank('a', '')).toBe(-1);
    expect(instanceMatchRank('Node1', 'node1')).toBeGreaterThan(0);
    expect(instanceMatchRank('*:node1.corp', 'node1.corp')).toBe('node1.corp'.length);
    expect(instanceMatchRank('*:node1.corp', 'acme.node1.corp')).toBe('node1.corp'.length);
    expect(instanceMatchRank('*:node1.corp', 'mynode1.corp')).toBe(-1);
    expect(instanceMatchRank('*:node1.corp', '')).toBe(-1);
    expect(instanceMatchRank('node1.corp', 'node1.corp')).toBeGreaterThan(
      instanceMatchRank('*:corp', 'node1.corp'),
    );
  });
});
