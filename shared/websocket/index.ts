export {
  type ConnectedWebSocket,
  type ConnectWebSocketOptions,
  connectWebSocket,
  type UpgradeFunction,
} from './connect.ts';
export {
  WebSocketClientConnection,
  type WebSocketClientConnectionOptions,
  type WebSocketCloseInfo,
  type WebSocketConnectionState,
  type WebSocketMessage,
} from './connection.ts';
export { CloseCode, DEFAULT_MAX_MESSAGE_SIZE, isValidWireCloseCode, Opcode } from './constants.ts';
export {
  WebSocketClosedError,
  WebSocketError,
  type WebSocketErrorCode,
  WebSocketHandshakeError,
  WebSocketProtocolError,
} from './errors.ts';
export { applyMask, encodeClosePayload, encodeFrame, type FrameSpec } from './frame.ts';
export { type DecodedEvent, FrameDecoder, type FrameDecoderOptions } from './frame-decoder.ts';
export {
  computeAccept,
  generateKey,
  type HandshakeRequestOptions,
  type HandshakeResult,
  handshakeRequest,
  validateHandshakeResponse,
} from './handshake.ts';
