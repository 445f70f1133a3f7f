import { describe, expect, it, vi } from 'vitest';
import { duplexPair } from '../../streams/pair.ts';
import { channelPair, concat, hex, toHex } from '../_test/fixtures.ts';
import {
  ZitiAuthenticationError,
  ZitiChannelClosedError,
  ZitiHelloRejectedError,
  ZitiProtocolError,
  ZitiTimeoutError,
} from '../errors.ts';
import { encodeMessage, MessageDecoder } from './codec.ts';
import { ContentType, HeaderId } from './constants.ts';
import {
  acceptChannel,
  encodeHello,
  encodeHelloResult,
  openChannel,
  startChannel,
} from './hello.ts';
import {
  getHeaderI32,
  getHeaderString,
  getHeaderU64,
  i32Bytes,
  type Message,
  newMessage,
  setHeaderBool,
  setHeaderString,
} from './message.ts';

describe('hello handshake', () => {
  it('sends seq -1, SessionToken, CallerId and no grouping headers; reads the Result', async () => {
    const { client, router } = await channelPair(
      { sessionToken: 'sess-1', callerId: 'ws:' },
      {
        connectionId: 'router-ch-7',
        onHello: () => ({ accept: true, headers: new Map([[1024, Uint8Array.of(1)]]) }),
      },
    );
    const hello = router.peerHello!;
    expect(hello.contentType).toBe(ContentType.Hello);
    expect(hello.sequence).toBe(-1);
    expect([...hello.headers.keys()]).toEqual([HeaderId.SessionToken, HeaderId.CallerId]);
    expect(getHeaderString(hello, HeaderId.SessionToken)).toBe('sess-1');
    expect(client.connectionId).toBe('router-ch-7');
    expect(client.helloResult!.sequence).toBe(-1);
    expect(getHeaderI32(client.helloResult!, HeaderId.ReplyFor)).toBe(-1);
    expect(client.helloResult!.headers.get(1024)).toEqual(Uint8Array.of(1));
    await client.close();
    expect((await router.closed).initiator).toBe('remote');
  });

  it('a rejected hello is a ZitiHelloRejectedError with the reject class', async () => {
    const [a, b] = duplexPair();
    const routerSide = acceptChannel(b, {
      onHello: () => ({ accept: false, message: 'go away', rejectClass: 'auth' }),
    }).catch((e) => e);
    const err = await openChannel(a, { sessionToken: 'x', latencyIntervalMs: 0 }).catch((e) => e);
    expect(err).toBeInstanceOf(ZitiHelloRejectedError);
    expect(err.message).toBe('go away');
    expect(err.rejectClass).toBe('auth');
    expect(await routerSide).toBeInstanceOf(ZitiHelloRejectedError);
  });

  it('ACK then close (router validates after the ACK) is an authentication failure', async () => {
    const [a, b] = duplexPair();
    const routerSide = acceptChannel(b, {
      validateAfterAck: (hello) => {
        if (getHeaderString(hello, HeaderId.SessionToken) !== 'good')
          throw new Error('invalid api session');
      },
    }).catch((e) => e);
    const err = await openChannel(a, { sessionToken: 'bad', latencyIntervalMs: 0 }).catch((e) => e);
    expect(err).toBeInstanceOf(ZitiAuthenticationError);
    expect((await routerSide).message).toBe('invalid api session');
  });

  it('sends the session probe behind the hello, before the Result arrives', async () => {
    const [a, b] = duplexPair();
    const reader = b.readable.getReader();
    const writer = b.writable.getWriter();
    const decoder = new MessageDecoder();
    const read = async (n: number) => {
      const got: Message[] = [];
      while (got.length < n) got.push(...decoder.push((await reader.read()).value!));
      return got;
    };
    // A router that answers nothing until it has read two frames: a client that waited for the
    // Result before probing would time out here.
    const router = (async () => {
      const [hello, probe] = (await read(2)) as [Message, Message];
      const answer = newMessage(ContentType.Result);
      answer.sequence = 1;
      answer.headers.set(HeaderId.ReplyFor, i32Bytes(probe.sequence));
      setHeaderBool(answer, HeaderId.ResultSuccess, true);
      const result = encodeHelloResult({ connectionId: 'c', replyFor: -1, success: true });
      await writer.write(concat([encodeMessage(result), encodeMessage(answer)]));
      return { hello, probe };
    })();
    const ch = await openChannel(a, {
      sessionToken: 's',
      latencyIntervalMs: 0,
      helloTimeoutMs: 500,
    });
    const { hello, probe } = await router;
    expect(hello.contentType).toBe(ContentType.Hello);
    expect(probe.contentType).toBe(ContentType.Latency);
    expect(probe.sequence).toBe(1);
    expect(ch.latencyMs).toBeGreaterThanOrEqual(0);
    // The channel numbers on after the probe.
    void ch.request(newMessage(ContentType.Latency), 100).catch(() => {});
    expect((await read(1))[0]!.sequence).toBe(2);
    await ch.close();
  });

  it('startChannel: a request goes out behind the hello and its probe, and the router binds its handler before reading it', async () => {
    const [a, b] = duplexPair();
    const seenByRouter: number[] = [];
    const routerSide = acceptChannel(b, {
      bind: (ch) =>
        ch.handle(ContentType.Connect, async (msg) => {
          seenByRouter.push(msg.contentType);
          await ch.reply(msg, newMessage(ContentType.StateConnected));
        }),
    });
    const { channel, opened } = startChannel(a, { sessionToken: 's', latencyIntervalMs: 0 });
    expect(channel.helloResult).toBeUndefined();
    // Sent before the Result could have arrived: sequence 2, after the probe's 1.
    const reply = await channel.request(newMessage(ContentType.Connect));
    expect(reply.contentType).toBe(ContentType.StateConnected);
    expect(getHeaderI32(reply, HeaderId.ReplyFor)).toBe(2);
    expect(await opened).toBe(channel);
    expect(channel.helloResult).toBeDefined();
    expect(seenByRouter).toEqual([ContentType.Connect]);
    await channel.close();
    await (await routerSide).closed;
  });

  it('acceptChannel: messages read together with the hello reach the handlers `bind` installed', async () => {
    const [a, b] = duplexPair();
    const writer = a.writable.getWriter();
    const connect = newMessage(ContentType.Connect);
    connect.sequence = 1;
    // Hello and a dial in one write: they are decoded in one read.
    void writer.write(
      concat([encodeMessage(encodeHello({ sessionToken: 's' })), encodeMessage(connect)]),
    );
    const bound: number[] = [];
    const router = await acceptChannel(b, {
      bind: (ch) => ch.handle(ContentType.Connect, (msg) => void bound.push(msg.sequence)),
    });
    await vi.waitFor(() => expect(bound).toEqual([1]));
    await router.close();
  });

  it('startChannel: a refused session fails what was sent behind the hello with the refusal, and `opened` says why', async () => {
    const [a, b] = duplexPair();
    void acceptChannel(b, {
      validateAfterAck: () => {
        throw new Error('invalid api session');
      },
    }).catch(() => {});
    const { channel, opened } = startChannel(a, { sessionToken: 'bad', latencyIntervalMs: 0 });
    const dial = await channel.request(newMessage(ContentType.Connect)).catch((e) => e);
    expect(dial).toBeInstanceOf(ZitiChannelClosedError);
    expect(await opened.catch((e) => e)).toBeInstanceOf(ZitiAuthenticationError);
    expect(channel.isClosed).toBe(true);

    const [c, d] = duplexPair();
    void acceptChannel(d, {
      onHello: () => ({ accept: false, message: 'go away', rejectClass: 'auth' }),
    }).catch(() => {});
    const refused = startChannel(c, { sessionToken: 'x', latencyIntervalMs: 0 });
    const sent = refused.channel.request(newMessage(ContentType.Connect)).catch((e) => e);
    expect(await refused.channel.answered.catch((e) => e)).toBeInstanceOf(ZitiHelloRejectedError);
    expect((await sent).cause).toBeInstanceOf(ZitiHelloRejectedError);
    expect(await refused.opened.catch((e) => e.rejectClass)).toBe('auth');
  });

  it('without verifySession the close right after the hello is reported on `closed`', async () => {
    const [a, b] = duplexPair();
    void acceptChannel(b, {
      validateAfterAck: () => {
        throw new Error('no client certificates provided');
      },
    }).catch(() => {});
    const ch = await openChannel(a, {
      sessionToken: 'x',
      latencyIntervalMs: 0,
      verifySession: false,
    });
    const info = await ch.closed;
    expect(info.initiator).toBe('error');
    expect(info.error).toBeInstanceOf(ZitiAuthenticationError);
  });

  it('a transport that fails during the hello is a ZitiChannelClosedError', async () => {
    const failing = {
      readable: new ReadableStream<Uint8Array>({
        pull(c) {
          c.error(new Error('socket reset'));
        },
      }),
      writable: new WritableStream<Uint8Array>(),
    };
    const err = await openChannel(failing, { sessionToken: 'x' }).catch((e) => e);
    expect(err).toBeInstanceOf(ZitiChannelClosedError);
    expect(err.cause.message).toBe('socket reset');
  });

  it('times out when the router never answers', async () => {
    const [a] = duplexPair();
    const err = await openChannel(a, { sessionToken: 'x', helloTimeoutMs: 50 }).catch((e) => e);
    expect(err).toBeInstanceOf(ZitiTimeoutError);
  });

  it('router answers a bad magic with the unknown-version reply', async () => {
    const [a, b] = duplexPair();
    const routerSide = acceptChannel(b).catch((e) => e);
    const w = a.writable.getWriter();
    await w.write(hex('0306090d 00000000 ffffffff 00000000 00000000'));
    const reply = (await a.readable.getReader().read()).value!;
    expect(toHex(reply)).toBe('0306090a020000000100000002000000');
    expect((await routerSide).fault).toBe('bad-magic');
  });

  it("router's Result reflects the hello's UUID (header 128), as real ackHello", async () => {
    const [a, b] = duplexPair();
    const routerSide = acceptChannel(b);
    const uuid = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
    await a.writable.getWriter().write(encodeMessage(encodeHello({ sessionToken: 's', uuid })));
    const result = new MessageDecoder().push((await a.readable.getReader().read()).value!)[0]!;
    expect(result.contentType).toBe(ContentType.Result);
    expect(result.headers.get(HeaderId.Reflected)).toEqual(uuid);
    await (await routerSide).close();
  });

  it('client takes a hello Result with or without header 128', async () => {
    for (const reflected of [undefined, Uint8Array.of(9, 9, 9)]) {
      const [a, b] = duplexPair();
      const opened = openChannel(a, {
        sessionToken: 's',
        latencyIntervalMs: 0,
        verifySession: false,
      });
      const hello = new MessageDecoder().push((await b.readable.getReader().read()).value!)[0]!;
      const result = encodeHelloResult({
        connectionId: 'c',
        replyFor: hello.sequence,
        reflected,
        success: true,
      });
      await b.writable.getWriter().write(encodeMessage(result));
      const ch = await opened;
      expect(ch.helloResult!.headers.get(HeaderId.Reflected)).toEqual(reflected);
      await ch.close();
    }
  });

  it('router refuses an oversized hello from its prefix', async () => {
    const [a, b] = duplexPair();
    const routerSide = acceptChannel(b).catch((e) => e);
    const w = a.writable.getWriter();
    await w.write(hex('0306090c 00000000 ffffffff 01400000 00000000')); // 16385 header bytes
    const err = await routerSide;
    expect(err).toBeInstanceOf(ZitiProtocolError);
    expect(err.fault).toBe('hello-too-large');
  });
});

describe('requests, replies, probes, close', () => {
  it('numbers sent messages from 1 on both sides, as a Go channel (reference §2.3)', async () => {
    const { client, router } = await channelPair({ verifySession: false });
    const atRouter: number[] = [];
    const atClient: number[] = [];
    router.handle(60999, (m) => void atRouter.push(m.sequence));
    client.handle(60999, (m) => void atClient.push(m.sequence));
    await client.send(newMessage(60999));
    await client.send(newMessage(60999));
    await router.send(newMessage(60999));
    await vi.waitFor(() => expect([atRouter, atClient]).toEqual([[1, 2], [1]]));
    await client.close();
  });

  it('matches replies by ReplyFor, in any order, and copies the reflected header', async () => {
    const { client, router } = await channelPair();
    const held: Parameters<Parameters<typeof router.handle>[1]>[0][] = [];
    router.handle(60999, (msg) => {
      held.push(msg);
      if (held.length === 2) {
        // answer the second first
        for (const m of [held[1]!, held[0]!]) {
          const r = newMessage(ContentType.Result);
          setHeaderString(r, 0, new TextDecoder().decode(m.body));
          void router.reply(m, r);
        }
      }
    });
    const ask = (text: string) => {
      const m = newMessage(
        60999,
        new Map([[HeaderId.Reflected, Uint8Array.of(9, 9)]]),
        new TextEncoder().encode(text),
      );
      return client.request(m);
    };
    const [r1, r2] = await Promise.all([ask('one'), ask('two')]);
    expect(getHeaderString(r1, 0)).toBe('one');
    expect(getHeaderString(r2, 0)).toBe('two');
    expect(r1.headers.get(HeaderId.Reflected)).toEqual(Uint8Array.of(9, 9));
    expect(client.pendingRequests).toBe(0);
    await client.close();
  });

  it('a request without reply times out and is forgotten', async () => {
    const { client } = await channelPair();
    const err = await client.request(newMessage(60999), 30).catch((e) => e);
    expect(err).toBeInstanceOf(ZitiTimeoutError);
    expect(client.pendingRequests).toBe(0);
    await client.close();
  });

  it('records the handshake probe as the first latency, and measures again on demand', async () => {
    const { client } = await channelPair();
    expect(client.latencyMs).toBeGreaterThanOrEqual(0);
    const first = client.latencyAt!;
    expect(first).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 5));
    await client.measureLatency();
    expect(client.latencyAt!).toBeGreaterThan(first);
    await client.close();
  });

  it('probes latency (ct 3, header 128 = UnixNano) and the peer answers it', async () => {
    const { client, router } = await channelPair({ latencyIntervalMs: 20 });
    await new Promise((r) => setTimeout(r, 80));
    expect(client.latencyMs).toBeGreaterThanOrEqual(0);
    // The router side answers without any handler of ours; check the probe format on a raw peer too.
    const probe = newMessage(ContentType.Latency);
    const ns = BigInt(Date.now()) * 1_000_000n;
    probe.headers.set(HeaderId.Reflected, new Uint8Array(new BigUint64Array([ns]).buffer));
    const reply = await router.request(probe);
    expect(reply.contentType).toBe(ContentType.Result);
    expect(getHeaderU64(reply, HeaderId.Reflected)).toBe(ns);
    await client.close();
  });

  it('closing fails every pending request with ZitiChannelClosedError', async () => {
    const { client, router } = await channelPair();
    const pending = [client.request(newMessage(60999)), client.request(newMessage(60999))];
    await router.close();
    const results = await Promise.allSettled(pending);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(ZitiChannelClosedError);
    }
    expect((await client.closed).initiator).toBe('remote');
    await expect(client.send(newMessage(60999))).rejects.toBeInstanceOf(ZitiChannelClosedError);
  });

  it('closes when a latency probe goes unanswered and nothing was read meanwhile', async () => {
    const { client, router } = await channelPair({ latencyIntervalMs: 30, requestTimeoutMs: 40 });
    router.handle(60999, () => new Promise<void>(() => {})); // the router stops answering
    await client.send(newMessage(60999));
    const info = await client.closed;
    expect(info.initiator).toBe('error');
    expect(info.error).toBeInstanceOf(ZitiTimeoutError);
  });

  it('close() returns even when the peer stopped reading', async () => {
    const { client, router } = await channelPair({}, {}, 16 * 1024);
    router.handle(60999, () => new Promise<void>(() => {})); // blocks the router's read loop
    const sends = Array.from({ length: 8 }, () =>
      client.send(newMessage(60999, new Map(), new Uint8Array(64 * 1024))),
    );
    for (const p of sends) p.catch(() => {});
    await new Promise((r) => setTimeout(r, 20));
    await client.close();
    expect((await client.closed).initiator).toBe('local');
  });

  it('a protocol error from the peer closes the channel with that error', async () => {
    const [a, b] = duplexPair();
    const routerSide = (async () => {
      const reader = b.readable.getReader();
      const d = new MessageDecoder();
      const hello = d.push((await reader.read()).value!)[0]!;
      const result = newMessage(ContentType.Result, new Map([[2, Uint8Array.of(1)]]));
      result.sequence = -1;
      const w = b.writable.getWriter();
      await w.write(encodeMessage(result));
      // answer the verification probe, then send garbage
      for (;;) {
        const msgs = d.push((await reader.read()).value!);
        const probe = msgs.find((m) => m.contentType === ContentType.Latency);
        if (probe) {
          const r = newMessage(
            ContentType.Result,
            new Map([[1, new Uint8Array(new Int32Array([probe.sequence]).buffer)]]),
          );
          await w.write(encodeMessage(r));
          break;
        }
      }
      await w.write(hex('deadbeef'.repeat(5)));
      return hello;
    })();
    const ch = await openChannel(a, { sessionToken: 's', latencyIntervalMs: 0 });
    await routerSide;
    const info = await ch.closed;
    expect(info.initiator).toBe('error');
    expect(info.error).toBeInstanceOf(ZitiProtocolError);
  });
});

describe('frames on the transport', () => {
  /** A channel pair whose client transport logs every write, and says whether it copies them. */
  async function loggedPair(writesCopied: boolean) {
    const [a, b] = duplexPair({ highWaterMarkBytes: 1 << 20 });
    const writes: Uint8Array[] = [];
    const writer = a.writable.getWriter();
    const writable = new WritableStream<Uint8Array>({
      write(chunk) {
        writes.push(chunk);
        return writer.write(chunk.slice());
      },
    });
    const [client, router] = await Promise.all([
      openChannel(
        { readable: a.readable, writable, writesCopied },
        { sessionToken: 'api-session', latencyIntervalMs: 0 },
      ),
      acceptChannel(b, {}),
    ]);
    writes.length = 0;
    return { client, router, writes };
  }
  const big = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 7 + seed) & 0xff);

  it('a transport that copies its writes gets a large body as a write of its own, after its head; frames sent together stay whole', async () => {
    const { client, router, writes } = await loggedPair(true);
    const got: Message[] = [];
    router.handle(60999, (m) => void got.push(m));
    const bodies = [big(32 * 1024, 1), big(100, 2), big(5000, 3), big(32 * 1024, 4)];
    await Promise.all(bodies.map((body) => client.send(newMessage(60999, new Map(), body))));
    await vi.waitFor(() => expect(got).toHaveLength(4));
    expect(got.map((m) => toHex(m.body))).toEqual(bodies.map(toHex));
    // The large bodies were handed over as they were, each right behind its own head.
    expect(writes).toHaveLength(7);
    for (const i of [0, 3]) {
      const at = writes.indexOf(bodies[i]!);
      expect(at).toBeGreaterThan(0);
      expect(new MessageDecoder().push(concat([writes[at - 1]!, writes[at]!]))).toHaveLength(1);
    }
    await client.close();
  });

  it('any other transport gets one whole frame per write', async () => {
    const { client, router, writes } = await loggedPair(false);
    const got: Message[] = [];
    router.handle(60999, (m) => void got.push(m));
    const body = big(32 * 1024, 5);
    await client.send(newMessage(60999, new Map(), body));
    await vi.waitFor(() => expect(got).toHaveLength(1));
    expect(toHex(got[0]!.body)).toBe(toHex(body));
    expect(writes).toHaveLength(1);
    expect(toHex(writes[0]!)).toBe(
      toHex(encodeMessage({ ...newMessage(60999, new Map(), body), sequence: got[0]!.sequence })),
    );
    await client.close();
  });
});
