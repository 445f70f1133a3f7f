/** A user account of the demo app (the app's own login, separate from the fabric's IdP users). */
export interface DemoUser {
  username: string;
  password: string;
  email?: string;
  firstName?: string;
  lastName?: string;
}

/** One request as the app received it, so tests can prove a request reached the app. */
export interface RequestRecord {
  method: string;
  /** Path and query as sent on the request line. */
  url: string;
  /** Headers of interest (lower-case names), only those present. */
  headers: Readonly<Record<string, string>>;
  remoteAddress: string;
  /** Milliseconds since the epoch when the request line was received. */
  time: number;
  /** True for a WebSocket upgrade request. */
  upgrade: boolean;
}

/** Headers copied into a {@link RequestRecord}. */
export const RECORDED_HEADERS = [
  'host',
  'origin',
  'referer',
  'user-agent',
  'content-type',
  'content-length',
  'transfer-encoding',
  'range',
  'if-range',
  'x-requested-with',
  'x-csrf-token',
  'x-forwarded-proto',
  'x-forwarded-for',
  'authorization',
  'cookie',
  'upgrade',
  'sec-websocket-protocol',
] as const;
