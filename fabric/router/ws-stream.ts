/**
 * A server-side WebSocket as a Node Duplex for the inner TLS (§5): binary messages are arbitrary
 * slices of the byte stream. Unlike `ws.createWebSocketStream`, destroying it closes the socket
 * gracefully (close frame after everything queued), so a TLS alert written just before the TLS
 * layer tears down (e.g. certificate_required) still reaches the client.
 */
import { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/** How long a closing socket may take to finish the close handshake before it is cut. */
const CLOSE_GRACE_MS = 2_000;

export function webSocketStream(ws: WebSocket): Duplex {
  const close = () => {
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) {
      ws.close(1000);
      setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
    }
  };
  const stream = new Duplex({
    read() {
      if (ws.isPaused) ws.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      if (ws.readyState !== ws.OPEN) return callback(new Error('WebSocket is not open'));
      ws.send(chunk, { binary: true }, callback);
    },
    final(callback) {
      close();
      callback();
    },
    destroy(err, callback) {
      close();
      callback(err);
    },
  });
  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
    const bytes = Array.isArray(data)
      ? Buffer.concat(data)
      : Buffer.isBuffer(data)
        ? data
        : Buffer.from(data);
    if (!stream.push(bytes)) ws.pause();
  });
  ws.once('close', () => stream.push(null));
  ws.once('error', (err) => stream.destroy(err));
  return stream;
}
