import { describe, expect, it } from 'vitest';
import { ControllerClient } from '../shared/ziti/controller/client.ts';
import type { ZitiService } from '../shared/ziti/controller/types.ts';
import { AccessError, requireOnlineRouter } from './enrollment.ts';

describe('requireOnlineRouter', () => {
  it('reports "no router" for the null list a real controller sends (§1.8)', async () => {
    const fetchImpl = async () => Response.json({ data: { edgeRouters: null }, meta: {} });
    const client = new ControllerClient({
      baseUrl: 'https://ctrl.example',
      fetch: fetchImpl as typeof fetch,
      sessionToken: 't',
    });
    const service = { id: 's1', name: 'chat' } as ZitiService;
    const err = await requireOnlineRouter(client, service).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AccessError);
    expect(err).toMatchObject({ code: 'ERR_NO_ROUTER' });
  });

  it('returns the online routers a browser can reach, for the worker to connect to early', async () => {
    const edgeRouters = [
      { name: 'er-wss', isOnline: true, supportedProtocols: { wss: 'wss://er-wss:443' } },
      { name: 'er-down', isOnline: false, supportedProtocols: { wss: 'wss://er-down:443' } },
      { name: 'er-tls-only', isOnline: true, supportedProtocols: { tls: 'tls://er:3022' } },
    ];
    const fetchImpl = async () => Response.json({ data: { edgeRouters }, meta: {} });
    const client = new ControllerClient({
      baseUrl: 'https://ctrl.example',
      fetch: fetchImpl as typeof fetch,
      sessionToken: 't',
    });
    const routers = await requireOnlineRouter(client, { id: 's1', name: 'chat' } as ZitiService);
    expect(routers.map((r) => r.name)).toEqual(['er-wss']);
  });
});
