/**
 * The router with OIDC API sessions (auth.ts, edge-channel.ts): the hello with an access JWT as a
 * v1.7.2 router checks it, UpdateToken, the stricter `exp` check on Connect, the revoked-token
 * check, and service-access tokens from `POST /sessions` made with a Bearer token.
 */
import { randomUUID } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Channel,
  ContentType,
  EdgeErrorCode,
  getHeaderI32,
  HeaderId,
  type Message,
  newMessage,
  setHeaderU64,
  stringBytes,
} from '../../shared/ziti/index.ts';
import type { RunningFabric } from '../fabric.ts';
import { certFingerprint, issueIdentityCert, signCsr } from '../pki.ts';
import type { ApiSession } from '../state.ts';
import { standardCsr } from '../testing/csr.ts';
import { startTestFabric, TEST_USER } from '../testing/harness.ts';
import {
  type ClientCreds,
  DialRefusedError,
  dial,
  openClientChannel,
} from '../testing/node-client.ts';

let fabric: RunningFabric;
let clockOffset = 0;
const open: Channel[] = [];

beforeAll(async () => {
  fabric = await startTestFabric(
    {
      identities: [
        { name: TEST_USER.name, password: TEST_USER.password, roleAttributes: ['users'] },
        { name: 'second-user', password: 'second-pass', roleAttributes: ['users'] },
      ],
      services: [
        {
          name: 'plain',
          roleAttributes: ['plain'],
          encryptionRequired: false,
          hosting: 'router',
          target: 'demo-app',
          configs: {},
        },
        {
          name: 'undialable',
          roleAttributes: ['x'],
          hosting: 'router',
          target: 'demo-app',
          configs: {},
        },
      ],
      policies: [{ type: 'Dial', identityRoles: ['#users'], serviceRoles: ['#plain'] }],
    },
    { now: () => Date.now() + clockOffset, tunneler: false },
  );
});
afterAll(async () => {
  for (const ch of open) await ch.close();
  await fabric?.close();
});

const nowSeconds = () => Math.floor((Date.now() + clockOffset) / 1000);
const tlsUrl = () => ({ tlsUrl: fabric.router.urls.tls! });
const plainId = () => fabric.state.serviceByName('plain')!.id;

/** An access token as the controller's /oidc issues it, with any claim overridable. */
async function accessToken(
  s: ApiSession,
  over: {
    claims?: Record<string, unknown>;
    aud?: string[];
    exp?: number | null;
    kid?: string | null;
    key?: CryptoKey;
  } = {},
): Promise<string> {
  const jwt = new SignJWT({ z_t: 'a', z_asid: s.id, z_cfs: null, ...over.claims })
    .setProtectedHeader({
      alg: 'ES256',
      typ: 'JWT',
      ...(over.kid === null ? {} : { kid: over.kid ?? fabric.pki.jwtKey.kid }),
    })
    .setIssuer(`${fabric.controller.url}/oidc`)
    .setSubject(s.identity.id)
    .setAudience(over.aud ?? ['openziti'])
    .setIssuedAt(nowSeconds());
  if (over.exp !== null) jwt.setExpirationTime(over.exp ?? nowSeconds() + 600);
  return jwt.sign(over.key ?? fabric.pki.jwtKey.privateKey);
}

/** A session certificate whose SPIFFE id names `asid` (as POST /current-api-session/certificates). */
async function sessionCert(s: ApiSession, asid = s.id): Promise<ClientCreds & { fp: string }> {
  const { csrPem, keyPem } = await standardCsr();
  const cert = await signCsr(fabric.pki, csrPem, {
    spiffeId: `spiffe://zt-test/identity/${s.identity.id}/apiSession/${asid}/apiSessionCertificate/c1`,
    subject: `CN=${s.identity.id}`,
    validitySeconds: 600,
  });
  return {
    caPem: fabric.pki.caBundlePem,
    keyPem,
    certChainPem: `${cert.toString('pem')}\n${fabric.pki.intermediate.toString('pem')}`,
    fp: certFingerprint(cert),
  };
}

function oidcSession(name = TEST_USER.name): ApiSession {
  return fabric.state.createApiSession(fabric.state.identityByName(name)!, {
    authMethod: 'ext-jwt',
  });
}

/** Opens a channel; undefined when the router refused the hello (it closes the channel). */
async function hello(creds: ClientCreds, token: string): Promise<Channel | undefined> {
  let channel: Channel;
  try {
    ({ channel } = await openClientChannel(tlsUrl(), creds, token));
  } catch {
    return undefined;
  }
  const probe = newMessage(ContentType.Latency);
  setHeaderU64(probe, HeaderId.Reflected, 1n);
  const alive = await channel.request(probe, 3000).then(
    () => true,
    () => false,
  );
  if (!alive) return undefined;
  open.push(channel);
  return channel;
}

function updateTokenMsg(token: string): Message {
  return newMessage(ContentType.UpdateToken, new Map(), stringBytes(token));
}

async function bearerSession(token: string, serviceId: string, type = 'Dial') {
  const res = await fetch(`${fabric.controller.url}/edge/client/v1/sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ serviceId, type }),
  });
  return {
    status: res.status,
    body: (await res.json()) as { data: { id: string; token: string } },
  };
}

async function dialRefusal(channel: Channel, sessionToken: string) {
  const err = await dial(channel, { sessionToken, encrypt: false, onData: () => {} }).then(
    async (c) => {
      await c.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  if (err === undefined) return undefined;
  expect(err).toBeInstanceOf(DialRefusedError);
  return (err as DialRefusedError).info;
}

describe('router hello with an OIDC access token (router/state/manager.go ParseApiSessionJwt)', () => {
  it('accepts aud openziti or native, any issuer, a SPIFFE id of this API session', async () => {
    const s = oidcSession();
    const creds = await sessionCert(s);
    expect(await hello(creds, await accessToken(s))).toBeDefined();
    expect(await hello(creds, await accessToken(s, { aud: ['native'] }))).toBeDefined();
    expect(
      await hello(creds, await accessToken(s, { claims: { iss: 'https://elsewhere' } })),
    ).toBeDefined();
  });

  it('refuses a wrong aud, z_t, an expired or exp-less token, a bad signature or kid', async () => {
    const s = oidcSession();
    const creds = await sessionCert(s);
    const other = await generateKeyPair('ES256');
    for (const token of [
      await accessToken(s, { aud: ['other'] }),
      await accessToken(s, { claims: { z_t: 'r' } }),
      await accessToken(s, { claims: { z_t: 's' } }),
      await accessToken(s, { exp: nowSeconds() - 1 }),
      await accessToken(s, { exp: null }),
      await accessToken(s, { key: other.privateKey }),
      await accessToken(s, { kid: null }),
      await accessToken(s, { kid: 'another-kid' }),
    ]) {
      expect(await hello(creds, token)).toBeUndefined();
    }
  });

  it('refuses the certificate of another API session, and takes z_cfs fingerprints', async () => {
    const s = oidcSession();
    const elsewhere = await sessionCert(s, 'another-api-session');
    expect(await hello(elsewhere, await accessToken(s))).toBeUndefined();
    // An identity certificate (SPIFFE /identity/<id> only) counts only through z_cfs.
    const id = await issueIdentityCert(fabric.pki, s.identity.id);
    const idCreds = {
      caPem: fabric.pki.caBundlePem,
      keyPem: id.keyPem,
      certChainPem: `${id.certPem}${fabric.pki.intermediate.toString('pem')}`,
    };
    expect(await hello(idCreds, await accessToken(s))).toBeUndefined();
    const fp = certFingerprint(
      new (await import('../_internal/x509.ts')).X509Certificate(id.certPem),
    );
    expect(await hello(idCreds, await accessToken(s, { claims: { z_cfs: [fp] } }))).toBeDefined();
    expect(
      await hello(elsewhere, await accessToken(s, { claims: { z_cfs: [elsewhere.fp] } })),
    ).toBeDefined();
  });

  it('refuses a token whose API session the fabric no longer has', async () => {
    const s = oidcSession();
    const creds = await sessionCert(s);
    const token = await accessToken(s);
    fabric.state.removeApiSession(s.id);
    expect(await hello(creds, token)).toBeUndefined();
  });
});

describe('UpdateToken (router/xgress_edge/listener.go processTokenUpdate)', () => {
  it('answers success as a reply and the channel takes the new token', async () => {
    const s = oidcSession();
    const ch = (await hello(await sessionCert(s), await accessToken(s)))!;
    const next = await accessToken(s, { exp: nowSeconds() + 1200 });
    const req = updateTokenMsg(next);
    const reply = await ch.request(req, 3000);
    expect(reply.contentType).toBe(ContentType.UpdateTokenSuccess);
    // request() resolves only with a message whose ReplyFor names the request.
    expect(getHeaderI32(reply, HeaderId.ReplyFor)).toBeGreaterThan(0);
    const edge = [...fabric.router.channels].find((e) => e.apiSession.id === s.id)!;
    expect(edge.accessToken?.token).toBe(next);
  });

  it('answers failure with the reason and keeps the channel open', async () => {
    const s = oidcSession();
    const ch = (await hello(await sessionCert(s), await accessToken(s)))!;
    const expired = await ch.request(
      updateTokenMsg(await accessToken(s, { exp: nowSeconds() - 5 })),
      3000,
    );
    expect(expired.contentType).toBe(ContentType.UpdateTokenFailure);
    expect(new TextDecoder().decode(expired.body)).toMatch(
      /^api session JWT bearer token failed to parse or validate: /,
    );
    const wrongAud = await ch.request(updateTokenMsg(await accessToken(s, { aud: ['x'] })), 3000);
    expect(new TextDecoder().decode(wrongAud.body)).toContain('invalid audience');
    // Stricter than v1.7.2: another API session's token is refused.
    const other = oidcSession();
    const foreign = await ch.request(updateTokenMsg(await accessToken(other)), 3000);
    expect(foreign.contentType).toBe(ContentType.UpdateTokenFailure);
    expect(new TextDecoder().decode(foreign.body)).toMatch(
      /^failed to update a JWT based api session: /,
    );
    expect(
      await dialRefusal(ch, (await bearerSession(await accessToken(s), plainId())).body.data.token),
    ).toBeUndefined();
  });

  it('leaves an UpdateToken on a legacy channel unanswered, as v1.7.2 does, and the channel open', async () => {
    const s = oidcSession();
    // The identity's own certificate: the legacy check takes its SPIFFE id.
    const id = await issueIdentityCert(fabric.pki, s.identity.id);
    const creds = {
      caPem: fabric.pki.caBundlePem,
      keyPem: id.keyPem,
      certChainPem: `${id.certPem}${fabric.pki.intermediate.toString('pem')}`,
    };
    const ch = (await hello(creds, s.token))!;
    await expect(ch.request(updateTokenMsg(await accessToken(s)), 500)).rejects.toThrow();
    const probe = newMessage(ContentType.Latency);
    setHeaderU64(probe, HeaderId.Reflected, 1n);
    await expect(ch.request(probe, 3000)).resolves.toBeDefined();
  });
});

describe('Connect on an OIDC channel', () => {
  it('is refused once the access token has expired, until UpdateToken (stricter than v1.7.2)', async () => {
    const s = oidcSession();
    const ch = (await hello(
      await sessionCert(s),
      await accessToken(s, { exp: nowSeconds() + 60 }),
    ))!;
    const svc = (await bearerSession(await accessToken(s), plainId())).body.data.token;
    expect(await dialRefusal(ch, svc)).toBeUndefined();
    clockOffset += 120_000;
    try {
      const refused = await dialRefusal(ch, svc);
      // The real controller's text when it refuses the circuit for this token.
      expect(refused?.reason).toBe('token has invalid claims: token is expired');
      expect(refused?.errorCode).toBe(EdgeErrorCode.Internal);
      const reply = await ch.request(updateTokenMsg(await accessToken(s)), 3000);
      expect(reply.contentType).toBe(ContentType.UpdateTokenSuccess);
      expect(await dialRefusal(ch, svc)).toBeUndefined();
    } finally {
      clockOffset -= 120_000;
    }
  });

  it("is refused once the channel's access token was revoked at /oidc/revoke; the channel stays", async () => {
    const s = oidcSession();
    const access = await accessToken(s, { claims: { jti: randomUUID() } });
    const ch = (await hello(await sessionCert(s), access))!;
    const svc = (await bearerSession(access, plainId())).body.data.token;
    expect(await dialRefusal(ch, svc)).toBeUndefined();
    const revoked = await fetch(`${fabric.controller.url}/oidc/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: 'openziti',
        token: access,
        token_type_hint: 'access_token',
      }).toString(),
    });
    expect(revoked.status).toBe(200);
    const refused = await dialRefusal(ch, svc);
    // controller/env/appenv.go ValidateAccessToken, as the real controller refuses the circuit.
    expect(refused?.reason).toBe('access token has been revoked by id');
    expect(refused?.errorCode).toBe(EdgeErrorCode.Internal);
    expect(ch.isClosed).toBe(false);
    // Bearer REST does not look (controller/env/appenv.go ProcessJwt): a new service token is given.
    expect((await bearerSession(access, plainId())).status).toBe(201);
    // A token with another id dials again.
    const reply = await ch.request(
      updateTokenMsg(await accessToken(s, { claims: { jti: randomUUID() } })),
      3000,
    );
    expect(reply.contentType).toBe(ContentType.UpdateTokenSuccess);
    expect(await dialRefusal(ch, svc)).toBeUndefined();
  });

  it('takes the service-access JWT of POST /sessions and refuses what the real network refuses', async () => {
    const s = oidcSession();
    const access = await accessToken(s);
    const ch = (await hello(await sessionCert(s), access))!;
    // controller/internal/routes/session_router.go: a JWT with z_leg false, nothing stored.
    const first = await bearerSession(access, plainId());
    expect(first.status).toBe(201);
    const claims = JSON.parse(
      Buffer.from(first.body.data.token.split('.')[1]!, 'base64url').toString(),
    ) as Record<string, unknown>;
    expect(claims).toMatchObject({ z_t: 's', z_leg: false, z_asid: s.id, sub: plainId() });
    const del = await fetch(
      `${fabric.controller.url}/edge/client/v1/sessions/${first.body.data.id}`,
      {
        method: 'DELETE',
        headers: { authorization: `Bearer ${access}` },
      },
    );
    expect(del.status).toBe(404);
    expect(await dialRefusal(ch, first.body.data.token)).toBeUndefined();

    // A bare service id passes the real router, but its controller cannot parse it.
    expect((await dialRefusal(ch, plainId()))?.reason).toBe(
      'token is malformed: token contains an invalid number of segments',
    );
    expect((await dialRefusal(ch, 'no-such-service'))?.reason).toBe(
      'unable to get service token either by JWT parsing or id lookup',
    );
    // Another API session's service token.
    const other = oidcSession();
    const foreign = (await bearerSession(await accessToken(other), plainId())).body.data.token;
    expect((await dialRefusal(ch, foreign))?.reason).toMatch(
      /^failed to create service token from JWT: api session id \(.+\) does not match/,
    );
    // A service the identity may not dial.
    const undialable = fabric.state.serviceByName('undialable')!;
    const forged = await new SignJWT({ z_t: 's', z_asid: s.id, z_iid: s.identity.id, z_st: 'Dial' })
      .setProtectedHeader({ alg: 'ES256', kid: fabric.pki.jwtKey.kid })
      .setSubject(undialable.id)
      .setAudience(['openziti'])
      .sign(fabric.pki.jwtKey.privateKey);
    expect((await dialRefusal(ch, forged))?.reason).toBe(
      'no access to service, failed dial access check',
    );
    const bindType = await new SignJWT({
      z_t: 's',
      z_asid: s.id,
      z_iid: s.identity.id,
      z_st: 'Bind',
    })
      .setProtectedHeader({ alg: 'ES256', kid: fabric.pki.jwtKey.kid })
      .setSubject(plainId())
      .setAudience(['openziti'])
      .sign(fabric.pki.jwtKey.privateKey);
    const wrongType = await dialRefusal(ch, bindType);
    expect(wrongType?.reason).toBe('incorrect session type');
    expect(wrongType?.errorCode).toBe(EdgeErrorCode.WrongSessionType);
  });

  it('keeps the legacy path: a zt-session POST /sessions gives a stored z_leg session', async () => {
    const login = await fetch(
      `${fabric.controller.url}/edge/client/v1/authenticate?method=password`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: TEST_USER.name, password: TEST_USER.password }),
      },
    );
    const zt = ((await login.json()) as { data: { token: string } }).data.token;
    const res = await fetch(`${fabric.controller.url}/edge/client/v1/sessions`, {
      method: 'POST',
      headers: { 'zt-session': zt, 'content-type': 'application/json' },
      body: JSON.stringify({ serviceId: plainId(), type: 'Dial' }),
    });
    const token = ((await res.json()) as { data: { token: string } }).data.token;
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    expect(claims.z_leg).toBe(true);
    expect(await fabric.state.resolveSession(token)).toBeDefined();
  });
});
