/** Public shapes of the edge layer: connections, dial and bind options, listeners. */
import type { ByteDuplex } from '../../streams/duplex.ts';
import type { ZitiError } from '../errors.ts';
import type { XgressOptions } from '../xgress/endpoint.ts';

/**
 * What happens when a connection's reader falls a full receive window behind:
 * - `'pause'`: stop reading the channel transport until the reader catches up. Lossless, and the
 *   sender is slowed by TCP / WebSocket backpressure, but every connection on the channel waits.
 *   Right when the transport can push back (Node sockets, WebSocketStream).
 * - `'close'`: close that connection (StateClosed, `ZitiConnectionClosedError` to its reader) and
 *   keep the channel flowing. Right over a classic browser WebSocket, which cannot be paused: there a
 *   paused channel only moves the backlog into the socket's queue until that overflows and the whole
 *   channel dies.
 */
export type ReceiveOverflowPolicy = 'pause' | 'close';

/** How an edge connection ended; `closed` resolves with this and never rejects. */
export interface EdgeCloseInfo {
  /** `local`: close() here; `remote`: StateClosed from the router; `channel`: the channel closed; `error`: see `error`. */
  initiator: 'local' | 'remote' | 'channel' | 'error';
  /** Reason text (StateClosed body, or ours). */
  reason: string;
  error?: ZitiError | Error;
}

/**
 * One edge connection: an ordered byte stream over a channel (reference §3.4).
 * - `readable` ends (done) on the peer's FIN or StateClosed; it errors on an E2E failure or when
 *   the channel dies.
 * - A write resolves once the Data frame was accepted by the channel transport. Closing `writable`
 *   is `closeWrite()`; aborting it is `close()`.
 */
export interface EdgeConnection extends ByteDuplex {
  readonly connId: number;
  /** CircuitId from StateConnected / Dial, when the router sent one. */
  readonly circuitId: string | undefined;
  /** True when the bytes are end-to-end encrypted (libsodium secretstream). */
  readonly encrypted: boolean;
  /** True when the router granted SDK flow control (xgress payloads with windows). */
  readonly flowControlled: boolean;
  /** AppData (1011) the dialer sent (hosted connections only). */
  readonly appData: Uint8Array | undefined;
  /** CallerId / dialer identity (hosted connections only). */
  readonly callerId: string | undefined;
  /** Payload bytes received (after decryption) and written so far: plain counters, for statistics. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** See `ByteDuplex.capBacklog`; ignored under SDK flow control, whose windows bound the queue. */
  capBacklog(bytes: number | undefined): void;
  /** Sends FIN once (empty, unencrypted Data); later calls resolve at once. */
  closeWrite(): Promise<void>;
  /** Sends StateClosed (unless already closed) and ends both directions. Idempotent. */
  close(reason?: string): Promise<void>;
  readonly closed: Promise<EdgeCloseInfo>;
}

export interface DialOptions {
  /** Dial session token from `POST /sessions` (the Connect body). */
  sessionToken: string;
  /** The service's `encryptionRequired`: send PublicKey + CryptoMethod 0, require the peer's key. */
  encryptionRequired: boolean;
  /** AppData (1011): a JSON object of strings, or JSON bytes (reference §7). */
  appData?: Record<string, string> | Uint8Array;
  callerId?: string;
  /** TerminatorIdentity (1006): reach only the terminators bound with this identity (reference §3.4). */
  terminatorIdentity?: string;
  /** Wait for StateConnected at most this long; default 15 s. */
  connectTimeoutMs?: number;
  /** Per-connection receive window (bytes queued for the reader); default `DEFAULT_RECEIVE_WINDOW_BYTES`. */
  receiveWindowBytes?: number;
  /** What a full receive window does; see `ReceiveOverflowPolicy`. Default `'pause'`. */
  receiveOverflow?: ReceiveOverflowPolicy;
  /**
   * Ask for SDK flow control (UseXgressToSdk). When the router grants it, windows and
   * acknowledgements bound what each connection buffers and `receiveOverflow` never applies.
   * Default false: OpenZiti v1.7.2's `ziti tunnel host` stops accepting circuits for its service
   * (every later dial times out until it restarts) once a flow-controlled dialer vanishes while
   * its circuit is being set up, as a closed browser does (`openziti/oidc-tunnel.real.test.ts`
   * 5c). Data framing has no such failure.
   */
  flowControl?: boolean;
  /** Windows and retransmission of flow-controlled connections (tests). */
  flowControlOptions?: XgressOptions;
}

export interface BindOptions {
  /** Bind session token from `POST /sessions` with type Bind. */
  sessionToken: string;
  /** Host with E2E: one keypair per listener, PublicKey in the Bind (reference §3.5). */
  encryption: boolean;
  cost?: number;
  precedence?: number;
  terminatorIdentity?: string;
  listenerId?: string;
  /** Wait for the Bind's StateConnected at most this long; default 15 s. */
  bindTimeoutMs?: number;
  /** Dials held while nobody accepts; more are refused with DialFailed. Default 64. */
  backlog?: number;
  receiveWindowBytes?: number;
  receiveOverflow?: ReceiveOverflowPolicy;
}

/** A hosted service on one channel: yields accepted connections. */
export interface EdgeListener extends AsyncIterable<EdgeConnection> {
  /** The bind's connection id. */
  readonly connId: number;
  /** Next accepted connection; rejects when the listener is closed. */
  accept(): Promise<EdgeConnection>;
  /** Resolves when the router sent BindSuccess (the terminator exists). */
  readonly bound: Promise<void>;
  /** Sends Unbind and stops accepting. Accepted connections stay open. */
  close(): Promise<void>;
  readonly closed: Promise<EdgeCloseInfo>;
}
