/**
 * SDK flow control through the fabric router (UseXgressToSdk, as a v1.7.2 router grants it): the
 * dialer speaks xgress payloads and acknowledgements, the far end is a hosting SDK (V1 Data) or a
 * router-hosted TCP target. Bytes, FIN and close in both directions, the bounded receive queue of a
 * slow reader, XgClose, and the router's answer to a malformed acknowledgement.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EdgeConnectionImpl } from '../../shared/ziti/edge/connection.ts';
import {
  bindService,
  type Channel,
  ContentType,
  decodeStateConnected,
  dialService,
  type EdgeConnection,
  encodeConnect,
  encodeStateClosed,
  getHeaderU32,
  HeaderId,
  type Message,
  u32Bytes,
} from '../../shared/ziti/index.ts';
import {
  decodeAck,
  encodeAck,
  encodePayload,
  encodeXgClose,
  PayloadFlag,
} from '../../shared/ziti/xgress/messages.ts';
import type { RunningFabric } from '../fabric.ts';
import { ControllerRest } from '../hosting/controller-rest.ts';
import { startTestFabric, TEST_USER } from '../testing/harness.ts';
import { openClientChannel } from '../testing/node-client.ts';
import { deterministicBytes } from '../testing/test-app.ts';
import { XGRESS_CTRL_ID } from './edge-channel.ts';

const HOST_USER = { name: 'host-id', password: 'host-pass' };
const MiB = 1024 * 1024;

let fabric: RunningFabric;
let target: Server;
/** What the router-hosted TCP target does with its next connection. */
let onTcp: (sock: Socket) => void = (sock) => sock.destroy();
const channels: Channel[] = [];

/** Connections accepted by our hosting SDK, per service, handed to the test in order. */
const hosted = new Map<
  string,
  { conns: EdgeConnection[]; waiters: ((c: EdgeConnection) => void)[] }
>();

beforeAll(async () => {
  target = createServer((sock) => onTcp(sock));
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  const port = (target.address() as { port: number }).port;
  fabric = await startTestFabric(
    {
      identities: [
        { name: TEST_USER.name, password: TEST_USER.password, roleAttributes: ['users'] },
        { ...HOST_USER, roleAttributes: ['hosts'] },
      ],
      services: [
        { name: 'sdk-e2e', encryptionRequired: true, target: 'demo-app', configs: {} },
        { name: 'sdk-clear', encryptionRequired: false, target: 'demo-app', configs: {} },
        {
          name: 'tcp-router',
          encryptionRequired: true,
          hosting: 'router',
          configs: { 'host.v1': { protocol: 'tcp', address: '127.0.0.1', port } },
        },
      ].map((s) => ({ ...s, roleAttributes: ['fc'] })),
      policies: [
        { type: 'Dial', identityRoles: ['#users'], serviceRoles: ['#fc'] },
        { type: 'Bind', identityRoles: ['#hosts'], serviceRoles: ['#fc'] },
      ],
      tunnelerIdentity: HOST_USER.name,
    },
    { tunneler: false },
  );
  for (const name of ['sdk-e2e', 'sdk-clear']) await host(name);
});

afterAll(async () => {
  for (const ch of channels) await ch.close();
  await fabric?.close();
  await new Promise((resolve) => target?.close(resolve));
});

const tlsUrl = () => ({ tlsUrl: fabric.router.urls.tls! });

async function login(user: { name: string; password: string }) {
  const rest = new ControllerRest(fabric.controller.url);
  await rest.loginPassword(user.name, user.password);
  return { rest, creds: await rest.sessionCertificate() };
}

async function session(rest: ControllerRest, service: string, type: 'Dial' | 'Bind') {
  const svc = (await rest.services()).find((s) => s.name === service)!;
  return rest.createSession(svc.id, type);
}

async function host(service: string): Promise<void> {
  const { rest, creds } = await login(HOST_USER);
  const { channel } = await openClientChannel(tlsUrl(), creds, rest.token!);
  channels.push(channel);
  const listener = await bindService(channel, {
    sessionToken: (await session(rest, service, 'Bind')).token,
    encryption: service === 'sdk-e2e',
  });
  await listener.bound;
  const q = { conns: [] as EdgeConnection[], waiters: [] as ((c: EdgeConnection) => void)[] };
  hosted.set(service, q);
  void (async () => {
    for await (const conn of listener) {
      const w = q.waiters.shift();
      if (w) w(conn);
      else q.conns.push(conn);
    }
  })().catch(() => {});
}

function nextHosted(service: string): Promise<EdgeConnection> {
  const q = hosted.get(service)!;
  const c = q.conns.shift();
  return c ? Promise.resolve(c) : new Promise((resolve) => q.waiters.push(resolve));
}

/** A channel of the dialing user and a dial token for `service`. */
async function dialer(service: string): Promise<{ channel: Channel; token: string }> {
  const { rest, creds } = await login(TEST_USER);
  const { channel } = await openClientChannel(tlsUrl(), creds, rest.token!);
  channels.push(channel);
  apiTokenOf.set(channel, rest.token!);
  return { channel, token: (await session(rest, service, 'Dial')).token };
}

/** Dials `service` asking for flow control. */
async function dial(service: string): Promise<EdgeConnection> {
  const d = await dialer(service);
  const conn = await dialService(d.channel, {
    sessionToken: d.token,
    encryptionRequired: service !== 'sdk-clear',
    flowControl: true,
  });
  channelOf.set(conn, d.channel);
  return conn;
}

/** The channel each test dial used (for raw frames beside the connection). */
const channelOf = new WeakMap<EdgeConnection, Channel>();

function sha(chunks: Iterable<Uint8Array>): string {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  return h.digest('hex');
}

/** Writes the deterministic stream of `n` bytes, then FIN. */
async function writeAll(conn: EdgeConnection, n: number): Promise<void> {
  const w = conn.writable.getWriter();
  for (const c of deterministicBytes(n)) await w.write(c);
  await w.close();
}

/** Reads to the end of stream (FIN); the byte count and hash. */
async function readAll(conn: EdgeConnection): Promise<{ n: number; sha: string }> {
  const h = createHash('sha256');
  let n = 0;
  for await (const c of conn.readable as unknown as AsyncIterable<Uint8Array>) {
    h.update(c);
    n += c.length;
  }
  return { n, sha: h.digest('hex') };
}

/** The API session each test channel said hello with. */
const apiTokenOf = new WeakMap<Channel, string>();

/** Circuits the router holds for connections of `channel`. */
function routerConnections(channel: Channel): number {
  const token = apiTokenOf.get(channel);
  let n = 0;
  for (const e of fabric.router.channels) if (e.apiSession.token === token) n += e.connectionCount;
  return n;
}

async function eventually(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('flow-controlled dial to a hosting SDK', () => {
  it('carries a few MiB both ways intact, with FIN both ways, then the circuit is gone', async () => {
    const n = 3 * MiB;
    const expected = sha(deterministicBytes(n));
    const conn = await dial('sdk-e2e');
    expect(conn.flowControlled).toBe(true);
    expect(conn.encrypted).toBe(true);
    const far = await nextHosted('sdk-e2e');
    expect(far.flowControlled).toBe(false); // the host's side is V1 Data

    const [fromDialer, fromHost] = await Promise.all([
      readAll(far),
      readAll(conn),
      writeAll(conn, n),
      writeAll(far, n + 4),
    ]);
    expect(fromDialer).toEqual({ n, sha: expected });
    expect(fromHost).toEqual({ n: n + 4, sha: sha(deterministicBytes(n + 4)) });
    expect((await conn.closed).reason).toBe('both sides finished');
    expect((await far.closed).reason).toBe('both sides finished');
    await eventually(() => routerConnections(channelOf.get(conn)!) === 0, 'the circuit to end');
  });

  /**
   * Writes `n` counted bytes (then closes) without waiting for the reader, and resolves once the
   * writes have stalled (no progress for 300 ms): `writing` settles when all went out.
   */
  async function writeUntilStalled(writable: WritableStream<Uint8Array>, n: number) {
    let written = 0;
    const w = writable.getWriter();
    const writing = (async () => {
      for (const c of deterministicBytes(n)) {
        await w.write(c);
        written += c.length;
      }
      await w.close();
    })();
    let last = -1;
    while (written !== last) {
      last = written;
      await new Promise((r) => setTimeout(r, 300));
    }
    return { writing, written: () => written };
  }

  it("keeps a slow reader's queue bounded while the host writes 32 MiB", async () => {
    const n = 32 * MiB;
    const conn = (await dial('sdk-clear')) as EdgeConnectionImpl;
    expect(conn.flowControlled).toBe(true);
    const far = await nextHosted('sdk-clear');
    let maxQueued = 0;
    const sample = setInterval(() => {
      maxQueued = Math.max(maxQueued, conn.queuedBytes);
    }, 5);
    try {
      const { writing, written } = await writeUntilStalled(far.writable, n);
      // Nobody reads: the host's writes stop once the windows are full.
      expect(written()).toBeLessThan(16 * MiB);
      expect(conn.queuedBytes).toBeGreaterThan(0);
      expect(conn.queuedBytes).toBeLessThan(8 * MiB);

      // A slow reader: a pause after every MiB.
      const h = createHash('sha256');
      let got = 0;
      let nextPause = MiB;
      for await (const c of conn.readable as unknown as AsyncIterable<Uint8Array>) {
        maxQueued = Math.max(maxQueued, conn.queuedBytes);
        h.update(c);
        got += c.length;
        if (got >= nextPause) {
          nextPause += MiB;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      await writing;
      expect(got).toBe(n);
      expect(h.digest('hex')).toBe(sha(deterministicBytes(n)));
    } finally {
      clearInterval(sample);
    }
    expect(maxQueued).toBeLessThan(8 * MiB);
    await far.close();
    await conn.closed;
  });

  it('makes the dialer wait while the host does not read 32 MiB (the router reports what the host has not taken)', async () => {
    const n = 32 * MiB;
    const conn = await dial('sdk-clear');
    const far = await nextHosted('sdk-clear');
    const { writing, written } = await writeUntilStalled(conn.writable, n);
    expect(written()).toBeGreaterThan(0);
    expect(written()).toBeLessThan(20 * MiB);
    expect(await readAll(far)).toEqual({ n, sha: sha(deterministicBytes(n)) });
    await writing;
    await far.close();
    await conn.closed;
  });

  it('ends the circuit on XgClose: the host gets StateClosed; a host close reaches the dialer as "xgress unrouted"', async () => {
    const conn = await dial('sdk-e2e');
    const far = await nextHosted('sdk-e2e');
    const w = conn.writable.getWriter();
    await w.write(new TextEncoder().encode('ping'));
    const r = far.readable.getReader();
    expect(new TextDecoder().decode((await r.read()).value)).toBe('ping');
    await conn.close(); // CircuitEnd, then XgClose once acknowledged
    // The host hears the dialer's close as StateClosed from the router, no FIN before it.
    expect((await r.read()).done).toBe(true);
    const end = await far.closed;
    expect(end.initiator).toBe('remote');
    await eventually(() => routerConnections(channelOf.get(conn)!) === 0, 'the circuit to end');

    const again = await dial('sdk-e2e');
    const host2 = await nextHosted('sdk-e2e');
    await host2.close();
    const info = await again.closed;
    expect(info).toMatchObject({ initiator: 'remote', reason: 'xgress unrouted' });
    await eventually(() => routerConnections(channelOf.get(again)!) === 0, 'the circuit to end');
  });

  it('answers a malformed acknowledgement with StateClosed "xgress closed" and ends the circuit', async () => {
    const conn = await dial('sdk-clear');
    const far = await nextHosted('sdk-clear');
    const ack = encodeAck(
      { circuitId: conn.circuitId!, flags: 0, recvBufferSize: 0, rtt: 0, sequences: [] },
      conn.connId,
    );
    // The body is not a list of 4-byte sequences.
    await channelOf.get(conn)!.send({ ...ack, body: new Uint8Array(3) });
    expect(await conn.closed).toMatchObject({ initiator: 'remote', reason: 'xgress closed' });
    expect((await far.closed).initiator).toBe('remote');
    await eventually(() => routerConnections(channelOf.get(conn)!) === 0, 'the circuit to end');
  });

  it('keeps V1 Data for a Connect without UseXgressToSdk', async () => {
    const d = await dialer('sdk-clear');
    const conn = await dialService(d.channel, {
      sessionToken: d.token,
      encryptionRequired: false,
      flowControl: false,
    });
    expect(conn.flowControlled).toBe(false);
    const far = await nextHosted('sdk-clear');
    const [got] = await Promise.all([readAll(far), writeAll(conn, MiB)]);
    expect(got).toEqual({ n: MiB, sha: sha(deterministicBytes(MiB)) });
    await conn.close();
    await far.closed;
  });
});

describe('flow-controlled dial to a router-hosted TCP service', () => {
  it('carries a few MiB both ways intact, with FIN both ways, then the circuit is gone', async () => {
    const n = 3 * MiB;
    const received = new Promise<{ n: number; sha: string; closed: Promise<void> }>((resolve) => {
      onTcp = (sock) => {
        const h = createHash('sha256');
        let got = 0;
        const closed = new Promise<void>((r) => sock.once('close', () => r()));
        sock.on('data', (c: Buffer) => {
          h.update(c);
          got += c.length;
        });
        // The dialer's FIN: answer with our own stream, then end (our FIN).
        sock.once('end', () => {
          resolve({ n: got, sha: h.digest('hex'), closed });
          void (async () => {
            for (const c of deterministicBytes(n + 8)) {
              if (!sock.write(c)) await new Promise((r) => sock.once('drain', r));
            }
            sock.end();
          })();
        });
      };
    });
    const conn = await dial('tcp-router');
    expect(conn.flowControlled).toBe(true);
    expect(conn.encrypted).toBe(true);
    const [back] = await Promise.all([readAll(conn), writeAll(conn, n)]);
    const got = await received;
    expect({ n: got.n, sha: got.sha }).toEqual({ n, sha: sha(deterministicBytes(n)) });
    expect(back).toEqual({ n: n + 8, sha: sha(deterministicBytes(n + 8)) });
    expect((await conn.closed).reason).toBe('both sides finished');
    await got.closed;
    await eventually(() => routerConnections(channelOf.get(conn)!) === 0, 'the circuit to end');
  });

  it('closes the TCP connection on XgClose; a target that closes ends the dialer with "xgress unrouted"', async () => {
    let sockClosed!: Promise<void>;
    onTcp = (sock) => {
      sockClosed = new Promise((r) => sock.once('close', () => r()));
      sock.on('data', (c: Buffer) => sock.write(c)); // echo
    };
    const conn = await dial('tcp-router');
    const w = conn.writable.getWriter();
    await w.write(new TextEncoder().encode('echo me'));
    const r = conn.readable.getReader();
    expect(new TextDecoder().decode((await r.read()).value)).toBe('echo me');
    r.releaseLock();
    await conn.close();
    await sockClosed;
    await eventually(() => routerConnections(channelOf.get(conn)!) === 0, 'the circuit to end');

    onTcp = (sock) => sock.end('bye');
    const other = await dial('tcp-router');
    const text = await new Response(other.readable).text();
    expect(text).toBe('bye');
    expect(await other.closed).toMatchObject({ initiator: 'remote', reason: 'xgress unrouted' });
    await eventually(() => routerConnections(channelOf.get(other)!) === 0, 'the circuit to end');
  });
});

describe('xgress frames on the edge channel, as a v1.7.2 router takes them', () => {
  it('grants flow control in StateConnected, orders payloads sent before CircuitStart, acknowledges with ConnId, ends on XgClose', async () => {
    const d = await dialer('sdk-clear');
    const connId = 77;
    const acks: Message[] = [];
    d.channel.handle(ContentType.XgAcknowledgement, (m) => {
      acks.push(m);
    });
    const reply = await d.channel.request(
      encodeConnect({ connId, sessionToken: d.token, useXgressToSdk: true }),
    );
    expect(reply.contentType).toBe(ContentType.StateConnected);
    const connected = decodeStateConnected(reply);
    expect(connected.xgress?.ctrlId).toBe(XGRESS_CTRL_ID);
    expect(connected.xgress?.address).toBeTruthy();
    const circuitId = connected.circuitId!;
    const far = await nextHosted('sdk-clear');

    const payload = (sequence: number, flags: number, data: Uint8Array, fin = false) =>
      encodePayload(
        {
          circuitId,
          sequence,
          flags,
          rtt: 0,
          headers: fin ? new Map([[0x10, u32Bytes(1)]]) : new Map(),
          data,
        },
        connId,
      );
    // Data first, then the CircuitStart it follows in sequence, then a FIN with bytes of its own.
    await d.channel.send(payload(1, 0, new TextEncoder().encode('after ')));
    await d.channel.send(payload(2, 0, new TextEncoder().encode('start'), true));
    await d.channel.send(payload(0, PayloadFlag.CircuitStart, new Uint8Array(0)));
    expect(await new Response(far.readable).text()).toBe('after start');

    await eventually(() => acks.flatMap((a) => decodeAck(a).sequences).length === 3, 'acks');
    for (const a of acks) {
      expect(getHeaderU32(a, HeaderId.ConnId)).toBe(connId);
      const ack = decodeAck(a);
      expect(ack.circuitId).toBe(circuitId);
      expect(ack.flags & PayloadFlag.Originator).toBe(PayloadFlag.Originator);
    }
    expect(acks.flatMap((a) => decodeAck(a).sequences).sort()).toEqual([0, 1, 2]);

    // A payload for a circuit the router does not know is dropped; the channel lives on.
    await d.channel.send(
      encodePayload({
        circuitId: 'not-a-circuit',
        sequence: 3,
        flags: 0,
        rtt: 0,
        headers: new Map(),
        data: new Uint8Array(1),
      }),
    );
    await d.channel.send(encodeXgClose(circuitId));
    expect((await far.closed).initiator).toBe('remote');
    await eventually(() => routerConnections(d.channel) === 0, 'the circuit to end');
    expect(d.channel.isClosed).toBe(false);
  });

  it('ignores StateClosed on a flow-controlled connection, as the real router does; EOF is a FIN', async () => {
    const d = await dialer('sdk-clear');
    const reply = await d.channel.request(
      encodeConnect({ connId: 5, sessionToken: d.token, useXgressToSdk: true }),
    );
    const { circuitId } = decodeStateConnected(reply);
    const far = await nextHosted('sdk-clear');
    await d.channel.send(encodeStateClosed({ connId: 5, reason: 'bye' }));
    const payload = (sequence: number, flags: number, text: string) =>
      encodePayload(
        {
          circuitId: circuitId!,
          sequence,
          flags,
          rtt: 0,
          headers: new Map(),
          data: new TextEncoder().encode(text),
        },
        5,
      );
    await d.channel.send(payload(0, PayloadFlag.CircuitStart, ''));
    await d.channel.send(payload(1, 0, 'still here'));
    const r = far.readable.getReader();
    expect(new TextDecoder().decode((await r.read()).value)).toBe('still here');
    // An EOF payload without a FIN before it: the host gets FIN, its connection stays open.
    await d.channel.send(payload(2, PayloadFlag.EOF, ''));
    expect((await r.read()).done).toBe(true);
    await far.writable.getWriter().write(new TextEncoder().encode('half-open'));
    await d.channel.send(encodeXgClose(circuitId!));
    expect((await far.closed).initiator).toBe('remote');
  });
});
