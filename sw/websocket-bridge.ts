/**
 * The service-worker side of a tunnelled WebSocket: serves one page socket over its MessagePort
 * (protocol and flow control: shared/page-worker/websocket-port.ts). The tunnel is injected as
 * `open`, which performs the HTTP Upgrade over an edge connection and returns the RFC 6455 client.
 *
 * Wiring, in the SW's message listener:
 *   if (isWebSocketConnectMessage(event.data) && event.ports[0])
 *     event.waitUntil(
 *       bridgeWebSocket(event.ports[0], open, { pageAlive: pageAliveOf(self.clients, event.source) }),
 *     );
 */
import {
  HEARTBEAT_TIMEOUT_MS,
  type PageToSw,
  type SwToPage,
} from '../shared/page-worker/websocket-port.ts';
import type {
  WebSocketClientConnection,
  WebSocketMessage,
} from '../shared/websocket/connection.ts';

export interface OpenedWebSocket {
  protocol: string;
  extensions: string;
  conn: WebSocketClientConnection;
}

/** Opens the tunnelled socket; rejects if the handshake fails (the page sees error + 1006). */
export type OpenWebSocket = (url: string, protocols: string[]) => Promise<OpenedWebSocket>;

export interface WebSocketBridgeOptions {
  /** Silence from the page after which `pageAlive` is asked; default 4 s. */
  heartbeatTimeoutMs?: number;
  /**
   * Whether the page that opened the socket still exists (`clients.get`). A silent page that
   * does is only busy or throttled, and keeps its socket; one that does not, or silence without
   * this answer, closes the tunnel (1001).
   */
  pageAlive?: (() => Promise<boolean>) | undefined;
}

/**
 * `pageAlive` for the page that posted the connect message (`event.source`): whether the browser
 * still has that client. Undefined when the source is not a client (no id to ask about).
 */
export function pageAliveOf(
  clients: { get(id: string): Promise<unknown> },
  source: unknown,
): (() => Promise<boolean>) | undefined {
  const id = (source as { id?: unknown } | null)?.id;
  if (typeof id !== 'string') return undefined;
  return async () => (await clients.get(id)) !== undefined;
}

/** How a message counts against credit: bytes for binary, UTF-16 code units for text. */
export function messageCost(data: ArrayBuffer | string): number {
  return typeof data === 'string' ? data.length : data.byteLength;
}

/** Serves one socket; resolves when it is closed and the port released. */
export function bridgeWebSocket(
  port: MessagePort,
  open: OpenWebSocket,
  options: WebSocketBridgeOptions = {},
): Promise<void> {
  const timeoutMs = options.heartbeatTimeoutMs ?? HEARTBEAT_TIMEOUT_MS;
  let conn: WebSocketClientConnection | null = null;
  let started = false;
  let finished = false;
  let closeRequest: { code?: number; reason?: string } | null = null;
  let credit = 0;
  let wake: (() => void) | null = null;
  let lastHeard = Date.now();
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });

  const post = (m: SwToPage, transfer: Transferable[] = []) => {
    try {
      port.postMessage(m, transfer);
    } catch {
      // The page is gone; the heartbeat check ends the tunnel.
    }
  };
  const signal = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const finish = () => {
    if (finished) return;
    finished = true;
    clearInterval(watchdog);
    // The port is not closed here: a final message posted just before close() can be lost. The
    // page closes its end when it receives `close`; this end is then garbage.
    port.onmessage = null;
    signal();
    resolveDone();
  };
  const closeConn = (c: WebSocketClientConnection, req: { code?: number; reason?: string }) => {
    try {
      void c.close(req.code, req.reason ?? '');
    } catch {
      // The page validated code and reason as the WebSocket API does; anything else ends it plainly.
      void c.close(1000);
    }
  };

  let asking = false;
  const pageGone = () => {
    if (finished) return;
    // The page went away without a close (tab killed, navigated): do not keep the tunnel.
    if (conn) closeConn(conn, { code: 1001 });
    else finish();
    closeRequest ??= { code: 1001 };
    signal();
  };
  const watchdog = setInterval(
    () => {
      if (asking || Date.now() - lastHeard <= timeoutMs) return;
      if (!options.pageAlive) return pageGone();
      asking = true;
      options
        .pageAlive()
        .catch(() => false)
        .then((alive) => {
          asking = false;
          // Slow, not gone: ask again after another silent period.
          if (alive) lastHeard = Date.now();
          else pageGone();
        });
    },
    Math.max(50, timeoutMs / 4),
  );

  const pump = async (c: WebSocketClientConnection) => {
    const reader = c.messages.getReader();
    for (;;) {
      while (credit <= 0 && !closeRequest && !finished) {
        await new Promise<void>((r) => {
          wake = r;
        });
      }
      let r: ReadableStreamReadResult<WebSocketMessage>;
      try {
        r = await reader.read();
      } catch {
        break;
      }
      if (r.done) break;
      const m = r.value;
      if (m.type === 'text') {
        credit -= messageCost(m.data);
        post({ t: 'message', data: m.data });
      } else {
        const d = m.data;
        // Transfer, not copy, when the view owns its whole buffer; otherwise copy out the view
        // (it may share a buffer with other bytes of the stream).
        const buf =
          d.byteOffset === 0 && d.byteLength === d.buffer.byteLength
            ? (d.buffer as ArrayBuffer)
            : (d.slice().buffer as ArrayBuffer);
        credit -= buf.byteLength;
        post({ t: 'message', data: buf }, [buf]);
      }
    }
    const info = await c.closed;
    post({
      t: 'close',
      code: info.code,
      reason: info.reason,
      wasClean: info.wasClean,
      ...(info.error ? { error: info.error.message } : {}),
    });
    finish();
  };

  const start = async (url: string, protocols: string[]) => {
    let opened: OpenedWebSocket;
    try {
      opened = await open(url, protocols);
    } catch (e) {
      post({
        t: 'close',
        code: 1006,
        reason: '',
        wasClean: false,
        error: e instanceof Error ? e.message : String(e),
      });
      finish();
      return;
    }
    if (closeRequest || finished) {
      // The page gave up while we were connecting (close() while CONNECTING fails the socket).
      opened.conn.terminate();
      finish();
      return;
    }
    conn = opened.conn;
    post({ t: 'open', protocol: opened.protocol, extensions: opened.extensions });
    await pump(conn);
  };

  port.onmessage = (event: MessageEvent) => {
    lastHeard = Date.now();
    const m = event.data as PageToSw;
    if (typeof m !== 'object' || m === null) return;
    switch (m.t) {
      case 'open':
        if (started || typeof m.url !== 'string' || !Array.isArray(m.protocols)) return;
        started = true;
        credit = Number(m.credit) || 0;
        void start(m.url, m.protocols.map(String));
        return;
      case 'send': {
        if (!conn) return;
        const data = typeof m.data === 'string' ? m.data : new Uint8Array(m.data);
        const bytes = Number(m.bytes) || 0;
        conn.send(data).then(
          () => post({ t: 'sent', bytes }),
          () => {},
        );
        return;
      }
      case 'credit':
        credit += Number(m.bytes) || 0;
        signal();
        return;
      case 'close':
        if (closeRequest) return;
        closeRequest = { code: m.code, reason: m.reason };
        if (conn) closeConn(conn, closeRequest);
        signal();
        return;
      case 'hb':
        post({ t: 'hb' });
        return;
    }
  };
  port.start();
  return done;
}
