/** Handshake message builders and parsers (RFC 8446 §4), side by side. Encoders are pure. */
import { ByteReader, ByteWriter, concat, equalBytes, utf8 } from './_internal/bytes.ts';
import {
  AlertDescription,
  ExtensionType,
  HandshakeType,
  HELLO_RETRY_REQUEST_RANDOM,
  ProtocolVersion,
} from './constants.ts';
import { decodeError, illegalParameter, TlsProtocolError } from './errors.ts';

/** handshake header: msg_type(1) || length(3) || body. */
export const encodeHandshake = (type: number, body: Uint8Array) =>
  new ByteWriter()
    .u8(type)
    .vector(3, (w) => w.bytes(body))
    .finish();

export interface ClientHelloParams {
  random: Uint8Array;
  sessionId: Uint8Array;
  cipherSuites: readonly number[];
  serverName?: string;
  groups: readonly number[];
  keyShares: readonly { group: number; publicKey: Uint8Array }[];
  signatureSchemes: readonly number[];
  cookie?: Uint8Array;
}

export const encodeClientHello = (p: ClientHelloParams): Uint8Array => {
  const ext = (w: ByteWriter, type: number, fn: (w: ByteWriter) => void) =>
    w.u16(type).vector(2, fn);
  const body = new ByteWriter()
    .u16(ProtocolVersion.tls12) // legacy_version
    .bytes(p.random)
    .vector(1, (w) => w.bytes(p.sessionId))
    .vector(2, (w) => {
      for (const s of p.cipherSuites) w.u16(s);
    })
    .vector(1, (w) => w.u8(0)) // legacy_compression_methods: null
    .vector(2, (w) => {
      if (p.serverName !== undefined) {
        const name = utf8(p.serverName);
        ext(w, ExtensionType.serverName, (w) =>
          w.vector(2, (w) => w.u8(0).vector(2, (w) => w.bytes(name))),
        );
      }
      ext(w, ExtensionType.supportedVersions, (w) =>
        w.vector(1, (w) => w.u16(ProtocolVersion.tls13)),
      );
      ext(w, ExtensionType.supportedGroups, (w) =>
        w.vector(2, (w) => {
          for (const g of p.groups) w.u16(g);
        }),
      );
      ext(w, ExtensionType.signatureAlgorithms, (w) =>
        w.vector(2, (w) => {
          for (const s of p.signatureSchemes) w.u16(s);
        }),
      );
      if (p.cookie) ext(w, ExtensionType.cookie, (w) => w.vector(2, (w) => w.bytes(p.cookie!)));
      ext(w, ExtensionType.keyShare, (w) =>
        w.vector(2, (w) => {
          for (const k of p.keyShares) w.u16(k.group).vector(2, (w) => w.bytes(k.publicKey));
        }),
      );
    })
    .finish();
  return encodeHandshake(HandshakeType.clientHello, body);
};

export type Extensions = Map<number, Uint8Array>;

const parseExtensions = (r: ByteReader, what: string): Extensions => {
  const list = r.sub(2);
  const out: Extensions = new Map();
  while (list.remaining > 0) {
    const type = list.u16();
    const data = list.vector(2);
    if (out.has(type)) throw illegalParameter(`duplicate extension ${type} in ${what}`);
    out.set(type, data);
  }
  return out;
};

export interface ServerHello {
  random: Uint8Array;
  sessionIdEcho: Uint8Array;
  cipherSuite: number;
  extensions: Extensions;
  isHelloRetryRequest: boolean;
  /** supported_versions, or undefined when the server did not send it (pre-1.3 server). */
  selectedVersion?: number;
}

export const parseServerHello = (body: Uint8Array): ServerHello => {
  const r = new ByteReader(body, 'ServerHello');
  r.u16(); // legacy_version, checked through supported_versions
  const random = r.bytes(32);
  const sessionIdEcho = r.vector(1);
  const cipherSuite = r.u16();
  if (r.u8() !== 0) throw illegalParameter('ServerHello compression method');
  const extensions = r.remaining > 0 ? parseExtensions(r, 'ServerHello') : new Map();
  r.end();
  const sv = extensions.get(ExtensionType.supportedVersions);
  let selectedVersion: number | undefined;
  if (sv) {
    const v = new ByteReader(sv, 'supported_versions');
    selectedVersion = v.u16();
    v.end();
  }
  return {
    random,
    sessionIdEcho,
    cipherSuite,
    extensions,
    isHelloRetryRequest: equalBytes(random, HELLO_RETRY_REQUEST_RANDOM),
    ...(selectedVersion !== undefined ? { selectedVersion } : {}),
  };
};

/** key_share in a ServerHello: one entry; in a HelloRetryRequest: just the selected group. */
export const parseServerKeyShare = (data: Uint8Array) => {
  const r = new ByteReader(data, 'key_share');
  const group = r.u16();
  const publicKey = r.vector(2);
  r.end();
  return { group, publicKey };
};

export const parseHrrKeyShare = (data: Uint8Array) => {
  const r = new ByteReader(data, 'key_share');
  const group = r.u16();
  r.end();
  return group;
};

export const parseCookie = (data: Uint8Array) => {
  const r = new ByteReader(data, 'cookie');
  const cookie = r.vector(2);
  r.end();
  if (cookie.length === 0) throw illegalParameter('empty cookie');
  return cookie;
};

/** Extensions a server may put in EncryptedExtensions that we did not offer are refused. */
const ALLOWED_IN_EE = new Set<number>([
  ExtensionType.serverName,
  ExtensionType.supportedGroups,
  ExtensionType.alpn,
  1, // max_fragment_length
  28, // record_size_limit
  42, // early_data
]);

export const parseEncryptedExtensions = (body: Uint8Array): Extensions => {
  const r = new ByteReader(body, 'EncryptedExtensions');
  const ext = parseExtensions(r, 'EncryptedExtensions');
  r.end();
  for (const type of ext.keys()) {
    if (!ALLOWED_IN_EE.has(type)) {
      throw new TlsProtocolError(
        'ERR_TLS_ILLEGAL_PARAMETER',
        `extension ${type} not allowed in EncryptedExtensions`,
        { alert: AlertDescription.unsupportedExtension },
      );
    }
  }
  return ext;
};

const parseSchemeList = (data: Uint8Array) => {
  const r = new ByteReader(data, 'signature_algorithms');
  const list = r.sub(2);
  r.end();
  const out: number[] = [];
  while (list.remaining > 0) out.push(list.u16());
  return out;
};

export interface CertificateRequest {
  context: Uint8Array;
  signatureSchemes: number[];
}

export const parseCertificateRequest = (body: Uint8Array): CertificateRequest => {
  const r = new ByteReader(body, 'CertificateRequest');
  const context = r.vector(1);
  const ext = parseExtensions(r, 'CertificateRequest');
  r.end();
  const sa = ext.get(ExtensionType.signatureAlgorithms);
  if (!sa) {
    throw new TlsProtocolError(
      'ERR_TLS_DECODE',
      'CertificateRequest without signature_algorithms',
      {
        alert: AlertDescription.missingExtension,
      },
    );
  }
  return { context, signatureSchemes: parseSchemeList(sa) };
};

export interface CertificateMessage {
  context: Uint8Array;
  certificates: Uint8Array[];
}

export const parseCertificate = (body: Uint8Array): CertificateMessage => {
  const r = new ByteReader(body, 'Certificate');
  const context = r.vector(1);
  const list = r.sub(3);
  r.end();
  const certificates: Uint8Array[] = [];
  while (list.remaining > 0) {
    const der = list.vector(3);
    if (der.length === 0) throw decodeError('Certificate');
    list.vector(2); // per-certificate extensions (OCSP, SCT): not used
    certificates.push(der.slice());
  }
  return { context, certificates };
};

export const encodeCertificate = (context: Uint8Array, chain: readonly Uint8Array[]) =>
  encodeHandshake(
    HandshakeType.certificate,
    new ByteWriter()
      .vector(1, (w) => w.bytes(context))
      .vector(3, (w) => {
        for (const der of chain) w.vector(3, (w) => w.bytes(der)).u16(0);
      })
      .finish(),
  );

export const parseCertificateVerify = (body: Uint8Array) => {
  const r = new ByteReader(body, 'CertificateVerify');
  const scheme = r.u16();
  const signature = r.vector(2);
  r.end();
  return { scheme, signature };
};

export const encodeCertificateVerify = (scheme: number, signature: Uint8Array) =>
  encodeHandshake(
    HandshakeType.certificateVerify,
    new ByteWriter()
      .u16(scheme)
      .vector(2, (w) => w.bytes(signature))
      .finish(),
  );

/** RFC 8446 §4.4.3: 64 spaces || context string || 0 || transcript hash. */
export const certificateVerifyContent = (role: 'server' | 'client', transcriptHash: Uint8Array) =>
  concat([
    new Uint8Array(64).fill(0x20),
    utf8(`TLS 1.3, ${role} CertificateVerify`),
    new Uint8Array([0]),
    transcriptHash,
  ]);

export const encodeFinished = (verifyData: Uint8Array) =>
  encodeHandshake(HandshakeType.finished, verifyData);

export const encodeKeyUpdate = (requestUpdate: boolean) =>
  encodeHandshake(HandshakeType.keyUpdate, new Uint8Array([requestUpdate ? 1 : 0]));

export const parseKeyUpdate = (body: Uint8Array) => {
  const r = new ByteReader(body, 'KeyUpdate');
  const v = r.u8();
  r.end();
  if (v > 1) throw illegalParameter('KeyUpdate request_update');
  return v === 1;
};

export const encodeAlert = (description: number, level: number) =>
  new Uint8Array([level, description]);

export const parseAlert = (fragment: Uint8Array) => {
  const r = new ByteReader(fragment, 'alert');
  const level = r.u8();
  const description = r.u8();
  r.end();
  return { level, description };
};
