import { describe, expect, it } from 'vitest';
import { config, publicOrigin, routes } from './_test/routes.ts';
import { pendingRoute } from './pending-route.ts';

const dark = new URL('https://files.corp.example/a');
const named = new URL('https://cdn.corp.example/lib.js');
const open = new URL('https://fonts.example.org/font.woff2');

describe('pendingRoute: a request of another origin before the worker has its routes', () => {
  it('with the routes: dark hosts over their service, config.json hosts over the app, others out', () => {
    expect(pendingRoute(dark, { publicOrigin, routes, signedIn: true })).toEqual({
      kind: 'tunnel',
      service: 'files',
      host: 'files.corp.example',
      port: 443,
    });
    expect(pendingRoute(named, { publicOrigin, routes, signedIn: true })).toMatchObject({
      kind: 'tunnel',
      service: 'chat',
    });
    expect(pendingRoute(open, { publicOrigin, routes, signedIn: true })).toEqual({
      kind: 'network',
    });
  });

  it('signed in but the controller cannot be asked: every such request fails closed', () => {
    for (const url of [dark, named, open]) {
      expect(pendingRoute(url, { publicOrigin, signedIn: true, config })).toMatchObject({
        kind: 'fail',
        failure: 'routes-unknown',
      });
    }
  });

  it('nobody signed in: hosts config.json names fail closed, the rest goes out', () => {
    expect(pendingRoute(named, { publicOrigin, signedIn: false, config })).toMatchObject({
      kind: 'fail',
      failure: 'no-identity',
    });
    expect(pendingRoute(dark, { publicOrigin, signedIn: false, config })).toEqual({
      kind: 'network',
    });
  });

  it('nobody signed in and no config.json to ask: fails closed', () => {
    expect(pendingRoute(open, { publicOrigin, signedIn: false })).toMatchObject({
      kind: 'fail',
      failure: 'routes-unknown',
    });
  });
});
