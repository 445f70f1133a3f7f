import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../shared/config/bootstrap-config.ts';
import { HttpAbortError, HttpConnectionClosedError } from '../../shared/http/index.ts';
import { FAILURE_CODES } from '../../shared/status/failures.ts';
import { TlsError } from '../../shared/tls/errors.ts';
import {
  ZitiApiError,
  ZitiApiResponseError,
  ZitiAuthenticationError,
  ZitiBindError,
  ZitiChannelClosedError,
  ZitiConnectionClosedError,
  ZitiControllerUnreachableError,
  ZitiDialError,
  ZitiE2EError,
  ZitiHelloRejectedError,
  ZitiProtocolError,
  ZitiTimeoutError,
} from '../../shared/ziti/index.ts';
import { classifyFailure, failureOf, isSessionRefusal, TunnelError } from './errors.ts';

describe('failureOf: the failure an error names by its code', () => {
  it.each(FAILURE_CODES)('a TunnelError coded %s names that failure', (code) => {
    expect(failureOf(new TunnelError(code, 'x'))).toBe(code);
  });

  it('an unreachable controller (ERR_ZITI_CONTROLLER_UNREACHABLE) -> controller-unreachable', () => {
    const err = new ZitiControllerUnreachableError('GET /services', { cause: new TypeError('x') });
    expect(failureOf(err)).toBe('controller-unreachable');
  });

  it('a config.json that could not be had (ERR_CONFIG_INVALID) -> controller-unreachable', () => {
    expect(failureOf(new ConfigError('config.json: HTTP 404'))).toBe('controller-unreachable');
  });

  it('a refused Connect (ERR_ZITI_DIAL) -> dial-failed', () => {
    expect(failureOf(new ZitiDialError('dial refused', 4))).toBe('dial-failed');
  });

  it.each([
    ['ERR_ZITI_PROTOCOL', new ZitiProtocolError('bad-magic', 'x')],
    ['ERR_ZITI_TIMEOUT', new ZitiTimeoutError('x')],
    ['ERR_ZITI_HELLO_REJECTED', new ZitiHelloRejectedError('x')],
    ['ERR_ZITI_AUTH', new ZitiAuthenticationError('x')],
    ['ERR_ZITI_CHANNEL_CLOSED', new ZitiChannelClosedError('x')],
    ['ERR_ZITI_BIND', new ZitiBindError('x')],
    ['ERR_ZITI_CONN_CLOSED', new ZitiConnectionClosedError('x')],
    ['ERR_ZITI_E2E', new ZitiE2EError('x')],
    ['ERR_ZITI_API_RESPONSE', new ZitiApiResponseError('GET /sessions', 'data', 'missing', 200)],
  ])('the OpenZiti client error %s -> router-unreachable', (code, err) => {
    expect(err.code).toBe(code);
    expect(failureOf(err)).toBe('router-unreachable');
  });

  it("the controller's 401 (any of its codes) -> identity-expired", () => {
    expect(failureOf(new ZitiApiError('UNAUTHORIZED', 'x', 401))).toBe('identity-expired');
    expect(failureOf(new ZitiApiError('SOMETHING_NEW', 'x', 401))).toBe('identity-expired');
  });

  it("the controller's other refusals -> service-unavailable", () => {
    expect(failureOf(new ZitiApiError('NOT_FOUND', 'x', 404))).toBe('service-unavailable');
    expect(failureOf(new ZitiApiError('INVALID_POSTURE', 'x', 409))).toBe('service-unavailable');
  });

  it('errors that name no failure: HTTP, TLS, plain errors, non-errors', () => {
    expect(failureOf(new HttpConnectionClosedError('closed', true))).toBeUndefined();
    expect(failureOf(new TlsError('ERR_TLS_CLOSED', 'closed'))).toBeUndefined();
    expect(failureOf(new Error('x'))).toBeUndefined();
    expect(failureOf(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBeUndefined();
    expect(failureOf({ code: 'no-router' })).toBeUndefined();
    expect(failureOf('no-router')).toBeUndefined();
    expect(failureOf(undefined)).toBeUndefined();
  });
});

describe('classifyFailure: the first error in the chain of causes that names a failure', () => {
  it('a dial failure wrapped by the HTTP pool is named by the inner error, with its message', () => {
    const inner = new TunnelError('router-unreachable', 'er1: refused', {
      cause: new ZitiDialError('never reached'),
    });
    const outer = new HttpConnectionClosedError('connect failed', true, { cause: inner });
    expect(classifyFailure(outer)).toEqual({ code: 'router-unreachable', detail: 'er1: refused' });
  });

  it('nothing in the chain names one: upstream-error with the outermost message', () => {
    const err = new HttpAbortError('the app hung up', { cause: new Error('reset') });
    expect(classifyFailure(err)).toEqual({ code: 'upstream-error', detail: 'the app hung up' });
    expect(classifyFailure('boom')).toEqual({ code: 'upstream-error', detail: 'boom' });
  });

  it('looks no deeper than five errors', () => {
    let err: Error = new TunnelError('no-router', 'deep');
    for (let i = 0; i < 5; i++) err = new Error(`wrap ${i}`, { cause: err });
    expect(classifyFailure(err).code).toBe('upstream-error');
  });
});

describe('isSessionRefusal: renewing the identity may cure it', () => {
  it('a router that closed the channel after the hello (ERR_ZITI_AUTH), even wrapped', () => {
    const err = new HttpConnectionClosedError('connect failed', true, {
      cause: new ZitiAuthenticationError('closed after hello'),
    });
    expect(isSessionRefusal(err)).toBe(true);
  });

  it("the controller's 401", () => {
    expect(isSessionRefusal(new ZitiApiError('UNAUTHORIZED', 'x', 401))).toBe(true);
  });

  it('not an unreachable router, a refused dial or a forbidden service', () => {
    expect(isSessionRefusal(new TunnelError('router-unreachable', 'x'))).toBe(false);
    expect(isSessionRefusal(new ZitiDialError('x'))).toBe(false);
    expect(isSessionRefusal(new ZitiApiError('NOT_FOUND', 'x', 404))).toBe(false);
  });
});
