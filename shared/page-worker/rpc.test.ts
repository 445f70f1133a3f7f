import { afterEach, describe, expect, it } from 'vitest';
import type { StatusSnapshot } from '../status/protocol.ts';
import { type HttpAuthCredentials, type WorkerApi, WorkerCallError } from './api.ts';
import { isRpcConnectMessage } from './messages.ts';
import { PROTOCOL_VERSION, RPC_CONNECT } from './names.ts';
import { callWorker, exposeWorkerApi, type WorkerTarget } from './rpc.ts';

class CodedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'CodedError';
  }
}

/** A worker API that records its calls. */
function recordingApi() {
  const calls: unknown[][] = [];
  const api: WorkerApi = {
    claim: async () => {
      calls.push(['claim']);
    },
    identityChanged: async () => {
      calls.push(['identityChanged']);
    },
    logout: async () => {
      throw new CodedError('ERR_ZITI_CONTROLLER_UNREACHABLE', 'the controller did not answer');
    },
    status: async (op) => {
      calls.push(['status', op]);
      return { at: 42, online: true } as StatusSnapshot;
    },
    httpAuthSignIn: async (c: HttpAuthCredentials) => {
      calls.push(['httpAuthSignIn', c]);
      throw new WorkerCallError('not-app-address', 'not an address of the app');
    },
  };
  return { api, calls };
}

const served: Promise<void>[] = [];
const openPorts: MessagePort[] = [];
afterEach(async () => {
  await Promise.all(served.splice(0));
  for (const p of openPorts.splice(0)) p.close();
});

/** Stands in for a ServiceWorker: serves each connect as sw.ts does. */
function workerServing(api: WorkerApi): WorkerTarget {
  return {
    postMessage(message, transfer) {
      const port = transfer[0] as MessagePort;
      if (isRpcConnectMessage(message)) served.push(exposeWorkerApi(api, port, message.version));
    },
  };
}

describe('callWorker over a MessageChannel', () => {
  it('answers calls, each on a fresh channel, with their arguments and results', async () => {
    const { api, calls } = recordingApi();
    const posted: unknown[] = [];
    const serving = workerServing(api);
    const worker = callWorker({
      postMessage(m, t) {
        posted.push(m);
        serving.postMessage(m, t);
      },
    });
    await expect(worker.claim()).resolves.toBeUndefined();
    await expect(worker.status('reconnect')).resolves.toEqual({ at: 42, online: true });
    expect(calls).toEqual([['claim'], ['status', 'reconnect']]);
    expect(posted).toEqual([
      { type: RPC_CONNECT, version: PROTOCOL_VERSION },
      { type: RPC_CONNECT, version: PROTOCOL_VERSION },
    ]);
  });

  it('a thrown error arrives rejected, with its code and message', async () => {
    const { api } = recordingApi();
    const worker = callWorker(workerServing(api));
    const credentials = { url: 'https://elsewhere.test/', realm: 'r', user: 'u', password: 'p' };
    const refused = await worker.httpAuthSignIn(credentials).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(WorkerCallError);
    expect(refused).toMatchObject({
      code: 'not-app-address',
      message: 'not an address of the app',
    });
    // Another error class keeps its code too.
    await expect(worker.logout()).rejects.toMatchObject({
      code: 'ERR_ZITI_CONTROLLER_UNREACHABLE',
      message: 'the controller did not answer',
    });
  });

  it('a worker that never answers: the call fails with worker-timeout instead of hanging', async () => {
    const silent: WorkerTarget = {
      postMessage(_m, transfer) {
        openPorts.push(transfer[0] as MessagePort);
      },
    };
    const err = await callWorker(silent, { timeoutMs: 50 })
      .identityChanged()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerCallError);
    expect(err).toMatchObject({
      code: 'worker-timeout',
      message: 'the service worker did not answer within 50 ms',
    });
  });

  it('a page of another build is told to reload, and nothing is called', async () => {
    const { api, calls } = recordingApi();
    const oldWorker: WorkerTarget = {
      postMessage(_m, transfer) {
        served.push(exposeWorkerApi(api, transfer[0] as MessagePort, PROTOCOL_VERSION + 1));
      },
    };
    await expect(callWorker(oldWorker).claim()).rejects.toMatchObject({
      code: 'protocol-mismatch',
      message: expect.stringContaining('reload the page'),
    });
    expect(calls).toEqual([]);
  });
});

describe('exposeWorkerApi', () => {
  /** Sends one raw comlink message on a served port and returns the answer. */
  async function rawCall(api: WorkerApi, message: Record<string, unknown>) {
    const { port1, port2 } = new MessageChannel();
    openPorts.push(port1);
    served.push(exposeWorkerApi(api, port2, PROTOCOL_VERSION));
    const answer = new Promise<Record<string, unknown>>((resolve) => {
      port1.onmessage = (e: MessageEvent) => resolve(e.data as Record<string, unknown>);
    });
    port1.postMessage({ id: 'c1', ...message });
    return answer;
  }

  const refused = {
    id: 'c1',
    type: 'HANDLER',
    name: 'throw',
    value: { isError: true, value: expect.objectContaining({ code: 'call-refused' }) },
  };

  it('refuses everything but a call of an API method with plain arguments', async () => {
    const { api, calls } = recordingApi();
    // Reading along a property path reaches Function through any method.
    expect(await rawCall(api, { type: 'GET', path: ['status', 'constructor'] })).toEqual(refused);
    expect(
      await rawCall(api, {
        type: 'CONSTRUCT',
        path: ['claim', 'constructor'],
        argumentList: [{ type: 'RAW', value: 'return 1' }],
      }),
    ).toEqual(refused);
    expect(
      await rawCall(api, {
        type: 'SET',
        path: ['httpAuthSignIn'],
        value: { type: 'RAW', value: 1 },
      }),
    ).toEqual(refused);
    expect(await rawCall(api, { type: 'APPLY', path: ['toString'], argumentList: [] })).toEqual(
      refused,
    );
    // An argument that is a proxy back to the page.
    expect(
      await rawCall(api, {
        type: 'APPLY',
        path: ['status'],
        argumentList: [{ type: 'HANDLER', name: 'proxy', value: null }],
      }),
    ).toEqual(refused);
    expect(calls).toEqual([]);
    // The exposed methods are untouched: a real call still works.
    expect(
      await rawCall(api, {
        type: 'APPLY',
        path: ['status'],
        argumentList: [{ type: 'RAW', value: 'snapshot' }],
      }),
    ).toEqual({ id: 'c1', type: 'RAW', value: { at: 42, online: true } });
    expect(calls).toEqual([['status', 'snapshot']]);
  });

  it('resolves once its call is answered, or after the wait without a call', async () => {
    const { api } = recordingApi();
    const { port1, port2 } = new MessageChannel();
    openPorts.push(port1);
    let settled = false;
    const session = exposeWorkerApi(api, port2, PROTOCOL_VERSION, { waitMs: 60_000 }).then(() => {
      settled = true;
    });
    const answered = new Promise((resolve) => {
      port1.onmessage = resolve;
    });
    expect(settled).toBe(false);
    port1.postMessage({ id: 'c1', type: 'APPLY', path: ['claim'], argumentList: [] });
    await answered;
    await session;
    expect(settled).toBe(true);

    const idle = new MessageChannel();
    openPorts.push(idle.port1);
    await exposeWorkerApi(api, idle.port2, PROTOCOL_VERSION, { waitMs: 10 });
  });
});
