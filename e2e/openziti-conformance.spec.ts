/**
 * Conformance of the fabric with OpenZiti's own network: the same probes run against both (the
 * project's real network from the `zt` fixture, and a fabric this file starts itself) and must agree
 * in everything our client uses. The REST probes go through the product's own request builders and
 * response processors (shared/ziti/controller), so "the client accepts both answers" is checked too;
 * the router probes speak raw channel frames over the `wss` listener as a browser does (WebSocket,
 * inner TLS with the API-session certificate, hello, latency, Connect, E2E Data).
 *
 * Every probe adds a row (probe, fabric answer, real answer). Rows marked `assert` must be equal;
 * `report` rows are recorded only (things the client does not depend on, or that are known to
 * differ, such as the router's TLS record sizes). The differing rows are printed as a table.
 *
 * Runs in the `*-openziti` projects only (it needs the real network); no browser page is used.
 */
import { createHash, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { type ClientOptions, createWebSocketStream, WebSocket } from 'ws';
import { standardCsr } from '../fabric/testing/csr.ts';
import { loginAtIdp } from '../fabric/testing/idp-login.ts';
import { TlsFraming } from '../fabric/testing/tls-framing.ts';
import { CALLBACK_PATH } from '../shared/config/bootstrap-config.ts';
import { CONFIG_TYPES, SDK_INFO } from '../shared/identity/sdk-info.ts';
import {
  authenticateExtJwtRequest,
  ContentType,
  caCertsRequest,
  clientSessionKeys,
  createSessionCertificateRequest,
  createSessionRequest,
  currentApiSessionRequest,
  decodeData,
  EdgeFlag,
  e2eReady,
  encodeConnect,
  encodeData,
  encodeHello,
  encodeMessage,
  encodeStateClosed,
  externalJwtSignersRequest,
  generateKxKeyPair,
  getHeaderBool,
  getHeaderBytes,
  getHeaderI32,
  getHeaderString,
  getHeaderU32,
  HeaderId,
  type Message,
  MessageDecoder,
  newMessage,
  processApiSessionResponse,
  processCaCertsResponse,
  processEnvelope,
  processExternalJwtSignersResponse,
  processServiceEdgeRoutersResponse,
  processServicesResponse,
  processSessionCertificateResponse,
  processSessionResponse,
  processVersionResponse,
  SecretStreamDecryptor,
  SecretStreamEncryptor,
  serviceEdgeRoutersRequest,
  servicesRequest,
  setHeaderU64,
  versionRequest,
} from '../shared/ziti/index.ts';
import { expect, type FabricFixture, startE2eFabric, test } from './support/fabric.ts';

// --- the table ----------------------------------------------------------------------------------

interface Row {
  probe: string;
  fabric: string;
  real: string;
  /** `assert`: must agree; `report`: recorded only. */
  mode: 'assert' | 'report';
}
const rows: Row[] = [];

/** JSON with sorted object keys, so two answers compare by content. */
function show(v: unknown): string {
  const sort = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sort);
    if (x && typeof x === 'object') {
      return Object.fromEntries(
        Object.keys(x)
          .sort()
          .map((k) => [k, sort((x as Record<string, unknown>)[k])]),
      );
    }
    return x;
  };
  return typeof v === 'string' ? v : (JSON.stringify(sort(v)) ?? 'undefined');
}

/** Records a probe; in `assert` mode the two answers must be equal (soft, so every row is kept). */
function agree(probe: string, fabric: unknown, real: unknown, mode: Row['mode'] = 'assert'): void {
  const row = { probe, fabric: show(fabric), real: show(real), mode };
  rows.push(row);
  if (mode === 'assert') expect.soft(row.fabric, `${probe}: fabric vs OpenZiti`).toBe(row.real);
}

function table(list: Row[]): string {
  const cut = (s: string) => (s.length > 160 ? `${s.slice(0, 157)}...` : s);
  const cells = list.map((r) => [r.mode, r.probe, cut(r.fabric), cut(r.real)]);
  const head = ['mode', 'probe', 'fabric', 'OpenZiti'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

// --- the two networks ---------------------------------------------------------------------------

interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: the probes read arbitrary JSON from both networks
  json: any;
}

/** One network under probe, with its answers memoised so each step runs once per network. */
class Side {
  readonly #memo = new Map<string, Promise<unknown>>();
  constructor(
    readonly label: 'fabric' | 'openziti',
    /** Controller origin, e.g. https://127.0.0.1:1280 */
    readonly base: string,
    /** The CA to trust for https/wss (the real network); undefined for the fabric's plain http. */
    readonly ca: string | undefined,
    readonly siteOrigin: string,
    readonly user: { name: string; password: string },
  ) {}

  once<T>(key: string, make: () => Promise<T>): Promise<T> {
    let p = this.#memo.get(key) as Promise<T> | undefined;
    if (!p) {
      p = make();
      this.#memo.set(key, p);
    }
    return p;
  }

  /** Sends a `Request` (the product's builders make them) over node:http(s), trusting `ca`. */
  async send(req: Request): Promise<Answer> {
    const url = new URL(req.url);
    const body = req.body ? Buffer.from(await req.arrayBuffer()) : undefined;
    const headers: Record<string, string> = {};
    req.headers.forEach((v, k) => {
      headers[k] = v;
    });
    if (body) headers['content-length'] = String(body.length);
    return new Promise((resolve, reject) => {
      const r = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
        url,
        { method: req.method, headers, ca: this.ca },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              json = undefined;
            }
            const h: Record<string, string> = {};
            for (const [k, v] of Object.entries(res.headers)) {
              if (v !== undefined) h[k] = Array.isArray(v) ? v.join(', ') : v;
            }
            resolve({ status: res.statusCode ?? 0, headers: h, text, json });
          });
        },
      );
      r.on('error', reject);
      r.setTimeout(10_000, () => r.destroy(new Error(`${req.method} ${url}: timed out`)));
      r.end(body);
    });
  }

  /** A raw request to an absolute path on the controller. */
  raw(method: string, path: string, headers: Record<string, string> = {}, body?: unknown) {
    return this.send(
      new Request(`${this.base}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
  }

  // The steps a browser takes, each once.
  signers = () => this.once('signers', () => this.send(externalJwtSignersRequest(this.base)));
  idpToken = () =>
    this.once('idpToken', async () => {
      const a = await this.signers();
      const [signer] = await processExternalJwtSignersResponse(toResponse(a), 'signers');
      if (!signer?.externalAuthUrl || !signer.clientId) throw new Error('no usable signer');
      const tokens = await loginAtIdp({
        issuer: signer.externalAuthUrl,
        clientId: signer.clientId,
        redirectUri: `${this.siteOrigin}${CALLBACK_PATH}`,
        username: this.user.name,
        password: this.user.password,
        scope: signer.scopes?.join(' '),
      });
      return signer.targetToken === 'ID' ? tokens.id_token : tokens.access_token;
    });
  authenticate = () =>
    this.once('authenticate', async () =>
      this.send(
        authenticateExtJwtRequest(this.base, await this.idpToken(), {
          configTypes: [...CONFIG_TYPES],
          envInfo: { os: 'linux', arch: 'x64' },
          sdkInfo: { ...SDK_INFO },
        }),
      ),
    );
  token = () =>
    this.once('token', async () => {
      const s = await processApiSessionResponse(toResponse(await this.authenticate()), 'auth');
      return s.token;
    });
  auth = async () => ({ sessionToken: await this.token() });
  certificate = () =>
    this.once('certificate', async () => {
      const { csrPem, keyPem } = await standardCsr('CN=conformance-probe');
      const answer = await this.send(
        createSessionCertificateRequest(this.base, await this.auth(), csrPem),
      );
      return { answer, keyPem };
    });
  caBundle = () =>
    this.once('caBundle', async () => {
      const a = await this.send(caCertsRequest(this.base));
      return { answer: a, pems: await processCaCertsResponse(toResponse(a), 'cacerts') };
    });
  services = (query: string) =>
    this.once(`services ${query}`, async () =>
      this.raw('GET', `/edge/client/v1/services?${query}`, {
        'zt-session': await this.token(),
      }),
    );
  service = () =>
    this.once('service', async () => {
      const a = await this.send(
        servicesRequest(this.base, await this.auth(), { configTypes: [...CONFIG_TYPES] }),
      );
      const { services } = await processServicesResponse(toResponse(a), 'services');
      const s = services.find((x) => x.name === 'demo');
      if (!s) throw new Error(`${this.label}: no service "demo"`);
      return s;
    });
  dialSession = () =>
    this.once('dialSession', async () =>
      this.send(
        createSessionRequest(this.base, await this.auth(), (await this.service()).id, 'Dial'),
      ),
    );
  router = () => this.once('router', () => probeRouter(this));
}

function toResponse(a: Answer): Response {
  return new Response(a.status === 204 ? null : a.text, { status: a.status, headers: a.headers });
}

/** Runs a product response processor: `ok`, or the error it throws, by name and code. */
async function productReads(
  a: Answer,
  processor: (res: Response, endpoint: string) => Promise<unknown>,
): Promise<string> {
  try {
    await processor(toResponse(a), 'probe');
    return 'ok';
  } catch (err) {
    const e = err as Error & { code?: string; status?: number };
    return `${e.name}${e.code ? ` ${e.code}` : ''}${e.status ? ` ${e.status}` : ''}`;
  }
}

const keys = (o: unknown) =>
  o && typeof o === 'object' && !Array.isArray(o) ? Object.keys(o).sort() : typeof o;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function tokenShape(t: unknown): string {
  if (typeof t !== 'string') return typeof t;
  if (UUID_RE.test(t)) return 'uuid';
  const parts = t.split('.');
  if (parts.length === 3 && t.startsWith('ey')) {
    try {
      const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString());
      return header.kid ? 'jwt with kid' : 'jwt without kid';
    } catch {
      return 'jwt-like';
    }
  }
  return `opaque(${t.length})`;
}

function jwtClaims(t: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString());
}

function pemCerts(pem: string): X509Certificate[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map(
    (m) => new X509Certificate(m[0]),
  );
}

/** The error envelope, reduced to what a client reads: status, `error.code`, message, requestId. */
function errorShape(a: Answer) {
  const e = a.json?.error;
  return {
    status: a.status,
    envelope: a.json === undefined ? 'not JSON' : keys(a.json),
    code: e?.code,
    messageAndRequestId: typeof e?.message === 'string' && typeof e?.requestId === 'string',
  };
}

/** Error probes: the shape must agree; the exact error keys (Go omits empty ones) are reported. */
function agreeError(probe: string, f: Answer, r: Answer): void {
  agree(`${probe}: error`, errorShape(f), errorShape(r));
  const detail = (a: Answer) => ({
    errorKeys: keys(a.json?.error),
    cause: a.json?.error?.cause === undefined ? 'absent' : keys(a.json.error.cause),
  });
  agree(`${probe}: error keys`, detail(f), detail(r), 'report');
}

// --- the router probe -----------------------------------------------------------------------------

/** Channel frames over the inner TLS, read in order. */
class RawChannel {
  readonly received: Message[] = [];
  readonly #taken = new Set<number>();
  #wake: (() => void) | undefined;
  #closed = false;
  #nextSeq = 1;

  constructor(readonly sock: TLSSocket) {
    const decoder = new MessageDecoder();
    sock.on('data', (d: Buffer) => {
      this.received.push(...decoder.push(new Uint8Array(d)));
      this.#wake?.();
    });
    sock.on('close', () => {
      this.#closed = true;
      this.#wake?.();
    });
    sock.on('error', () => {});
  }

  send(msg: Message, sequence = this.#nextSeq++): Message {
    msg.sequence = sequence;
    this.sock.write(encodeMessage(msg));
    return msg;
  }

  /** The first message not taken yet that matches. */
  async next(what: string, match: (m: Message) => boolean, timeoutMs = 10_000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = 0; i < this.received.length; i++) {
        if (!this.#taken.has(i) && match(this.received[i]!)) {
          this.#taken.add(i);
          return this.received[i]!;
        }
      }
      if (this.#closed) throw new Error(`channel closed while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.received.map(
          (m) =>
            `${m.contentType}/${m.sequence}/${getHeaderU32(m, HeaderId.ConnId)}/${m.body.length}`,
        );
        throw new Error(`timed out waiting for ${what}; received ${seen.join(' ')}`);
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.#wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }
}

const headerIds = (m: Message) => [...m.headers.keys()].sort((a, b) => a - b);
const same = (a: Uint8Array | undefined, b: Uint8Array | undefined) =>
  a !== undefined && b !== undefined && Buffer.from(a).equals(Buffer.from(b));

interface HttpExchange {
  status: string;
  /** The whole body arrived (by content-length, or the last chunk). */
  complete: boolean;
  contentLength: number;
  bodyBytes: number;
  sha256: string;
  /** How the router ended the connection after the response: FIN, StateClosed, or neither. */
  end: string;
  /** The first Data from the far side: the 24-byte secretstream header alone. */
  firstDataBytes: number;
  dataHeaderIds: number[];
}

/** Connect, E2E key exchange, one HTTP/1.1 GET (Connection: close), the response. */
async function httpOverConnect(
  ch: RawChannel,
  connId: number,
  dialToken: string,
  path: string,
  onConnected: (req: Message, reply: Message) => void,
): Promise<HttpExchange> {
  const own = await generateKxKeyPair();
  const uuid = randomBytes(16);
  const connect = ch.send(
    encodeConnect({ connId, sessionToken: dialToken, publicKey: own.publicKey, seq: 0, uuid }),
  );
  const reply = await ch.next(
    `the answer to Connect ${connId}`,
    (m) =>
      (m.contentType === ContentType.StateConnected || m.contentType === ContentType.StateClosed) &&
      getHeaderU32(m, HeaderId.ConnId) === connId,
  );
  onConnected(connect, reply);
  if (reply.contentType !== ContentType.StateConnected) {
    throw new Error(`Connect ${connId} refused: ${Buffer.from(reply.body).toString()}`);
  }
  const peerKey = getHeaderBytes(reply, HeaderId.PublicKey);
  if (!peerKey) throw new Error('StateConnected without PublicKey');
  const keysOf = await clientSessionKeys(own, peerKey);
  const enc = new SecretStreamEncryptor(keysOf.tx);
  ch.send(encodeData({ connId, body: enc.header }));
  const ofConn = (m: Message) =>
    (m.contentType === ContentType.Data || m.contentType === ContentType.StateClosed) &&
    getHeaderU32(m, HeaderId.ConnId) === connId;
  const first = await ch.next(`the far side's crypto header on ${connId}`, ofConn);
  if (first.contentType !== ContentType.Data) throw new Error(`conn ${connId} closed early`);
  const dec = new SecretStreamDecryptor(first.body, keysOf.rx);
  const request = `GET ${path} HTTP/1.1\r\nHost: conformance.probe\r\nConnection: close\r\n\r\n`;
  ch.send(encodeData({ connId, body: enc.push(new TextEncoder().encode(request)) }));

  let head: string | undefined;
  let pending = Buffer.alloc(0);
  let contentLength = -1;
  let chunked = false;
  let tail = Buffer.alloc(0);
  let bodyBytes = 0;
  const hash = createHash('sha256');
  let end = 'none';
  const complete = () =>
    head !== undefined &&
    ((contentLength >= 0 && bodyBytes >= contentLength) ||
      (chunked && tail.toString() === '0\r\n\r\n'));
  const body = (bytes: Buffer) => {
    hash.update(bytes);
    bodyBytes += bytes.length;
    tail = Buffer.concat([tail, bytes]).subarray(-5);
  };
  for (;;) {
    // Once the response is complete, wait a little for the router to end the connection: the fabric
    // passes the host's FIN on, OpenZiti's router does not.
    const done = complete();
    let m: Message;
    try {
      m = await ch.next(`data on ${connId}`, ofConn, done ? 1_500 : 20_000);
    } catch (err) {
      if (done) break;
      throw err;
    }
    if (m.contentType === ContentType.StateClosed) {
      end = 'StateClosed';
      break;
    }
    const d = decodeData(m);
    if (d.flags & EdgeFlag.FIN) {
      end = 'FIN';
      break;
    }
    const plain = Buffer.from(dec.pull(d.body));
    if (head === undefined) {
      pending = Buffer.concat([pending, plain]);
      const i = pending.indexOf('\r\n\r\n');
      if (i < 0) continue;
      head = pending.subarray(0, i).toString();
      contentLength = Number(/^content-length:\s*(\d+)/im.exec(head)?.[1] ?? -1);
      chunked = /^transfer-encoding:\s*chunked/im.test(head);
      body(pending.subarray(i + 4));
    } else body(plain);
  }
  ch.send(encodeStateClosed({ connId, reason: 'done' }));
  return {
    status: head?.split('\r\n')[0] ?? '(no response)',
    complete: complete(),
    contentLength,
    bodyBytes,
    sha256: hash.digest('hex'),
    end,
    firstDataBytes: first.body.length,
    dataHeaderIds: headerIds(first),
  };
}

interface RouterProbe {
  helloSent: Message;
  hello: Message;
  latencySent: Message;
  latency: Message;
  connects: { sent: Message; reply: Message }[];
  small: HttpExchange;
  large: HttpExchange;
  /** Sequences of every message the router sent after the hello, in order. */
  sequences: number[];
  framing: TlsFraming;
  wssUrl: string;
}

const LARGE_BYTES = 4 * 1024 * 1024;

/** What a browser has before it opens the router: the wss URL, the CAs, its session cert. */
async function routerTarget(side: Side) {
  const session = await processSessionResponse(toResponse(await side.dialSession()), 'sessions');
  const wssUrl = session.edgeRouters
    .map((r) => r.supportedProtocols?.wss ?? r.urls?.wss)
    .find((u) => u !== undefined);
  if (!wssUrl) throw new Error(`${side.label}: no wss router in the session`);
  const { answer, keyPem } = await side.certificate();
  const cert = await processSessionCertificateResponse(toResponse(answer), 'certs');
  const { pems } = await side.caBundle();
  return { session, wssUrl, caPem: pems.join('\n'), cert, keyPem };
}

/** Opens the wss listener's outer TLS without ALPN (as Node clients do; browsers send ALPN). */
async function wssWithoutAlpn(side: Side): Promise<string> {
  const { wssUrl, caPem } = await routerTarget(side);
  const ws = new WebSocket(`${wssUrl}/ws`, { ca: caPem });
  return new Promise((resolve) => {
    ws.once('open', () => {
      ws.terminate();
      resolve('accepted');
    });
    ws.once('error', (err) =>
      resolve(`refused (${/alert [a-z ]+/.exec(err.message)?.[0] ?? err.message})`),
    );
  });
}

async function probeRouter(side: Side): Promise<RouterProbe> {
  await e2eReady();
  const { session, wssUrl, caPem, cert, keyPem } = await routerTarget(side);

  const framing = new TlsFraming();
  // OpenZiti's wss listener picks its handler by ALPN and refuses a ClientHello without one ("not
  // handler for requested protocols []"); browsers always offer h2/http1.1, Node's ws offers none.
  const wsOptions: ClientOptions & { ALPNProtocols: string[] } = {
    ca: caPem,
    ALPNProtocols: ['http/1.1'],
  };
  const ws = new WebSocket(`${wssUrl}/ws`, wsOptions);
  ws.on('message', (data: Buffer) => framing.push(data));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const stream: Duplex = createWebSocketStream(ws);
  stream.on('error', () => {});
  const sock = tlsConnect({ socket: stream, ca: caPem, cert: cert.certificate, key: keyPem });
  await new Promise<void>((resolve, reject) => {
    sock.once('secureConnect', () => resolve());
    sock.once('error', reject);
  });
  const ch = new RawChannel(sock);
  try {
    // Hello as the browser client sends it (§11): seq -1, SessionToken, CallerId "ws:", UUID.
    const helloSent = ch.send(
      encodeHello({ sessionToken: await side.token(), callerId: 'ws:', uuid: randomBytes(16) }),
      -1,
    );
    const hello = await ch.next('the hello Result', () => true);
    // The product's session check after the hello: one latency probe (ct 3, header 128 = ns).
    const latencyProbe = newMessage(ContentType.Latency);
    setHeaderU64(latencyProbe, HeaderId.Reflected, BigInt(Date.now()) * 1_000_000n);
    const latencySent = ch.send(latencyProbe);
    const latency = await ch.next(
      'the latency Result',
      (m) => getHeaderI32(m, HeaderId.ReplyFor) === latencySent.sequence,
    );
    const connects: { sent: Message; reply: Message }[] = [];
    const record = (sent: Message, reply: Message) => connects.push({ sent, reply });
    const small = await httpOverConnect(ch, 1, session.token, '/conformance', record);
    const large = await httpOverConnect(ch, 2, session.token, `/bytes?n=${LARGE_BYTES}`, record);
    const sequences = ch.received.slice(1).map((m) => m.sequence);
    return {
      helloSent,
      hello,
      latencySent,
      latency,
      connects,
      small,
      large,
      sequences,
      framing,
      wssUrl,
    };
  } finally {
    sock.destroy();
    ws.terminate();
  }
}

// --- setup --------------------------------------------------------------------------------------

let fabricNet: FabricFixture | undefined;
let fabric: Side;
let real: Side;

/** The probes, in order; each runs on both networks and records rows. */
const probes: [string, () => Promise<void>][] = [];
function probe(name: string, run: () => Promise<void>): void {
  probes.push([name, run]);
}

test.beforeAll(async ({ zt }) => {
  const openziti = zt.openziti;
  if (!openziti) throw new Error('the zt fixture is not the real network');
  fabricNet = await startE2eFabric('probe');
  const f = fabricNet.fabric!;
  fabric = new Side('fabric', f.controller.url, undefined, fabricNet.siteOrigin, fabricNet.user);
  real = new Side('openziti', openziti.controllerUrl, openziti.rootCaPem, zt.siteOrigin, zt.user);
});

test.afterAll(async () => {
  await fabricNet?.close();
});

/** The same step on both networks, at the same time. */
async function both<T>(step: (s: Side) => Promise<T>): Promise<[T, T]> {
  const on = (s: Side) =>
    step(s).catch((err: Error) => {
      throw new Error(`${s.label}: ${err.message}`, { cause: err });
    });
  return Promise.all([on(fabric), on(real)]);
}

// --- controller REST ----------------------------------------------------------------------------

probe(
  'GET /version: capabilities is a list, apiVersions bindings have path and apiBaseUrls',
  async () => {
    const [f, r] = await both((s) => s.send(versionRequest(s.base)));
    const view = (a: Answer) => {
      const d = a.json?.data ?? {};
      return {
        status: a.status,
        capabilitiesIsArray: Array.isArray(d.capabilities),
        edgeClient: {
          path: d.apiVersions?.['edge-client']?.v1?.path,
          apiBaseUrlsIsArray: Array.isArray(d.apiVersions?.['edge-client']?.v1?.apiBaseUrls),
        },
        bindingShape: Object.values<{ v1?: { path?: unknown; apiBaseUrls?: unknown } }>(
          d.apiVersions ?? {},
        ).every(
          (b) =>
            typeof b?.v1?.path === 'string' &&
            Array.isArray(b.v1.apiBaseUrls) &&
            b.v1.apiBaseUrls.every((u: unknown) => typeof u === 'string'),
        ),
      };
    };
    agree('version: shape', view(f), view(r));
    agree(
      'version: product reads it',
      await productReads(f, processVersionResponse),
      await productReads(r, processVersionResponse),
    );
    agree('version: data keys', keys(f.json?.data), keys(r.json?.data), 'report');
    agree(
      'version: capabilities',
      f.json?.data?.capabilities,
      r.json?.data?.capabilities,
      'report',
    );
    agree(
      'version: bindings',
      keys(f.json?.data?.apiVersions),
      keys(r.json?.data?.apiVersions),
      'report',
    );
    // The product takes the OIDC path only with OIDC_AUTH and an edge-oidc binding (§1.3).
    const oidc = (a: Answer) =>
      (a.json?.data?.capabilities ?? []).includes('OIDC_AUTH') &&
      a.json?.data?.apiVersions?.['edge-oidc']?.v1 !== undefined;
    agree('version: offers OIDC', oidc(f), oidc(r), 'report');
  },
);

probe(
  'GET /external-jwt-signers: the item has exactly the real key set, no openIdConfigurationUrl',
  async () => {
    const [f, r] = await both((s) => s.signers());
    agree('signers: status', f.status, r.status);
    agree('signers: item keys', keys(f.json?.data?.[0]), keys(r.json?.data?.[0]));
    const types = (a: Answer) =>
      Object.fromEntries(
        Object.entries(a.json?.data?.[0] ?? {}).map(([k, v]) => [
          k,
          v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v,
        ]),
      );
    agree('signers: item value types', types(f), types(r));
    agree(
      'signers: openIdConfigurationUrl present',
      'openIdConfigurationUrl' in (f.json?.data?.[0] ?? {}),
      'openIdConfigurationUrl' in (r.json?.data?.[0] ?? {}),
    );
    agree('signers: targetToken', f.json?.data?.[0]?.targetToken, r.json?.data?.[0]?.targetToken);
    agree('signers: meta keys', keys(f.json?.meta), keys(r.json?.meta), 'report');
    agree(
      'signers: product reads it',
      await productReads(f, processExternalJwtSignersResponse),
      await productReads(r, processExternalJwtSignersResponse),
    );
  },
);

probe(
  'POST /authenticate?method=ext-jwt: an IdP token gives a session, a bad one an error',
  async () => {
    const [f, r] = await both((s) => s.authenticate());
    agree('authenticate: status', f.status, r.status);
    agree('authenticate: data keys', keys(f.json?.data), keys(r.json?.data));
    agree(
      'authenticate: token shape',
      tokenShape(f.json?.data?.token),
      tokenShape(r.json?.data?.token),
    );
    agree(
      'authenticate: zt-session header = data.token',
      f.headers['zt-session'] === f.json?.data?.token,
      r.headers['zt-session'] === r.json?.data?.token,
      'report',
    );
    agree(
      'authenticate: identity keys',
      keys(f.json?.data?.identity),
      keys(r.json?.data?.identity),
      'report',
    );
    agree(
      'authenticate: configTypes echoed',
      [...(f.json?.data?.configTypes ?? [])].sort(),
      [...(r.json?.data?.configTypes ?? [])].sort(),
      'report',
    );
    agree(
      'authenticate: product reads it',
      await productReads(f, processApiSessionResponse),
      await productReads(r, processApiSessionResponse),
    );

    // Bad tokens: a JWT with a broken signature, and something that is not a JWT at all.
    const bad = async (s: Side, kind: 'signature' | 'garbage') => {
      const good = await s.idpToken();
      const token =
        kind === 'signature'
          ? `${good.slice(0, -6)}${good.slice(-6) === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA'}`
          : 'not-a-jwt';
      return s.send(authenticateExtJwtRequest(s.base, token, { configTypes: [...CONFIG_TYPES] }));
    };
    for (const kind of ['signature', 'garbage'] as const) {
      const [fb, rb] = await both((s) => bad(s, kind));
      agreeError(`authenticate, bad token (${kind})`, fb, rb);
      agree(
        `authenticate, bad token (${kind}): product reads it`,
        await productReads(fb, processApiSessionResponse),
        await productReads(rb, processApiSessionResponse),
      );
    }
    // Not what the product sends (it sends no zt-session when authenticating), but §1.4 says a
    // zt-session beside the bearer does no harm, and the real controller agrees.
    const [fz, rz] = await both(async (s) =>
      s.raw(
        'POST',
        '/edge/client/v1/authenticate?method=ext-jwt',
        { authorization: `Bearer ${await s.idpToken()}`, 'zt-session': 'no-such-session' },
        {},
      ),
    );
    agree(
      'authenticate, bearer + stale zt-session',
      { status: fz.status, code: fz.json?.error?.code },
      { status: rz.status, code: rz.json?.error?.code },
    );
  },
);

probe('GET /current-api-session: keys; without a session: the error', async () => {
  const [f, r] = await both(async (s) => s.send(currentApiSessionRequest(s.base, await s.auth())));
  agree('current-api-session: status', f.status, r.status);
  agree('current-api-session: data keys', keys(f.json?.data), keys(r.json?.data));
  agree(
    'current-api-session: product reads it',
    await productReads(f, processApiSessionResponse),
    await productReads(r, processApiSessionResponse),
  );
  const [fn, rn] = await both((s) => s.raw('GET', '/edge/client/v1/current-api-session'));
  agreeError('current-api-session, no zt-session', fn, rn);
  const [fx, rx] = await both((s) =>
    s.raw('GET', '/edge/client/v1/current-api-session', { 'zt-session': randomUUID() }),
  );
  agreeError('current-api-session, unknown zt-session', fx, rx);
});

probe('POST /current-api-session/certificates {csr}: 201, a PEM chain and the CAs', async () => {
  const [{ answer: f }, { answer: r }] = await both((s) => s.certificate());
  agree('session cert: status', f.status, r.status);
  agree('session cert: data keys', keys(f.json?.data), keys(r.json?.data));
  const view = async (s: Side, a: Answer) => {
    const chain = pemCerts(a.json?.data?.certificate ?? '');
    const leaf = chain[0];
    const identityId = (await s.authenticate()).json?.data?.identityId;
    const apiSessionId = (await s.authenticate()).json?.data?.id;
    const san = leaf?.subjectAltName ?? '';
    return {
      chainLength: chain.length,
      leafIsCa: leaf?.ca,
      spiffe: san
        .replace(identityId, '<identity>')
        .replace(apiSessionId, '<apiSession>')
        .replace(a.json?.data?.id, '<cert>')
        .replace(/^URI:spiffe:\/\/[^/]+/, 'URI:spiffe://<td>'),
      chainsUp: chain.every((c, i) => i === 0 || chain[i - 1]!.checkIssued(c)),
      casParse: pemCerts(a.json?.data?.cas ?? '').length > 0,
    };
  };
  agree('session cert: certificate and cas', await view(fabric, f), await view(real, r));
  const subject = async (s: Side, a: Answer) =>
    pemCerts(a.json?.data?.certificate ?? '')[0]
      ?.subject.replace((await s.authenticate()).json?.data?.identityId, '<identityId>')
      .replaceAll('\n', ', ');
  agree('session cert: leaf subject', await subject(fabric, f), await subject(real, r), 'report');
  const hours = (a: Answer) => {
    const leaf = pemCerts(a.json?.data?.certificate ?? '')[0];
    return leaf ? Math.round((Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 3.6e6) : 0;
  };
  agree('session cert: validity hours', hours(f), hours(r), 'report');
  agree(
    'session cert: cas count',
    pemCerts(f.json?.data?.cas ?? '').length,
    pemCerts(r.json?.data?.cas ?? '').length,
    'report',
  );
  agree(
    'session cert: product reads it',
    await productReads(f, processSessionCertificateResponse),
    await productReads(r, processSessionCertificateResponse),
  );
  const [fc, rc] = await both((s) => s.caBundle());
  agree(
    'cacerts: content-type',
    fc.answer.headers['content-type'],
    rc.answer.headers['content-type'],
    'report',
  );
  agree('cacerts: product reads it', fc.pems.length > 0, rc.pems.length > 0);
});

probe(
  'GET /services: repeated configTypes fill config, a comma-joined value gives {}',
  async () => {
    const pick = (a: Answer) =>
      (a.json?.data ?? []).find((s: { name?: string }) => s.name === 'demo');
    const [f, r] = await both((s) =>
      s.services('limit=100&offset=0&configTypes=intercept.v1&configTypes=host.v1'),
    );
    agree('services (repeated): status', f.status, r.status);
    agree('services (repeated): config keys', keys(pick(f)?.config), keys(pick(r)?.config));
    agree(
      'services (repeated): intercept.v1 keys',
      keys(pick(f)?.config?.['intercept.v1']),
      keys(pick(r)?.config?.['intercept.v1']),
    );
    agree(
      'services (repeated): host.v1 keys',
      keys(pick(f)?.config?.['host.v1']),
      keys(pick(r)?.config?.['host.v1']),
      'report',
    );
    agree('services: item keys', keys(pick(f)), keys(pick(r)), 'report');
    agree(
      'services: permissions, encryptionRequired',
      { p: pick(f)?.permissions, e: pick(f)?.encryptionRequired },
      { p: pick(r)?.permissions, e: pick(r)?.encryptionRequired },
    );
    agree(
      'services: pagination keys',
      keys(f.json?.meta?.pagination),
      keys(r.json?.meta?.pagination),
    );
    agree(
      'services: product reads it',
      await productReads(f, processServicesResponse),
      await productReads(r, processServicesResponse),
    );
    const [fc, rc] = await both((s) => s.services('configTypes=intercept.v1,host.v1'));
    agree('services (comma-joined): status', fc.status, rc.status);
    agree('services (comma-joined): config', pick(fc)?.config, pick(rc)?.config);
    const [fa, ra] = await both((s) => s.services('configTypes=all'));
    agree('services (all): config keys', keys(pick(fa)?.config), keys(pick(ra)?.config), 'report');
  },
);

probe('POST /sessions: 201, a JWT token, routers with wss and no ws', async () => {
  const [f, r] = await both((s) => s.dialSession());
  agree('sessions: status', f.status, r.status);
  agree('sessions: token shape', tokenShape(f.json?.data?.token), tokenShape(r.json?.data?.token));
  const claims = (a: Answer) => {
    const t = a.json?.data?.token;
    return typeof t === 'string' && t.startsWith('ey') ? keys(jwtClaims(t)) : [];
  };
  agree('sessions: token claims', claims(f), claims(r), 'report');
  const alg = (a: Answer) => {
    const t = a.json?.data?.token;
    return typeof t === 'string' && t.startsWith('ey')
      ? JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString()).alg
      : undefined;
  };
  agree('sessions: token alg (the signing key type)', alg(f), alg(r), 'report');
  agree('sessions: data keys', keys(f.json?.data), keys(r.json?.data));
  const router = (a: Answer) => a.json?.data?.edgeRouters?.[0];
  agree('sessions: edgeRouters[0] keys', keys(router(f)), keys(router(r)));
  agree(
    'sessions: supportedProtocols keys',
    keys(router(f)?.supportedProtocols),
    keys(router(r)?.supportedProtocols),
  );
  agree('sessions: urls keys', keys(router(f)?.urls), keys(router(r)?.urls));
  const offersWs = (a: Answer) =>
    (a.json?.data?.edgeRouters ?? []).some(
      (er: { supportedProtocols?: object; urls?: object }) =>
        'ws' in (er.supportedProtocols ?? {}) || 'ws' in (er.urls ?? {}),
    );
  agree('sessions: a router offers plain ws', offersWs(f), offersWs(r));
  expect(offersWs(r), 'a real router serves browsers over wss only').toBe(false);
  agree(
    'sessions: router url form',
    router(f)?.supportedProtocols?.wss?.replace(/:\d+$/, ':<port>'),
    router(r)?.supportedProtocols?.wss?.replace(/:\d+$/, ':<port>'),
  );
  agree(
    'sessions: router isOnline, hostname',
    { online: router(f)?.isOnline, hostname: router(f)?.hostname },
    { online: router(r)?.isOnline, hostname: router(r)?.hostname },
  );
  agree(
    'sessions: product reads it',
    await productReads(f, processSessionResponse),
    await productReads(r, processSessionResponse),
  );
});

probe('GET /services/{id}/edge-routers', async () => {
  const [f, r] = await both(async (s) =>
    s.send(serviceEdgeRoutersRequest(s.base, await s.auth(), (await s.service()).id)),
  );
  agree('service edge-routers: status', f.status, r.status);
  agree('service edge-routers: data keys', keys(f.json?.data), keys(r.json?.data));
  const router = (a: Answer) => a.json?.data?.edgeRouters?.[0];
  agree('service edge-routers: item keys', keys(router(f)), keys(router(r)));
  agree(
    'service edge-routers: supportedProtocols keys',
    keys(router(f)?.supportedProtocols),
    keys(router(r)?.supportedProtocols),
  );
  agree(
    'service edge-routers: product reads it',
    await productReads(f, processServiceEdgeRoutersResponse),
    await productReads(r, processServiceEdgeRoutersResponse),
  );
  // Not used by the product, but cheap to keep equal.
  const [fi, ri] = await both(async (s) =>
    s.raw('GET', '/edge/client/v1/current-identity/edge-routers', {
      'zt-session': await s.token(),
    }),
  );
  agree(
    'current-identity edge-routers: item keys',
    keys(fi.json?.data?.[0]),
    keys(ri.json?.data?.[0]),
  );
});

probe('unknown path, wrong method, unknown service: the error envelope', async () => {
  const probes: [string, string, string, boolean][] = [
    ['unknown path', 'GET', '/edge/client/v1/no-such-thing', true],
    ['unknown path, no session', 'GET', '/edge/client/v1/no-such-thing', false],
    ['wrong method', 'PUT', '/edge/client/v1/services', true],
    ['wrong method, no session', 'PUT', '/edge/client/v1/services', false],
    ['wrong method on /version', 'DELETE', '/edge/client/v1/version', false],
    ['unknown service', 'GET', '/edge/client/v1/services/no-such-service', true],
  ];
  for (const [name, method, path, withSession] of probes) {
    const [f, r] = await both(async (s) =>
      s.raw(method, path, withSession ? { 'zt-session': await s.token() } : {}),
    );
    agreeError(name, f, r);
    agree(
      `${name}: product reads it`,
      await productReads(f, processEnvelope),
      await productReads(r, processEnvelope),
    );
  }
});

// --- router frames ------------------------------------------------------------------------------

probe('router hello: the Result (sequence, ReplyFor, ResultSuccess, header 128)', async () => {
  const [f, r] = await both((s) => s.router());
  const view = (p: RouterProbe) => ({
    contentType: p.hello.contentType,
    sequence: p.hello.sequence,
    replyFor: getHeaderI32(p.hello, HeaderId.ReplyFor),
    resultSuccess: getHeaderBool(p.hello, HeaderId.ResultSuccess),
    uuidEchoed: same(p.hello.headers.get(HeaderId.UUID), p.helloSent.headers.get(HeaderId.UUID)),
    hasConnectionId: typeof getHeaderString(p.hello, HeaderId.ConnectionId) === 'string',
  });
  agree('hello Result', view(f), view(r));
  agree('hello Result: header ids', headerIds(f.hello), headerIds(r.hello), 'report');
  agree(
    'hello Result: body',
    Buffer.from(f.hello.body).toString(),
    Buffer.from(r.hello.body).toString(),
    'report',
  );
});

probe('router: sequences after the hello start at 1 and count up; latency Result', async () => {
  const [f, r] = await both((s) => s.router());
  const view = (p: RouterProbe) => ({
    first: p.sequences[0],
    increasing: p.sequences.every((s, i) => i === 0 || s > p.sequences[i - 1]!),
  });
  agree('router sequences', view(f), view(r));
  agree(
    'router sequences: consecutive',
    f.sequences.every((s, i) => s === i + 1),
    r.sequences.every((s, i) => s === i + 1),
    'report',
  );
  const latency = (p: RouterProbe) => ({
    contentType: p.latency.contentType,
    replyFor: getHeaderI32(p.latency, HeaderId.ReplyFor) === p.latencySent.sequence,
    reflected: same(
      p.latency.headers.get(HeaderId.Reflected),
      p.latencySent.headers.get(HeaderId.Reflected),
    ),
  });
  agree('latency Result', latency(f), latency(r));
  agree('latency Result: header ids', headerIds(f.latency), headerIds(r.latency), 'report');
});

probe(
  'router Connect: StateConnected with ReplyFor, ConnId, PublicKey; E2E HTTP round trip',
  async () => {
    const [f, r] = await both((s) => s.router());
    const connected = (p: RouterProbe) =>
      p.connects.map(({ sent, reply }) => ({
        contentType: reply.contentType,
        replyFor: getHeaderI32(reply, HeaderId.ReplyFor) === sent.sequence,
        connId: getHeaderU32(reply, HeaderId.ConnId) === getHeaderU32(sent, HeaderId.ConnId),
        publicKeyBytes: getHeaderBytes(reply, HeaderId.PublicKey)?.length,
        circuitId: typeof getHeaderString(reply, HeaderId.CircuitId) === 'string',
      }));
    agree('StateConnected', connected(f), connected(r));
    agree(
      'StateConnected: header ids',
      headerIds(f.connects[0]!.reply),
      headerIds(r.connects[0]!.reply),
      'report',
    );
    agree(
      'StateConnected: UUID echoed',
      same(f.connects[0]!.reply.headers.get(128), f.connects[0]!.sent.headers.get(128)),
      same(r.connects[0]!.reply.headers.get(128), r.connects[0]!.sent.headers.get(128)),
      'report',
    );
    const http = (x: HttpExchange) => ({
      status: x.status,
      complete: x.complete,
      firstDataBytes: x.firstDataBytes,
    });
    agree('HTTP GET / (small)', http(f.small), http(r.small));
    agree('HTTP GET /bytes (4 MiB)', http(f.large), http(r.large));
    agree('HTTP GET /bytes: body sha-256', f.large.sha256, r.large.sha256);
    agree(
      'HTTP: how the router ends the conn',
      [f.small.end, f.large.end],
      [r.small.end, r.large.end],
      'report',
    );
    agree('Data: header ids of the first', f.small.dataHeaderIds, r.small.dataHeaderIds, 'report');
  },
);

probe('router WebSocket framing: are messages whole TLS records?', async () => {
  const [f, r] = await both((s) => s.router());
  // OpenZiti's router writes each inner-TLS write as one message (§5): whole records, a handshake
  // flight together, every other record alone. The counts differ (Go starts with small records).
  agree('wss framing (4 MiB download)', `${f.framing}`, `${r.framing}`, 'report');
  const shape = (x: TlsFraming) => ({
    wholeRecords: x.misaligned === 0,
    oneRecordPerMessageOutsideFlights: x.multiRecord === 0,
  });
  const expected = { wholeRecords: true, oneRecordPerMessageOutsideFlights: true };
  agree('wss framing: whole records, one per message', shape(f.framing), shape(r.framing));
  expect(shape(r.framing), `the real router: ${r.framing}`).toEqual(expected);
  expect(shape(f.framing), `the fabric: ${f.framing}`).toEqual(expected);
});

probe('router wss listener: a ClientHello without ALPN', async () => {
  // Browsers always offer ALPN on wss, so the client is not affected; Node test clients are.
  const [f, r] = await both(wssWithoutAlpn);
  agree('wss outer TLS without ALPN', f, r, 'report');
});

// --- the one test -------------------------------------------------------------------------------

// One test with a step per probe: a failed probe must not restart the worker, which would start
// the real network again.
test('the fabric answers as OpenZiti does in everything our client uses', async () => {
  const testInfo = test.info();
  for (const [name, run] of probes) {
    await test.step(name, async () => {
      try {
        await run();
      } catch (err) {
        const why = (err as Error).stack ?? String(err);
        rows.push({
          probe: `${name} (threw)`,
          fabric: '-',
          real: why.split('\n')[0]!,
          mode: 'assert',
        });
        expect.soft(why, `${name} threw`).toBe('');
      }
    });
  }
  const differing = rows.filter((r) => r.fabric !== r.real);
  const report = `fabric vs OpenZiti ${testInfo.project.name}: ${rows.length} probes, ${differing.length} differ${differing.length ? `:\n${table(differing)}` : ''}`;
  // ZT_CONFORMANCE_ALL=1 prints every probe, not only the differences.
  console.log(`\n${process.env.ZT_CONFORMANCE_ALL ? table(rows) : report}`);
  await testInfo.attach('differences', {
    body: `${report}\n\nall probes:\n${table(rows)}\n`,
    contentType: 'text/plain',
  });
});
