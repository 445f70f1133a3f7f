/**
 * Pure RFC 6455 §5.2 frame encoder: bytes in, bytes out. The mask key is passed in (clients mask
 * every frame with a fresh random key; tests pass a fixed one to compare against golden bytes).
 */
import {
  CloseCode,
  isValidWireCloseCode,
  MAX_CONTROL_PAYLOAD,
  type OpcodeValue,
} from './constants.ts';

export interface FrameSpec {
  opcode: OpcodeValue;
  payload: Uint8Array;
  /** Last fragment of the message; control frames must set it. Default true. */
  fin?: boolean;
  /** 4 bytes: mask the payload (client to server). Null or absent: unmasked (server to client). */
  maskKey?: Uint8Array | null;
}

/** Encodes one frame. The payload is copied (and masked) into the result; the input is untouched. */
export function encodeFrame(spec: FrameSpec): Uint8Array {
  const { opcode, payload } = spec;
  const fin = spec.fin ?? true;
  const mask = spec.maskKey ?? null;
  if (mask && mask.length !== 4) throw new RangeError('mask key must be 4 bytes');
  if (opcode >= 0x8 && (!fin || payload.length > MAX_CONTROL_PAYLOAD)) {
    throw new RangeError('control frames are unfragmented and carry at most 125 bytes');
  }
  const len = payload.length;
  const lenBytes = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const headLen = 2 + lenBytes + (mask ? 4 : 0);
  const out = new Uint8Array(headLen + len);
  out[0] = (fin ? 0x80 : 0) | opcode;
  out[1] = (mask ? 0x80 : 0) | (lenBytes === 0 ? len : lenBytes === 2 ? 126 : 127);
  const view = new DataView(out.buffer);
  if (lenBytes === 2) view.setUint16(2, len);
  else if (lenBytes === 8) {
    view.setUint32(2, Math.floor(len / 2 ** 32));
    view.setUint32(6, len >>> 0);
  }
  if (!mask) {
    out.set(payload, headLen);
    return out;
  }
  out.set(mask, headLen - 4);
  out.set(payload, headLen);
  applyMask(out.subarray(headLen), mask, 0);
  return out;
}

/**
 * XORs `data` in place with the mask, as if `data` started at byte `offset` of the payload.
 * Word-at-a-time on the aligned middle: masking 16 MiB byte by byte is slow in JS.
 */
export function applyMask(data: Uint8Array, mask: Uint8Array, offset: number): void {
  let i = 0;
  const n = data.length;
  // Bytes until the position is 4-aligned in the payload and in memory.
  while (i < n && ((offset + i) & 3 || (data.byteOffset + i) & 3)) {
    data[i] ^= mask[(offset + i) & 3];
    i++;
  }
  if ((offset + i) & 3 || (data.byteOffset + i) & 3) {
    for (; i < n; i++) data[i] ^= mask[(offset + i) & 3];
    return;
  }
  const words = (n - i) >>> 2;
  if (words > 0) {
    const w = new Uint32Array(data.buffer, data.byteOffset + i, words);
    // Platform byte order: read the mask as a word the same way the data is read.
    const m = new Uint32Array(new Uint8Array(mask).buffer)[0] as number;
    for (let k = 0; k < words; k++) w[k] ^= m;
    i += words * 4;
  }
  for (; i < n; i++) data[i] ^= mask[(offset + i) & 3];
}

const encoder = new TextEncoder();

/** §5.5.1 close payload: 2-byte code then UTF-8 reason (<= 123 bytes). No code: empty payload. */
export function encodeClosePayload(code?: number, reason = ''): Uint8Array {
  if (code === undefined || code === CloseCode.NoStatus) {
    if (reason) throw new RangeError('a close reason needs a code');
    return new Uint8Array(0);
  }
  if (!isValidWireCloseCode(code)) throw new RangeError(`invalid close code ${code}`);
  const r = encoder.encode(reason);
  if (r.length > MAX_CONTROL_PAYLOAD - 2)
    throw new RangeError('close reason longer than 123 bytes');
  const out = new Uint8Array(2 + r.length);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(r, 2);
  return out;
}
