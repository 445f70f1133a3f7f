/** Stable codes of every failure the HTTP layer reports; `switch (err.code)` narrows. */
export type HttpErrorCode =
  | 'ERR_HTTP_INVALID_REQUEST'
  | 'ERR_HTTP_PARSE'
  | 'ERR_HTTP_HEAD_TOO_LARGE'
  | 'ERR_HTTP_TOO_MANY_HEADERS'
  | 'ERR_HTTP_CONNECTION_CLOSED'
  | 'ERR_HTTP_BODY_LENGTH'
  | 'ERR_HTTP_ABORTED'
  | 'ERR_HTTP_POOL_CLOSED';

/** Base class of the HTTP layer's errors. */
export class HttpError extends Error {
  readonly code: HttpErrorCode;
  constructor(code: HttpErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HttpError';
    this.code = code;
  }
}

/** The caller's request cannot be sent as given (bad method, target, header name or value). */
export class HttpInvalidRequestError extends HttpError {
  constructor(message: string) {
    super('ERR_HTTP_INVALID_REQUEST', message);
    this.name = 'HttpInvalidRequestError';
  }
}

/** The peer sent bytes that are not a valid HTTP/1.1 response. The connection is unusable. */
export class HttpParseError extends HttpError {
  constructor(
    code: 'ERR_HTTP_PARSE' | 'ERR_HTTP_HEAD_TOO_LARGE' | 'ERR_HTTP_TOO_MANY_HEADERS',
    message: string,
  ) {
    super(code, message);
    this.name = 'HttpParseError';
  }
}

/**
 * The connection ended (EOF, reset, or write failure) before the response was complete.
 * `beforeResponse` is true when not a single response byte had arrived: the server may never have
 * seen the request, which is what makes a retry of an idempotent request safe.
 */
export class HttpConnectionClosedError extends HttpError {
  readonly beforeResponse: boolean;
  constructor(message: string, beforeResponse: boolean, options?: { cause?: unknown }) {
    super('ERR_HTTP_CONNECTION_CLOSED', message, options);
    this.name = 'HttpConnectionClosedError';
    this.beforeResponse = beforeResponse;
  }
}

/** A request body did not match its declared Content-Length. */
export class HttpBodyLengthError extends HttpError {
  constructor(message: string) {
    super('ERR_HTTP_BODY_LENGTH', message);
    this.name = 'HttpBodyLengthError';
  }
}

/** The request was given up: its `AbortSignal` fired, its body stream failed, or its response body was cancelled. */
export class HttpAbortError extends HttpError {
  constructor(message = 'the request was aborted', options?: { cause?: unknown }) {
    super('ERR_HTTP_ABORTED', message, options);
    this.name = 'HttpAbortError';
  }
}

/** The pool was closed; no new request is accepted. */
export class HttpPoolClosedError extends HttpError {
  constructor() {
    super('ERR_HTTP_POOL_CLOSED', 'the HTTP pool is closed');
    this.name = 'HttpPoolClosedError';
  }
}
