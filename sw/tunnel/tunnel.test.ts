import { afterEach, describe, expect, it, vi } from 'vitest';
import type { StoredIdentity } from '../../shared/identity/store.ts';
import type { EdgeRouterInfo, ZitiService, ZitiSession } from '../../shared/ziti/index.ts';
import { TunnelError } from './errors.ts';
import { FactKeeper, type FactRows, KEPT_FACTS_KEY } from './kept-facts.ts';

const channelFor = vi.fn<(routers: readonly EdgeRouterInfo[]) => Promise<object>>();
vi.mock('./router-channels.ts', () => ({
  RouterChannels: class {
    channelFor = channelFor;
    withChannel = async (routers: readonly EdgeRouterInfo[], use: (c: object) => unknown) =>
      use(await channelFor(routers));
    hostOf = () => 'er';
    updateIdentity() {}
    async closeAll() {}
  },
}));
vi.mock('../../shared/ziti/index.ts', async (original) => ({
  ...(await original<typeof import('../../shared/ziti/index.ts')>()),
  dialService: vi.fn(async () => ({
    readable: new ReadableStream(),
    writable: new WritableStream(),
    closed: new Promise(() => {}),
    close: async () => {},
  })),
}));
vi.mock('./traffic.ts', () => ({ traffic: { circuitOpened() {}, request() {} } }));

const { Tunnel } = await import('./tunnel.ts');

const identity = {
  controller: 'https://ctrl.example',
  config: { controller: 'https://ctrl.example', service: 'app' },
  apiSession: { token: 't', id: 'api-1', identityId: 'i', identityName: 'alice' },
  caBundle: [],
  certificates: [],
} as unknown as StoredIdentity;

const router = (name: string): EdgeRouterInfo => ({
  name,
  supportedProtocols: { wss: `wss://${name}:443` },
});
const service: ZitiService = {
  id: 'svc-app',
  name: 'app',
  permissions: ['Dial'],
  encryptionRequired: true,
  config: {},
};
const session = (
  id: string,
  serviceId = 'svc-app',
  routers = [router('er-kept')],
): ZitiSession => ({
  id,
  token: `token-${id}`,
  type: 'Dial',
  serviceId,
  edgeRouters: routers,
});

const rowsOf = () => {
  const map = new Map<string, unknown>();
  const rows: FactRows = {
    get: async (k) => map.get(k),
    set: async (k, v) => {
      map.set(k, v);
    },
    del: async (k) => {
      map.delete(k);
    },
  };
  return { map, rows };
};

/** A tunnel whose controller lists `service` and creates `created` on request. */
const tunnelWith = (keptSessions: Record<string, ZitiSession>, created = session('new')) => {
  const { map, rows } = rowsOf();
  const tunnel = new Tunnel(identity, { keptSessions, keeper: new FactKeeper(rows, identity) });
  const calls = {
    services: vi.spyOn(tunnel.controller, 'services').mockResolvedValue([service]),
    create: vi.spyOn(tunnel.controller, 'createSession').mockResolvedValue(created),
    remove: vi.spyOn(tunnel.controller, 'deleteSession').mockResolvedValue(undefined as never),
  };
  return { tunnel, calls, map };
};

afterEach(() => {
  channelFor.mockReset();
});

describe('Tunnel: Dial sessions kept by an earlier start', () => {
  it('dials with the kept session of the listed service: no controller round trip for it', async () => {
    channelFor.mockResolvedValue({});
    const { tunnel, calls } = tunnelWith({ app: session('kept') });
    await tunnel.dial('app', { host: 'app', port: 80 });
    expect(calls.create).not.toHaveBeenCalled();
    expect(channelFor).toHaveBeenCalledWith([router('er-kept')]);
  });

  it('prepare opens the kept session routers channel and reads the services at once', () => {
    channelFor.mockResolvedValue({});
    const { tunnel, calls } = tunnelWith({ app: session('kept') });
    tunnel.prepare('app');
    expect(channelFor).toHaveBeenCalledWith([router('er-kept')]);
    expect(calls.services).toHaveBeenCalledTimes(1);
  });

  it('prepare without a kept session opens the channel to the routers enrollment found, beside creating the session', async () => {
    let opened = false;
    channelFor.mockImplementation(async () => {
      opened = true;
      return {};
    });
    const { rows } = rowsOf();
    const enrolled = { ...identity, routers: [router('er-enrolled')] };
    const tunnel = new Tunnel(enrolled, { keeper: new FactKeeper(rows, enrolled) });
    vi.spyOn(tunnel.controller, 'services').mockResolvedValue([service]);
    let openedBeforeSession: boolean | undefined;
    vi.spyOn(tunnel.controller, 'createSession').mockImplementation(async () => {
      openedBeforeSession = opened;
      return session('new', 'svc-app', [router('er-enrolled')]);
    });
    tunnel.prepare('app');
    expect(channelFor).toHaveBeenCalledWith([router('er-enrolled')]);
    await tunnel.dial('app', { host: 'app', port: 80 });
    expect(openedBeforeSession).toBe(true);
  });

  it('ignores a kept session for another service id than the controller lists', async () => {
    channelFor.mockResolvedValue({});
    const { tunnel, calls } = tunnelWith({ app: session('kept', 'svc-other') });
    await tunnel.dial('app', { host: 'app', port: 80 });
    expect(calls.create).toHaveBeenCalledWith('svc-app', 'Dial');
    expect(channelFor).toHaveBeenCalledWith([router('er-kept')]);
  });

  it('replaces a kept session whose routers cannot be reached, and keeps the new one', async () => {
    channelFor
      .mockRejectedValueOnce(new TunnelError('router-unreachable', 'gone'))
      .mockResolvedValue({});
    const created = session('new', 'svc-app', [router('er-new')]);
    const { tunnel, calls, map } = tunnelWith({ app: session('kept') }, created);
    await tunnel.dial('app', { host: 'app', port: 80 });
    expect(calls.remove).toHaveBeenCalledWith('kept');
    expect(channelFor).toHaveBeenLastCalledWith([router('er-new')]);
    await vi.waitFor(() =>
      expect(map.get(KEPT_FACTS_KEY)).toMatchObject({ sessions: { app: { id: 'new' } } }),
    );
  });

  it('does not replace a created session on a router failure (as before)', async () => {
    channelFor.mockRejectedValue(new TunnelError('router-unreachable', 'gone'));
    const { tunnel, calls } = tunnelWith({});
    await expect(tunnel.dial('app', { host: 'app', port: 80 })).rejects.toThrow('gone');
    expect(calls.create).toHaveBeenCalledTimes(1);
    expect(calls.remove).not.toHaveBeenCalled();
  });
});

describe('Tunnel.services', () => {
  it('answers from the index it has when it is old, and re-reads it in the background', async () => {
    const now = vi.spyOn(Date, 'now').mockReturnValue(1_000_000);
    try {
      const { tunnel, calls } = tunnelWith({});
      const first = await tunnel.services();
      now.mockReturnValue(1_000_000 + 6 * 60_000);
      let answer!: (list: ZitiService[]) => void;
      calls.services.mockReturnValueOnce(new Promise((r) => (answer = r)));
      expect(await tunnel.services()).toBe(first);
      expect(calls.services).toHaveBeenCalledTimes(2);
      answer([{ ...service, id: 'svc-app-2' }]);
      await vi.waitFor(async () =>
        expect((await tunnel.services()).byName.get('app')?.id).toBe('svc-app-2'),
      );
      expect(calls.services).toHaveBeenCalledTimes(2);
    } finally {
      now.mockRestore();
    }
  });
});
