import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';

/** The version the app claims in `X-Version-Id` and the websocket hello. */
export const SERVER_VERSION = '10.5.0';

/** Largest JSON request body the API accepts (JSON bodies are small; files go through multipart). */
export const MAX_JSON_BODY_BYTES = 1024 * 1024;

/**
 * An API error in Mattermost's shape (`model.AppError`): a stable `id`, a message and the HTTP status.
 */
export class AppError extends Error {
  constructor(
    readonly id: string,
    message: string,
    readonly status: number,
    readonly detailedError = '',
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const sessionExpired = (detail = '') =>
  new AppError(
    'api.context.session_expired.app_error',
    'Invalid or expired session, please login again.',
    401,
    detail,
  );

export const notFound = (what = 'page') =>
  new AppError('api.context.404.app_error', `Sorry, we could not find the ${what}.`, 404);

export const invalidParam = (name: string) =>
  new AppError('api.context.invalid_param.app_error', `Invalid ${name} parameter.`, 400);

export const forbidden = () =>
  new AppError(
    'api.context.permissions.app_error',
    'You do not have the appropriate permissions.',
    403,
  );

/** Headers every API response carries (web/handlers.go sets them on each API call). */
export function setApiHeaders(res: ServerResponse, requestId: string, method: string): void {
  res.setHeader('X-Request-Id', requestId);
  res.setHeader('X-Version-Id', `${SERVER_VERSION}.demo`);
  // Client4 only parses JSON when the type is exactly `application/json`, as Mattermost sends it.
  res.setHeader('Content-Type', 'application/json');
  if (method === 'GET') res.setHeader('Expires', '0');
  res.setHeader('Vary', 'Accept-Encoding');
}

/**
 * Mattermost's API handlers are wrapped in gzhttp (WebserverMode "gzip", the default): a response
 * of at least this many bytes is gzipped when the request accepts gzip.
 */
export const GZIP_MIN_BYTES = 1024;
/** Types gzhttp leaves alone (already compressed); `image/png` and others are gzipped. */
const GZIP_EXCLUDED_TYPES = ['image/jpeg'];

/** Whether the request's `Accept-Encoding` accepts gzip (a q-value of 0 refuses it). */
export function acceptsGzip(req: IncomingMessage): boolean {
  const header = req.headers['accept-encoding'];
  if (!header) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding?.trim() !== 'gzip') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/**
 * Whether gzhttp would compress this response: gzip accepted, no `Range` in the request (a ranged
 * answer is never compressed), a type it compresses, and no `Content-Encoding` yet.
 */
export function shouldGzip(req: IncomingMessage, res: ServerResponse, size: number): boolean {
  const type = String(res.getHeader('Content-Type') ?? '').toLowerCase();
  return (
    size >= GZIP_MIN_BYTES &&
    acceptsGzip(req) &&
    req.headers.range === undefined &&
    res.getHeader('Content-Encoding') === undefined &&
    !GZIP_EXCLUDED_TYPES.some((t) => type.startsWith(t))
  );
}

/** Sends a whole body, gzipped when {@link shouldGzip} says so (`req` omitted: never). */
export function sendBody(
  req: IncomingMessage | undefined,
  res: ServerResponse,
  body: Buffer,
): void {
  let out = body;
  if (req && shouldGzip(req, res, body.length)) {
    out = gzipSync(body);
    res.setHeader('Content-Encoding', 'gzip');
  }
  res.setHeader('Content-Length', out.length);
  res.end(req?.method === 'HEAD' ? undefined : out);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  req?: IncomingMessage,
): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  sendBody(req, res, Buffer.from(JSON.stringify(body)));
}

export function sendError(
  res: ServerResponse,
  err: AppError,
  requestId: string,
  req?: IncomingMessage,
): void {
  sendJson(
    res,
    err.status,
    {
      id: err.id,
      message: err.message,
      detailed_error: err.detailedError,
      request_id: requestId,
      status_code: err.status,
    },
    req,
  );
}

/** Reads a JSON body up to {@link MAX_JSON_BODY_BYTES}; an empty body reads as `undefined`. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_JSON_BODY_BYTES) {
      throw new AppError('api.context.request_body_too_large', 'Request body too large.', 413);
    }
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new AppError('api.context.invalid_body_param.app_error', 'Invalid or missing body.', 400);
  }
}

/** Parses a `Cookie` request header (first value wins, as Go's `r.Cookie` does). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2)
      value = value.slice(1, -1);
    if (!out.has(name)) out.set(name, value);
  }
  return out;
}

export interface CookieSpec {
  name: string;
  value: string;
  maxAge: number;
  httpOnly?: boolean;
  secure?: boolean;
}

/** Serialises a cookie as Go's `http.SetCookie` does for Mattermost's session cookies. */
export function serializeCookie(spec: CookieSpec): string {
  const parts = [`${spec.name}=${spec.value}`, 'Path=/'];
  if (spec.maxAge > 0) {
    parts.push(`Expires=${new Date(Date.now() + spec.maxAge * 1000).toUTCString()}`);
    parts.push(`Max-Age=${spec.maxAge}`);
  } else if (spec.maxAge < 0) {
    parts.push('Max-Age=0');
  }
  if (spec.httpOnly) parts.push('HttpOnly');
  if (spec.secure) parts.push('Secure');
  return parts.join('; ');
}
