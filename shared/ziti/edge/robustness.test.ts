/**
 * Whatever well-framed edge messages a router sends (random content types, ConnIds, flags, bodies,
 * headers), the client channel survives: failures stay on the connection they belong to, and every
 * connection ends with a typed error or a clean end, never an untyped crash.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { channelPair } from '../_test/fixtures.ts';
import { ContentType, HeaderId } from '../channel/constants.ts';
import { type Message, newMessage, u32Bytes } from '../channel/message.ts';
import { ZitiError } from '../errors.ts';
import { acceptConnect } from './accept.ts';
import { bindService } from './bind.ts';
import { dialService } from './dial.ts';
import { decodeBind } from './hosting-messages.ts';
import { encodeStateConnected } from './messages.ts';

const edgeTypes = [
  ContentType.Data,
  ContentType.StateClosed,
  ContentType.StateConnected,
  ContentType.Dial,
  ContentType.BindSuccess,
  ContentType.Result,
  ContentType.Heartbeat,
  60999,
];

const hostileMessage = fc
  .record({
    contentType: fc.constantFrom(...edgeTypes),
    connId: fc.oneof(fc.constantFrom(1, 2, 3, 4), fc.nat()),
    headers: fc.array(
      fc.tuple(
        fc.constantFrom(
          HeaderId.Flags,
          HeaderId.Seq,
          HeaderId.PublicKey,
          HeaderId.ReplyFor,
          HeaderId.ErrorCode,
          HeaderId.StructuredError,
          7777,
        ),
        fc.uint8Array({ maxLength: 40 }),
      ),
      { maxLength: 3 },
    ),
    body: fc.uint8Array({ maxLength: 200 }),
  })
  .map(({ contentType, connId, headers, body }): Message => {
    const m = newMessage(contentType, new Map([[HeaderId.ConnId, u32Bytes(connId)]]), body);
    for (const [id, v] of headers) m.headers.set(id, v);
    return m;
  });

describe('robustness', () => {
  it('random edge messages from the router never kill the channel or escape as untyped errors', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(hostileMessage, { minLength: 1, maxLength: 12 }),
        fc.boolean(),
        async (msgs, encrypted) => {
          const { client, router } = await channelPair();
          router.handle(ContentType.Connect, (m) => void acceptConnect(router, m).catch(() => {}));
          router.handle(ContentType.Bind, (m) => {
            void router.reply(m, encodeStateConnected({ connId: decodeBind(m).connId }));
          });
          router.handle(ContentType.DialFailed, () => {});
          router.handle(ContentType.DialSuccess, () => {});
          const conns = await Promise.all(
            [0, 1, 2].map(() =>
              dialService(client, { sessionToken: 't', encryptionRequired: encrypted }),
            ),
          );
          const listener = await bindService(client, { sessionToken: 't', encryption: encrypted });
          expect(listener.connId).toBe(4);
          const reads = conns.map(async (c) => {
            const r = c.readable.getReader();
            try {
              for (;;) if ((await r.read()).done) return;
            } catch (err) {
              expect(err).toBeInstanceOf(ZitiError);
            }
          });
          for (const m of msgs) await router.send(m);
          // a latency round trip proves the channel still reads and answers
          await router.request(newMessage(ContentType.Latency), 2000);
          expect(client.isClosed).toBe(false);
          await client.close();
          await listener.closed;
          await Promise.all(reads);
        },
      ),
      { numRuns: 100 },
    );
  });
});
