/**
 * What real controllers send that the happy-path fake in client.test.ts does not: unset fields as
 * null, empty lists as null, repeated query parameters; and the messages a wrong shape produces.
 */
import { describe, expect, it } from 'vitest';
import { ZitiApiResponseError } from '../errors.ts';
import { ControllerClient } from './client.ts';
import { endpointOf, servicesRequest } from './requests.ts';
import {
  processEnvelope,
  processExternalJwtSignersResponse,
  processServiceEdgeRoutersResponse,
  processServicesResponse,
  processSessionResponse,
} from './responses.ts';

const BASE = 'https://ctrl.example:1280';
const ok = (data: unknown) =>
  new Response(JSON.stringify({ data, meta: {} }), {
    headers: { 'content-type': 'application/json' },
  });
const router = { name: 'er1', supportedProtocols: { wss: 'wss://er1:3023' } };

/** The error a processor throws, or fails the test. */
async function failure(p: Promise<unknown>): Promise<ZitiApiResponseError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ZitiApiResponseError);
  return err as ZitiApiResponseError;
}

describe('requests', () => {
  it('repeats configTypes instead of joining them with commas (§1.7)', () => {
    const url = new URL(
      servicesRequest(BASE, {}, { configTypes: ['intercept.v1', 'host.v1'] }).url,
    );
    expect(url.search).toBe('?limit=100&offset=0&configTypes=intercept.v1&configTypes=host.v1');
  });

  it('names a request by method and path under the client API', () => {
    expect(endpointOf(new Request(`${BASE}/edge/client/v1/external-jwt-signers`))).toBe(
      'GET /external-jwt-signers',
    );
    expect(
      endpointOf(new Request(`${BASE}/zt/edge/client/v1/sessions?x=1`, { method: 'POST' })),
    ).toBe('POST /sessions');
    expect(endpointOf(new Request(`${BASE}/.well-known/est/cacerts`))).toBe(
      'GET /.well-known/est/cacerts',
    );
  });
});

describe('external JWT signers as a real controller lists them (§6.2)', () => {
  it('reads unset optional fields as undefined and a null list as empty', async () => {
    const [s] = await processExternalJwtSignersResponse(
      ok([
        {
          id: 's1',
          name: 'corp',
          externalAuthUrl: null,
          scopes: null,
          audience: 'zt',
          enrollToCertEnabled: false,
          enrollToTokenEnabled: false,
        },
      ]),
      'GET /external-jwt-signers',
    );
    expect(s).toMatchObject({ id: 's1', name: 'corp', scopes: [], audience: 'zt' });
    expect(s!.externalAuthUrl).toBeUndefined();
    expect(s!.clientId).toBeUndefined();
    expect(s).not.toHaveProperty('openIdConfigurationUrl');
    await expect(processExternalJwtSignersResponse(ok(null), 'GET /x')).resolves.toEqual([]);
  });

  it('names the endpoint and the field of a wrong shape', async () => {
    const fetchImpl = async () => ok([{ id: 's1', name: 'corp', clientId: 42 }]);
    const client = new ControllerClient({ baseUrl: BASE, fetch: fetchImpl as typeof fetch });
    const err = await failure(client.externalJwtSigners());
    expect(err.message).toBe('GET /external-jwt-signers: data[0].clientId is not a string');
    expect(err).toMatchObject({
      endpoint: 'GET /external-jwt-signers',
      field: 'data[0].clientId',
      status: 200,
      code: 'ERR_ZITI_API_RESPONSE',
    });
    const at = 'GET /external-jwt-signers';
    expect((await failure(processExternalJwtSignersResponse(ok({}), at))).message).toBe(
      `${at}: data is not a list`,
    );
    expect((await failure(processExternalJwtSignersResponse(ok([{ id: 's1' }]), at))).message).toBe(
      `${at}: data[0].name is not a string`,
    );
    expect(
      (
        await failure(
          processExternalJwtSignersResponse(ok([{ id: 's', name: 'n', scopes: ['a', 1] }]), at),
        )
      ).message,
    ).toBe(`${at}: data[0].scopes[1] is not a string`);
    expect(
      (
        await failure(
          processExternalJwtSignersResponse(ok([{ id: 's', name: 'n', targetToken: 'x' }]), at),
        )
      ).message,
    ).toBe(`${at}: data[0].targetToken is "x", not ACCESS or ID`);
  });
});

describe('edge-router lists (§1.8)', () => {
  it('reads a null list as empty', async () => {
    await expect(
      processServiceEdgeRoutersResponse(ok({ edgeRouters: null }), 'GET /services/s/edge-routers'),
    ).resolves.toEqual([]);
    const session = await processSessionResponse(
      ok({ id: 'x', token: 'ey.t', edgeRouters: null }),
      'POST /sessions',
    );
    expect(session.edgeRouters).toEqual([]);
  });

  it('names the field of a wrong list or router', async () => {
    const at = 'GET /services/s/edge-routers';
    expect(
      (await failure(processServiceEdgeRoutersResponse(ok({ edgeRouters: {} }), at))).message,
    ).toBe(`${at}: data.edgeRouters is not a list`);
    expect(
      (
        await failure(
          processServiceEdgeRoutersResponse(ok({ edgeRouters: [router, { hostname: 'h' }] }), at),
        )
      ).message,
    ).toBe(`${at}: data.edgeRouters[1].name is not a string`);
    expect(
      (await failure(processSessionResponse(ok({ id: 'x', token: '' }), 'POST /sessions'))).message,
    ).toBe('POST /sessions: data.token is empty');
  });
});

describe('other wrong shapes', () => {
  it('names the endpoint for a body that is not an envelope', async () => {
    const html = new Response('<html>', { status: 502 });
    const err = await failure(processEnvelope(html, 'GET /version'));
    expect(err.message).toBe('GET /version: answered 502 with something that is not JSON');
    expect(err.field).toBeUndefined();
    const noData = new Response('{"meta":{}}');
    expect((await failure(processEnvelope(noData, 'GET /v'))).message).toBe(
      'GET /v: data is missing',
    );
  });

  it('checks each service and reads a null config as none', async () => {
    const page = await processServicesResponse(
      ok([{ id: 's1', name: 'a', permissions: ['Dial'], config: null }]),
      'GET /services',
    );
    expect(page.services[0]!.config).toEqual({});
    const err = await failure(
      processServicesResponse(ok([{ id: 's1', name: 'a' }, { id: 's2' }]), 'GET /services'),
    );
    expect(err.message).toBe('GET /services: data[1].name is not a string');
  });
});
