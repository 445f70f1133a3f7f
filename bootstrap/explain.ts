/** Turns whatever stopped the bootstrap flow into a title and a sentence a person can act on. */
import { ZitiApiError, ZitiApiResponseError } from '../shared/ziti/errors.ts';
import { AccessError } from './enrollment.ts';
import { LoginError } from './oidc.ts';

export function explain(err: unknown): [title: string, detail: string] {
  if (err instanceof LoginError) {
    return err.code === 'ERR_IDP_UNREACHABLE'
      ? ['Sign-in provider unreachable', err.message]
      : ['Sign-in failed', err.message];
  }
  if (err instanceof AccessError)
    return [err.code === 'ERR_NO_ROUTER' ? 'No router online' : 'No access', err.message];
  if (err instanceof ZitiApiError)
    return ['The controller refused', `${err.message} (${err.code})`];
  if (err instanceof ZitiApiResponseError) {
    // The message names the call and the field, e.g. `GET /services: data[0].name is not a string`.
    return [
      'The controller answered something unexpected',
      `${err.message}. Check that "controller" in /__zt/config.json is an OpenZiti controller (v1.7 or newer).`,
    ];
  }
  if (err instanceof TypeError)
    return ['Network error', `A server could not be reached: ${err.message}`];
  return ['Something went wrong', err instanceof Error ? err.message : String(err)];
}
