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
});
