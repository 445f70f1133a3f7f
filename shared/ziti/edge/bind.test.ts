/**
 * Hosting: bindService behind a minimal relaying router built from the exported builders/parsers,
 * so a dialService connection reaches a bindService listener end to end (with E2E between them).
 */
import { describe, expect, it } from 'vitest';
import { channelPair, readAll } from '../_test/fixtures.ts';
import type { Channel } from '../channel/channel.ts';
import { ContentType, HeaderId, ROUTER_CONN_ID_START } from '../channel/constants.ts';
import { getHeaderBool, type Message } from '../channel/message.ts';
import { ZitiBindError, ZitiDialError } from '../errors.ts';
import { bindService } from './bind.ts';
import { dialService } from './dial.ts';
import {
  decodeBind,
  decodeDialFailed,
  decodeDialSuccess,
  encodeBindSuccess,
  encodeDial,
} from './hosting-messages.ts';
import { decodeConnect, encodeStateClosed, encodeStateConnected } from './messages.ts';
import { EdgeMux } from './mux.ts';

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

interface Binding {
  connId: number;
  token: string;
  publicKey: Uint8Array | undefined;
}

/** Relays Connect on `dialer` to Dial on `host`, then Data/StateClosed both ways. */
function relayRouter(dialer: Channel, host: Channel, opts: { assignConnIds?: boolean } = {}) {
  const bindings: Binding[] = [];
  const binds: Message[] = [];
  let nextId = ROUTER_CONN_ID_START;
  host.handle(ContentType.Bind, (msg) => {
    binds.push(msg);
    const b = decodeBind(msg);
    if (b.sessionToken === 'refused') {
      void host.reply(
        msg,
        encodeStateClosed({ connId: b.connId, reason: 'invalid session', errorCode: 3 }),
      );
      return;
    }
    bindings.push({ connId: b.connId, token: b.sessionToken, publicKey: b.publicKey });
    void host
      .reply(msg, encodeStateConnected({ connId: b.connId, routerProvidedConnId: true }))
      .then(() => host.send(encodeBindSuccess({ connId: b.connId })));
  });
  host.handle(ContentType.Unbind, () => {});
  dialer.handle(ContentType.Connect, (msg) => {
    void (async () => {
      const c = decodeConnect(msg);
      const binding = bindings[0]!;
      const hostConnId = opts.assignConnIds === false ? undefined : nextId--;
      const reply = await host.request(
        encodeDial({
          connId: binding.connId,
          newConnId: hostConnId,
          sessionToken: c.sessionToken === 'wrong-bind-token' ? 'x' : binding.token,
          circuitId: 'circ-1',
          publicKey: c.publicKey,
          callerId: 'alice',
          appData: c.appData,
        }),
      );
      if (reply.contentType === ContentType.DialFailed) {
        await dialer.reply(
          msg,
          encodeStateClosed({ connId: c.connId, reason: decodeDialFailed(reply).reason }),
        );
        return;
      }
      const ok = decodeDialSuccess(reply);
      const link = (from: Channel, fromId: number, to: Channel, toId: number) =>
        EdgeMux.of(from).register(fromId, {
          onMessage: (m) => {
            const headers = new Map(m.headers);
            headers.set(HeaderId.ConnId, new Uint8Array(new Uint32Array([toId]).buffer));
            headers.delete(HeaderId.ReplyFor);
            return to.send({ ...m, headers });
          },
          onChannelClosed: () => {},
        });
      // Both directions are linked before StateConnected, as a router does: frames may follow at once.
      link(host, ok.newConnId, dialer, c.connId);
      link(dialer, c.connId, host, ok.newConnId);
      if (hostConnId === undefined) {
        await host.reply(reply, encodeStateConnected({ connId: ok.newConnId }));
      }
      await dialer.reply(
        msg,
        encodeStateConnected({
          connId: c.connId,
          circuitId: 'circ-1',
          publicKey: binding.publicKey,
        }),
      );
    })();
  });
  return { binds };
}

async function network(opts?: { assignConnIds?: boolean }) {
  const a = await channelPair();
  const b = await channelPair();
  const router = relayRouter(a.router, b.router, opts);
  return {
    dialer: a.client,
    host: b.client,
    ...router,
    close: () => Promise.all([a.client.close(), b.client.close()]),
  };
}

describe('bindService', () => {
  for (const [encryption, assignConnIds] of [
    [true, true],
    [false, true],
    [true, false],
  ] as const) {
    it(`accepts dials and talks to dialService (e2e ${encryption}, router-assigned ids ${assignConnIds})`, async () => {
      const net = await network({ assignConnIds });
      const listener = await bindService(net.host, {
        sessionToken: 'bind-token',
        encryption,
        cost: 3,
      });
      await listener.bound;
      const bind = decodeBind(net.binds[0]!);
      expect(bind).toMatchObject({
        sessionToken: 'bind-token',
        routerProvidedConnId: true,
        supportsBindSuccess: true,
        cost: 3,
      });
      expect(bind.publicKey !== undefined).toBe(encryption);
      expect(getHeaderBool(net.binds[0]!, HeaderId.SupportsInspect)).toBeUndefined();

      const served = (async () => {
        for await (const conn of listener) {
          expect(conn.callerId).toBe('alice');
          expect(conn.circuitId).toBe('circ-1');
          expect(JSON.parse(str(conn.appData!))).toEqual({ dst_port: '80' });
          const req = await readAll(conn.readable);
          const w = conn.writable.getWriter();
          await w.write(text(`HTTP/1.1 200 OK\r\n\r\n${str(req)}`));
          await w.close();
        }
      })();
      for (let i = 0; i < 3; i++) {
        const conn = await dialService(net.dialer, {
          sessionToken: 'dial-token',
          encryptionRequired: encryption,
          appData: { dst_port: '80' },
        });
        expect(conn.encrypted).toBe(encryption);
        const w = conn.writable.getWriter();
        await w.write(text(`request ${i}`));
        await w.close();
        expect(str(await readAll(conn.readable))).toBe(`HTTP/1.1 200 OK\r\n\r\nrequest ${i}`);
      }
      await listener.close();
      await served;
      expect((await listener.closed).initiator).toBe('local');
      await net.close();
    });
  }

  it('answers a Dial with the wrong token with DialFailed', async () => {
    const net = await network();
    await bindService(net.host, { sessionToken: 'bind-token', encryption: false });
    const err = await dialService(net.dialer, {
      sessionToken: 'wrong-bind-token',
      encryptionRequired: false,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(ZitiDialError);
    expect(err.message).toBe('invalid session token');
    await net.close();
  });

  it('a refused Bind is a ZitiBindError with the error code', async () => {
    const net = await network();
    const err = await bindService(net.host, { sessionToken: 'refused', encryption: true }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(ZitiBindError);
    expect(err.errorCode).toBe(3);
    await net.close();
  });

  it('router StateClosed on the binding ends the listener', async () => {
    const a = await channelPair();
    a.router.handle(ContentType.Bind, (msg) => {
      const b = decodeBind(msg);
      void a.router
        .reply(msg, encodeStateConnected({ connId: b.connId }))
        .then(() =>
          a.router.send(encodeStateClosed({ connId: b.connId, reason: 'terminator removed' })),
        );
    });
    const listener = await bindService(a.client, { sessionToken: 't', encryption: false });
    const info = await listener.closed;
    expect(info).toMatchObject({ initiator: 'remote', reason: 'terminator removed' });
    await expect(listener.accept()).rejects.toBeInstanceOf(ZitiBindError);
    await a.client.close();
  });
});
