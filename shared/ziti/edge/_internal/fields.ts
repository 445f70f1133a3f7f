/** Field helpers shared by the edge message builders and parsers (not exported from the package). */
import { HeaderId } from '../../channel/constants.ts';
import {
  getHeaderBytes,
  getHeaderU32,
  type Message,
  requireHeader,
  setHeaderBytes,
  setHeaderI32,
  setHeaderU32,
  stringBytes,
} from '../../channel/message.ts';
import { ZitiProtocolError } from '../../errors.ts';

export const EMPTY = new Uint8Array(0);

/** Size of an X25519 public key (PublicKey header, 1003). */
export const PUBLIC_KEY_BYTES = 32;

export function expect(msg: Message, contentType: number, name: string): void {
  if (msg.contentType !== contentType) {
    throw new ZitiProtocolError(
      'unexpected-message',
      `expected ${name} (${contentType}), got content type ${msg.contentType}`,
    );
  }
}

export function connIdOf(msg: Message): number {
  return requireHeader(getHeaderU32(msg, HeaderId.ConnId), 'ConnId', msg.contentType);
}

export function publicKeyOf(msg: Message): Uint8Array | undefined {
  const key = getHeaderBytes(msg, HeaderId.PublicKey);
  if (key !== undefined && key.length !== PUBLIC_KEY_BYTES) {
    throw new ZitiProtocolError(
      'bad-header-value',
      `PublicKey has ${key.length} bytes, expected ${PUBLIC_KEY_BYTES}`,
    );
  }
  return key;
}

export function setCommon(msg: Message, connId: number, seq?: number, uuid?: Uint8Array): void {
  setHeaderU32(msg, HeaderId.ConnId, connId);
  if (seq !== undefined) setHeaderU32(msg, HeaderId.Seq, seq);
  if (uuid !== undefined) setHeaderBytes(msg, HeaderId.UUID, uuid);
}

export function setReplyFor(msg: Message, replyFor: number | undefined): void {
  if (replyFor !== undefined) setHeaderI32(msg, HeaderId.ReplyFor, replyFor);
}

export function toBytes(value: Uint8Array | string): Uint8Array {
  return typeof value === 'string' ? stringBytes(value) : value;
}
