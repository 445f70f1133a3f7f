/**
 * Smoke test of the command `npm start` runs after its build (`node --import tsx fabric/cli.ts`),
 * against a stand-in build folder so it does not depend on (or race with) `vite build`.
 *
 * One process, with tsx as a loader: the `tsx` launcher would put a second process in front, which
 * relays Ctrl-C to its child and, when the child has not confirmed the signal within a few tens of
 * milliseconds (easily missed on a loaded machine), kills it and exits with 130 itself.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type BannerInput, fabricBanner } from './banner.ts';

const repo = resolve(import.meta.dirname, '..');
let root = '';
let dataDir = '';
const children: ChildProcess[] = [];

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'zt-cli-site-'));
  mkdirSync(join(root, '__zt'));
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>bootstrap stand-in</title>');
  dataDir = mkdtempSync(join(tmpdir(), 'zt-cli-data-'));
});

afterEach(() => {
  for (const c of children.splice(0))
    if (c.exitCode === null && c.pid) process.kill(-c.pid, 'SIGKILL');
});

function run(args: string[]) {
  // Own process group, so a SIGINT to the group is what Ctrl-C in a terminal does.
  const cli = ['--import', 'tsx', 'fabric/cli.ts', '--root', root, '--data-dir', dataDir];
  const child = spawn(process.execPath, [...cli, ...args], {
    cwd: repo,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ZT_LOG: 'warn' },
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const waitFor = (re: RegExp, ms = 30_000) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const t0 = Date.now();
      const timer = setInterval(() => {
        const m = re.exec(out);
        if (m) {
          clearInterval(timer);
          resolve(m);
        } else if (Date.now() - t0 > ms || child.exitCode !== null) {
          clearInterval(timer);
          reject(new Error(`no ${re} in output:\n${out}`));
        }
      }, 50);
    });
  return { child, exited, waitFor, output: () => out };
}

describe('fabric CLI', () => {
  it('starts, prints a URL that answers and the dev login, serves /__zt/config.json, exits 0 on SIGINT', async () => {
    const cli = run(['--host', '127.0.0.1', '--port', '0', '--ephemeral-ports']);
    const [, url] = await cli.waitFor(/Open:\s+(\S+)/);
    expect(cli.output()).toMatch(/Sign in as:\s+developer \/ zt-dev-password/);
    const page = await fetch(url!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('bootstrap stand-in');
    const cfg = (await (await fetch(new URL('/__zt/config.json', url))).json()) as {
      controller: string;
      service: string;
    };
    expect(cfg.service).toBe('demo');
    // Without --dev-plain-ws: wss and tls only, as a real router, and no plain ws for the browser.
    expect(cli.output()).toMatch(/router\s+wss:\/\/127\.0\.0\.1:\d+\s+tls:\/\/127\.0\.0\.1:\d+\n/);
    expect(cli.output()).toContain('browsers must trust the fabric CA for wss');
    expect(cfg).not.toHaveProperty('devAllowPlainWs');
    const version = await fetch(`${cfg.controller}/version`);
    expect(version.status).toBe(200);
    const signers = (await (
      await fetch(`${cfg.controller}/edge/client/v1/external-jwt-signers`)
    ).json()) as {
      data: { externalAuthUrl: string }[];
    };
    const disco = await fetch(
      `${signers.data[0]!.externalAuthUrl}/.well-known/openid-configuration`,
    );
    expect(disco.status).toBe(200);
    process.kill(-cli.child.pid!, 'SIGINT');
    expect(await cli.exited).toBe(0);
  });

  it('--dev-plain-ws (npm start) adds the dev-only plain ws listener and lets config.json use it', async () => {
    const cli = run(['--host', '127.0.0.1', '--port', '0', '--ephemeral-ports', '--dev-plain-ws']);
    const [, url] = await cli.waitFor(/Open:\s+(\S+)/);
    await cli.waitFor(/Ctrl-C/);
    expect(cli.output()).toMatch(/router\s+wss:\/\/\S+\s+ws:\/\/127\.0\.0\.1:\d+\s+tls:\/\/\S+\n/);
    expect(cli.output()).toContain('DEV-ONLY plain listener');
    const cfg = await (await fetch(new URL('/__zt/config.json', url))).json();
    expect(cfg).toMatchObject({ service: 'demo', devAllowPlainWs: true });
    const [, plain] = /\s(ws:\/\/\S+)/.exec(cli.output())!;
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(`${plain}/ws`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.close();
    process.kill(-cli.child.pid!, 'SIGINT');
    expect(await cli.exited).toBe(0);
  });

  it('with a --config whose service is another app, prints that service and no demo-app accounts', async () => {
    const file = join(dataDir, 'other-app.yaml');
    writeFileSync(
      file,
      [
        'services:',
        '  - name: wiki',
        '    roleAttributes: [demo]',
        '    hosting: tunneler',
        '    configs:',
        '      host.v1: { protocol: tcp, address: 127.0.0.1, port: 8090 }',
        '',
      ].join('\n'),
    );
    const cli = run(['--config', file, '--host', '127.0.0.1', '--port', '0', '--ephemeral-ports']);
    const [, url] = await cli.waitFor(/Open:\s+(\S+)/);
    await cli.waitFor(/Ctrl-C/);
    const out = cli.output();
    expect(out).toMatch(/Sign in as:\s+developer \/ zt-dev-password/);
    expect(out).toContain('dark app     service "wiki" -> tcp:127.0.0.1:8090');
    expect(out).not.toContain('demo app');
    expect(out).not.toContain('alice');
    const cfg = await (await fetch(new URL('/__zt/config.json', url))).json();
    expect(cfg).toMatchObject({ service: 'wiki' });
    process.kill(-cli.child.pid!, 'SIGINT');
    expect(await cli.exited).toBe(0);
  });

  it('says clearly which port is in use and exits 1', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const cli = run([
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--ephemeral-ports',
        '--controller-port',
        String(port),
      ]);
      expect(await cli.exited).toBe(1);
      expect(cli.output()).toContain(`controller: 127.0.0.1:${port} is already in use`);
    } finally {
      blocker.close();
    }
  });

  it('rejects an invalid config file with every problem listed', async () => {
    const file = join(dataDir, 'bad.yaml');
    writeFileSync(
      file,
      'controller:\n  port: 99999\nservices:\n  - encryptionRequired: maybe\nbogus: 1\n',
    );
    const cli = run(['--config', file]);
    expect(await cli.exited).toBe(2);
    const out = cli.output();
    expect(out).toContain('controller.port: expected an integer 0-65535');
    expect(out).toContain('services[0].name: expected a non-empty string');
    expect(out).toContain('services[0].encryptionRequired: expected true or false');
    expect(out).toContain('config.bogus: unknown key');
  });
});

describe('fabric banner', () => {
  const base: BannerInput = {
    siteUrl: 'http://localhost:8080/',
    devUser: { name: 'developer', password: 'zt-dev-password' },
    siteService: { name: 'demo', configs: {}, target: 'demo-app' },
    demoApp: {
      host: '127.0.0.1',
      port: 41234,
      users: [
        { username: 'alice', password: 'alice-demo-pass' },
        { username: 'bob', password: 'bob-demo-pass' },
      ],
    },
    controllerUrl: 'http://localhost:1280',
    idpIssuer: 'http://localhost:8081',
    routerUrls: ['wss://localhost:3023', 'tls://localhost:3022'],
    routerNote: ['               note'],
  };

  it('with the demo app: its accounts and its loopback address', () => {
    expect(fabricBanner(base).join('\n')).toBe(
      [
        '',
        '  zt-browser dev fabric is running',
        '',
        '  Open:        http://localhost:8080/',
        '  Sign in as:  developer / zt-dev-password   (at the fabric IdP)',
        '  Then in the demo app: alice / alice-demo-pass, bob / bob-demo-pass',
        '',
        '  controller   http://localhost:1280',
        '  IdP          http://localhost:8081',
        '  router       wss://localhost:3023  tls://localhost:3022',
        '               note',
        '  dark app     127.0.0.1:41234 (loopback only, reached through the tunneler)',
        '',
        '  Ctrl-C stops everything.',
        '',
      ].join('\n'),
    );
  });

  it('with another app: no demo accounts, the service config.json names and its host.v1', () => {
    const text = fabricBanner({
      ...base,
      demoApp: undefined,
      siteService: {
        name: 'wiki',
        configs: { 'host.v1': { protocol: 'tcp', address: '10.0.0.5', port: 8090 } },
      },
    }).join('\n');
    expect(text).not.toMatch(/demo app|alice|bob/);
    expect(text).toContain('  dark app     service "wiki" -> tcp:10.0.0.5:8090\n');
    // No blank line left where the accounts would have been.
    expect(text).toContain('(at the fabric IdP)\n\n  controller');
  });

  it('a started app without accounts (the test app) prints no accounts line', () => {
    const text = fabricBanner({ ...base, demoApp: { ...base.demoApp!, users: [] } }).join('\n');
    expect(text).not.toContain('Then in the demo app');
    expect(text).toContain('dark app     127.0.0.1:41234');
  });

  it('no identity that may dial, no service', () => {
    const text = fabricBanner({
      ...base,
      devUser: undefined,
      siteService: undefined,
      demoApp: undefined,
    }).join('\n');
    expect(text).toContain('(no identity with a password may dial a service)');
    expect(text).toContain('(no service: /__zt/config.json names none)');
    expect(text).not.toContain('Then in the demo app');
  });
});
