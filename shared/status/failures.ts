/**
 * Why a request meant for the dark app could not be carried. The worker's error responses name it
 * (`x-zt-error`, `sw/tunnel/fail-closed.ts`), the status page lists it, and the worker's own errors
 * carry it as their `code` (`sw/tunnel/errors.ts`). Such a request is never sent to the open network.
 */
export type FailureCode =
  | 'no-identity'
  | 'identity-expired'
  | 'service-unavailable'
  | 'controller-unreachable'
  | 'no-router'
  | 'router-unreachable'
  | 'dial-failed'
  | 'upstream-error'
  | 'method-not-supported'
  | 'routes-unknown';

/** Every failure code, once. */
export const FAILURE_CODES: readonly FailureCode[] = [
  'no-identity',
  'identity-expired',
  'service-unavailable',
  'controller-unreachable',
  'no-router',
  'router-unreachable',
  'dial-failed',
  'upstream-error',
  'method-not-supported',
  'routes-unknown',
];
