/**
 * Xgress messages on an edge channel, used when a Connect asked for SDK flow control
 * (`UseXgressToSdk`): the SDK is then one end of an OpenZiti xgress circuit, and data travels as
 * sequenced payloads that the far end acknowledges with its receive-buffer size.
 *
 * Layout as in sdk-golang v1.2.10 `xgress/messages.go` (`Payload.Marshall`, `Acknowledgement.Marshall`,
 * `UnmarshallPayload`, `UnmarshallAcknowledgement`) and `ziti/edge/network/xg_adapter.go`:
 * - Payload (ct 1100): body = data; headers CircuitId 2256 (string), Sequence 2257 (u64 LE holding
 *   an int32), Flags 2258 (u32, only when non-zero), RTT 2260 (u16, the sender's clock in ms),
 *   per-payload headers 2000 + key (key 0x10 carries the edge Flags, i.e. FIN), ConnId on the edge.
 * - Acknowledgement (ct 1101): body = acknowledged sequences, each int32 **big-endian**; headers
 *   RTT (echo of the payload's), CircuitId, Flags (non-zero only), RecvBufferSize 2259 (u32).
 * - XgClose (ct 1103): body = circuit id; the SDK says its end of the circuit is gone.
 * Payloads in the raw packet format (links over datagram transports) never reach an edge SDK from
 * the routers we target; a raw frame fails the channel's codec like any unknown frame.
 */
import { ContentType, HeaderId } from '../channel/constants.ts';
import {
  decodeString,
  getHeaderBytes,
  getHeaderU16,
  getHeaderU32,
  getHeaderU64,
  type Message,
  newMessage,
  setHeaderString,
  setHeaderU16,
  setHeaderU32,
  setHeaderU64,
  stringBytes,
} from '../channel/message.ts';
import { ZitiProtocolError } from '../errors.ts';

export const XgressHeader = {
  /** Per-payload headers use 2000 + their one-byte key. */
  PayloadHeaderBase: 2000,
  CircuitId: 2256,
  Sequence: 2257,
  Flags: 2258,
  RecvBufferSize: 2259,
  RTT: 2260,
} as const;

/** Payload and acknowledgement flags (`xgress/messages.go` PayloadFlag*). */
export const PayloadFlag = {
  CircuitEnd: 1,
  /** Set when the terminator side sent it; clear from the initiator. */
  Originator: 2,
  CircuitStart: 4,
  Chunk: 8,
  Retransmit: 16,
  EOF: 32,
  WriteFailed: 64,
} as const;

/** Per-payload header key carrying the edge Flags (FIN, MULTIPART …): `edgexg.PayloadFlagsHeader`. */
export const PAYLOAD_EDGE_FLAGS_KEY = 0x10;

export type Originator = 'initiator' | 'terminator';

export interface XgPayload {
  circuitId: string;
  sequence: number;
  flags: number;
  /** The sender's millisecond clock mod 2^16, echoed in the acknowledgement. */
  rtt: number;
  /** Per-payload headers by one-byte key. */
  headers: Map<number, Uint8Array>;
  data: Uint8Array;
}

export interface XgAck {
  circuitId: string;
  flags: number;
  /** Bytes the acknowledging side holds that its reader has not taken; 2^32-1 when absent. */
  recvBufferSize: number;
  rtt: number;
  sequences: number[];
}

export function originatorFlag(originator: Originator): number {
  return originator === 'terminator' ? PayloadFlag.Originator : 0;
}

export function originatorOf(flags: number): Originator {
  return flags & PayloadFlag.Originator ? 'terminator' : 'initiator';
}

/** The edge Flags a payload carries in its 0x10 header (0 when absent). */
export function edgeFlagsOf(payload: XgPayload): number {
  const v = payload.headers.get(PAYLOAD_EDGE_FLAGS_KEY);
  if (!v) return 0;
  if (v.length !== 4) {
    throw new ZitiProtocolError('bad-header-value', 'xgress payload flags header is not 4 bytes');
  }
  return new DataView(v.buffer, v.byteOffset, 4).getUint32(0, true);
}

export function encodePayload(p: XgPayload, connId?: number): Message {
  const msg = newMessage(ContentType.XgPayload, new Map(), p.data);
  for (const [key, value] of p.headers) {
    msg.headers.set(XgressHeader.PayloadHeaderBase + key, value);
  }
  setHeaderString(msg, XgressHeader.CircuitId, p.circuitId);
  if (p.flags !== 0) setHeaderU32(msg, XgressHeader.Flags, p.flags);
  setHeaderU64(msg, XgressHeader.Sequence, BigInt(p.sequence));
  setHeaderU16(msg, XgressHeader.RTT, p.rtt & 0xffff);
  if (connId !== undefined) setHeaderU32(msg, HeaderId.ConnId, connId);
  return msg;
}

export function decodePayload(msg: Message): XgPayload {
  const id = getHeaderBytes(msg, XgressHeader.CircuitId);
  if (!id) throw new ZitiProtocolError('missing-header', 'xgress payload without a circuit id');
  const seq = getHeaderU64(msg, XgressHeader.Sequence);
  if (seq === undefined) {
    throw new ZitiProtocolError('missing-header', 'xgress payload without a sequence');
  }
  const headers = new Map<number, Uint8Array>();
  for (const [key, value] of msg.headers) {
    const k = key - XgressHeader.PayloadHeaderBase;
    if (k >= 0 && k <= 255) headers.set(k, value);
  }
  const flags = getHeaderU32(msg, XgressHeader.Flags) ?? 0;
  if (flags & PayloadFlag.Chunk) {
    throw new ZitiProtocolError('unexpected-message', 'chunked xgress payloads are not supported');
  }
  return {
    circuitId: decodeString(id, XgressHeader.CircuitId),
    // Go stores int32(seq) in a u64 header: the low 32 bits, signed.
    sequence: Number(BigInt.asIntN(32, seq)),
    flags,
    rtt: getHeaderU16(msg, XgressHeader.RTT) ?? 0,
    headers,
    data: msg.body,
  };
}

export function encodeAck(a: XgAck, connId?: number): Message {
  const body = new Uint8Array(a.sequences.length * 4);
  const view = new DataView(body.buffer);
  for (const [i, s] of a.sequences.entries()) view.setInt32(i * 4, s, false);
  const msg = newMessage(ContentType.XgAcknowledgement, new Map(), body);
  setHeaderU16(msg, XgressHeader.RTT, a.rtt & 0xffff);
  setHeaderString(msg, XgressHeader.CircuitId, a.circuitId);
  if (a.flags !== 0) setHeaderU32(msg, XgressHeader.Flags, a.flags);
  setHeaderU32(msg, XgressHeader.RecvBufferSize, a.recvBufferSize);
  if (connId !== undefined) setHeaderU32(msg, HeaderId.ConnId, connId);
  return msg;
}

export function decodeAck(msg: Message): XgAck {
  const id = getHeaderBytes(msg, XgressHeader.CircuitId);
  if (!id)
    throw new ZitiProtocolError('missing-header', 'xgress acknowledgement without a circuit id');
  if (msg.body.length % 4 !== 0) {
    throw new ZitiProtocolError(
      'bad-body',
      `xgress acknowledgement body of ${msg.body.length} bytes is not a list of sequences`,
    );
  }
  const view = new DataView(msg.body.buffer, msg.body.byteOffset, msg.body.length);
  const sequences: number[] = [];
  for (let at = 0; at < msg.body.length; at += 4) sequences.push(view.getInt32(at, false));
  return {
    circuitId: decodeString(id, XgressHeader.CircuitId),
    flags: getHeaderU32(msg, XgressHeader.Flags) ?? 0,
    recvBufferSize: getHeaderU32(msg, XgressHeader.RecvBufferSize) ?? 0xffffffff,
    rtt: getHeaderU16(msg, XgressHeader.RTT) ?? 0,
    sequences,
  };
}

export function encodeXgClose(circuitId: string): Message {
  return newMessage(ContentType.XgClose, new Map(), stringBytes(circuitId));
}

export function decodeXgClose(msg: Message): string {
  return decodeString(msg.body);
}

/** The circuit id of a payload or acknowledgement without decoding the rest. */
export function circuitIdOf(msg: Message): string | undefined {
  const id = getHeaderBytes(msg, XgressHeader.CircuitId);
  return id ? decodeString(id, XgressHeader.CircuitId) : undefined;
}
