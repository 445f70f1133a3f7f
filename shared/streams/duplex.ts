/**
 * A bidirectional byte stream: the one shape every layer consumes and produces (WebSocket, TLS,
 * router channel transport, edge connection, HTTP connection).
 *
 * Contract:
 * - `readable` delivers bytes as they arrive, in any slicing; it is pulled, so a slow reader pushes
 *   back on the producer (no unbounded buffering).
 * - a write to `writable` resolves only once the layer below has accepted the bytes.
 * - closing `writable` is a half-close (the peer sees end of stream); aborting either side, or
 *   `close()`, tears the whole stream down.
 * - `writesCopied`, when true, promises that a resolved write has copied its chunk (a browser's
 *   WebSocket `send` does), so the writer may refill the same buffer. Otherwise a written chunk may
 *   still be read later (a Node socket queues it, `ws` compresses it later) and must not change.
 */
export interface ByteDuplex {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly writesCopied?: boolean;
  /**
   * When present: from now on the stream ends (its readable errors once the bytes already queued
   * are read) if more than `bytes` wait unread in it; `undefined` restores the stream's own limit.
   * For a reader that loses little with the stream (a download that resumes), so a slow reader
   * holds less than one that must not lose it.
   */
  capBacklog?(bytes: number | undefined): void;
}
