/**
 * A minimal DevTools protocol client for a browser target (Chromium started with
 * `--remote-debugging-port`), and the targets the benchmarks attach to: the service worker, and the
 * browser itself (to catch a worker as it starts).
 */
import WebSocket from 'ws';

export interface DevTools {
  /** `sessionId`: a target attached through this connection (flat sessions). */
  send<T>(method: string, params?: object, sessionId?: string): Promise<T>;
  /** Every event of this connection, with the session it came from. */
  onEvent(listener: (method: string, params: unknown, sessionId?: string) => void): void;
  close(): void;
}

interface Message {
  id?: number;
  method?: string;
  params?: unknown;
  sessionId?: string;
  result?: unknown;
  error?: unknown;
}

/** Connects to one target's `webSocketDebuggerUrl`. */
export async function devtools(url: string): Promise<DevTools> {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1 << 30 });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let id = 0;
  const waiting = new Map<number, (r: Message) => void>();
  const listeners: ((method: string, params: unknown, sessionId?: string) => void)[] = [];
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as Message;
    if (msg.id !== undefined) waiting.get(msg.id)?.(msg);
    else if (msg.method) for (const l of listeners) l(msg.method, msg.params, msg.sessionId);
  });
  return {
    async send<T>(method: string, params: object = {}, sessionId?: string): Promise<T> {
      const msgId = ++id;
      const reply = await new Promise<Message>((resolve) => {
        waiting.set(msgId, resolve);
        ws.send(JSON.stringify({ id: msgId, method, params, ...(sessionId ? { sessionId } : {}) }));
      });
      waiting.delete(msgId);
      if (reply.error) throw new Error(`${method}: ${JSON.stringify(reply.error)}`);
      return reply.result as T;
    },
    onEvent: (listener) => void listeners.push(listener),
    close: () => ws.close(),
  };
}

/** The service worker's target of the browser listening on `port` (there must be exactly one). */
export async function serviceWorkerTarget(port: number): Promise<DevTools> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as {
    type: string;
    webSocketDebuggerUrl: string;
  }[];
  const sw = targets.filter((t) => t.type === 'service_worker');
  if (sw.length !== 1) throw new Error(`expected one service worker target, found ${sw.length}`);
  return devtools(sw[0]!.webSocketDebuggerUrl);
}

/** The browser target of the browser listening on `port`. */
export async function browserTarget(port: number): Promise<DevTools> {
  const version = (await (await fetch(`http://127.0.0.1:${port}/json/version`)).json()) as {
    webSocketDebuggerUrl: string;
  };
  return devtools(version.webSocketDebuggerUrl);
}
