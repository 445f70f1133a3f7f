/**
 * `npm run start:real`: the same local setup as `npm start`, with OpenZiti's own controller, router
 * and `ziti tunnel host` in place of the fabric's (openziti/local.ts). Prints the same URL and
 * logins. Needs Go to build `ziti` the first time (openziti/build-ziti.sh).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseFabricConfig } from '../fabric/config.ts';
import { DEFAULT_USERS, startDemoApp } from '../fabric/demo-app/index.ts';
import { createLogger } from '../fabric/log.ts';
import { startLocalOpenZiti } from './local.ts';
import { ADMIN, zitiBinary } from './network.ts';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8080' },
    'idp-port': { type: 'string', default: '8081' },
    root: { type: 'string', default: join(root, 'dist') },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(`usage: tsx openziti/cli.ts [--port 8080] [--idp-port 8081] [--root dist/]

Runs the demo app behind OpenZiti's own controller, router and tunneler (built from Go modules by
openziti/build-ziti.sh) with the fabric's IdP and the bootstrap site, all on 127.0.0.1.`);
  process.exit(0);
}
const log = createLogger();
const { identities } = parseFabricConfig({});
const dir = mkdtempSync(join(tmpdir(), 'zt-openziti-'));
const local = await startLocalOpenZiti({
  ziti: zitiBinary(),
  dir,
  host: '127.0.0.1',
  sitePort: Number(values.port),
  idpPort: Number(values['idp-port']),
  siteRoot: values.root,
  people: identities.filter((i) => i.password !== undefined && i.name !== 'tunneler'),
  service: 'demo',
  log,
  startApp: async (listen) => {
    const app = await startDemoApp(listen);
    return { host: listen.host, port: app.port, close: () => app.close() };
  },
}).catch((err: Error) => {
  console.error(`error: ${err.message}`);
  process.exit(1);
});
const dev = identities.find((i) => i.name === 'developer');
const { network } = local;
console.log(
  [
    '',
    `  zt-browser with OpenZiti ${network.version} is running`,
    '',
    `  Open:        http://localhost:${values.port}/`,
    `  Sign in as:  ${dev?.name} / ${dev?.password}   (at the local IdP)`,
    `  Then in the demo app: ${DEFAULT_USERS.map((u) => `${u.username} / ${u.password}`).join(', ')}`,
    '',
    `  controller   ${network.controllerUrl}`,
    `               admin: ziti edge login ${network.controllerUrl} -u ${ADMIN.user} -p ${ADMIN.password} --ca ${dir}/openziti/pki/root-ca/certs/root-ca.cert`,
    `  IdP          ${local.idp.issuer}`,
    `  router       ${network.router.wssUrl}  tls://127.0.0.1:${network.router.tlsPort}`,
    `               browsers must trust OpenZiti's root CA for the controller and the router's wss:`,
    `               ${dir}/openziti/pki/root-ca/certs/root-ca.cert`,
    `               (or start Chromium with --ignore-certificate-errors for a local try)`,
    `  dark app     ${local.app.host}:${local.app.port} (loopback only, reached through ziti tunnel host)`,
    `  logs         ${dir}/openziti/*.log`,
    '',
    '  Ctrl-C stops everything.',
    '',
  ].join('\n'),
);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await local.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
