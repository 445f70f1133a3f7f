import { beforeAll, describe, expect, it } from 'vitest';
import { type RequestFacts, requestContext, sameSite } from './request-context.ts';
import { loadToughCookie } from './tough-cookie.ts';

// As in the worker, where the cookie jar's opening loads the public suffix list first.
beforeAll(() => loadToughCookie());

const APP = 'https://chat.example.com';

/** A request as a fetch event shows it; the defaults are a same-origin fetch() of the app. */
const req = (over: Partial<RequestFacts>): RequestFacts => ({
  url: `${APP}/api/v4/posts`,
  method: 'GET',
  mode: 'cors',
  destination: '',
  credentials: 'include',
  referrer: `${APP}/channels/town`,
  referrerPolicy: '',
  ...over,
});

/** A navigation into the app started from `referrer` ('' : none). */
const nav = (referrer: string, over: Partial<RequestFacts> = {}): RequestFacts =>
  req({
    url: `${APP}/channels/town`,
    mode: 'navigate',
    destination: 'document',
    referrer,
    ...over,
  });

const metadata = (r: RequestFacts) =>
  Object.fromEntries(requestContext(r, APP).fetchMetadata.map(([n, v]) => [n, v]));

describe('sameSite', () => {
  it.each([
    [APP, 'https://www.example.com', true],
    [APP, 'https://chat.example.com:8443', true],
    [APP, 'http://chat.example.com', false],
    [APP, 'https://example.org', false],
    ['https://a.github.io', 'https://b.github.io', false],
    ['https://a.example.co.uk', 'https://b.example.co.uk', true],
    ['https://example.co.uk', 'https://other.co.uk', false],
    ['https://127.0.0.1:1', 'https://127.0.0.1:2', true],
    ['https://127.0.0.1', 'https://127.0.0.2', false],
    ['http://localhost:1', 'http://localhost:2', true],
  ])('%s and %s: %s', (a, b, same) => {
    expect(sameSite(new URL(a), new URL(b))).toBe(same);
  });
});

describe('requestContext: cookies', () => {
  it("the app's own requests get every cookie", () => {
    expect(requestContext(req({}), APP).cookies).toBe('strict');
    expect(requestContext(req({ method: 'POST' }), APP).cookies).toBe('strict');
  });

  it('a cross-site form POST into the app gets no SameSite cookie (CSRF)', () => {
    const post = nav('https://evil.example/', { method: 'POST' });
    expect(requestContext(post, APP)).toMatchObject({
      cookies: 'none',
      origin: 'https://evil.example',
    });
  });

  it('a cross-site link into the app gets Lax cookies, not Strict ones', () => {
    expect(requestContext(nav('https://evil.example/'), APP).cookies).toBe('lax');
  });

  it('a cross-site frame of the app gets no SameSite cookie, even by GET', () => {
    expect(
      requestContext(nav('https://evil.example/', { destination: 'iframe' }), APP).cookies,
    ).toBe('none');
  });

  it('a navigation from the app itself or a sibling of its site gets every cookie', () => {
    expect(requestContext(nav(`${APP}/x`, { method: 'POST' }), APP).cookies).toBe('strict');
    expect(requestContext(nav('https://www.example.com/'), APP).cookies).toBe('strict');
  });

  it('without a referrer: a typed or bookmarked GET is same-site, an unsafe navigation is not', () => {
    expect(requestContext(nav(''), APP).cookies).toBe('strict');
    expect(requestContext(nav('', { method: 'POST' }), APP)).toMatchObject({
      cookies: 'none',
      origin: 'null',
    });
  });

  it("credentials: 'omit' gets no cookies; 'same-origin' none for another origin", () => {
    expect(requestContext(req({ credentials: 'omit' }), APP).cookies).toBe('omit');
    expect(requestContext(req({ credentials: 'same-origin' }), APP).cookies).toBe('strict');
    const sibling = req({ url: 'https://files.corp/a', credentials: 'same-origin' });
    expect(requestContext(sibling, APP).cookies).toBe('omit');
  });

  it('a request to a dark host of another site carries only SameSite=None cookies', () => {
    expect(requestContext(req({ url: 'https://files.corp/a' }), APP).cookies).toBe('none');
    expect(requestContext(req({ url: 'https://api.example.com/a' }), APP).cookies).toBe('strict');
  });
});

describe('requestContext: Origin', () => {
  it('none on same-origin safe requests, the app on unsafe and cross-origin CORS ones', () => {
    expect(requestContext(req({}), APP).origin).toBeUndefined();
    expect(requestContext(req({ method: 'DELETE' }), APP).origin).toBe(APP);
    expect(requestContext(req({ url: 'https://files.corp/a' }), APP).origin).toBe(APP);
    expect(requestContext(req({ mode: 'no-cors', url: 'https://files.corp/a' }), APP).origin).toBe(
      undefined,
    );
  });

  it('the initiator of a navigation, never the app on its behalf', () => {
    expect(requestContext(nav('https://evil.example/a/b', { method: 'POST' }), APP).origin).toBe(
      'https://evil.example',
    );
    expect(requestContext(nav(`${APP}/form`, { method: 'POST' }), APP).origin).toBe(APP);
    expect(requestContext(nav('https://evil.example/'), APP).origin).toBeUndefined();
  });

  it('null where the referrer policy says so', () => {
    const post = { method: 'POST', mode: 'no-cors' as const };
    expect(requestContext(req({ ...post, referrerPolicy: 'no-referrer' }), APP).origin).toBe(
      'null',
    );
    const sibling = { ...post, url: 'https://files.corp/a' };
    expect(requestContext(req({ ...sibling, referrerPolicy: 'same-origin' }), APP).origin).toBe(
      'null',
    );
    expect(
      requestContext(req({ ...sibling, url: 'http://files.corp/a' }), APP).origin,
      'https to http',
    ).toBe('null');
    expect(
      requestContext(
        req({ ...sibling, url: 'http://files.corp/a', referrerPolicy: 'unsafe-url' }),
        APP,
      ).origin,
    ).toBe(APP);
  });
});

describe('requestContext: fetch metadata', () => {
  it('says who started the request, in what mode, for what', () => {
    expect(metadata(req({}))).toEqual({
      'Sec-Fetch-Site': 'same-origin',
      'Sec-Fetch-Mode': 'cors',
      'Sec-Fetch-Dest': 'empty',
    });
    expect(metadata(nav('https://evil.example/', { method: 'POST' }))).toMatchObject({
      'Sec-Fetch-Site': 'cross-site',
      'Sec-Fetch-Mode': 'navigate',
      'Sec-Fetch-Dest': 'document',
    });
    expect(metadata(nav('https://www.example.com/'))['Sec-Fetch-Site']).toBe('same-site');
    expect(metadata(nav(''))['Sec-Fetch-Site']).toBe('none');
    expect(metadata(nav('', { method: 'POST' }))['Sec-Fetch-Site']).toBe('cross-site');
  });

  it('is sent to potentially trustworthy URLs only', () => {
    expect(requestContext(req({ url: 'http://files.corp/a' }), APP).fetchMetadata).toEqual([]);
    expect(
      requestContext(req({ url: 'http://localhost:8080/a' }), 'http://localhost:8080')
        .fetchMetadata,
    ).toHaveLength(3);
  });
});
