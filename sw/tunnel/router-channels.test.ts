import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebSocket as NodeWebSocket } from 'ws';
import { nodeSocketDuplex } from '../../fabric/_internal/node-duplex.ts';
import type { FabricPki } from '../../fabric/pki.ts';
import type { StoredIdentity } from '../../shared/identity/store.ts';
import {
  acceptChannel,
  type Channel,
  ContentType,
  type EdgeRouterInfo,
  HeaderId,
  MessageDecoder,
  newMessage,
  stringBytes,
  ZitiAuthenticationError,
} from '../../shared/ziti/index.ts';
import {
  pemsOf,
  routerAt,
  routerTlsServer,
  testPki,
  webSocketListener,
  workerIdentity,
} from './_test/router-fixtures.ts';
import { CaTrust } from './ca-trust.ts';
import { RouterChannels } from './router-channels.ts';

/** Records the URLs the worker tries; every WebSocket fails to open. */
function failingWebSockets(): string[] {
  const tried: string[] = [];
  vi.stubGlobal(
    'WebSocket',
    class extends EventTarget {
      readyState = 0;
      binaryType = 'blob';
      constructor(url: string) {
        super();
        tried.push(url);
        queueMicrotask(() => {
          this.readyState = 3;
          this.dispatchEvent(new Event('error'));
          this.dispatchEvent(new Event('close'));
        });
      }
      close() {}
    },
  );
  return tried;
}

const identity = (devAllowPlainWs?: true) =>
  ({
    config: { controller: 'http://localhost:1280', service: 'demo', devAllowPlainWs },
  }) as unknown as StoredIdentity;

const routers: EdgeRouterInfo[] = [
  { name: 'er1', supportedProtocols: { wss: 'wss://er1:3023', ws: 'ws://er1:3024' } },
  { name: 'er2', supportedProtocols: { ws: 'ws://er2:3024' } },
];

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('RouterChannels protocol choice', () => {
  it('uses only wss URLs unless config.json allows plain ws', async () => {
    const tried = failingWebSockets();
    await expect(new RouterChannels(identity()).channelFor(routers)).rejects.toMatchObject({
      name: 'TunnelError',
      code: 'router-unreachable',
    });
    expect(tried).toEqual(['wss://er1:3023/ws']);
    await expect(new RouterChannels(identity()).channelFor([routers[1]!])).rejects.toMatchObject({
      name: 'TunnelError',
      code: 'no-router',
    });
  });

  it('with devAllowPlainWs, tries plain ws URLs after every wss one', async () => {
    const tried = failingWebSockets();
    await expect(new RouterChannels(identity(true)).channelFor(routers)).rejects.toMatchObject({
      name: 'TunnelError',
      code: 'router-unreachable',
    });
    expect(tried).toEqual(['wss://er1:3023/ws', 'ws://er1:3024/ws', 'ws://er2:3024/ws']);
  });
});

/**
 * Refreshed OIDC access tokens reach open channels (UpdateToken, reference §1.5). Each router is a
 * Node TLS server inside a WebSocket, as in router-identity.test.ts, running the router side of
 * the channel (acceptChannel) and answering UpdateToken as told.
 */
describe('RouterChannels.updateIdentity: UpdateToken on open channels', () => {
  let pki: FabricPki;
  let base: StoredIdentity;
  const closers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    pki = await testPki('router-channels');
    base = await workerIdentity(pki, {
      token: 'eyJ.first.token',
      id: 'asid-1',
      identityId: 'id',
      identityName: 'alice',
      oidc: { refreshToken: 'refresh-1', receivedAt: 0, expiresAt: 1 },
    });
  });
  afterAll(async () => {
    for (const close of closers) await close();
  });

  /**
   * A router whose UpdateToken answer is `verdict`; records hellos and UpdateTokens. With `own`,
   * a router of another PKI (one a rewritten CA bundle would trust), taking any client.
   */
  async function router(verdict: 'accept' | 'refuse', own?: FabricPki) {
    const serverPki = own ?? pki;
    const hellos: string[] = [];
    const updates: { contentType: number; token: string }[] = [];
    const channels: Channel[] = [];
    const tls = routerTlsServer(serverPki, !own);
    tls.on('secureConnection', (sock) => {
      void acceptChannel(nodeSocketDuplex(sock), {
        onHello: (hello) => {
          hellos.push(new TextDecoder().decode(hello.headers.get(HeaderId.SessionToken)));
          return { accept: true };
        },
      }).then(
        (ch) => {
          channels.push(ch);
          ch.handle(ContentType.UpdateToken, (msg) => {
            updates.push({
              contentType: msg.contentType,
              token: new TextDecoder().decode(msg.body),
            });
            void ch.reply(
              msg,
              verdict === 'accept'
                ? newMessage(ContentType.UpdateTokenSuccess, new Map(), new Uint8Array())
                : newMessage(
                    ContentType.UpdateTokenFailure,
                    new Map(),
                    stringBytes('token invalid'),
                  ),
            );
          });
        },
        () => {},
      ); // a client that leaves before its hello (untrusted router)
    });
    closers.push(async () => {
      for (const ch of channels) await ch.close();
    });
    const port = await webSocketListener(tls, closers);
    return { info: routerAt(port), hellos, updates, channels };
  }

  it('a kept CA bundle that page script rewrote never gets a channel hello out: the controller bundle decides', async () => {
    vi.stubGlobal('WebSocket', NodeWebSocket);
    const evilPki = await testPki('evil');
    const [evil, good] = [await router('accept', evilPki), await router('accept')];
    const rewritten = () => new CaTrust(async () => base.caBundle, pemsOf(evilPki.caBundlePem));
    // The rewritten bundle would trust the attacker's router: the token still never reaches it.
    await expect(new RouterChannels(base, rewritten()).channelFor([evil.info])).rejects.toThrow();
    expect(evil.hellos).toEqual([]);
    // The network's own router is reached with the controller's bundle.
    const routers = new RouterChannels(base, rewritten());
    await routers.channelFor([good.info]);
    expect(good.hellos).toEqual(['eyJ.first.token']);
    await routers.closeAll();
  });

  const withToken = (identity: StoredIdentity, token: string, oidc = true): StoredIdentity => ({
    ...identity,
    apiSession: {
      ...identity.apiSession,
      token,
      ...(oidc ? {} : { oidc: undefined }),
    },
  });

  it('sends the new access token to every open channel (content type 60803, the token as body)', async () => {
    vi.stubGlobal('WebSocket', NodeWebSocket);
    const [a, b] = [await router('accept'), await router('accept')];
    const routers = new RouterChannels(base);
    const chA = await routers.channelFor([a.info]);
    const chB = await routers.channelFor([b.info]);
    expect(chA).not.toBe(chB);
    expect([...a.hellos, ...b.hellos]).toEqual(['eyJ.first.token', 'eyJ.first.token']);

    const next = withToken(base, 'eyJ.second.token');
    routers.updateIdentity(next);
    await vi.waitFor(() => {
      expect(a.updates).toEqual([{ contentType: 60803, token: 'eyJ.second.token' }]);
      expect(b.updates).toEqual([{ contentType: 60803, token: 'eyJ.second.token' }]);
    });
    expect(ContentType.UpdateToken).toBe(60803);
    // Accepted: the channels stay and keep serving.
    await chA.measureLatency();
    expect(chA.isClosed || chB.isClosed).toBe(false);
    expect(await routers.channelFor([a.info])).toBe(chA);
    await routers.closeAll();
  });

  it('closes a channel whose router answers UpdateTokenFailure; the next dial opens a new one with the new token', async () => {
    vi.stubGlobal('WebSocket', NodeWebSocket);
    const [good, bad] = [await router('accept'), await router('refuse')];
    const routers = new RouterChannels(base);
    const chGood = await routers.channelFor([good.info]);
    const chBad = await routers.channelFor([bad.info]);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    routers.updateIdentity(withToken(base, 'eyJ.refused.token'));
    const info = await chBad.closed;
    expect(info.initiator).toBe('local');
    expect(bad.updates.map((u) => u.token)).toEqual(['eyJ.refused.token']);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('token invalid'));
    await vi.waitFor(() => expect(good.updates).toHaveLength(1));
    expect(chGood.isClosed).toBe(false);
    const again = await routers.channelFor([bad.info]);
    expect(again).not.toBe(chBad);
    expect(bad.hellos).toEqual(['eyJ.first.token', 'eyJ.refused.token']);
    warn.mockRestore();
    await routers.closeAll();
  });

  it('sends nothing for a legacy identity change or an unchanged token', async () => {
    vi.stubGlobal('WebSocket', NodeWebSocket);
    const r = await router('accept');
    const legacy = withToken(base, 'legacy-session-1', false);
    const routers = new RouterChannels(legacy);
    await routers.channelFor([r.info]);
    // A new legacy session token, then a renewed certificate with the same token: nothing. The
    // OIDC token after them is the first UpdateToken the router sees (a channel keeps order).
    routers.updateIdentity(withToken(base, 'legacy-session-2', false));
    routers.updateIdentity({
      ...withToken(base, 'legacy-session-2', false),
      certificateNotAfter: 9,
    });
    const oidc = withToken(base, 'eyJ.oidc.token');
    routers.updateIdentity(oidc);
    routers.updateIdentity({ ...oidc, certificateNotAfter: 10 });
    routers.updateIdentity(withToken(oidc, 'eyJ.oidc.token.2'));
    await vi.waitFor(() => expect(r.updates).toHaveLength(2));
    expect(r.updates.map((u) => u.token)).toEqual(['eyJ.oidc.token', 'eyJ.oidc.token.2']);
    await routers.closeAll();
  });

  it('a token refreshed while a channel opens is sent right after its hello', async () => {
    vi.stubGlobal('WebSocket', NodeWebSocket);
    const r = await router('accept');
    const routers = new RouterChannels(base);
    const opening = routers.channelFor([r.info]);
    routers.updateIdentity(withToken(base, 'eyJ.during.open'));
    await opening;
    expect(r.hellos).toEqual(['eyJ.first.token']);
    await vi.waitFor(() =>
      expect(r.updates).toEqual([{ contentType: 60803, token: 'eyJ.during.open' }]),
    );
    await routers.closeAll();
  });
});

describe('RouterChannels.withChannel: the dial behind the hello', () => {
  let pki: FabricPki;
  let base: StoredIdentity;
  const closers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    pki = await testPki('behind-hello');
    base = await workerIdentity(pki, {
      token: 'eyJ.token',
      id: 'asid-1',
      identityId: 'id',
      identityName: 'alice',
    });
  });
  afterAll(async () => {
    for (const close of closers) await close();
  });

  /**
   * A router that answers a hello only once the client's first three messages arrived (hello,
   * session probe, and what follows them), so a client that waits for the answer before it dials
   * never gets one. `session` decides the check after the answer; Connects are answered
   * StateConnected and counted.
   */
  async function router(session: 'valid' | 'refused' | 'hello-refused') {
    const seen: number[][] = [];
    const connects: number[] = [];
    const channels: Channel[] = [];
    const tls = routerTlsServer(pki);
    tls.on('secureConnection', (sock) => {
      // What the client wrote before it could have read the hello's answer.
      const wire = new MessageDecoder();
      const types: number[] = [];
      seen.push(types);
      let arrived: () => void;
      const three = new Promise<void>((r) => {
        arrived = r;
      });
      sock.on('data', (chunk: Buffer) => {
        for (const m of wire.push(new Uint8Array(chunk))) types.push(m.contentType);
        if (types.length >= 3) arrived();
      });
      void acceptChannel(nodeSocketDuplex(sock), {
        onHello: async () => {
          const held = await Promise.race([
            three.then(() => true),
            new Promise((r) => setTimeout(() => r(false), 2000)),
          ]);
          if (session === 'hello-refused' || !held)
            return { accept: false, message: held ? 'refused' : 'no dial behind the hello' };
          return { accept: true };
        },
        validateAfterAck: () => {
          if (session === 'refused') throw new Error('invalid api session');
        },
        bind: (ch) => {
          channels.push(ch);
          ch.handle(ContentType.Connect, async (msg) => {
            connects.push(msg.sequence);
            await ch.reply(msg, newMessage(ContentType.StateConnected));
          });
        },
      }).catch(() => {});
    });
    closers.push(async () => {
      for (const ch of channels) await ch.close();
    });
    const port = await webSocketListener(tls, closers);
    return { info: routerAt(port), seen, connects };
  }

  const dial = (channel: Channel) =>
    channel.request(newMessage(ContentType.Connect)).then((reply) => reply.contentType);

  it('sends the dial right behind the hello and its probe, before the answer, on a new channel and on one being opened', async () => {
    vi.stubGlobal('WebSocket', NodeWebSocket);
    const r = await router('valid');
    const routers = new RouterChannels(base);
    expect(await routers.withChannel([r.info], dial)).toBe(ContentType.StateConnected);
    expect(r.seen).toEqual([[ContentType.Hello, ContentType.Latency, ContentType.Connect]]);

    // A worker's start opens the channel before the first request: that request's dial joins it.
    const other = await router('valid');
    const opening = routers.channelFor([other.info]);
    const dialled = routers.withChannel([other.info], dial);
    expect(await dialled).toBe(ContentType.StateConnected);
    const channel = await opening;
    expect(other.seen).toEqual([[ContentType.Hello, ContentType.Latency, ContentType.Connect]]);
    // Once open, the channel is shared and later dials need no hello.
    expect(await routers.withChannel([other.info], async (ch) => ch)).toBe(channel);
    await routers.closeAll();
  });

  it('a refused session fails the dial as ZitiAuthenticationError, and the router never acts on it', async () => {
    vi.stubGlobal('WebSocket', NodeWebSocket);
    const r = await router('refused');
    const routers = new RouterChannels(base);
    await expect(routers.withChannel([r.info], dial)).rejects.toBeInstanceOf(
      ZitiAuthenticationError,
    );
    expect(r.seen[0]).toEqual([ContentType.Hello, ContentType.Latency, ContentType.Connect]);
    expect(r.connects).toEqual([]);
  });

  it("a router that refuses the hello hands the dial to the next one; the refused router's dial is not counted", async () => {
    vi.stubGlobal('WebSocket', NodeWebSocket);
    const [bad, good] = [await router('hello-refused'), await router('valid')];
    const routers = new RouterChannels(base);
    const used: Channel[] = [];
    const result = await routers.withChannel([bad.info, good.info], async (ch) => {
      used.push(ch);
      return dial(ch);
    });
    expect(result).toBe(ContentType.StateConnected);
    expect(used).toHaveLength(2);
    expect(used[0]!.isClosed).toBe(true);
    expect([bad.connects, good.connects.length]).toEqual([[], 1]);
    await routers.closeAll();
  });
});
