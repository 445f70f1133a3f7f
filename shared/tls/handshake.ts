/** The client side of the TLS 1.3 full handshake (RFC 8446 §2, §4), without PSK or 0-RTT. */
import { concat, equalBytes } from './_internal/bytes.ts';
import {
  parseIpLiteral,
  SUPPORTED_SIGNATURE_SCHEMES,
  signClientCertificateVerify,
  verifyCertificateSignature,
  verifyServerChain,
} from './certificate.ts';
import {
  AlertDescription,
  ContentType,
  DOWNGRADE_TLS11,
  DOWNGRADE_TLS12,
  ExtensionType,
  HandshakeType,
  MAX_HANDSHAKE_MESSAGE,
  MAX_PLAINTEXT,
  NamedGroup,
  type NamedGroupName,
  ProtocolVersion,
  SignatureScheme,
} from './constants.ts';
import {
  illegalParameter,
  TlsAlertError,
  TlsClientCertificateRefusedError,
  TlsError,
  TlsIntegrityError,
  TlsProtocolError,
  unexpectedMessage,
} from './errors.ts';
import {
  finishedVerifyData,
  KeySchedule,
  SUITES,
  type SuiteParams,
  Transcript,
} from './keyschedule.ts';
import { generateKeyShare, type KeyShare, x25519Available } from './keyshare.ts';
import {
  type CertificateRequest,
  certificateVerifyContent,
  encodeCertificate,
  encodeCertificateVerify,
  encodeClientHello,
  encodeFinished,
  parseAlert,
  parseCertificate,
  parseCertificateRequest,
  parseCertificateVerify,
  parseCookie,
  parseEncryptedExtensions,
  parseHrrKeyShare,
  parseServerHello,
  parseServerKeyShare,
} from './messages.ts';
import { encodePlaintextRecord } from './record.ts';
import { Epoch, type RecordLayer } from './record-layer.ts';

export interface HandshakeOptions {
  serverName?: string;
  trustedCertificates: Uint8Array[];
  verifyServerName?: boolean;
  acceptedServerNames?: readonly string[];
  clientCertificateChain?: Uint8Array[];
  clientKey?: CryptoKey;
  now?: () => Date;
  keyShares?: NamedGroupName[];
  cipherSuites?: SuiteParams['name'][];
}

export interface HandshakeResult {
  suite: SuiteParams;
  group: NamedGroupName;
  peerCertificates: Uint8Array[];
  clientAuthRequested: boolean;
}

/** Alerts by which a server refuses a client certificate. */
export const CLIENT_CERT_REFUSAL_ALERTS = new Set<number>([
  AlertDescription.badCertificate,
  AlertDescription.unsupportedCertificate,
  AlertDescription.certificateRevoked,
  AlertDescription.certificateExpired,
  AlertDescription.certificateUnknown,
  AlertDescription.unknownCa,
  AlertDescription.accessDenied,
  AlertDescription.certificateRequired,
  AlertDescription.handshakeFailure,
  AlertDescription.decryptError,
]);

interface HandshakeMessage {
  type: number;
  body: Uint8Array;
  raw: Uint8Array;
}

/** Reassembles handshake messages from records (several per record, or one across records). */
export class HandshakeReader {
  private buf: Uint8Array = new Uint8Array(0);
  /** Set once the server asked for our certificate, to name refusal alerts precisely. */
  clientAuthRequested = false;
  constructor(private readonly layer: RecordLayer) {}

  /** RFC 8446 §5.1: a handshake message must not span a key change. */
  assertEmpty() {
    if (this.buf.length > 0) throw unexpectedMessage('handshake data across a key change');
  }

  /** The next complete message held in `buf`, if any; the caller feeds data with `push`. */
  take(): HandshakeMessage | undefined {
    if (this.buf.length < 4) return undefined;
    const len = (this.buf[1]! << 16) | (this.buf[2]! << 8) | this.buf[3]!;
    if (len > MAX_HANDSHAKE_MESSAGE) {
      throw new TlsProtocolError('ERR_TLS_DECODE', `handshake message of ${len} bytes`, {
        alert: AlertDescription.decodeError,
      });
    }
    if (this.buf.length < 4 + len) return undefined;
    const raw = this.buf.subarray(0, 4 + len);
    this.buf = this.buf.subarray(4 + len);
    return { type: raw[0]!, body: raw.subarray(4), raw };
  }

  push(content: Uint8Array) {
    if (content.length === 0) throw unexpectedMessage('empty handshake record');
    this.buf = this.buf.length === 0 ? content : concat([this.buf, content]);
  }

  alertError(fragment: Uint8Array): TlsError {
    const { description } = parseAlert(fragment);
    return this.clientAuthRequested && CLIENT_CERT_REFUSAL_ALERTS.has(description)
      ? new TlsClientCertificateRefusedError(description)
      : new TlsAlertError(description);
  }

  async next(): Promise<HandshakeMessage> {
    for (;;) {
      const message = this.take();
      if (message) return message;
      const record = await this.layer.nextRecord();
      // RFC 8446 §5: a change_cipher_spec of value 1 may appear during the handshake (compat mode).
      if (record.type === ContentType.changeCipherSpec) {
        if (record.fragment.length === 1 && record.fragment[0] === 1) continue;
        throw unexpectedMessage('change_cipher_spec');
      }
      let type = record.type;
      let content = record.fragment;
      if (this.layer.read) {
        ({ type, content } = await this.layer.open(this.layer.read, record));
      } else if (type === ContentType.applicationData) {
        throw unexpectedMessage('encrypted record before ServerHello');
      }
      if (type === ContentType.alert) throw this.alertError(content);
      if (type !== ContentType.handshake)
        throw unexpectedMessage(`record type ${type} in handshake`);
      this.push(content);
    }
  }
}

const randomBytes = (n: number) => crypto.getRandomValues(new Uint8Array(n));

const expect = (message: HandshakeMessage, type: number, name: string) => {
  if (message.type !== type)
    throw unexpectedMessage(`handshake message ${message.type}, wanted ${name}`);
  return message;
};

/** Sends handshake messages, packed into as few records as the size limit allows. */
const sendHandshake = (layer: RecordLayer, messages: Uint8Array[]) => {
  const all = concat(messages);
  const sends: Promise<void>[] = [];
  for (let i = 0; i < all.length; i += MAX_PLAINTEXT) {
    sends.push(layer.send(ContentType.handshake, all.subarray(i, i + MAX_PLAINTEXT)));
  }
  return Promise.all(sends);
};

const wireShares = (shares: KeyShare[]) =>
  shares.map((s) => ({ group: s.id, publicKey: s.publicKey }));

const DEFAULT_GROUPS: NamedGroupName[] = ['x25519', 'secp256r1'];

const SERVER_HELLO_EXTENSIONS = new Set<number>([
  ExtensionType.supportedVersions,
  ExtensionType.keyShare,
  ExtensionType.cookie,
]);

/** Runs the handshake on `layer`; on return the layer holds the application traffic keys. */
export async function performHandshake(
  layer: RecordLayer,
  hs: HandshakeReader,
  options: HandshakeOptions,
): Promise<HandshakeResult> {
  const suites = options.cipherSuites
    ? SUITES.filter((s) => options.cipherSuites!.includes(s.name))
    : SUITES;
  let shares = (
    await Promise.all((options.keyShares ?? DEFAULT_GROUPS).map((g) => generateKeyShare(g)))
  ).filter((s): s is KeyShare => s !== undefined);
  if (shares.length === 0)
    throw new TlsError(
      'ERR_TLS_INVALID_OPTIONS',
      'no key share this engine can make was asked for',
    );
  // Only groups this engine can make shares for, or a HelloRetryRequest could pick one it cannot.
  const groups = DEFAULT_GROUPS.filter((g) => g !== 'x25519' || x25519Available());
  const random = randomBytes(32);
  const sessionId = randomBytes(32); // RFC 8446 D.4 middlebox compatibility
  const helloParams = {
    random,
    sessionId,
    cipherSuites: suites.map((s) => s.id),
    // RFC 6066 §3: SNI carries DNS names only, never an IP literal.
    ...(options.serverName !== undefined && !parseIpLiteral(options.serverName)
      ? { serverName: options.serverName }
      : {}),
    groups: groups.map((g) => NamedGroup[g]),
    signatureSchemes: SUPPORTED_SIGNATURE_SCHEMES,
  };
  const transcript = new Transcript();
  let clientHello = encodeClientHello({ ...helloParams, keyShares: wireShares(shares) });
  transcript.add(clientHello);
  await layer.sendRaw(encodePlaintextRecord(ContentType.handshake, clientHello, 0x0301));

  let serverHelloMsg = expect(await hs.next(), HandshakeType.serverHello, 'ServerHello');
  let sh = parseServerHello(serverHelloMsg.body);
  const checkVersion = () => {
    if (sh.selectedVersion === ProtocolVersion.tls13) return;
    if (sh.selectedVersion !== undefined)
      throw illegalParameter('server selected an unoffered version');
    const tail = sh.random.subarray(24);
    if (equalBytes(tail, DOWNGRADE_TLS12) || equalBytes(tail, DOWNGRADE_TLS11)) {
      throw new TlsProtocolError('ERR_TLS_DOWNGRADE', 'server signals a downgrade below TLS 1.3', {
        alert: AlertDescription.illegalParameter,
      });
    }
    throw new TlsProtocolError('ERR_TLS_PROTOCOL_VERSION', 'server does not speak TLS 1.3', {
      alert: AlertDescription.protocolVersion,
    });
  };
  const checkCommon = () => {
    checkVersion();
    if (!equalBytes(sh.sessionIdEcho, sessionId)) throw illegalParameter('legacy_session_id_echo');
    const suite = suites.find((s) => s.id === sh.cipherSuite);
    if (!suite) throw illegalParameter(`server chose unoffered suite ${sh.cipherSuite}`);
    for (const type of sh.extensions.keys()) {
      if (!SERVER_HELLO_EXTENSIONS.has(type)) {
        throw new TlsProtocolError('ERR_TLS_ILLEGAL_PARAMETER', `unexpected extension ${type}`, {
          alert: AlertDescription.unsupportedExtension,
        });
      }
    }
    return suite;
  };

  let suite = checkCommon();
  transcript.setHash(suite.hash);
  if (sh.isHelloRetryRequest) {
    // RFC 8446 §4.1.4
    const ks = sh.extensions.get(ExtensionType.keyShare);
    const cookieExt = sh.extensions.get(ExtensionType.cookie);
    const cookie = cookieExt ? parseCookie(cookieExt) : undefined;
    let selected: number | undefined;
    if (ks) {
      selected = parseHrrKeyShare(ks);
      const name = groups.find((g) => NamedGroup[g] === selected);
      const share =
        name && !shares.some((s) => s.id === selected) ? await generateKeyShare(name) : undefined;
      if (!share) throw illegalParameter('HelloRetryRequest selected an unusable group');
      shares = [share];
    } else if (!cookie) {
      throw illegalParameter('HelloRetryRequest changes nothing');
    }
    transcript.replaceWithMessageHash();
    transcript.add(serverHelloMsg.raw.slice());
    clientHello = encodeClientHello({
      ...helloParams,
      keyShares: wireShares(shares),
      ...(cookie ? { cookie } : {}),
    });
    transcript.add(clientHello);
    hs.assertEmpty();
    await layer.send(ContentType.handshake, clientHello);
    serverHelloMsg = expect(await hs.next(), HandshakeType.serverHello, 'ServerHello');
    sh = parseServerHello(serverHelloMsg.body);
    if (sh.isHelloRetryRequest) throw unexpectedMessage('second HelloRetryRequest');
    const suite2 = checkCommon();
    if (suite2 !== suite) throw illegalParameter('suite changed after HelloRetryRequest');
    suite = suite2;
  }
  if (sh.extensions.has(ExtensionType.cookie)) throw illegalParameter('cookie in ServerHello');
  const ksData = sh.extensions.get(ExtensionType.keyShare);
  if (!ksData) {
    throw new TlsProtocolError('ERR_TLS_HANDSHAKE_FAILURE', 'ServerHello without key_share', {
      alert: AlertDescription.missingExtension,
    });
  }
  const serverShare = parseServerKeyShare(ksData);
  const share = shares.find((s) => s.id === serverShare.group);
  if (!share) throw illegalParameter('server key share for a group we did not offer');
  transcript.add(serverHelloMsg.raw.slice());

  const schedule = new KeySchedule(suite, await share.sharedSecret(serverShare.publicKey));
  const hsSecrets = schedule.handshakeTrafficSecrets(transcript.digest());
  hs.assertEmpty();
  layer.read = new Epoch(suite, hsSecrets.server);
  // From here on our alerts, too, go out under the handshake keys (RFC 8446 §6).
  layer.write = new Epoch(suite, hsSecrets.client);

  const ee = expect(await hs.next(), HandshakeType.encryptedExtensions, 'EncryptedExtensions');
  parseEncryptedExtensions(ee.body);
  transcript.add(ee.raw.slice());

  let message = await hs.next();
  let certRequest: CertificateRequest | undefined;
  if (message.type === HandshakeType.certificateRequest) {
    certRequest = parseCertificateRequest(message.body);
    if (certRequest.context.length !== 0) throw illegalParameter('CertificateRequest context');
    hs.clientAuthRequested = true;
    transcript.add(message.raw.slice());
    message = await hs.next();
  }
  expect(message, HandshakeType.certificate, 'Certificate');
  const certificate = parseCertificate(message.body);
  if (certificate.context.length !== 0) throw illegalParameter('server Certificate context');
  transcript.add(message.raw.slice());
  const now = options.now?.() ?? new Date();
  const names =
    options.acceptedServerNames ??
    (options.serverName !== undefined ? [options.serverName] : undefined);
  const checkName = options.verifyServerName ?? names !== undefined;
  const chain = verifyServerChain(
    certificate.certificates,
    options.trustedCertificates,
    now,
    checkName ? (names ?? []) : undefined,
  );
  chain.catch(() => {});

  const cvMsg = expect(await hs.next(), HandshakeType.certificateVerify, 'CertificateVerify');
  const cv = parseCertificateVerify(cvMsg.body);
  if (!SUPPORTED_SIGNATURE_SCHEMES.includes(cv.scheme as never)) {
    throw illegalParameter(`server signed with unoffered scheme ${cv.scheme}`);
  }
  const leaf = await chain;
  await verifyCertificateSignature(
    leaf,
    cv.scheme,
    cv.signature,
    certificateVerifyContent('server', transcript.digest()),
  );
  transcript.add(cvMsg.raw.slice());

  const finMsg = expect(await hs.next(), HandshakeType.finished, 'Finished');
  const expected = finishedVerifyData(suite, hsSecrets.server, transcript.digest());
  if (finMsg.body.length !== expected.length || !equalBytes(finMsg.body, expected)) {
    throw new TlsIntegrityError('ERR_TLS_BAD_FINISHED', 'server Finished does not verify', {
      alert: AlertDescription.decryptError,
    });
  }
  transcript.add(finMsg.raw.slice());
  const apSecrets = schedule.applicationTrafficSecrets(transcript.digest());
  hs.assertEmpty();
  layer.read = new Epoch(suite, apSecrets.server);

  // Client flight, under the client handshake keys.
  const flight: Uint8Array[] = [];
  if (certRequest) {
    const canSign =
      options.clientKey !== undefined &&
      (options.clientCertificateChain?.length ?? 0) > 0 &&
      certRequest.signatureSchemes.includes(SignatureScheme.ecdsa_secp256r1_sha256);
    const cert = encodeCertificate(
      certRequest.context,
      canSign ? options.clientCertificateChain! : [],
    );
    transcript.add(cert);
    flight.push(cert);
    if (canSign) {
      const signature = await signClientCertificateVerify(
        options.clientKey!,
        certificateVerifyContent('client', transcript.digest()),
      );
      const ccv = encodeCertificateVerify(SignatureScheme.ecdsa_secp256r1_sha256, signature);
      transcript.add(ccv);
      flight.push(ccv);
    }
  }
  flight.push(encodeFinished(finishedVerifyData(suite, hsSecrets.client, transcript.digest())));
  const sent = sendHandshake(layer, flight);
  layer.write = new Epoch(suite, apSecrets.client);
  await sent;

  return {
    suite,
    group: share.group,
    peerCertificates: certificate.certificates,
    clientAuthRequested: certRequest !== undefined,
  };
}
