/**
 * A server-side WebSocket as a Node Duplex for the inner TLS (§5). Incoming binary messages may be
 * any slices of the byte stream. Outgoing, it frames as a real router does (Go's crypto/tls over a
 * WebSocket conn whose every Write is one message): each TLS record is a message of its own, except
 * that the records of one write that carries a handshake record (a flight) share one message.
 * Unlike `ws.createWebSocketStream`, destroying it closes the socket gracefully (close frame after
 * everything queued), so a TLS alert written just before the TLS layer tears down (e.g.
 * certificate_required) still reaches the client.
 */
import { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/** How long a closing socket may take to finish the close handshake before it is cut. */
const CLOSE_GRACE_MS = 2_000;
const RECORD_HEADER_BYTES = 5;
const HANDSHAKE = 22;

/** Splits `bytes` into its whole TLS records and the start of an incomplete one. */
function splitRecords(bytes: Buffer): { records: Buffer[]; rest: Buffer } {
  const records: Buffer[] = [];
  let at = 0;
  while (bytes.length - at >= RECORD_HEADER_BYTES) {
    const end = at + RECORD_HEADER_BYTES + bytes.readUInt16BE(at + 3);
    if (end > bytes.length) break;
    records.push(bytes.subarray(at, end));
    at = end;
  }
  return { records, rest: bytes.subarray(at) };
}

export function webSocketStream(ws: WebSocket): Duplex {
  const close = () => {
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) {
      ws.close(1000);
      setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
    }
  };
  /** Written bytes of a record not yet complete. */
  let partial: Buffer = Buffer.alloc(0);
  /**
   * One write of the TLS layer (Node's TLS socket hands a write of several buffers over corked, so
   * it arrives here whole). The callback waits for the last message to reach the socket.
   */
  const send = (chunks: Buffer[], callback: (err?: Error | null) => void) => {
    if (ws.readyState !== ws.OPEN) return callback(new Error('WebSocket is not open'));
    const { records, rest } = splitRecords(Buffer.concat([partial, ...chunks]));
    partial = rest;
    const flight = records.some((r) => r[0] === HANDSHAKE);
    const messages = flight ? [Buffer.concat(records)] : records;
    const last = messages.pop();
    for (const m of messages) ws.send(m, { binary: true });
    if (last) ws.send(last, { binary: true }, callback);
    else callback();
  };
  const stream = new Duplex({
    read() {
      if (ws.isPaused) ws.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      send([chunk], callback);
    },
    writev(chunks, callback) {
      send(
        chunks.map((c) => c.chunk as Buffer),
        callback,
      );
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
