/** RFC 6455 numbers and this layer's limits, in one place. */

/** §1.3: appended to Sec-WebSocket-Key before hashing into Sec-WebSocket-Accept. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** §5.2 opcodes. 0x3-0x7 and 0xB-0xF are reserved and rejected. */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;
export type OpcodeValue = (typeof Opcode)[keyof typeof Opcode];

/** §7.4.1 status codes (and the ones the IANA registry added, 1012-1014). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Never on the wire: "no status code was present". */
  NoStatus: 1005,
  /** Never on the wire: "closed without a close frame". */
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
} as const;

/** §5.5: control frames carry at most 125 payload bytes and are never fragmented. */
export const MAX_CONTROL_PAYLOAD = 125;
/** Default cap on one received message (all its fragments): 64 MiB. Beyond it: close 1009. */
export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;
/** Outgoing messages larger than this are sent as several frames, so pongs can interleave. */
export const DEFAULT_FRAGMENT_SIZE = 1024 * 1024;
/** How long a close handshake may take before the transport is dropped. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 5000;

/**
 * §7.4: may this code appear in a close frame? 1000-1003 and 1007-1014 (1004-1006 and 1015 are
 * reserved and must never be sent), 3000-4999 for libraries/applications.
 */
export function isValidWireCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) ||
    (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999)
  );
}
