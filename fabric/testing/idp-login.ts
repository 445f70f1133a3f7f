/**
 * Test helper: logs in at the fabric IdP the way the bootstrap page does (authorization code +
 * PKCE, then the token endpoint), following redirects by hand so cookies can be carried.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface IdpTokens {
  access_token: string;
  id_token: string;
  refresh_token?: string;
  expires_in: number;
  token_type: string;
}

export async function loginAtIdp(p: {
  issuer: string;
  clientId: string;
  redirectUri: string;
  username: string;
  password: string;
  scope?: string;
}): Promise<IdpTokens> {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const state = randomBytes(8).toString('hex');
  const cookies = new Map<string, string>();
  const keep = (res: Response) => {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      cookies.set(pair!.slice(0, i), pair!.slice(i + 1));
    }
  };
  const cookieHeader = () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const go = async (url: string, init: RequestInit = {}) => {
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), cookie: cookieHeader() },
    });
    keep(res);
    return res;
  };

  const auth = new URL(`${p.issuer}/auth`);
  auth.search = new URLSearchParams({
    client_id: p.clientId,
    response_type: 'code',
    redirect_uri: p.redirectUri,
    scope: p.scope ?? 'openid profile offline_access',
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  let res = await go(auth.href);
  let location = res.headers.get('location');
  if (!location) throw new Error(`IdP /auth answered ${res.status}: ${await res.text()}`);
  const interaction = new URL(location, p.issuer);
  res = await go(interaction.href);
  if (res.status !== 200) throw new Error(`login page answered ${res.status}`);
  await res.text();
  res = await go(`${interaction.href}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: p.username, password: p.password }).toString(),
  });
  if (res.status === 401) throw new Error('IdP rejected the username or password');
  // Follow the redirects back through /auth until the redirect_uri is reached.
  for (let i = 0; i < 5; i++) {
    location = res.headers.get('location');
    if (!location)
      throw new Error(`IdP login flow stopped with ${res.status}: ${await res.text()}`);
    const next = new URL(location, p.issuer);
    if (next.href.startsWith(p.redirectUri)) {
      if (next.searchParams.get('state') !== state) throw new Error('state mismatch');
      const code = next.searchParams.get('code');
      if (!code) throw new Error(`no code: ${next.search}`);
      const tokenRes = await fetch(`${p.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          client_id: p.clientId,
          code,
          code_verifier: verifier,
          redirect_uri: p.redirectUri,
        }).toString(),
      });
      const body = (await tokenRes.json()) as IdpTokens;
      if (!tokenRes.ok) throw new Error(`token endpoint: ${JSON.stringify(body)}`);
      return body;
    }
    res = await go(next.href);
  }
  throw new Error('too many redirects');
}
