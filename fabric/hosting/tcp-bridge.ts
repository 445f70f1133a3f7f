/**
 * One hosted edge connection bridged to a TCP socket, with this side as the end-to-end server
 * (§3.5, §4): the host's secretstream header goes out alone as the first Data, the dialer's first
 * Data must be its 24-byte header, and every later body is one secretstream message. Used by the
 * tunneler (per Dial) and by router-hosted terminators (per Connect).
 *
 * Backpressure: `onData` resolves only once the socket took the bytes (drain), so the channel's
 * read loop stops while the app is slow; socket reads pause while a Data send is in flight.
 */
import type { Socket } from 'node:net';
import {
  EdgeFlag,
  e2eReady,
  MAX_DATA_BODY_BYTES,
  SECRETSTREAM_HEADER_BYTES,
  SecretStreamDecryptor,
  SecretStreamEncryptor,
  type SessionKeys,
} from '../../shared/ziti/index.ts';

export interface EdgeSender {
  /** Sends one Data body (already sealed when encrypted) with the given flags. */
  sendData(body: Uint8Array, flags?: number): Promise<void>;
  /** Sends StateClosed for this connection. */
  sendClose(reason: string): Promise<void>;
}

export interface TcpBridgeOptions {
  socket: Socket;
  sender: EdgeSender;
  /** E2E: the terminator's session keys (`serverSessionKeys` with the dialer's public key). */
  e2e?: SessionKeys;
  onEnd?: () => void;
}

export class TcpBridge {
  readonly #socket: Socket;
  readonly #sender: EdgeSender;
  readonly #encryptor: SecretStreamEncryptor | undefined;
  readonly #rx: Uint8Array | undefined;
  #decryptor: SecretStreamDecryptor | undefined;
  #closed = false;
  #finSent = false;
  readonly #onEnd: (() => void) | undefined;

  /** Call `await e2eReady()` before constructing with `e2e`. */
  constructor(opts: TcpBridgeOptions) {
    this.#socket = opts.socket;
    this.#sender = opts.sender;
    this.#onEnd = opts.onEnd;
    if (opts.e2e) {
      this.#encryptor = new SecretStreamEncryptor(opts.e2e.tx);
      this.#rx = opts.e2e.rx;
    }
    this.#socket.pause();
    this.#socket.on('error', () => this.close('target connection failed'));
    this.#socket.on('close', () => {
      if (!this.#closed) void this.#finishFromSocket();
    });
  }

  static ready(): Promise<void> {
    return e2eReady();
  }

  /** Starts relaying; sends our secretstream header first when encrypted. */
  async start(): Promise<void> {
    if (this.#encryptor) await this.#sender.sendData(this.#encryptor.header);
    void this.#pump();
  }

  /**
   * Socket events may fire while an earlier chunk is still being sent (Node can emit 'end' right
   * after the last 'data' even though we paused), so every outgoing step is queued on `#tail`:
   * data parts, then FIN, then StateClosed, always in that order.
   */
  #tail: Promise<void> = Promise.resolve();

  #enqueue(step: () => Promise<void>): Promise<void> {
    this.#tail = this.#tail.then(step);
    return this.#tail;
  }

  async #pump(): Promise<void> {
    const s = this.#socket;
    s.on('end', () => void this.#enqueue(() => this.#sendFin()).catch(() => {}));
    s.on('data', (chunk: Buffer) => {
      s.pause();
      this.#enqueue(() => this.#forward(chunk)).then(
        () => {
          if (!this.#closed) s.resume();
        },
        () => this.close('channel send failed'),
      );
    });
    s.resume();
  }

  async #forward(chunk: Uint8Array): Promise<void> {
    for (let at = 0; at < chunk.length; at += MAX_DATA_BODY_BYTES) {
      const part = chunk.subarray(at, at + MAX_DATA_BODY_BYTES);
      await this.#sender.sendData(this.#encryptor ? this.#encryptor.push(part) : part);
    }
  }

  async #sendFin(): Promise<void> {
    if (this.#finSent || this.#closed) return;
    this.#finSent = true;
    // FIN bodies are empty and never encrypted (§3.4).
    await this.#sender.sendData(new Uint8Array(0), EdgeFlag.FIN).catch(() => {});
  }

  async #finishFromSocket(): Promise<void> {
    await this.#enqueue(() => this.#sendFin()).catch(() => {});
    this.close('target closed', true);
  }

  /** A Data message from the dialer. Throws on an E2E failure (the caller closes). */
  async onData(body: Uint8Array, flags: number): Promise<void> {
    if (this.#closed) return;
    if (flags & EdgeFlag.FIN) {
      this.#socket.end();
      return;
    }
    if (body.length === 0) return;
    let plain = body;
    if (this.#rx) {
      if (!this.#decryptor) {
        if (body.length !== SECRETSTREAM_HEADER_BYTES) {
          throw new Error(
            `first encrypted Data must be the ${SECRETSTREAM_HEADER_BYTES}-byte header, got ${body.length}`,
          );
        }
        this.#decryptor = new SecretStreamDecryptor(body, this.#rx);
        return;
      }
      plain = this.#decryptor.pull(body);
    }
    if (!this.#socket.write(plain)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#socket.off('drain', done);
          this.#socket.off('close', done);
          resolve();
        };
        this.#socket.once('drain', done);
        this.#socket.once('close', done);
      });
    }
  }

  /** Ends both directions; with `notifyPeer`, sends StateClosed. Idempotent. */
  close(reason: string, notifyPeer = true): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
    // Their state (which holds the keys) lives in libsodium's heap until freed.
    this.#encryptor?.dispose();
    this.#decryptor?.dispose();
    if (notifyPeer) void this.#sender.sendClose(reason).catch(() => {});
    this.#onEnd?.();
  }

  /** The peer closed (StateClosed): drop the socket without answering. */
  onPeerClosed(): void {
    this.close('closed by peer', false);
  }
}
