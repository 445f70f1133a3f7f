import { describe, expect, it } from 'vitest';
import { rankEdgeRouters, routerWebSocketUrl } from './pick-router.ts';
import type { EdgeRouterInfo } from './types.ts';

describe('routerWebSocketUrl', () => {
  it('opens /ws on a wss URL', () => {
    expect(routerWebSocketUrl('wss://er1:3023')).toBe('wss://er1:3023/ws');
    expect(routerWebSocketUrl('wss://er1:3023/ws', true)).toBe('wss://er1:3023/ws');
  });

  it('refuses a plain ws URL unless allowed (the dev fabric only)', () => {
    expect(() => routerWebSocketUrl('ws://er1:3024')).toThrow(/wss only/);
    expect(routerWebSocketUrl('ws://localhost:3024', true)).toBe('ws://localhost:3024/ws');
  });

  it('refuses other schemes', () => {
    expect(() => routerWebSocketUrl('tls://er1:3022', true)).toThrow(/wss only/);
    expect(() => routerWebSocketUrl('https://er1:443', true)).toThrow(/wss only/);
  });

  it('ranks only routers that offer the protocol', () => {
    const routers: EdgeRouterInfo[] = [
      { name: 'dev', hostname: 'a', supportedProtocols: { ws: 'ws://a:3024' } },
      {
        name: 'real',
        hostname: 'b',
        supportedProtocols: { wss: 'wss://b:3023', tls: 'tls://b:1' },
      },
    ];
    expect(rankEdgeRouters(routers, 'wss').map((r) => r.url)).toEqual(['wss://b:3023']);
    expect(rankEdgeRouters(routers, 'ws').map((r) => r.url)).toEqual(['ws://a:3024']);
  });
});
