/**
 * Test-only WebSocket -> ByteDuplex adapter for the TLS browser tests: it queues received messages
 * without a bound and, on send, waits while more than 1 MiB is buffered. The product opens its router
 * WebSockets with `openWebSocketDuplex` (shared/streams/websocket-stream.ts, over
 * shared/streams/websocket.ts), which bounds its receive queue. Binary messages are arbitrary slices
 * of the byte stream.
 */
import type { ByteDuplex } from '../../shared/streams/duplex.ts';

const HIGH_WATER = 1 << 20;

export async function openWebSocketDuplex(url: string): Promise<ByteDuplex> {
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`WebSocket ${url} failed`));
  });
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      ws.onmessage = (e) => controller.enqueue(new Uint8Array(e.data as ArrayBuffer));
      ws.onclose = () => {
        try {
          controller.close();
        } catch {
          // already closed or errored
        }
      };
      ws.onerror = () => controller.error(new Error('WebSocket error'));
    },
    cancel() {
      ws.close();
    },
  });
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      // The WebSocket API has no write callback: wait while its send buffer is large.
      while (ws.bufferedAmount > HIGH_WATER) await new Promise((r) => setTimeout(r, 1));
      if (ws.readyState !== WebSocket.OPEN) throw new Error('WebSocket closed');
      ws.send(chunk);
    },
    close() {
      ws.close();
    },
    abort() {
      ws.close();
    },
  });
  return { readable, writable };
}
