/**
 * Two connected in-memory byte duplexes, like a socket pair: what one writes the other reads.
 * Each direction buffers at most `highWaterMarkBytes` (plus one chunk); beyond that, writes wait
 * for the reader, so backpressure behaves as over a real transport. For tests and in-process wiring.
 */
import type { ByteDuplex } from './duplex.ts';

export interface DuplexPairOptions {
  /** Bytes each direction buffers before writes wait; default 64 KiB. */
  highWaterMarkBytes?: number;
}

export function duplexPair(options: DuplexPairOptions = {}): [ByteDuplex, ByteDuplex] {
  const hwm = options.highWaterMarkBytes ?? 64 * 1024;
  const pipe = () =>
    new TransformStream<Uint8Array, Uint8Array>(
      {},
      // 1 byte, not 0: with 0 `writer.ready` never resolves, so pipeTo into it would stall.
      { highWaterMark: 1, size: (c) => c.byteLength },
      { highWaterMark: hwm, size: (c) => c.byteLength },
    );
  const aToB = pipe();
  const bToA = pipe();
  return [
    { readable: bToA.readable, writable: aToB.writable },
    { readable: aToB.readable, writable: bToA.writable },
  ];
}
