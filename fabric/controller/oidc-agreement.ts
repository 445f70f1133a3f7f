/**
 * What the OIDC session path needs from a controller, as one suite run against both: OpenZiti's
 * own controller (openziti/oidc.real.test.ts, vitest project `openziti`) and the fabric's
 * (oidc-agreement.test.ts here, project `unit`). The login goes through the product's client
 * (shared/ziti/controller/oidc-session.ts) with a real `fetch` that follows redirects and reads
 * `response.url`, as a browser must; the checks are what that client and the next stages rely
 * on: discovery, the redirect chain ending at our redirect URI, Bearer REST, refresh keeping the
 * API session, refusals, revocation (RFC 7009, what sign-out does), and CORS on every hop.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authorizeUrl,
  createPkce,
  type FetchLike,
  oidcLogin,
  oidcRefresh,
  oidcRevoke,
  readAccessClaims,
  ZitiOidcError,
} from '../../shared/ziti/controller/oidc-session.ts';
import { controllerSupportsOidc } from '../../shared/ziti/controller/pick-router.ts';
import { discoveryDocument, OIDC_CALLBACK_PATH } from './oidc.ts';

export interface OidcAgreementTarget {
  controllerUrl: string;
  /** A fetch that trusts the controller's TLS. */
  fetch: FetchLike;
  /** A fresh IdP token of `person`. */
  idpToken(): Promise<string>;
  /** The identity the IdP token maps to. */
  person: { name: string };
  /** The configured access-token lifetime. */
  accessTokenSeconds: number;
  close(): Promise<void>;
}

/** The path the product's bootstrap site answers the controller's redirect on. */
export const AGREEMENT_CALLBACK_PATH = OIDC_CALLBACK_PATH;

/** Seconds of slack for clocks and request time around a token lifetime. */
const SLACK_S = 10;

export function describeOidcAgreement(
  name: string,
  start: (redirectUri: string) => Promise<OidcAgreementTarget>,
): void {
  describe(`OIDC API sessions: ${name}`, () => {
    let t: OidcAgreementTarget;
    let callbackServer: Server;
    let redirectUri: string;

    beforeAll(async () => {
      // The redirect URI as the bootstrap site will serve it: any origin may read the answer.
      callbackServer = createServer((_req, res) => {
        res.writeHead(200, {
          'access-control-allow-origin': '*',
          'content-type': 'text/plain; charset=utf-8',
        });
        res.end('signed in');
      });
      await new Promise<void>((r) => callbackServer.listen(0, '127.0.0.1', () => r()));
      const port = (callbackServer.address() as AddressInfo).port;
      redirectUri = `http://127.0.0.1:${port}${AGREEMENT_CALLBACK_PATH}`;
      t = await start(redirectUri);
    }, 180_000);
    afterAll(async () => {
      await t?.close();
      await new Promise<void>((r) => callbackServer?.close(() => r()));
    }, 60_000);

    const oidc = (path: string) => new URL(`/oidc${path}`, t.controllerUrl);
    const clientApi = (path: string) => new URL(`/edge/client/v1${path}`, t.controllerUrl);
    const bearerGet = (path: string, token: string) =>
      t.fetch(new Request(clientApi(path), { headers: { authorization: `Bearer ${token}` } }));
    const login = async () =>
      oidcLogin({
        controller: t.controllerUrl,
        fetch: t.fetch,
        idpToken: await t.idpToken(),
        redirectUri,
      });
    const refused = async (p: Promise<unknown>) => {
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ZitiOidcError);
      return err as ZitiOidcError;
    };

    it('reports OIDC in /version: capability OIDC_AUTH and the edge-oidc binding at /oidc', async () => {
      const res = await t.fetch(new Request(new URL('/version', t.controllerUrl)));
      expect(res.status).toBe(200);
      const { data } = (await res.json()) as {
        data: { capabilities: string[]; apiVersions: Record<string, Record<string, unknown>> };
      };
      expect(data.capabilities).toContain('OIDC_AUTH');
      expect(data.apiVersions['edge-oidc']?.v1).toMatchObject({ path: '/oidc' });
      expect(controllerSupportsOidc(data)).toBe(true);
    });

    it('logs in with the IdP token: an access JWT for the person, its API session and a refresh token', async () => {
      const before = Date.now();
      const s = await login();
      const claims = readAccessClaims(s.accessToken);
      expect(claims.z_t).toBe('a');
      expect(claims.aud).toContain('openziti');
      expect(claims.sub).toBe(s.identityId);
      expect(claims.z_asid).toBe(s.apiSessionId);
      expect(s.refreshToken.startsWith('ey')).toBe(true);
      expect(typeof s.idToken).toBe('string');
      const lifetime = (s.expiresAt.getTime() - before) / 1000;
      expect(lifetime).toBeGreaterThan(t.accessTokenSeconds - SLACK_S);
      expect(lifetime).toBeLessThanOrEqual(t.accessTokenSeconds + SLACK_S);
    });

    it('REST takes the access token as Bearer: current identity and services', async () => {
      const s = await login();
      const me = await bearerGet('/current-identity', s.accessToken);
      expect(me.status).toBe(200);
      const identity = ((await me.json()) as { data: { id: string; name: string } }).data;
      expect(identity).toMatchObject({ id: s.identityId, name: t.person.name });
      const services = await bearerGet('/services?limit=100&configTypes=all', s.accessToken);
      expect(services.status).toBe(200);
      expect(Array.isArray(((await services.json()) as { data: unknown }).data)).toBe(true);
    });

    it('REST refuses a garbage bearer, the IdP token as bearer, and no credentials, with 401 UNAUTHORIZED', async () => {
      const cases: Record<string, string>[] = [
        { authorization: 'Bearer eyJhbGciOiJub25lIn0.e30.x' },
        { authorization: `Bearer ${await t.idpToken()}` },
        {},
      ];
      for (const headers of cases) {
        const res = await t.fetch(new Request(clientApi('/current-identity'), { headers }));
        expect(res.status).toBe(401);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAUTHORIZED');
      }
    });

    it('refreshes twice: new tokens, the same API session and identity, each one usable', async () => {
      const first = await login();
      const second = await oidcRefresh({
        controller: t.controllerUrl,
        fetch: t.fetch,
        session: first,
      });
      const third = await oidcRefresh({
        controller: t.controllerUrl,
        fetch: t.fetch,
        session: second,
      });
      for (const next of [second, third]) {
        expect(next.apiSessionId).toBe(first.apiSessionId);
        expect(next.identityId).toBe(first.identityId);
        expect(readAccessClaims(next.accessToken).z_asid).toBe(first.apiSessionId);
        const me = await bearerGet('/current-identity', next.accessToken);
        expect(me.status).toBe(200);
      }
      expect(new Set([first, second, third].map((s) => s.accessToken)).size).toBe(3);
      expect(new Set([first, second, third].map((s) => s.refreshToken)).size).toBe(3);
      // A refresh token works once: the rotated one is refused.
      const reused = await refused(
        oidcRefresh({ controller: t.controllerUrl, fetch: t.fetch, session: first }),
      );
      expect(reused.fault).toBe('token-refused');
      expect(reused.status).toBe(400);
    });

    it('refuses a garbage refresh token with invalid_grant', async () => {
      const s = await login();
      const err = await refused(
        oidcRefresh({
          controller: t.controllerUrl,
          fetch: t.fetch,
          session: { ...s, refreshToken: 'not-a-refresh-token' },
        }),
      );
      expect(err).toMatchObject({
        fault: 'token-refused',
        status: 400,
        oauthError: 'invalid_grant',
      });
      // An access token is not a refresh token either.
      const swapped = await refused(
        oidcRefresh({
          controller: t.controllerUrl,
          fetch: t.fetch,
          session: { ...s, refreshToken: s.accessToken },
        }),
      );
      expect(swapped).toMatchObject({ fault: 'token-refused', oauthError: 'invalid_grant' });
    });

    it('refuses a forged IdP token at the login with 401', async () => {
      const token = await t.idpToken();
      const forged = `${token.slice(0, -6)}${token.slice(-6) === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA'}`;
      const err = await refused(
        oidcLogin({ controller: t.controllerUrl, fetch: t.fetch, idpToken: forged, redirectUri }),
      );
      expect(err).toMatchObject({ fault: 'login-refused', status: 401 });
    });

    it('refuses at authorize a redirect URI it was not given and an unknown client, with 400', async () => {
      const err = await refused(
        oidcLogin({
          controller: t.controllerUrl,
          fetch: t.fetch,
          idpToken: await t.idpToken(),
          redirectUri: 'https://elsewhere.example/__zt/oidc-callback',
        }),
      );
      expect(err).toMatchObject({ fault: 'authorize-refused', status: 400 });
      const pkce = await createPkce();
      const url = authorizeUrl(t.controllerUrl, {
        redirectUri,
        state: 's',
        nonce: 'n',
        codeChallenge: pkce.challenge,
      });
      url.searchParams.set('client_id', 'someone-else');
      const res = await t.fetch(new Request(url));
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(/client/);
    });

    it('sends an unsupported response_type back to the redirect URI as unauthorized_client, with the state', async () => {
      const pkce = await createPkce();
      const url = authorizeUrl(t.controllerUrl, {
        redirectUri,
        state: 'st-1',
        nonce: 'n',
        codeChallenge: pkce.challenge,
      });
      url.searchParams.set('response_type', 'token');
      const res = await t.fetch(new Request(url));
      const end = new URL(res.url);
      expect(`${end.origin}${end.pathname}`).toBe(redirectUri);
      expect(end.searchParams.get('error')).toBe('unauthorized_client');
      expect(end.searchParams.get('state')).toBe('st-1');
    });

    it('the code works once, only with its verifier and its redirect URI', async () => {
      const pkce = await createPkce();
      const started = await t.fetch(
        new Request(
          authorizeUrl(t.controllerUrl, {
            redirectUri,
            state: 'st-2',
            nonce: 'n-2',
            codeChallenge: pkce.challenge,
          }),
        ),
      );
      const loginUrl = new URL(started.url);
      expect(loginUrl.pathname).toBe('/oidc/login/ext-jwt');
      const authRequestId = loginUrl.searchParams.get('authRequestID');
      expect(authRequestId).toBeTruthy();
      expect(await started.text()).toBe('please POST to this URL');
      // A body the login does not take is 415, with the controller's JSON error.
      const wrongType = await t.fetch(
        new Request(loginUrl, {
          method: 'POST',
          headers: { authorization: `Bearer ${await t.idpToken()}`, 'content-type': 'text/plain' },
          body: '{}',
        }),
      );
      expect(wrongType.status).toBe(415);
      expect(((await wrongType.json()) as { code: string }).code).toBe('UNSUPPORTED_MEDIA_TYPE');
      // A form body with the id works as well as JSON.
      const done = await t.fetch(
        new Request(loginUrl, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${await t.idpToken()}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: new URLSearchParams({ id: authRequestId! }).toString(),
        }),
      );
      const end = new URL(done.url);
      expect(`${end.origin}${end.pathname}`).toBe(redirectUri);
      expect(end.searchParams.get('state')).toBe('st-2');
      const code = end.searchParams.get('code')!;
      expect(code).toBeTruthy();

      const exchange = (form: Record<string, string>) =>
        t.fetch(
          new Request(oidc('/oauth/token'), {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({
              grant_type: 'authorization_code',
              client_id: 'openziti',
              code,
              code_verifier: pkce.verifier,
              redirect_uri: redirectUri,
              ...form,
            }).toString(),
          }),
        );
      const error = async (res: Response) => ({
        status: res.status,
        error: ((await res.json()) as { error: string }).error,
      });
      const other = await createPkce();
      expect(await error(await exchange({ code_verifier: other.verifier }))).toEqual({
        status: 400,
        error: 'invalid_grant',
      });
      expect(await error(await exchange({ redirect_uri: `${redirectUri}x` }))).toEqual({
        status: 400,
        error: 'invalid_grant',
      });
      expect(await error(await exchange({ code_verifier: '' }))).toEqual({
        status: 400,
        error: 'invalid_request',
      });
      const ok = await exchange({});
      expect(ok.status).toBe(200);
      const body = (await ok.json()) as Record<string, unknown>;
      expect(body.token_type).toBe('Bearer');
      expect(typeof body.expires_in).toBe('number');
      expect(await error(await exchange({}))).toEqual({ status: 400, error: 'invalid_grant' });
    });

    it('answers CORS on every hop a browser makes', async () => {
      const site = 'https://site.example';
      // Preflight of the login POST (Authorization + JSON): 200, the headers allowed, any origin.
      const pre = await t.fetch(
        new Request(oidc('/login/ext-jwt'), {
          method: 'OPTIONS',
          headers: {
            origin: site,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'authorization,content-type',
          },
        }),
      );
      expect(pre.status).toBe(200);
      expect(pre.headers.get('access-control-allow-origin')).toBe('*');
      expect(pre.headers.get('access-control-allow-headers')?.toLowerCase()).toBe(
        'authorization,content-type',
      );
      // A header it does not allow is refused at the preflight.
      const badPre = await t.fetch(
        new Request(oidc('/login/ext-jwt'), {
          method: 'OPTIONS',
          headers: {
            origin: site,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'x-custom',
          },
        }),
      );
      expect(badPre.status).toBe(403);
      // The authorize 302 passes CORS for the page's origin (echoed) ...
      const pkce = await createPkce();
      const authz = await t.fetch(
        new Request(
          authorizeUrl(t.controllerUrl, {
            redirectUri,
            state: 's',
            nonce: 'n',
            codeChallenge: pkce.challenge,
          }),
          { redirect: 'manual', headers: { origin: site } },
        ),
      );
      expect(authz.status).toBe(302);
      expect(authz.headers.get('access-control-allow-origin')).toBe(site);
      const loginUrl = new URL(authz.headers.get('location')!, t.controllerUrl);
      // ... the login page it leads to, and the login's own 302, for any origin.
      const page = await t.fetch(new Request(loginUrl, { headers: { origin: site } }));
      expect(page.headers.get('access-control-allow-origin')).toBe('*');
      const post = await t.fetch(
        new Request(loginUrl, {
          method: 'POST',
          redirect: 'manual',
          headers: {
            origin: site,
            authorization: `Bearer ${await t.idpToken()}`,
            'content-type': 'application/json',
            accept: 'application/json',
          },
          body: '{}',
        }),
      );
      expect(post.status).toBe(302);
      expect(post.headers.get('access-control-allow-origin')).toBe('*');
      const callback = new URL(post.headers.get('location')!, t.controllerUrl);
      expect(callback.origin).toBe(new URL(t.controllerUrl).origin);
      expect(callback.pathname).toBe('/oidc/authorize/callback');
      const toSite = await t.fetch(
        new Request(callback, { redirect: 'manual', headers: { origin: site } }),
      );
      expect(toSite.status).toBe(302);
      expect(toSite.headers.get('access-control-allow-origin')).toBe(site);
      expect(new URL(toSite.headers.get('location')!).pathname).toBe(AGREEMENT_CALLBACK_PATH);
      // The token endpoint, from the opaque origin too.
      const tok = await t.fetch(
        new Request(oidc('/oauth/token'), {
          method: 'POST',
          headers: { origin: 'null', 'content-type': 'application/x-www-form-urlencoded' },
          body: 'grant_type=refresh_token&client_id=openziti&refresh_token=x',
        }),
      );
      expect(tok.status).toBe(400);
      expect(tok.headers.get('access-control-allow-origin')).toBe('null');
    });

    /** The claims of a JWT, unchecked. */
    const claimsOf = (jwt: string) =>
      JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<
        string,
        unknown
      >;
    const revoke = (form: Record<string, string>, headers: Record<string, string> = {}) =>
      t.fetch(
        new Request(oidc('/revoke'), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
          body: new URLSearchParams(form).toString(),
        }),
      );

    it('publishes the OpenID discovery document at /oidc/.well-known/openid-configuration, revocation included', async () => {
      const res = await t.fetch(new Request(oidc('/.well-known/openid-configuration')));
      expect(res.status).toBe(200);
      const d = (await res.json()) as Record<string, unknown>;
      const issuer = `${t.controllerUrl}/oidc`;
      expect(d).toMatchObject({
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/oauth/token`,
        revocation_endpoint: `${issuer}/revoke`,
        end_session_endpoint: `${issuer}/end_session`,
        jwks_uri: `${issuer}/keys`,
        code_challenge_methods_supported: ['S256'],
      });
      expect(d.revocation_endpoint_auth_methods_supported).toContain('none');
      // The keys list the one a fresh access token names, with its algorithm ...
      const keys = await t.fetch(new Request(String(d.jwks_uri)));
      expect(keys.status).toBe(200);
      const header = JSON.parse(
        Buffer.from((await login()).accessToken.split('.')[0]!, 'base64url').toString(),
      ) as { kid: string; alg: string };
      const jwks = (await keys.json()) as { keys: { kid: string; alg: string; use: string }[] };
      expect(jwks.keys.find((k) => k.kid === header.kid)).toMatchObject({
        alg: header.alg,
        use: 'sig',
      });
      // ... and the whole document is the fabric's, but for that algorithm.
      expect(d).toEqual({
        ...discoveryDocument(issuer),
        id_token_signing_alg_values_supported: [header.alg],
      });
    });

    it('revokes a refresh token: 200 empty; its refresh is then refused 400, its access token lives on', async () => {
      const s = await login();
      const jti = claimsOf(s.refreshToken).jti;
      await oidcRevoke({
        controller: t.controllerUrl,
        fetch: t.fetch,
        token: s.refreshToken,
        tokenTypeHint: 'refresh_token',
      });
      // Not invalid_grant: the refresh's own revocation of the token id collides with the stored
      // one (ziti controller/oidc_auth/storage.go renewRefreshToken).
      const err = await refused(
        oidcRefresh({ controller: t.controllerUrl, fetch: t.fetch, session: s }),
      );
      expect(err).toMatchObject({
        fault: 'token-refused',
        status: 400,
        oauthError: 'server_error',
      });
      expect(err.message).toContain(`an entity of type revocation already exists with id ${jti}`);
      expect((await bearerGet('/current-identity', s.accessToken)).status).toBe(200);
    });

    it('answers revocation refusals as v1.7.2: again 500, no or an unknown client 401, an unknown token 200', async () => {
      const s = await login();
      const form = { token: s.refreshToken, token_type_hint: 'refresh_token' };
      const ok = await revoke({ ...form, client_id: 'native' });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe('');
      // storage.go RevokeToken: the second revocation of the same id is a server error.
      const again = await revoke({ ...form, client_id: 'openziti' });
      expect(again.status).toBe(500);
      expect(await again.json()).toEqual({ error: 'server_error' });
      // A refresh token already rotated away is revoked already.
      const used = await login();
      await oidcRefresh({ controller: t.controllerUrl, fetch: t.fetch, session: used });
      expect((await revoke({ token: used.refreshToken, client_id: 'openziti' })).status).toBe(500);
      // zitadel op/token_revocation.go ParseTokenRevocationRequest.
      const anonymous = await revoke({ token: used.accessToken });
      expect(anonymous.status).toBe(401);
      expect(await anonymous.json()).toEqual({
        error: 'invalid_client',
        error_description: 'invalid authorization',
      });
      const stranger = await revoke({ token: used.accessToken, client_id: 'someone-else' });
      expect(stranger.status).toBe(401);
      expect(await stranger.json()).toEqual({ error: 'invalid_client' });
      const secret = await revoke({
        token: used.accessToken,
        client_id: 'openziti',
        client_secret: 'x',
      });
      expect(secret.status).toBe(401);
      expect(await secret.json()).toEqual({
        error: 'invalid_client',
        error_description: 'invalid client_id / client_secret',
      });
      // A token it cannot read is revoked as the string itself (RFC 7009 §2.2: 200), so twice
      // is the same collision; a JWT it cannot read is ignored.
      const garbage = `garbage${Math.random().toString(36).slice(2, 8)}`;
      expect((await revoke({ token: garbage, client_id: 'openziti' })).status).toBe(200);
      expect((await revoke({ token: garbage, client_id: 'openziti' })).status).toBe(500);
      const forged = `${used.accessToken.slice(0, -6)}${used.accessToken.slice(-6) === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA'}`;
      expect((await revoke({ token: forged, client_id: 'openziti' })).status).toBe(200);
      expect((await revoke({ token: forged, client_id: 'openziti' })).status).toBe(200);
    });

    it('reads the revocation request as Go reads a form: Basic client auth, the query, no JSON body', async () => {
      const unknown = () => `unknown${Math.random().toString(36).slice(2, 8)}`;
      // The controller's clients have an empty secret (controller/oidc_auth/client.go).
      const basic = (user: string) => `Basic ${Buffer.from(user).toString('base64')}`;
      expect(
        (await revoke({ token: unknown() }, { authorization: basic('openziti:') })).status,
      ).toBe(200);
      const wrong = await revoke({ token: unknown() }, { authorization: basic('openziti:x') });
      expect(wrong.status).toBe(401);
      expect(await wrong.json()).toEqual({
        error: 'invalid_client',
        error_description: 'invalid client_id / client_secret',
      });
      // The endpoint takes any method, and the query's fields (net/http Request.ParseForm).
      const query = new URLSearchParams({ client_id: 'openziti', token: unknown() });
      const get = await t.fetch(new Request(`${oidc('/revoke')}?${query}`));
      expect(get.status).toBe(200);
      // A JSON body is not a form: no client.
      const asJson = await t.fetch(
        new Request(oidc('/revoke'), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ client_id: 'openziti', token: unknown() }),
        }),
      );
      expect(asJson.status).toBe(401);
      expect(await asJson.json()).toEqual({
        error: 'invalid_client',
        error_description: 'invalid authorization',
      });
    });

    it("revokes an access token by its id, which the login's refresh token shares; REST still takes it", async () => {
      const s = await login();
      // The first refresh token is made from the access token's claims, id included
      // (controller/oidc_auth/storage.go createRefreshClaims).
      const jti = claimsOf(s.accessToken).jti;
      expect(claimsOf(s.refreshToken).jti).toBe(jti);
      const hint = { token: s.accessToken, client_id: 'openziti', token_type_hint: 'access_token' };
      const res = await revoke(hint);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('');
      // Bearer REST does not look at revocations (controller/env/appenv.go ProcessJwt).
      expect((await bearerGet('/current-identity', s.accessToken)).status).toBe(200);
      // Its id is revoked now, whatever the hint, and so is the refresh token's.
      expect((await revoke(hint)).status).toBe(500);
      expect((await revoke({ token: s.accessToken, client_id: 'openziti' })).status).toBe(500);
      expect((await revoke({ token: s.refreshToken, client_id: 'openziti' })).status).toBe(500);
      const err = await refused(
        oidcRefresh({ controller: t.controllerUrl, fetch: t.fetch, session: s }),
      );
      expect(err.message).toContain(`an entity of type revocation already exists with id ${jti}`);
      // After a refresh every token has its own id: revoking the access token leaves the refresh.
      const next = await oidcRefresh({
        controller: t.controllerUrl,
        fetch: t.fetch,
        session: await login(),
      });
      expect(claimsOf(next.refreshToken).jti).not.toBe(claimsOf(next.accessToken).jti);
      expect((await revoke({ ...hint, token: next.accessToken })).status).toBe(200);
      const after = await oidcRefresh({
        controller: t.controllerUrl,
        fetch: t.fetch,
        session: next,
      });
      expect(after.apiSessionId).toBe(next.apiSessionId);
    });

    it('answers CORS on the revocation as on the token endpoint', async () => {
      const site = 'https://site.example';
      const s = await login();
      const res = await revoke(
        { token: s.refreshToken, token_type_hint: 'refresh_token', client_id: 'openziti' },
        { origin: site },
      );
      expect(res.status).toBe(200);
      // The OpenID provider's CORS (zitadel/oidc pkg/op/op.go defaultCORSOptions).
      expect(res.headers.get('access-control-allow-origin')).toBe(site);
      expect(res.headers.get('access-control-allow-credentials')).toBe('true');
      expect(res.headers.get('access-control-expose-headers')).toBe('Location, Content-Length');
      expect(res.headers.get('vary')).toMatch(/Origin/);
      // The preflight is the outer layer's (controller/api/cors.go).
      const pre = await t.fetch(
        new Request(oidc('/revoke'), {
          method: 'OPTIONS',
          headers: {
            origin: site,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'content-type',
          },
        }),
      );
      expect(pre.status).toBe(200);
      expect(pre.headers.get('access-control-allow-origin')).toBe('*');
      expect(pre.headers.get('access-control-allow-credentials')).toBe('true');
      expect(pre.headers.get('access-control-allow-headers')).toBe('Content-Type');
      expect(pre.headers.get('access-control-allow-methods')).toBeNull();
    });

    it('DELETE /current-api-session does not end an OIDC session (404); its tokens keep working', async () => {
      const s = await login();
      const del = await t.fetch(
        new Request(clientApi('/current-api-session'), {
          method: 'DELETE',
          headers: { authorization: `Bearer ${s.accessToken}` },
        }),
      );
      expect(del.status).toBe(404);
      expect(((await del.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
      expect((await bearerGet('/current-identity', s.accessToken)).status).toBe(200);
      const next = await oidcRefresh({ controller: t.controllerUrl, fetch: t.fetch, session: s });
      expect(next.apiSessionId).toBe(s.apiSessionId);
    });
  });
}
