import { describe, expect, it } from 'vitest';
import {
  cookieSnapshotPrelude,
  isCookieBridgeRequest,
  isCookieUpdate,
  isKeepAliveMessage,
  isRpcConnectMessage,
  isUploadId,
  isUploadProgressMessage,
  isWebSocketConnectMessage,
  routesPrelude,
} from './messages.ts';
import {
  CHANNEL_NAMES,
  COOKIE_GET,
  COOKIE_SET,
  COOKIE_SNAPSHOT_GLOBAL,
  COOKIE_UPDATE,
  MESSAGE_TYPES,
  PAGE_GLOBALS,
  PROTOCOL_VERSION,
  ROUTES_GLOBAL,
  RPC_CONNECT,
  UPLOAD_ID_HEADER,
  WEBSOCKET_CONNECT,
  WORKER_KEEPALIVE,
} from './names.ts';

describe('names', () => {
  it('every message type and channel name is unique and reads zt/<noun>[-<verb>]', () => {
    const all = [...MESSAGE_TYPES, ...CHANNEL_NAMES];
    expect(new Set(all).size).toBe(all.length);
    for (const name of all) expect(name).toMatch(/^zt\/[a-z]+(-[a-z]+)*$/);
  });

  it('page globals are distinct identifiers, the header a lower-case field name', () => {
    expect(new Set(PAGE_GLOBALS).size).toBe(PAGE_GLOBALS.length);
    for (const g of PAGE_GLOBALS) expect(g).toMatch(/^__zt[A-Za-z]+$/);
    expect(UPLOAD_ID_HEADER).toMatch(/^x-zt-[a-z-]+$/);
  });
});

describe('guards', () => {
  it('each connect or keep-alive guard accepts its own message and no other', () => {
    const messages = {
      rpc: { type: RPC_CONNECT, version: PROTOCOL_VERSION },
      socket: { type: WEBSOCKET_CONNECT },
      keepAlive: { type: WORKER_KEEPALIVE },
    };
    const guards = {
      rpc: isRpcConnectMessage,
      socket: isWebSocketConnectMessage,
      keepAlive: isKeepAliveMessage,
    };
    for (const [name, guard] of Object.entries(guards)) {
      for (const [other, message] of Object.entries(messages))
        expect(guard(message), `${name} on ${other}`).toBe(name === other);
      expect(guard(null)).toBe(false);
      expect(guard(RPC_CONNECT)).toBe(false);
      expect(guard({ type: 'zt-keepalive' })).toBe(false);
    }
    expect(isRpcConnectMessage({ type: RPC_CONNECT })).toBe(false);
  });

  it('cookie requests and updates need their fields', () => {
    expect(isCookieBridgeRequest({ type: COOKIE_SET, url: 'https://a/', cookie: 'x=1' })).toBe(
      true,
    );
    expect(isCookieBridgeRequest({ type: COOKIE_SET, url: 'https://a/' })).toBe(false);
    expect(isCookieBridgeRequest({ type: COOKIE_GET, url: 'https://a/' })).toBe(true);
    expect(isCookieBridgeRequest({ type: COOKIE_GET })).toBe(false);
    expect(isCookieBridgeRequest({ type: COOKIE_UPDATE, url: 'https://a/', cookie: '' })).toBe(
      false,
    );
    expect(isCookieBridgeRequest(null)).toBe(false);
    expect(isCookieUpdate({ type: COOKIE_UPDATE, url: 'https://a/', cookie: '' })).toBe(true);
    expect(isCookieUpdate({ type: COOKIE_UPDATE, url: 'https://a/' })).toBe(false);
    expect(isCookieUpdate({ type: COOKIE_UPDATE, url: 'https://a/', cookie: '', expires: 5 })).toBe(
      true,
    );
    expect(
      isCookieUpdate({ type: COOKIE_UPDATE, url: 'https://a/', cookie: '', expires: '5' }),
    ).toBe(false);
    expect(
      isCookieUpdate({ type: COOKIE_UPDATE, url: 'https://a/', cookie: '', expires: Number.NaN }),
    ).toBe(false);
    expect(isCookieUpdate({ type: COOKIE_SET, url: 'https://a/', cookie: '' })).toBe(false);
  });

  it('upload ids and progress reports', () => {
    expect(isUploadId(crypto.randomUUID())).toBe(true);
    expect(isUploadId('bad id!')).toBe(false);
    expect(isUploadId('')).toBe(false);
    expect(isUploadId('a'.repeat(65))).toBe(false);
    expect(isUploadProgressMessage({ id: 'u', loaded: 1, total: 2, done: false })).toBe(true);
    expect(isUploadProgressMessage({ id: 'u', loaded: 1, total: 2 })).toBe(false);
  });
});

describe('preludes', () => {
  it('set exactly the value on the page global, whatever it holds', () => {
    const tricky = 'a="</script>\\u2028"; b=\n';
    const g: Record<string, unknown> = {};
    new Function('self', cookieSnapshotPrelude(tricky) + routesPrelude(undefined))(g);
    expect(g[COOKIE_SNAPSHOT_GLOBAL]).toBe(tricky);
    expect(g[ROUTES_GLOBAL]).toBeNull();
    const routes = { publicOrigin: 'https://a.test', appService: 'app', intercepts: [] };
    new Function('self', routesPrelude(routes))(g);
    expect(g[ROUTES_GLOBAL]).toEqual(routes);
  });
});
