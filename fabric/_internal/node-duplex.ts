/**
 * A Node stream socket as a `ByteDuplex`. Unlike `Duplex.toWeb`, whose readable only ends once
 * BOTH directions finished (it waits on `finished()`), this readable ends as soon as the peer's
 * end of stream or a close arrives, which is what a channel needs to notice a router hang-up.
 *
 * Backpressure: reading pauses the socket while the readable's queue is above `highWaterMark`;
 * a write resolves when the socket has flushed the chunk.
 */
import type { Duplex } from 'node:stream';
import type { ByteDuplex } from '../../shared/streams/duplex.ts';

export function nodeSocketDuplex(sock: Duplex, highWaterMark = 256 * 1024): ByteDuplex {
  let done = false;
  const readable = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        sock.on('data', (chunk: Buffer) => {
          if (done) return;
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
          if ((controller.desiredSize ?? 1) <= 0) sock.pause();
        });
        const finish = (err?: Error) => {
          if (done) return;
          done = true;
          if (err) controller.error(err);
          else controller.close();
        };
        sock.once('end', () => finish());
        sock.once('close', () => finish());
        sock.once('error', (err) => finish(err));
      },
      pull() {
        if (sock.isPaused()) sock.resume();
      },
      cancel() {
        done = true;
        sock.destroy();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark }),
  );
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      return new Promise<void>((resolve, reject) => {
        if (sock.destroyed || sock.writableEnded) return reject(new Error('socket closed'));
        sock.write(chunk, (err) => (err ? reject(err) : resolve()));
      });
    },
    close() {
      return new Promise<void>((resolve) => {
        if (sock.destroyed || sock.writableEnded) return resolve();
        sock.end(() => resolve());
      });
    },
    abort() {
      sock.destroy();
    },
  });
  return { readable, writable };
}
