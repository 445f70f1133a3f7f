/**
 * A minimal DevTools protocol client for a browser target (Chromium started with
 * `--remote-debugging-port`), and the one target the benchmarks attach to: the service worker.
 */
import WebSocket from 'ws';

export interface DevTools {
  send<T>(method: string, params?: object): Promise<T>;
  close(): void;
}

/** Connects to one target's `webSocketDebuggerUrl`. */
export async function devtools(url: string): Promise<DevTools> {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1 << 30 });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let id = 0;
  const waiting = new Map<number, (r: { result?: unknown; error?: unknown }) => void>();
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: unknown };
    if (msg.id !== undefined) waiting.get(msg.id)?.(msg);
  });
  return {
    async send<T>(method: string, params: object = {}): Promise<T> {
      const msgId = ++id;
      const reply = await new Promise<{ result?: unknown; error?: unknown }>((resolve) => {
        waiting.set(msgId, resolve);
        ws.send(JSON.stringify({ id: msgId, method, params }));
      });
      waiting.delete(msgId);
      if (reply.error) throw new Error(`${method}: ${JSON.stringify(reply.error)}`);
      return reply.result as T;
    },
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
