import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { parseAuthToken } from './auth.ts';
import { SERVER_VERSION } from './http.ts';
import { newId } from './ids.ts';
import type { DemoStore, Session } from './store.ts';

export const WEBSOCKET_PATH = '/api/v4/websocket';
/** Events kept per connection for a reconnect with `sequence_number` (Mattermost's dead queue). */
export const RESUME_BUFFER_EVENTS = 128;
/** How long a closed connection can be resumed. */
export const RESUME_WINDOW_MS = 5 * 60_000;
/** Server pings to find dead peers (Mattermost's pingPeriod is 54 s). */
export const DEFAULT_PING_INTERVAL_MS = 54_000;
/** A client that does not read is cut off past this much unsent data. */
export const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** Largest client message accepted. */
export const MAX_CLIENT_MESSAGE_BYTES = 64 * 1024;

export interface Broadcast {
  omit_users: Record<string, boolean> | null;
  user_id: string;
  channel_id: string;
  team_id: string;
}

interface Connection {
  id: string;
  userId: string;
  token: string;
  socket?: WebSocket;
  nextSeq: number;
  /** Last events sent, with their sequence numbers, for resumption. */
  sent: { seq: number; text: string }[];
  closedAt?: number;
}

/** Scheme and host of a URL as Go's url.Parse splits them (an explicit port stays in the host). */
function schemeAndHost(raw: string): { scheme: string; host: string } {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)/.exec(raw);
  if (!m) return { scheme: '', host: '' };
  const authority = m[2]!;
  return { scheme: m[1]!, host: authority.slice(authority.lastIndexOf('@') + 1) };
}

/**
 * Mattermost's websocket origin check (App.OriginChecker, AllowCorsFrom empty): no `Origin` is
 * allowed (non-browser clients) and `null` is not; with a Site URL, the Origin's scheme and host
 * (port included, as written) must equal the Site URL's, compared without case; with an empty Site
 * URL, the Origin's host must equal the `Host` header.
 */
export function originAllowed(req: IncomingMessage, siteUrl: string): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (origin === 'null') return false;
  const o = schemeAndHost(origin);
  const eq = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  if (!siteUrl) return eq(o.host, req.headers.host ?? '');
  const site = schemeAndHost(siteUrl);
  return eq(o.host, site.host) && eq(o.scheme, site.scheme);
}

/**
 * The refusal as Mattermost writes it: gorilla's `403 Forbidden` text, then the app error, whose
 * own status_code says 400.
 */
function rejectOrigin(socket: Duplex, origin: string): void {
  const body = `Forbidden\n${JSON.stringify({
    id: 'api.web_socket.connect.upgrade.app_error',
    message: `URL Blocked because of CORS. Url: ${origin}`,
    detailed_error: '',
    request_id: newId(),
    status_code: 400,
  })}\n`;
  socket.end(
    `HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/**
 * The websocket side of the app (Mattermost's hub and web connections): `hello` first on a new
 * connection (or when a resume finds events lost, with a new connection id), a `seq` on
 * every server event counted per connection, replies with `seq_reply` to client actions (ping,
 * authentication_challenge, user_typing), and `posted` fanned out to every member of the channel.
 */
export class WebSocketHub {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_CLIENT_MESSAGE_BYTES,
  });
  private readonly connections = new Map<string, Connection>();
  private readonly pingTimer: NodeJS.Timeout;

  constructor(
    private readonly store: DemoStore,
    private readonly settings: { readonly siteUrl: string },
    pingIntervalMs = DEFAULT_PING_INTERVAL_MS,
  ) {
    this.pingTimer = setInterval(() => this.sweep(), pingIntervalMs);
    this.pingTimer.unref();
  }

  /** Handles an HTTP upgrade already known to be for {@link WEBSOCKET_PATH}. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    if (!originAllowed(req, this.settings.siteUrl)) {
      rejectOrigin(socket, req.headers.origin ?? '');
      return;
    }
    const { token } = parseAuthToken(req, url);
    const session = token ? this.store.session(token) : undefined;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.accept(ws, session, url);
    });
  }

  private accept(ws: WebSocket, session: Session | undefined, url: URL): void {
    let conn: Connection | undefined;
    const alive = { pong: true };
    (ws as WebSocket & { ztAlive?: typeof alive }).ztAlive = alive;
    ws.on('pong', () => {
      alive.pong = true;
    });
    const start = (s: Session) => {
      conn = this.register(ws, s, url);
    };
    if (session) start(session);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return;
      let msg: { action?: unknown; seq?: unknown; data?: Record<string, unknown> };
      try {
        msg = JSON.parse(data.toString());
      } catch {
        return;
      }
      const seq = typeof msg.seq === 'number' ? msg.seq : 0;
      if (!conn) {
        if (msg.action === 'authentication_challenge') {
          const t = typeof msg.data?.token === 'string' ? msg.data.token : '';
          const s = t ? this.store.session(t) : undefined;
          if (!s) {
            this.reply(ws, seq, 'FAIL', {
              id: 'api.web_socket_router.bad_seq.app_error',
              message: 'Invalid or expired session',
            });
            return;
          }
          this.reply(ws, seq, 'OK');
          start(s);
          return;
        }
        this.reply(ws, seq, 'FAIL', {
          id: 'api.web_socket_router.not_authenticated.app_error',
          message: 'Not authenticated. Please login and try again.',
        });
        return;
      }
      this.onAction(conn, ws, msg.action, seq, msg.data);
    });
    ws.on('close', () => {
      if (conn && conn.socket === ws) {
        conn.socket = undefined;
        conn.closedAt = Date.now();
      }
    });
    ws.on('error', () => ws.terminate());
  }

  private register(ws: WebSocket, session: Session, url: URL): Connection {
    const wantedId = url.searchParams.get('connection_id') ?? '';
    const wantedSeq = Number(url.searchParams.get('sequence_number') ?? '0');
    const old = wantedId ? this.connections.get(wantedId) : undefined;
    if (old && old.userId === session.userId && Number.isInteger(wantedSeq)) {
      const firstKept = old.sent.length > 0 ? old.sent[0]!.seq : old.nextSeq;
      if (wantedSeq >= firstKept && wantedSeq <= old.nextSeq) {
        // The client reconnects before we noticed the old socket die: that socket is stale.
        // (Its close handler leaves the connection alone, as it no longer owns it.)
        old.socket?.terminate();
        // Resume (web_conn.go writePump): replay what the client missed with its original
        // numbers and carry on; no hello, the client keeps its connection id and sequence.
        old.socket = ws;
        old.closedAt = undefined;
        old.token = session.token;
        for (const event of old.sent) if (event.seq >= wantedSeq) ws.send(event.text);
        return old;
      }
    }
    const conn: Connection = {
      id: newId(),
      userId: session.userId,
      token: session.token,
      socket: ws,
      nextSeq: 0,
      sent: [],
    };
    this.connections.set(conn.id, conn);
    this.sendEvent(conn, 'hello', this.helloData(conn), this.userBroadcast(conn.userId));
    return conn;
  }

  private helloData(conn: Connection) {
    return {
      connection_id: conn.id,
      server_version: `${SERVER_VERSION}.demo`,
      server_hostname: 'demo-app',
    };
  }

  private userBroadcast(userId: string): Broadcast {
    return { omit_users: null, user_id: userId, channel_id: '', team_id: '' };
  }

  private onAction(
    conn: Connection,
    ws: WebSocket,
    action: unknown,
    seq: number,
    data: Record<string, unknown> | undefined,
  ): void {
    switch (action) {
      case 'ping':
        this.reply(ws, seq, 'OK', undefined, {
          text: 'pong',
          version: `${SERVER_VERSION}.demo`,
          server_time: Date.now(),
          node_id: '',
        });
        return;
      case 'authentication_challenge':
        this.reply(ws, seq, 'OK');
        return;
      case 'user_typing': {
        const channelId = typeof data?.channel_id === 'string' ? data.channel_id : '';
        if (!this.store.channels.has(channelId)) {
          this.reply(ws, seq, 'FAIL', {
            id: 'api.websocket_handler.invalid_param.app_error',
            message: 'Invalid channel_id parameter',
          });
          return;
        }
        this.reply(ws, seq, 'OK');
        this.broadcastToChannel(
          channelId,
          'typing',
          {
            parent_id: typeof data?.parent_id === 'string' ? data.parent_id : '',
            user_id: conn.userId,
          },
          { [conn.userId]: true },
        );
        return;
      }
      default:
        this.reply(ws, seq, 'FAIL', {
          id: 'api.web_socket_router.bad_action.app_error',
          message: 'Unknown action',
        });
    }
  }

  private reply(
    ws: WebSocket,
    seq: number,
    status: 'OK' | 'FAIL',
    error?: { id: string; message: string },
    data?: unknown,
  ): void {
    const body: Record<string, unknown> = { status, seq_reply: seq };
    if (error) body.error = { ...error, status_code: 400 };
    if (data !== undefined) body.data = data;
    this.write(ws, JSON.stringify(body));
  }

  private write(ws: WebSocket, text: string): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      ws.terminate();
      return;
    }
    ws.send(text);
  }

  private sendEvent(conn: Connection, event: string, data: unknown, broadcast: Broadcast): void {
    const seq = conn.nextSeq++;
    const text = JSON.stringify({ event, data, broadcast, seq });
    conn.sent.push({ seq, text });
    if (conn.sent.length > RESUME_BUFFER_EVENTS) conn.sent.shift();
    if (conn.socket) this.write(conn.socket, text);
  }

  /** Sends an event to every connection (open or resumable) of every member of a channel. */
  broadcastToChannel(
    channelId: string,
    event: string,
    data: unknown,
    omitUsers: Record<string, boolean> | null = null,
  ): void {
    const members = new Set(this.store.channelMemberIds(channelId));
    const broadcast: Broadcast = {
      omit_users: omitUsers,
      user_id: '',
      channel_id: channelId,
      team_id: '',
    };
    for (const conn of this.connections.values()) {
      if (!members.has(conn.userId) || omitUsers?.[conn.userId]) continue;
      this.sendEvent(conn, event, data, broadcast);
    }
  }

  /** Closes and forgets every connection of a session (logout revokes the session). */
  closeSession(token: string): void {
    for (const [id, conn] of this.connections) {
      if (conn.token !== token) continue;
      conn.socket?.close(1000, 'session revoked');
      this.connections.delete(id);
    }
  }

  /** Pings open sockets, cuts those that missed the last pong, forgets stale closed ones. */
  private sweep(): void {
    const now = Date.now();
    for (const [id, conn] of this.connections) {
      if (!conn.socket) {
        if (conn.closedAt !== undefined && now - conn.closedAt > RESUME_WINDOW_MS) {
          this.connections.delete(id);
        }
        continue;
      }
      const alive = (conn.socket as WebSocket & { ztAlive?: { pong: boolean } }).ztAlive;
      if (alive && !alive.pong) {
        conn.socket.terminate();
        continue;
      }
      if (alive) alive.pong = false;
      conn.socket.ping();
    }
  }

  /** Number of open sockets (for tests and status). */
  get openCount(): number {
    let n = 0;
    for (const c of this.connections.values()) if (c.socket) n++;
    return n;
  }

  close(): void {
    clearInterval(this.pingTimer);
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
    this.connections.clear();
  }
}
