/**
 * Mattermost's own server on one machine: a throwaway PostgreSQL cluster (Debian's `postgresql`)
 * and the `mattermost` binary (build-mattermost.sh), each a child process on 127.0.0.1 with free
 * ports, with a generated config.json (Site URL = the public URL the browser sees, no outbound
 * features, local mode on a unix socket in `dir`) and no webapp. The first admin, the team and the
 * users are created through the local-mode socket. Everything lives in one directory; `close()`
 * stops the processes. A failing step throws an error that names it and carries the process logs.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  cpSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { type IncomingMessage, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { builtBinary, freePort, pollUntil, tailFile } from '../fabric/_internal/processes.ts';

/** The demo app's accounts (fabric/demo-app), so the same flows log in to either server. */
export const DEFAULT_USERS: readonly MattermostUser[] = [
  { username: 'alice', password: 'alice-demo-pass', firstName: 'Alice', lastName: 'Archer' },
  { username: 'bob', password: 'bob-demo-pass', firstName: 'Bob', lastName: 'Baker' },
];
/** The system admin the harness creates first (Mattermost makes the first account admin). */
export const ADMIN: MattermostUser = { username: 'zt-admin', password: 'zt-admin-password' };
/** The team every user joins; Mattermost creates `town-square` and `off-topic` in it. */
export const TEAM = { name: 'demo', displayName: 'Demo Team' };

export interface MattermostUser {
  username: string;
  password: string;
  email?: string;
  firstName?: string;
  lastName?: string;
}

export class MattermostError extends Error {
  override readonly name = 'MattermostError';
  readonly code = 'ERR_MATTERMOST';
  constructor(
    readonly step: string,
    readonly output: string,
    cause?: unknown,
  ) {
    super(`${step} failed:\n${output.trim().split('\n').slice(-30).join('\n')}`, { cause });
  }
}

let builtMattermost: string | undefined;
/** Path of the cached `mattermost` binary; build-mattermost.sh builds it first if it is missing. */
export function mattermostBinary(): string {
  builtMattermost ??= builtBinary(resolve(import.meta.dirname, 'build-mattermost.sh'));
  return builtMattermost;
}

/** The cached binary if build-mattermost.sh has already built it, without building. */
export function cachedMattermostBinary(): string | undefined {
  const root = resolve(import.meta.dirname, '../.cache/mattermost');
  const script = readFileSync(resolve(import.meta.dirname, 'build-mattermost.sh'), 'utf8');
  const pinned = /MATTERMOST_VERSION:-([^}]+)\}/.exec(script)?.[1];
  const version = process.env.MATTERMOST_VERSION ?? pinned;
  if (!version) return undefined;
  const bin = join(root, version, 'bin', 'mattermost');
  return existsSync(bin) && existsSync(join(root, version, 'i18n')) ? bin : undefined;
}

/**
 * Copies the demo chat UI's build (fabric/demo-app/web/dist, `npm run build:demo`) into `into` in
 * the layout of Mattermost's webapp folder (index.html becomes root.html; the rest is served under
 * /static/, where the UI's assets already point), for {@link MattermostOptions.clientDir}.
 */
export function demoUiClientDir(into: string): string {
  const dist = resolve(import.meta.dirname, '../fabric/demo-app/web/dist');
  if (!existsSync(join(dist, 'index.html'))) {
    throw new MattermostError(
      'copying the demo UI',
      `no ${dist}/index.html: run npm run build:demo`,
    );
  }
  cpSync(dist, into, { recursive: true });
  renameSync(join(into, 'index.html'), join(into, 'root.html'));
  return into;
}

/** Debian's PostgreSQL server binaries (`initdb`, `postgres`), newest major first; PG_BIN overrides. */
export function postgresBinDir(): string | undefined {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const majors = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] ? join(base, majors[0], 'bin') : undefined;
}

export interface MattermostOptions {
  /** The `mattermost` binary (see build-mattermost.sh); its i18n/, templates/, fonts/ sit beside bin/. */
  binary: string;
  /**
   * Working directory for the config, files, logs and the database cluster (created); as root the
   * cluster lives in a temp folder of its own instead, removed by `close()`.
   */
  dir: string;
  /** The public URL the browser sees (Mattermost's Site URL: websocket origin check, links). */
  siteUrl: string;
  /** Listen host; default 127.0.0.1 (the server is dark: loopback only). */
  host?: string;
  /** Accounts besides the admin; default {@link DEFAULT_USERS}. All join {@link TEAM}. */
  users?: readonly MattermostUser[];
  /**
   * `ServiceSettings.ExperimentalStrictCSRFEnforcement`; default false as Mattermost's own default,
   * which lets a cookie-authenticated write without `X-CSRF-Token` through when it carries
   * `X-Requested-With: XMLHttpRequest`.
   */
  strictCsrf?: boolean;
  /**
   * Folder copied to Mattermost's `client/` (its webapp: `root.html` answers every page path,
   * `/static/*` serves the folder); default one with a stub root.html. The demo chat UI's build
   * (fabric/demo-app/web/dist with index.html as root.html) fits this layout.
   */
  clientDir?: string;
  /** Last word on the generated config.json. */
  editConfig?: (config: MattermostConfig) => void;
  /** Milliseconds to wait for the server to answer /api/v4/system/ping; default 120 000. */
  startTimeoutMs?: number;
  /** PostgreSQL server binaries; default {@link postgresBinDir}. */
  pgBin?: string;
  log?: (line: string) => void;
}

export type MattermostConfig = Record<string, Record<string, unknown>>;

export interface CreatedUser {
  id: string;
  username: string;
  password: string;
}

export interface RunningMattermost {
  /** Where the server listens, e.g. `http://127.0.0.1:41234`. */
  url: string;
  host: string;
  port: number;
  siteUrl: string;
  /** Mattermost's version (`X-Version-Id`'s first field), e.g. `11.4.0`. */
  version: string;
  /** Milliseconds from spawning `mattermost server` to its first answer on /api/v4/system/ping. */
  startMs: number;
  admin: CreatedUser;
  users: CreatedUser[];
  team: { id: string; name: string };
  channels: { id: string; name: string }[];
  /** The server's console log and PostgreSQL's log. */
  logFiles: { mattermost: string; postgres: string };
  /**
   * Changes the Site URL while running (local-mode config patch): for hosts that learn the public
   * URL only after the app is up, as the e2e fabric does.
   */
  setSiteUrl(url: string): Promise<void>;
  /** A request on the local-mode socket (no authentication), JSON in and out; throws on >= 400. */
  local(method: string, path: string, body?: unknown): Promise<unknown>;
  close(): Promise<void>;
}

/** A free TCP port on `host` (closed again before it is used: good enough on a test machine). */
/** uid/gid to run PostgreSQL as: it refuses root, so as root use Debian's `postgres` account. */
function postgresAccount(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) {
    throw new MattermostError('PostgreSQL as root', 'no `postgres` account in /etc/passwd');
  }
  return { uid: Number(uid), gid: Number(gid) };
}

function runOnce(
  step: string,
  bin: string,
  argv: readonly string[],
  opts: { env: NodeJS.ProcessEnv; account?: { uid: number; gid: number }; cwd?: string },
): Promise<string> {
  return new Promise((ok, fail) => {
    execFile(
      bin,
      [...argv],
      { env: opts.env, cwd: opts.cwd, timeout: 60_000, ...opts.account },
      (err, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        if (err) fail(new MattermostError(step, output || err.message, err));
        else ok(output);
      },
    );
  });
}

/** A long-running child whose output goes to `logFile`. */
class Child {
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  constructor(
    readonly what: string,
    private readonly bin: string,
    private readonly argv: readonly string[],
    private readonly opts: {
      env: NodeJS.ProcessEnv;
      cwd?: string;
      account?: { uid: number; gid: number };
    },
    readonly logFile: string,
  ) {}

  start(): void {
    const out = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(this.bin, [...this.argv], {
      env: this.opts.env,
      cwd: this.opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...this.opts.account,
    });
    child.stdout?.pipe(out, { end: false });
    child.stderr?.pipe(out, { end: false });
    this.#child = child;
    this.#exited = new Promise((ok) => child.once('exit', () => ok()));
  }

  get exited(): boolean {
    return this.#child !== undefined && this.#child.exitCode !== null;
  }

  describe(): string {
    return `${this.what}: ${this.bin} ${this.argv.join(' ')} (log ${this.logFile}):\n${tailFile(this.logFile)}`;
  }

  /** Sends `signal`, SIGKILL after 10 s. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await this.#exited;
    clearTimeout(timer);
  }
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  child: Child,
): Promise<T> {
  const result = await pollUntil(probe, { timeoutMs, intervalMs: 100, exited: () => child.exited });
  if ('value' in result) return result.value;
  throw new MattermostError(
    result.exited
      ? `${what} (the process exited)`
      : `waiting ${timeoutMs} ms for ${what}${result.why}`,
    child.describe(),
  );
}

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function httpRequest(
  target: { url: string } | { socketPath: string; path: string },
  method: string,
  body?: unknown,
): Promise<HttpAnswer> {
  return new Promise((ok, fail) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const options =
      'url' in target
        ? { method, headers }
        : { method, headers, socketPath: target.socketPath, path: target.path };
    const onResponse = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        ok({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', fail);
    };
    const req =
      'url' in target ? request(target.url, options, onResponse) : request(options, onResponse);
    req.on('error', fail);
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} timed out`)));
    req.end(payload);
  });
}

/** The config.json the harness starts from: loopback, local mode, nothing that calls out. */
export function mattermostConfig(opts: {
  siteUrl: string;
  listen: string;
  dataSource: string;
  dir: string;
  strictCsrf: boolean;
}): MattermostConfig {
  return {
    ServiceSettings: {
      SiteURL: opts.siteUrl,
      ListenAddress: opts.listen,
      EnableLocalMode: true,
      LocalModeSocketLocation: join(opts.dir, 'mattermost.sock'),
      ExperimentalStrictCSRFEnforcement: opts.strictCsrf,
      EnableSecurityFixAlert: false,
      EnableLinkPreviews: false,
      EnableGifPicker: false,
      EnableDeveloper: false,
      EnableTesting: false,
    },
    TeamSettings: { EnableOpenServer: false, EnableUserCreation: true },
    SqlSettings: { DriverName: 'postgres', DataSource: opts.dataSource },
    LogSettings: {
      EnableConsole: true,
      ConsoleLevel: 'INFO',
      ConsoleJson: false,
      EnableFile: false,
      EnableDiagnostics: false,
      EnableSentry: false,
    },
    NotificationLogSettings: { EnableConsole: false, EnableFile: false },
    // Room for the e2e downloads that must outrun the worker's limit per connection.
    FileSettings: {
      DriverName: 'local',
      Directory: join(opts.dir, 'files'),
      MaxFileSize: 512 * 1024 * 1024,
    },
    EmailSettings: {
      SendEmailNotifications: false,
      RequireEmailVerification: false,
      SendPushNotifications: false,
    },
    PluginSettings: {
      Enable: false,
      EnableUploads: false,
      EnableMarketplace: false,
      EnableRemoteMarketplace: false,
      AutomaticPrepackagedPlugins: false,
      Directory: join(opts.dir, 'plugins'),
      ClientDirectory: join(opts.dir, 'client-plugins'),
    },
    AnnouncementSettings: { AdminNoticesEnabled: false, UserNoticesEnabled: false },
    ImageProxySettings: { Enable: false },
    MetricsSettings: { Enable: false },
    RateLimitSettings: { Enable: false },
  };
}

/** Starts PostgreSQL and Mattermost in `dir` and creates the admin, the team and the users. */
export async function startMattermost(opts: MattermostOptions): Promise<RunningMattermost> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? (() => {});
  const dir = resolve(opts.dir);
  const pgBin = opts.pgBin ?? postgresBinDir();
  if (!pgBin) {
    throw new MattermostError(
      'finding PostgreSQL',
      'no /usr/lib/postgresql/<major>/bin/postgres: install Debian\'s "postgresql" package (or set PG_BIN)',
    );
  }
  const account = postgresAccount();
  for (const d of [dir, join(dir, 'files'), join(dir, 'plugins'), join(dir, 'client-plugins')])
    mkdirSync(d, { recursive: true });
  // As root, the cluster belongs to the postgres account, which must reach its directory: a
  // fresh one directly under the system temp folder (any folder of the caller's may be 0700).
  const pgDir = account ? mkdtempSync(join(tmpdir(), 'zt-mattermost-pg-')) : join(dir, 'postgres');
  mkdirSync(pgDir, { recursive: true });
  if (account) {
    chmodSync(pgDir, 0o700);
    chownSync(pgDir, account.uid, account.gid);
  }
  // Mattermost serves its webapp from client/ in its working directory (`dir`); it rewrites
  // root.html's asset paths at start and logs an error if there is none.
  const clientDir = join(dir, 'client');
  if (opts.clientDir) {
    // A copy: Mattermost may rewrite root.html in place.
    cpSync(resolve(opts.clientDir), clientDir, { recursive: true });
  } else {
    mkdirSync(clientDir, { recursive: true });
    writeFileSync(join(clientDir, 'root.html'), '<!doctype html><title>Mattermost</title>\n');
  }
  // Only what the processes need: no MM_* from the caller's environment overrides the config.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir, LANG: 'C.UTF-8' };
  const children: Child[] = [];
  // Mattermost first (SIGTERM: graceful), then PostgreSQL (SIGINT: fast shutdown, no waiting for
  // clients: it is a throwaway database).
  const close = async () => {
    for (const c of [...children].reverse())
      await c.stop(c.what === 'postgres' ? 'SIGINT' : 'SIGTERM');
    if (account) rmSync(pgDir, { recursive: true, force: true });
  };

  try {
    // PostgreSQL: a cluster of its own, trust auth on loopback, no durability (a test database).
    const data = join(pgDir, 'data');
    const dbUser = 'mmuser';
    await runOnce(
      'initdb',
      join(pgBin, 'initdb'),
      ['-D', data, '-U', dbUser, '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8'],
      { env, account, cwd: pgDir },
    );
    const pgPort = await freePort(host);
    const postgres = new Child(
      'postgres',
      join(pgBin, 'postgres'),
      [
        '-D',
        data,
        '-c',
        `listen_addresses=${host}`,
        '-p',
        String(pgPort),
        '-k',
        pgDir,
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
      ],
      { env, account, cwd: pgDir },
      join(dir, 'postgres.log'),
    );
    children.push(postgres);
    postgres.start();
    const pgReady = ['-h', host, '-p', String(pgPort)];
    await until(
      'PostgreSQL to accept connections',
      () => runOnce('pg_isready', join(pgBin, 'pg_isready'), pgReady, { env }).then(() => true),
      30_000,
      postgres,
    );
    await runOnce(
      'createdb',
      join(pgBin, 'createdb'),
      ['-h', host, '-p', String(pgPort), '-U', dbUser, 'mattermost'],
      { env },
    );

    // Mattermost.
    const port = await freePort(host);
    const config = mattermostConfig({
      siteUrl: opts.siteUrl,
      listen: `${host}:${port}`,
      dataSource: `postgres://${dbUser}@${host}:${pgPort}/mattermost?sslmode=disable&connect_timeout=10`,
      dir,
      strictCsrf: opts.strictCsrf ?? false,
    });
    opts.editConfig?.(config);
    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
    const server = new Child(
      'mattermost',
      opts.binary,
      ['server', '--config', configFile],
      { env, cwd: dir },
      join(dir, 'mattermost.log'),
    );
    children.push(server);
    const started = performance.now();
    server.start();
    const url = `http://${host}:${port}`;
    const ping = await until(
      'Mattermost to answer /api/v4/system/ping',
      async () => {
        const r = await httpRequest({ url: `${url}/api/v4/system/ping` }, 'GET');
        return r.status === 200 ? r : undefined;
      },
      opts.startTimeoutMs ?? 120_000,
      server,
    );
    const startMs = Math.round(performance.now() - started);
    const versionHeader = ping.headers['x-version-id'];
    const version = String(Array.isArray(versionHeader) ? versionHeader[0] : versionHeader).split(
      '.',
    );
    log(`Mattermost ${version.slice(0, 3).join('.')} at ${url} after ${startMs} ms (${dir})`);

    const socketPath = join(dir, 'mattermost.sock');
    const local = async (method: string, path: string, body?: unknown) => {
      const r = await httpRequest({ socketPath, path }, method, body);
      if (r.status >= 400) {
        throw new MattermostError(`local ${method} ${path}`, `HTTP ${r.status}: ${r.text}`);
      }
      return r.text ? (JSON.parse(r.text) as unknown) : undefined;
    };
    await until(
      'the local-mode socket',
      async () => ((await local('GET', '/api/v4/system/ping')) ? true : undefined),
      30_000,
      server,
    );
    const createUser = async (u: MattermostUser): Promise<CreatedUser> => {
      const created = (await local('POST', '/api/v4/users', {
        username: u.username,
        password: u.password,
        email: u.email ?? `${u.username}@zt-demo.test`,
        first_name: u.firstName ?? '',
        last_name: u.lastName ?? '',
      })) as { id: string };
      return { id: created.id, username: u.username, password: u.password };
    };
    // The first account of a fresh database is the system admin.
    const admin = await createUser(ADMIN);
    const users: CreatedUser[] = [];
    for (const u of opts.users ?? DEFAULT_USERS) users.push(await createUser(u));
    const team = (await local('POST', '/api/v4/teams', {
      name: TEAM.name,
      display_name: TEAM.displayName,
      type: 'O',
    })) as { id: string; name: string };
    for (const u of [admin, ...users]) {
      await local('POST', `/api/v4/teams/${team.id}/members`, { team_id: team.id, user_id: u.id });
    }
    const channels: { id: string; name: string }[] = [];
    for (const name of ['town-square', 'off-topic']) {
      const c = (await local('GET', `/api/v4/teams/${team.id}/channels/name/${name}`)) as {
        id: string;
      };
      channels.push({ id: c.id, name });
      // Joining the team joins these two already; adding a member again is a no-op.
      for (const u of users) {
        await local('POST', `/api/v4/channels/${c.id}/members`, { user_id: u.id });
      }
    }

    const running: RunningMattermost = {
      url,
      host,
      port,
      siteUrl: opts.siteUrl,
      version: version.slice(0, 3).join('.'),
      startMs,
      admin,
      users,
      team: { id: team.id, name: team.name },
      channels,
      logFiles: { mattermost: server.logFile, postgres: postgres.logFile },
      async setSiteUrl(siteUrl: string) {
        await local('PUT', '/api/v4/config/patch', { ServiceSettings: { SiteURL: siteUrl } });
        running.siteUrl = siteUrl;
      },
      local,
      close,
    };
    return running;
  } catch (err) {
    await close();
    throw err;
  }
}
