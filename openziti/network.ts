/**
 * OpenZiti's own network on one machine: `ziti controller`, `ziti router` (edge `tls` + `wss`
 * listeners) and `ziti tunnel host`, each a child process, on 127.0.0.1 with free ports, set up
 * with the `ziti` CLI exactly as docs/production.md tells operators (the commands are in steps.ts).
 * Everything lives in one directory; `close()` stops the processes. A failing step throws an
 * error that names the command and carries its output.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join, resolve } from 'node:path';
import { builtBinary, freePort, pollUntil, tailFile } from '../fabric/_internal/processes.ts';
import {
  type Argv,
  hostIdentitySteps,
  type NetworkNames,
  personStep,
  routerConfigYaml,
  routerStep,
  SIGNER_ID,
  serviceSteps,
  shellLine,
  signerSteps,
} from './steps.ts';

export const ADMIN = { user: 'admin', password: 'zt-admin-password' };

let builtZiti: string | undefined;
/** Path of the cached `ziti` binary; build-ziti.sh builds it first if it is missing. */
export function zitiBinary(): string {
  builtZiti ??= builtBinary(resolve(import.meta.dirname, 'build-ziti.sh'));
  return builtZiti;
}

export class ZitiCommandError extends Error {
  override readonly name = 'ZitiCommandError';
  readonly code = 'ERR_ZITI_COMMAND';
  constructor(
    readonly command: string,
    readonly output: string,
    cause?: unknown,
  ) {
    super(`\`${command}\` failed:\n${output.trim().split('\n').slice(-30).join('\n')}`, { cause });
  }
}

export interface OpenZitiOptions {
  /** The `ziti` binary (see build-ziti.sh). */
  ziti: string;
  /** Working directory for PKI, databases, configs and logs (created). */
  dir: string;
  /** Listen and advertise host; default 127.0.0.1. */
  host?: string;
  names: Omit<NetworkNames, 'router'> & { router?: string };
  /** People: identity name and the external id their IdP token carries. */
  people: { name: string; externalId: string }[];
  /** Host the service with `ziti tunnel host` (default true). */
  tunneler?: boolean;
  /** Controller `edge.api.sessionTimeout` (minimum 1m). */
  apiSessionTimeout?: string;
  /** OIDC sessions: the `edge-oidc` binding's options and the token lifetimes (`edge.oidc`). */
  oidc?: OpenZitiOidcOptions;
  log?: (line: string) => void;
}

export interface OpenZitiOidcOptions {
  /**
   * The binding's `redirectURIs` (globs). Setting any replaces the controller's defaults:
   * `openziti://auth/callback` and `/auth/callback` on any port of http(s) 127.0.0.1 and localhost.
   */
  redirectUris?: string[];
  /** `edge.oidc.accessTokenDuration`, e.g. `1m` (the controller's minimum; default 30m). */
  accessTokenDuration?: string;
}

/**
 * The controller config with the OIDC options applied to what `ziti create config controller`
 * wrote: the `edge-oidc` binding's options and an `edge.oidc` section; the rest is left as it is.
 */
export function withOidcOptions(yaml: string, oidc: OpenZitiOidcOptions): string {
  let out = yaml;
  if (oidc.redirectUris) {
    const binding = /^( *)- binding: edge-oidc\n *options: \{ \}$/m;
    if (!binding.test(out))
      throw new Error('controller config: no `- binding: edge-oidc` to configure');
    const list = oidc.redirectUris.map((u) => JSON.stringify(u)).join(', ');
    out = out.replace(
      binding,
      (_m, indent: string) =>
        `${indent}- binding: edge-oidc\n${indent}  options: { redirectURIs: [${list}] }`,
    );
  }
  if (oidc.accessTokenDuration) {
    if (!/^edge:\n/m.test(out)) throw new Error('controller config: no `edge:` section');
    out = out.replace(
      /^edge:\n/m,
      `edge:\n  oidc:\n    accessTokenDuration: ${oidc.accessTokenDuration}\n`,
    );
  }
  return out;
}

export interface RunningOpenZiti {
  version: string;
  controllerUrl: string;
  /** The root CA the controller's and router's certificates chain to (PEM). */
  rootCaPem: string;
  router: { name: string; tlsPort: number; wssPort: number; wssUrl: string };
  /** Runs a `ziti` CLI command as the admin; resolves to its output. */
  cli(argv: Argv): Promise<string>;
  /** GET on the controller's client or management API (absolute path), as JSON. */
  controllerJson(path: string, headers?: Record<string, string>): Promise<unknown>;
  stopRouter(): Promise<void>;
  startRouter(): Promise<void>;
  close(): Promise<void>;
}

/** A free TCP port on `host` (closed again before it is used: good enough on a test machine). */
function run(bin: string, argv: Argv, env: NodeJS.ProcessEnv, timeoutMs = 60_000) {
  const command = shellLine(argv);
  return new Promise<string>((resolve, reject) => {
    execFile(
      bin,
      [...argv],
      { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        if (err) reject(new ZitiCommandError(command, output || err.message, err));
        else resolve(output);
      },
    );
  });
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  detail: () => string = () => '',
): Promise<T> {
  const result = await pollUntil(probe, { timeoutMs, intervalMs: 200 });
  if ('value' in result) return result.value;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${result.why}\n${detail()}`);
}

/** A long-running `ziti` process whose output goes to `<dir>/<name>.log`. */
class ZitiProcess {
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  constructor(
    private readonly bin: string,
    private readonly argv: Argv,
    private readonly env: NodeJS.ProcessEnv,
    readonly logFile: string,
  ) {}

  start(): void {
    const out = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(this.bin, [...this.argv], {
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(out, { end: false });
    child.stderr?.pipe(out, { end: false });
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && !this.#child.killed;
  }

  describe(): string {
    return `${shellLine(this.argv)} (log ${this.logFile}):\n${tailFile(this.logFile)}`;
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await this.#exited;
    clearTimeout(timer);
  }
}

/** GET over HTTPS trusting only `ca`. */
function httpsJson(
  url: string,
  ca: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers: { accept: 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined });
        } catch (err) {
          reject(new Error(`${url}: not JSON: ${text.slice(0, 200)}`, { cause: err }));
        }
      });
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error(`${url}: timed out`)));
    req.end();
  });
}

export async function startOpenZiti(opts: OpenZitiOptions): Promise<RunningOpenZiti> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? (() => {});
  const dir = opts.dir;
  const names: NetworkNames = { router: 'er1', ...opts.names };
  const pki = join(dir, 'pki');
  const inter = join(pki, 'intermediate-ca');
  mkdirSync(join(dir, 'home'), { recursive: true });
  mkdirSync(join(dir, 'db'), { recursive: true });
  // The CLI keeps its login under $HOME/.config/ziti: give it a home of its own.
  const baseEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: join(dir, 'home') };
  const processes: ZitiProcess[] = [];
  const zitiProcess = (argv: Argv, name: string) => {
    const p = new ZitiProcess(opts.ziti, argv, baseEnv, join(dir, `${name}.log`));
    processes.push(p);
    return p;
  };
  const close = async () => {
    for (const p of [...processes].reverse()) await p.stop();
  };

  try {
    const version = (await run(opts.ziti, ['version'], baseEnv)).trim();
    log(`OpenZiti ${version} in ${dir}`);
    const [ctrlPort, apiPort, tlsPort, wssPort] = [
      await freePort(host),
      await freePort(host),
      await freePort(host),
      await freePort(host),
    ];

    // PKI: root CA, intermediate (also the edge signer), the controller's server and client certs.
    const trustDomain = 'zt-openziti';
    const sid = `spiffe://${trustDomain}/controller/ctrl`;
    for (const argv of [
      ['pki', 'create', 'ca', `--pki-root=${pki}`, '--ca-file=root-ca', '--ca-name=root-ca'],
      [
        'pki',
        'create',
        'intermediate',
        `--pki-root=${pki}`,
        '--ca-name=root-ca',
        '--intermediate-name=intermediate-ca',
        '--intermediate-file=intermediate-ca',
        '--max-path-len=1',
      ],
      [
        'pki',
        'create',
        'server',
        `--pki-root=${pki}`,
        '--ca-name=intermediate-ca',
        '--server-name=ctrl',
        '--server-file=server',
        `--dns=localhost`,
        `--ip=${host}`,
        `--spiffe-id=${sid}`,
      ],
      [
        'pki',
        'create',
        'client',
        `--pki-root=${pki}`,
        '--ca-name=intermediate-ca',
        '--client-name=ctrl',
        '--client-file=client',
        '--key-file=server',
        `--spiffe-id=${sid}`,
      ],
    ] satisfies Argv[]) {
      await run(opts.ziti, argv, baseEnv);
    }
    const rootCaPem = readFileSync(join(pki, 'root-ca', 'certs', 'root-ca.cert'), 'utf8');

    // Controller.
    const ctrlYaml = join(dir, 'controller.yaml');
    const ctrlEnv: NodeJS.ProcessEnv = {
      ...baseEnv,
      ZITI_HOME: dir,
      ZITI_CTRL_ADVERTISED_ADDRESS: host,
      ZITI_CTRL_ADVERTISED_PORT: String(ctrlPort),
      ZITI_CTRL_BIND_ADDRESS: host,
      ZITI_CTRL_EDGE_ADVERTISED_ADDRESS: host,
      ZITI_CTRL_EDGE_ADVERTISED_PORT: String(apiPort),
      ZITI_CTRL_EDGE_BIND_ADDRESS: host,
      ZITI_PKI_CTRL_CA: join(pki, 'root-ca', 'certs', 'root-ca.cert'),
      ZITI_PKI_CTRL_KEY: join(inter, 'keys', 'server.key'),
      ZITI_PKI_CTRL_SERVER_CERT: join(inter, 'certs', 'server.chain.pem'),
      ZITI_PKI_CTRL_CERT: join(inter, 'certs', 'client.chain.pem'),
      ZITI_PKI_SIGNER_CERT: join(inter, 'certs', 'intermediate-ca.cert'),
      ZITI_PKI_SIGNER_KEY: join(inter, 'keys', 'intermediate-ca.key'),
      ZITI_CTRL_DATABASE_FILE: join(dir, 'db', 'ctrl.db'),
    };
    await run(opts.ziti, ['create', 'config', 'controller', '--output', ctrlYaml], ctrlEnv);
    if (opts.apiSessionTimeout) {
      const yaml = readFileSync(ctrlYaml, 'utf8').replace(
        /sessionTimeout: \S+/,
        `sessionTimeout: ${opts.apiSessionTimeout}`,
      );
      writeFileSync(ctrlYaml, yaml);
    }
    if (opts.oidc)
      writeFileSync(ctrlYaml, withOidcOptions(readFileSync(ctrlYaml, 'utf8'), opts.oidc));
    await run(
      opts.ziti,
      ['controller', 'edge', 'init', ctrlYaml, '-u', ADMIN.user, '-p', ADMIN.password],
      ctrlEnv,
    );
    const controller = zitiProcess(
      ['controller', 'run', '--cliagent=false', ctrlYaml],
      'controller',
    );
    controller.start();
    const controllerUrl = `https://${host}:${apiPort}`;
    await until(
      'the controller',
      async () => {
        const r = await httpsJson(`${controllerUrl}/version`, rootCaPem);
        return r.status === 200 ? true : undefined;
      },
      30_000,
      () => controller.describe(),
    );

    const cli = (argv: Argv) => run(opts.ziti, argv, baseEnv);
    // The CLI keeps this login for the commands below; its API-session token also serves the
    // harness's own management-API reads.
    const loginOut = await cli([
      'edge',
      'login',
      controllerUrl,
      '-u',
      ADMIN.user,
      '-p',
      ADMIN.password,
      '--ca',
      join(pki, 'root-ca', 'certs', 'root-ca.cert'),
      '-y',
    ]);
    const adminToken = /Token: (\S+)/.exec(loginOut)?.[1];
    if (!adminToken) throw new ZitiCommandError('ziti edge login', loginOut);

    // The router: created, configured, enrolled, run.
    const routerDir = join(dir, names.router);
    mkdirSync(routerDir, { recursive: true });
    const routerJwt = join(dir, `${names.router}.jwt`);
    await cli(routerStep(names, routerJwt));
    const routerYaml = join(dir, `${names.router}.yaml`);
    writeFileSync(
      routerYaml,
      routerConfigYaml({
        dir: routerDir,
        controller: `${host}:${ctrlPort}`,
        listenHost: host,
        advertiseHost: host,
        tlsPort,
        wssPort,
      }),
    );
    await run(opts.ziti, ['router', 'enroll', routerYaml, '--jwt', routerJwt], baseEnv);
    const router = zitiProcess(['router', 'run', '--cliagent=false', routerYaml], names.router);
    const controllerJson = async (path: string, headers?: Record<string, string>) => {
      const r = await httpsJson(
        `${controllerUrl}${path}`,
        rootCaPem,
        headers ?? {
          'zt-session': adminToken,
        },
      );
      return r.json;
    };
    const routerOnline = async (online: boolean) =>
      until(
        `router ${names.router} ${online ? 'online' : 'offline'}`,
        async () => {
          const list = (await controllerJson(
            `/edge/management/v1/edge-routers?filter=${encodeURIComponent(`name="${names.router}"`)}`,
          )) as { data?: { isOnline?: boolean }[] };
          return list.data?.[0]?.isOnline === online ? true : undefined;
        },
        30_000,
        () => router.describe(),
      );
    const startRouter = async () => {
      router.start();
      await routerOnline(true);
    };
    const stopRouter = async () => {
      await router.stop();
      await routerOnline(false);
    };
    await startRouter();

    // The IdP as ext-jwt signer, the auth policy, the people, the service and its policies.
    const { signer, authPolicy } = signerSteps(names);
    const signerOut = await cli(signer);
    // Prints the new id alone (or "... created with id: <id>" in some versions).
    const signerId = /(?:created with id: )?(\S+)\s*$/.exec(signerOut.trim())?.[1];
    if (!signerId) throw new ZitiCommandError(shellLine(signer), signerOut);
    await cli(authPolicy.map((a) => (a === SIGNER_ID ? signerId : a)));
    for (const p of opts.people) await cli(personStep(names, p.name, p.externalId));
    for (const argv of serviceSteps(names)) await cli(argv);

    // The hosting tunneler, beside the app.
    if (opts.tunneler !== false) {
      const [createHost, enrollHost] = hostIdentitySteps(
        names,
        join(dir, `${names.hostIdentity}.jwt`),
        join(dir, `${names.hostIdentity}.json`),
      );
      await cli(createHost!);
      await run(opts.ziti, enrollHost!, baseEnv);
      const tunneler = zitiProcess(
        [
          'tunnel',
          'host',
          '--cli-agent=false',
          '--identity',
          join(dir, `${names.hostIdentity}.json`),
        ],
        'tunneler',
      );
      tunneler.start();
      await until(
        `a terminator for service ${names.service}`,
        async () => {
          const list = (await controllerJson(
            `/edge/management/v1/terminators?filter=${encodeURIComponent(`service.name="${names.service}"`)}`,
          )) as { data?: unknown[] };
          return list.data && list.data.length > 0 ? true : undefined;
        },
        30_000,
        () => tunneler.describe(),
      );
    }

    return {
      version,
      controllerUrl,
      rootCaPem,
      router: { name: names.router, tlsPort, wssPort, wssUrl: `wss://${host}:${wssPort}` },
      cli,
      controllerJson,
      stopRouter,
      startRouter,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
