/**
 * The page <-> service-worker protocol for one tunnelled WebSocket, over a dedicated MessagePort.
 *
 * Setup: the page makes a MessageChannel and posts `{ type: WEBSOCKET_CONNECT }` (names.ts) with one
 * port to its controlling service worker; everything after that travels on the port. A small typed protocol
 * rather than comlink: the traffic is a stream of data messages plus four control messages, and
 * flow control needs byte counts on every message, which RPC calls would only wrap.
 *
 * Flow control, both directions in bytes:
 * - page -> server: the page adds each `send` to its `bufferedAmount`; the SW answers `sent` with
 *   the same byte count once the frame was accepted by the tunnel, and the page subtracts it.
 * - server -> page: the page grants `credit` (initially in `open`, then as it dispatches message
 *   events). The SW reads the next message from the tunnel only while its credit is positive (a
 *   message may overdraw it), so a slow page stops the tunnel instead of growing the SW's memory.
 *
 * Liveness: the page sends `hb` every `HEARTBEAT_INTERVAL_MS` and the SW echoes it. Silence alone
 * proves nothing: a page running a long task, or a background tab whose timers the browser runs
 * once a minute, sends nothing, and after such a pause a timer may run before the answers that
 * queued meanwhile. So the page treats the SW as gone (stopped by the browser; close 1006) only
 * when its heartbeats stayed unanswered for `HEARTBEAT_TIMEOUT_MS` and over
 * `HEARTBEAT_TIMEOUT_MS / HEARTBEAT_INTERVAL_MS` of its own timer turns; a SW that hears nothing
 * from the page as long asks the browser whether the page still exists, and closes the tunnel
 * (1001) only when it does not.
 */

export const HEARTBEAT_INTERVAL_MS = 1000;
export const HEARTBEAT_TIMEOUT_MS = 4000;
/** Credit the page grants up front and keeps topping up: 1 MiB. */
export const INITIAL_CREDIT = 1024 * 1024;

export type PageToSw =
  | { t: 'open'; url: string; protocols: string[]; credit: number }
  /** `data` is a transferred ArrayBuffer or a string; `bytes` its size as sent (UTF-8 for text). */
  | { t: 'send'; data: ArrayBuffer | string; bytes: number }
  | { t: 'credit'; bytes: number }
  /** `code` undefined: close without a status (the server then reports 1005). */
  | { t: 'close'; code?: number; reason?: string }
  | { t: 'hb' };

export type SwToPage =
  | { t: 'open'; protocol: string; extensions: string }
  | { t: 'message'; data: ArrayBuffer | string }
  | { t: 'sent'; bytes: number }
  /** Final: the socket is closed (`error` set when it failed, e.g. the handshake was refused). */
  | { t: 'close'; code: number; reason: string; wasClean: boolean; error?: string }
  | { t: 'hb' };
