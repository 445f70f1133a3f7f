import { describe, expect, it } from 'vitest';
import {
  type DialableService,
  decideRoute,
  matchAddress,
  type RouteContext,
} from './route-decision.ts';

const svc = (
  name: string,
  addresses: string[],
  portRanges = [{ low: 80, high: 443 }],
  protocols = ['tcp'],
): DialableService => ({
  name,
  intercept: { addresses, portRanges, protocols },
});

const ctx: RouteContext = {
  publicOrigin: 'https://chat.example.com',
  appService: 'mattermost',
  intercepts: [
    svc('files', ['files.corp.internal']),
    svc(
      'wild',
      ['*.corp.internal'],
      [
        { low: 8000, high: 8100 },
        { low: 443, high: 443 },
      ],
    ),
    svc('deep', ['*.eu.corp.internal'], [{ low: 443, high: 443 }]),
    svc('net10', ['10.0.0.0/8'], [{ low: 1, high: 65535 }]),
    svc('host10', ['10.1.2.3'], [{ low: 443, high: 443 }]),
    svc('udp-only', ['dns.corp.internal'], [{ low: 1, high: 65535 }], ['udp']),
    svc('v6', ['fd00::/8', '2001:db8::1'], [{ low: 80, high: 80 }]),
  ],
};

describe('decideRoute', () => {
  it("carries config.json's extraIntercepts over the app's service, with or without a port", () => {
    const extra = { ...ctx, extraIntercepts: ['cdn.corp.example:8443', '*.assets.example'] };
    expect(decideRoute('https://cdn.corp.example:8443/a.js', extra)).toEqual({
      kind: 'tunnel',
      service: 'mattermost',
      host: 'cdn.corp.example',
      port: 8443,
    });
    expect(decideRoute('https://cdn.corp.example/a.js', extra)).toEqual({ kind: 'network' });
    expect(decideRoute('http://img.assets.example:81/x', extra)).toMatchObject({
      kind: 'tunnel',
      service: 'mattermost',
      port: 81,
    });
    expect(decideRoute('http://assets.example/x', extra)).toEqual({ kind: 'network' });
  });

  it('tunnels the app origin, every path and method-agnostic', () => {
    expect(decideRoute('https://chat.example.com/', ctx)).toEqual({
      kind: 'tunnel',
      service: 'mattermost',
      host: 'chat.example.com',
      port: 443,
    });
    expect(decideRoute('https://chat.example.com/api/v4/users/me?x=1#h', ctx)).toMatchObject({
      kind: 'tunnel',
      service: 'mattermost',
    });
    expect(decideRoute('https://chat.example.com/__ztx', ctx)).toMatchObject({ kind: 'tunnel' });
    expect(decideRoute('https://chat.example.com/sw.js.map', ctx)).toMatchObject({
      kind: 'tunnel',
    });
    expect(decideRoute('https://chat.example.com/sub/sw.js', ctx)).toMatchObject({
      kind: 'tunnel',
    });
  });

  it('keeps /__zt/* and /sw.js for ourselves', () => {
    expect(decideRoute('https://chat.example.com/__zt/shim.js', ctx)).toEqual({ kind: 'own' });
    expect(decideRoute('https://chat.example.com/__zt/', ctx)).toEqual({ kind: 'own' });
    expect(decideRoute('https://chat.example.com/sw.js', ctx)).toEqual({ kind: 'own' });
    expect(decideRoute('https://chat.example.com/sw.js?v=2', ctx)).toEqual({ kind: 'own' });
  });

  it('treats another port or scheme of the same host as a different origin', () => {
    expect(decideRoute('http://chat.example.com/', ctx)).toEqual({ kind: 'network' });
    expect(decideRoute('https://chat.example.com:8443/', ctx)).toEqual({ kind: 'network' });
    expect(decideRoute('https://CHAT.example.com:443/x', ctx)).toMatchObject({
      kind: 'tunnel',
      service: 'mattermost',
    });
  });

  it('works with a localhost dev origin and explicit port', () => {
    const dev = { ...ctx, publicOrigin: 'http://localhost:8080' };
    expect(decideRoute('http://localhost:8080/x', dev)).toEqual({
      kind: 'tunnel',
      service: 'mattermost',
      host: 'localhost',
      port: 8080,
    });
    expect(decideRoute('http://localhost:8081/x', dev)).toEqual({ kind: 'network' });
  });

  it('matches intercept hostnames exactly, case-insensitively, with the port range', () => {
    expect(decideRoute('https://files.corp.internal/a', ctx)).toEqual({
      kind: 'tunnel',
      service: 'files',
      host: 'files.corp.internal',
      port: 443,
    });
    expect(decideRoute('http://FILES.corp.internal./a', ctx)).toMatchObject({
      service: 'files',
      port: 80,
    });
    expect(decideRoute('https://files.corp.internal:444/', ctx)).toEqual({ kind: 'network' });
  });

  it('matches wildcards on subdomains at any depth, not the bare domain, most specific first', () => {
    expect(decideRoute('https://a.corp.internal/', ctx)).toMatchObject({
      kind: 'tunnel',
      service: 'wild',
    });
    expect(decideRoute('http://a.b.corp.internal:8080/', ctx)).toMatchObject({
      kind: 'tunnel',
      service: 'wild',
      port: 8080,
    });
    expect(decideRoute('https://corp.internal/', ctx)).toEqual({ kind: 'network' });
    expect(decideRoute('https://xcorp.internal/', ctx)).toEqual({ kind: 'network' });
    expect(decideRoute('https://x.eu.corp.internal/', ctx)).toMatchObject({ service: 'deep' });
    // Exact name beats the wildcard on the same port.
    expect(decideRoute('https://files.corp.internal/', ctx)).toMatchObject({ service: 'files' });
    // Outside the wildcard's ports.
    expect(decideRoute('http://a.corp.internal:9000/', ctx)).toEqual({ kind: 'network' });
  });

  it('matches IPv4 CIDRs and literals, exact address winning', () => {
    expect(decideRoute('http://10.20.30.40:3000/', ctx)).toEqual({
      kind: 'tunnel',
      service: 'net10',
      host: '10.20.30.40',
      port: 3000,
    });
    expect(decideRoute('https://10.1.2.3/', ctx)).toMatchObject({ service: 'host10' });
    expect(decideRoute('http://10.1.2.3/', ctx)).toMatchObject({ service: 'net10' });
    expect(decideRoute('http://11.0.0.1/', ctx)).toEqual({ kind: 'network' });
  });

  it('matches IPv6 literals and CIDRs', () => {
    expect(decideRoute('http://[fd12:3456::1]/', ctx)).toEqual({
      kind: 'tunnel',
      service: 'v6',
      host: 'fd12:3456::1',
      port: 80,
    });
    expect(decideRoute('http://[2001:db8::1]/', ctx)).toMatchObject({ service: 'v6' });
    expect(decideRoute('http://[2001:db8::2]/', ctx)).toEqual({ kind: 'network' });
    expect(decideRoute('http://[fe80::1]/', ctx)).toEqual({ kind: 'network' });
  });

  it('ignores services without tcp, and non-http schemes', () => {
    expect(decideRoute('https://dns.corp.internal/', ctx)).toMatchObject({ service: 'wild' });
    expect(decideRoute('http://dns.corp.internal:53/', ctx)).toEqual({ kind: 'network' });
    expect(decideRoute('data:text/plain,hi', ctx)).toEqual({ kind: 'network' });
    expect(decideRoute('blob:https://chat.example.com/1234', ctx)).toEqual({ kind: 'network' });
  });

  it('routes WebSocket URLs by intercept (app-origin WebSockets come through the page shim)', () => {
    expect(decideRoute('wss://a.corp.internal/socket', ctx)).toMatchObject({
      kind: 'tunnel',
      service: 'wild',
      port: 443,
    });
  });

  it('sends everything else to the network (IdP, controller, CDNs)', () => {
    expect(decideRoute('https://idp.example.com/authorize', ctx)).toEqual({ kind: 'network' });
    expect(decideRoute('https://example.com/', ctx)).toEqual({ kind: 'network' });
  });
});

describe('matchAddress', () => {
  it('handles CIDR edge cases', () => {
    expect(matchAddress('0.0.0.0/0', '8.8.8.8')).toBeGreaterThan(0);
    expect(matchAddress('192.168.1.0/24', '192.168.1.255')).toBeGreaterThan(0);
    expect(matchAddress('192.168.1.0/24', '192.168.2.0')).toBe(0);
    expect(matchAddress('192.168.1.7/32', '192.168.1.7')).toBeGreaterThan(0);
    expect(matchAddress('192.168.1.0/33', '192.168.1.7')).toBe(0);
    expect(matchAddress('10.0.0.0/8', 'ten.example')).toBe(0);
    expect(matchAddress('10.0.0.0/8', '::ffff:10.0.0.1')).toBe(0);
    expect(matchAddress('::ffff:10.0.0.0/104', '::ffff:10.9.9.9')).toBeGreaterThan(0);
    expect(matchAddress('256.0.0.0/8', '1.1.1.1')).toBe(0);
    expect(matchAddress('1.2.3.4', '1.2.3.4')).toBeGreaterThan(
      matchAddress('1.2.3.0/24', '1.2.3.4'),
    );
    expect(matchAddress('1.2.3.0/24', '1.2.3.4')).toBeGreaterThan(
      matchAddress('1.2.0.0/16', '1.2.3.4'),
    );
    expect(matchAddress('*.a.b', 'x.a.b')).toBeGreaterThan(matchAddress('*.b', 'x.a.b'));
  });
});
