import { describe, expect, it } from 'vitest';
import { hex, toHex } from '../_test/fixtures.ts';
import { encodeMessage, MessageDecoder } from '../channel/codec.ts';
import { ContentType, EdgeFlag, HeaderId } from '../channel/constants.ts';
import { type Message, u32Bytes, u64Bytes } from '../channel/message.ts';
import { ZitiProtocolError } from '../errors.ts';
import {
  circuitIdOf,
  decodeAck,
  decodePayload,
  decodeXgClose,
  edgeFlagsOf,
  encodeAck,
  encodePayload,
  encodeXgClose,
  PAYLOAD_EDGE_FLAGS_KEY,
  PayloadFlag,
  type XgAck,
  type XgPayload,
  XgressHeader,
} from './messages.ts';

/*
 * Golden frames produced by sdk-golang v1.2.10 with channel/v4 v4.2.37 (the version its go.mod
 * requires), each encoded with `channel.MarshalV2(msg)`:
 *
 * PAYLOAD: `xgress.Payload{CircuitId: "circ-7Xq", Sequence: 42,
 *   Flags: xgress.SetOriginatorFlag(uint32(xgress.PayloadFlagEOF), xgress.Terminator),
 *   Headers: {edgexg.PayloadFlagsHeader: <edge.FlagsHeader value after PutUint32Header(edge.FlagsHeader, edge.FIN)>},
 *   Data: []byte("hello xgress")}.Marshall()`, then `PutUint16Header(xgress.HeaderKeyRTT, 0x1234)`
 *   (Marshall writes the clock there) and `PutUint32Header(edge.ConnIdHeader, 1000)` as
 *   xg_adapter.go / the router's listener.go do.
 * PAYLOAD_NEG: `xgress.Payload{CircuitId: "c", Sequence: -2}.Marshall()`, RTT set to 0xfffe.
 * ACK: `xgress.NewAcknowledgement("circ-7Xq", ...)` with Flags = SetOriginatorFlag(0, Terminator),
 *   Sequence = [0, 1, 258, -1, 0x7fffffff], RecvBufferSize = 123456, RTT = 0xbeef, `.Marshall()`,
 *   then `PutUint32Header(edge.ConnIdHeader, 1000)`.
 * ACK_INITIATOR: `xgress.NewAcknowledgement("c", xgress.Initiator).Marshall()` (RecvBufferSize 0, RTT 0).
 * XG_CLOSE: `channel.NewMessage(edge.ContentTypeXgClose, []byte("circ-7Xq"))`.
 *
 * Go writes headers in map iteration order, which varies from run to run; so frames are compared
 * as prefix (exact), header entries (as a map of raw values) and body (exact). The channel sequence
 * of an unsent Go message is -1; ours is 0 until a channel assigns one, so the tests set it to -1.
 */
const PAYLOAD =
  '0306090c4c040000ffffffff4e0000000c000000e803000004000000e8030000e00700000400000001000000d008000008000000636972632d375871d20800000400000022000000d1080000080000002a00000000000000d408000002000000341268656c6c6f20786772657373';
const PAYLOAD_NEG =
  '0306090c4c040000ffffffff2300000000000000d00800000100000063d108000008000000feffffffffffffffd408000002000000feff';
const ACK =
  '0306090c4d040000ffffffff3e00000014000000d408000002000000efbed008000008000000636972632d375871d20800000400000002000000d30800000400000040e20100e803000004000000e8030000000000000000000100000102ffffffff7fffffff';
const ACK_INITIATOR =
  '0306090c4d040000ffffffff1f00000000000000d30800000400000000000000d4080000020000000000d00800000100000063';
const XG_CLOSE = '0306090c4f040000ffffffff0000000008000000636972632d375871';

interface Frame {
  prefix: string;
  headers: Map<number, string>;
  body: string;
  length: number;
}

/** A V2 frame split so that header order does not matter. */
function frameParts(bytes: Uint8Array): Frame {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headersLength = view.getInt32(12, true);
  const headers = new Map<number, string>();
  let at = 20;
  while (at < 20 + headersLength) {
    const id = view.getInt32(at, true);
    const len = view.getInt32(at + 4, true);
    expect(headers.has(id)).toBe(false);
    headers.set(id, toHex(bytes.subarray(at + 8, at + 8 + len)));
    at += 8 + len;
  }
  expect(at).toBe(20 + headersLength);
  return {
    prefix: toHex(bytes.subarray(0, 20)),
    headers,
    body: toHex(bytes.subarray(at)),
    length: bytes.length,
  };
}

function wire(msg: Message): Uint8Array {
  return encodeMessage({ ...msg, sequence: -1 });
}

function decodeFrame(h: string): Message {
  const msgs = new MessageDecoder().push(hex(h));
  expect(msgs).toHaveLength(1);
  return msgs[0]!;
}

const goPayload: XgPayload = {
  circuitId: 'circ-7Xq',
  sequence: 42,
  flags: PayloadFlag.EOF | PayloadFlag.Originator,
  rtt: 0x1234,
  headers: new Map([[PAYLOAD_EDGE_FLAGS_KEY, u32Bytes(EdgeFlag.FIN)]]),
  data: new TextEncoder().encode('hello xgress'),
};

const goAck: XgAck = {
  circuitId: 'circ-7Xq',
  flags: PayloadFlag.Originator,
  recvBufferSize: 123456,
  rtt: 0xbeef,
  sequences: [0, 1, 258, -1, 0x7fffffff],
};

describe('xgress codec against sdk-golang frames', () => {
  it('encodes a payload as Go does (edge flags header, flags, sequence, RTT, ConnId)', () => {
    expect(frameParts(wire(encodePayload(goPayload, 1000)))).toEqual(frameParts(hex(PAYLOAD)));
  });

  it('encodes a negative sequence, no flags and no data as Go does', () => {
    const p: XgPayload = {
      circuitId: 'c',
      sequence: -2,
      flags: 0,
      rtt: 0xfffe,
      headers: new Map(),
      data: new Uint8Array(0),
    };
    expect(frameParts(wire(encodePayload(p)))).toEqual(frameParts(hex(PAYLOAD_NEG)));
  });

  it('encodes acknowledgements as Go does (big-endian sequences, flags only when non-zero)', () => {
    expect(frameParts(wire(encodeAck(goAck, 1000)))).toEqual(frameParts(hex(ACK)));
    const initiator: XgAck = { circuitId: 'c', flags: 0, recvBufferSize: 0, rtt: 0, sequences: [] };
    expect(frameParts(wire(encodeAck(initiator)))).toEqual(frameParts(hex(ACK_INITIATOR)));
  });

  it('encodes XgClose byte for byte', () => {
    expect(toHex(wire(encodeXgClose('circ-7Xq')))).toBe(XG_CLOSE);
    expect(decodeXgClose(decodeFrame(XG_CLOSE))).toBe('circ-7Xq');
  });

  it("reads Go's frames back", () => {
    const p = decodePayload(decodeFrame(PAYLOAD));
    expect(p).toEqual({ ...goPayload, data: expect.any(Uint8Array), headers: expect.any(Map) });
    expect(new TextDecoder().decode(p.data)).toBe('hello xgress');
    // Only the per-payload header: CircuitId (2256) and ConnId (1000) are not in the 0-255 range.
    expect([...p.headers.keys()]).toEqual([PAYLOAD_EDGE_FLAGS_KEY]);
    expect(edgeFlagsOf(p)).toBe(EdgeFlag.FIN);
    expect(circuitIdOf(decodeFrame(PAYLOAD))).toBe('circ-7Xq');

    const neg = decodePayload(decodeFrame(PAYLOAD_NEG));
    expect(neg).toMatchObject({ circuitId: 'c', sequence: -2, flags: 0, rtt: 0xfffe });
    expect(neg.data).toHaveLength(0);
    expect(edgeFlagsOf(neg)).toBe(0);

    expect(decodeAck(decodeFrame(ACK))).toEqual(goAck);
    expect(decodeAck(decodeFrame(ACK_INITIATOR))).toEqual({
      circuitId: 'c',
      flags: 0,
      recvBufferSize: 0,
      rtt: 0,
      sequences: [],
    });
  });
});

describe('xgress codec edge cases', () => {
  const base = () => encodePayload({ ...goPayload, headers: new Map() });

  it('refuses malformed payloads with ZitiProtocolError', () => {
    const noId = base();
    noId.headers.delete(XgressHeader.CircuitId);
    expect(() => decodePayload(noId)).toThrow(ZitiProtocolError);

    const noSeq = base();
    noSeq.headers.delete(XgressHeader.Sequence);
    expect(() => decodePayload(noSeq)).toThrow(ZitiProtocolError);

    const chunk = encodePayload({ ...goPayload, flags: PayloadFlag.Chunk });
    expect(() => decodePayload(chunk)).toThrow(ZitiProtocolError);

    const badFlags = encodePayload({
      ...goPayload,
      headers: new Map([[PAYLOAD_EDGE_FLAGS_KEY, Uint8Array.of(1, 0)]]),
    });
    const p = decodePayload(badFlags);
    expect(() => edgeFlagsOf(p)).toThrow(ZitiProtocolError);
  });

  it('refuses malformed acknowledgements with ZitiProtocolError', () => {
    const odd = encodeAck(goAck);
    odd.body = odd.body.subarray(0, 6);
    expect(() => decodeAck(odd)).toThrow(ZitiProtocolError);

    const noId = encodeAck(goAck);
    noId.headers.delete(XgressHeader.CircuitId);
    expect(() => decodeAck(noId)).toThrow(ZitiProtocolError);
  });

  it('keeps sequences as int32 both ways', () => {
    for (const sequence of [0, 1, -1, 0x7fffffff, -0x80000000, -123456]) {
      const frame = encodeMessage(encodePayload({ ...goPayload, sequence }));
      expect(decodePayload(new MessageDecoder().push(frame)[0]!).sequence).toBe(sequence);
    }
    // Go writes uint64(int32): the upper half is the sign extension; only the low 32 bits count.
    const wide = base();
    wide.headers.set(XgressHeader.Sequence, u64Bytes(0x1_0000_0005n));
    expect(decodePayload(wide).sequence).toBe(5);
    const ack = encodeAck({ ...goAck, sequences: [-0x80000000, 0x7fffffff, -1] });
    expect(decodeAck(ack).sequences).toEqual([-0x80000000, 0x7fffffff, -1]);
  });

  it('reads an absent RecvBufferSize as 2^32-1 and the largest one as such', () => {
    const ack = encodeAck(goAck);
    ack.headers.delete(XgressHeader.RecvBufferSize);
    expect(decodeAck(ack).recvBufferSize).toBe(0xffffffff);
    expect(decodeAck(encodeAck({ ...goAck, recvBufferSize: 0xffffffff })).recvBufferSize).toBe(
      0xffffffff,
    );
  });

  it('puts the content types and ConnId where the router expects them', () => {
    expect(encodePayload(goPayload).contentType).toBe(ContentType.XgPayload);
    expect(encodeAck(goAck).contentType).toBe(ContentType.XgAcknowledgement);
    expect(encodeAck(goAck).headers.has(HeaderId.ConnId)).toBe(false);
    expect(encodePayload(goPayload, 7).headers.get(HeaderId.ConnId)).toEqual(u32Bytes(7));
  });
});
