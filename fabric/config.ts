/**
 * The fabric's one config file (YAML or JSON): listeners, identities, services, policies, IdP users.
 * `parseFabricConfig` validates everything up front and reports every problem with its path, so a
 * typo never surfaces later as a confusing runtime failure. See fabric/README.md for the format.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface InterceptV1 {
  protocols: string[];
  addresses: string[];
  portRanges: { low: number; high: number }[];
}

export interface HostV1 {
  protocol: string;
  address: string;
  port: number;
}

export interface ServiceConfig {
  name: string;
  encryptionRequired: boolean;
  roleAttributes: string[];
  /** Config JSON keyed by config-type name (`intercept.v1`, `host.v1`, ...). */
  configs: Record<string, unknown>;
  /**
   * Who hosts the service: `tunneler` (a hosting process Binds it over the router's `tls:` listener)
   * or `router` (the router dials `host.v1` itself, §3.5 last paragraph).
   */
  hosting: 'tunneler' | 'router';
  /** `demo-app`: `host.v1` is filled in with the started demo app's loopback address. */
  target?: 'demo-app';
}

export interface IdentityConfig {
  name: string;
  /** Stable id used in certificates and tokens; defaults to a value derived from the name. */
  id: string;
  roleAttributes: string[];
  /** Enables `method=password` and the IdP login for this identity. */
  password?: string;
  /** The IdP subject (`sub`) that maps to this identity (ext-jwt `useExternalId`). */
  externalId: string;
  disabled: boolean;
}

export interface PolicyConfig {
  type: 'Dial' | 'Bind';
  /** `#attribute`, `@identityName` or `#all`. */
  identityRoles: string[];
  serviceRoles: string[];
}

export interface FabricConfig {
  /** Where the PKI and other state are kept (relative paths are relative to the config file). */
  dataDir: string;
  trustDomain: string;
  /** Public hostname used in advertised URLs (router URLs, issuer, controller). */
  advertiseHost: string;
  site: ListenAddress;
  controller: ListenAddress & {
    apiSessionTimeoutSeconds: number;
    sessionCertValiditySeconds: number;
    maxBodyBytes: number;
    /**
     * Serve the OIDC API (`/oidc`, access tokens as `Authorization: Bearer`, `OIDC_AUTH` and the
     * `edge-oidc` binding in `/version`). false = a controller without the `edge-oidc` binding,
     * whose clients can only take the legacy path.
     */
    oidc: boolean;
    /** `edge.oidc.accessTokenDuration` of a real controller (default 30 min, there at least 1 min). */
    oidcAccessTokenSeconds: number;
  };
  idp: ListenAddress & { clientId: string; audience: string; accessTokenTtlSeconds: number };
  router: {
    name: string;
    host: string;
    /**
     * The browser listener, `wss://host:wssPort/ws` (§5): outer TLS with the fabric's router
     * certificate, inner mutual TLS inside the WebSocket. 0 = ephemeral.
     */
    wssPort: number;
    /**
     * DEV ONLY, not what a real router does (it refuses `ws`, §5): also a plain `ws://host:port/ws`
     * listener, advertised as `ws`, for a browser that does not trust the fabric CA (`npm start`).
     * null = off (the default), 0 = ephemeral.
     */
    devPlainWsPort: number | null;
    /** Plain `tls:` listener for hosting processes, 0 = ephemeral. */
    tlsPort: number;
  };
  demoApp: ListenAddress;
  identities: IdentityConfig[];
  services: ServiceConfig[];
  policies: PolicyConfig[];
  /** The identity the built-in tunneler runs as. */
  tunnelerIdentity: string;
}

export class FabricConfigError extends Error {
  readonly code = 'ERR_FABRIC_CONFIG';
  constructor(readonly problems: string[]) {
    super(`invalid fabric config:\n  - ${problems.join('\n  - ')}`);
  }
}

/** The built-in defaults: what `npm start` runs with no config file. */
export const DEFAULT_CONFIG_INPUT = {
  dataDir: 'fabric/.data',
  trustDomain: 'zt-dev',
  advertiseHost: 'localhost',
  site: { host: 'localhost', port: 8080 },
  controller: { host: 'localhost', port: 1280 },
  idp: { host: 'localhost', port: 8081 },
  router: { name: 'er1', host: 'localhost', wssPort: 3023, tlsPort: 3022, devPlainWsPort: null },
  demoApp: { host: '127.0.0.1', port: 0 },
  identities: [
    { name: 'developer', password: 'zt-dev-password', roleAttributes: ['users'] },
    { name: 'tunneler', password: 'tunneler-dev-password', roleAttributes: ['hosts'] },
  ],
  services: [
    {
      name: 'demo',
      encryptionRequired: true,
      roleAttributes: ['demo'],
      hosting: 'tunneler',
      target: 'demo-app',
      configs: {
        'intercept.v1': {
          protocols: ['tcp'],
          addresses: ['localhost', '127.0.0.1'],
          portRanges: [{ low: 8080, high: 8080 }],
        },
      },
    },
  ],
  policies: [
    { type: 'Dial', identityRoles: ['#users'], serviceRoles: ['#demo'] },
    { type: 'Bind', identityRoles: ['#hosts'], serviceRoles: ['#demo'] },
  ],
  tunnelerIdentity: 'tunneler',
};

type Obj = Record<string, unknown>;

class Checker {
  readonly problems: string[] = [];
  fail(path: string, msg: string): void {
    this.problems.push(`${path}: ${msg}`);
  }
  obj(v: unknown, path: string): Obj {
    if (v === undefined) return {};
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      this.fail(path, 'expected an object');
      return {};
    }
    return v as Obj;
  }
  unknownKeys(o: Obj, path: string, allowed: string[]): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k))
        this.fail(`${path}.${k}`, `unknown key (allowed: ${allowed.join(', ')})`);
    }
  }
  str(v: unknown, path: string, dflt?: string): string {
    if (v === undefined && dflt !== undefined) return dflt;
    if (typeof v !== 'string' || v === '') {
      this.fail(path, 'expected a non-empty string');
      return dflt ?? '';
    }
    return v;
  }
  bool(v: unknown, path: string, dflt: boolean): boolean {
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') {
      this.fail(path, 'expected true or false');
      return dflt;
    }
    return v;
  }
  int(v: unknown, path: string, dflt: number | undefined, min: number, max: number): number {
    if (v === undefined && dflt !== undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(path, `expected an integer ${min}-${max}`);
      return dflt ?? min;
    }
    return v;
  }
  strList(v: unknown, path: string, dflt: string[] = []): string[] {
    if (v === undefined) return dflt;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === '')) {
      this.fail(path, 'expected a list of non-empty strings');
      return dflt;
    }
    return v as string[];
  }
  list(v: unknown, path: string): unknown[] {
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      this.fail(path, 'expected a list');
      return [];
    }
    return v;
  }
  listen(v: unknown, path: string, dflt: ListenAddress): ListenAddress {
    const o = this.obj(v, path);
    return {
      host: this.str(o.host, `${path}.host`, dflt.host),
      port: this.int(o.port, `${path}.port`, dflt.port, 0, 65535),
    };
  }
}

/** Derives a stable, URL-safe identity id from its name (ids appear in SPIFFE URIs). */
export function identityIdFor(name: string): string {
  return `id-${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

export function serviceIdFor(name: string): string {
  return `svc-${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/**
 * Validates a parsed config object (from YAML or JSON) and fills in defaults. Sections that are
 * absent take the built-in defaults; throws FabricConfigError listing every problem.
 */
export function parseFabricConfig(input: unknown): FabricConfig {
  const c = new Checker();
  const root = c.obj(input, 'config');
  const d = DEFAULT_CONFIG_INPUT;
  c.unknownKeys(root, 'config', [
    'dataDir',
    'trustDomain',
    'advertiseHost',
    'site',
    'controller',
    'idp',
    'router',
    'demoApp',
    'identities',
    'services',
    'policies',
    'tunnelerIdentity',
  ]);

  const ctrlIn = c.obj(root.controller, 'controller');
  c.unknownKeys(ctrlIn, 'controller', [
    'host',
    'port',
    'apiSessionTimeoutSeconds',
    'sessionCertValiditySeconds',
    'maxBodyBytes',
    'oidc',
    'oidcAccessTokenSeconds',
  ]);
  const idpIn = c.obj(root.idp, 'idp');
  c.unknownKeys(idpIn, 'idp', ['host', 'port', 'clientId', 'audience', 'accessTokenTtlSeconds']);
  const routerIn = c.obj(root.router, 'router');
  const { wsPort, ...routerKeys } = routerIn;
  if (wsPort !== undefined) {
    c.fail(
      'router.wsPort',
      'removed: a real router has no plain ws listener; use wssPort (devPlainWsPort for local development only)',
    );
  }
  c.unknownKeys(routerKeys, 'router', ['name', 'host', 'wssPort', 'tlsPort', 'devPlainWsPort']);

  const identitiesIn =
    root.identities === undefined ? d.identities : c.list(root.identities, 'identities');
  const identities: IdentityConfig[] = identitiesIn.map((raw, i) => {
    const p = `identities[${i}]`;
    const o = c.obj(raw, p);
    c.unknownKeys(o, p, ['name', 'id', 'roleAttributes', 'password', 'externalId', 'disabled']);
    const name = c.str(o.name, `${p}.name`);
    const password = o.password === undefined ? undefined : c.str(o.password, `${p}.password`);
    if (password !== undefined && (password.length < 5 || password.length > 100)) {
      c.fail(`${p}.password`, 'must be 5-100 characters (the controller API limit)');
    }
    if (name.length < 4 && password !== undefined) {
      c.fail(`${p}.name`, 'a password identity name (username) must be 4-100 characters');
    }
    return {
      name,
      id: c.str(o.id, `${p}.id`, identityIdFor(name)),
      roleAttributes: c.strList(o.roleAttributes, `${p}.roleAttributes`),
      password,
      externalId: c.str(o.externalId, `${p}.externalId`, name),
      disabled: c.bool(o.disabled, `${p}.disabled`, false),
    };
  });
  const names = new Set<string>();
  for (const [i, id] of identities.entries()) {
    if (names.has(id.name)) c.fail(`identities[${i}].name`, `duplicate identity "${id.name}"`);
    names.add(id.name);
  }

  const servicesIn = root.services === undefined ? d.services : c.list(root.services, 'services');
  const services: ServiceConfig[] = servicesIn.map((raw, i) => {
    const p = `services[${i}]`;
    const o = c.obj(raw, p);
    c.unknownKeys(o, p, [
      'name',
      'encryptionRequired',
      'roleAttributes',
      'configs',
      'hosting',
      'target',
    ]);
    const configs = c.obj(o.configs, `${p}.configs`);
    const hosting = o.hosting === undefined ? 'tunneler' : o.hosting;
    if (hosting !== 'tunneler' && hosting !== 'router') {
      c.fail(`${p}.hosting`, 'expected "tunneler" or "router"');
    }
    if (o.target !== undefined && o.target !== 'demo-app')
      c.fail(`${p}.target`, 'expected "demo-app"');
    if (o.target === undefined) checkHostV1(c, configs['host.v1'], `${p}.configs["host.v1"]`);
    if (configs['intercept.v1'] !== undefined) {
      checkInterceptV1(c, configs['intercept.v1'], `${p}.configs["intercept.v1"]`);
    }
    return {
      name: c.str(o.name, `${p}.name`),
      encryptionRequired: c.bool(o.encryptionRequired, `${p}.encryptionRequired`, true),
      roleAttributes: c.strList(o.roleAttributes, `${p}.roleAttributes`),
      configs,
      hosting: hosting === 'router' ? 'router' : 'tunneler',
      target: o.target === 'demo-app' ? 'demo-app' : undefined,
    };
  });

  const policiesIn = root.policies === undefined ? d.policies : c.list(root.policies, 'policies');
  const policies: PolicyConfig[] = policiesIn.map((raw, i) => {
    const p = `policies[${i}]`;
    const o = c.obj(raw, p);
    c.unknownKeys(o, p, ['type', 'identityRoles', 'serviceRoles']);
    if (o.type !== 'Dial' && o.type !== 'Bind') c.fail(`${p}.type`, 'expected "Dial" or "Bind"');
    const identityRoles = c.strList(o.identityRoles, `${p}.identityRoles`);
    const serviceRoles = c.strList(o.serviceRoles, `${p}.serviceRoles`);
    for (const r of [...identityRoles, ...serviceRoles]) {
      if (!r.startsWith('#') && !r.startsWith('@')) c.fail(p, `role "${r}" must start with # or @`);
    }
    return { type: o.type === 'Bind' ? 'Bind' : 'Dial', identityRoles, serviceRoles };
  });

  const tunnelerIdentity = c.str(root.tunnelerIdentity, 'tunnelerIdentity', d.tunnelerIdentity);
  if (services.some((s) => s.hosting === 'tunneler') && !names.has(tunnelerIdentity)) {
    c.fail('tunnelerIdentity', `no identity named "${tunnelerIdentity}"`);
  }

  const plainIn = routerIn.devPlainWsPort;
  const config: FabricConfig = {
    dataDir: c.str(root.dataDir, 'dataDir', d.dataDir),
    trustDomain: c.str(root.trustDomain, 'trustDomain', d.trustDomain),
    advertiseHost: c.str(root.advertiseHost, 'advertiseHost', d.advertiseHost),
    site: c.listen(root.site, 'site', d.site),
    controller: {
      host: c.str(ctrlIn.host, 'controller.host', d.controller.host),
      port: c.int(ctrlIn.port, 'controller.port', d.controller.port, 0, 65535),
      apiSessionTimeoutSeconds: c.int(
        ctrlIn.apiSessionTimeoutSeconds,
        'controller.apiSessionTimeoutSeconds',
        30 * 60,
        1,
        7 * 24 * 3600,
      ),
      sessionCertValiditySeconds: c.int(
        ctrlIn.sessionCertValiditySeconds,
        'controller.sessionCertValiditySeconds',
        12 * 3600,
        1,
        365 * 24 * 3600,
      ),
      maxBodyBytes: c.int(ctrlIn.maxBodyBytes, 'controller.maxBodyBytes', 64 * 1024, 256, 16 << 20),
      oidc: c.bool(ctrlIn.oidc, 'controller.oidc', true),
      // Below the real minimum of 60 s only so that tests can watch several refreshes quickly.
      oidcAccessTokenSeconds: c.int(
        ctrlIn.oidcAccessTokenSeconds,
        'controller.oidcAccessTokenSeconds',
        1800,
        2,
        24 * 3600,
      ),
    },
    idp: {
      host: c.str(idpIn.host, 'idp.host', d.idp.host),
      port: c.int(idpIn.port, 'idp.port', d.idp.port, 0, 65535),
      clientId: c.str(idpIn.clientId, 'idp.clientId', 'zt-browser'),
      audience: c.str(idpIn.audience, 'idp.audience', 'openziti'),
      accessTokenTtlSeconds: c.int(
        idpIn.accessTokenTtlSeconds,
        'idp.accessTokenTtlSeconds',
        3600,
        1,
        86400,
      ),
    },
    router: {
      name: c.str(routerIn.name, 'router.name', d.router.name),
      host: c.str(routerIn.host, 'router.host', d.router.host),
      wssPort: c.int(routerIn.wssPort, 'router.wssPort', d.router.wssPort, 0, 65535),
      tlsPort: c.int(routerIn.tlsPort, 'router.tlsPort', d.router.tlsPort, 0, 65535),
      devPlainWsPort:
        plainIn === undefined || plainIn === null
          ? null
          : c.int(plainIn, 'router.devPlainWsPort', 0, 0, 65535),
    },
    demoApp: c.listen(root.demoApp, 'demoApp', d.demoApp),
    identities,
    services,
    policies,
    tunnelerIdentity,
  };
  if (c.problems.length > 0) throw new FabricConfigError(c.problems);
  return config;
}

function checkHostV1(c: Checker, v: unknown, path: string): void {
  const o = c.obj(v, path);
  if (v === undefined) {
    c.fail(path, 'required unless target is "demo-app"');
    return;
  }
  c.str(o.protocol, `${path}.protocol`);
  c.str(o.address, `${path}.address`);
  c.int(o.port, `${path}.port`, undefined, 1, 65535);
}

function checkInterceptV1(c: Checker, v: unknown, path: string): void {
  const o = c.obj(v, path);
  c.strList(o.protocols, `${path}.protocols`);
  c.strList(o.addresses, `${path}.addresses`);
  for (const [i, r] of c.list(o.portRanges, `${path}.portRanges`).entries()) {
    const ro = c.obj(r, `${path}.portRanges[${i}]`);
    c.int(ro.low, `${path}.portRanges[${i}].low`, undefined, 0, 65535);
    c.int(ro.high, `${path}.portRanges[${i}].high`, undefined, 0, 65535);
  }
}

/** Reads a `.yaml`/`.yml`/`.json` config file; errors name the file. */
export function loadFabricConfigFile(path: string): FabricConfig {
  const text = readFileSync(path, 'utf8');
  let parsed: unknown;
  try {
    parsed = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new FabricConfigError([`${path}: cannot parse: ${(err as Error).message}`]);
  }
  return parseFabricConfig(parsed ?? {});
}
