/**
 * Error classes of the OpenZiti client. Each has a stable `code` so a caller can `switch` on it;
 * each keeps the underlying `cause`. Protocol errors also say what goes on the wire.
 */

/** Codes of the errors raised by this package (ZitiApiError carries the controller's own codes). */
export type ZitiErrorCode =
  | 'ERR_ZITI_PROTOCOL'
  | 'ERR_ZITI_TIMEOUT'
  | 'ERR_ZITI_HELLO_REJECTED'
  | 'ERR_ZITI_AUTH'
  | 'ERR_ZITI_CHANNEL_CLOSED'
  | 'ERR_ZITI_DIAL'
  | 'ERR_ZITI_BIND'
  | 'ERR_ZITI_CONN_CLOSED'
  | 'ERR_ZITI_E2E'
  | 'ERR_ZITI_API_RESPONSE'
  | 'ERR_ZITI_CONTROLLER_UNREACHABLE';

/** Base class of every error this package raises. */
export class ZitiError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** What exactly was wrong with the bytes. */
export type ProtocolFault =
  | 'bad-magic'
  | 'bad-length'
  | 'frame-too-large'
  | 'hello-too-large'
  | 'bad-headers'
  | 'bad-header-value'
  | 'missing-header'
  | 'unexpected-message'
  | 'bad-body';

/** Malformed or unexpected bytes from the peer (reference §2, §3). */
export class ZitiProtocolError extends ZitiError {
  override readonly code = 'ERR_ZITI_PROTOCOL';
  readonly fault: ProtocolFault;
  constructor(fault: ProtocolFault, message: string, options?: { cause?: unknown }) {
    super('ERR_ZITI_PROTOCOL', message, options);
    this.fault = fault;
  }
}

/** A request, hello or dial got no answer in time. */
export class ZitiTimeoutError extends ZitiError {
  override readonly code = 'ERR_ZITI_TIMEOUT';
  constructor(message: string) {
    super('ERR_ZITI_TIMEOUT', message);
  }
}

/** The router answered the hello with ResultSuccess=0 (reference §2.4). */
export class ZitiHelloRejectedError extends ZitiError {
  override readonly code = 'ERR_ZITI_HELLO_REJECTED';
  /** HelloRejectClass header (13), when the router sent one. */
  readonly rejectClass: string | undefined;
  constructor(message: string, rejectClass?: string) {
    super('ERR_ZITI_HELLO_REJECTED', message);
    this.rejectClass = rejectClass;
  }
}

/**
 * The router accepted the hello and then closed the channel: it validates the API session and the
 * client certificate only after the ACK (reference §2.4.3), so this means a bad token or certificate.
 */
export class ZitiAuthenticationError extends ZitiError {
  override readonly code = 'ERR_ZITI_AUTH';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ZITI_AUTH', message, options);
  }
}

/** The channel is closed; every pending request and connection fails with this. */
export class ZitiChannelClosedError extends ZitiError {
  override readonly code = 'ERR_ZITI_CHANNEL_CLOSED';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ZITI_CHANNEL_CLOSED', message, options);
  }
}

/** StructuredError header (1033) payload (reference §3.2). */
export interface StructuredError {
  message?: string;
  code?: number;
  retryHint?: number;
  failingPostureCheckIds?: string[];
}

/** A Connect / Dial / Bind was refused with StateClosed or DialFailed (reference §3.4). */
export class ZitiDialError extends ZitiError {
  override readonly code = 'ERR_ZITI_DIAL';
  /** ErrorCode header (1014), see `EdgeErrorCode`; undefined when the router sent none. */
  readonly errorCode: number | undefined;
  readonly structured: StructuredError | undefined;
  constructor(message: string, errorCode?: number, structured?: StructuredError) {
    super('ERR_ZITI_DIAL', message);
    this.errorCode = errorCode;
    this.structured = structured;
  }
}

/** A Bind was refused or the router ended the binding. */
export class ZitiBindError extends ZitiError {
  override readonly code = 'ERR_ZITI_BIND';
  readonly errorCode: number | undefined;
  constructor(message: string, errorCode?: number) {
    super('ERR_ZITI_BIND', message);
    this.errorCode = errorCode;
  }
}

/** The edge connection was closed (by the peer, locally, or because its channel closed). */
export class ZitiConnectionClosedError extends ZitiError {
  override readonly code = 'ERR_ZITI_CONN_CLOSED';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ZITI_CONN_CLOSED', message, options);
  }
}

/** End-to-end encryption failed on one connection (bad header, forged or corrupt message). */
export class ZitiE2EError extends ZitiError {
  override readonly code = 'ERR_ZITI_E2E';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_ZITI_E2E', message, options);
  }
}

/** Codes the controller puts in its `{error}` envelope (reference §1.2). */
export type ZitiApiErrorCode =
  | 'UNAUTHORIZED'
  | 'INVALID_AUTH'
  | 'NOT_FOUND'
  | 'COULD_NOT_VALIDATE'
  | 'RATE_LIMITED'
  | 'NO_EDGE_ROUTERS_AVAILABLE'
  | 'INVALID_POSTURE'
  | 'INVALID_ENROLLMENT_TOKEN'
  | 'ENROLLMENT_EXPIRED'
  | 'COULD_NOT_PROCESS_CSR'
  | 'MISSING_OR_INVALID_CSR'
  | 'MFA_INVALID_TOKEN'
  | 'TIMEOUT'
  | 'INVALID_AUTH_METHOD'
  | 'INVALID_CONTENT_TYPE';

/** The controller answered with an `{error}` envelope; `code` is the controller's own code. */
export class ZitiApiError extends ZitiError {
  declare readonly code: ZitiApiErrorCode | (string & {});
  readonly status: number;
  readonly requestId: string | undefined;
  readonly causeMessage: string | undefined;
  constructor(
    code: string,
    message: string,
    status: number,
    extra?: { requestId?: string; causeMessage?: string },
  ) {
    super(code, message);
    this.status = status;
    this.requestId = extra?.requestId;
    this.causeMessage = extra?.causeMessage;
  }
}

/**
 * The controller's answer was not the documented shape (not JSON, no `data`, wrong types). The
 * message names the call and the field: `GET /external-jwt-signers: data[0].clientId is not a string`.
 */
export class ZitiApiResponseError extends ZitiError {
  override readonly code = 'ERR_ZITI_API_RESPONSE';
  /** The call, e.g. `GET /services`. */
  readonly endpoint: string;
  /** Path of the wrong field, e.g. `data[0].clientId`; undefined when the whole body is wrong. */
  readonly field: string | undefined;
  readonly status: number;
  constructor(
    endpoint: string,
    field: string | undefined,
    problem: string,
    status: number,
    options?: { cause?: unknown },
  ) {
    super('ERR_ZITI_API_RESPONSE', `${endpoint}: ${field ? `${field} ` : ''}${problem}`, options);
    this.endpoint = endpoint;
    this.field = field;
    this.status = status;
  }
}

/**
 * The controller could not be reached at all (`fetch` rejected: network down, DNS, TLS). In a
 * browser this includes the controller asking for an optional client certificate (OpenZiti's
 * does, for certificate logins) when the request has no window to settle that in: Chromium fails
 * a service worker's first request to such a host with ERR_SSL_CLIENT_AUTH_CERT_NEEDED until a
 * page of the same browser session has made one.
 */
export class ZitiControllerUnreachableError extends ZitiError {
  override readonly code = 'ERR_ZITI_CONTROLLER_UNREACHABLE';
  /** The call, e.g. `GET /services`. */
  readonly endpoint: string;
  constructor(endpoint: string, options?: { cause?: unknown }) {
    const why = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(
      'ERR_ZITI_CONTROLLER_UNREACHABLE',
      `${endpoint}: the controller is unreachable${why}`,
      options,
    );
    this.endpoint = endpoint;
  }
}
