/**
 * The fabric's OIDC identity provider: `oidc-provider` (a certified OpenID provider) with the config's
 * password identities as users, one public PKCE client for the bootstrap page, and JWT access tokens
 * (ES256, with a `kid`, published on the JWKS) that the controller accepts as ext-jwt (§6.2).
 */
import { randomBytes, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import type ProviderClass from 'oidc-provider';
import { SIGNED_OUT_PATH } from '../shared/config/bootstrap-config.ts';
import { listen } from './_internal/listen.ts';
import type { IdentityConfig } from './config.ts';
import type { Logger } from './log.ts';

const ANSI_COLOURS = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** The resource indicator the access tokens are issued for. */
export const IDP_RESOURCE = 'urn:zt-browser:openziti';
/** The scope the public client asks for (OIDC scopes; the resource scope is granted implicitly). */
export const IDP_SCOPES = ['openid', 'profile', 'offline_access'];

export interface IdpOptions {
  host: string;
  port: number;
  /** Host name in the public issuer URL `http://<issuerHost>:<port>`; default `host`. */
  issuerHost?: string;
  dataDir: string;
  clientId: string;
  /** `aud` of the access tokens; the controller's ext-jwt signer expects it. */
  audience: string;
  accessTokenTtlSeconds: number;
  redirectUris: string[];
  users: IdentityConfig[];
  log?: Logger;
}

export interface RunningIdp {
  issuer: string;
  jwksUrl: string;
  authorizationUrl: string;
  /** The private signing key (for tests that need to forge otherwise-valid tokens). */
  signingJwk: JWK & { kid: string };
  server: Server;
  close(): Promise<void>;
}

async function loadOrCreateJwk(dataDir: string): Promise<JWK & { kid: string }> {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'idp-signing.jwk.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const { privateKey } = (await webcrypto.subtle.generateKey(
    { name: 'ECDSA', namedCurve: 'P-256' },
    true,
    ['sign', 'verify'],
  )) as CryptoKeyPair;
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  const out = { ...jwk, kid, alg: 'ES256', use: 'sig' };
  // Write then rename: another process starting at the same time reads a whole file or none.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(out), { mode: 0o600 });
  renameSync(tmp, file);
  return JSON.parse(readFileSync(file, 'utf8'));
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid: string, error?: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in: dev fabric</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>body{font:16px system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}
label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.5rem;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1rem}.error{color:#b00020}</style></head><body>
<h1>Sign in</h1><p>Local dev fabric identity provider.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label for="username">Username</label><input id="username" name="username" autocomplete="username" autofocus required>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form></body></html>`;
}

async function readForm(req: IncomingMessage, limit = 16 * 1024): Promise<URLSearchParams> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error('form too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** Starts the IdP. Users are the identities that have a password; their `sub` is the externalId. */
export async function startIdp(opts: IdpOptions): Promise<RunningIdp> {
  const signingJwk = await loadOrCreateJwk(opts.dataDir);
  const server = createServer();
  const port = await listen(server, opts.host, opts.port, 'IdP');
  const issuer = `http://${opts.issuerHost ?? opts.host}:${port}`;
  const users = opts.users.filter((u) => u.password !== undefined && !u.disabled);

  // oidc-provider prints development notices (Node version, in-memory adapter) on the console when
  // loaded and constructed; route them to our debug log instead of the CLI's output.
  const restore = { warn: console.warn, info: console.info };
  const toDebug = (...args: unknown[]) =>
    opts.log?.debug(String(args[0]).replace(ANSI_COLOURS, ''));
  console.warn = toDebug;
  console.info = toDebug;
  let Provider: typeof ProviderClass;
  try {
    Provider = (await import('oidc-provider')).default;
  } catch (err) {
    Object.assign(console, restore);
    throw err;
  }
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: opts.clientId,
        token_endpoint_auth_method: 'none',
        application_type: 'web',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: opts.redirectUris,
        // Where the bootstrap page asks to come back after ending the session (same site).
        post_logout_redirect_uris: opts.redirectUris.map((u) => new URL(SIGNED_OUT_PATH, u).href),
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [signingJwk as JWK] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    pkce: { required: () => true },
    // Refresh tokens stay valid until used up or revoked (Keycloak's default), so a copy taken
    // from a browser is what its sign-out must revoke.
    rotateRefreshToken: false,
    // Every code grant of the client gets a refresh token, as Keycloak's do (oidc-provider would
    // otherwise want offline_access, which it only keeps with prompt=consent).
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(t: string): boolean }) =>
      client.grantTypeAllowed('refresh_token'),
    scopes: IDP_SCOPES,
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'] },
    ttl: {
      AccessToken: opts.accessTokenTtlSeconds,
      IdToken: opts.accessTokenTtlSeconds,
      AuthorizationCode: 60,
      Interaction: 600,
      Session: 24 * 3600,
      Grant: 24 * 3600,
      RefreshToken: 24 * 3600,
    },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      // The session ends without a confirmation page of the IdP's (as Keycloak's does, given a
      // valid id_token_hint): the bootstrap page has already asked the person.
      rpInitiatedLogout: {
        enabled: true,
        logoutSource(ctx: { body: string }, form: string) {
          const confirmed = form.replace(
            '</form>',
            '<input type="hidden" name="logout" value="yes"/></form>',
          );
          ctx.body = `<!doctype html><html><body>${confirmed}<script>document.forms[0].submit()</script></body></html>`;
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => IDP_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'openziti',
          audience: opts.audience,
          accessTokenTTL: opts.accessTokenTtlSeconds,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // The bootstrap page is first-party: grant what it asks for without a consent screen.
    async loadExistingGrant(ctx) {
      const grantId =
        ctx.oidc.result?.consent?.grantId ||
        ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client!.clientId,
        accountId: ctx.oidc.session!.accountId,
      });
      grant.addOIDCScope(IDP_SCOPES.join(' '));
      grant.addOIDCClaims(['sub', 'name', 'preferred_username']);
      grant.addResourceScope(IDP_RESOURCE, 'openziti');
      await grant.save();
      return grant;
    },
    async findAccount(_ctx, sub) {
      const user = users.find((u) => u.externalId === sub);
      if (!user) return undefined;
      return {
        accountId: sub,
        async claims() {
          return { sub, name: user.name, preferred_username: user.name };
        },
      };
    },
  });
  Object.assign(console, restore);
  provider.on('server_error', (_ctx, err) => opts.log?.error(`IdP error: ${err.message}`));

  const oidc = provider.callback();
  server.on('request', async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', issuer);
    const m = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec(url.pathname);
    if (!m) return oidc(req, res);
    try {
      const details = await provider.interactionDetails(req, res);
      if (details.uid !== m[1]) throw new Error('interaction mismatch');
      if (!m[2] && req.method === 'GET' && details.prompt.name === 'consent') {
        // First-party client: grant what was asked without a consent screen.
        const grant = new provider.Grant({
          clientId: opts.clientId,
          accountId: details.session?.accountId,
        });
        grant.addOIDCScope(IDP_SCOPES.join(' '));
        grant.addOIDCClaims(['sub', 'name', 'preferred_username']);
        grant.addResourceScope(IDP_RESOURCE, 'openziti');
        const grantId = await grant.save();
        await provider.interactionFinished(
          req,
          res,
          { consent: { grantId } },
          { mergeWithLastSubmission: true },
        );
        return;
      }
      if (!m[2] && req.method === 'GET') {
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
        });
        res.end(loginPage(details.uid));
        return;
      }
      if (m[2] && req.method === 'POST') {
        const form = await readForm(req);
        const user = users.find((u) => u.name === form.get('username'));
        if (!user || user.password !== form.get('password')) {
          opts.log?.warn(`IdP: failed login for "${form.get('username') ?? ''}"`);
          res.writeHead(401, {
            'content-type': 'text/html; charset=utf-8',
            'cache-control': 'no-store',
          });
          res.end(loginPage(details.uid, 'Wrong username or password.'));
          return;
        }
        opts.log?.info(`IdP: ${user.name} signed in`);
        await provider.interactionFinished(
          req,
          res,
          { login: { accountId: user.externalId } },
          { mergeWithLastSubmission: false },
        );
        return;
      }
      res.writeHead(405).end();
    } catch (err) {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`login failed: ${(err as Error).message}`);
    }
  });

  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    authorizationUrl: `${issuer}/auth`,
    signingJwk,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
