/**
 * Calls from our pages to the service worker with comlink, one fresh MessageChannel per call.
 *
 * Page side: `callWorker(worker).logout()` makes a channel, posts `{ type: RPC_CONNECT, version }`
 * with one port to the worker, and calls the method over the other port with comlink. The answer
 * comes back, or a thrown error arrives as a rejected `WorkerCallError` with the worker's code and
 * message, or after `timeoutMs` the call is rejected with `worker-timeout`: a service worker can be
 * stopped at any moment and a port to it then never answers.
 *
 * Worker side: `exposeWorkerApi(api, port, version)` serves exactly one call on the port and
 * resolves once it is answered (the worker passes that promise to `event.waitUntil`, so the browser
 * keeps it running for the call). Only calls of `WorkerApi`'s methods with plain arguments reach
 * comlink: comlink would otherwise let whoever holds the port read, write and construct along any
 * property path of the exposed object, and any script of the app's origin can post to the worker.
 *
 * The page shim never imports this module (it would pull comlink into every app page).
 */
import { type Endpoint, expose, transferHandlers, wrap } from 'comlink';
import {
  isWorkerApiMethod,
  WORKER_API_METHODS,
  type WorkerApi,
  type WorkerApiMethod,
  WorkerCallError,
} from './api.ts';
import type { RpcConnectMessage } from './messages.ts';
import { PROTOCOL_VERSION, RPC_CONNECT } from './names.ts';

/** How long a page waits for an answer unless told otherwise. */
export const CALL_TIMEOUT_MS = 30_000;
/** How long the worker keeps a connected port open for its call to arrive. */
export const CALL_WAIT_MS = 10_000;

/** What crosses for a thrown error: comlink's shape, with the error's `code`. */
type SerializedThrow =
  | { isError: true; value: { name: string; message: string; code?: string } }
  | { isError: false; value: unknown };

function serializeThrown(value: unknown): SerializedThrow {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return {
      isError: true,
      value: {
        name: value.name,
        message: value.message,
        ...(typeof code === 'string' ? { code } : {}),
      },
    };
  }
  return { isError: false, value };
}

// Errors cross as comlink sends them, plus their code (comlink keeps only name, message and stack).
const builtInThrow = transferHandlers.get('throw');
if (builtInThrow) {
  transferHandlers.set('throw', {
    canHandle: builtInThrow.canHandle,
    serialize: (thrown) => [serializeThrown((thrown as { value: unknown }).value), []],
    deserialize: (serialized) => {
      const s = serialized as SerializedThrow;
      if (s.isError) throw new WorkerCallError(s.value.code ?? 'worker-error', s.value.message);
      throw new WorkerCallError('worker-error', String(s.value));
    },
  });
}

/** Where a page's calls go: its controlling (or registration's active) ServiceWorker. */
export interface WorkerTarget {
  postMessage(message: unknown, transfer: Transferable[]): void;
}

/** The worker's API for this page; every method call goes over its own fresh channel. */
export function callWorker(worker: WorkerTarget, options: { timeoutMs?: number } = {}): WorkerApi {
  const timeoutMs = options.timeoutMs ?? CALL_TIMEOUT_MS;
  const call = (method: WorkerApiMethod, args: unknown[]): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const { port1, port2 } = new MessageChannel();
      const end = () => {
        clearTimeout(timer);
        port1.close();
      };
      const timer = setTimeout(() => {
        end();
        reject(
          new WorkerCallError(
            'worker-timeout',
            `the service worker did not answer within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      const remote = wrap<Record<WorkerApiMethod, (...a: unknown[]) => Promise<unknown>>>(port1);
      try {
        const connect: RpcConnectMessage = { type: RPC_CONNECT, version: PROTOCOL_VERSION };
        worker.postMessage(connect, [port2]);
      } catch (err) {
        end();
        reject(err);
        return;
      }
      remote[method](...args).then(
        (value) => {
          end();
          resolve(value);
        },
        (err: unknown) => {
          end();
          reject(err);
        },
      );
    });
  return Object.fromEntries(
    WORKER_API_METHODS.map((m) => [m, (...args: unknown[]) => call(m, args)]),
  ) as unknown as WorkerApi;
}

/** A comlink message the worker serves: a call of one API method with plain (cloned) arguments. */
function isPlainCall(data: Record<string, unknown>): boolean {
  const { type, path, argumentList } = data;
  return (
    type === 'APPLY' &&
    Array.isArray(path) &&
    path.length === 1 &&
    isWorkerApiMethod(path[0]) &&
    Array.isArray(argumentList) &&
    argumentList.every(
      (a) => typeof a === 'object' && a !== null && (a as { type?: unknown }).type === 'RAW',
    )
  );
}

/** Only the API's methods, on an object with no prototype that cannot be changed. */
function methodsOf(api: WorkerApi): object {
  const methods = Object.create(null) as Record<string, unknown>;
  for (const m of WORKER_API_METHODS)
    methods[m] = (...args: unknown[]) =>
      (api[m] as (...a: unknown[]) => Promise<unknown>).apply(api, args);
  return Object.freeze(methods);
}

const mismatch = (): Promise<never> =>
  Promise.reject(
    new WorkerCallError(
      'protocol-mismatch',
      'This page comes from another version of the app than its service worker: reload the page.',
    ),
  );

/**
 * Serves one call of `api` on `port` (from a `zt/rpc-connect` message with `version`); resolves
 * once it is answered, or after `waitMs` without a call (the port is then closed).
 */
export function exposeWorkerApi(
  api: WorkerApi,
  port: MessagePort,
  version: number,
  options: { waitMs?: number } = {},
): Promise<void> {
  return new Promise((settle) => {
    let done = false;
    const finish = (close: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      port.onmessage = null;
      if (close) port.close();
      settle();
    };
    const timer = setTimeout(() => finish(true), options.waitMs ?? CALL_WAIT_MS);
    let deliver: ((event: MessageEvent) => void) | undefined;
    const endpoint: Endpoint = {
      postMessage(message: unknown, transfer?: Transferable[]) {
        port.postMessage(message, transfer ?? []);
        finish(false);
      },
      addEventListener(_type, listener) {
        deliver = (event) =>
          typeof listener === 'function' ? listener(event) : listener.handleEvent(event);
      },
      removeEventListener() {
        deliver = undefined;
      },
    };
    const target =
      version === PROTOCOL_VERSION
        ? methodsOf(api)
        : Object.freeze(Object.fromEntries(WORKER_API_METHODS.map((m) => [m, mismatch])));
    expose(target, endpoint);
    port.onmessage = (event: MessageEvent) => {
      const data: unknown = event.data;
      if (typeof data !== 'object' || data === null) return;
      const d = data as Record<string, unknown>;
      if (typeof d.id !== 'string') return;
      if (isPlainCall(d)) {
        deliver?.(event);
        return;
      }
      const refused = new WorkerCallError(
        'call-refused',
        'not a call the service worker offers to pages',
      );
      endpoint.postMessage({
        id: d.id,
        type: 'HANDLER',
        name: 'throw',
        value: serializeThrown(refused),
      });
    };
  });
}
