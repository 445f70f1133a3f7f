import { afterEach, describe, expect, it, vi } from 'vitest';
import type { StoredIdentity } from '../../shared/identity/store.ts';
import type { EdgeRouterInfo } from '../../shared/ziti/index.ts';
import { RouterChannels } from './router-channels.ts';

/** Records the URLs the worker tries; every WebSocket fails to open. */
function failingWebSockets(): string[] {
  const tried: string[] = [];
  vi.stubGlobal(
    'WebSocket',
    class extends EventTarget {
      readyState = 0;
      binaryType = 'blob';
      constructor(url: string) {
        super();
        tried.push(url);
        queueMicrotask(() => {
          this.readyState = 3;
          this.dispatchEvent(new Event('error'));
          this.dispatchEvent(new Event('close'));
        });
      }
      close() {}
    },
  );
  return tried;
}

const identity = (devAllowPlainWs?: true) =>
  ({
    config: { controller: 'http://localhost:1280', service: 'demo', devAllowPlainWs },
  }) as unknown as StoredIdentity;

const routers: EdgeRouterInfo[] = [
  { name: 'er1', supportedProtocols: { wss: 'wss://er1:3023', ws: 'ws://er1:3024' } },
  { name: 'er2', supportedProtocols: { ws: 'ws://er2:3024' } },
];

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('RouterChannels protocol choice', () => {
  it('uses only wss URLs unless config.json allows plain ws', async () => {
    const tried = failingWebSockets();
    await expect(new RouterChannels(identity()).channelFor(routers)).rejects.toMatchObject({
      name: 'TunnelError',
      code: 'router-unreachable',
    });
    expect(tried).toEqual(['wss://er1:3023/ws']);
    await expect(new RouterChannels(identity()).channelFor([routers[1]!])).rejects.toMatchObject({
      name: 'TunnelError',
      code: 'no-router',
    });
  });

  it('with devAllowPlainWs, tries plain ws URLs after every wss one', async () => {
    const tried = failingWebSockets();
    await expect(new RouterChannels(identity(true)).channelFor(routers)).rejects.toMatchObject({
      name: 'TunnelError',
      code: 'router-unreachable',
    });
    expect(tried).toEqual(['wss://er1:3023/ws', 'ws://er1:3024/ws', 'ws://er2:3024/ws']);
  });
});
