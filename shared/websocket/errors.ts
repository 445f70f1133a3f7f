/** Stable codes of every failure the WebSocket layer reports; `switch (err.code)` narrows. */
export type WebSocketErrorCode =
  | 'ERR_WS_HANDSHAKE'
  | 'ERR_WS_PROTOCOL'
  | 'ERR_WS_INVALID_UTF8'
  | 'ERR_WS_MESSAGE_TOO_BIG'
  | 'ERR_WS_INVALID_CLOSE'
  | 'ERR_WS_CLOSED';

/** Base class of the WebSocket layer's errors. */
export class WebSocketError extends Error {
  readonly code: WebSocketErrorCode;
  constructor(code: WebSocketErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WebSocketError';
    this.code = code;
  }
}

/** The opening handshake failed: not a 101, or a 101 that does not follow RFC 6455 §4.1. */
export class WebSocketHandshakeError extends WebSocketError {
  /** HTTP status of the refusal, when there was a response. */
  readonly status: number | undefined;
  constructor(message: string, status?: number, options?: { cause?: unknown }) {
    super('ERR_WS_HANDSHAKE', message, options);
    this.name = 'WebSocketHandshakeError';
    this.status = status;
  }
}

/**
 * The peer broke the framing rules. `closeCode` is what we send before dropping the connection
 * (1002 protocol error, 1007 bad UTF-8, 1009 too big).
 */
export class WebSocketProtocolError extends WebSocketError {
  readonly closeCode: 1002 | 1007 | 1009;
  constructor(
    code:
      | 'ERR_WS_PROTOCOL'
      | 'ERR_WS_INVALID_UTF8'
      | 'ERR_WS_MESSAGE_TOO_BIG'
      | 'ERR_WS_INVALID_CLOSE',
    closeCode: 1002 | 1007 | 1009,
    message: string,
  ) {
    super(code, message);
    this.name = 'WebSocketProtocolError';
    this.closeCode = closeCode;
  }
}

/** Send or close on a connection that is closing or closed. */
export class WebSocketClosedError extends WebSocketError {
  constructor(message = 'WebSocket connection is closed') {
    super('ERR_WS_CLOSED', message);
    this.name = 'WebSocketClosedError';
  }
}
