import sodium, { type StateAddress } from 'libsodium-wrappers';
import { describe, expect, it, vi } from 'vitest';
import type { ByteDuplex } from '../../streams/duplex.ts';
import { duplexPair } from '../../streams/pair.ts';
import { channelPair, concat, readAll } from '../_test/fixtures.ts';
import type { Channel } from '../channel/channel.ts';
import { ContentType, EdgeErrorCode, EdgeFlag, HeaderId } from '../channel/constants.ts';
import { acceptChannel, openChannel } from '../channel/hello.ts';
import { type Message, setHeaderBool, setHeaderString, u32Bytes } from '../channel/message.ts';
import {
  ZitiChannelClosedError,
  ZitiConnectionClosedError,
  ZitiDialError,
  ZitiE2EError,
  ZitiProtocolError,
} from '../errors.ts';
import { XgressEndpoint, type XgressOptions } from '../xgress/endpoint.ts';
import {
  decodeAck,
  decodePayload,
  decodeXgClose,
  edgeFlagsOf,
  encodePayload,
  PAYLOAD_EDGE_FLAGS_KEY,
  PayloadFlag,
  type XgPayload,
} from '../xgress/messages.ts';
import { acceptConnect, rejectConnect } from './accept.ts';
import type { EdgeConnectionImpl } from './connection.ts';
import { dialService } from './dial.ts';
import {
  decodeConnect,
  decodeData,
  encodeConnect,
  encodeData,
  encodeStateClosed,
  encodeStateConnected,
  joinMultipart,
} from './messages.ts';
import { EdgeMux } from './mux.ts';
import type { EdgeConnection } from './types.ts';

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

/** Router that hosts every Connect itself and runs `serve` on the connection (not awaited). */
function hostingRouter(
  router: Channel,
  serve: (conn: EdgeConnection, connect: Message) => Promise<void>,
): Message[] {
  const connects: Message[] = [];
  router.handle(ContentType.Connect, (msg) => {
    connects.push(msg);
    void acceptConnect(router, msg, { circuitId: `circuit-${decodeConnect(msg).connId}` }).then(
      (c) => serve(c, msg),
    );
  });
  return connects;
}

async function echo(conn: EdgeConnection): Promise<void> {
  const data = await readAll(conn.readable);
  const w = conn.writable.getWriter();
  await w.write(data);
  await w.close();
}

/** An encrypted connection to an echo, its channel's client over `transport` to `routerSide`. */
async function encryptedEcho(transport: ByteDuplex, routerSide: ByteDuplex) {
  const [client, router] = await Promise.all([
    openChannel(transport, { sessionToken: 'api-session', latencyIntervalMs: 0 }),
    acceptChannel(routerSide),
  ]);
  hostingRouter(router, echo);
  const conn = await dialService(client, {
    sessionToken: 'dial-token',
    encryptionRequired: true,
    appData: { dst_protocol: 'tcp', dst_hostname: 'app.ziti', dst_port: '80' },
  });
  return { client, conn };
}

/** Records every message the router receives of the given types (wraps the mux). */
function recordData(router: Channel): Message[] {
  const seen: Message[] = [];
  const mux = EdgeMux.of(router);
  const orig = mux.register.bind(mux);
  mux.register = (connId, sink) =>
    orig(connId, {
      onMessage: (m) => {
        seen.push(m);
        return sink.onMessage(m);
      },
      onChannelClosed: (i) => sink.onChannelClosed(i),
    });
  return seen;
}

describe('dial', () => {
  for (const encryptionRequired of [false, true]) {
    it(`exchanges data and half-closes (encryption ${encryptionRequired})`, async () => {
      const { client, router } = await channelPair();
      const connects = hostingRouter(router, echo);
      const seen = recordData(router);
      const conn = await dialService(client, {
        sessionToken: 'dial-token',
        encryptionRequired,
        appData: { dst_protocol: 'tcp', dst_hostname: 'app.ziti', dst_port: '80' },
      });
      expect(conn.encrypted).toBe(encryptionRequired);
      expect(conn.circuitId).toBe(`circuit-${conn.connId}`);
      const req = decodeConnect(connects[0]!);
      expect(req.sessionToken).toBe('dial-token');
      expect(req.seq).toBe(0);
      expect(JSON.parse(str(req.appData!))).toEqual({
        dst_protocol: 'tcp',
        dst_hostname: 'app.ziti',
        dst_port: '80',
      });
      expect(req.publicKey !== undefined).toBe(encryptionRequired);
      expect(req.cryptoMethod).toBe(encryptionRequired ? 0 : undefined);

      const w = conn.writable.getWriter();
      await w.write(text('GET / HTTP/1.1\r\n\r\n'));
      await w.write(new Uint8Array(100_000).fill(65)); // cut into ≤ 32 KiB Data frames
      await w.close();
      await w.close().catch(() => {});
      await conn.closeWrite(); // idempotent
      const back = await readAll(conn.readable);
      expect(back.length).toBe(18 + 100_000);
      // Payload bytes, as the app wrote and read them (not the E2E header or overhead).
      expect(conn.bytesOut).toBe(18 + 100_000);
      expect(conn.bytesIn).toBe(18 + 100_000);
      expect(str(back.subarray(0, 18))).toBe('GET / HTTP/1.1\r\n\r\n');

      const data = seen.filter((m) => m.contentType === ContentType.Data).map(decodeData);
      expect(data.map((d) => d.seq)).toEqual(data.map((_, i) => i + 1));
      expect(data.every((d) => d.body.length <= 32 * 1024)).toBe(true);
      const fins = data.filter((d) => d.fin);
      expect(fins).toHaveLength(1);
      expect(fins[0]!.body).toHaveLength(0); // FIN: empty and never encrypted
      if (encryptionRequired) expect(data[0]!.body).toHaveLength(24); // header alone first
      const info = await conn.closed;
      expect(info.reason).toBe('both sides finished');
      await client.close();
    });
  }

  it('maps StateClosed with ErrorCode + StructuredError to ZitiDialError', async () => {
    const { client, router } = await channelPair();
    router.handle(ContentType.Connect, (msg) => {
      void rejectConnect(router, msg, {
        reason: 'posture check failed',
        errorCode: EdgeErrorCode.PostureCheckFailed,
        structuredError: {
          message: 'posture',
          code: 15,
          retryHint: 3,
          failingPostureCheckIds: ['pc1'],
        },
      });
    });
    const err = await dialService(client, { sessionToken: 't', encryptionRequired: false }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(ZitiDialError);
    expect(err.message).toBe('posture check failed');
    expect(err.errorCode).toBe(15);
    expect(err.structured).toEqual({
      message: 'posture',
      code: 15,
      retryHint: 3,
      failingPostureCheckIds: ['pc1'],
    });
    expect(EdgeMux.of(client).size).toBe(0);
    await client.close();
  });

  it('fails closed when an encryptionRequired dial gets no terminator key', async () => {
    const { client, router } = await channelPair();
    const closes: Message[] = [];
    router.handle(ContentType.StateClosed, (m) => void closes.push(m));
    router.handle(ContentType.Connect, (msg) => {
      void router.reply(msg, encodeStateConnected({ connId: decodeConnect(msg).connId }));
    });
    const err = await dialService(client, { sessionToken: 't', encryptionRequired: true }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(ZitiE2EError);
    await new Promise((r) => setTimeout(r, 20));
    expect(closes).toHaveLength(1);
    await client.close();
  });

  it('sends TerminatorIdentity (1006) in the Connect only when given', async () => {
    const { client, router } = await channelPair();
    const connects = hostingRouter(router, async () => {});
    for (const terminatorIdentity of ['host-a', undefined]) {
      const conn = await dialService(client, {
        sessionToken: 't',
        encryptionRequired: false,
        terminatorIdentity,
      });
      await conn.close();
    }
    expect(connects.map((m) => decodeConnect(m).terminatorIdentity)).toEqual(['host-a', undefined]);
    expect(connects[0]!.headers.get(HeaderId.TerminatorIdentity)).toEqual(
      new TextEncoder().encode('host-a'),
    );
    await client.close();
  });

  it('times out a dial without answer and tells the router', async () => {
    const { client, router } = await channelPair();
    const closes: Message[] = [];
    router.handle(ContentType.StateClosed, (m) => void closes.push(m));
    const err = await dialService(client, {
      sessionToken: 't',
      encryptionRequired: false,
      connectTimeoutMs: 30,
    }).catch((e) => e);
    expect(err.code).toBe('ERR_ZITI_TIMEOUT');
    await new Promise((r) => setTimeout(r, 20));
    expect(closes).toHaveLength(1);
    await client.close();
  });

  it('acceptConnect refuses a Connect that reuses a live connection id', async () => {
    const { client, router } = await channelPair();
    const outcomes: unknown[] = [];
    router.handle(ContentType.Connect, (msg) => {
      void acceptConnect(router, msg).then(
        (c) => outcomes.push(c.connId),
        (e) => outcomes.push(e),
      );
    });
    const conn = await dialService(client, { sessionToken: 't', encryptionRequired: false });
    // A second Connect with the same ConnId, sent by hand.
    const dup = await client.request(encodeConnect({ connId: conn.connId, sessionToken: 't' }));
    expect(dup.contentType).toBe(ContentType.StateClosed);
    await new Promise((r) => setTimeout(r, 10));
    expect(outcomes[0]).toBe(conn.connId);
    expect(outcomes[1]).toBeInstanceOf(ZitiDialError);
    const w = conn.writable.getWriter();
    await w.write(text('still alive'));
    await w.close();
    expect(client.isClosed || router.isClosed).toBe(false);
    await client.close();
  });

  it('multiplexes many connections on one channel', async () => {
    const { client, router } = await channelPair();
    hostingRouter(router, echo);
    const results = await Promise.all(
      Array.from({ length: 25 }, async (_, i) => {
        const conn = await dialService(client, {
          sessionToken: 't',
          encryptionRequired: i % 2 === 0,
        });
        const w = conn.writable.getWriter();
        await w.write(text(`conn ${i} `.repeat(1000)));
        await w.close();
        return str(await readAll(conn.readable));
      }),
    );
    for (const [i, r] of results.entries()) expect(r).toBe(`conn ${i} `.repeat(1000));
    await client.close();
  });

  it('peer StateClosed ends the readable after buffered data; writes then fail', async () => {
    const { client, router } = await channelPair();
    hostingRouter(router, async (c) => {
      const w = c.writable.getWriter();
      await w.write(text('last words'));
      await c.close('bye');
    });
    const conn = await dialService(client, { sessionToken: 't', encryptionRequired: true });
    expect(str(await readAll(conn.readable))).toBe('last words');
    const info = await conn.closed;
    expect(info).toMatchObject({ initiator: 'remote', reason: 'bye' });
    await expect(conn.writable.getWriter().write(text('x'))).rejects.toBeInstanceOf(
      ZitiConnectionClosedError,
    );
    await client.close();
  });

  it('a closing channel ends every connection with ZitiChannelClosedError', async () => {
    const { client, router } = await channelPair();
    hostingRouter(router, async () => {});
    const conns = await Promise.all(
      [1, 2, 3].map(() => dialService(client, { sessionToken: 't', encryptionRequired: false })),
    );
    await router.close();
    for (const c of conns) {
      expect((await c.closed).initiator).toBe('channel');
      await expect(c.readable.getReader().read()).rejects.toBeInstanceOf(ZitiChannelClosedError);
    }
  });
});

describe('Data split across transport chunks', () => {
  it('is decrypted from the pieces it arrived in, whatever the cut', async () => {
    // The router's bytes reach the client in 1000-byte chunks: each 32 KiB Data body is in pieces.
    const [a, b] = duplexPair();
    const rechunk = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        for (let i = 0; i < chunk.length; i += 1000) controller.enqueue(chunk.slice(i, i + 1000));
      },
    });
    const { client, conn } = await encryptedEcho(
      { readable: a.readable.pipeThrough(rechunk), writable: a.writable },
      b,
    );
    const sent = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 31) & 0xff);
    const w = conn.writable.getWriter();
    await w.write(sent);
    await w.close();
    expect(await readAll(conn.readable)).toEqual(sent);
    await client.close();
  });
});

describe('bodies sealed into a reused buffer', () => {
  it('arrive intact over a transport that copies its writes only when it gets to them', async () => {
    const [a, b] = duplexPair({ highWaterMarkBytes: 1 << 20 });
    const pairWriter = a.writable.getWriter();
    const bodyBuffers: ArrayBufferLike[] = [];
    // As our TLS: each write is copied when the sink gets to it, and later writes wait in the
    // stream's queue meanwhile (here for a timer, as behind records being encrypted).
    const writable = new WritableStream<Uint8Array>({
      async write(chunk) {
        const copy = chunk.slice();
        if (chunk.length > 4096) bodyBuffers.push(chunk.buffer);
        await new Promise((r) => setTimeout(r, 1));
        await pairWriter.write(copy);
      },
    });
    const { client, conn } = await encryptedEcho(
      { readable: a.readable, writable, writesCopied: true },
      b,
    );
    const sent = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 31 + (i >>> 9)) & 0xff);
    const w = conn.writable.getWriter();
    await Promise.all([w.write(sent.subarray(0, 150_000)), w.write(sent.subarray(150_000))]);
    await w.close();
    expect(Buffer.compare(await readAll(conn.readable), sent)).toBe(0);
    // Every sealed body went out of the one buffer.
    expect(bodyBuffers.length).toBeGreaterThan(8);
    expect(new Set(bodyBuffers).size).toBe(1);
    await client.close();
  });
});

describe('E2E against a hand-written libsodium terminator', () => {
  /**
   * A router whose terminator uses libsodium directly (not our e2e module): StateConnected with its
   * key, its header, then whatever `script` sends, all in one burst right after StateConnected.
   */
  async function setup(
    script: (push: (m: Uint8Array, flags?: number) => Message, header: Uint8Array) => Message[],
  ) {
    await sodium.ready;
    const { client, router } = await channelPair();
    const received: Uint8Array[] = [];
    const closes: number[] = [];
    router.handle(ContentType.Connect, (msg) => {
      const req = decodeConnect(msg);
      const kp = sodium.crypto_kx_keypair();
      const keys = sodium.crypto_kx_server_session_keys(
        kp.publicKey,
        kp.privateKey,
        req.publicKey!,
      );
      const { state, header } = sodium.crypto_secretstream_xchacha20poly1305_init_push(
        keys.sharedTx,
      );
      let pull: StateAddress | undefined;
      EdgeMux.of(router).register(req.connId, {
        onMessage: (m) => {
          if (m.contentType === ContentType.StateClosed) closes.push(req.connId);
          if (m.contentType !== ContentType.Data) return;
          const d = decodeData(m);
          if (d.body.length === 0) return;
          if (!pull)
            pull = sodium.crypto_secretstream_xchacha20poly1305_init_pull(d.body, keys.sharedRx);
          else {
            const r = sodium.crypto_secretstream_xchacha20poly1305_pull(pull, d.body, null);
            received.push(r ? r.message : text('<forged>'));
          }
        },
        onChannelClosed: () => {},
      });
      let seq = 1;
      const push = (m: Uint8Array, flags = 0) =>
        encodeData({
          connId: req.connId,
          seq: seq++,
          flags,
          body: sodium.crypto_secretstream_xchacha20poly1305_push(state, m, null, 0),
        });
      const burst = [
        encodeStateConnected({ connId: req.connId, circuitId: 'c', publicKey: kp.publicKey }),
        ...script(push, header),
      ];
      void (async () => {
        await router.reply(msg, burst[0]!);
        for (const m of burst.slice(1)) {
          await router.send(m);
          (m as { onSent?: () => void }).onSent?.();
        }
      })();
    });
    return { client, router, received, closes };
  }

  it('reads data that follows StateConnected at once, multipart included, and is read by libsodium', async () => {
    const { client, received } = await setup((push, header) => {
      const hdr = encodeData({ connId: 1, seq: 0, body: header });
      return [
        { ...hdr, headers: new Map([[HeaderId.ConnId, hdr.headers.get(HeaderId.ConnId)!]]) },
        push(text('hello ')),
        push(joinMultipart([text('multi'), text('part '), text('world')]), EdgeFlag.MULTIPART_MSG),
        encodeData({ connId: 1, flags: EdgeFlag.FIN }),
      ];
    });
    const conn = await dialService(client, { sessionToken: 't', encryptionRequired: true });
    expect(conn.connId).toBe(1);
    expect(str(await readAll(conn.readable))).toBe('hello multipart world');
    const w = conn.writable.getWriter();
    await w.write(text('from us'));
    await new Promise((r) => setTimeout(r, 20));
    expect(received.map(str)).toEqual(['from us']);
    await client.close();
  });

  it('tampered ciphertext closes that connection only', async () => {
    const { client, closes } = await setup((push, header) => {
      const fine = push(text('fine '));
      const bad = push(text('evil'));
      bad.body[3]! ^= 0x40;
      return [encodeData({ connId: 1, body: header }), fine, bad];
    });
    const conn = await dialService(client, { sessionToken: 't', encryptionRequired: true });
    const reader = conn.readable.getReader();
    expect(str((await reader.read()).value!)).toBe('fine ');
    await expect(reader.read()).rejects.toBeInstanceOf(ZitiE2EError);
    expect((await conn.closed).initiator).toBe('error');
    await new Promise((r) => setTimeout(r, 20));
    expect(closes).toEqual([1]);
    expect(client.isClosed).toBe(false);
    await client.close();
  });

  it('a peer header that is not 24 bytes closes that connection only', async () => {
    const { client, closes } = await setup((_push, header) => [
      encodeData({ connId: 1, body: new Uint8Array([...header, 0]) }),
    ]);
    const conn = await dialService(client, { sessionToken: 't', encryptionRequired: true });
    await expect(conn.readable.getReader().read()).rejects.toBeInstanceOf(ZitiE2EError);
    await new Promise((r) => setTimeout(r, 20));
    expect(closes).toEqual([1]);
    expect(client.isClosed).toBe(false);
    await client.close();
  });

  it('Data after the peer FIN is a protocol error on that connection, not a silent drop', async () => {
    const { client, closes } = await setup((push, header) => [
      encodeData({ connId: 1, body: header }),
      push(text('body')),
      encodeData({ connId: 1, flags: EdgeFlag.FIN }),
      push(text('late bytes')),
    ]);
    const conn = await dialService(client, { sessionToken: 't', encryptionRequired: true });
    expect(str(await readAll(conn.readable))).toBe('body');
    const info = await conn.closed;
    expect(info.initiator).toBe('error');
    expect(info.error).toBeInstanceOf(ZitiProtocolError);
    await new Promise((r) => setTimeout(r, 20));
    expect(closes).toEqual([1]);
    expect(client.isClosed).toBe(false);
    await client.close();
  });

  it('StateClosed from the router during the burst is reported', async () => {
    const { client } = await setup((_p, header) => [
      encodeData({ connId: 1, body: header }),
      encodeStateClosed({ connId: 1, reason: 'circuit gone' }),
    ]);
    const conn = await dialService(client, { sessionToken: 't', encryptionRequired: true });
    expect(await readAll(conn.readable)).toHaveLength(0);
    expect(await conn.closed).toMatchObject({ initiator: 'remote', reason: 'circuit gone' });
    await client.close();
  });

  it('a far side that writes at once while our keys are slow is held back, not failed: all of it arrives', async () => {
    // Session keys that take 300 ms (a busy machine); the far side writes 10 MiB at once.
    const derive = crypto.subtle.deriveBits.bind(crypto.subtle);
    const slow = vi
      .spyOn(crypto.subtle, 'deriveBits')
      .mockImplementation(async (...args: Parameters<SubtleCrypto['deriveBits']>) => {
        await new Promise((r) => setTimeout(r, 300));
        return derive(...args);
      });
    const chunk = new Uint8Array(64 * 1024).fill(7);
    let sentBytes = 0;
    let sentBeforeKeys = -1;
    const { client } = await setup((push, header) => [
      encodeData({ connId: 1, body: header }),
      ...Array.from({ length: 160 }, () => {
        const m = push(chunk);
        return { ...m, headers: new Map(m.headers), onSent: () => (sentBytes += chunk.length) };
      }),
      encodeData({ connId: 1, flags: EdgeFlag.FIN }),
    ]);
    setTimeout(() => (sentBeforeKeys = sentBytes), 250);
    try {
      const conn = await dialService(client, {
        sessionToken: 't',
        encryptionRequired: true,
        receiveWindowBytes: 1024 * 1024,
      });
      const got = await readAll(conn.readable);
      expect(got.length).toBe(160 * chunk.length);
      // While the keys were derived the channel stopped reading past the window.
      expect(sentBeforeKeys).toBeGreaterThan(0);
      expect(sentBeforeKeys).toBeLessThanOrEqual(2 * 1024 * 1024);
    } finally {
      slow.mockRestore();
      await client.close();
    }
  });

  it('data and a StateClosed that come before the session keys are ready are read in order', async () => {
    // A target that writes and closes at once: the whole burst is in before our keys are derived.
    const { client } = await setup((push, header) => [
      encodeData({ connId: 1, body: header }),
      push(text('bye')),
      encodeStateClosed({ connId: 1, reason: 'target closed' }),
    ]);
    const conn = await dialService(client, { sessionToken: 't', encryptionRequired: true });
    expect(str(await readAll(conn.readable))).toBe('bye');
    expect(await conn.closed).toMatchObject({ initiator: 'remote', reason: 'target closed' });
    await client.close();
  });
});

describe('SDK flow control (UseXgressToSdk)', () => {
  interface Circuit {
    connId: number;
    circuitId: string;
    xg: XgressEndpoint;
    /** Client payloads in sequence order, as the router's endpoint delivered them. */
    got: XgPayload[];
    /** Bytes delivered that nobody read (the router side never reads in these tests). */
    unread: number;
  }

  /**
   * A router that grants flow control to every Connect and runs the terminator end of each
   * circuit. `timeline` records, in order, what the client sent and the acknowledgements the
   * router sent. `ackDelayMs` delays the router's acknowledgements.
   */
  function flowRouter(
    router: Channel,
    opts: { ackDelayMs?: number; terminator?: XgressOptions; grant?: boolean } = {},
  ) {
    const connects: Message[] = [];
    const circuits = new Map<string, Circuit>();
    const timeline: string[] = [];
    const fromClient: Message[] = [];
    router.handle(ContentType.Connect, (msg) => {
      connects.push(msg);
      const { connId } = decodeConnect(msg);
      const circuitId = `circuit-${connId}`;
      if (opts.grant === false) {
        void router.reply(msg, encodeStateConnected({ connId, circuitId }));
        return;
      }
      const c: Circuit = { connId, circuitId, got: [], unread: 0, xg: undefined as never };
      c.xg = new XgressEndpoint({
        circuitId,
        originator: 'terminator',
        connId,
        connIdOnAcks: true,
        send: async (m) => {
          if (m.contentType === ContentType.XgAcknowledgement) {
            if (opts.ackDelayMs) await new Promise((r) => setTimeout(r, opts.ackDelayMs));
            timeline.push(`ack ${decodeAck(m).sequences.join(',')}`);
          }
          await router.send(m);
        },
        deliver: (p) => {
          c.got.push(p);
          c.unread += p.data.length;
        },
        pendingBytes: () => c.unread,
        options: opts.terminator,
      });
      circuits.set(circuitId, c);
      void router.reply(
        msg,
        encodeStateConnected({
          connId,
          circuitId,
          xgress: { ctrlId: 'ctrl-1', address: 'router-1' },
        }),
      );
    });
    const record = (m: Message) => void fromClient.push(m);
    router.handle(ContentType.XgPayload, (m) => {
      record(m);
      const p = decodePayload(m);
      timeline.push(`payload ${p.sequence}`);
      circuits.get(p.circuitId)?.xg.onPayload(p);
    });
    router.handle(ContentType.XgAcknowledgement, (m) => {
      record(m);
      const a = decodeAck(m);
      circuits.get(a.circuitId)?.xg.onAck(a);
    });
    router.handle(ContentType.XgClose, (m) => {
      record(m);
      timeline.push(`close ${decodeXgClose(m)}`);
    });
    router.handle(ContentType.Data, record);
    router.handle(ContentType.StateClosed, record);
    return { connects, circuits, timeline, fromClient };
  }

  const fin = () => new Map([[PAYLOAD_EDGE_FLAGS_KEY, u32Bytes(EdgeFlag.FIN)]]);
  const bodies = (c: Circuit) => str(concat(c.got.map((p) => p.data)));
  const waitFor = async (cond: () => boolean) => {
    for (let i = 0; i < 300 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(cond()).toBe(true);
  };

  it('asks for it, carries data both ways as payloads, and ends with CircuitEnd then XgClose', async () => {
    const { client, router } = await channelPair();
    const { connects, circuits, timeline, fromClient } = flowRouter(router, { ackDelayMs: 20 });
    const conn = (await dialService(client, {
      sessionToken: 't',
      encryptionRequired: false,
      flowControl: true,
    })) as EdgeConnectionImpl;
    expect(decodeConnect(connects[0]!).useXgressToSdk).toBe(true);
    expect(connects[0]!.headers.get(HeaderId.UseXgressToSdk)).toEqual(Uint8Array.of(1));
    expect(conn.flowControlled).toBe(true);
    const c = circuits.get(conn.circuitId!)!;

    const w = conn.writable.getWriter();
    await w.write(text('hello '));
    await w.write(new Uint8Array(70_000).fill(66)); // more than one payload
    await c.xg.write(text('from the router'));
    await c.xg.write(new Uint8Array(0), fin());
    await c.xg.sendControl(PayloadFlag.EOF);
    // The router's FIN ends the client's readable.
    expect(str(await readAll(conn.readable))).toBe('from the router');
    await w.close();
    const info = await conn.closed;
    expect(info.reason).toBe('both sides finished');
    await waitFor(() => timeline.some((t) => t.startsWith('close')));

    const start = c.got[0]!;
    expect(start.sequence).toBe(0);
    expect(start.flags & PayloadFlag.CircuitStart).toBeTruthy();
    expect(start.data).toHaveLength(0);
    expect(bodies(c)).toBe(`hello ${'B'.repeat(70_000)}`);
    expect(c.got.every((p) => p.data.length <= 32 * 1024)).toBe(true);
    // FIN: an empty payload with the edge flags header, then EOF, then CircuitEnd.
    const tail = c.got.slice(-3);
    expect(tail.map((p) => [p.data.length, edgeFlagsOf(p), p.flags])).toEqual([
      [0, EdgeFlag.FIN, 0],
      [0, 0, PayloadFlag.EOF],
      [0, 0, PayloadFlag.CircuitEnd],
    ]);
    // XgClose (body: the circuit id) comes last, after the router acknowledged every payload
    // before the CircuitEnd; no Data and no StateClosed on a flow-controlled connection.
    const end = tail[2]!.sequence;
    const endAt = timeline.indexOf(`payload ${end}`);
    const ackedBefore = timeline
      .slice(0, endAt)
      .filter((t) => t.startsWith('ack '))
      .flatMap((t) => t.slice(4).split(',').map(Number));
    for (let s = 0; s < end; s++) expect(ackedBefore).toContain(s);
    expect(timeline.at(-1)).toBe(`close ${conn.circuitId}`);
    const close = fromClient.filter((m) => m.contentType === ContentType.XgClose);
    expect(close).toHaveLength(1);
    expect(str(close[0]!.body)).toBe(conn.circuitId);
    expect(fromClient.some((m) => m.contentType === ContentType.Data)).toBe(false);
    expect(fromClient.some((m) => m.contentType === ContentType.StateClosed)).toBe(false);
    expect(EdgeMux.of(client).size).toBe(0);
    await client.close();
  });

  it('close() sends CircuitEnd and XgClose', async () => {
    const { client, router } = await channelPair();
    const { circuits, fromClient } = flowRouter(router);
    const conn = await dialService(client, { sessionToken: 't', encryptionRequired: false });
    const w = conn.writable.getWriter();
    await w.write(text('bye'));
    await conn.close('done');
    expect((await conn.closed).initiator).toBe('local');
    await waitFor(() => fromClient.some((m) => m.contentType === ContentType.XgClose));
    const c = circuits.get(conn.circuitId!)!;
    expect(c.got.at(-1)!.flags & PayloadFlag.CircuitEnd).toBeTruthy();
    expect(bodies(c)).toBe('bye');
    const close = fromClient.find((m) => m.contentType === ContentType.XgClose)!;
    expect(str(close.body)).toBe(conn.circuitId);
    expect(fromClient.some((m) => m.contentType === ContentType.StateClosed)).toBe(false);
    await client.close();
  });

  it('a grant without XgressCtrlId fails the dial with ZitiProtocolError', async () => {
    const { client, router } = await channelPair();
    router.handle(ContentType.Connect, (msg) => {
      const reply = encodeStateConnected({ connId: decodeConnect(msg).connId, circuitId: 'c1' });
      setHeaderBool(reply, HeaderId.UseXgressToSdk, true);
      setHeaderString(reply, HeaderId.XgressAddress, 'router-1');
      void router.reply(msg, reply);
    });
    const err = await dialService(client, { sessionToken: 't', encryptionRequired: false }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(ZitiProtocolError);
    expect(EdgeMux.of(client).size).toBe(0);
    expect(client.isClosed).toBe(false);
    await client.close();
  });

  it('a router that does not grant it keeps Data framing', async () => {
    const { client, router } = await channelPair();
    const { connects, fromClient } = flowRouter(router, { grant: false });
    const conn = await dialService(client, {
      sessionToken: 't',
      encryptionRequired: false,
      flowControl: true,
    });
    expect(decodeConnect(connects[0]!).useXgressToSdk).toBe(true);
    expect(conn.flowControlled).toBe(false);
    const w = conn.writable.getWriter();
    await w.write(text('plain'));
    await waitFor(() => fromClient.some((m) => m.contentType === ContentType.Data));
    expect(decodeData(fromClient.find((m) => m.contentType === ContentType.Data)!).body).toEqual(
      text('plain'),
    );
    expect(fromClient.some((m) => m.contentType === ContentType.XgPayload)).toBe(false);
    await client.close();
  });

  it('is not asked for by default: UseXgressToSdk=false', async () => {
    const { client, router } = await channelPair();
    const { connects } = flowRouter(router, { grant: false });
    const conn = await dialService(client, { sessionToken: 't', encryptionRequired: false });
    expect(connects[0]!.headers.get(HeaderId.UseXgressToSdk)).toEqual(Uint8Array.of(0));
    expect(conn.flowControlled).toBe(false);
    await client.close();
  });

  it('a slow reader never pauses the channel and its queue stays bounded', async () => {
    const LIMIT = 256 * 1024;
    const ROUTER_WINDOW = 128 * 1024;
    const TOTAL = 4 * 1024 * 1024;
    const { client, router } = await channelPair({}, {}, 64 * 1024);
    const { circuits } = flowRouter(router, { terminator: { windowBytes: ROUTER_WINDOW } });
    const options = {
      sessionToken: 't',
      encryptionRequired: false,
      flowControlOptions: { receiveLimitBytes: LIMIT },
    };
    const slow = (await dialService(client, options)) as EdgeConnectionImpl;
    const sc = circuits.get(slow.circuitId!)!;
    const chunk = 32 * 1024;
    const sending = (async () => {
      for (let sent = 0; sent < TOTAL; sent += chunk) {
        await sc.xg.write(new Uint8Array(chunk).fill((sent / chunk) & 0xff));
      }
      await sc.xg.write(new Uint8Array(0), fin());
    })();
    await waitFor(() => (slow.flowStats?.held ?? 0) > 0);

    // Another connection on the same channel carries a megabyte while the slow one is not read.
    const other = (await dialService(client, options)) as EdgeConnectionImpl;
    const oc = circuits.get(other.circuitId!)!;
    const ow = other.writable.getWriter();
    await ow.write(new Uint8Array(1024 * 1024).fill(7));
    await waitFor(() => oc.unread === 1024 * 1024);
    const back = readAll(other.readable);
    for (let i = 0; i < 32; i++) await oc.xg.write(new Uint8Array(chunk).fill(9));
    await oc.xg.write(new Uint8Array(0), fin());
    expect((await back).length).toBe(32 * chunk);

    await new Promise((r) => setTimeout(r, 100));
    // The slow one: at most the receive limit plus what the router may have in flight.
    expect(slow.queuedBytes).toBeGreaterThan(LIMIT);
    expect(slow.queuedBytes).toBeLessThanOrEqual(LIMIT + ROUTER_WINDOW + chunk);
    // Nothing was sent twice in bulk: only the held payload is retransmitted.
    expect(sc.xg.retransmits).toBeLessThan(20);

    // Resume: everything arrives in order.
    const reader = slow.readable.getReader();
    let got = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (let i = 0; i < value.length; i += chunk - ((got + i) % chunk)) {
        expect(value[i]).toBe(Math.floor((got + i) / chunk) & 0xff);
      }
      got += value.length;
    }
    await sending;
    expect(got).toBe(TOTAL);
    expect(client.isClosed).toBe(false);
    await client.close();
  });

  it('cancelling the readable releases a held acknowledgement: the far end can finish', async () => {
    const { client, router } = await channelPair();
    const { circuits } = flowRouter(router, { terminator: { windowBytes: 64 * 1024 } });
    const conn = (await dialService(client, {
      sessionToken: 't',
      encryptionRequired: false,
      flowControlOptions: { receiveLimitBytes: 128 * 1024 },
    })) as EdgeConnectionImpl;
    const c = circuits.get(conn.circuitId!)!;
    let done = false;
    const sending = (async () => {
      for (let i = 0; i < 64; i++) await c.xg.write(new Uint8Array(32 * 1024));
      done = true;
    })();
    await waitFor(() => (conn.flowStats?.held ?? 0) > 0);
    expect(done).toBe(false);
    await conn.readable.cancel();
    await sending;
    expect(done).toBe(true);
    // Writing still works after the reading side was given up.
    await conn.writable.getWriter().write(text('still writing'));
    await waitFor(() => bodies(c) === 'still writing');
    await client.close();
  });

  it('Data on a flow-controlled connection is a protocol error on that connection only', async () => {
    const { client, router } = await channelPair();
    const { circuits, fromClient } = flowRouter(router);
    const bad = await dialService(client, { sessionToken: 't', encryptionRequired: false });
    const good = await dialService(client, { sessionToken: 't', encryptionRequired: false });
    await router.send(encodeData({ connId: bad.connId, seq: 1, body: text('not a payload') }));
    const info = await bad.closed;
    expect(info.initiator).toBe('error');
    expect(info.error).toBeInstanceOf(ZitiProtocolError);
    await waitFor(() =>
      fromClient.some(
        (m) => m.contentType === ContentType.XgClose && str(m.body) === bad.circuitId,
      ),
    );
    const gc = circuits.get(good.circuitId!)!;
    await gc.xg.write(text('still fine'));
    await gc.xg.write(new Uint8Array(0), fin());
    expect(str(await readAll(good.readable))).toBe('still fine');
    expect(client.isClosed).toBe(false);
    await client.close();
  });

  it('a StateClosed while a payload is missing ends the readable with an error, not a clean end', async () => {
    const { client, router } = await channelPair();
    flowRouter(router);
    const conn = await dialService(client, { sessionToken: 't', encryptionRequired: false });
    const payload = (sequence: number, body: string) =>
      encodePayload(
        {
          circuitId: conn.circuitId!,
          sequence,
          flags: PayloadFlag.Originator,
          rtt: 0,
          headers: new Map(),
          data: text(body),
        },
        conn.connId,
      );
    // Seq 1 never comes (a router dropped it and the circuit went away before its resend).
    await router.send(payload(0, 'first '));
    await router.send(payload(2, 'third'));
    await router.send(encodeStateClosed({ connId: conn.connId, reason: 'xgress unrouted' }));
    const reader = conn.readable.getReader();
    expect(str((await reader.read()).value!)).toBe('first ');
    await expect(reader.read()).rejects.toThrow(/closed by peer: xgress unrouted/);
    expect((await conn.closed).initiator).toBe('remote');
    await client.close();
  });
});
