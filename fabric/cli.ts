/**
 * `npm start`: the whole local dev fabric (IdP, controller, edge router, tunneler, dark demo app)
 * and the bootstrap site on http://localhost:8080/. See fabric/README.md for flags and the config.
 * `--static-only` serves just the build (no fabric), as the foundation's CLI did.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PortInUseError } from './_internal/listen.ts';
import { type DemoUser, fabricBanner } from './banner.ts';
import {
  DEFAULT_CONFIG_INPUT,
  type FabricConfig,
  FabricConfigError,
  loadFabricConfigFile,
  parseFabricConfig,
} from './config.ts';
import { type DarkApp, type RunningFabric, startFabric } from './fabric.ts';
import { createLogger, type LogLevel } from './log.ts';
import { serveStaticSite } from './static-site.ts';

const USAGE = `usage: tsx fabric/cli.ts [options]
  --config <file>        fabric config (YAML or JSON); env ZT_FABRIC_CONFIG
  --host <host>          host for the site and every listener, and in advertised URLs (default localhost); env ZT_HOST
  --port <port>          bootstrap site port (default 8080); env ZT_PORT
  --controller-port <p>  controller port (default 1280)
  --idp-port <p>         IdP port (default 8081)
  --router-port <p>      router wss:// port, the browsers' listener (default 3023)
  --router-tls-port <p>  router tls: port for hosting (default 3022)
  --dev-plain-ws         DEV ONLY, not what a real router does: also a plain ws:// router listener
                         (port 3024) that config.json lets the browser use, for a browser that
                         does not trust the fabric CA (npm start sets it)
  --ephemeral-ports      controller, IdP and router on free ports (tests, parallel runs)
  --data-dir <dir>       PKI and app data (default fabric/.data)
  --dev-user <name>      name of the person's login (default developer); env ZT_DEV_USER
  --dev-password <pw>    their password (default zt-dev-password); env ZT_DEV_PASSWORD
  --root <dir>           the browser build to serve (default dist/)
  --static-only          serve only the build, no fabric
  --log <level>          debug|info|warn|error (default info); env ZT_LOG
  --help`;

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: process.env.ZT_FABRIC_CONFIG },
    host: { type: 'string', default: process.env.ZT_HOST },
    port: { type: 'string', default: process.env.ZT_PORT },
    'controller-port': { type: 'string' },
    'idp-port': { type: 'string' },
    'router-port': { type: 'string' },
    'router-tls-port': { type: 'string' },
    'dev-plain-ws': { type: 'boolean', default: false },
    'ephemeral-ports': { type: 'boolean', default: false },
    'data-dir': { type: 'string' },
    'dev-user': { type: 'string', default: process.env.ZT_DEV_USER },
    'dev-password': { type: 'string', default: process.env.ZT_DEV_PASSWORD },
    root: { type: 'string', default: resolve(import.meta.dirname, '../dist') },
    'static-only': { type: 'boolean', default: false },
    log: { type: 'string', default: process.env.ZT_LOG ?? 'info' },
    help: { type: 'boolean', default: false },
  },
});

/** Port of the dev-only plain ws listener that `--dev-plain-ws` adds. */
const DEV_PLAIN_WS_PORT = 3024;

/** The demo app's accounts, once this run has started it (none for any other app). */
let demoUsers: readonly DemoUser[] = [];

function fail(message: string, code = 2): never {
  console.error(`error: ${message}`);
  process.exit(code);
}

if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

function portOf(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    fail(`--${name} must be an integer 0-65535, got "${raw}"`);
  return n;
}

const sitePort = portOf('port', values.port);
if (!existsSync(resolve(values.root, 'index.html'))) {
  fail(`no build in ${values.root}; run \`npm run build\` first`);
}
const log = createLogger(values.log as LogLevel);

if (values['static-only']) {
  const host = values.host ?? 'localhost';
  try {
    const server = await serveStaticSite({ root: values.root, host, port: sitePort ?? 8080 });
    // Installed before the URL is printed and kept while closing, as in runFabric().
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      server.close(() => process.exit(0));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    const address = server.address();
    console.log(
      `Open http://${host}:${typeof address === 'object' && address ? address.port : sitePort}/`,
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    fail(
      code === 'EADDRINUSE'
        ? `${host}:${sitePort} is already in use; stop the other server or pass --port`
        : (err as Error).message,
      1,
    );
  }
} else {
  await runFabric();
}

/** Applies flags on top of the config file (or the defaults). */
function buildConfig(): { config: FabricConfig; baseDir: string } {
  let config: FabricConfig;
  let baseDir = resolve(import.meta.dirname, '..');
  try {
    if (values.config) {
      config = loadFabricConfigFile(values.config);
      baseDir = dirname(resolve(values.config));
    } else {
      config = parseFabricConfig(DEFAULT_CONFIG_INPUT);
    }
  } catch (err) {
    if (err instanceof FabricConfigError) fail(err.message);
    fail(`cannot read ${values.config}: ${(err as Error).message}`);
  }
  if (values.host) {
    config.advertiseHost = values.host;
    config.site.host = values.host;
    config.controller.host = values.host;
    config.idp.host = values.host;
    config.router.host = values.host;
  }
  if (sitePort !== undefined) config.site.port = sitePort;
  const eph = values['ephemeral-ports'] ? 0 : undefined;
  config.controller.port =
    portOf('controller-port', values['controller-port']) ?? eph ?? config.controller.port;
  config.idp.port = portOf('idp-port', values['idp-port']) ?? eph ?? config.idp.port;
  config.router.wssPort =
    portOf('router-port', values['router-port']) ?? eph ?? config.router.wssPort;
  config.router.tlsPort =
    portOf('router-tls-port', values['router-tls-port']) ?? eph ?? config.router.tlsPort;
  if (values['dev-plain-ws']) config.router.devPlainWsPort ??= eph ?? DEV_PLAIN_WS_PORT;
  if (values['data-dir']) config.dataDir = resolve(values['data-dir']);
  const dev = config.identities.find(
    (i) => i.password !== undefined && i.name !== config.tunnelerIdentity,
  );
  if (dev && values['dev-user']) {
    dev.name = values['dev-user'];
    dev.externalId = values['dev-user'];
  }
  if (dev && values['dev-password']) dev.password = values['dev-password'];
  return { config, baseDir };
}

/** The Mattermost-compatible demo app, when its module is present. */
async function demoAppStarter(): Promise<
  ((o: { host: string; port: number; dataDir: string }) => Promise<DarkApp>) | undefined
> {
  const path = resolve(import.meta.dirname, 'demo-app/index.ts');
  if (!existsSync(path)) return undefined;
  const mod = (await import(path)) as {
    startDemoApp(o: {
      host: string;
      port: number;
      dataDir: string;
    }): Promise<{ port: number; close(): Promise<void> }>;
    DEFAULT_USERS?: readonly { username: string; password: string }[];
  };
  return async (o) => {
    const app = await mod.startDemoApp(o);
    demoUsers = mod.DEFAULT_USERS ?? [];
    return { host: o.host, port: app.port, close: () => app.close() };
  };
}

/**
 * A real router serves browsers only over wss, whose certificate comes from the fabric CA here, which
 * a person's browser does not trust: say which way this run takes.
 */
function routerTrustNote(fabric: RunningFabric, caFile: string): string[] {
  return fabric.router.urls.ws
    ? [
        '               ws:// is a DEV-ONLY plain listener (--dev-plain-ws; a real router has none):',
        '               the browser falls back to it when it does not trust the fabric CA for wss',
      ]
    : [
        `               browsers must trust the fabric CA for wss: ${caFile}`,
        '               (or run with --dev-plain-ws for a dev-only plain ws:// listener)',
      ];
}

async function runFabric(): Promise<void> {
  const { config, baseDir } = buildConfig();
  let startApp = await demoAppStarter();
  if (!startApp) {
    const { startTestApp } = await import('./testing/test-app.ts');
    log.warn('fabric/demo-app not found: hosting a minimal test page instead');
    startApp = async ({ host }) => {
      const app = await startTestApp(host);
      return { host, port: app.port, close: app.close };
    };
  }
  let fabric: RunningFabric;
  try {
    fabric = await startFabric({ config, baseDir, log, siteRoot: values.root, startApp });
  } catch (err) {
    if (err instanceof PortInUseError) fail(`${err.message} (see --help for the port flags)`, 1);
    fail((err as Error).stack ?? String(err), 1);
  }
  const lines = fabricBanner({
    siteUrl: fabric.siteUrl,
    devUser: fabric.devUser,
    siteService: fabric.siteService,
    demoApp: fabric.app && { host: fabric.app.host, port: fabric.app.port, users: demoUsers },
    controllerUrl: fabric.controller.url,
    idpIssuer: fabric.idp.issuer,
    routerUrls: Object.values(fabric.router.urls),
    routerNote: routerTrustNote(fabric, resolve(baseDir, config.dataDir, 'pki/root.cert.pem')),
  });
  // The handlers stay installed while the fabric closes, and come before the banner that says
  // Ctrl-C works: a signal with no handler ends the process at once, without the clean shutdown
  // and with 128 + the signal as its status. A second signal (a launcher relaying Ctrl-C again,
  // or an impatient person) must not cut the shutdown short either.
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: shutting down`);
    const force = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, 10_000);
    force.unref();
    await fabric.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  console.log(lines.join('\n'));
}
