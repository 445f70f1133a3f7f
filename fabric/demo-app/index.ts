/**
 * The dark demo app: a Mattermost-compatible chat server (API v4 subset, websocket, files) and its
 * small web UI. The fabric hosts it as the demo dark service; tests drive it with @mattermost/client.
 */
import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import { resolve } from 'node:path';
import { Api, type ApiSettings } from './server/api.ts';
import { DEFAULT_MAX_FILE_BYTES, FileStorage } from './server/files.ts';
import { StaticSite } from './server/static.ts';
import { DEFAULT_SESSION_SECONDS, DEFAULT_USERS, DemoStore } from './server/store.ts';
import { type DemoUser, RECORDED_HEADERS, type RequestRecord } from './server/types.ts';
import { WEBSOCKET_PATH, WebSocketHub } from './server/websocket.ts';

export type { ApiSettings } from './server/api.ts';
export { APP_CSP } from './server/static.ts';
export { DEFAULT_USERS } from './server/store.ts';
export type { DemoUser, RequestRecord } from './server/types.ts';

export interface DemoAppOptions {
  /** Interface to listen on; must be a loopback address (the app is dark). */
  host: string;
  /** Port, 0 for an ephemeral one. */
  port: number;
  /** Where uploaded files are stored (created if missing). */
  dataDir: string;
  /** Accounts; default {@link DEFAULT_USERS} (alice / alice-demo-pass, bob / bob-demo-pass). */
  users?: DemoUser[];
  /**
   * The public URL browsers use (ServiceSettings.SiteURL); websocket upgrades must come from its
   * origin. Default empty: the Origin's host must then equal the Host header, as Mattermost does
   * without a Site URL. {@link DemoApp.setSiteUrl} changes it later.
   */
  siteUrl?: string;
  /**
   * Mattermost's ServiceSettings.ExperimentalStrictCSRFEnforcement: a cookie-authenticated write
   * needs `X-CSRF-Token` even when it carries `X-Requested-With: XMLHttpRequest`. Default true (the
   * rule the product's tests hold through the tunnel, as the real-server tier runs it); false is
   * Mattermost's own default.
   */
  strictCsrf?: boolean;
  /** Session and cookie lifetime; default 180 days as Mattermost's web sessions. */
  sessionLengthSeconds?: number;
  /** Largest accepted upload; default 1 GiB. */
  maxFileBytes?: number;
  /** Folder of the built web UI; default `fabric/demo-app/web/dist`. */
  webDir?: string;
  /** How many request records to keep (oldest dropped first); default 100 000. */
  maxRequestRecords?: number;
}

export interface DemoApp {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  port: number;
  close(): Promise<void>;
  /** Every request the app received (HTTP and websocket upgrades), oldest first. */
  requests: readonly RequestRecord[];
  /** Changes the Site URL while running (its origin is what websocket upgrades must come from). */
  setSiteUrl(url: string): void;
  /** The settings in force (Site URL, strict CSRF); changes apply to the next request. */
  settings: ApiSettings;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

function record(req: IncomingMessage, upgrade: boolean): RequestRecord {
  const headers: Record<string, string> = {};
  for (const name of RECORDED_HEADERS) {
    const value = req.headers[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return {
    method: req.method ?? '',
    url: req.url ?? '',
    headers,
    remoteAddress: req.socket.remoteAddress ?? '',
    time: Date.now(),
    upgrade,
  };
}

/** Starts the app on loopback; resolves once it listens. */
export async function startDemoApp(options: DemoAppOptions): Promise<DemoApp> {
  if (!LOOPBACK.test(options.host)) {
    throw new Error(`demo app: host must be a loopback address, got "${options.host}"`);
  }
  await mkdir(options.dataDir, { recursive: true });
  const store = new DemoStore(
    options.users ?? DEFAULT_USERS,
    options.sessionLengthSeconds ?? DEFAULT_SESSION_SECONDS,
  );
  const files = new FileStorage(
    options.dataDir,
    store,
    options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
  );
  const settings: ApiSettings = {
    siteUrl: options.siteUrl ?? '',
    strictCsrf: options.strictCsrf ?? true,
  };
  const hub = new WebSocketHub(store, settings);
  const loginHint = options.users
    ? ''
    : `Demo accounts: ${DEFAULT_USERS.map((u) => `${u.username} / ${u.password}`).join(', ')}`;
  const api = new Api({ store, files, hub, loginHint, settings });
  const site = new StaticSite(options.webDir ?? resolve(import.meta.dirname, 'web/dist'));
  const requests: RequestRecord[] = [];
  const maxRecords = options.maxRequestRecords ?? 100_000;
  const remember = (r: RequestRecord) => {
    requests.push(r);
    if (requests.length > maxRecords) requests.shift();
  };

  const server = createServer((req, res) => {
    remember(record(req, false));
    const url = new URL(req.url ?? '/', 'http://app.invalid');
    if (url.pathname.startsWith('/api/')) {
      api.handle(req, res, url).catch(() => res.destroy());
    } else {
      site.handle(req, res, url);
    }
  });
  server.on('upgrade', (req, socket, head) => {
    remember(record(req, true));
    const url = new URL(req.url ?? '/', 'http://app.invalid');
    if (url.pathname !== WEBSOCKET_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    hub.handleUpgrade(req, socket, head, url);
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port, options.host, () => {
      server.off('error', fail);
      ok();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${hostForUrl}:${port}`,
    port,
    requests,
    settings,
    setSiteUrl(siteUrl: string) {
      settings.siteUrl = siteUrl;
    },
    close: () =>
      new Promise<void>((ok) => {
        hub.close();
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
