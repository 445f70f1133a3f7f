/** Default cap on a response head (status line + header fields), and on a chunked body's trailers. */
export const DEFAULT_MAX_HEAD_BYTES = 64 * 1024;

/** Default cap on the number of header fields in one response head (and in its trailers). */
export const DEFAULT_MAX_HEADERS = 256;

/** Cap on one chunk-size line, extensions included (RFC 9112 §7.1.1 lets us limit them). */
export const MAX_CHUNK_LINE_BYTES = 4096;

/** Default bound on open connections per pool (what browsers allow per origin). */
export const DEFAULT_MAX_CONNECTIONS = 6;

/**
 * Default time an idle keep-alive connection is kept (and reused) before the pool closes it, when
 * the server announced no `Keep-Alive: timeout`. Short on purpose (undici uses the same 4 s): a
 * server that closes an idle connection may do so without us ever hearing of it (an OpenZiti 1.7
 * router does not pass the hosting tunneler's half-close on to a dialer like us), and a request
 * written on such a connection is never answered. Servers commonly close after 5 s (Node) or more.
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 4_000;

/** A connection is not reused within this margin of the server's announced keep-alive timeout. */
export const KEEP_ALIVE_MARGIN_MS = 1_000;

/**
 * Hop-by-hop fields (RFC 9110 §7.6.1, plus the legacy Keep-Alive, Proxy-Connection and the
 * proxy credentials fields): meaningful for one connection only, never forwarded.
 * Fields named in `Connection` are hop-by-hop too.
 */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Methods whose requests may be repeated without changing the result (RFC 9110 §9.2.2). */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'OPTIONS',
  'TRACE',
  'PUT',
  'DELETE',
]);
