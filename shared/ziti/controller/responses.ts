/**
 * Response processors of the Edge Client API: unwrap the `{data, meta}` envelope, turn `{error}`
 * into `ZitiApiError` (the controller's code and the HTTP status), and check the fields this client
 * relies on, so a bad answer fails here with `ZitiApiResponseError` and not later.
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

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses the envelope; throws ZitiApiError for `{error}`, ZitiApiResponseError for garbage. */
export async function processEnvelope<T = unknown>(res: Response): Promise<Envelope<T>> {
  let json: unknown;
  const text = await res.text();
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch (cause) {
    throw new ZitiApiResponseError(`controller answered ${res.status} with non-JSON`, res.status, {
      cause,
    });
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
  if (!res.ok) {
    throw new ZitiApiResponseError(
      `controller answered ${res.status} without an error envelope`,
      res.status,
    );
  }
  if (!isObject(json) || !('data' in json)) {
    throw new ZitiApiResponseError('controller answer has no data envelope', res.status);
  }
  const meta = isObject(json.meta) ? json.meta : {};
  return { data: json.data as T, meta: meta as Envelope<T>['meta'] };
}

function need(cond: boolean, what: string, status: number): void {
  if (!cond) throw new ZitiApiResponseError(`controller answer: ${what}`, status);
}

export async function processVersionResponse(res: Response): Promise<VersionInfo> {
  const { data } = await processEnvelope<Json>(res);
  need(isObject(data) && typeof data.version === 'string', 'version missing', res.status);
  const capabilities = Array.isArray(data.capabilities)
    ? data.capabilities.filter((c): c is string => typeof c === 'string')
    : [];
  const apiVersions = isObject(data.apiVersions)
    ? (data.apiVersions as VersionInfo['apiVersions'])
    : {};
  return { ...(data as unknown as VersionInfo), apiVersions, capabilities };
}

export async function processExternalJwtSignersResponse(
  res: Response,
): Promise<ExternalJwtSigner[]> {
  const { data } = await processEnvelope<unknown>(res);
  need(Array.isArray(data), 'external-jwt-signers is not a list', res.status);
  const list = data as unknown[];
  need(
    list.every((s) => isObject(s) && typeof s.id === 'string'),
    'signer without id',
    res.status,
  );
  return list as ExternalJwtSigner[];
}

/** Authenticate and current-api-session: `data.token` is the session token (reference §1.4). */
export async function processApiSessionResponse(res: Response): Promise<ApiSession> {
  const { data } = await processEnvelope<Json>(res);
  need(isObject(data) && typeof data.id === 'string', 'api session without id', res.status);
  need(
    typeof data.token === 'string' && data.token !== '',
    'api session without token',
    res.status,
  );
  return data as ApiSession;
}

export async function processEmptyResponse(res: Response): Promise<void> {
  if (res.status === 204) return;
  await processEnvelope(res);
}

export async function processSessionCertificateResponse(
  res: Response,
): Promise<SessionCertificate> {
  const { data } = await processEnvelope<Json>(res);
  need(
    isObject(data) &&
      typeof data.certificate === 'string' &&
      data.certificate.includes('-----BEGIN'),
    'no PEM certificate',
    res.status,
  );
  return {
    id: typeof data.id === 'string' ? data.id : undefined,
    certificate: data.certificate as string,
    cas: typeof data.cas === 'string' ? data.cas : '',
  };
}

/** One page of `/services`, with the total count when the controller sent pagination. */
export async function processServicesResponse(
  res: Response,
): Promise<{ services: ZitiService[]; totalCount: number | undefined }> {
  const { data, meta } = await processEnvelope<unknown>(res);
  need(Array.isArray(data), 'services is not a list', res.status);
  const services = (data as unknown[]).map((s) => {
    need(
      isObject(s) && typeof s.id === 'string' && typeof s.name === 'string',
      'service without id/name',
      res.status,
    );
    const o = s as Json;
    return {
      ...o,
      permissions: Array.isArray(o.permissions) ? o.permissions : [],
      encryptionRequired: o.encryptionRequired === true,
      config: isObject(o.config) ? o.config : {},
    } as ZitiService;
  });
  return { services, totalCount: meta.pagination?.totalCount };
}

function routersOf(list: unknown, status: number): EdgeRouterInfo[] {
  need(Array.isArray(list), 'edgeRouters is not a list', status);
  return (list as unknown[]).map((r) => {
    need(isObject(r) && typeof r.name === 'string', 'edge router without name', status);
    return r as unknown as EdgeRouterInfo;
  });
}

export async function processSessionResponse(res: Response): Promise<ZitiSession> {
  const { data } = await processEnvelope<Json>(res);
  need(isObject(data) && typeof data.id === 'string', 'session without id', res.status);
  need(typeof data.token === 'string' && data.token !== '', 'session without token', res.status);
  return {
    ...(data as unknown as ZitiSession),
    edgeRouters: routersOf(data.edgeRouters ?? [], res.status),
  };
}

/** `/services/{id}/edge-routers`: `data = {edgeRouters: [...]}`. */
export async function processServiceEdgeRoutersResponse(res: Response): Promise<EdgeRouterInfo[]> {
  const { data } = await processEnvelope<Json>(res);
  need(isObject(data), 'edge-routers data is not an object', res.status);
  return routersOf(data.edgeRouters, res.status);
}

/** `/.well-known/est/cacerts`: base64 (any line length) of a degenerate PKCS#7 → PEM certificates. */
export async function processCaCertsResponse(res: Response): Promise<string[]> {
  const text = await res.text();
  if (!res.ok) {
    throw new ZitiApiResponseError(`cacerts answered ${res.status}`, res.status);
  }
  try {
    const pems = pkcs7CertificatesToPem(text);
    if (pems.length === 0) throw new Error('no certificates');
    return pems;
  } catch (cause) {
    throw new ZitiApiResponseError('cacerts is not a base64 PKCS#7 bundle', res.status, { cause });
  }
}
