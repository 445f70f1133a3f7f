/**
 * The whole client handshake over an HTTP upgrade function (`HttpPool.upgrade` or
 * `HttpConnection.upgrade`): request, 101 validation, and the connection on the upgraded stream.
 */
import type { HttpRequest, HttpUpgradeResult } from '../http/connection.ts';
import type { HttpResponse } from '../http/response.ts';
import { WebSocketClientConnection, type WebSocketClientConnectionOptions } from './connection.ts';
import { WebSocketHandshakeError } from './errors.ts';
import {
  generateKey,
  type HandshakeRequestOptions,
  handshakeRequest,
  validateHandshakeResponse,
} from './handshake.ts';

export type UpgradeFunction = (req: HttpRequest) => Promise<HttpUpgradeResult>;

export interface ConnectWebSocketOptions
  extends Omit<HandshakeRequestOptions, 'key'>,
    Omit<WebSocketClientConnectionOptions, 'protocol' | 'extensions'> {
  /** Sec-WebSocket-Key; default random. */
  key?: string;
  signal?: AbortSignal;
}

export interface ConnectedWebSocket {
  conn: WebSocketClientConnection;
  protocol: string;
  extensions: string;
  /** The 101 response (its Set-Cookie fields are for the cookie jar). */
  response: HttpResponse;
}

/** Opens a WebSocket: throws `WebSocketHandshakeError` if the server refuses or answers wrongly. */
export async function connectWebSocket(
  upgrade: UpgradeFunction,
  options: ConnectWebSocketOptions,
): Promise<ConnectedWebSocket> {
  const key = options.key ?? generateKey();
  const req = handshakeRequest({ ...options, key });
  if (options.signal) req.signal = options.signal;
  const r = await upgrade(req);
  if (!r.upgraded) {
    await r.response.body?.cancel().catch(() => {});
    throw new WebSocketHandshakeError(
      `server answered ${r.response.status} ${r.response.statusText} instead of 101`,
      r.response.status,
    );
  }
  let result: Awaited<ReturnType<typeof validateHandshakeResponse>>;
  try {
    result = await validateHandshakeResponse(r.response, key, options.protocols ?? []);
  } catch (e) {
    r.duplex.close();
    throw e;
  }
  const conn = new WebSocketClientConnection(r.duplex, { ...options, ...result });
  return { conn, ...result, response: r.response };
}
