/**
 * A WebSocket as a `ByteDuplex` (binary messages; each message is an arbitrary slice of the byte
 * stream, reference §5).
 *
 * Receive policy: a WebSocket cannot be paused, so incoming messages are queued without waiting
 * for the reader, up to `maxQueuedBytes` (default 16 MiB). Past that the reader has fallen too far
 * behind: the socket is closed with 1009 (message too big / overload) and the readable errors with
 * `WebSocketOverflowError`. Layers above keep the queue small by reading promptly (the channel's
 * receive windows decide when to read, so this limit is the last guard against unbounded memory).
 *
 * Send policy: a write resolves once `bufferedAmount` is at or below `writeHighWaterMark` (default
 * 1 MiB), polled every `drainPollMs`, since WebSocket has no drain event. Closing the writable
 * waits for the buffer to empty and closes the socket (1000): WebSocket has no half-close.
 */
import type { ByteDuplex } from './duplex.ts';

export interface WebSocketDuplexOptions {
  maxQueuedBytes?: number;
  writeHighWaterMark?: number;
  drainPollMs?: number;
  /**
   * The socket's `send` copies its data before it returns, so the duplex may say `writesCopied`. A
   * browser's WebSocket does (HTML: `send` takes a copy of the bytes). Not the default: Node's `ws`
   * package reads the data later when it compresses (permessage-deflate), so a writer that refilled
   * its buffer would change bytes not yet sent.
   */
  sendCopies?: boolean;
}

/** The socket closed before it opened, or failed. */
export class WebSocketDuplexError extends Error {
  readonly code: 'ERR_WS_OPEN' | 'ERR_WS_CLOSED' | 'ERR_WS_TEXT';
  constructor(code: WebSocketDuplexError['code'], message: string) {
    super(message);
    this.name = 'WebSocketDuplexError';
    this.code = code;
  }
}

/** The reader fell more than `maxQueuedBytes` behind; the socket was closed with 1009. */
export class WebSocketOverflowError extends Error {
  readonly code = 'ERR_WS_OVERFLOW';
  constructor(limit: number) {
    super(`WebSocket receive queue exceeded ${limit} bytes`);
    this.name = 'WebSocketOverflowError';
  }
}

const OPEN = 1;
const CLOSING = 2;

/** Waits for `ws` to open, then wraps it. */
export async function webSocketDuplex(
  ws: WebSocket,
  options: WebSocketDuplexOptions = {},
): Promise<ByteDuplex> {
  const maxQueued = options.maxQueuedBytes ?? 16 * 1024 * 1024;
  const writeHwm = options.writeHighWaterMark ?? 1024 * 1024;
  const pollMs = options.drainPollMs ?? 5;
  ws.binaryType = 'arraybuffer';
  // Listeners go on before waiting for 'open': some implementations (Node's ws) deliver the first
  // message in the same tick as 'open'.
  let ended = false;
  const readable = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        ws.addEventListener('message', (event: MessageEvent) => {
          if (ended) return;
          if (typeof event.data === 'string') {
            ended = true;
            controller.error(
              new WebSocketDuplexError('ERR_WS_TEXT', 'text message on a binary stream'),
            );
            ws.close(1003, 'binary only');
            return;
          }
          controller.enqueue(new Uint8Array(event.data as ArrayBuffer));
          if ((controller.desiredSize ?? 0) < 0) {
            ended = true;
            controller.error(new WebSocketOverflowError(maxQueued));
            ws.close(1009, 'receive queue overflow');
          }
        });
        ws.addEventListener('close', () => {
          if (ended) return;
          ended = true;
          controller.close();
        });
        ws.addEventListener('error', () => {
          if (ended) return;
          ended = true;
          controller.error(new WebSocketDuplexError('ERR_WS_CLOSED', 'WebSocket error'));
        });
      },
      cancel() {
        ended = true;
        if (ws.readyState < CLOSING) ws.close(1000);
      },
    },
    { highWaterMark: maxQueued, size: (chunk) => chunk.byteLength },
  );

  if (ws.readyState !== OPEN) {
    if (ws.readyState >= CLOSING)
      throw new WebSocketDuplexError('ERR_WS_OPEN', 'WebSocket is closed');
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        ws.removeEventListener('open', onOpen);
        ws.removeEventListener('close', onFail);
        ws.removeEventListener('error', onFail);
      };
      const onOpen = () => {
        done();
        resolve();
      };
      const onFail = () => {
        done();
        reject(new WebSocketDuplexError('ERR_WS_OPEN', 'WebSocket failed to open'));
      };
      ws.addEventListener('open', onOpen);
      ws.addEventListener('close', onFail);
      ws.addEventListener('error', onFail);
    });
  }

  const drained = async (limit: number) => {
    while (ws.bufferedAmount > limit) {
      if (ws.readyState !== OPEN)
        throw new WebSocketDuplexError('ERR_WS_CLOSED', 'WebSocket closed');
      await new Promise((r) => setTimeout(r, pollMs));
    }
  };
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      if (ws.readyState !== OPEN)
        throw new WebSocketDuplexError('ERR_WS_CLOSED', 'WebSocket closed');
      ws.send(chunk);
      await drained(writeHwm);
    },
    async close() {
      await drained(0).catch(() => {});
      if (ws.readyState < CLOSING) ws.close(1000);
    },
    abort() {
      if (ws.readyState < CLOSING) ws.close(1000);
    },
  });
  return { readable, writable, ...(options.sendCopies ? { writesCopied: true } : {}) };
}
