/**
 * TLS 1.3 client (RFC 8446) over any ByteDuplex, with client-certificate authentication by a
 * non-extractable WebCrypto key. Web APIs only.
 */
import type { ByteDuplex } from '../streams/duplex.ts';
import { TlsConnectionImpl } from './connection.ts';
import type { CipherSuiteName } from './constants.ts';
import {
  AlertDescription,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  type NamedGroupName,
} from './constants.ts';
import { asTlsError, TlsClosedError, TlsError } from './errors.ts';
import { HandshakeReader, performHandshake } from './handshake.ts';
import { RecordLayer } from './record-layer.ts';

export { AlertDescription, alertName } from './constants.ts';
export {
  TlsAlertError,
  TlsCertificateError,
  TlsClientCertificateRefusedError,
  TlsClosedError,
  TlsError,
  type TlsErrorCode,
  TlsIntegrityError,
  TlsProtocolError,
} from './errors.ts';

export interface TlsClientOptions {
  /**
   * The server's host name: sent as SNI when it is a DNS name (never an IP literal), and the name
   * the leaf's subjectAltName must match unless `acceptedServerNames` is given. Omitted for the
   * router's inner TLS (BrowZer sends no SNI there either).
   */
  serverName?: string;
  /**
   * Names (DNS names or IP literals) of which the leaf's subjectAltName must match at least one,
   * in place of `serverName`; for a server known under several names, such as an edge router's
   * advertised hosts. An empty list matches nothing.
   */
  acceptedServerNames?: readonly string[];
  /** DER CA certificates the server chain must lead to (the network's CA bundle). */
  trustedCertificates: Uint8Array[];
  /**
   * Check the leaf's subjectAltName against `acceptedServerNames` or `serverName` (default: true
   * when either is given). The leaf's extendedKeyUsage, when present, must allow serverAuth
   * whatever this says.
   */
  verifyServerName?: boolean;
  /** Client certificate chain, DER, leaf first; sent when the server asks (CertificateRequest). */
  clientCertificateChain?: Uint8Array[];
  /** The client's private key: a WebCrypto ECDSA P-256 key, normally non-extractable. */
  clientKey?: CryptoKey;
  /** Default 10 000 ms. */
  handshakeTimeoutMs?: number;
  /** For certificate validity checks in tests. */
  now?: () => Date;
  /** Groups that get a key share in the first ClientHello (default both; others cost an HRR). */
  keyShares?: NamedGroupName[];
  /** Cipher suites to offer, in preference order (default all three). */
  cipherSuites?: CipherSuiteName[];
  /** Records encrypting/decrypting at once in each direction (default 8). */
  recordsInFlight?: number;
}

export interface TlsConnection extends ByteDuplex {
  readonly cipherSuite: string;
  readonly group: string;
  readonly peerCertificates: Uint8Array[];
  /** Sends close_notify and closes the transport. */
  close(): Promise<void>;
  /** Sends a KeyUpdate and rotates our write keys; `requestPeerUpdate` asks the server to rotate too. */
  updateKeys(requestPeerUpdate?: boolean): Promise<void>;
}

const checkOptions = (options: TlsClientOptions) => {
  const invalid = (message: string) => new TlsError('ERR_TLS_INVALID_OPTIONS', message);
  if (!options.trustedCertificates?.length) throw invalid('trustedCertificates is empty');
  const key = options.clientKey;
  if (key) {
    const alg = key.algorithm as KeyAlgorithm & { namedCurve?: string };
    if (key.type !== 'private' || alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256') {
      throw invalid('clientKey must be an ECDSA P-256 private key');
    }
    if (!key.usages.includes('sign')) throw invalid('clientKey must allow "sign"');
    if (!options.clientCertificateChain?.length) throw invalid('clientKey without a certificate');
  }
};

/**
 * Runs the handshake over `transport` and resolves once our Finished is sent. On failure the
 * transport is torn down (after sending the alert when the failure is ours) and the promise
 * rejects with a TlsError.
 */
export async function connectTls(
  transport: ByteDuplex,
  options: TlsClientOptions,
): Promise<TlsConnection> {
  checkOptions(options);
  const layer = new RecordLayer(transport);
  const hs = new HandshakeReader(layer);
  const timeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new TlsClosedError('ERR_TLS_HANDSHAKE_TIMEOUT', `handshake took over ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
  });
  const handshake = performHandshake(layer, hs, options);
  handshake.catch(() => {});
  try {
    const result = await Promise.race([handshake, timeout]);
    return new TlsConnectionImpl(layer, hs, result, options.recordsInFlight);
  } catch (err) {
    const error = asTlsError(err);
    const ours =
      error.alert !== undefined &&
      error.code !== 'ERR_TLS_PEER_ALERT' &&
      error.code !== 'ERR_TLS_CLIENT_CERTIFICATE_REFUSED';
    if (error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') {
      await layer.sendAlert(AlertDescription.userCanceled);
    } else if (ours) {
      await layer.sendAlert(error.alert!);
    }
    layer.abort(error);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

export type { CipherSuiteName, NamedGroupName };
