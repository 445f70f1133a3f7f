/**
 * Builders and parsers of the hosting messages (reference §3.5): Bind, BindSuccess, Unbind, Dial,
 * DialSuccess, DialFailed. Same conventions as messages.ts.
 */
import { ContentType, CryptoMethod, HeaderId } from '../channel/constants.ts';
import {
  decodeString,
  getHeaderBool,
  getHeaderByte,
  getHeaderBytes,
  getHeaderI32,
  getHeaderString,
  getHeaderU16,
  getHeaderU32,
  type Message,
  newMessage,
  setHeaderBool,
  setHeaderByte,
  setHeaderBytes,
  setHeaderString,
  setHeaderU16,
  setHeaderU32,
  stringBytes,
  u32Bytes,
} from '../channel/message.ts';
import { ZitiProtocolError } from '../errors.ts';
import {
  connIdOf,
  expect,
  publicKeyOf,
  setCommon,
  setReplyFor,
  toBytes,
} from './_internal/fields.ts';

// --- Bind (60790) / BindSuccess (60800) / Unbind (60791) -------------------------------------

export interface BindParams {
  connId: number;
  /** Bind session token (a JWT with z_st=Bind): the body. */
  sessionToken: string;
  /** The listener's 32-byte key when hosting with E2E; CryptoMethod 0 is added. */
  publicKey?: Uint8Array;
  /** RouterProvidedConnId=true: the router assigns connection ids in Dial. Default true. */
  routerProvidedConnId?: boolean;
  /** SupportsBindSuccess. Default true. */
  supportsBindSuccess?: boolean;
  cost?: number;
  precedence?: number;
  terminatorIdentity?: string;
  terminatorIdentitySecret?: Uint8Array;
  listenerId?: string;
}

export interface BindRequest {
  connId: number;
  sessionToken: string;
  publicKey: Uint8Array | undefined;
  cryptoMethod: number | undefined;
  routerProvidedConnId: boolean;
  supportsBindSuccess: boolean;
  supportsInspect: boolean;
  cost: number | undefined;
  precedence: number | undefined;
  terminatorIdentity: string | undefined;
  terminatorIdentitySecret: Uint8Array | undefined;
  listenerId: string | undefined;
  useXgressToSdk: boolean;
}

export function encodeBind(p: BindParams): Message {
  const msg = newMessage(ContentType.Bind, new Map(), stringBytes(p.sessionToken));
  setCommon(msg, p.connId);
  if (p.publicKey !== undefined) {
    setHeaderBytes(msg, HeaderId.PublicKey, p.publicKey);
    setHeaderByte(msg, HeaderId.CryptoMethod, CryptoMethod.Libsodium);
  }
  setHeaderBool(msg, HeaderId.RouterProvidedConnId, p.routerProvidedConnId ?? true);
  setHeaderBool(msg, HeaderId.SupportsBindSuccess, p.supportsBindSuccess ?? true);
  if (p.cost !== undefined) setHeaderU16(msg, HeaderId.Cost, p.cost);
  if (p.precedence !== undefined) setHeaderByte(msg, HeaderId.Precedence, p.precedence);
  if (p.terminatorIdentity !== undefined) {
    setHeaderString(msg, HeaderId.TerminatorIdentity, p.terminatorIdentity);
  }
  if (p.terminatorIdentitySecret !== undefined) {
    setHeaderBytes(msg, HeaderId.TerminatorIdentitySecret, p.terminatorIdentitySecret);
  }
  if (p.listenerId !== undefined) setHeaderString(msg, HeaderId.ListenerId, p.listenerId);
  return msg;
}

export function decodeBind(msg: Message): BindRequest {
  expect(msg, ContentType.Bind, 'Bind');
  return {
    connId: connIdOf(msg),
    sessionToken: decodeString(msg.body),
    publicKey: publicKeyOf(msg),
    cryptoMethod: getHeaderByte(msg, HeaderId.CryptoMethod),
    routerProvidedConnId: getHeaderBool(msg, HeaderId.RouterProvidedConnId) ?? false,
    supportsBindSuccess: getHeaderBool(msg, HeaderId.SupportsBindSuccess) ?? false,
    supportsInspect: getHeaderBool(msg, HeaderId.SupportsInspect) ?? false,
    cost: getHeaderU16(msg, HeaderId.Cost),
    precedence: getHeaderByte(msg, HeaderId.Precedence),
    terminatorIdentity: getHeaderString(msg, HeaderId.TerminatorIdentity),
    terminatorIdentitySecret: getHeaderBytes(msg, HeaderId.TerminatorIdentitySecret),
    listenerId: getHeaderString(msg, HeaderId.ListenerId),
    useXgressToSdk: getHeaderBool(msg, HeaderId.UseXgressToSdk) ?? false,
  };
}

export function encodeBindSuccess(p: { connId: number }): Message {
  const msg = newMessage(ContentType.BindSuccess);
  setCommon(msg, p.connId);
  return msg;
}

export function decodeBindSuccess(msg: Message): { connId: number } {
  expect(msg, ContentType.BindSuccess, 'BindSuccess');
  return { connId: connIdOf(msg) };
}

export function encodeUnbind(p: { connId: number; sessionToken: string }): Message {
  const msg = newMessage(ContentType.Unbind, new Map(), stringBytes(p.sessionToken));
  setCommon(msg, p.connId);
  return msg;
}

export function decodeUnbind(msg: Message): { connId: number; sessionToken: string } {
  expect(msg, ContentType.Unbind, 'Unbind');
  return { connId: connIdOf(msg), sessionToken: decodeString(msg.body) };
}

// --- Dial (60787) / DialSuccess (60788) / DialFailed (60789) ---------------------------------

export interface DialParams {
  /** The bind's connection id. */
  connId: number;
  /** The new connection's id (RouterProvidedConnId as u32). */
  newConnId?: number;
  /** The bind token (the host checks it is its own): the body. */
  sessionToken: string;
  callerId?: string;
  circuitId?: string;
  /** The dialer's 32-byte key. */
  publicKey?: Uint8Array;
  connectionMarker?: string;
  appData?: Uint8Array | string;
  dialerIdentityId?: string;
  dialerIdentityName?: string;
}

export interface DialRequest {
  connId: number;
  newConnId: number | undefined;
  sessionToken: string;
  callerId: string | undefined;
  circuitId: string | undefined;
  publicKey: Uint8Array | undefined;
  connectionMarker: string | undefined;
  appData: Uint8Array | undefined;
  dialerIdentityId: string | undefined;
  dialerIdentityName: string | undefined;
}

export function encodeDial(p: DialParams): Message {
  const msg = newMessage(ContentType.Dial, new Map(), stringBytes(p.sessionToken));
  setCommon(msg, p.connId);
  if (p.newConnId !== undefined) setHeaderU32(msg, HeaderId.RouterProvidedConnId, p.newConnId);
  if (p.callerId !== undefined) setHeaderString(msg, HeaderId.CallerId, p.callerId);
  if (p.circuitId !== undefined) setHeaderString(msg, HeaderId.CircuitId, p.circuitId);
  if (p.publicKey !== undefined) setHeaderBytes(msg, HeaderId.PublicKey, p.publicKey);
  if (p.connectionMarker !== undefined) {
    setHeaderString(msg, HeaderId.ConnectionMarker, p.connectionMarker);
  }
  if (p.appData !== undefined) setHeaderBytes(msg, HeaderId.AppData, toBytes(p.appData));
  if (p.dialerIdentityId !== undefined) {
    setHeaderString(msg, HeaderId.DialerIdentityId, p.dialerIdentityId);
  }
  if (p.dialerIdentityName !== undefined) {
    setHeaderString(msg, HeaderId.DialerIdentityName, p.dialerIdentityName);
  }
  return msg;
}

export function decodeDial(msg: Message): DialRequest {
  expect(msg, ContentType.Dial, 'Dial');
  return {
    connId: connIdOf(msg),
    newConnId: getHeaderU32(msg, HeaderId.RouterProvidedConnId),
    sessionToken: decodeString(msg.body),
    callerId: getHeaderString(msg, HeaderId.CallerId),
    circuitId: getHeaderString(msg, HeaderId.CircuitId),
    publicKey: publicKeyOf(msg),
    connectionMarker: getHeaderString(msg, HeaderId.ConnectionMarker),
    appData: getHeaderBytes(msg, HeaderId.AppData),
    dialerIdentityId: getHeaderString(msg, HeaderId.DialerIdentityId),
    dialerIdentityName: getHeaderString(msg, HeaderId.DialerIdentityName),
  };
}

export function encodeDialSuccess(p: {
  connId: number;
  newConnId: number;
  replyFor?: number;
}): Message {
  const msg = newMessage(ContentType.DialSuccess, new Map(), u32Bytes(p.newConnId));
  setCommon(msg, p.connId);
  setReplyFor(msg, p.replyFor);
  return msg;
}

export function decodeDialSuccess(msg: Message): {
  connId: number;
  newConnId: number;
  replyFor: number | undefined;
} {
  expect(msg, ContentType.DialSuccess, 'DialSuccess');
  if (msg.body.length !== 4) {
    throw new ZitiProtocolError(
      'bad-body',
      `DialSuccess body has ${msg.body.length} bytes, expected 4`,
    );
  }
  const newConnId = new DataView(msg.body.buffer, msg.body.byteOffset, 4).getUint32(0, true);
  return { connId: connIdOf(msg), newConnId, replyFor: getHeaderI32(msg, HeaderId.ReplyFor) };
}

export function encodeDialFailed(p: {
  connId: number;
  reason: string;
  replyFor?: number;
}): Message {
  const msg = newMessage(ContentType.DialFailed, new Map(), stringBytes(p.reason));
  setCommon(msg, p.connId);
  setReplyFor(msg, p.replyFor);
  return msg;
}

export function decodeDialFailed(msg: Message): {
  connId: number;
  reason: string;
  replyFor: number | undefined;
} {
  expect(msg, ContentType.DialFailed, 'DialFailed');
  return {
    connId: connIdOf(msg),
    reason: new TextDecoder().decode(msg.body),
    replyFor: getHeaderI32(msg, HeaderId.ReplyFor),
  };
}
