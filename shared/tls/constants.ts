/** TLS 1.3 protocol numbers (RFC 8446 unless noted). */

export const ContentType = {
  changeCipherSpec: 20,
  alert: 21,
  handshake: 22,
  applicationData: 23,
} as const;

export const HandshakeType = {
  clientHello: 1,
  serverHello: 2,
  newSessionTicket: 4,
  endOfEarlyData: 5,
  encryptedExtensions: 8,
  certificate: 11,
  certificateRequest: 13,
  certificateVerify: 15,
  finished: 20,
  keyUpdate: 24,
  /** RFC 8446 §4.4.1: replaces ClientHello1 in the transcript after a HelloRetryRequest. */
  messageHash: 254,
} as const;

export const ExtensionType = {
  serverName: 0,
  supportedGroups: 10,
  signatureAlgorithms: 13,
  alpn: 16,
  supportedVersions: 43,
  cookie: 44,
  certificateAuthorities: 47,
  signatureAlgorithmsCert: 50,
  keyShare: 51,
} as const;

export const AlertLevel = { warning: 1, fatal: 2 } as const;

export const AlertDescription = {
  closeNotify: 0,
  unexpectedMessage: 10,
  badRecordMac: 20,
  recordOverflow: 22,
  handshakeFailure: 40,
  badCertificate: 42,
  unsupportedCertificate: 43,
  certificateRevoked: 44,
  certificateExpired: 45,
  certificateUnknown: 46,
  illegalParameter: 47,
  unknownCa: 48,
  accessDenied: 49,
  decodeError: 50,
  decryptError: 51,
  protocolVersion: 70,
  insufficientSecurity: 71,
  internalError: 80,
  inappropriateFallback: 86,
  userCanceled: 90,
  missingExtension: 109,
  unsupportedExtension: 110,
  unrecognizedName: 112,
  badCertificateStatusResponse: 113,
  unknownPskIdentity: 115,
  certificateRequired: 116,
  noApplicationProtocol: 120,
} as const;

export const alertName = (description: number): string =>
  Object.entries(AlertDescription).find(([, v]) => v === description)?.[0] ??
  `alert_${description}`;

export const ProtocolVersion = { tls12: 0x0303, tls13: 0x0304 } as const;

export const CipherSuite = {
  TLS_AES_128_GCM_SHA256: 0x1301,
  TLS_AES_256_GCM_SHA384: 0x1302,
  TLS_CHACHA20_POLY1305_SHA256: 0x1303,
} as const;
export type CipherSuiteName = keyof typeof CipherSuite;

export const NamedGroup = { secp256r1: 0x0017, x25519: 0x001d } as const;
export type NamedGroupName = keyof typeof NamedGroup;

export const SignatureScheme = {
  ecdsa_secp256r1_sha256: 0x0403,
  ecdsa_secp384r1_sha384: 0x0503,
  rsa_pss_rsae_sha256: 0x0804,
  rsa_pss_rsae_sha384: 0x0805,
  rsa_pss_rsae_sha512: 0x0806,
  ed25519: 0x0807,
} as const;

/** RFC 8446 §4.1.3: ServerHello.random of a HelloRetryRequest, SHA-256("HelloRetryRequest"). */
export const HELLO_RETRY_REQUEST_RANDOM = new Uint8Array([
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
  0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
]);

/** RFC 8446 §4.1.3: last 8 bytes of ServerHello.random when a TLS 1.3 server negotiates 1.2 / 1.1. */
export const DOWNGRADE_TLS12 = new Uint8Array([0x44, 0x4f, 0x57, 0x4e, 0x47, 0x52, 0x44, 0x01]);
export const DOWNGRADE_TLS11 = new Uint8Array([0x44, 0x4f, 0x57, 0x4e, 0x47, 0x52, 0x44, 0x00]);

/** RFC 8446 §5.1: maximum TLSPlaintext.fragment length. */
export const MAX_PLAINTEXT = 1 << 14;
/** RFC 8446 §5.2: maximum TLSCiphertext.encrypted_record length (2^14 + 256). */
export const MAX_CIPHERTEXT = (1 << 14) + 256;
export const RECORD_HEADER_LENGTH = 5;
export const AEAD_TAG_LENGTH = 16;
/** Our own cap on one handshake message (a certificate chain); larger means a hostile peer. */
export const MAX_HANDSHAKE_MESSAGE = 1 << 17;
/** Encrypted records kept in flight each way (WebCrypto runs them in parallel). */
export const DEFAULT_RECORDS_IN_FLIGHT = 8;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** RFC 8446 §5.5: AES-GCM may protect 2^24.5 records per key; we rotate well before. */
export const KEY_UPDATE_AFTER_RECORDS = 1 << 24;
