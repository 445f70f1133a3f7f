/**
 * Response processors of the Edge Client API: unwrap the `{data, meta}` envelope, turn `{error}`
 * into `ZitiApiError` (the controller's code and the HTTP status), and check the fields this client
 * relies on, so a bad answer fails here with a `ZitiApiResponseError` that names the call and the
 * field (`GET /services: data[3].name is not a string`) and not later as a stray TypeError.
 *
 * Each processor takes the call's name (`endpointOf` in requests.ts) for those messages.
 */
import { ZitiApiError, ZitiApiResponseError } from '../errors.ts';
import { pkcs7CertificatesToPem } from './cacerts.ts';
import type {
  ApiSession,
  EdgeRouterInfo,
  Envelope,
  ExternalJwtSigner,
  SessionCertificate,
  VersionInfo,
  ZitiService,
  ZitiSession,
} from './types.ts';

type Json = Record<string, unknown>;

/** The answer being read: the call's name and the HTTP status, for error messages. */
interface At {
  endpoint: string;
  status: number;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(at: At, field: string | undefined, problem: string, cause?: unknown): never {
  throw new ZitiApiResponseError(at.endpoint, field, problem, at.status, { cause });
}

function object(at: At, v: unknown, path: string): Json {
  if (!isObject(v)) fail(at, path, 'is not an object');
  return v;
}

/** A list; `null` or absent is empty, since Go encodes an empty (nil) slice as `null` (§1.8). */
function list(at: At, v: unknown, path: string): unknown[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) fail(at, path, 'is not a list');
  return v;
}

function requiredString(at: At, o: Json, path: string, key: string): string {
  const v = o[key];
  if (typeof v !== 'string') fail(at, `${path}.${key}`, 'is not a string');
  return v;
}

/** Go leaves unset optional fields out or sends them as `null`; both read as undefined. */
function optionalString(at: At, o: Json, path: string, key: string): string | undefined {
  const v = o[key];
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'string') fail(at, `${path}.${key}`, 'is not a string');
  return v;
}

function token(at: At, o: Json, path: string): string {
  const t = requiredString(at, o, path, 'token');
  if (t === '') fail(at, `${path}.token`, 'is empty');
  return t;
}

/** Parses the envelope; throws ZitiApiError for `{error}`, ZitiApiResponseError for garbage. */
export async function processEnvelope<T = unknown>(
  res: Response,
  endpoint: string,
): Promise<Envelope<T>> {
  const at = { endpoint, status: res.status };
  let json: unknown;
  const text = await res.text();
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch (cause) {
    fail(at, undefined, `answered ${res.status} with something that is not JSON`, cause);
  }
  if (isObject(json) && isObject(json.error)) {
    const e = json.error;
    throw new ZitiApiError(
      typeof e.code === 'string' ? e.code : 'UNKNOWN',
      typeof e.message === 'string' ? e.message : `controller error ${res.status}`,
      res.status,
      {
        requestId: typeof e.requestId === 'string' ? e.requestId : undefined,
        causeMessage: typeof e.causeMessage === 'string' ? e.causeMessage : undefined,
      },
    );
  }
  if (!res.ok) fail(at, undefined, `answered ${res.status} without an error envelope`);
  if (!isObject(json)) fail(at, undefined, 'the body is not a JSON object');
  if (!('data' in json)) fail(at, 'data', 'is missing');
  const meta = isObject(json.meta) ? json.meta : {};
  return { data: json.data as T, meta: meta as Envelope<T>['meta'] };
}

export async function processVersionResponse(
  res: Response,
  endpoint: string,
): Promise<VersionInfo> {
  const at = { endpoint, status: res.status };
  const data = object(at, (await processEnvelope(res, endpoint)).data, 'data');
  requiredString(at, data, 'data', 'version');
  const capabilities = list(at, data.capabilities, 'data.capabilities').filter(
    (c): c is string => typeof c === 'string',
  );
  const apiVersions = isObject(data.apiVersions)
    ? (data.apiVersions as VersionInfo['apiVersions'])
    : {};
  return { ...(data as unknown as VersionInfo), apiVersions, capabilities };
}

/** The fields of reference §6.2, checked; an unset optional field reads as undefined. */
export async function processExternalJwtSignersResponse(
  res: Response,
  endpoint: string,
): Promise<ExternalJwtSigner[]> {
  const at = { endpoint, status: res.status };
  const data = (await processEnvelope(res, endpoint)).data;
  return list(at, data, 'data').map((item, i) => {
    const p = `data[${i}]`;
    const s = object(at, item, p);
    const scopes = list(at, s.scopes, `${p}.scopes`).map((scope, j) =>
      typeof scope === 'string' ? scope : fail(at, `${p}.scopes[${j}]`, 'is not a string'),
    );
    const targetToken = optionalString(at, s, p, 'targetToken');
    if (targetToken !== undefined && targetToken !== 'ACCESS' && targetToken !== 'ID')
      fail(at, `${p}.targetToken`, `is "${targetToken}", not ACCESS or ID`);
    return {
      id: requiredString(at, s, p, 'id'),
      name: requiredString(at, s, p, 'name'),
      externalAuthUrl: optionalString(at, s, p, 'externalAuthUrl'),
      clientId: optionalString(at, s, p, 'clientId'),
      scopes,
      audience: optionalString(at, s, p, 'audience'),
      targetToken,
      enrollToCertEnabled: s.enrollToCertEnabled === true,
      enrollToTokenEnabled: s.enrollToTokenEnabled === true,
    };
  });
}

/** Authenticate and current-api-session: `data.token` is the session token (reference §1.4). */
export async function processApiSessionResponse(
  res: Response,
  endpoint: string,
): Promise<ApiSession> {
  const at = { endpoint, status: res.status };
  const data = object(at, (await processEnvelope(res, endpoint)).data, 'data');
  requiredString(at, data, 'data', 'id');
  token(at, data, 'data');
  return data as ApiSession;
}

/** `/current-identity`: the identity's id and name (the rest is not used). */
export async function processCurrentIdentityResponse(
  res: Response,
  endpoint: string,
): Promise<{ id: string; name: string }> {
  const at = { endpoint, status: res.status };
  const data = object(at, (await processEnvelope(res, endpoint)).data, 'data');
  return {
    id: requiredString(at, data, 'data', 'id'),
    name: requiredString(at, data, 'data', 'name'),
  };
}

export async function processEmptyResponse(res: Response, endpoint: string): Promise<void> {
  if (res.status === 204) return;
  await processEnvelope(res, endpoint);
}

export async function processSessionCertificateResponse(
  res: Response,
  endpoint: string,
): Promise<SessionCertificate> {
  const at = { endpoint, status: res.status };
  const data = object(at, (await processEnvelope(res, endpoint)).data, 'data');
  const certificate = requiredString(at, data, 'data', 'certificate');
  if (!certificate.includes('-----BEGIN')) fail(at, 'data.certificate', 'is not a PEM certificate');
  return {
    id: optionalString(at, data, 'data', 'id'),
    certificate,
    cas: optionalString(at, data, 'data', 'cas') ?? '',
  };
}

/** One page of `/services`, with the total count when the controller sent pagination. */
export async function processServicesResponse(
  res: Response,
  endpoint: string,
): Promise<{ services: ZitiService[]; totalCount: number | undefined }> {
  const at = { endpoint, status: res.status };
  const { data, meta } = await processEnvelope(res, endpoint);
  const services = list(at, data, 'data').map((item, i) => {
    const p = `data[${i}]`;
    const s = object(at, item, p);
    requiredString(at, s, p, 'id');
    requiredString(at, s, p, 'name');
    const config = s.config === null || s.config === undefined ? {} : s.config;
    return {
      ...s,
      permissions: list(at, s.permissions, `${p}.permissions`),
      encryptionRequired: s.encryptionRequired === true,
      config: object(at, config, `${p}.config`),
    } as ZitiService;
  });
  return { services, totalCount: meta.pagination?.totalCount };
}

/** An edge-router list of `POST /sessions` or `/services/{id}/edge-routers`; `null` is empty. */
function routersOf(at: At, v: unknown, path: string): EdgeRouterInfo[] {
  return list(at, v, path).map((item, i) => {
    const r = object(at, item, `${path}[${i}]`);
    requiredString(at, r, `${path}[${i}]`, 'name');
    return r as unknown as EdgeRouterInfo;
  });
}

export async function processSessionResponse(
  res: Response,
  endpoint: string,
): Promise<ZitiSession> {
  const at = { endpoint, status: res.status };
  const data = object(at, (await processEnvelope(res, endpoint)).data, 'data');
  requiredString(at, data, 'data', 'id');
  token(at, data, 'data');
  return {
    ...(data as unknown as ZitiSession),
    edgeRouters: routersOf(at, data.edgeRouters, 'data.edgeRouters'),
  };
}

/** `/services/{id}/edge-routers`: `data = {edgeRouters: [...]}`, `null` when there are none. */
export async function processServiceEdgeRoutersResponse(
  res: Response,
  endpoint: string,
): Promise<EdgeRouterInfo[]> {
  const at = { endpoint, status: res.status };
  const data = object(at, (await processEnvelope(res, endpoint)).data, 'data');
  return routersOf(at, data.edgeRouters, 'data.edgeRouters');
}

/** `/.well-known/est/cacerts`: base64 (any line length) of a degenerate PKCS#7 → PEM certificates. */
export async function processCaCertsResponse(res: Response, endpoint: string): Promise<string[]> {
  const at = { endpoint, status: res.status };
  const text = await res.text();
  if (!res.ok) fail(at, undefined, `answered ${res.status}`);
  try {
    const pems = pkcs7CertificatesToPem(text);
    if (pems.length === 0) throw new Error('no certificates');
    return pems;
  } catch (cause) {
    fail(at, undefined, 'the body is not a base64 PKCS#7 bundle', cause);
  }
}
