/**
 * Debian's nginx, run by the test as the current user with deploy/nginx/zt.conf, in front of an
 * in-process fabric: nginx is the app's public origin (the fabric's IdP and controller accept it),
 * the fabric serves no site of its own.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../../fabric/_internal/processes.ts';
import { parseFabricConfig } from '../../fabric/config.ts';
import { type RunningFabric, startFabric } from '../../fabric/fabric.ts';
import { createLogger } from '../../fabric/log.ts';
import { type ProbeRequest, startProbeApp } from './probe-app.ts';

export const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';
const repo = resolve(import.meta.dirname, '../..');

/**
 * `dark`: zt.conf as shipped (every non-own path gets the bootstrap page).
 * `migrate`: its `location /` proxies to the still-reachable app instead, so `sub_filter` injects
 * bootstrap.js into the app's own HTML.
 */
export type ProxyMode = 'dark' | 'migrate';

/** The shipped server block with only `listen`, `root` and (in `migrate`) `location /` replaced. */
export function renderServerBlock(
  port: number,
  root: string,
  mode: ProxyMode,
  appOrigin: string,
): string {
  const shipped = readFileSync(join(repo, 'deploy/nginx/zt.conf'), 'utf8');
  const replace = (text: string, pattern: RegExp, by: string) => {
    if (!pattern.test(text)) throw new Error(`zt.conf no longer matches ${pattern}`);
    return text.replace(pattern, by);
  };
  let conf = replace(shipped, /^ {4}listen 8080;$/m, `    listen 127.0.0.1:${port};`);
  conf = replace(conf, /^ {4}root \/srv\/zt-browser\/dist;$/m, `    root ${root};`);
  if (mode === 'migrate') {
    conf = replace(
      conf,
      /^ {4}location \/ \{\n[\s\S]*?^ {4}\}$/m,
      `    location / {\n        proxy_pass ${appOrigin};\n        proxy_set_header Accept-Encoding "";\n    }`,
    );
  }
  return conf;
}

export interface NginxFabric {
  fabric: RunningFabric;
  /** nginx's origin: the app's public URL. */
  origin: string;
  user: { name: string; password: string };
  appRequests: readonly ProbeRequest[];
  /** The access log so far, as `METHOD URI STATUS` lines. */
  accessLog(): string[];
  close(): Promise<void>;
}

async function waitForHttp(url: string, child: ChildProcess, errorLog: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  let log = '';
  try {
    log = readFileSync(errorLog, 'utf8');
  } catch {}
  throw new Error(`nginx did not come up on ${url} (exit ${child.exitCode}): ${log}`);
}

export async function startNginxFabric(mode: ProxyMode): Promise<NginxFabric> {
  const dir = mkdtempSync(join(tmpdir(), 'zt-nginx-'));
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  let appRequests: readonly ProbeRequest[] = [];
  let appOrigin = '';
  const fabric = await startFabric({
    config: parseFabricConfig({
      dataDir: join(dir, 'fabric'),
      advertiseHost: '127.0.0.1',
      // No site of the fabric's own; its port is nginx's, so the IdP's redirect URIs and the
      // controller accept nginx as the public origin.
      site: { host: '127.0.0.1', port },
      controller: { host: '127.0.0.1', port: 0 },
      idp: { host: '127.0.0.1', port: 0 },
      router: { name: 'er-nginx', host: '127.0.0.1', wssPort: 0, tlsPort: 0 },
      demoApp: { host: '127.0.0.1', port: 0 },
    }),
    log: createLogger((process.env.ZT_TEST_LOG as 'debug' | undefined) ?? 'warn'),
    startApp: async (listen) => {
      const app = await startProbeApp(listen.host);
      appRequests = app.requests;
      appOrigin = `http://${listen.host}:${app.port}`;
      return { host: listen.host, port: app.port, close: () => app.close() };
    },
  });
  let child: ChildProcess | undefined;
  try {
    const user = fabric.devUser;
    if (!user?.password) throw new Error('the fabric has no dev user');
    const service =
      fabric.config.services.find((s) => s.target === 'demo-app') ?? fabric.config.services[0];

    // A copy of the build with the operator's config.json, as in production.
    const root = join(dir, 'dist');
    cpSync(join(repo, 'dist'), root, { recursive: true });
    writeFileSync(
      join(root, '__zt/config.json'),
      JSON.stringify({ controller: fabric.controller.url, service: service?.name ?? '' }),
    );
    for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
      mkdirSync(join(dir, sub));
    const accessLog = join(dir, 'access.log');
    const errorLog = join(dir, 'error.log');
    writeFileSync(join(dir, 'zt.conf'), renderServerBlock(port, root, mode, appOrigin));
    writeFileSync(
      join(dir, 'nginx.conf'),
      `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${errorLog} warn;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format zt '$request_method $request_uri $status';
    access_log ${accessLog} zt;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    include ${dir}/zt.conf;
}
`,
    );
    writeFileSync(accessLog, '');
    child = spawn(NGINX, ['-e', errorLog, '-p', dir, '-c', join(dir, 'nginx.conf')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await waitForHttp(`${origin}/__zt/config.json`, child, errorLog);
    // The readiness probe is no visitor: the log starts empty for the test.
    writeFileSync(accessLog, '');
    const proc = child;
    return {
      fabric,
      origin,
      user: { name: user.name, password: user.password },
      appRequests,
      accessLog: () => readFileSync(accessLog, 'utf8').split('\n').filter(Boolean),
      close: async () => {
        if (proc.exitCode === null) {
          const exited = new Promise((r) => proc.once('exit', r));
          proc.kill('SIGTERM');
          await exited;
        }
        await fabric.close();
      },
    };
  } catch (err) {
    child?.kill('SIGKILL');
    await fabric.close();
    throw err;
  }
}
