import { AlertDescription, alertName } from './constants.ts';

/** Stable codes of every TLS failure; `switch (err.code)` narrows. */
export type TlsErrorCode =
  | 'ERR_TLS_INVALID_OPTIONS'
  | 'ERR_TLS_HANDSHAKE_TIMEOUT'
  | 'ERR_TLS_DECODE'
  | 'ERR_TLS_UNEXPECTED_MESSAGE'
  | 'ERR_TLS_ILLEGAL_PARAMETER'
  | 'ERR_TLS_HANDSHAKE_FAILURE'
  | 'ERR_TLS_PROTOCOL_VERSION'
  | 'ERR_TLS_DOWNGRADE'
  | 'ERR_TLS_RECORD_OVERFLOW'
  | 'ERR_TLS_BAD_RECORD_MAC'
  | 'ERR_TLS_CERTIFICATE_UNTRUSTED'
  | 'ERR_TLS_CERTIFICATE_EXPIRED'
  | 'ERR_TLS_CERTIFICATE_NAME'
  | 'ERR_TLS_CERTIFICATE_PURPOSE'
  | 'ERR_TLS_BAD_CERTIFICATE'
  | 'ERR_TLS_BAD_SIGNATURE'
  | 'ERR_TLS_BAD_FINISHED'
  | 'ERR_TLS_CLIENT_CERTIFICATE_REFUSED'
  | 'ERR_TLS_PEER_ALERT'
  | 'ERR_TLS_TRANSPORT_CLOSED'
  | 'ERR_TLS_CLOSED'
  | 'ERR_TLS_INTERNAL';

/**
 * Base class of every TLS failure. `alert` is the alert description sent to the peer (local
 * failures) or received from it (`ERR_TLS_PEER_ALERT`).
 */
export class TlsError extends Error {
  readonly code: TlsErrorCode;
  readonly alert?: number;
  override readonly cause?: unknown;
  constructor(
    code: TlsErrorCode,
    message: string,
    options: { alert?: number; cause?: unknown } = {},
  ) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    if (options.alert !== undefined) this.alert = options.alert;
    if (options.cause !== undefined) this.cause = options.cause;
  }
}

/** Malformed or out-of-place protocol input from the peer (decode, unexpected, illegal, overflow). */
export class TlsProtocolError extends TlsError {}

/** The server's certificate chain, purpose (extendedKeyUsage), name or signature was not acceptable. */
export class TlsCertificateError extends TlsError {}

/** A record failed authentication or a Finished MAC did not match. */
export class TlsIntegrityError extends TlsError {}

/** The peer sent a fatal alert (or an unexpected close_notify during the handshake). */
export class TlsAlertError extends TlsError {
  constructor(alert: number) {
    super('ERR_TLS_PEER_ALERT', `peer sent alert ${alertName(alert)} (${alert})`, { alert });
  }
}

/**
 * The server asked for our certificate and then refused it with an alert (certificate_required,
 * bad_certificate, unknown_ca, ...). TLS 1.3 servers send this after the client's Finished, so it
 * can surface on the first read after connectTls resolved.
 */
export class TlsClientCertificateRefusedError extends TlsError {
  constructor(alert: number) {
    super(
      'ERR_TLS_CLIENT_CERTIFICATE_REFUSED',
      `server refused the client certificate: ${alertName(alert)} (${alert})`,
      { alert },
    );
  }
}

/** The connection or the transport was closed before the operation could finish. */
export class TlsClosedError extends TlsError {}

export const decodeError = (what: string) =>
  new TlsProtocolError('ERR_TLS_DECODE', `malformed ${what}`, {
    alert: AlertDescription.decodeError,
  });

export const unexpectedMessage = (what: string) =>
  new TlsProtocolError('ERR_TLS_UNEXPECTED_MESSAGE', `unexpected ${what}`, {
    alert: AlertDescription.unexpectedMessage,
  });

export const illegalParameter = (what: string) =>
  new TlsProtocolError('ERR_TLS_ILLEGAL_PARAMETER', what, {
    alert: AlertDescription.illegalParameter,
  });

/** Wraps anything thrown that is not a TlsError as an internal error (alert internal_error). */
export const asTlsError = (err: unknown): TlsError =>
  err instanceof TlsError
    ? err
    : new TlsError('ERR_TLS_INTERNAL', `internal error: ${String(err)}`, {
        alert: AlertDescription.internalError,
        cause: err,
      });
