/**
 * OpenZiti client core: channel V2 codec and channel, edge protocol, end-to-end encryption,
 * controller REST client. Web APIs only. See README.md for the module map.
 */

export {
  Channel,
  type ChannelCloseInfo,
  type ChannelOptions,
  DEFAULT_LATENCY_INTERVAL_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type MessageHandler,
} from './channel/channel.ts';
export {
  decodeHeaders,
  encodeMessage,
  MessageDecoder,
  type MessageDecoderOptions,
} from './channel/codec.ts';
export * from './channel/constants.ts';
export {
  type AcceptChannelOptions,
  acceptChannel,
  DEFAULT_HELLO_TIMEOUT_MS,
  encodeHello,
  encodeHelloResult,
  type HelloDecision,
  type OpenChannelOptions,
  openChannel,
  startChannel,
} from './channel/hello.ts';
export * from './channel/message.ts';
export { derToPem, pkcs7CertificatesToPem } from './controller/cacerts.ts';
export {
  ControllerClient,
  type ControllerClientOptions,
  MAX_SERVICES,
  SERVICES_PAGE_SIZE,
} from './controller/client.ts';
export * from './controller/pick-router.ts';
export * from './controller/requests.ts';
export * from './controller/responses.ts';
export * from './controller/types.ts';
export * from './e2e/sodium.ts';
export { type AcceptConnectOptions, acceptConnect, rejectConnect } from './edge/accept.ts';
export { bindService, DEFAULT_ACCEPT_BACKLOG, DEFAULT_BIND_TIMEOUT_MS } from './edge/bind.ts';
export { DEFAULT_RECEIVE_WINDOW_BYTES } from './edge/connection.ts';
export { DEFAULT_CONNECT_TIMEOUT_MS, dialService } from './edge/dial.ts';
export * from './edge/hosting-messages.ts';
export * from './edge/messages.ts';
export { EdgeMux, type EdgeSink } from './edge/mux.ts';
export * from './edge/types.ts';
export { encodeUpdateToken, updateToken } from './edge/update-token.ts';
export * from './errors.ts';
