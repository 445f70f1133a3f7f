/**
 * Mattermost's own server as the e2e dark app (mattermost/server.ts: PostgreSQL + `mattermost`,
 * the demo chat UI as its webapp), behind a small recording proxy on loopback so that specs can
 * read what reached the app as they do with the demo app's request log. The Site URL is set once
 * the bootstrap site's origin is known (`setSiteUrl`), since the app starts before the site.
 */
import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import {
  cachedMattermostBinary,
  demoUiClientDir,
  postgresBinDir,
  type RunningMattermost,
  startMattermost,
} from '../../mattermost/server.ts';

export interface AppRequestRecord {
  method: string;
  url: string;
  headers: Record<string, string>;
  upgrade: boolean;
  time: number;
  /** Whether the answer reached the client whole, once its connection closed. */
  sent?: 'whole' | 'cut';
}

export interface E2eMattermost {
  host: string;
  /** The recording proxy's port (what the tunneler or router dials). */
  port: number;
  requests: readonly AppRequestRecord[];
  server: RunningMattermost;
  setSiteUrl(url: string): Promise<void>;
  close(): Promise<void>;
}

/** Why the real-server tier cannot run here, or undefined when it can (binary cached, PostgreSQL). */
export function mattermostUnavailable(): string | undefined {
  if (!cachedMattermostBinary()) return 'mattermost/build-mattermost.sh has not built the server';
  if (!postgresBinDir()) return 'PostgreSQL is not installed (Debian package postgresql)';
  return undefined;
}

const RECORDED = [
  'origin',
  'host',
  'cookie',
  'x-csrf-token',
  'x-requested-with',
  'range',
  'if-range',
  'accept-encoding',
];

function record(req: IncomingMessage, upgrade: boolean): AppRequestRecord {
  const headers: Record<string, string> = {};
  for (const name of RECORDED) {
    const v = req.headers[name];
    if (v !== undefined) headers[name] = Array.isArray(v) ? v.join(', ') : v;
  }
  return { method: req.method ?? '', url: req.url ?? '', headers, upgrade, time: Date.now() };
}

export async function startE2eMattermost(listen: {
  host: string;
  dataDir: string;
}): Promise<E2eMattermost> {
  const binary = cachedMattermostBinary();
  if (!binary) throw new Error(mattermostUnavailable());
  mkdirSync(listen.dataDir, { recursive: true });
  const server = await startMattermost({
    binary,
    dir: join(listen.dataDir, 'mattermost'),
    host: listen.host,
    siteUrl: 'http://site-not-yet-known.invalid',
    clientDir: demoUiClientDir(join(listen.dataDir, 'demo-ui')),
    // The product's promise is that the app's CSRF rule holds through the tunnel: test the strict
    // one (Mattermost's default also accepts X-Requested-With alone; see mattermost/README.md).
    strictCsrf: true,
  });
  const requests: AppRequestRecord[] = [];
  const proxy = createServer((req, res) => {
    const entry = record(req, false);
    requests.push(entry);
    // `cutAt=N` in the query (Mattermost ignores it): a 200 loses its connection after N bytes of
    // its body as the server sent it, as when a server or network goes away.
    const cutAt = new URL(req.url ?? '/', 'http://x').searchParams.get('cutAt');
    const upstream = request(
      {
        host: server.host,
        port: server.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.on('close', () => {
          entry.sent = res.writableFinished ? 'whole' : 'cut';
        });
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        if (cutAt === null || answer.statusCode !== 200) {
          answer.pipe(res);
          return;
        }
        let left = Number(cutAt);
        answer.on('data', (chunk: Buffer) => {
          if (left < 0) return;
          if (chunk.length < left) {
            left -= chunk.length;
            if (!res.write(chunk)) {
              answer.pause();
              res.once('drain', () => answer.resume());
            }
            return;
          }
          answer.destroy();
          res.write(chunk.subarray(0, left), () => req.socket.end());
          left = -1;
        });
        answer.on('end', () => res.end());
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  proxy.on('upgrade', (req, socket, head) => {
    requests.push(record(req, true));
    const upstream = connect(server.port, server.host, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      }
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((ok, fail) => {
    proxy.once('error', fail);
    proxy.listen(0, listen.host, () => ok());
  });
  const { port } = proxy.address() as { port: number };
  return {
    host: listen.host,
    port,
    requests,
    server,
    setSiteUrl: (url) => server.setSiteUrl(new URL(url).origin),
    close: async () => {
      await new Promise<void>((ok) => {
        proxy.close(() => ok());
        proxy.closeAllConnections();
      });
      await server.close();
    },
  };
}
