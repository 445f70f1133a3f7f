import { describe, expect, it } from 'vitest';
import { ZitiApiError, ZitiApiResponseError } from '../shared/ziti/errors.ts';
import { AccessError } from './enrollment.ts';
import { explain } from './explain.ts';
import { LoginError } from './oidc.ts';

describe('explain', () => {
  it('names the endpoint and the field of an unexpected controller answer', () => {
    const err = new ZitiApiResponseError(
      'GET /external-jwt-signers',
      'data[0].clientId',
      'is not a string',
      200,
    );
    const [title, detail] = explain(err);
    expect(title).toBe('The controller answered something unexpected');
    expect(detail).toContain('GET /external-jwt-signers: data[0].clientId is not a string');
    expect(detail).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('keeps the other cases apart', () => {
    expect(explain(new AccessError('ERR_NO_ROUTER', 'none'))[0]).toBe('No router online');
    expect(explain(new AccessError('ERR_NO_SERVICE', 'no'))[0]).toBe('No access');
    expect(explain(new LoginError('ERR_IDP_UNREACHABLE', 'x'))[0]).toBe(
      'Sign-in provider unreachable',
    );
    expect(explain(new LoginError('ERR_IDP_MISCONFIGURED', 'x'))[0]).toBe('Sign-in failed');
    expect(explain(new ZitiApiError('INVALID_AUTH', 'bad token', 401))).toEqual([
      'The controller refused',
      'bad token (INVALID_AUTH)',
    ]);
    expect(explain(new TypeError('Failed to fetch'))[0]).toBe('Network error');
    expect(explain('odd')).toEqual(['Something went wrong', 'odd']);
  });
});
