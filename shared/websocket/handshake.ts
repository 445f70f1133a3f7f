/**
 * RFC 6455 §4.1 opening handshake, split as I/O-free builders and checkers: `handshakeRequest()`
 * makes the HTTP Upgrade request, `validateHandshakeResponse()` checks the answer. No extension is
 * offered (see README.md: permessage-deflate), so a server naming one fails the handshake.
 */
import type { HttpRequest } from '../http/connection.ts';
import type { HeaderInput } from '../http/request-head.ts';
import { headerEntries } from '../http/request-head.ts';
import type { HttpResponse } from '../http/response.ts';
import { WEBSOCKET_GUID } from './constants.ts';
import { WebSocketHandshakeError } from './errors.ts';

function base64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** A fresh Sec-WebSocket-Key: 16 random bytes, base64 (§4.1). */
export function generateKey(): string {
  return base64(crypto.getRandomValues(new Uint8Array(16)));
}

/** Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)) (§4.2.2). */
export async function computeAccept(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    'SHA-1',
    new TextEncoder().encode(key + WEBSOCKET_GUID),
  );
  return base64(new Uint8Array(digest));
}

export interface HandshakeRequestOptions {
  /** ws:, wss:, http: or https: URL; the fragment is ignored. */
  url: string | URL;
  key: string;
  protocols?: readonly string[];
  /** Origin header (browsers always send one). */
  origin?: string;
  /** Host header when it must differ from the URL's host (e.g. the public host). */
  host?: string;
  /** Extra fields (Cookie, User-Agent...). Handshake fields given here are replaced by ours. */
  headers?: HeaderInput;
}

const HANDSHAKE_FIELDS = new Set([
  'host',
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'origin',
]);

/** The GET request that asks for the upgrade; hand it to `HttpConnection.upgrade()`. */
export function handshakeRequest(options: HandshakeRequestOptions): HttpRequest {
  const url = new URL(options.url);
  const headers: [string, string][] = [
    ['Host', options.host ?? url.host],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', options.key],
    ['Sec-WebSocket-Version', '13'],
  ];
  if (options.protocols?.length)
    headers.push(['Sec-WebSocket-Protocol', options.protocols.join(', ')]);
  if (options.origin) headers.push(['Origin', options.origin]);
  for (const [n, v] of options.headers ? headerEntries(options.headers) : []) {
    if (!HANDSHAKE_FIELDS.has(n.toLowerCase())) headers.push([n, v]);
  }
  return { method: 'GET', target: `${url.pathname}${url.search}`, headers };
}

export interface HandshakeResult {
  /** The subprotocol the server chose, or ''. */
  protocol: string;
  /** The negotiated extensions; always '' since none is offered. */
  extensions: string;
}

const hasToken = (value: string | null, token: string) =>
  (value ?? '').split(',').some((t) => t.trim().toLowerCase() === token);

/** Checks a handshake response (§4.1, the client's steps 1-6 after receiving it). */
export async function validateHandshakeResponse(
  response: HttpResponse,
  key: string,
  protocols: readonly string[] = [],
): Promise<HandshakeResult> {
  const h = response.headers;
  if (response.status !== 101) {
    throw new WebSocketHandshakeError(
      `server answered ${response.status} ${response.statusText} instead of 101`,
      response.status,
    );
  }
  if (!hasToken(h.get('upgrade'), 'websocket')) {
    throw new WebSocketHandshakeError('101 without Upgrade: websocket', 101);
  }
  if (!hasToken(h.get('connection'), 'upgrade')) {
    throw new WebSocketHandshakeError('101 without Connection: upgrade', 101);
  }
  if (h.get('sec-websocket-accept') !== (await computeAccept(key))) {
    throw new WebSocketHandshakeError('Sec-WebSocket-Accept does not match the key', 101);
  }
  const extensions = h.get('sec-websocket-extensions');
  if (extensions) {
    throw new WebSocketHandshakeError(
      `server used extensions that were not offered: ${extensions}`,
      101,
    );
  }
  const protocol = h.get('sec-websocket-protocol') ?? '';
  // Browsers fail a handshake that asked for subprotocols and got none (WHATWG Fetch, "obtain a
  // WebSocket connection").
  if (protocols.length && !protocol) {
    throw new WebSocketHandshakeError('subprotocols were requested but the server chose none', 101);
  }
  if (protocol && (protocol.includes(',') || !protocols.includes(protocol))) {
    throw new WebSocketHandshakeError(
      `server chose a subprotocol that was not offered: ${protocol}`,
      101,
    );
  }
  return { protocol, extensions: '' };
}
