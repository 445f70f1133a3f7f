/**
 * A channel to the real router's `wss` listener from Node, built as the service worker builds it
 * (sw/tunnel/router-channels.ts): WebSocket → shared/streams `webSocketDuplex` → the product's TLS
 * client (`connectTls`, client key in WebCrypto) → `openChannel` (or `startChannel`, to send
 * requests behind the hello as the worker's dials go). Node 20 has no global
 * WebSocket; the `ws` package stands in for the browser's.
 */
import WebSocket, { type ClientOptions } from 'ws';
import type { ByteDuplex } from '../shared/streams/duplex.ts';
import { webSocketDuplex } from '../shared/streams/websocket.ts';
import { connectTls } from '../shared/tls/index.ts';
import { X509Certificate } from '../shared/x509.ts';
import {
  type Channel,
  openChannel,
  routerWebSocketUrl,
  startChannel,
} from '../shared/ziti/index.ts';

export const pemToDer = (pem: string): Uint8Array =>
  new Uint8Array(new X509Certificate(pem).rawData);

export interface RouterChannelOptions {
  /** The router's `wss` URL as `POST /sessions` lists it (`supportedProtocols.wss`). */
  wssUrl: string;
  /** The root CA of the router's outer (WebSocket) TLS certificate. */
  outerCaPem: string;
  /** The network's CA bundle (`/.well-known/est/cacerts`): what the inner TLS must chain to. */
  caBundle: string[];
  /** The API-session certificate chain, leaf first (PEM). */
  certificates: string[];
  clientKey: CryptoKey;
  /** The hello's session token: an OIDC access JWT. */
  sessionToken: string;
}

export async function openRouterChannel(opts: RouterChannelOptions): Promise<Channel> {
  return openChannel(await routerTls(opts), {
    sessionToken: opts.sessionToken,
    latencyIntervalMs: 0,
  });
}

/** The channel as soon as its hello is written (`startChannel`); `wrap` sees the TLS duplex first. */
export async function startRouterChannel(
  opts: RouterChannelOptions & { wrap?: (tls: ByteDuplex) => ByteDuplex },
): Promise<ReturnType<typeof startChannel>> {
  const tls = await routerTls(opts);
  return startChannel(opts.wrap ? opts.wrap(tls) : tls, {
    sessionToken: opts.sessionToken,
    latencyIntervalMs: 0,
  });
}

async function routerTls(opts: RouterChannelOptions): Promise<ByteDuplex> {
  // OpenZiti's wss listener picks its handler by ALPN and refuses a ClientHello without one
  // (transport/v2 `tls/listener.go`: "not handler for requested protocols []"); browsers always
  // offer http/1.1, `ws` offers none unless told.
  const options: ClientOptions & { ALPNProtocols: string[] } = {
    ca: opts.outerCaPem,
    ALPNProtocols: ['http/1.1'],
  };
  const ws = new WebSocket(routerWebSocketUrl(opts.wssUrl), options);
  // webSocketDuplex reports a failed open itself; this keeps `ws` from throwing an unheard error.
  ws.on('error', () => {});
  const transport = await webSocketDuplex(ws as unknown as globalThis.WebSocket);
  return connectTls(transport, {
    acceptedServerNames: [new URL(opts.wssUrl).hostname],
    trustedCertificates: opts.caBundle.map(pemToDer),
    clientCertificateChain: opts.certificates.map(pemToDer),
    clientKey: opts.clientKey,
  });
}
