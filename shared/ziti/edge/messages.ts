/**
 * One builder and one parser per edge message of a dialing client (reference §3.4), side by side;
 * the hosting messages (§3.5) are in hosting-messages.ts. Builders are pure:
 * they return a `Message` with sequence 0 (the channel assigns sequences) and put headers in a fixed
 * order (ConnId, Seq, UUID first, as OpenZiti's browser client does), so golden bytes are stable.
 * Parsers check content type and required headers and throw `ZitiProtocolError`.
 */

import { ContentType, CryptoMethod, EdgeFlag, HeaderId } from '../channel/constants.ts';
import {
  decodeString,
  getHeaderBool,
  getHeaderByte,
  getHeaderBytes,
  getHeaderI32,
  getHeaderString,
  getHeaderU32,
  type Message,
  newMessage,
  setHeaderBool,
  setHeaderByte,
  setHeaderBytes,
  setHeaderString,
  setHeaderU32,
  stringBytes,
} from '../channel/message.ts';
import { type StructuredError, ZitiProtocolError } from '../errors.ts';
import {
  connIdOf,
  EMPTY,
  expect,
  PUBLIC_KEY_BYTES,
  publicKeyOf,
  setCommon,
  setReplyFor,
  toBytes,
} from './_internal/fields.ts';

/** Size of an X25519 public key (PublicKey header, 1003). */
export { PUBLIC_KEY_BYTES };

// --- Connect (60783) --------------------------------------------------------------------------

export interface ConnectParams {
  connId: number;
  /** Dial session token from `POST /sessions`: the body. */
  sessionToken: string;
  /** Seq header (1001); BrowZer sends 0 on Connect. */
  seq?: number;
  uuid?: Uint8Array;
  /** AppData (1011): JSON bytes or a JSON string (reference §7). */
  appData?: Uint8Array | string;
  /** Our 32-byte X25519 key when the service requires encryption; CryptoMethod 0 is added. */
  publicKey?: Uint8Array;
  callerId?: string;
  connectionMarker?: string;
  terminatorIdentity?: string;
  /** UseXgressToSdk (1028): ask for SDK flow control (xgress payloads instead of Data). */
  useXgressToSdk?: boolean;
}

export interface ConnectRequest {
  connId: number;
  sessionToken: string;
  seq: number | undefined;
  appData: Uint8Array | undefined;
  publicKey: Uint8Array | undefined;
  cryptoMethod: number | undefined;
  callerId: string | undefined;
  connectionMarker: string | undefined;
  terminatorIdentity: string | undefined;
  /** UseXgressToSdk (1028): the dialer asks for SDK flow control. */
  useXgressToSdk: boolean;
}

export function encodeConnect(p: ConnectParams): Message {
  const msg = newMessage(ContentType.Connect, new Map(), stringBytes(p.sessionToken));
  setCommon(msg, p.connId, p.seq, p.uuid);
  if (p.appData !== undefined) setHeaderBytes(msg, HeaderId.AppData, toBytes(p.appData));
  if (p.publicKey !== undefined) {
    setHeaderBytes(msg, HeaderId.PublicKey, p.publicKey);
    setHeaderByte(msg, HeaderId.CryptoMethod, CryptoMethod.Libsodium);
  }
  if (p.callerId !== undefined) setHeaderString(msg, HeaderId.CallerId, p.callerId);
  if (p.connectionMarker !== undefined) {
    setHeaderString(msg, HeaderId.ConnectionMarker, p.connectionMarker);
  }
  if (p.terminatorIdentity !== undefined) {
    setHeaderString(msg, HeaderId.TerminatorIdentity, p.terminatorIdentity);
  }
  if (p.useXgressToSdk !== undefined) {
    setHeaderBool(msg, HeaderId.UseXgressToSdk, p.useXgressToSdk);
  }
  return msg;
}

export function decodeConnect(msg: Message): ConnectRequest {
  expect(msg, ContentType.Connect, 'Connect');
  return {
    connId: connIdOf(msg),
    sessionToken: decodeString(msg.body),
    seq: getHeaderU32(msg, HeaderId.Seq),
    appData: getHeaderBytes(msg, HeaderId.AppData),
    publicKey: publicKeyOf(msg),
    cryptoMethod: getHeaderByte(msg, HeaderId.CryptoMethod),
    callerId: getHeaderString(msg, HeaderId.CallerId),
    connectionMarker: getHeaderString(msg, HeaderId.ConnectionMarker),
    terminatorIdentity: getHeaderString(msg, HeaderId.TerminatorIdentity),
    useXgressToSdk: getHeaderBool(msg, HeaderId.UseXgressToSdk) ?? false,
  };
}

// --- StateConnected (60784) -------------------------------------------------------------------

export interface StateConnectedParams {
  connId: number;
  /** Sequence of the Connect / Bind / DialSuccess this answers. */
  replyFor?: number;
  circuitId?: string;
  /** The terminator's 32-byte key (E2E peer data). */
  publicKey?: Uint8Array;
  /** RouterProvidedConnId as a bool (answer to a Bind). */
  routerProvidedConnId?: boolean;
  /** SDK flow control granted: UseXgressToSdk, XgressCtrlId, XgressAddress. */
  xgress?: XgressGrant;
}

/** What a router sends when it grants SDK flow control (`xgEdgeForwarder.FinishConnect`). */
export interface XgressGrant {
  ctrlId: string;
  address: string;
}

export interface StateConnectedInfo {
  connId: number;
  replyFor: number | undefined;
  circuitId: string | undefined;
  publicKey: Uint8Array | undefined;
  routerProvidedConnId: boolean | undefined;
  xgress: XgressGrant | undefined;
}

export function encodeStateConnected(p: StateConnectedParams): Message {
  const msg = newMessage(ContentType.StateConnected);
  setCommon(msg, p.connId);
  setReplyFor(msg, p.replyFor);
  if (p.circuitId !== undefined) setHeaderString(msg, HeaderId.CircuitId, p.circuitId);
  if (p.publicKey !== undefined) setHeaderBytes(msg, HeaderId.PublicKey, p.publicKey);
  if (p.routerProvidedConnId !== undefined) {
    setHeaderBool(msg, HeaderId.RouterProvidedConnId, p.routerProvidedConnId);
  }
  if (p.xgress) {
    setHeaderBool(msg, HeaderId.UseXgressToSdk, true);
    setHeaderString(msg, HeaderId.XgressCtrlId, p.xgress.ctrlId);
    setHeaderString(msg, HeaderId.XgressAddress, p.xgress.address);
  }
  return msg;
}

export function decodeStateConnected(msg: Message): StateConnectedInfo {
  expect(msg, ContentType.StateConnected, 'StateConnected');
  const rpc = getHeaderBytes(msg, HeaderId.RouterProvidedConnId);
  return {
    connId: connIdOf(msg),
    replyFor: getHeaderI32(msg, HeaderId.ReplyFor),
    circuitId: getHeaderString(msg, HeaderId.CircuitId),
    publicKey: publicKeyOf(msg),
    routerProvidedConnId: rpc === undefined ? undefined : rpc[0] === 1,
    xgress: xgressGrantOf(msg),
  };
}

/** sdk-golang `setupFlowControl`: a grant without its control id or address is refused. */
function xgressGrantOf(msg: Message): XgressGrant | undefined {
  if (getHeaderBool(msg, HeaderId.UseXgressToSdk) !== true) return undefined;
  const ctrlId = getHeaderString(msg, HeaderId.XgressCtrlId);
  const address = getHeaderString(msg, HeaderId.XgressAddress);
  if (ctrlId === undefined) {
    throw new ZitiProtocolError('missing-header', 'flow control granted without XgressCtrlId');
  }
  if (address === undefined) {
    throw new ZitiProtocolError('missing-header', 'flow control granted without XgressAddress');
  }
  return { ctrlId, address };
}

// --- StateClosed (60785) ----------------------------------------------------------------------

export interface StateClosedParams {
  connId: number;
  seq?: number;
  uuid?: Uint8Array;
  replyFor?: number;
  /** Body: the reason text (BrowZer sends the session token). */
  reason?: string;
  /** ErrorCode (1014), see EdgeErrorCode. */
  errorCode?: number;
  structuredError?: StructuredError;
  circuitId?: string;
}

export interface StateClosedInfo {
  connId: number;
  replyFor: number | undefined;
  reason: string;
  errorCode: number | undefined;
  structuredError: StructuredError | undefined;
  circuitId: string | undefined;
}

export function encodeStateClosed(p: StateClosedParams): Message {
  const msg = newMessage(ContentType.StateClosed, new Map(), stringBytes(p.reason ?? ''));
  setCommon(msg, p.connId, p.seq, p.uuid);
  setReplyFor(msg, p.replyFor);
  if (p.errorCode !== undefined) setHeaderU32(msg, HeaderId.ErrorCode, p.errorCode);
  if (p.structuredError !== undefined) {
    setHeaderString(msg, HeaderId.StructuredError, JSON.stringify(p.structuredError));
  }
  if (p.circuitId !== undefined) setHeaderString(msg, HeaderId.CircuitId, p.circuitId);
  return msg;
}

export function decodeStateClosed(msg: Message): StateClosedInfo {
  expect(msg, ContentType.StateClosed, 'StateClosed');
  return {
    connId: connIdOf(msg),
    replyFor: getHeaderI32(msg, HeaderId.ReplyFor),
    reason: new TextDecoder().decode(msg.body),
    errorCode: getHeaderU32(msg, HeaderId.ErrorCode),
    structuredError: parseStructuredError(getHeaderBytes(msg, HeaderId.StructuredError)),
    circuitId: getHeaderString(msg, HeaderId.CircuitId),
  };
}

/** StructuredError JSON; an unparsable value is ignored (the body still has the reason). */
export function parseStructuredError(value: Uint8Array | undefined): StructuredError | undefined {
  if (value === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(value));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
    const o = parsed as Record<string, unknown>;
    return {
      message: typeof o.message === 'string' ? o.message : undefined,
      code: typeof o.code === 'number' ? o.code : undefined,
      retryHint: typeof o.retryHint === 'number' ? o.retryHint : undefined,
      failingPostureCheckIds: Array.isArray(o.failingPostureCheckIds)
        ? o.failingPostureCheckIds.filter((x): x is string => typeof x === 'string')
        : undefined,
    };
  } catch {
    return undefined;
  }
}

// --- Data (60786) -----------------------------------------------------------------------------

export interface DataParams {
  connId: number;
  seq?: number;
  uuid?: Uint8Array;
  /** Flags (1010) bits, see EdgeFlag; omitted when 0. */
  flags?: number;
  body?: Uint8Array;
}

export interface DataInfo {
  connId: number;
  seq: number | undefined;
  flags: number;
  fin: boolean;
  multipart: boolean;
  /** The message's body (read lazily: a body received in pieces is joined only when read). */
  readonly body: Uint8Array;
}

export function encodeData(p: DataParams): Message {
  const msg = newMessage(ContentType.Data, new Map(), p.body ?? EMPTY);
  setCommon(msg, p.connId, p.seq, p.uuid);
  if (p.flags) setHeaderU32(msg, HeaderId.Flags, p.flags);
  return msg;
}

export function decodeData(msg: Message): DataInfo {
  expect(msg, ContentType.Data, 'Data');
  const flags = getHeaderU32(msg, HeaderId.Flags) ?? 0;
  return {
    connId: connIdOf(msg),
    seq: getHeaderU32(msg, HeaderId.Seq),
    flags,
    fin: (flags & EdgeFlag.FIN) !== 0,
    multipart: (flags & EdgeFlag.MULTIPART_MSG) !== 0,
    get body() {
      return msg.body;
    },
  };
}

/** Parts of a MULTIPART_MSG body (after decryption): u16 LE length + bytes, repeated. */
export function splitMultipart(body: Uint8Array): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let at = 0;
  while (at < body.length) {
    if (body.length - at < 2) throw new ZitiProtocolError('bad-body', 'truncated multipart length');
    const len = body[at]! | (body[at + 1]! << 8);
    at += 2;
    if (len > body.length - at) throw new ZitiProtocolError('bad-body', 'multipart part overruns');
    parts.push(body.subarray(at, at + len));
    at += len;
  }
  return parts;
}

/** A MULTIPART_MSG body from parts (each at most 65535 bytes). */
export function joinMultipart(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + 2 + p.length, 0));
  let at = 0;
  for (const p of parts) {
    if (p.length > 0xffff) throw new RangeError('multipart part over 65535 bytes');
    out[at] = p.length & 0xff;
    out[at + 1] = p.length >> 8;
    out.set(p, at + 2);
    at += 2 + p.length;
  }
  return out;
}
