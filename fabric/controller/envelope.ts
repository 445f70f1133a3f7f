/**
 * The controller's response envelopes (§1.2) and CORS (§1.1): every answer, success or error, is
 * JSON with `data`/`error` and `meta`, so a client that only reads bodies (§11) always sees why.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BUILD_VERSION as FABRIC_VERSION } from '../../shared/version.ts';

export type ApiErrorCode =
  | 'UNAUTHORIZED'
  | 'INVALID_AUTH'
  | 'INVALID_AUTH_METHOD'
  | 'NOT_FOUND'
  | 'COULD_NOT_VALIDATE'
  | 'INVALID_CONTENT_TYPE'
  | 'COULD_NOT_PROCESS_CSR'
  | 'MISSING_OR_INVALID_CSR'
  | 'NO_EDGE_ROUTERS_AVAILABLE'
  | 'METHOD_NOT_ALLOWED';

const MESSAGES: Record<ApiErrorCode, string> = {
  UNAUTHORIZED:
    'The request could not be completed. The session is not authorized or the credentials are invalid',
  INVALID_AUTH: 'The authentication request failed',
  INVALID_AUTH_METHOD: 'The supplied authentication method is not valid',
  NOT_FOUND: 'The resource requested was not found or is no longer available',
  COULD_NOT_VALIDATE:
    'The supplied request contains an invalid document or no valid accept content were available',
  INVALID_CONTENT_TYPE: 'The supplied content type is not supported',
  COULD_NOT_PROCESS_CSR: 'The supplied CSR could not be processed',
  MISSING_OR_INVALID_CSR: 'The supplied CSR is missing or invalid',
  NO_EDGE_ROUTERS_AVAILABLE:
    'No edge routers are assigned and online to handle the requested connection',
  METHOD_NOT_ALLOWED: 'The method is not allowed for this resource',
};

/** An API failure: the HTTP status, the stable code, and what went wrong in words. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    readonly causeMessage = '',
    options?: ErrorOptions,
  ) {
    super(`${code}: ${causeMessage || MESSAGES[code]}`, options);
  }
}

export const API_META = { apiVersion: '0.0.1', apiEnrollmentVersion: '0.0.1' };

const DEFAULT_CORS_HEADERS = ['Accept', 'Accept-Language', 'Content-Language', 'Origin'];
const ALLOWED_CORS_HEADERS = ['Content-Type', 'Accept', 'Authorization', 'Zt-Session'];
const ALLOWED_CORS_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
const canonical = (h: string) =>
  h
    .toLowerCase()
    .split('-')
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join('-');

/**
 * The CORS layer the real controller wraps every API in (`controller/api/cors.go`: gorilla/handlers
 * with origins `*`, credentials, four headers, six methods, preflight status 200). A request with
 * an `Origin` gets `Access-Control-Allow-Origin: *` and `Allow-Credentials: true` (so a credentialed
 * browser fetch fails, as it does against the real one), no exposed headers; a preflight is
 * answered here (400 without a method, 405 or 403 for a method or header not allowed, else 200 with
 * the non-default headers asked for). Without an `Origin` the layer does nothing, and a preflight
 * gets an empty 200. Returns true when it answered the request.
 */
export function corsLayer(req: IncomingMessage, res: ServerResponse): boolean {
  const origin = req.headers.origin;
  if (!origin) {
    if (req.method !== 'OPTIONS') return false;
    res.writeHead(200, { 'content-length': '0' }).end();
    return true;
  }
  if (req.method === 'OPTIONS') {
    const wanted = req.headers['access-control-request-method'];
    const refusal =
      typeof wanted !== 'string' ? 400 : !ALLOWED_CORS_METHODS.includes(wanted) ? 405 : 0;
    if (refusal) {
      res.writeHead(refusal).end();
      return true;
    }
    const asked = String(req.headers['access-control-request-headers'] ?? '')
      .split(',')
      .map((h) => canonical(h.trim()))
      .filter((h) => h !== '' && !DEFAULT_CORS_HEADERS.includes(h));
    if (asked.some((h) => !ALLOWED_CORS_HEADERS.includes(h))) {
      res.writeHead(403).end();
      return true;
    }
    if (asked.length > 0) res.setHeader('access-control-allow-headers', asked.join(','));
    if (!['GET', 'HEAD', 'POST'].includes(wanted as string))
      res.setHeader('access-control-allow-methods', wanted as string);
  }
  res.setHeader('access-control-allow-credentials', 'true');
  res.setHeader('access-control-allow-origin', '*');
  if (req.method !== 'OPTIONS') return false;
  res.writeHead(200, { 'content-length': '0' }).end();
  return true;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    server: `ziti-controller/${FABRIC_VERSION}`,
    ...headers,
  });
  res.end(text);
}

export function sendData(
  res: ServerResponse,
  status: number,
  data: unknown,
  meta: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { data, meta: { ...API_META, ...meta } }, headers);
}

export function sendError(
  res: ServerResponse,
  err: ApiError,
  urlVars: Record<string, string> = {},
): void {
  sendJson(res, err.status, {
    error: {
      code: err.code,
      message: MESSAGES[err.code],
      cause: err.causeMessage ? { message: err.causeMessage } : null,
      causeMessage: err.causeMessage,
      args: { urlVars },
      data: {},
      requestId: randomUUID(),
    },
    meta: API_META,
  });
}

/** Reads a JSON body with a size cap. An empty body is `undefined`. */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) {
    req.resume();
    throw new ApiError(400, 'COULD_NOT_VALIDATE', `request body exceeds ${maxBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      req.resume();
      throw new ApiError(400, 'COULD_NOT_VALIDATE', `request body exceeds ${maxBytes} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  const type = String(req.headers['content-type'] ?? 'application/json');
  if (!/^application\/(.+\+)?json\b/i.test(type) && !/^text\/plain\b/i.test(type)) {
    throw new ApiError(400, 'INVALID_CONTENT_TYPE', `unsupported content type "${type}"`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, 'COULD_NOT_VALIDATE', `malformed JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
