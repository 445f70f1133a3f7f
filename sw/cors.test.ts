import { describe, expect, it } from 'vitest';
import {
  type CrossOriginRequest,
  corsCheck,
  crossOriginPlan,
  exposedHeaders,
  preflightCheck,
  preflightHeaders,
} from './cors.ts';

const APP = 'https://chat.example.com';
const req = (over: Partial<CrossOriginRequest>): CrossOriginRequest => ({
  method: 'GET',
  mode: 'cors',
  destination: '',
  credentials: 'same-origin',
  headers: [],
  ...over,
});

describe('crossOriginPlan', () => {
  it("refuses a 'same-origin' request, as the browser does", () => {
    expect(crossOriginPlan(req({ mode: 'same-origin' })).kind).toBe('refuse');
  });

  it('no-cors: carried, nothing readable; a script fetch gets an empty answer, an image its bytes', () => {
    expect(crossOriginPlan(req({ mode: 'no-cors' }))).toEqual({
      kind: 'no-cors',
      readable: false,
      emptyForScript: true,
    });
    expect(crossOriginPlan(req({ mode: 'no-cors', destination: 'image' }))).toMatchObject({
      emptyForScript: false,
    });
  });

  it('simple requests go without a preflight', () => {
    expect(crossOriginPlan(req({}))).toEqual({ kind: 'cors' });
    const form = req({
      method: 'POST',
      headers: [
        ['Content-Type', 'application/x-www-form-urlencoded; charset=utf-8'],
        ['Accept', 'application/json'],
        ['Accept-Language', 'de-CH, en;q=0.5'],
        ['Range', 'bytes=0-99'],
        ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64)'],
        ['Sec-CH-UA', '"Chromium";v="140"'],
      ],
    });
    expect(crossOriginPlan(form)).toEqual({ kind: 'cors' });
  });

  it('anything else is preflighted, naming the method and the unsafe header fields', () => {
    expect(crossOriginPlan(req({ method: 'put' }))).toEqual({
      kind: 'cors',
      preflight: { method: 'PUT', headers: [] },
    });
    const json = req({
      method: 'POST',
      headers: [
        ['Content-Type', 'application/json'],
        ['X-Requested-With', 'XMLHttpRequest'],
        ['Authorization', 'Bearer t'],
        ['Accept', 'text/html'],
      ],
    });
    expect(crossOriginPlan(json)).toEqual({
      kind: 'cors',
      preflight: { method: 'POST', headers: ['authorization', 'content-type', 'x-requested-with'] },
    });
    const odd = req({ headers: [['Accept', 'a"b']] });
    expect(crossOriginPlan(odd)).toMatchObject({ preflight: { headers: ['accept'] } });
    expect(crossOriginPlan(req({ headers: [['Range', 'bytes=0-1,5-6']] }))).toMatchObject({
      preflight: { headers: ['range'] },
    });
  });
});

describe('preflightHeaders', () => {
  it('asks for the method and the header names', () => {
    expect(preflightHeaders({ method: 'PUT', headers: ['content-type', 'x-a'] })).toEqual([
      ['Access-Control-Request-Method', 'PUT'],
      ['Access-Control-Request-Headers', 'content-type,x-a'],
    ]);
    expect(preflightHeaders({ method: 'DELETE', headers: [] })).toHaveLength(1);
  });
});

describe('corsCheck', () => {
  const h = (fields: Record<string, string>) => new Headers(fields);
  it('shares with the named origin, or anyone without credentials', () => {
    expect(corsCheck(h({ 'access-control-allow-origin': APP }), APP, 'same-origin')).toBe(
      undefined,
    );
    expect(corsCheck(h({ 'access-control-allow-origin': '*' }), APP, 'omit')).toBe(undefined);
  });

  it('refuses a missing or other origin, and credentials without the server saying yes', () => {
    expect(corsCheck(h({}), APP, 'omit')).toMatch(/no Access-Control-Allow-Origin/);
    expect(
      corsCheck(h({ 'access-control-allow-origin': 'https://x.example' }), APP, 'omit'),
    ).toMatch(/not https:\/\/chat/);
    expect(corsCheck(h({ 'access-control-allow-origin': '*' }), APP, 'include')).toMatch(/is \*/);
    expect(corsCheck(h({ 'access-control-allow-origin': APP }), APP, 'include')).toMatch(
      /credentials/,
    );
    expect(
      corsCheck(
        h({ 'access-control-allow-origin': APP, 'access-control-allow-credentials': 'true' }),
        APP,
        'include',
      ),
    ).toBe(undefined);
  });
});

describe('preflightCheck', () => {
  const allow = (extra: Record<string, string>) =>
    new Headers({ 'access-control-allow-origin': APP, ...extra });
  const wanted = { method: 'PUT', headers: ['content-type', 'x-a'] };
  it('lets the request follow when method and headers are allowed', () => {
    const ok = allow({
      'access-control-allow-methods': 'GET, PUT',
      'access-control-allow-headers': 'Content-Type, X-A',
    });
    expect(preflightCheck(204, ok, APP, 'omit', wanted)).toBe(undefined);
    const wild = allow({
      'access-control-allow-methods': '*',
      'access-control-allow-headers': '*',
    });
    expect(preflightCheck(200, wild, APP, 'omit', wanted)).toBe(undefined);
  });

  it('refuses a failed status, a missing method or header, and wildcards with credentials', () => {
    const ok = allow({
      'access-control-allow-methods': 'PUT',
      'access-control-allow-headers': 'content-type,x-a',
    });
    expect(preflightCheck(403, ok, APP, 'omit', wanted)).toMatch(/403/);
    expect(
      preflightCheck(200, allow({ 'access-control-allow-headers': 'x-a' }), APP, 'omit', {
        method: 'PUT',
        headers: [],
      }),
    ).toMatch(/PUT is not allowed/);
    expect(
      preflightCheck(200, allow({ 'access-control-allow-methods': 'PUT' }), APP, 'omit', wanted),
    ).toMatch(/content-type is not allowed/);
    const wild = new Headers({
      'access-control-allow-origin': APP,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': '*',
      'access-control-allow-headers': '*',
    });
    expect(preflightCheck(200, wild, APP, 'include', wanted)).toMatch(/PUT is not allowed/);
    expect(
      preflightCheck(200, allow({ 'access-control-allow-headers': '*' }), APP, 'omit', {
        method: 'GET',
        headers: ['authorization'],
      }),
    ).toMatch(/authorization/);
  });
});

describe('exposedHeaders', () => {
  it('keeps the safelisted fields and those the server exposes, nothing else', () => {
    const headers = new Headers({
      'content-type': 'application/json',
      'content-length': '2',
      'x-secret': '1',
      'x-shown': '2',
      'access-control-expose-headers': 'X-Shown',
    });
    expect([...exposedHeaders(headers, 'omit').keys()].sort()).toEqual([
      'access-control-expose-headers',
      'content-length',
      'content-type',
      'x-shown',
    ]);
    headers.set('access-control-expose-headers', '*');
    expect(exposedHeaders(headers, 'omit').has('x-secret')).toBe(true);
    expect(exposedHeaders(headers, 'include').has('x-secret')).toBe(false);
  });
});
