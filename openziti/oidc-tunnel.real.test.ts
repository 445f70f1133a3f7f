/**
 * The whole OIDC session path against OpenZiti's own network (v1.7.2: controller, router, `ziti
 * tunnel host`), with the product's shared code only: login with the company IdP's token, the
 * API-session certificate (key and CSR in WebCrypto), services and a Dial session over Bearer, a
 * channel to the router's `wss` listener with the access token as the hello's token (our TLS
 * client), dials to the hosted app, the token update on the open channel, revocation at the
 * OpenID provider and what the router does with expired tokens. Access tokens last one minute.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDP_SCOPES, type RunningIdp, startIdp } from '../fabric/idp.ts';
import { loginAtIdp } from '../fabric/testing/idp-login.ts';
import { HttpConnection } from '../shared/http/index.ts';
import {
  createCsrPem,
  createSessionKey,
  parseCertificateChain,
} from '../shared/identity/session-key.ts';
import type { ByteDuplex } from '../shared/streams/duplex.ts';
import { SubjectAlternativeNameExtension, X509Certificate } from '../shared/x509.ts';
import {
  type FetchLike,
  type OidcSession,
  oidcLogin,
  oidcRefresh,
  readAccessClaims,
  ZitiOidcError,
} from '../shared/ziti/controller/oidc-session.ts';
import type { EdgeConnectionImpl } from '../shared/ziti/edge/connection.ts';
import {
  type Channel,
  ControllerClient,
  dialService,
  updateToken,
  ZitiAuthenticationError,
  ZitiChannelClosedError,
  ZitiDialError,
  type ZitiService,
  type ZitiSession,
  ZitiTimeoutError,
} from '../shared/ziti/index.ts';
import { type RunningOpenZiti, startOpenZiti, zitiBinary } from './network.ts';
import { openRouterChannel, startRouterChannel } from './router-channel.ts';
import { fetchTrusting } from './trusted-fetch.ts';

const IDP_CLIENT = 'zt-browser';
const IDP_REDIRECT = 'http://127.0.0.1:0/__zt/callback';
const PERSON = { name: 'tunnel-person', externalId: 'tunnel-person', password: 'tunnel-pass' };
const SITE = 'https://site.example';
const SERVICE = 'tunnel-app';
const TUNNELER_REDIRECT_URI = 'http://127.0.0.1:*/auth/callback';
/** `edge.oidc.accessTokenDuration`: the controller's minimum (controller/config/config_edge.go). */
const ACCESS_TOKEN_DURATION = '1m';

/** A JWT segment (0 header, 1 claims) as JSON. */
const jwtPart = (jwt: string, i: 0 | 1): Record<string, unknown> =>
  JSON.parse(Buffer.from(jwt.split('.')[i]!, 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;

/** `n` bytes of the stream 0, 1, 2 … (mod 251) starting at offset `at`. */
function countedBytes(at: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (at + i) % 251;
  return out;
}

/** The rejection of `p` (fails the test if it resolves). */
/** The duplex with what the router sends held back until the client wrote `writes` frames. */
function answerHeldUntilWrites(tls: ByteDuplex, writes: number): ByteDuplex {
  const writer = tls.writable.getWriter();
  let written = 0;
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  return {
    readable: tls.readable.pipeThrough(
      new TransformStream({
        async transform(chunk, controller) {
          await released;
          controller.enqueue(chunk);
        },
      }),
    ),
    writable: new WritableStream({
      write(chunk) {
        const done = writer.write(chunk);
        if (++written >= writes) release();
        return done;
      },
      close: () => writer.close(),
      abort: (reason) => writer.abort(reason),
    }),
  };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  const r = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(r).toBeInstanceOf(Error);
  return r as Error;
}

describe('OIDC API session end to end on OpenZiti v1.7.2', () => {
  let dir: string;
  let idp: RunningIdp;
  let app: Server;
  let callback: Server;
  let redirectUri: string;
  let network: RunningOpenZiti;
  let fetchCtrl: FetchLike;
  let caBundle: string[];
  const channels: Channel[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'zt-oidc-tunnel-'));
    // The dark app the real tunneler hosts: names the path it was asked for; `/bytes/N` streams N
    // counted bytes and `POST /sha256` answers the digest and length of what it received.
    app = createServer((req, res) => {
      const bytes = /^\/bytes\/(\d+)$/.exec(req.url ?? '');
      if (bytes) {
        const total = Number(bytes[1]);
        res.writeHead(200, { 'content-length': total });
        let at = 0;
        const more = () => {
          while (at < total) {
            const n = Math.min(64 * 1024, total - at);
            const ok = res.write(countedBytes(at, n));
            at += n;
            if (!ok) return void res.once('drain', more);
          }
          res.end();
        };
        more();
        return;
      }
      const cut = /^\/cut\/(\d+)$/.exec(req.url ?? '');
      if (cut) {
        const n = Number(cut[1]);
        res.writeHead(200, { 'content-length': 2 * n });
        res.write(countedBytes(0, n), () => req.socket.end());
        return;
      }
      if (req.method === 'POST' && req.url === '/sha256') {
        const hash = createHash('sha256');
        let length = 0;
        req.on('data', (c: Buffer) => {
          hash.update(c);
          length += c.length;
        });
        req.on('end', () => res.end(`${hash.digest('hex')} ${length}`));
        return;
      }
      const body = `dark app saw ${req.method} ${req.url}`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
      res.end(body);
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
    // The bootstrap site's callback, where the controller's redirects end.
    callback = createServer((_req, res) => {
      res.writeHead(200, { 'access-control-allow-origin': '*' });
      res.end('signed in');
    });
    await new Promise<void>((r) => callback.listen(0, '127.0.0.1', () => r()));
    redirectUri = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/__zt/oidc-callback`;
    idp = await startIdp({
      host: '127.0.0.1',
      port: 0,
      dataDir: join(dir, 'idp'),
      clientId: IDP_CLIENT,
      audience: 'openziti',
      accessTokenTtlSeconds: 600,
      redirectUris: [IDP_REDIRECT],
      users: [{ ...PERSON, id: PERSON.name, roleAttributes: [], disabled: false }],
    });
    network = await startOpenZiti({
      ziti: zitiBinary(),
      dir: join(dir, 'openziti'),
      names: {
        signer: 'local-idp',
        issuer: idp.issuer,
        jwksEndpoint: idp.jwksUrl,
        audience: 'openziti',
        claimsProperty: 'sub',
        clientId: IDP_CLIENT,
        scopes: IDP_SCOPES,
        authPolicy: 'browser-users',
        userRole: 'users',
        hostRole: 'hosts',
        service: SERVICE,
        intercept: { address: 'tunnel-app.test', port: 80 },
        host: { address: '127.0.0.1', port: (app.address() as AddressInfo).port },
        hostIdentity: 'app-host',
      },
      people: [{ name: PERSON.name, externalId: PERSON.externalId }],
      tunneler: true,
      oidc: {
        // The bootstrap site's callback, and the default the hosting tunneler needs: `ziti tunnel
        // host` logs in over OIDC through a local relying party at this URI (sdk-golang
        // edge-apis/oidc.go newLocalRpServer; the default list is controller/webapis/oidc-api.go).
        redirectUris: [redirectUri, TUNNELER_REDIRECT_URI],
        accessTokenDuration: ACCESS_TOKEN_DURATION,
      },
    });
    fetchCtrl = await fetchTrusting(network.rootCaPem);
    caBundle = await new ControllerClient({
      baseUrl: network.controllerUrl,
      fetch: fetchCtrl as typeof fetch,
    }).caBundle();
  }, 180_000);

  afterAll(async () => {
    for (const ch of channels) await ch.close().catch(() => {});
    await network?.close();
    await idp?.close();
    for (const s of [app, callback]) await new Promise<void>((r) => s?.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const login = async (): Promise<OidcSession> =>
    oidcLogin({
      controller: network.controllerUrl,
      fetch: fetchCtrl,
      redirectUri,
      idpToken: (
        await loginAtIdp({
          issuer: idp.issuer,
          clientId: IDP_CLIENT,
          redirectUri: IDP_REDIRECT,
          username: PERSON.name,
          password: PERSON.password,
        })
      ).access_token,
    });
  const client = (s: OidcSession) =>
    new ControllerClient({
      baseUrl: network.controllerUrl,
      fetch: fetchCtrl as typeof fetch,
      accessToken: s.accessToken,
    });
  const bearer = (path: string, token: string) =>
    fetchCtrl(
      new Request(new URL(`/edge/client/v1${path}`, network.controllerUrl), {
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      }),
    );

  /** An API-session certificate for `s`: the chain, leaf first, and its key. */
  const sessionCertificate = async (s: OidcSession) => {
    const keys = await createSessionKey();
    const cert = await client(s).createSessionCertificate(await createCsrPem(keys, s.identityId));
    return { id: cert.id, keys, ...parseCertificateChain(cert.certificate) };
  };
  const routerOptions = (cert: { chain: string[]; keys: CryptoKeyPair }, accessToken: string) => ({
    wssUrl: wssUrl,
    outerCaPem: network.rootCaPem,
    caBundle,
    certificates: cert.chain,
    clientKey: cert.keys.privateKey,
    sessionToken: accessToken,
  });
  const channelFor = async (
    cert: { chain: string[]; keys: CryptoKeyPair },
    accessToken: string,
  ): Promise<Channel> => {
    const ch = await openRouterChannel(routerOptions(cert, accessToken));
    channels.push(ch);
    return ch;
  };
  /** Dials the hosted app and GETs `path` over HTTP/1.1 (shared/http over the edge connection). */
  const get = async (ch: Channel, dialToken: string, path: string) => {
    const conn = await dialService(ch, {
      sessionToken: dialToken,
      encryptionRequired: service.encryptionRequired,
    });
    const http = new HttpConnection(conn);
    const res = await http.request({
      method: 'GET',
      target: path,
      headers: { host: 'tunnel-app.test' },
    });
    const text = await new Response(res.body).text();
    http.close();
    return { status: res.status, text, encrypted: conn.encrypted };
  };

  // State carried from one step to the next, in order.
  let s1: OidcSession;
  let cert1: Awaited<ReturnType<typeof sessionCertificate>>;
  let service: ZitiService;
  let dial1: ZitiSession;
  let wssUrl: string;
  let chA: Channel;
  let s1b: OidcSession;
  let s2: OidcSession;
  let cert2: Awaited<ReturnType<typeof sessionCertificate>>;
  let dial2: ZitiSession;
  let chC: Channel;

  it('1. logs in with the IdP token: an access JWT for the person and the API session', async () => {
    s1 = await login();
    const claims = readAccessClaims(s1.accessToken);
    expect(claims).toMatchObject({ z_t: 'a', z_asid: s1.apiSessionId, sub: s1.identityId });
    expect(claims.aud).toContain('openziti');
  });

  it('2. Bearer POST /current-api-session/certificates signs the CSR for the SPIFFE id of z_asid; the list stays empty', async () => {
    cert1 = await sessionCertificate(s1);
    expect(cert1.id).toBeTruthy();
    // Leaf and the signer (the edge intermediate).
    expect(cert1.chain).toHaveLength(2);
    const leaf = new X509Certificate(cert1.chain[0]!);
    const uris = (leaf.getExtension(SubjectAlternativeNameExtension)?.names.items ?? [])
      .filter((n) => n.type === 'url')
      .map((n) => n.value);
    // controller/model/api_session_certificate_manager.go; the router accepts it for the hello's
    // token when the path's apiSession is the token's z_asid (router/xgress_edge/connections.go
    // verifySpiffId).
    expect(uris).toEqual([
      `spiffe://zt-openziti/identity/${s1.identityId}/apiSession/${s1.apiSessionId}/apiSessionCertificate/${cert1.id}`,
    ]);
    // 12 hours (controller/internal/routes/current_api_session_router.go CreateCertificate).
    expect(cert1.notAfter - cert1.notBefore).toBe(12 * 3600 * 1000);
    // A bearer session has no stored API session, so the certificate is not stored either
    // (api_session_certificate_manager.go CreateFromCSR, `isJwt`): the list does not show it.
    const list = await bearer('/current-api-session/certificates', s1.accessToken);
    expect(list.status).toBe(200);
    const body = (await list.json()) as {
      data: unknown[];
      meta: { pagination: { totalCount: number } };
    };
    expect(body.data).toEqual([]);
    expect(body.meta.pagination.totalCount).toBe(0);
  });

  it('3. Bearer GET /services and POST /sessions (Dial): a service-access JWT of the API session, and the wss router', async () => {
    const services = await client(s1).services({ configTypes: ['all'] });
    service = services.find((s) => s.name === SERVICE)!;
    expect(service).toBeDefined();
    expect(service.permissions).toContain('Dial');
    expect(service.encryptionRequired).toBe(true);
    dial1 = await client(s1).createSession(service.id, 'Dial');
    expect(dial1).toMatchObject({
      type: 'Dial',
      serviceId: service.id,
      apiSessionId: s1.apiSessionId,
      identityId: s1.identityId,
    });
    // controller/model/session_manager.go CreateJwt, common/oidc_tokens.go ServiceAccessClaims.
    expect(jwtPart(dial1.token, 0)).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    const claims = jwtPart(dial1.token, 1);
    expect(claims).toMatchObject({
      sub: service.id,
      aud: ['openziti'],
      jti: dial1.id,
      z_t: 's',
      z_st: 'Dial',
      z_asid: s1.apiSessionId,
      z_iid: s1.identityId,
      z_leg: false,
    });
    // "bound by API Session": a year.
    expect((claims.exp as number) - (claims.iat as number)).toBeGreaterThan(364 * 86400);
    expect(() => readAccessClaims(dial1.token)).toThrow(ZitiOidcError);
    expect(dial1.edgeRouters).toHaveLength(1);
    expect(dial1.edgeRouters[0]).toMatchObject({ name: network.router.name, isOnline: true });
    wssUrl = dial1.edgeRouters[0]!.supportedProtocols!.wss!;
    expect(wssUrl).toBe(network.router.wssUrl);
  });

  it('4. the router takes the access token as the hello token over wss with the API-session certificate', async () => {
    // openChannel sends a latency probe behind the hello and waits for its answer, which the
    // router gives only once the session passed its check: a refused token fails here.
    chA = await channelFor(cert1, s1.accessToken);
    expect(chA.isClosed).toBe(false);
  });

  it('5. dials the hosted app with the Dial session token and exchanges an HTTP request', async () => {
    expect(await get(chA, dial1.token, '/first')).toEqual({
      status: 200,
      text: 'dark app saw GET /first',
      encrypted: true,
    });
  });

  it('5b. SDK flow control: the router grants it; a reader that stops holds the sender to the window, an upload arrives whole', async () => {
    const conn = await dialService(chA, {
      sessionToken: dial1.token,
      encryptionRequired: service.encryptionRequired,
      flowControl: true,
    });
    expect(conn.flowControlled).toBe(true);
    const http = new HttpConnection(conn);
    const edge = conn as EdgeConnectionImpl;
    // 24 MiB, and nothing read at first: without flow control the bytes would pile up in the
    // connection's queue; with it the router's xgress stops at its 4 MiB window, whatever the
    // tunnel's speed on this machine.
    const total = 24 * 1024 * 1024;
    const res = await http.request({
      method: 'GET',
      target: `/bytes/${total}`,
      headers: { host: 'tunnel-app.test' },
    });
    // Past our 4 MiB receive limit one acknowledgement is held and the buffer reported full, which
    // stops the router's xgress: the queue ends under the limit plus the sender's 4 MiB window,
    // and only the held payload is sent again meanwhile.
    const deadline = Date.now() + 30_000;
    while (edge.flowStats!.held === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 500)); // whatever the router still had on its way
    const maxQueued = edge.queuedBytes;
    const reader = res.body!.getReader();
    let at = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      // Buffer.equals, not expect(): a slow comparison would stall acknowledgements too.
      if (!Buffer.from(value).equals(countedBytes(at, value.length))) {
        throw new Error(`byte ${at}: wrong content`);
      }
      at += value.length;
    }
    expect(at).toBe(total);
    const stats = edge.flowStats!;
    expect(stats.held).toBeGreaterThan(0);
    expect(maxQueued).toBeGreaterThan(3 * 1024 * 1024);
    // A Go sender checks its window before each payload, so the one that crosses it still comes
    // (once 27 KiB over here): 64 KiB are allowed for it.
    expect(maxQueued).toBeLessThanOrEqual(8 * 1024 * 1024 + 64 * 1024);
    expect(stats.duplicates).toBeLessThan(total / 32768 / 20);

    // 24 MiB up through the same connection, streamed: the tunneler's app sees every byte.
    const upload = 24 * 1024 * 1024;
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull: (c) => {
        if (sent >= upload) return c.close();
        const n = Math.min(256 * 1024, upload - sent);
        c.enqueue(countedBytes(sent, n));
        sent += n;
      },
    });
    const posted = await http.request({
      method: 'POST',
      target: '/sha256',
      headers: { host: 'tunnel-app.test' },
      body,
      contentLength: upload,
    });
    const want = createHash('sha256');
    for (let o = 0; o < upload; o += 1024 * 1024) want.update(countedBytes(o, 1024 * 1024));
    expect(await new Response(posted.body).text()).toBe(`${want.digest('hex')} ${upload}`);
    http.close();
    const closed = await conn.closed;
    expect(closed.error).toBeUndefined();
  }, 60_000);

  it('5c. dialers that vanish while their circuit is being set up do not stop the tunneler hosting the service', async () => {
    // As a browser that is closed while its page loads: a dial goes out and the channel ends a
    // few ms later, at different points of the circuit's setup. With SDK flow control asked for,
    // v1.7.2's tunneler wedged within these twelve (every later dial timed out); with the
    // product's default (Data framing) it serves on.
    for (let i = 0; i < 12; i++) {
      const ch = await channelFor(cert1, s1.accessToken);
      void dialService(ch, {
        sessionToken: dial1.token,
        encryptionRequired: service.encryptionRequired,
      }).catch(() => {});
      await new Promise((r) => setTimeout(r, i * 3));
      await ch.close();
    }
    expect(await get(chA, dial1.token, '/after-vanished-dialers')).toMatchObject({ status: 200 });
  });

  it('5e. an app that ends its response early: a dialer with SDK flow control hears the end, one with Data framing nothing', async () => {
    // `ziti tunnel host` half-closes the circuit when its app closes (tunnel/tunnel.go myCopy,
    // CloseWrite). Its SDK sends that as an xgress EOF, and the router's xgress for a dialer
    // without SDK flow control stops there without telling it (sdk-golang xgress.go tx: no
    // SignalConnection in router/xgress_edge). So such a dialer cannot see a truncated body end.
    const cutRead = async (flowControl: boolean) => {
      const conn = await dialService(chA, {
        sessionToken: dial1.token,
        encryptionRequired: service.encryptionRequired,
        flowControl,
      });
      const writer = conn.writable.getWriter();
      await writer.write(new TextEncoder().encode('GET /cut/1000 HTTP/1.1\r\nhost: x\r\n\r\n'));
      const reader = conn.readable.getReader();
      let length = 0;
      for (;;) {
        const next = await Promise.race([
          reader.read(),
          new Promise<'silent'>((r) => setTimeout(() => r('silent'), 3000)),
        ]);
        if (next === 'silent') {
          void conn.close();
          return { length, end: 'none after 3 s' };
        }
        if (next.done) {
          void conn.close();
          return { length, end: 'FIN' };
        }
        length += next.value.length;
      }
    };
    const head = 'HTTP/1.1 200 OK\r\ncontent-length: 2000\r\n'.length;
    const flowControlled = await cutRead(true);
    const framed = await cutRead(false);
    expect(flowControlled.length).toBeGreaterThan(head + 1000);
    expect([flowControlled.end, framed]).toEqual([
      'FIN',
      { length: flowControlled.length, end: 'none after 3 s' },
    ]);
  });

  it('5d. a dial written right behind the hello, before its answer, is read after the session check and connects', async () => {
    // The router's answer reaches the channel only once the client wrote its hello, probe and
    // Connect: a client that waited for the answer before dialling would time out here.
    const { channel, opened } = await startRouterChannel({
      ...routerOptions(cert1, s1.accessToken),
      wrap: (tls) => answerHeldUntilWrites(tls, 3),
    });
    channels.push(channel);
    const fetched = get(channel, dial1.token, '/behind-the-hello');
    expect(await opened).toBe(channel);
    expect(await fetched).toEqual({
      status: 200,
      text: 'dark app saw GET /behind-the-hello',
      encrypted: true,
    });
  });

  it('6a. after a refresh, UpdateToken on the open channel succeeds and the channel dials again', async () => {
    s1b = await oidcRefresh({ controller: network.controllerUrl, fetch: fetchCtrl, session: s1 });
    await updateToken(chA, s1b.accessToken);
    expect((await get(chA, dial1.token, '/after-refresh')).text).toBe(
      'dark app saw GET /after-refresh',
    );
  });

  it('6b. a token of another login: UpdateToken answers success but the channel keeps its own API session', async () => {
    s2 = await login();
    expect(s2.apiSessionId).not.toBe(s1.apiSessionId);
    // router/state/manager.go HandleClientApiSessionTokenUpdate: the token goes to the channels
    // of ITS z_asid (none here) and the answer is UpdateTokenSuccess all the same.
    await updateToken(chA, s2.accessToken);
    expect(chA.isClosed).toBe(false);
    expect((await get(chA, dial1.token, '/after-foreign-update')).status).toBe(200);
    // The channel is still session 1's: session 2's Dial token is refused on it
    // (router/state/token.go NewServiceSessionToken).
    dial2 = await client(s2).createSession(service.id, 'Dial');
    const foreign = await rejection(get(chA, dial2.token, '/foreign-dial'));
    expect(foreign).toBeInstanceOf(ZitiDialError);
    expect(foreign.message).toBe(
      `failed to create service token from JWT: api session id (${s1.apiSessionId}) does not match service session api session id (${s2.apiSessionId})`,
    );
    expect(chA.isClosed).toBe(false);
  });

  it("6c. the hello needs the certificate of the token's own API session", async () => {
    cert2 = await sessionCertificate(s2);
    // router/xgress_edge/connections.go validateApiSession: neither SPIFFE id nor fingerprint match.
    expect(await rejection(channelFor(cert1, s2.accessToken))).toBeInstanceOf(
      ZitiAuthenticationError,
    );
    // A dial sent behind such a hello is never read: it fails with the channel, for that reason.
    const refused = await startRouterChannel(routerOptions(cert1, s2.accessToken));
    const dialled = rejection(get(refused.channel, dial2.token, '/never'));
    expect(await rejection(refused.opened)).toBeInstanceOf(ZitiAuthenticationError);
    expect(await dialled).toBeInstanceOf(ZitiChannelClosedError);
    chC = await channelFor(cert2, s2.accessToken);
    expect((await get(chC, dial2.token, '/channel-c')).text).toBe('dark app saw GET /channel-c');
  });

  it('6d. UpdateToken refusals: a refresh JWT gets UpdateTokenFailure and the channel stays; a non-JWT gets no answer', async () => {
    // router/xgress_edge/listener.go processTokenUpdate → ParseApiSessionJwt (manager.go).
    const refused = await rejection(updateToken(chA, s1b.refreshToken));
    expect(refused).toBeInstanceOf(ZitiAuthenticationError);
    expect(refused.message).toBe(
      "router refused the new token: api session JWT bearer token failed to parse or validate: provided an api session token with invalid type 'r'",
    );
    // The same function builds the reply to a non-JWT body but never sends it.
    const unanswered = await rejection(updateToken(chA, 'not-a-jwt', 3_000));
    expect(unanswered).toBeInstanceOf(ZitiTimeoutError);
    expect(chA.isClosed).toBe(false);
    expect((await get(chA, dial1.token, '/after-refusals')).status).toBe(200);
  });

  it('7. revocation at the OpenID provider: the refresh token dies, its access token lives on REST and on the router until revoked itself', async () => {
    const disc = await fetchCtrl(
      new Request(new URL('/oidc/.well-known/openid-configuration', network.controllerUrl)),
    );
    expect(disc.status).toBe(200);
    const d = (await disc.json()) as Record<string, unknown>;
    expect(d.revocation_endpoint).toBe(`${network.controllerUrl}/oidc/revoke`);
    expect(d.end_session_endpoint).toBe(`${network.controllerUrl}/oidc/end_session`);
    expect(d.revocation_endpoint_auth_methods_supported).toContain('none');
    const revoke = (form: Record<string, string>, origin?: string) =>
      fetchCtrl(
        new Request(String(d.revocation_endpoint), {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            ...(origin ? { origin } : {}),
          },
          body: new URLSearchParams(form).toString(),
        }),
      );

    // RFC 7009 from the bootstrap page's origin: 200, empty, readable cross-origin (zitadel
    // oidc's CORS echoes the origin, pkg/op/op.go defaultCORSOptions).
    const rv = await revoke(
      { token: s1b.refreshToken, token_type_hint: 'refresh_token', client_id: 'openziti' },
      SITE,
    );
    expect(rv.status).toBe(200);
    expect(await rv.text()).toBe('');
    expect(rv.headers.get('access-control-allow-origin')).toBe(SITE);
    expect(rv.headers.get('access-control-allow-credentials')).toBe('true');
    // The refresh is refused, though not with invalid_grant: the rotation's own revocation of the
    // old token id collides with the stored one (controller/oidc_auth/storage.go renewRefreshToken).
    const refresh = await rejection(
      oidcRefresh({ controller: network.controllerUrl, fetch: fetchCtrl, session: s1b }),
    );
    expect(refresh).toMatchObject({
      fault: 'token-refused',
      status: 400,
      oauthError: 'server_error',
    });
    expect(refresh.message).toMatch(/an entity of type revocation already exists/);
    // Revoking it again: 500 server_error (the same collision, in RevokeToken).
    const again = await revoke({
      token: s1b.refreshToken,
      token_type_hint: 'refresh_token',
      client_id: 'openziti',
    });
    expect(again.status).toBe(500);
    expect(await again.json()).toEqual({ error: 'server_error' });
    // The access token of that session is untouched: REST, new Dial sessions, dials.
    expect((await bearer('/current-identity', s1b.accessToken)).status).toBe(200);
    await client(s1b).createSession(service.id, 'Dial');
    expect((await get(chA, dial1.token, '/after-refresh-revoke')).status).toBe(200);

    // Revoking the access token itself (hint access_token): accepted. REST does not look
    // (controller/env/appenv.go ProcessJwt), the circuit request does (ValidateAccessToken, via
    // controller/handler_edge_ctrl/common.go): dials on the channel fail, the channel stays.
    const ra = await revoke({
      token: s1b.accessToken,
      token_type_hint: 'access_token',
      client_id: 'openziti',
    });
    expect(ra.status).toBe(200);
    expect((await bearer('/current-identity', s1b.accessToken)).status).toBe(200);
    const dial = await rejection(get(chA, dial1.token, '/after-access-revoke'));
    expect(dial).toBeInstanceOf(ZitiDialError);
    expect(dial.message).toBe('access token has been revoked by id');
    expect(chA.isClosed).toBe(false);

    // Without client_id: 401 invalid_client. A token it does not know: 200 (RFC 7009 §2.2).
    const anonymous = await revoke({ token: s2.refreshToken });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: 'invalid_client' });
    expect((await revoke({ token: 'garbage', client_id: 'openziti' })).status).toBe(200);

    // The preflight (gorilla handlers in controller/api/cors.go): 200, any origin; no
    // Allow-Methods, which POST (a CORS-safelisted method) does not need.
    const pre = await fetchCtrl(
      new Request(String(d.revocation_endpoint), {
        method: 'OPTIONS',
        headers: {
          origin: SITE,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      }),
    );
    expect(pre.status).toBe(200);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-headers')).toBe('Content-Type');
    expect(pre.headers.get('access-control-allow-credentials')).toBe('true');
  });

  it('8. an expired access token: the open channel stays but cannot dial until UpdateToken; a new hello and REST are refused', async () => {
    await new Promise((r) =>
      setTimeout(r, Math.max(0, s2.expiresAt.getTime() + 2_000 - Date.now())),
    );
    // The router keeps the channel (it does not watch token expiry) ...
    expect(chC.isClosed).toBe(false);
    // ... but the controller refuses the circuit (ValidateAccessToken parses the expired JWT).
    const dial = await rejection(get(chC, dial2.token, '/expired'));
    expect(dial).toBeInstanceOf(ZitiDialError);
    expect(dial.message).toBe('token has invalid claims: token is expired');
    // A new hello with it: closed after the hello (router/state manager ParseApiSessionJwt).
    expect(await rejection(channelFor(cert2, s2.accessToken))).toBeInstanceOf(
      ZitiAuthenticationError,
    );
    expect((await bearer('/current-identity', s2.accessToken)).status).toBe(401);
    // A late UpdateToken revives the channel.
    const s2b = await oidcRefresh({
      controller: network.controllerUrl,
      fetch: fetchCtrl,
      session: s2,
    });
    await updateToken(chC, s2b.accessToken);
    expect((await get(chC, dial2.token, '/after-late-update')).text).toBe(
      'dark app saw GET /after-late-update',
    );
  }, 120_000);
});
