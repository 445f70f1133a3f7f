/**
 * The worker's failures, one family: `TunnelError` for what the tunnel itself finds wrong (no router,
 * no router reachable, a service this identity may not dial), and `failureOf`, which names the
 * failure any error stands for by its `code`. The errors of lower layers carry codes already
 * (`shared/ziti/errors.ts`, `shared/config/bootstrap-config.ts`); `failureOf` reads them, they never
 * learn of ours.
 */
import type { FailureCode } from '../../shared/status/failures.ts';
import { ZitiApiError } from '../../shared/ziti/index.ts';

/** A failure of the tunnel; `code` is the kind the error response names. */
export class TunnelError extends Error {
  readonly code: FailureCode;
  constructor(code: FailureCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TunnelError';
    this.code = code;
  }
}

/** The failure one error names by its code; undefined when it names none (its cause may). */
export function failureOf(error: unknown): FailureCode | undefined {
  const code: unknown = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  switch (code) {
    // Ours (TunnelError): the code is the failure.
    case 'no-identity':
    case 'identity-expired':
    case 'service-unavailable':
    case 'controller-unreachable':
    case 'no-router':
    case 'router-unreachable':
    case 'dial-failed':
    case 'upstream-error':
    case 'method-not-supported':
    case 'routes-unknown':
      return code;
    // The controller could not be reached, or did not give a usable config.json.
    case 'ERR_ZITI_CONTROLLER_UNREACHABLE':
    case 'ERR_CONFIG_INVALID':
      return 'controller-unreachable';
    // The router refused the Connect (the service's terminator did not answer, or no session).
    case 'ERR_ZITI_DIAL':
      return 'dial-failed';
    // Everything else the OpenZiti client reports happened on the way to or through a router.
    case 'ERR_ZITI_PROTOCOL':
    case 'ERR_ZITI_TIMEOUT':
    case 'ERR_ZITI_HELLO_REJECTED':
    case 'ERR_ZITI_AUTH':
    case 'ERR_ZITI_CHANNEL_CLOSED':
    case 'ERR_ZITI_BIND':
    case 'ERR_ZITI_CONN_CLOSED':
    case 'ERR_ZITI_E2E':
    case 'ERR_ZITI_API_RESPONSE':
      return 'router-unreachable';
    default:
      // The controller's `{error}` envelope carries the controller's own codes, an open set: its
      // HTTP status says whose problem it is (401: the session's; anything else: access).
      if (error instanceof ZitiApiError)
        return error.status === 401 ? 'identity-expired' : 'service-unavailable';
      return undefined;
  }
}

/** An error and the errors it wraps (`cause`), outermost first; the HTTP pool wraps dial failures. */
function* causes(error: unknown): Generator<Error> {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++)
    yield e;
}

/**
 * The failure behind an error: the first in its chain of causes that names one, with that error's
 * message; a failure none names is the connection to the app breaking (`upstream-error`).
 */
export function classifyFailure(error: unknown): { code: FailureCode; detail: string } {
  for (const e of causes(error)) {
    const code = failureOf(e);
    if (code) return { code, detail: e.message };
  }
  return { code: 'upstream-error', detail: error instanceof Error ? error.message : String(error) };
}

/**
 * The router or the controller refused the API session (idle expiry, logout elsewhere): renewing
 * the identity may cure it. Anywhere in the chain, since a refusal can be wrapped in a router error.
 */
export const isSessionRefusal = (error: unknown): boolean =>
  [...causes(error)].some(
    (e) =>
      (e as { code?: unknown }).code === 'ERR_ZITI_AUTH' || failureOf(e) === 'identity-expired',
  );
