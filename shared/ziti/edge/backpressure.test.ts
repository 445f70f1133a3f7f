/**
 * Backpressure (connection.ts policy): a reader that stops while the peer writes 64 MiB must keep
 * memory bounded: the connection queues at most its window, then the channel stops reading, the
 * transport fills, and the peer's writes stall. Nothing is lost once the reader resumes.
 */
import { describe, expect, it } from 'vitest';
import { channelPair } from '../_test/fixtures.ts';
import { ContentType } from '../channel/constants.ts';
import { ZitiConnectionClosedError } from '../errors.ts';
import { acceptConnect } from './accept.ts';
import type { EdgeConnectionImpl } from './connection.ts';
import { dialService } from './dial.ts';
import type { EdgeConnection } from './types.ts';

const TOTAL = 64 * 1024 * 1024;
const CHUNK = 256 * 1024;
const WINDOW = 1024 * 1024;
const TRANSPORT_HWM = 64 * 1024;

describe('backpressure', () => {
  for (const encryptionRequired of [false, true]) {
    it(`a stopped reader keeps memory bounded while the peer writes 64 MiB (encryption ${encryptionRequired})`, async () => {
      const { client, router } = await channelPair({}, {}, TRANSPORT_HWM);
      let accepted = 0;
      let writerDone = false;
      let sender: Promise<void> = Promise.resolve();
      router.handle(ContentType.Connect, (msg) => {
        void acceptConnect(router, msg).then((conn: EdgeConnection) => {
          sender = (async () => {
            const w = conn.writable.getWriter();
            const chunk = new Uint8Array(CHUNK);
            for (let sent = 0; sent < TOTAL; sent += CHUNK) {
              chunk[0] = (sent / CHUNK) & 0xff;
              await w.write(chunk);
              accepted += CHUNK;
            }
            await w.close();
            writerDone = true;
          })();
        });
      });
      const conn = (await dialService(client, {
        sessionToken: 't',
        encryptionRequired,
        receiveWindowBytes: WINDOW,
      })) as EdgeConnectionImpl;

      // The reader does nothing for a while.
      const heapBefore = process.memoryUsage().heapUsed;
      await new Promise((r) => setTimeout(r, 400));
      const frame = 32 * 1024 + 17 + 100;
      // Bytes the sender got accepted: the receive window + both transports' buffers + frames in
      // flight (one per hop) + the chunk being written. Far below 64 MiB.
      const bound = WINDOW + 2 * TRANSPORT_HWM + CHUNK + 4 * frame;
      expect(writerDone).toBe(false);
      expect(accepted).toBeLessThanOrEqual(bound);
      expect(conn.queuedBytes).toBeLessThanOrEqual(WINDOW + frame);
      expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(32 * 1024 * 1024);

      // Resume: everything arrives, in order.
      let received = 0;
      let expectedTag = 0;
      const reader = conn.readable.getReader();
      let offsetInChunk = 0;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (let i = 0; i < value.length; ) {
          if (offsetInChunk === 0) {
            expect(value[i]).toBe(expectedTag & 0xff);
            expectedTag++;
          }
          const step = Math.min(value.length - i, CHUNK - offsetInChunk);
          i += step;
          offsetInChunk = (offsetInChunk + step) % CHUNK;
        }
        received += value.length;
      }
      await sender;
      expect(received).toBe(TOTAL);
      expect(writerDone).toBe(true);
      await client.close();
    }, 60_000);
  }

  it("receiveOverflow 'close': a stopped reader loses its connection, the channel keeps flowing", async () => {
    const { client, router } = await channelPair({}, {}, TRANSPORT_HWM);
    let senderError: unknown;
    router.handle(ContentType.Connect, (msg) => {
      void acceptConnect(router, msg).then(async (conn) => {
        const w = conn.writable.getWriter();
        try {
          for (let sent = 0; sent < TOTAL; sent += CHUNK) await w.write(new Uint8Array(CHUNK));
          await w.close();
        } catch (err) {
          senderError = err; // the slow connection
          return;
        }
      });
    });
    const slow = (await dialService(client, {
      sessionToken: 't',
      encryptionRequired: true,
      receiveWindowBytes: WINDOW,
      receiveOverflow: 'close',
    })) as EdgeConnectionImpl;
    const info = await slow.closed;
    expect(info.initiator).toBe('error');
    expect(info.error).toBeInstanceOf(ZitiConnectionClosedError);
    // What arrived before the overflow is still readable, then the error.
    const reader = slow.readable.getReader();
    let got = 0;
    const err = await (async () => {
      for (;;) got += (await reader.read()).value!.length;
    })().catch((e) => e);
    expect(err).toBeInstanceOf(ZitiConnectionClosedError);
    expect(got).toBeGreaterThanOrEqual(WINDOW);
    expect(got).toBeLessThanOrEqual(WINDOW + 32 * 1024);
    // The router's sender learnt of the close; the channel still carries a new connection to the end.
    for (let i = 0; i < 100 && !senderError; i++) await new Promise((r) => setTimeout(r, 10));
    expect(senderError).toBeInstanceOf(ZitiConnectionClosedError);
    expect(client.isClosed).toBe(false);
    const next = await dialService(client, { sessionToken: 't', encryptionRequired: false });
    let total = 0;
    const r2 = next.readable.getReader();
    for (;;) {
      const { value, done } = await r2.read();
      if (done) break;
      total += value.length;
    }
    expect(total).toBe(TOTAL);
    await client.close();
  }, 60_000);

  it('capBacklog: a reader that can afford to lose its connection loses it at its own cap, and lifting the cap restores the window', async () => {
    const { client, router } = await channelPair({}, {}, TRANSPORT_HWM);
    router.handle(ContentType.Connect, (msg) => {
      void acceptConnect(router, msg).then(async (conn) => {
        const w = conn.writable.getWriter();
        try {
          for (let sent = 0; sent < 16 * WINDOW; sent += CHUNK)
            await w.write(new Uint8Array(CHUNK));
        } catch {} // closed by the dialer's cap
      });
    });
    /** Bytes a reader that started only after the close still gets, before the error. */
    const readToError = async (conn: EdgeConnection) => {
      const reader = conn.readable.getReader();
      let got = 0;
      const err = await (async () => {
        for (;;) got += (await reader.read()).value!.length;
      })().catch((e) => e);
      expect(err).toBeInstanceOf(ZitiConnectionClosedError);
      expect((err as Error).message).toMatch(/bytes behind/);
      return got;
    };
    const dial = () =>
      dialService(client, {
        sessionToken: 't',
        encryptionRequired: true,
        receiveWindowBytes: 4 * WINDOW,
        receiveOverflow: 'close',
      }) as Promise<EdgeConnectionImpl>;

    const capped = await dial();
    capped.capBacklog(WINDOW / 2);
    expect((await capped.closed).initiator).toBe('error');
    const cappedGot = await readToError(capped);
    expect(cappedGot).toBeGreaterThan(WINDOW / 2);
    expect(cappedGot).toBeLessThanOrEqual(WINDOW / 2 + 32 * 1024);

    const lifted = await dial();
    lifted.capBacklog(WINDOW / 2);
    lifted.capBacklog(undefined);
    await lifted.closed;
    const liftedGot = await readToError(lifted);
    expect(liftedGot).toBeGreaterThan(4 * WINDOW);
    expect(liftedGot).toBeLessThanOrEqual(4 * WINDOW + 32 * 1024);

    // Under 'pause' a cap closes too: the reader asked to lose the connection rather than wait.
    const paused = (await dialService(client, {
      sessionToken: 't',
      encryptionRequired: false,
    })) as EdgeConnectionImpl;
    paused.capBacklog(WINDOW / 2);
    await paused.closed;
    expect(await readToError(paused)).toBeLessThanOrEqual(WINDOW / 2 + 32 * 1024);
    expect(client.isClosed).toBe(false);
    await client.close();
  }, 60_000);
});
