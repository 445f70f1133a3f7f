import { describe, expect, it } from 'vitest';
import { config, publicOrigin, routes } from './_test/routes.ts';
import {
  type Decision,
  decide,
  type Fact,
  type Failed,
  type RequestFacts,
  routeOf,
  type Snapshot,
} from './decide.ts';

const request = (url: string, over: Partial<RequestFacts> = {}): RequestFacts => ({
  method: 'GET',
  url: new URL(url, publicOrigin),
  navigation: false,
  publicOrigin,
  online: true,
  ...over,
});
const page = (path: string, over: Partial<RequestFacts> = {}) =>
  request(path, { navigation: true, ...over });

const appTunnel = { kind: 'tunnel', host: 'chat.example.com', port: 443 } as const;
const failure = (code: Failed['code'], over: Partial<Failed> = {}): Failed => ({
  code,
  detail: `${code} detail`,
  online: true,
  ...over,
});

/**
 * Runs `decide` as the worker does: answers each look-up from `world` (what looking it up would
 * find) and asks again. Returns the final decision and the facts asked for, in order. A fact asked
 * for twice, or one the world does not know, fails the test: `decide` must always make progress.
 */
function walk(
  facts: RequestFacts,
  world: Snapshot,
  start: Snapshot = {},
): { decision: Decision; asked: Fact[] } {
  let known = start;
  const asked: Fact[] = [];
  for (;;) {
    const decision = decide(facts, known);
    if (decision.kind !== 'look-up') return { decision, asked };
    const { fact } = decision;
    expect(asked, `asked for ${fact} twice`).not.toContain(fact);
    expect(known[fact], `asked for ${fact}, already known`).toBeUndefined();
    expect(world[fact], `the test's world does not say ${fact}`).not.toBeUndefined();
    asked.push(fact);
    known = { ...known, [fact]: world[fact] };
  }
}

/** The first attempt failed with `first`; the worker answers the rest from `world`. */
const afterFailure = (facts: RequestFacts, first: Failed, world: Snapshot = {}) =>
  walk(facts, world, { routes, tunnel: 'open', keptAsset: false, attempts: [first] });

describe('routeOf: which requests are the tunnel’s (decideRoute)', () => {
  it('the app’s origin goes to the app’s service, at the default or given port', () => {
    expect(routeOf(new URL('https://chat.example.com/api'), publicOrigin, routes)).toEqual(
      appTunnel,
    );
    expect(routeOf(new URL('http://localhost:8080/'), 'http://localhost:8080', undefined)).toEqual({
      kind: 'tunnel',
      host: 'localhost',
      port: 8080,
    });
  });

  it('the app’s origin is decided even before the routes are known', () => {
    expect(routeOf(new URL('https://chat.example.com/api'), publicOrigin, undefined)).toEqual(
      appTunnel,
    );
  });

  it('our own files are ours, routes or not', () => {
    for (const path of ['/__zt/index.html', '/__zt/config.json', '/sw.js']) {
      expect(routeOf(new URL(path, publicOrigin), publicOrigin, routes).kind).toBe('own-file');
      expect(routeOf(new URL(path, publicOrigin), publicOrigin, undefined).kind).toBe('own-file');
    }
  });

  it('another origin: its service if one intercepts it, config.json’s extras by the app’s service', () => {
    expect(routeOf(new URL('https://files.corp.example/a'), publicOrigin, routes)).toEqual({
      kind: 'tunnel',
      service: 'files',
      host: 'files.corp.example',
      port: 443,
    });
    expect(routeOf(new URL('https://cdn.corp.example/x.js'), publicOrigin, routes)).toEqual({
      kind: 'tunnel',
      service: 'chat',
      host: 'cdn.corp.example',
      port: 443,
    });
    expect(routeOf(new URL('https://fonts.example.org/f'), publicOrigin, routes).kind).toBe(
      'network',
    );
  });

  it('another origin before the routes are known is pending', () => {
    expect(routeOf(new URL('https://fonts.example.org/f'), publicOrigin, undefined).kind).toBe(
      'pending',
    );
  });

  it('what is not http(s) is never the tunnel’s', () => {
    expect(routeOf(new URL('data:text/plain,x'), publicOrigin, undefined).kind).toBe('network');
  });
});

describe('decide: not ours', () => {
  it('our own files go to the network without a look-up', () => {
    expect(walk(page('/__zt/index.html'), {})).toEqual({
      decision: { kind: 'own-file' },
      asked: [],
    });
    expect(walk(request('/sw.js', { method: 'BREW' }), {}).decision.kind).toBe('own-file');
  });

  it('another origin no service intercepts goes to the network, whatever the method', () => {
    expect(walk(request('https://fonts.example.org/f'), {}, { routes })).toEqual({
      decision: { kind: 'network' },
      asked: [],
    });
    expect(
      walk(request('https://fonts.example.org/f', { method: 'BREW' }), {}, { routes }).decision,
    ).toEqual({ kind: 'network' });
  });
});

describe('decide: the app’s origin, signed in, online', () => {
  const world: Snapshot = { keptAsset: false, tunnel: 'open' };

  it('a navigation goes over the tunnel once the tunnel is open', () => {
    expect(walk(page('/channels/town'), world)).toEqual({
      decision: appTunnel,
      asked: ['tunnel'],
    });
  });

  it('a GET without a query asks the cache first, then the tunnel', () => {
    expect(walk(request('/static/main.abc123.js'), world)).toEqual({
      decision: appTunnel,
      asked: ['keptAsset', 'tunnel'],
    });
  });

  it('a kept immutable asset comes from the cache, before the tunnel is opened', () => {
    expect(walk(request('/static/main.abc123.js'), { ...world, keptAsset: true })).toEqual({
      decision: { kind: 'cached', copy: 'asset' },
      asked: ['keptAsset'],
    });
  });

  it('a GET with a query, a POST and a HEAD are not looked up in the cache', () => {
    for (const facts of [
      request('/api/v4/users?page=1'),
      request('/api/v4/posts', { method: 'POST' }),
      request('/api/v4/posts', { method: 'HEAD' }),
    ])
      expect(walk(facts, world).asked).toEqual(['tunnel']);
  });

  it('every carried method goes over the tunnel (WebDAV ones too)', () => {
    for (const method of ['PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND', 'MKCOL', 'SEARCH'])
      expect(walk(request('/dav/x', { method }), world).decision).toEqual(appTunnel);
  });

  it('a known route is used as the routes say', () => {
    expect(walk(request('/api', { method: 'POST' }), world, { routes }).decision).toEqual(
      appTunnel,
    );
  });
});

describe('decide: another origin', () => {
  const dark = 'https://files.corp.example/a';
  const named = 'https://cdn.corp.example/lib.js';
  const open = 'https://fonts.example.org/font.woff2';
  const world: Snapshot = { fromOwnPage: false, keptAsset: false, tunnel: 'open' };
  const files = { kind: 'tunnel', service: 'files', host: 'files.corp.example', port: 443 };

  it('a dark host, routes known: over its service', () => {
    expect(walk(request(dark, { method: 'POST' }), world, { routes })).toEqual({
      decision: files,
      asked: ['tunnel'],
    });
  });

  it('routes not known yet: our own pages go to the network without waiting for them', () => {
    expect(walk(request(dark), { ...world, fromOwnPage: true })).toEqual({
      decision: { kind: 'network' },
      asked: ['fromOwnPage'],
    });
  });

  it('routes not known yet: waits for them, then a dark host goes over its service', () => {
    expect(walk(request(dark, { method: 'POST' }), { ...world, routes })).toEqual({
      decision: files,
      asked: ['fromOwnPage', 'routes', 'tunnel'],
    });
  });

  it('routes not known yet: waits for them, then an open host goes to the network', () => {
    expect(walk(request(open), { ...world, routes })).toEqual({
      decision: { kind: 'network' },
      asked: ['fromOwnPage', 'routes'],
    });
  });

  it('signed in, routes unknown, other origin -> routes-unknown', () => {
    const { decision, asked } = walk(request(open), {
      ...world,
      routes: null,
      signIn: { signedIn: true, config },
    });
    expect(asked).toEqual(['fromOwnPage', 'routes', 'signIn']);
    expect(decision).toMatchObject({ kind: 'fail-closed', code: 'routes-unknown' });
  });

  it('nobody signed in, no config.json, other origin -> routes-unknown', () => {
    expect(
      walk(request(open), { ...world, routes: null, signIn: { signedIn: false } }).decision,
    ).toMatchObject({ kind: 'fail-closed', code: 'routes-unknown' });
  });

  it('nobody signed in, routes unknown, a host config.json names -> no-identity', () => {
    expect(
      walk(request(named), { ...world, routes: null, signIn: { signedIn: false, config } })
        .decision,
    ).toMatchObject({ kind: 'fail-closed', code: 'no-identity' });
  });

  it('nobody signed in, routes unknown, a host config.json does not name -> network', () => {
    expect(
      walk(request(open), { ...world, routes: null, signIn: { signedIn: false, config } }).decision,
    ).toEqual({ kind: 'network' });
  });
});

describe('decide: methods the worker does not carry', () => {
  it('unsupported method, the app’s origin -> method-not-supported', () => {
    expect(walk(request('/api', { method: 'BREW' }), {})).toEqual({
      decision: {
        kind: 'fail-closed',
        code: 'method-not-supported',
        detail: 'the method BREW is not carried',
        navigation: false,
      },
      asked: [],
    });
  });

  it('unsupported method, a dark host -> method-not-supported', () => {
    expect(
      walk(request('https://files.corp.example/a', { method: 'BREW' }), {}, { routes }).decision,
    ).toMatchObject({ kind: 'fail-closed', code: 'method-not-supported' });
  });

  it('unsupported method, another origin before the routes are known -> method-not-supported', () => {
    expect(
      walk(request('https://fonts.example.org/f', { method: 'BREW' }), {}).decision,
    ).toMatchObject({ kind: 'fail-closed', code: 'method-not-supported' });
  });
});

describe('decide: offline (the browser says so)', () => {
  const offline = { online: false };

  it('a navigation gets the last copy of its document, without opening the tunnel', () => {
    expect(walk(page('/channels/town', offline), { keptDocument: true })).toEqual({
      decision: { kind: 'cached', copy: 'document' },
      asked: ['keptDocument'],
    });
  });

  it('offline, navigation, nothing cached -> router-unreachable (our readable page)', () => {
    expect(walk(page('/channels/town', offline), { keptDocument: false })).toEqual({
      decision: {
        kind: 'fail-closed',
        code: 'router-unreachable',
        detail: 'this browser is offline',
        navigation: true,
      },
      asked: ['keptDocument'],
    });
  });

  it('a kept immutable asset still comes from the cache', () => {
    expect(walk(request('/static/app.js', offline), { keptAsset: true }).decision).toEqual({
      kind: 'cached',
      copy: 'asset',
    });
  });

  it('offline, an asset, nothing cached -> router-unreachable at once', () => {
    expect(walk(request('/static/app.js', offline), { keptAsset: false })).toEqual({
      decision: {
        kind: 'fail-closed',
        code: 'router-unreachable',
        detail: 'this browser is offline',
        navigation: false,
      },
      asked: ['keptAsset'],
    });
  });

  it('offline, a request the cache cannot answer -> router-unreachable, nothing looked up', () => {
    expect(walk(request('/api/v4/posts', { ...offline, method: 'POST' }), {})).toMatchObject({
      decision: { kind: 'fail-closed', code: 'router-unreachable' },
      asked: [],
    });
  });
});

describe('decide: no usable identity', () => {
  it('nobody signed in: a navigation gets the bootstrap page', () => {
    expect(walk(page('/'), { tunnel: 'none' }).decision).toEqual({ kind: 'bootstrap-page' });
  });

  it('nobody signed in, not a navigation -> no-identity', () => {
    expect(walk(request('/api', { method: 'POST' }), { tunnel: 'none' }).decision).toEqual({
      kind: 'fail-closed',
      code: 'no-identity',
      detail: 'sign in on this site first',
      navigation: false,
    });
  });

  it('identity expired: a navigation gets the bootstrap page', () => {
    expect(walk(page('/'), { tunnel: 'expired' }).decision).toEqual({ kind: 'bootstrap-page' });
  });

  it('identity expired, not a navigation -> identity-expired', () => {
    expect(walk(request('/api', { method: 'POST' }), { tunnel: 'expired' }).decision).toEqual({
      kind: 'fail-closed',
      code: 'identity-expired',
      detail: 'sign in again: reload the page',
      navigation: false,
    });
  });
});

describe('decide: the tunnel would not open', () => {
  const post = request('/api', { method: 'POST' });

  it('controller unreachable: a navigation gets the bootstrap page (it can settle the TLS)', () => {
    expect(walk(page('/'), { tunnel: failure('controller-unreachable') }).decision).toEqual({
      kind: 'bootstrap-page',
    });
  });

  it('controller unreachable, not a navigation -> controller-unreachable', () => {
    expect(walk(post, { tunnel: failure('controller-unreachable') }).decision).toEqual({
      kind: 'fail-closed',
      code: 'controller-unreachable',
      detail: 'controller-unreachable detail',
      navigation: false,
    });
  });

  it('another failure, a navigation -> that failure, as our readable page', () => {
    expect(walk(page('/'), { tunnel: failure('router-unreachable') }).decision).toEqual({
      kind: 'fail-closed',
      code: 'router-unreachable',
      detail: 'router-unreachable detail',
      navigation: true,
    });
  });

  it('gone offline meanwhile, a navigation gets the last copy of its document', () => {
    const tunnel = failure('router-unreachable', { online: false });
    expect(walk(page('/'), { tunnel, keptDocument: true })).toEqual({
      decision: { kind: 'cached', copy: 'document' },
      asked: ['tunnel', 'keptDocument'],
    });
  });
});

describe('decide: carrying failed', () => {
  const post = request('/api/v4/posts', { method: 'POST' });

  it.each([
    'dial-failed',
    'no-router',
    'router-unreachable',
    'service-unavailable',
    'upstream-error',
    'controller-unreachable',
    'identity-expired',
  ] as const)('a POST that failed with %s -> %s, nothing tried again', (code) => {
    expect(afterFailure(post, failure(code))).toEqual({
      decision: { kind: 'fail-closed', code, detail: `${code} detail`, navigation: false },
      asked: [],
    });
  });

  it('a navigation whose dial failed -> dial-failed, as our readable page', () => {
    expect(afterFailure(page('/'), failure('dial-failed')).decision).toEqual({
      kind: 'fail-closed',
      code: 'dial-failed',
      detail: 'dial-failed detail',
      navigation: true,
    });
  });

  it('a navigation whose session expired, or whose controller was unreachable: the bootstrap page', () => {
    expect(afterFailure(page('/'), failure('identity-expired')).decision.kind).toBe(
      'bootstrap-page',
    );
    expect(afterFailure(page('/'), failure('controller-unreachable')).decision.kind).toBe(
      'bootstrap-page',
    );
  });

  it('gone offline meanwhile: a navigation gets the last copy of its document', () => {
    const offline = failure('router-unreachable', { online: false });
    expect(afterFailure(page('/'), offline, { keptDocument: true })).toEqual({
      decision: { kind: 'cached', copy: 'document' },
      asked: ['keptDocument'],
    });
  });

  it('gone offline meanwhile, nothing kept -> the failure, as our readable page', () => {
    const offline = failure('router-unreachable', { online: false });
    expect(afterFailure(page('/'), offline, { keptDocument: false }).decision).toMatchObject({
      kind: 'fail-closed',
      code: 'router-unreachable',
      navigation: true,
    });
  });

  it('gone offline, but the service is forbidden -> service-unavailable, no old copy', () => {
    const forbidden = failure('service-unavailable', { online: false });
    expect(afterFailure(page('/'), forbidden)).toMatchObject({
      decision: { kind: 'fail-closed', code: 'service-unavailable' },
      asked: [],
    });
  });
});

describe('decide: the session was refused', () => {
  const refused = failure('router-unreachable', { sessionRefused: true });
  const get = request('/api/v4/users/me');

  it('renews the identity, then sends a GET once more', () => {
    expect(afterFailure(get, refused, { renewal: 'renewed' })).toEqual({
      decision: appTunnel,
      asked: ['renewal'],
    });
    expect(
      afterFailure(request('/x', { method: 'HEAD' }), refused, { renewal: 'renewed' }),
    ).toMatchObject({ decision: appTunnel });
  });

  it('the second attempt failing too -> its failure, no third attempt or renewal', () => {
    const known: Snapshot = {
      routes,
      tunnel: 'open',
      keptAsset: false,
      renewal: 'renewed',
      attempts: [refused, failure('dial-failed', { sessionRefused: true })],
    };
    expect(walk(get, {}, known)).toEqual({
      decision: {
        kind: 'fail-closed',
        code: 'dial-failed',
        detail: 'dial-failed detail',
        navigation: false,
      },
      asked: [],
    });
  });

  it('a request with a body is not sent again -> the first failure', () => {
    expect(
      afterFailure(request('/api', { method: 'POST' }), refused, { renewal: 'renewed' }).decision,
    ).toMatchObject({ kind: 'fail-closed', code: 'router-unreachable' });
  });

  it('the identity expired: a navigation gets the bootstrap page', () => {
    expect(afterFailure(page('/'), refused, { renewal: 'expired' })).toEqual({
      decision: { kind: 'bootstrap-page' },
      asked: ['renewal'],
    });
  });

  it('the identity expired, not a navigation -> the failure, nothing sent again', () => {
    expect(afterFailure(get, refused, { renewal: 'expired' }).decision).toMatchObject({
      kind: 'fail-closed',
      code: 'router-unreachable',
    });
  });

  it('the tunnel could not be had again -> the failure, nothing sent again', () => {
    const controller = failure('identity-expired', { sessionRefused: true });
    expect(afterFailure(get, controller, { renewal: 'lost' }).decision).toMatchObject({
      kind: 'fail-closed',
      code: 'identity-expired',
    });
  });
});
