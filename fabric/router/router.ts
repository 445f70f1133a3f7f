/**
 * The fabric edge router (§5, §9): a `wss://` listener at `/ws` (outer TLS with the router's
 * fabric-CA certificate) whose binary messages carry an inner mutual-TLS byte stream, and a plain
 * `tls:` listener for hosting processes. Both end in the same edge channel logic. A plain `ws://`
 * listener exists only behind the dev-only `devPlainWsPort`: a real router refuses `ws`.
 */
import { randomUUID } from 'node:crypto';
import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import {
  createServer as createTlsServer,
  type SecureContextOptions,
  type TLSSocket,
} from 'node:tls';
import { WebSocketServer } from 'ws';
import { BUILD_VERSION } from '../../shared/version.ts';
import { acceptChannel, boolBytes, HeaderId, stringBytes } from '../../shared/ziti/index.ts';
import { listen } from '../_internal/listen.ts';
import { nodeSocketDuplex } from '../_internal/node-duplex.ts';
import type { Logger } from '../log.ts';
import { certFingerprint } from '../pki.ts';
import type { FabricState } from '../state.ts';
import { authenticateChannel, ChannelAuthError } from './auth.ts';
import { attachEdgeChannel, type EdgeChannel } from './edge-channel.ts';
import { TerminatorRegistry } from './terminators.ts';
import { webSocketStream } from './ws-stream.ts';

/** TLS 1.2 ECDHE + AEAD suites and the TLS 1.3 suites of §5 (`foundation: tlz/cipher.go`). */
export const ROUTER_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** §5: handshake 10 s. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
/** §5: the router pings every 54 s and closes after 60 s without a pong. */
export const WS_PING_INTERVAL_MS = 54_000;
export const WS_PING_PAYLOAD = 'browzerkeepalive';

export interface RouterOptions {
  state: FabricState;
  log: Logger;
  name: string;
  host: string;
  /** Advertised host name in the URLs the controller hands out. */
  advertiseHost: string;
  /** The browser listener, `wss://host:port/ws`; 0 = ephemeral. */
  wssPort: number;
  tlsPort: number;
  /**
   * DEV ONLY (a real router refuses `ws`, §5): also a plain `ws://host:port/ws` listener, advertised
   * as `ws`. null = none.
   */
  devPlainWsPort: number | null;
}

export interface RunningRouter {
  urls: Record<string, string>;
  terminators: TerminatorRegistry;
  /** Live authenticated channels. */
  channels: Set<EdgeChannel>;
  close(): Promise<void>;
}

export async function startRouter(opts: RouterOptions): Promise<RunningRouter> {
  const { state, log } = opts;
  const pki = state.pki;
  const terminators = new TerminatorRegistry();
  const channels = new Set<EdgeChannel>();
  const sockets = new Set<{ destroy(): void }>();
  const tlsOptions: SecureContextOptions & { requestCert: true; rejectUnauthorized: true } = {
    key: pki.router.keyPem,
    cert: pki.router.chainPem,
    ca: pki.caBundlePem,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    ciphers: ROUTER_CIPHERS,
    honorCipherOrder: false,
  };
  const ctx = { state, terminators, log, channels };

  /** Runs the channel on an authenticated inner-TLS socket. */
  async function serveChannel(sock: TLSSocket, via: string): Promise<void> {
    // A bare TLSSocket (the WebSocket case) does not enforce rejectUnauthorized itself: check here
    // that the client certificate chained to the fabric CA (§5 RequireAndVerifyClientCert).
    if (!sock.authorized) {
      log.warn(`${via} TLS refused: ${sock.authorizationError ?? 'no client certificate'}`);
      sock.destroy();
      return;
    }
    const peerCert = sock.getPeerCertificate(false);
    const hasCert = peerCert && Object.keys(peerCert).length > 0;
    const transport = nodeSocketDuplex(sock);
    let auth: Awaited<ReturnType<typeof authenticateChannel>> | undefined;
    let edge: EdgeChannel | undefined;
    try {
      const channel = await acceptChannel(transport, {
        connectionId: randomUUID(),
        onHello: () => ({
          accept: true,
          headers: new Map([
            [
              HeaderId.HelloVersion,
              stringBytes(`v${BUILD_VERSION}|fabric|unknown|${process.platform}|${process.arch}`),
            ],
            [HeaderId.Id, stringBytes(opts.name)],
            [HeaderId.SupportsBindSuccess, boolBytes(true)],
          ]),
        }),
        // §2.4.3: the Result goes out first, then the API session and certificate are checked.
        validateAfterAck: async (hello) => {
          auth = await authenticateChannel(state, hello, {
            cert: hasCert ? peerCert : undefined,
            fingerprint: hasCert ? certFingerprint(new Uint8Array(peerCert.raw)) : undefined,
          });
        },
        // As BindChannel: the edge handlers exist before a dial sent behind the hello is read.
        bind: (ch) => {
          edge = attachEdgeChannel(ch, auth!.session, ctx, auth!.jwt);
        },
      });
      const apiSession = auth!.session;
      channels.add(edge!);
      log.info(`${via} channel from ${apiSession.identity.name} accepted`);
      const onRemoved = (s: { id: string }) => {
        if (s.id === apiSession.id) void channel.close('api session removed');
      };
      state.on('apiSessionRemoved', onRemoved);
      const info = await channel.closed;
      state.off('apiSessionRemoved', onRemoved);
      channels.delete(edge!);
      log.debug(
        `${via} channel from ${apiSession.identity.name} closed (${info.initiator}${info.error ? `: ${info.error.message}` : ''})`,
      );
    } catch (err) {
      const reason = err instanceof ChannelAuthError ? err.message : (err as Error).message;
      log.warn(`${via} channel refused: ${reason}`);
    } finally {
      sock.destroy();
    }
  }

  function track<T extends { destroy(): void; once(ev: 'close', fn: () => void): unknown }>(
    s: T,
  ): T {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    return s;
  }

  /**
   * Inner TLS over the WebSocket stream. Fed to a (non-listening) tls.Server rather than a bare
   * TLSSocket, because only tls.Server enforces rejectUnauthorized and sets `authorized`.
   */
  const innerTlsServer = createTlsServer(
    { ...tlsOptions, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS },
    (sock) => {
      track(sock);
      void serveChannel(sock, 'websocket');
    },
  );
  innerTlsServer.on('tlsClientError', (err) =>
    log.info(`websocket inner TLS refused: ${err.message}`),
  );

  function innerTls(stream: Duplex): void {
    innerTlsServer.emit('connection', stream);
  }

  function wsListener(server: HttpServer, _via: string): WebSocketServer {
    const wss = new WebSocketServer({
      server,
      path: '/ws',
      maxPayload: 16 * 1024 * 1024,
      perMessageDeflate: false,
    });
    wss.on('connection', (ws) => {
      const handle = { destroy: () => ws.terminate() };
      sockets.add(handle);
      ws.once('close', () => sockets.delete(handle));
      // Any Origin is accepted (CheckOrigin always true, §5).
      let alive = true;
      ws.on('pong', () => {
        alive = true;
      });
      const ping = setInterval(() => {
        if (!alive) return ws.terminate();
        alive = false;
        ws.ping(WS_PING_PAYLOAD);
      }, WS_PING_INTERVAL_MS);
      ws.once('close', () => clearInterval(ping));
      const stream = webSocketStream(ws);
      stream.on('error', () => stream.destroy());
      innerTls(stream);
    });
    return wss;
  }

  const urls: Record<string, string> = {};
  const closers: (() => Promise<void>)[] = [];
  const closeServer = (srv: { close(cb: () => void): unknown }) => () =>
    new Promise<void>((r) => srv.close(() => r()));

  const closeHttp = (srv: HttpServer) => () =>
    new Promise<void>((r) => {
      srv.close(() => r());
      srv.closeAllConnections();
    });
  const upgradeRequired = (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket upgrade required at /ws\n');
  };

  // The outer TLS is only the browser's transport; the client authenticates the router by the
  // inner TLS. A browser that does not trust the fabric CA aborts the handshake here.
  const wssHttp = createHttpsServer(
    { key: pki.router.keyPem, cert: pki.router.chainPem, minVersion: 'TLSv1.2' },
    upgradeRequired,
  );
  wssHttp.on('tlsClientError', (err) => log.debug(`wss outer TLS: ${err.message}`));
  const wssSrv = wsListener(wssHttp, 'wss');
  const wssPort = await listen(wssHttp, opts.host, opts.wssPort, 'router wss');
  urls.wss = `wss://${opts.advertiseHost}:${wssPort}`;
  closers.push(() => new Promise<void>((r) => wssSrv.close(() => r())), closeHttp(wssHttp));

  if (opts.devPlainWsPort !== null) {
    const wsHttp = createHttpServer(upgradeRequired);
    const wsSrv = wsListener(wsHttp, 'ws');
    const port = await listen(wsHttp, opts.host, opts.devPlainWsPort, 'router dev plain ws');
    urls.ws = `ws://${opts.advertiseHost}:${port}`;
    closers.push(() => new Promise<void>((r) => wsSrv.close(() => r())), closeHttp(wsHttp));
    log.info(`dev-only plain ws listener on (a real router serves browsers only over wss)`);
  }

  const tlsSrv = createTlsServer(
    { ...tlsOptions, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS },
    (sock) => {
      track(sock);
      void serveChannel(sock, 'tls');
    },
  );
  tlsSrv.on('tlsClientError', (err) => log.debug(`tls listener: ${err.message}`));
  const tlsPort = await listen(tlsSrv, opts.host, opts.tlsPort, 'router tls');
  urls.tls = `tls://${opts.advertiseHost}:${tlsPort}`;
  closers.push(closeServer(tlsSrv));

  state.registerRouter({ name: opts.name, hostname: opts.advertiseHost, urls });
  log.info(`router ${opts.name} listening: ${Object.values(urls).join(', ')}`);

  return {
    urls,
    terminators,
    channels,
    async close() {
      state.unregisterRouter(opts.name);
      for (const s of sockets) s.destroy();
      await Promise.all(closers.map((c) => c()));
    },
  };
}
