/**
 * The "strange" dark app (`test.use({ darkApp: 'strange' })`, e2e/strange-app.spec.ts): a loopback
 * HTTP server that records every request and does what real web apps do at the edges of HTTP and
 * the browser:
 *
 * - `/sse` + `/events`: Server-Sent Events with ids, sent slowly; each response ends after
 *   `SSE_PER_CONNECTION` events so EventSource reconnects, resuming from `Last-Event-ID`, until
 *   `SSE_TOTAL` events, then a `done` event.
 * - `/longpoll` + `/poll`: a request held open for `POLL_HOLD_MS` unless a message (`/poll/post`)
 *   arrives first.
 * - `/beacon-page`, `/keepalive-page`: `navigator.sendBeacon`, `fetch(…, { keepalive: true })` on a
 *   click and on `pagehide`, to `/beacon` and `/keepalive`, whose bodies are recorded.
 * - `/downloads`: an `<a download>` of `/files/report.csv` and a link to `/files/attachment`
 *   (Content-Disposition: attachment); both are `downloadBytes()`.
 * - `/chain/<code>/<code>/…`: each hop answers with its first status code and sends the rest to the
 *   next path (one hop with an absolute Location), ending at `/chain/end`, which echoes the method
 *   and body.
 * - `/c/set`, `/c/change`, `/c/expire-soon`: cookies of every kind (see `COOKIES_SET`); any path
 *   ending in `/echo` answers with the Cookie header it got.
 * - `/csp-plain`: a nonce-only Content-Security-Policy page whose script fetches and opens a
 *   WebSocket (`/ws-echo`).
 * - `/sw-register`, `/sw-unregister`, `/sw-ready`: an app that registers `/app-sw.js`, one that
 *   unregisters every registration it is given, one that unregisters what `ready` gives.
 * - `/private/*`: HTTP Basic (`STRANGE_BASIC`).
 *
 * Its pages carry the probe app's title, which `enterApp` waits for.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { PROBE_TITLE } from './probe-app.ts';

export interface StrangeRequest {
  method: string;
  url: string;
  cookie: string;
  /** `Last-Event-ID` as received ('' when absent). */
  lastEventId: string;
  authorization: string;
  /** The request body as text (empty for none). */
  body: string;
}

export const SSE_TOTAL = 9;
export const SSE_PER_CONNECTION = 3;
export const POLL_HOLD_MS = 1500;
export const STRANGE_BASIC = { user: 'carol', password: 'strange-pass', realm: 'strange' };

/** The generated file both download links serve: 70 000 bytes no two runs differ in. */
export function downloadBytes(): Buffer {
  const out = Buffer.alloc(70_000);
  for (let i = 0; i < out.length; i++) out[i] = (i * 31 + (i >> 8)) & 0xff;
  return out;
}

const page = (body: string, head = '') =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${PROBE_TITLE}</title>${head}</head><body>${body}</body></html>`;

const SSE_PAGE = page(
  '<h1 id="app">sse</h1>',
  `<script>
window.sseEvents = [];
window.sseDone = new Promise((resolve) => {
  const source = new EventSource('/events');
  source.onmessage = (e) => window.sseEvents.push({ id: e.lastEventId, data: e.data });
  source.addEventListener('done', () => { source.close(); resolve(window.sseEvents); });
});
</script>`,
);

const LONGPOLL_PAGE = page(
  '<h1 id="app">longpoll</h1>',
  `<script>
window.pollRounds = 0;
window.pollMessages = [];
(async () => {
  let since = 0;
  for (;;) {
    const r = await fetch('/poll?since=' + since, { cache: 'no-store' });
    const { messages } = await r.json();
    window.pollRounds++;
    window.pollMessages.push(...messages);
    since += messages.length;
  }
})();
</script>`,
);

const BEACON_PAGE = page(
  '<h1 id="app">beacon</h1><button id="send">send</button>',
  `<script>
document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('send').addEventListener('click', () => {
    window.beaconQueued = navigator.sendBeacon('/beacon?via=click', 'beacon-from-click');
  });
});
addEventListener('pagehide', () => navigator.sendBeacon('/beacon?via=pagehide', 'beacon-from-pagehide'));
</script>`,
);

const KEEPALIVE_PAGE = page(
  '<h1 id="app">keepalive</h1><button id="send">send</button>',
  `<script>
const send = (via) =>
  fetch('/keepalive?via=' + via, { method: 'POST', keepalive: true, body: 'keepalive-from-' + via });
document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('send').addEventListener('click', () => send('click'));
});
addEventListener('pagehide', () => send('pagehide'));
</script>`,
);

const DOWNLOADS_PAGE = page(
  '<h1 id="app">downloads</h1><a id="csv" download="report.csv" href="/files/report.csv">report</a> <a id="attachment" href="/files/attachment">attachment</a>',
);

const SW_REGISTER_PAGE = page(
  '<h1 id="app">sw register</h1>',
  `<script>
window.appSw = navigator.serviceWorker.register('/app-sw.js', { scope: '/' }).then(
  async (reg) => {
    const all = await navigator.serviceWorker.getRegistrations();
    const one = await navigator.serviceWorker.getRegistration();
    const ready = await navigator.serviceWorker.ready;
    return { scope: reg.scope, all: all.map((r) => r.scope), one: one && one.scope, ready: ready.scope };
  },
  (e) => ({ error: String(e) }),
);
</script>`,
);

const SW_UNREGISTER_PAGE = page(
  '<h1 id="app">sw unregister</h1>',
  `<script>
window.unregistered = navigator.serviceWorker.getRegistrations().then(async (regs) => {
  const results = await Promise.all(regs.map((r) => r.unregister()));
  const one = await navigator.serviceWorker.getRegistration();
  return { count: regs.length, results, after: one ? await one.unregister() : 'none' };
});
</script>`,
);

const SW_READY_PAGE = page(
  '<h1 id="app">sw ready</h1>',
  `<script>
window.readyUnregistered = Promise.race([
  navigator.serviceWorker.ready.then((r) => r.unregister()).then((done) => 'unregistered:' + done),
  new Promise((resolve) => setTimeout(() => resolve('ready never resolved'), 1000)),
]);
</script>`,
);

/** What `/c/set` sends, in one response. */
export const COOKIES_SET = [
  'pa=under-a; Path=/a',
  'pb=under-b; Path=/b',
  'gone=soon; Path=/',
  'past=old; Path=/',
  'strict=s; Path=/; SameSite=Strict',
  'lax=l; Path=/; SameSite=Lax',
  'none=n; Path=/; SameSite=None; Secure',
  'hidden=http-only-secret; Path=/; HttpOnly',
  'over=first; Path=/',
];

/** What `/c/change` sends: an overwrite, a Max-Age=0 deletion and an Expires-in-the-past one. */
export const COOKIES_CHANGE = [
  'over=second; Path=/',
  'gone=; Path=/; Max-Age=0',
  'past=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT',
];

function html(res: ServerResponse, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startStrangeApp(host: string) {
  const requests: StrangeRequest[] = [];
  const messages: string[] = [];
  const waiting = new Set<() => void>();
  const expected = `Basic ${Buffer.from(`${STRANGE_BASIC.user}:${STRANGE_BASIC.password}`).toString('base64')}`;

  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      cookie: req.headers.cookie ?? '',
      lastEventId: String(req.headers['last-event-id'] ?? ''),
      authorization: req.headers.authorization ?? '',
      body,
    });
    const url = new URL(req.url ?? '/', 'http://strange');
    const path = url.pathname;

    if (path === '/sse') return html(res, SSE_PAGE);
    if (path === '/events') {
      // Resumes after the last id the browser saw; ends the response after a few events.
      const last = Number(req.headers['last-event-id'] ?? 0) || 0;
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
      });
      res.write('retry: 200\n\n');
      const end = Math.min(SSE_TOTAL, last + SSE_PER_CONNECTION);
      for (let id = last + 1; id <= end && !res.destroyed; id++) {
        await sleep(150);
        res.write(`id: ${id}\ndata: event ${id}\n\n`);
      }
      if (end >= SSE_TOTAL) res.write('event: done\ndata: all sent\n\n');
      res.end();
      return;
    }

    if (path === '/longpoll') return html(res, LONGPOLL_PAGE);
    if (path === '/poll') {
      const since = Number(url.searchParams.get('since') ?? 0);
      if (messages.length <= since) {
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            waiting.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, POLL_HOLD_MS);
          waiting.add(wake);
        });
      }
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ messages: messages.slice(since) }));
      return;
    }
    if (path === '/poll/post') {
      messages.push(body);
      for (const wake of [...waiting]) wake();
      res.writeHead(204);
      res.end();
      return;
    }

    if (path === '/beacon-page') return html(res, BEACON_PAGE);
    if (path === '/keepalive-page') return html(res, KEEPALIVE_PAGE);
    if (path === '/beacon' || path === '/keepalive') {
      res.writeHead(204);
      res.end();
      return;
    }

    if (path === '/downloads') return html(res, DOWNLOADS_PAGE);
    if (path === '/files/report.csv' || path === '/files/attachment') {
      const bytes = downloadBytes();
      res.writeHead(200, {
        'content-type': path.endsWith('.csv') ? 'text/csv' : 'application/octet-stream',
        'content-length': bytes.length,
        'cache-control': 'no-store',
        ...(path === '/files/attachment'
          ? { 'content-disposition': 'attachment; filename="strange-data.bin"' }
          : {}),
      });
      res.end(bytes);
      return;
    }

    if (path.startsWith('/chain/')) {
      const codes = path.slice('/chain/'.length).split('/');
      const code = Number(codes[0]);
      if (path === '/chain/end') {
        return html(res, page(`<h1 id="app">end ${req.method}</h1><pre id="body">${body}</pre>`));
      }
      if (![301, 302, 303, 307, 308].includes(code)) {
        res.writeHead(400);
        res.end();
        return;
      }
      const rest = codes.slice(1).join('/') || 'end';
      // The 302 hop names the app's own host, as apps behind a proxy often do.
      const location = code === 302 ? `http://${req.headers.host}/chain/${rest}` : `/chain/${rest}`;
      res.writeHead(code, { location, 'cache-control': 'no-store' });
      res.end();
      return;
    }

    if (path === '/c/set' || path === '/c/change' || path === '/c/expire-soon') {
      const cookies =
        path === '/c/set'
          ? COOKIES_SET
          : path === '/c/change'
            ? COOKIES_CHANGE
            : ['short=lived; Path=/; Max-Age=2'];
      res.writeHead(204, { 'set-cookie': cookies, 'cache-control': 'no-store' });
      res.end();
      return;
    }
    if (path.endsWith('/echo')) {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
      res.end(req.headers.cookie ?? '');
      return;
    }

    if (path === '/csp-plain') {
      // A nonce alone (no 'strict-dynamic'): only scripts carrying this nonce run.
      const nonce = randomBytes(16).toString('base64');
      const script = `window.cspResult = (async () => {
  const r = await fetch('/api/csp-fetch', { method: 'POST', body: 'from nonce script' });
  const socket = await new Promise((resolve) => {
    const ws = new WebSocket(location.origin.replace(/^http/, 'ws') + '/ws-echo');
    ws.onopen = () => ws.send('csp');
    ws.onmessage = (e) => { resolve(String(e.data)); ws.close(); };
    ws.onerror = () => resolve('error');
  });
  return { fetch: r.status + ' ' + (await r.text()), socket };
})();`;
      return html(
        res,
        page(
          '<h1 id="app">csp plain</h1><script>window.unnoncedRan = true;</script>',
          `<script nonce="${nonce}">${script}</script>`,
        ),
        {
          'content-security-policy': `default-src 'self'; script-src 'nonce-${nonce}'; object-src 'none'; base-uri 'none'`,
        },
      );
    }
    if (path === '/api/csp-fetch') {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
      res.end(`got ${body}`);
      return;
    }

    if (path === '/sw-register') return html(res, SW_REGISTER_PAGE);
    if (path === '/sw-unregister') return html(res, SW_UNREGISTER_PAGE);
    if (path === '/sw-ready') return html(res, SW_READY_PAGE);
    if (path === '/app-sw.js') {
      // Would answer every request itself, taking the app off the tunnel, if it ever ran.
      res.writeHead(200, { 'content-type': 'text/javascript', 'cache-control': 'no-store' });
      res.end(
        "self.addEventListener('fetch', (e) => e.respondWith(new Response('hijacked by the app worker')));",
      );
      return;
    }

    if (path.startsWith('/private/')) {
      if (req.headers.authorization !== expected) {
        res.writeHead(401, {
          'www-authenticate': `Basic realm="${STRANGE_BASIC.realm}"`,
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
        });
        res.end(page('<h1 id="app">unauthorized</h1>'));
        return;
      }
      return html(res, page(`<h1 id="app">private ${path}</h1>`));
    }

    if (path.startsWith('/api/')) {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ path, method: req.method }));
      return;
    }
    html(res, page(`<h1 id="app">strange ${path}</h1>`));
  });

  // `/ws-echo`: answers each text message with "echo: " and the message.
  const sockets = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      cookie: req.headers.cookie ?? '',
      lastEventId: '',
      authorization: '',
      body: '',
    });
    if (new URL(req.url ?? '/', 'http://strange').pathname !== '/ws-echo') {
      socket.destroy();
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) =>
      ws.on('message', (data) => ws.send(`echo: ${String(data)}`)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const wake of [...waiting]) wake();
        for (const ws of sockets.clients) ws.terminate();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
