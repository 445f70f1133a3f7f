/**
 * What `npm start` prints once the fabric is up: where to open the app, whom to sign in as, and
 * where each part listens. Only what this run has: the demo app's accounts appear only when the demo
 * app was started, and a service hosted elsewhere is named with the address its `host.v1` gives.
 */
import type { HostV1, IdentityConfig, ServiceConfig } from './config.ts';

export interface BannerInput {
  siteUrl: string | undefined;
  /** The person's login at the IdP (`RunningFabric.devUser`). */
  devUser: Pick<IdentityConfig, 'name' | 'password'> | undefined;
  /** The service `/__zt/config.json` names (`RunningFabric.siteService`). */
  siteService: Pick<ServiceConfig, 'name' | 'configs' | 'target'> | undefined;
  /** The demo app, when this run started it, with its accounts. */
  demoApp: { host: string; port: number; users: readonly DemoUser[] } | undefined;
  controllerUrl: string;
  idpIssuer: string;
  routerUrls: readonly string[];
  /** Lines under the router's, saying how the browser trusts it (cli.ts `routerTrustNote`). */
  routerNote: readonly string[];
}

export interface DemoUser {
  username: string;
  password: string;
}

function hostV1Of(service: Pick<ServiceConfig, 'configs'>): HostV1 | undefined {
  const h = service.configs['host.v1'] as Partial<HostV1> | undefined;
  return h && typeof h.address === 'string' && typeof h.port === 'number'
    ? { protocol: h.protocol ?? 'tcp', address: h.address, port: h.port }
    : undefined;
}

/** The banner's lines, without blank lines in a row. */
export function fabricBanner(b: BannerInput): string[] {
  const lines: string[] = [
    '',
    '  zt-browser dev fabric is running',
    '',
    `  Open:        ${b.siteUrl ?? '(no site)'}`,
    b.devUser
      ? `  Sign in as:  ${b.devUser.name} / ${b.devUser.password}   (at the fabric IdP)`
      : '  (no identity with a password may dial a service)',
  ];
  if (b.demoApp && b.demoApp.users.length > 0)
    lines.push(
      `  Then in the demo app: ${b.demoApp.users.map((u) => `${u.username} / ${u.password}`).join(', ')}`,
    );
  lines.push(
    '',
    `  controller   ${b.controllerUrl}`,
    `  IdP          ${b.idpIssuer}`,
    `  router       ${b.routerUrls.join('  ')}`,
    ...b.routerNote,
  );
  const service = b.siteService;
  if (service?.target === 'demo-app' && b.demoApp) {
    lines.push(
      `  dark app     ${b.demoApp.host}:${b.demoApp.port} (loopback only, reached through the tunneler)`,
    );
  } else if (service) {
    const h = hostV1Of(service);
    lines.push(
      `  dark app     service "${service.name}"${h ? ` -> ${h.protocol}:${h.address}:${h.port}` : ''}`,
    );
  } else {
    lines.push('  (no service: /__zt/config.json names none)');
  }
  lines.push('', '  Ctrl-C stops everything.', '');
  return lines.filter((l, i, a) => l !== '' || a[i - 1] !== '');
}
