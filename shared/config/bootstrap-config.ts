/**
 * `/__zt/config.json`: what the bootstrap page and the service worker need to know. Served beside the
 * bootstrap page; everything else (the IdP, routers, intercepts) is discovered from the controller.
 */
export interface BootstrapConfig {
  /** Controller base URL (origin, optionally with a path prefix), e.g. `https://ctrl.example.com:1280`. */
  controller: string;
  /** The OpenZiti service that carries this app, by name. */
  service: string;
  /**
   * Extra host:port pairs to carry over the service besides the app's own origin, for apps that call
   * sibling hosts (`intercept.v1` addresses of dialable services are added automatically).
   */
  extraIntercepts: string[];
  /**
   * `Host` header sent to the dark app: `public` (default) sends the public host, as a reverse proxy in
   * front of the app does; `intercept` sends the service's first intercept.v1 address and port.
   */
  upstreamHost: 'public' | 'intercept';
  /** Name of the external-JWT signer to use when the controller lists several (default: the first). */
  signer?: string;
  /**
   * Local development only: the service worker may also use an edge router's plain `ws` URL (after
   * every `wss` one). Set by the dev fabric when its dev-only plain listener is on; a real router
   * offers only `wss`, and without this flag a `ws` URL is never used.
   */
  devAllowPlainWs?: true;
  /**
   * How the browser signs in to the controller: `auto` (default) uses OIDC sessions when the
   * controller offers them (`/version` capability `OIDC_AUTH`) and legacy API sessions otherwise;
   * `oidc` and `legacy` force one (`oidc` fails clearly on a controller without it).
   */
  controllerAuth: 'auto' | 'oidc' | 'legacy';
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'ERR_CONFIG_INVALID';
}

const KNOWN = new Set([
  'controller',
  'service',
  'extraIntercepts',
  'upstreamHost',
  'signer',
  'devAllowPlainWs',
  'controllerAuth',
]);

/** Validates parsed JSON into a config; every problem is reported at once, by field name. */
export function parseBootstrapConfig(input: unknown): BootstrapConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ConfigError('config.json must be a JSON object');
  }
  const raw = input as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(raw)) {
    if (!KNOWN.has(key)) problems.push(`unknown field "${key}"`);
  }

  let controller = '';
  if (typeof raw.controller !== 'string' || raw.controller === '') {
    problems.push(
      '"controller" is required: the controller URL, e.g. "https://ctrl.example.com:1280"',
    );
  } else {
    try {
      const url = new URL(raw.controller);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('scheme');
      if (url.search || url.hash) throw new Error('query');
      controller = url.href.replace(/\/$/, '');
    } catch {
      problems.push(
        `"controller" must be an http(s) URL without query or fragment, got "${raw.controller}"`,
      );
    }
  }

  if (typeof raw.service !== 'string' || raw.service.trim() === '') {
    problems.push('"service" is required: the name of the OpenZiti service that carries the app');
  }

  const extraIntercepts: string[] = [];
  if (raw.extraIntercepts !== undefined) {
    if (!Array.isArray(raw.extraIntercepts)) {
      problems.push('"extraIntercepts" must be an array of "host:port" strings');
    } else {
      raw.extraIntercepts.forEach((entry, i) => {
        if (typeof entry !== 'string' || !/^[a-z0-9.*-]+(:\d{1,5})?$/i.test(entry)) {
          problems.push(
            `"extraIntercepts[${i}]" must be "host" or "host:port", got ${JSON.stringify(entry)}`,
          );
        } else {
          extraIntercepts.push(entry.toLowerCase());
        }
      });
    }
  }

  const upstreamHost = raw.upstreamHost ?? 'public';
  if (upstreamHost !== 'public' && upstreamHost !== 'intercept') {
    problems.push(
      `"upstreamHost" must be "public" or "intercept", got ${JSON.stringify(raw.upstreamHost)}`,
    );
  }
  if (raw.signer !== undefined && (typeof raw.signer !== 'string' || raw.signer === '')) {
    problems.push('"signer" must be a non-empty string (an external-JWT signer name)');
  }
  if (raw.devAllowPlainWs !== undefined && typeof raw.devAllowPlainWs !== 'boolean') {
    problems.push('"devAllowPlainWs" must be true or false (local development only)');
  }

  const controllerAuth = raw.controllerAuth ?? 'auto';
  if (controllerAuth !== 'auto' && controllerAuth !== 'oidc' && controllerAuth !== 'legacy') {
    problems.push(
      `"controllerAuth" must be "auto", "oidc" or "legacy", got ${JSON.stringify(raw.controllerAuth)}`,
    );
  }

  if (problems.length > 0) {
    throw new ConfigError(`Invalid /__zt/config.json: ${problems.join('; ')}`);
  }
  return {
    controller,
    service: (raw.service as string).trim(),
    extraIntercepts,
    upstreamHost: upstreamHost as BootstrapConfig['upstreamHost'],
    controllerAuth: controllerAuth as BootstrapConfig['controllerAuth'],
    ...(raw.signer !== undefined ? { signer: raw.signer as string } : {}),
    ...(raw.devAllowPlainWs === true ? { devAllowPlainWs: true as const } : {}),
  };
}

/**
 * Where the IdP sends the browser back after ending its session (the IdP's registered
 * post-logout redirect URI, on the site's origin).
 */
export const SIGNED_OUT_PATH = '/__zt/index.html?signed-out=1';

/** The one place the config is fetched from, relative to the site root. */
export const CONFIG_PATH = '/__zt/config.json';

/**
 * Where the IdP sends the browser back to after login, on the site's origin (the IdP's registered
 * redirect URI). It is under our reserved prefix, so the service worker never tunnels it.
 */
export const CALLBACK_PATH = '/__zt/callback';

/**
 * Where the controller's OpenID provider sends the login's code (its `edge-oidc` binding's
 * redirect URI, on the site's origin). The login reads it from a fetch that followed the redirects
 * there, so the site answers it with `Access-Control-Allow-Origin: *` (and its preflight).
 */
export const OIDC_CALLBACK_PATH = '/__zt/oidc-callback';

export async function loadBootstrapConfig(fetchFn: typeof fetch = fetch): Promise<BootstrapConfig> {
  let response: Response;
  try {
    response = await fetchFn(CONFIG_PATH, { cache: 'no-cache' });
  } catch (cause) {
    throw new ConfigError(`Could not load ${CONFIG_PATH}: ${(cause as Error).message}`, { cause });
  }
  if (!response.ok) throw new ConfigError(`Could not load ${CONFIG_PATH}: HTTP ${response.status}`);
  let json: unknown;
  try {
    json = await response.json();
  } catch (cause) {
    throw new ConfigError(`${CONFIG_PATH} is not valid JSON`, { cause });
  }
  return parseBootstrapConfig(json);
}
