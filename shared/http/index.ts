export type { RequestBody } from './body-writer.ts';
export {
  HttpConnection,
  type HttpConnectionOptions,
  type HttpConnectionState,
  type HttpRequest,
  type HttpUpgradeResult,
} from './connection.ts';
export * from './constants.ts';
export * from './errors.ts';
export { type HttpDial, HttpPool, type HttpPoolOptions, type HttpPoolStats } from './pool.ts';
export {
  type BodyFraming,
  encodeRequestHead,
  type HeaderInput,
  headerEntries,
  stripHopByHop,
} from './request-head.ts';
export { type HttpResponse, toHeaders } from './response.ts';
export {
  type ParseEvent,
  type ResponseFraming,
  type ResponseHead,
  ResponseParser,
  type ResponseParserOptions,
} from './response-parser.ts';
