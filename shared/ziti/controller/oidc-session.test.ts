import { describe, expect, it } from 'vitest';
import { ZitiControllerUnreachableError } from '../errors.ts';
import {
  authorizeUrl,
  createPkce,
  type FetchLike,
  type OidcSession,
  oidcLogin,
  oidcRefresh,
  oidcRevoke,
  readAccessClaims,
  tokenId,
  ZitiOidcError,
} from './oidc-session.ts';

const CONTROLLER = 'https://ctrl.example:1280';
const REDIRECT = 'https://site.example/__zt/oidc-callback';
const IDP_TOKEN = 'eyIdp.token.sig';

const b64 = (o: unknown) =>
  btoa(JSON.stringify(o)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const jwt = (claims: Record<string, unknown>) =>
  `${b64({ alg: 'RS256', kid: 'k1', typ: 'JWT' })}.${b64(claims)}.c2ln`;
const EXP = Math.floor(Date.UTC(2030, 0, 1) / 1000);
const accessClaims = (over: Record<string, unknown> = {}) => ({
  sub: 'identity-1',
  z_asid: 'asid-1',
  z_t: 'a',
  aud: ['openziti'],
  exp: EXP,
  ...over,
});

/** A `Response` as a followed fetch ends: with its final URL. */
function at(url: string, body: BodyInit | null, init: ResponseInit = {}): Response {
  const res = new Response(body, init);
  Object.defineProperty(res, 'url', { value: url });
  return res;
}

interface FakeOptions {
  authorize?: (req: Request) => Response;
  login?: (req: Request, state: string) => Response;
  token?: (form: URLSearchParams) => Response;
}

/** A controller that answers the three steps as OpenZiti does once its redirects are followed. */
function fakeController(o: FakeOptions = {}) {
  const seen: { authorize?: URL; login?: Request; loginBody?: unknown; tokens: URLSearchParams[] } =
    { tokens: [] };
  let state = '';
  const fetchFn: FetchLike = async (req) => {
    const url = new URL(req.url);
    if (url.pathname === '/oidc/authorize') {
      seen.authorize = url;
      state = url.searchParams.get('state') ?? '';
      return (
        o.authorize?.(req) ??
        at(`${CONTROLLER}/oidc/login/ext-jwt?authRequestID=req-1`, 'please POST to this URL')
      );
    }
    if (url.pathname === '/oidc/login/ext-jwt') {
      seen.login = req;
      seen.loginBody = JSON.parse(await req.clone().text());
      return (
        o.login?.(req, state) ??
        at(`${REDIRECT}?code=code-1&state=${encodeURIComponent(state)}`, 'signed in')
      );
    }
    if (url.pathname === '/oidc/oauth/token') {
      const form = new URLSearchParams(await req.text());
      seen.tokens.push(form);
      return (
        o.token?.(form) ??
        Response.json({
          access_token: jwt(accessClaims()),
          token_type: 'Bearer',
          refresh_token: jwt({ z_t: 'r' }),
          expires_in: 1800,
          id_token: jwt({ sub: 'identity-1' }),
        })
      );
    }
    return new Response('404 page not found', { status: 404 });
  };
  return { fetch: fetchFn, seen };
}

const login = (fetchFn: FetchLike) =>
  oidcLogin({
    controller: CONTROLLER,
    fetch: fetchFn,
    idpToken: IDP_TOKEN,
    redirectUri: REDIRECT,
    configTypes: ['intercept.v1'],
  });

async function failure(p: Promise<unknown>): Promise<ZitiOidcError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ZitiOidcError);
  expect((err as ZitiOidcError).code).toBe('ERR_ZITI_OIDC');
  return err as ZitiOidcError;
}

describe('createPkce', () => {
  it('makes a 43-character verifier and its S256 challenge (RFC 7636 appendix B)', async () => {
    const { verifier, challenge } = await createPkce();
    expect(verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
    const expected = btoa(String.fromCharCode(...new Uint8Array(digest)))
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .replace(/=+$/, '');
    expect(challenge).toBe(expected);
    expect((await createPkce()).verifier).not.toBe(verifier);
  });
});

describe('authorizeUrl', () => {
  it('asks the openziti client for a code with PKCE S256 and the ext-jwt login page', () => {
    const url = authorizeUrl(`${CONTROLLER}/`, {
      redirectUri: REDIRECT,
      state: 'st',
      nonce: 'no',
      codeChallenge: 'ch',
    });
    expect(`${url.origin}${url.pathname}`).toBe(`${CONTROLLER}/oidc/authorize`);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: 'openziti',
      response_type: 'code',
      scope: 'openid offline_access',
      redirect_uri: REDIRECT,
      state: 'st',
      nonce: 'no',
      code_challenge: 'ch',
      code_challenge_method: 'S256',
      method: 'ext-jwt',
    });
  });
});

describe('oidcLogin', () => {
  it('follows authorize, logs in with the IdP token as Bearer, exchanges the code with its verifier', async () => {
    const c = fakeController();
    const s = await login(c.fetch);
    expect(s).toEqual({
      accessToken: jwt(accessClaims()),
      refreshToken: jwt({ z_t: 'r' }),
      idToken: jwt({ sub: 'identity-1' }),
      expiresAt: new Date(EXP * 1000),
      apiSessionId: 'asid-1',
      identityId: 'identity-1',
    });
    // The login went to the URL the authorize redirects ended at, never to a Location header.
    expect(c.seen.login?.url).toBe(`${CONTROLLER}/oidc/login/ext-jwt?authRequestID=req-1`);
    expect(c.seen.login?.method).toBe('POST');
    expect(c.seen.login?.redirect).toBe('follow');
    expect(c.seen.login?.headers.get('authorization')).toBe(`Bearer ${IDP_TOKEN}`);
    expect(c.seen.login?.headers.get('accept')).toBe('application/json');
    expect(c.seen.loginBody).toEqual({ id: 'req-1', configTypes: ['intercept.v1'] });
    const form = Object.fromEntries(c.seen.tokens[0]!);
    expect(form).toMatchObject({
      grant_type: 'authorization_code',
      client_id: 'openziti',
      code: 'code-1',
      redirect_uri: REDIRECT,
    });
    const digest = await crypto.subtle.digest(
      'SHA-256',
      new TextEncoder().encode(form.code_verifier),
    );
    const challenge = btoa(String.fromCharCode(...new Uint8Array(digest)))
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .replace(/=+$/, '');
    expect(c.seen.authorize?.searchParams.get('code_challenge')).toBe(challenge);
  });

  it('names a refused authorize (400 text) and an error sent back to the redirect URI', async () => {
    const refused = await failure(
      login(
        fakeController({
          authorize: () =>
            at(`${CONTROLLER}/oidc/authorize`, 'The requested redirect_uri is missing', {
              status: 400,
            }),
        }).fetch,
      ),
    );
    expect(refused).toMatchObject({ fault: 'authorize-refused', status: 400 });
    expect(refused.message).toContain('redirect_uri is missing');
    const redirected = await failure(
      login(
        fakeController({
          authorize: () =>
            at(`${REDIRECT}?error=unauthorized_client&error_description=nope&state=x`, ''),
        }).fetch,
      ),
    );
    expect(redirected).toMatchObject({
      fault: 'authorize-refused',
      oauthError: 'unauthorized_client',
    });
  });

  it('says so when the authorize redirects end anywhere but the ext-jwt login page', async () => {
    const err = await failure(
      login(
        fakeController({
          authorize: () =>
            at(`${CONTROLLER}/oidc/login/username?authRequestID=req-1`, '<html>login</html>'),
        }).fetch,
      ),
    );
    expect(err.fault).toBe('no-auth-request');
    expect(err.message).toContain('/oidc/login/username');
  });

  it('reports a refused IdP token as login-refused', async () => {
    const err = await failure(
      login(
        fakeController({
          login: () =>
            at(
              `${CONTROLLER}/oidc/login/ext-jwt?authRequestID=req-1`,
              'The authentication request failed',
              {
                status: 401,
              },
            ),
        }).fetch,
      ),
    );
    expect(err).toMatchObject({ fault: 'login-refused', status: 401 });
    expect(err.message).toContain('The authentication request failed');
  });

  it('names the auth queries it cannot answer (TOTP)', async () => {
    const err = await failure(
      login(
        fakeController({
          login: () =>
            at(
              `${CONTROLLER}/oidc/login/ext-jwt?authRequestID=req-1`,
              JSON.stringify({ authQueries: [{ typeId: 'TOTP', provider: 'ziti' }] }),
              { headers: { 'content-type': 'application/json', 'totp-required': 'true' } },
            ),
        }).fetch,
      ),
    );
    expect(err.fault).toBe('auth-queries');
    expect(err.message).toContain('TOTP/ziti');
    expect(err.message).toContain('TOTP required');
  });

  it('refuses a redirect that comes back with another state', async () => {
    const err = await failure(
      login(fakeController({ login: () => at(`${REDIRECT}?code=code-1&state=forged`, '') }).fetch),
    );
    expect(err.fault).toBe('state-mismatch');
  });

  it('refuses a redirect without a code, or with an error', async () => {
    for (const [url, oauthError] of [
      [`${REDIRECT}?state=S`, undefined],
      [`${REDIRECT}?error=interaction_required&state=S`, 'interaction_required'],
    ] as const) {
      const err = await failure(
        login(fakeController({ login: (_r, state) => at(url.replace('S', state), '') }).fetch),
      );
      expect(err).toMatchObject({ fault: 'no-code', oauthError });
    }
  });

  it('checks the token answer: every malformed shape is a bad-token-response naming the field', async () => {
    const good = {
      access_token: jwt(accessClaims()),
      token_type: 'Bearer',
      refresh_token: jwt({ z_t: 'r' }),
      expires_in: 1800,
    };
    const cases: [Record<string, unknown> | string, RegExp][] = [
      ['not json', /not JSON/],
      [{ ...good, access_token: undefined }, /access_token is missing/],
      [{ ...good, token_type: 'mac' }, /token_type is "mac"/],
      [{ ...good, token_type: undefined }, /token_type is missing/],
      [{ ...good, refresh_token: '' }, /refresh_token is missing/],
      [{ ...good, id_token: 5 }, /id_token is not a string/],
      [{ ...good, expires_in: '1800' }, /expires_in/],
      [{ ...good, access_token: 'opaque-token' }, /access_token: is not a JWT/],
      [{ ...good, access_token: 'eyA.!!!.sig' }, /not base64url JSON/],
      [{ ...good, access_token: jwt(accessClaims({ z_t: 'r' })) }, /not an access token/],
      [{ ...good, access_token: jwt(accessClaims({ z_asid: undefined })) }, /no z_asid/],
      [{ ...good, access_token: jwt(accessClaims({ sub: '' })) }, /no sub/],
      [{ ...good, access_token: jwt(accessClaims({ exp: 'soon' })) }, /no numeric exp/],
      [{ ...good, access_token: jwt(accessClaims({ aud: ['other'] })) }, /not for openziti/],
    ];
    for (const [body, message] of cases) {
      const err = await failure(
        login(
          fakeController({
            token: () =>
              new Response(typeof body === 'string' ? body : JSON.stringify(body), { status: 200 }),
          }).fetch,
        ),
      );
      expect(err.fault).toBe('bad-token-response');
      expect(err.message).toMatch(message);
    }
  });

  it('takes a single-string aud as the controller may send it', async () => {
    expect(readAccessClaims(jwt(accessClaims({ aud: 'openziti' }))).aud).toEqual(['openziti']);
  });

  it('reports a token endpoint refusal with its RFC 6749 code', async () => {
    const err = await failure(
      login(
        fakeController({
          token: () =>
            Response.json(
              { error: 'invalid_grant', error_description: 'invalid code_verifier' },
              { status: 400 },
            ),
        }).fetch,
      ),
    );
    expect(err).toMatchObject({ fault: 'token-refused', status: 400, oauthError: 'invalid_grant' });
    expect(err.message).toContain('invalid code_verifier');
  });

  it('turns a fetch that rejects into ZitiControllerUnreachableError', async () => {
    const err = await login(async () => {
      throw new TypeError('Failed to fetch');
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZitiControllerUnreachableError);
    expect((err as Error).message).toContain('GET /oidc/authorize');
  });
});

describe('oidcRefresh', () => {
  const session: OidcSession = {
    accessToken: jwt(accessClaims()),
    refreshToken: 'refresh-1',
    expiresAt: new Date(EXP * 1000),
    apiSessionId: 'asid-1',
    identityId: 'identity-1',
  };
  const answer = (claims: Record<string, unknown>) =>
    Response.json({
      access_token: jwt(claims),
      token_type: 'bearer',
      refresh_token: 'refresh-2',
      expires_in: 1800,
    });

  it('sends the refresh token and returns the new tokens of the same API session', async () => {
    const c = fakeController({ token: () => answer(accessClaims({ exp: EXP + 60 })) });
    const next = await oidcRefresh({ controller: CONTROLLER, fetch: c.fetch, session });
    expect(Object.fromEntries(c.seen.tokens[0]!)).toEqual({
      client_id: 'openziti',
      grant_type: 'refresh_token',
      refresh_token: 'refresh-1',
    });
    expect(next).toMatchObject({
      refreshToken: 'refresh-2',
      apiSessionId: 'asid-1',
      expiresAt: new Date((EXP + 60) * 1000),
    });
    expect(next.idToken).toBeUndefined();
  });

  it('refuses an answer for another API session or identity', async () => {
    for (const claims of [accessClaims({ z_asid: 'asid-2' }), accessClaims({ sub: 'other' })]) {
      const c = fakeController({ token: () => answer(claims) });
      const err = await failure(oidcRefresh({ controller: CONTROLLER, fetch: c.fetch, session }));
      expect(err.fault).toBe('session-changed');
    }
  });

  it('reports a refused refresh token, also when the answer has no description', async () => {
    const c = fakeController({
      token: () => Response.json({ error: 'invalid_grant' }, { status: 400 }),
    });
    const err = await failure(oidcRefresh({ controller: CONTROLLER, fetch: c.fetch, session }));
    expect(err).toMatchObject({ fault: 'token-refused', oauthError: 'invalid_grant', status: 400 });
  });
});

describe('oidcRevoke', () => {
  /** The provider's revocation endpoint answering `answer`, recording what it was sent. */
  function revocation(answer: () => Response) {
    const seen: Request[] = [];
    const fetchFn: FetchLike = async (req) => {
      seen.push(req.clone());
      return new URL(req.url).pathname === '/oidc/revoke'
        ? answer()
        : new Response('404 page not found', { status: 404 });
    };
    return { fetch: fetchFn, seen };
  }

  it('POSTs the token as an RFC 7009 form for the openziti client to /oidc/revoke', async () => {
    const c = revocation(() => new Response(null, { status: 200 }));
    await oidcRevoke({
      controller: `${CONTROLLER}/`,
      fetch: c.fetch,
      token: 'refresh-1',
      tokenTypeHint: 'refresh_token',
    });
    await oidcRevoke({
      controller: CONTROLLER,
      fetch: c.fetch,
      token: 'access-1',
      tokenTypeHint: 'access_token',
    });
    expect(c.seen).toHaveLength(2);
    const forms: Record<string, string>[] = [];
    for (const req of c.seen) {
      expect(req.method).toBe('POST');
      expect(req.url).toBe(`${CONTROLLER}/oidc/revoke`);
      expect(req.headers.get('content-type')).toBe('application/x-www-form-urlencoded');
      forms.push(Object.fromEntries(new URLSearchParams(await req.text())));
    }
    expect(forms).toEqual([
      { client_id: 'openziti', token: 'refresh-1', token_type_hint: 'refresh_token' },
      { client_id: 'openziti', token: 'access-1', token_type_hint: 'access_token' },
    ]);
  });

  it('throws token-refused with the status when the provider refuses', async () => {
    const c = revocation(() =>
      Response.json(
        { error: 'invalid_request', error_description: 'token is missing' },
        { status: 400 },
      ),
    );
    const err = await failure(
      oidcRevoke({
        controller: CONTROLLER,
        fetch: c.fetch,
        token: 'refresh-1',
        tokenTypeHint: 'refresh_token',
      }),
    );
    expect(err).toMatchObject({ fault: 'token-refused', status: 400 });
    expect(err.message).toContain('POST /oidc/revoke');
    expect(err.message).toContain('token is missing');
  });

  it('turns a fetch that rejects into ZitiControllerUnreachableError', async () => {
    const err = await oidcRevoke({
      controller: CONTROLLER,
      fetch: async () => {
        throw new TypeError('Failed to fetch');
      },
      token: 'refresh-1',
      tokenTypeHint: 'refresh_token',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZitiControllerUnreachableError);
    expect((err as Error).message).toContain('POST /oidc/revoke');
  });
});

describe('tokenId', () => {
  it("reads a JWT's jti and nothing else", () => {
    expect(tokenId(jwt({ jti: 'id-1', z_t: 'r' }))).toBe('id-1');
    expect(tokenId(jwt({ z_t: 'a' }))).toBeUndefined();
    expect(tokenId('not-a-jwt')).toBeUndefined();
    expect(tokenId('a.%%%.c')).toBeUndefined();
  });
});
